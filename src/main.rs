//! The `taizhang` binary: the command line (`cli`), what each command runs (`cmd`, one
//! module per job) and, here, the checks made before anything is opened and the
//! dispatch. Everything a command does is done by the library crates.
#![forbid(unsafe_code)]

mod cli;
mod cmd;
mod progress;

/// mimalloc rather than the system allocator: the read model is millions of small
/// allocations, and rebuilding it ran a quarter faster (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::Parser;
use taizhang_api::Limits;
use taizhang_store::private;

use crate::cli::*;
use crate::cmd::*;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("taizhang: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(mut cli: Cli) -> Result<()> {
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    // An online backup is background work on the machine it often shares with the
    // server: every thread of it yields to requests.
    if cli.server.is_some() && matches!(cli.command, Commands::Export { what: Exported::Log, .. }) {
        taizhang_api::lower_priority();
        runtime.on_thread_start(taizhang_api::lower_priority);
    }
    let runtime = runtime.enable_all().build()?;
    runtime.block_on(async {
        match &cli.command {
            Commands::Policies => return policies(&cli),
            Commands::Schema { layouts: true, .. } => {
                print!("{}", taizhang_io::layouts_markdown());
                return Ok(());
            }
            Commands::Schema { roles: true, .. } => {
                print!("{}", taizhang_api::access::role_table_markdown());
                return Ok(());
            }
            Commands::Schema { events: None, .. } => {
                print!("{}", taizhang_api::sdl());
                return Ok(());
            }
            Commands::Schema { events: Some(dir), .. } => return write_event_schemas(dir),
            Commands::Certificate {
                action: action @ (CertificateAction::Verify { .. } | CertificateAction::Key { .. }),
            } => return certificate_offline(&cli, action),
            _ => {}
        }
        // Before anything is opened: a mistake changes nothing.
        check_before_opening(&cli)?;
        if let Some(server) = &cli.server {
            let token = cli.token.as_deref().context("give a token for --server: --token (or TAIZHANG_TOKEN)")?;
            return match &cli.command {
                Commands::Import { kind, file, encoding, skip_invalid, amend, yes } => {
                    let amending = Amending::of(amend.as_deref(), *yes)?;
                    online_import(server, token, *kind, file, *encoding, *skip_invalid, amending).await
                }
                Commands::Export { what: Exported::Reports, output, format, from, to, unit, region, by, .. } => {
                    let mut query: Vec<(&str, String)> = vec![("by", by.clone())];
                    query.extend(from.map(|d| ("from", d.to_string())));
                    query.extend(to.map(|d| ("to", d.to_string())));
                    query.extend(unit.as_ref().map(|u| ("unit", u.written.clone())));
                    query.extend(region.as_ref().map(|r| ("region", r.clone())));
                    if *format == SheetFormat::Xlsx {
                        query.push(("format", "xlsx".to_owned()));
                    }
                    online_sheet(server, token, "/export/reports", &query, output.as_deref()).await
                }
                Commands::Export { what: Exported::Eligibility, output, from, to, unit, region, policy, .. } => {
                    let policy =
                        policy.as_ref().context("give the award list's policy: --policy NAME (`taizhang policies`)")?;
                    let mut query: Vec<(&str, String)> = vec![("policy", policy.clone())];
                    query.extend(from.map(|d| ("from", d.to_string())));
                    query.extend(to.map(|d| ("to", d.to_string())));
                    query.extend(unit.as_ref().map(|u| ("unit", u.written.clone())));
                    query.extend(region.as_ref().map(|r| ("region", r.clone())));
                    online_sheet(server, token, "/export/eligibility", &query, output.as_deref()).await
                }
                Commands::Export { what: Exported::Ledger, output, format, unit, .. } => {
                    let unit =
                        unit.as_ref().context("give the unit whose ledger to export: --unit CODE (or its id)")?;
                    let mut query = vec![("unit", unit.written.clone())];
                    if *format == SheetFormat::Xlsx {
                        query.push(("format", "xlsx".to_owned()));
                    }
                    online_sheet(server, token, "/export/ledger", &query, output.as_deref()).await
                }
                Commands::Export { what: Exported::Log, output, keys, .. } => {
                    online_backup(server, token, output.as_deref(), keys.as_deref()).await
                }
                Commands::Export { what: Exported::Round, output, format, by, round, .. } => {
                    let mut query: Vec<(&str, String)> = round.iter().map(|r| ("round", r.to_string())).collect();
                    match format {
                        SheetFormat::Xlsx => query.push(("format", "xlsx".to_owned())),
                        SheetFormat::Csv => query.push(("by", by.clone())),
                    }
                    online_sheet(server, token, "/export/round", &query, output.as_deref()).await
                }
                Commands::Export { what, output, format, unit, .. } => {
                    let kind = what.records_kind().expect("the other exports are above");
                    let query = match (format, what, unit) {
                        (SheetFormat::Csv, _, _) => vec![],
                        (SheetFormat::Xlsx, Exported::Commitments, Some(unit)) => {
                            vec![("unit", unit.written.clone()), ("format", "xlsx".to_owned())]
                        }
                        (SheetFormat::Xlsx, _, _) => bail!(RECORDS_AS_CSV),
                    };
                    let route = format!("/export/{}", kind.name());
                    online_sheet(server, token, &route, &query, output.as_deref()).await
                }
                Commands::Verify { recognitions: false } => online_verify(server, token).await,
                Commands::Verify { recognitions: true } => {
                    bail!("verify --recognitions reads the data directory: run it without --server")
                }
                Commands::Token { action } => online_token(server, token, action).await,
                Commands::Certificate { action } => online_certificate(server, token, action).await,
                _ => unreachable!("refused by check_before_opening"),
            };
        }
        if let (Commands::Verify { recognitions: false }, "sled") = (&cli.command, cli.store.as_str()) {
            if let Some(denied) = private::first_inaccessible(&cli.data) {
                return verify_a_copy(&cli.data, &denied).await;
            }
        }
        cli.master_key_file = Some(master_key_path(&cli)?);
        let store = open_store(&cli).await?;
        match &cli.command {
            Commands::Verify { recognitions: false } => verify(store.as_ref()).await,
            Commands::Verify { recognitions: true } => verify_recognitions(&cli, store).await,
            Commands::Rebuild => rebuild(&cli, store.clone()).await,
            Commands::Serve { listen, demo, max_connections, idle_timeout, deadline, max_mutations_in_flight } => {
                let seconds = |s: u64| std::time::Duration::from_secs(s.max(1));
                let limits = Limits {
                    idle: seconds((*idle_timeout).max(2)),
                    deadline: seconds(*deadline),
                    mutations_in_flight: (*max_mutations_in_flight).max(1),
                    ..Limits::default()
                };
                serve(&cli, store, listen, *demo, *max_connections, limits).await
            }
            Commands::Token { action } => token(store, action).await,
            Commands::Certificate { action } => certificate(&cli, store, action).await,
            Commands::Demo { scale, seed } => {
                let ledger = Arc::new(open_ledger(&cli, store.clone()).await?);
                load_demo(&cli, &ledger, *scale, *seed).await
            }
            Commands::Policies | Commands::Schema { .. } => unreachable!("handled before the store is opened"),
            Commands::Export { what: Exported::Log, output, keys, .. } => {
                export(store.as_ref(), output.as_deref()).await?;
                match keys {
                    Some(path) => export_keys(&store, path).await,
                    None => Ok(()),
                }
            }
            Commands::Export { what, output, format, from, to, unit, region, by, policy, round, .. } => {
                let policy = policy.as_deref();
                let sheet = Sheet {
                    what: *what,
                    format: *format,
                    from: *from,
                    to: *to,
                    unit: unit.as_ref(),
                    region,
                    by,
                    policy,
                    round: *round,
                };
                export_sheet(&cli, store, sheet, output.as_deref()).await
            }
            Commands::Import { kind, file, encoding, skip_invalid, amend, yes } => {
                let amending = Amending::of(amend.as_deref(), *yes)?;
                import(&cli, store, *kind, file, *encoding, *skip_invalid, amending).await
            }
            Commands::Restore { file, keys } => {
                restore(store.as_ref(), file).await?;
                match keys {
                    Some(path) => restore_keys(&cli, &store, path).await,
                    None => Ok(()),
                }
            }
        }
    })
}

/// Mistakes caught before the store is opened: a command that only reads, given a
/// data directory that does not exist (a typo would otherwise open a new, empty store
/// and answer with an empty report); a large or binary export about to be poured onto
/// a terminal.
fn check_before_opening(cli: &Cli) -> Result<()> {
    let reads_only = match &cli.command {
        Commands::Verify { .. } | Commands::Rebuild | Commands::Export { .. } => true,
        Commands::Token { action } => !matches!(action, TokenAction::Create { .. }),
        Commands::Certificate { action } => {
            matches!(action, CertificateAction::Show { .. } | CertificateAction::List { .. })
        }
        _ => false,
    };
    let online = matches!(
        cli.command,
        Commands::Export { .. }
            | Commands::Import { .. }
            | Commands::Verify { .. }
            | Commands::Token { .. }
            | Commands::Certificate { .. }
    );
    if cli.server.is_some() && !online {
        bail!(
            "--server takes a backup (`export`, with --keys), every other `export`, `import`, `verify`, `token` \
             and `certificate` through a running server; the other commands work on the data directory"
        );
    }
    if reads_only && cli.store == "sled" && cli.server.is_none() && !cli.data.exists() {
        bail!(
            "there is no data directory {}: check --data (or TAIZHANG_DATA); serve, import, restore and demo \
             create one",
            cli.data.display()
        );
    }
    if let Commands::Export { what, format: SheetFormat::Csv, unit: Some(unit), .. } = &cli.command {
        if let Some(kind) = what.records_kind() {
            bail!(
                "`export {}` writes every unit's records, not those of {}: --unit picks a unit's ledger, its \
                 reports, or with `export commitments --format xlsx` its public list",
                kind.name(),
                unit.written
            );
        }
    }
    if let Commands::Export { what, output: None, format, .. } = &cli.command {
        use std::io::IsTerminal;
        let bulky = *what == Exported::Log || *format == SheetFormat::Xlsx;
        if bulky && std::io::stdout().is_terminal() {
            bail!("this export is large or binary: write it to a file with -o FILE, or redirect standard output");
        }
    }
    Ok(())
}
