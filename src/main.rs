//! The `taizhang` binary: command-line parsing and wiring only. Everything it does is
//! done by the library crates.
#![forbid(unsafe_code)]

mod progress;

/// mimalloc rather than the system allocator: the read model is millions of small
/// allocations, and rebuilding it ran a quarter faster (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use taizhang_api::{ApiState, Limits};
use taizhang_app::Ledger;
use taizhang_core::{MemberId, Role, UnitId};
use taizhang_io::import::{Amendment, Encoding};
use taizhang_io::{Kind, Located};
use taizhang_read::policy::PolicySet;
use taizhang_read::report::Scope;
use taizhang_read::{AsOf, Projector};
use taizhang_store::keys::{KeyStore, MasterKey};
use taizhang_store::tokens::{NewToken, Secret, TokenStatus, TokenStore};
use taizhang_store::{backup, chain, private, AnyStore, EventStore};

use crate::progress::Progress;

/// taizhang (台账): an event-sourced volunteer service ledger.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Data directory (the embedded store and its key store).
    #[arg(
        long,
        env = "TAIZHANG_DATA",
        default_value = "./taizhang-data",
        global = true,
        help_heading = "Global options"
    )]
    data: PathBuf,
    /// The master key that wraps the personal-data keys [default:
    /// $XDG_CONFIG_HOME/taizhang/master.key, or ~/.config/taizhang/master.key].
    #[arg(long, env = "TAIZHANG_MASTER_KEY_FILE", global = true, help_heading = "Global options")]
    master_key_file: Option<PathBuf>,
    /// Directory of policy files (*.toml) beside the built-in policies.
    #[arg(long, env = "TAIZHANG_POLICY_DIR", global = true, help_heading = "Global options")]
    policy_dir: Option<PathBuf>,
    /// The log: `sled` (embedded, in the data directory) or a `postgres://` URL.
    #[arg(long, env = "TAIZHANG_STORE", default_value = "sled", global = true, help_heading = "Global options")]
    store: String,
    /// The PostgreSQL schema of this deployment (several may share a server).
    #[arg(
        long,
        env = "TAIZHANG_PG_SCHEMA",
        default_value = "taizhang",
        global = true,
        help_heading = "Global options"
    )]
    pg_schema: String,
    /// A running server to take the backup from (`export` of the log and `--keys`),
    /// e.g. http://127.0.0.1:8080, instead of the data directory it holds.
    #[arg(long, env = "TAIZHANG_SERVER", global = true, help_heading = "Global options")]
    server: Option<String>,
    /// An admin's API token, for --server.
    #[arg(long, env = "TAIZHANG_TOKEN", global = true, help_heading = "Global options", hide_env_values = true)]
    token: Option<String>,
    #[command(subcommand)]
    command: Commands,
}

#[derive(Subcommand)]
enum Commands {
    /// Serve the GraphQL API (POST/GET /graphql, GraphiQL, /graphql/ws, /healthz, /metrics).
    Serve {
        /// Address to listen on; port 0 picks a free port (the address is printed).
        #[arg(long, env = "TAIZHANG_LISTEN", default_value = "127.0.0.1:8080")]
        listen: String,
        /// Load the sample campaign first when the log is empty (see `demo`).
        #[arg(long)]
        demo: bool,
        /// Connections held open at most; past it new ones are closed at once.
        #[arg(long, env = "TAIZHANG_MAX_CONNECTIONS", default_value_t = taizhang_api::connections::MAX_CONNECTIONS)]
        max_connections: usize,
        /// Seconds a connection may stay silent before it is closed.
        #[arg(long, env = "TAIZHANG_IDLE_TIMEOUT", default_value_t = Limits::default().idle.as_secs())]
        idle_timeout: u64,
        /// Seconds one query or mutation may run before it is dropped.
        #[arg(long, env = "TAIZHANG_REQUEST_DEADLINE", default_value_t = Limits::default().deadline.as_secs())]
        deadline: u64,
    },
    /// Load the sample campaign (Shiyan, June 2011 service month) through the command
    /// path; loading it again writes nothing.
    Demo {
        /// 1.0 is the whole city (5,800 units); 0.01 is 58 units.
        #[arg(long, default_value_t = 1.0)]
        scale: f64,
        #[arg(long, default_value_t = 2011)]
        seed: u64,
    },
    /// Print the GraphQL schema (SDL), as checked in at schema/schema.graphql.
    Schema {
        /// Instead, write the JSON Schema of every event payload into this directory
        /// (schema/events).
        #[arg(long, conflicts_with = "roles")]
        events: Option<PathBuf>,
        /// Instead, print the role table (Markdown), as the README holds it.
        #[arg(long, conflicts_with = "layouts")]
        roles: bool,
        /// Instead, print the CSV layouts of `import` (Markdown), as the README holds them.
        #[arg(long)]
        layouts: bool,
    },
    /// Walk the hash chain from the first event and name the first bad position.
    Verify,
    /// Write the log as JSON Lines (a backup `restore` reads back, chain intact), or
    /// records, reports or a ledger for spreadsheets.
    Export {
        /// log (the default), units, members, outings (CSV in the import's layout),
        /// verifications (the outings awaiting one: a worksheet `import` reads back),
        /// reports (CSV of one grouping, or an XLSX workbook of all), ledger (of --unit),
        /// eligibility (the award list under --policy: a row per member, CSV).
        #[arg(default_value = "log")]
        what: Exported,
        /// Output file [default: standard output].
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// Also write the member keys (still wrapped by the master key) to this file.
        #[arg(long)]
        keys: Option<PathBuf>,
        /// csv or xlsx (reports and ledger).
        #[arg(long, default_value = "csv")]
        format: SheetFormat,
        /// The reports' first day (YYYY-MM-DD) [default: the first of this month].
        #[arg(long, value_parser = parse_day)]
        from: Option<time::Date>,
        /// The reports' last day [default: today].
        #[arg(long, value_parser = parse_day)]
        to: Option<time::Date>,
        /// Only this unit (reports), or the unit whose ledger to write: its code or id.
        #[arg(long)]
        unit: Option<UnitArg>,
        /// Only this region (reports).
        #[arg(long, conflicts_with = "unit")]
        region: Option<String>,
        /// The grouping of a CSV report: unit, region, industry or weekly.
        #[arg(long, default_value = "unit")]
        by: String,
        /// The policy of an award list (`taizhang policies` lists them).
        #[arg(long)]
        policy: Option<String>,
    },
    /// Import units, members, outings or verifications from a CSV file (layouts in the README). Every
    /// row is checked first; with any problem nothing is written.
    Import {
        /// units, members, outings or verifications.
        kind: Kind,
        file: PathBuf,
        /// utf-8 (with or without BOM) or gbk.
        #[arg(long, default_value = "utf-8")]
        encoding: Encoding,
        /// Write the rows without problems and leave out the others.
        #[arg(long)]
        skip_invalid: bool,
        /// Read a changed row of a record already in the log as its corrections, each
        /// recorded with this reason; shows what would change and writes nothing
        /// without --yes.
        #[arg(long, value_name = "REASON")]
        amend: Option<String>,
        /// Write the corrections --amend shows.
        #[arg(long, requires = "amend")]
        yes: bool,
    },
    /// Recompute every projection from the log beside the checkpointed one, report both
    /// digests, and keep the rebuilt one.
    Rebuild,
    /// Load and check the policies (built-in and from the policy directory) and list them.
    Policies,
    /// API tokens: create one (its secret is printed once), list them, revoke one.
    /// Works against the data directory (stop `serve` first on the embedded store) or
    /// the PostgreSQL store; admins can do the same over GraphQL.
    Token {
        #[command(subcommand)]
        action: TokenAction,
    },
    /// Rebuild an empty data directory from a JSON Lines backup.
    Restore {
        /// The backup written by `export`.
        file: PathBuf,
        /// Member keys written by `export --keys`.
        #[arg(long)]
        keys: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Exported {
    Log,
    Units,
    Members,
    Outings,
    Verifications,
    Reports,
    Ledger,
    Eligibility,
}

impl Exported {
    /// The kind of records exported in the import's layout, for those exports.
    fn records_kind(self) -> Option<Kind> {
        match self {
            Exported::Units => Some(Kind::Units),
            Exported::Members => Some(Kind::Members),
            Exported::Outings => Some(Kind::Outings),
            Exported::Verifications => Some(Kind::Verifications),
            Exported::Log | Exported::Reports | Exported::Ledger | Exported::Eligibility => None,
        }
    }
}

const RECORDS_AS_CSV: &str = "units, members, outings and verifications are exported as CSV, the layout `import` reads";

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum SheetFormat {
    Csv,
    Xlsx,
}

fn parse_day(text: &str) -> Result<time::Date, String> {
    taizhang_core::parse_date("date", text).map_err(|e| e.to_string())
}

#[derive(Subcommand)]
enum TokenAction {
    /// Create a token and print it on standard output, once; only its hash is kept.
    Create {
        /// admin, clerk, reviewer or viewer.
        #[arg(long)]
        role: Role,
        /// A unit a clerk may write for (repeat for several; clerks only).
        #[arg(long = "unit")]
        units: Vec<UnitId>,
        /// Lifetime, as 90d, 12h, 30m or 45s [default: never expires].
        #[arg(long, value_parser = parse_lifetime)]
        expires: Option<time::Duration>,
        /// What the token is for, to recognise it in `token list`.
        #[arg(long, default_value = "")]
        name: String,
    },
    /// List every token (never their secrets).
    List,
    /// Revoke a token; the next request that carries it is refused.
    Revoke { id: uuid::Uuid },
}

/// `90d`, `12h`, `30m`, `45s`.
fn parse_lifetime(text: &str) -> Result<time::Duration, String> {
    let bad = || format!("{text:?} is not a lifetime such as 90d, 12h, 30m or 45s");
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?);
    let n: i64 = number.parse().map_err(|_| bad())?;
    let seconds_each = match unit {
        "d" => 86_400,
        "h" => 3_600,
        "m" => 60,
        "s" => 1,
        _ => return Err(bad()),
    };
    let lifetime = n.checked_mul(seconds_each).map(time::Duration::seconds).ok_or_else(bad)?;
    if lifetime.is_zero() {
        return Err(format!("{text:?}: a token must live longer than that"));
    }
    Ok(lifetime)
}

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
                Commands::Export { what, output, format, .. } => {
                    let kind = what.records_kind().expect("the other exports are above");
                    if *format == SheetFormat::Xlsx {
                        bail!(RECORDS_AS_CSV);
                    }
                    let route = format!("/export/{}", kind.name());
                    online_sheet(server, token, &route, &[], output.as_deref()).await
                }
                Commands::Verify => online_verify(server, token).await,
                Commands::Token { action } => online_token(server, token, action).await,
                _ => unreachable!("refused by check_before_opening"),
            };
        }
        if let (Commands::Verify, "sled") = (&cli.command, cli.store.as_str()) {
            if let Some(denied) = private::first_inaccessible(&cli.data) {
                return verify_a_copy(&cli.data, &denied).await;
            }
        }
        cli.master_key_file = Some(master_key_path(&cli)?);
        let store = open_store(&cli).await?;
        match &cli.command {
            Commands::Verify => verify(store.as_ref()).await,
            Commands::Rebuild => rebuild(&cli, store.clone()).await,
            Commands::Serve { listen, demo, max_connections, idle_timeout, deadline } => {
                let seconds = |s: u64| std::time::Duration::from_secs(s.max(1));
                let limits =
                    Limits { idle: seconds((*idle_timeout).max(2)), deadline: seconds(*deadline), ..Limits::default() };
                serve(&cli, store, listen, *demo, *max_connections, limits).await
            }
            Commands::Token { action } => token(store, action).await,
            Commands::Demo { scale, seed } => {
                let ledger = Arc::new(open_ledger(&cli, store.clone()).await?);
                load_demo(&ledger, *scale, *seed).await
            }
            Commands::Policies | Commands::Schema { .. } => unreachable!("handled before the store is opened"),
            Commands::Export { what: Exported::Log, output, keys, .. } => {
                export(store.as_ref(), output.as_deref()).await?;
                match keys {
                    Some(path) => export_keys(&store, path).await,
                    None => Ok(()),
                }
            }
            Commands::Export { what, output, format, from, to, unit, region, by, policy, .. } => {
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

async fn token(store: Arc<AnyStore>, action: &TokenAction) -> Result<()> {
    let tokens = TokenStore::of(&store)?;
    let now = time::OffsetDateTime::now_utc();
    match action {
        TokenAction::Create { role, units, expires, name } => {
            let new = NewToken { name: name.clone(), role: *role, units: units.clone(), lifetime: *expires };
            let issued = tokens.create(store.as_ref(), new, now).await?;
            println!("{}", issued.secret.expose());
            eprintln!(
                "created {} token {}{}; it is shown once: keep it where you keep passwords",
                issued.record.role,
                issued.record.id,
                issued.record.expires_at.map(|at| format!(", expiring {}", timestamp(at))).unwrap_or_default()
            );
        }
        TokenAction::List => {
            print_token_header();
            for r in tokens.list().await? {
                let status = match r.status(now) {
                    TokenStatus::Active => "active",
                    TokenStatus::Expired => "expired",
                    TokenStatus::Revoked => "revoked",
                };
                let units: Vec<String> = r.units.iter().map(ToString::to_string).collect();
                let expires = r.expires_at.map(timestamp).unwrap_or_else(|| "never".into());
                let (id, created) = (r.id.to_string(), timestamp(r.created_at));
                print_token_row(&id, r.role.as_str(), status, &r.name, &created, &expires, &units.join(","));
            }
        }
        TokenAction::Revoke { id } => {
            tokens.revoke(*id, now).await?;
            eprintln!("revoked token {id}");
        }
    }
    store.sync().await?;
    Ok(())
}

fn timestamp(at: time::OffsetDateTime) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]Z");
    at.format(&format).unwrap_or_else(|_| at.to_string())
}

async fn open_store(cli: &Cli) -> Result<Arc<AnyStore>> {
    let store = AnyStore::open(&cli.store, &cli.data, &cli.pg_schema).await.with_context(|| {
        format!("opening the store {} (data {}, schema {})", cli.store, cli.data.display(), cli.pg_schema)
    })?;
    Ok(Arc::new(store))
}

/// Mistakes caught before the store is opened: a command that only reads, given a
/// data directory that does not exist (a typo would otherwise open a new, empty store
/// and answer with an empty report); a large or binary export about to be poured onto
/// a terminal.
fn check_before_opening(cli: &Cli) -> Result<()> {
    let reads_only = match &cli.command {
        Commands::Verify | Commands::Rebuild | Commands::Export { .. } => true,
        Commands::Token { action } => !matches!(action, TokenAction::Create { .. }),
        _ => false,
    };
    let online = matches!(
        cli.command,
        Commands::Export { .. } | Commands::Import { .. } | Commands::Verify | Commands::Token { .. }
    );
    if cli.server.is_some() && !online {
        bail!(
            "--server takes a backup (`export`, with --keys), every other `export`, `import`, `verify` and `token` \
             through a running server; the other commands work on the data directory"
        );
    }
    if reads_only && cli.store == "sled" && cli.server.is_none() && !cli.data.exists() {
        bail!(
            "there is no data directory {}: check --data (or TAIZHANG_DATA); serve, import, restore and demo \
             create one",
            cli.data.display()
        );
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

/// The master key file: the one named, or by default one in the user's configuration
/// directory, apart from the data: a copy of the data directory (a backup, a copied
/// disk) must not carry the key that opens its personal data. Resolved once, at start.
fn master_key_path(cli: &Cli) -> Result<PathBuf> {
    let in_data = cli.data.join("master.key");
    if let Some(path) = &cli.master_key_file {
        if is_inside(path, &cli.data) {
            tracing::warn!(
                key = %path.display(),
                "the master key is inside the data directory: any copy of the directory opens its personal data"
            );
        }
        return Ok(path.clone());
    }
    let config = match (std::env::var_os("XDG_CONFIG_HOME"), std::env::var_os("HOME")) {
        (Some(dir), _) if !dir.is_empty() => PathBuf::from(dir),
        (_, Some(home)) if !home.is_empty() => PathBuf::from(home).join(".config"),
        _ => bail!("no configuration directory (neither XDG_CONFIG_HOME nor HOME is set): name the master key file with --master-key-file"),
    };
    let path = config.join("taizhang").join("master.key");
    if in_data.exists() {
        bail!(
            "the master key {} is inside the data directory, where any copy of the directory carries it: move it \
             out (to {}, the default, when no key is there yet) or name it with --master-key-file",
            in_data.display(),
            path.display()
        );
    }
    Ok(path)
}

/// The master key file resolved at start ([`master_key_path`]).
fn master_key(cli: &Cli) -> &Path {
    cli.master_key_file.as_deref().expect("resolved before the store is opened")
}

/// Whether `path` (which may not exist yet) lies inside the directory `dir`.
fn is_inside(path: &Path, dir: &Path) -> bool {
    let resolve = |p: &Path| std::path::absolute(p).ok().map(|p| p.canonicalize().unwrap_or(p));
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    match (resolve(parent), resolve(dir)) {
        (Some(parent), Some(dir)) => parent.starts_with(dir),
        _ => false,
    }
}

/// The ledger over `store` with the master key; says where a new master key was made.
async fn open_ledger(cli: &Cli, store: Arc<AnyStore>) -> Result<Ledger<AnyStore>> {
    let path = master_key(cli);
    let existed = path.exists();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
        private::create_dir(dir)
            .with_context(|| format!("creating the directory of the master key {}", path.display()))?;
    }
    let ledger = Ledger::open(store, path).await?;
    if !existed && path.exists() {
        eprintln!(
            "created the master key {} (mode 0600): keep a copy apart from the data; without it no member's \
             personal data can be read",
            path.display()
        );
    }
    Ok(ledger)
}

async fn verify<S: EventStore>(store: &S) -> Result<()> {
    let progress = Progress::new("verifying", store.head());
    match chain::verify(store, |p| progress.set(p)).await {
        Ok(report) => {
            progress.finish();
            println!("ok: {} events, head hash {}", report.events, hex::encode(report.head_hash));
            Ok(())
        }
        Err(e) => {
            progress.finish();
            bail!("chain broken: {e}")
        }
    }
}

/// `verify` of a data directory this user may read but not write (a copy on read-only
/// media, another user's backup): the embedded store only opens for writing, so its log
/// is copied to a temporary directory, verified there and removed.
async fn verify_a_copy(data: &Path, denied: &Path) -> Result<()> {
    let copy = tempfile::Builder::new().prefix("taizhang-verify-").tempdir().context("making a temporary directory")?;
    eprintln!("{} cannot be written ({}): verifying a copy of its log", data.display(), denied.display());
    copy_tree(&data.join("log"), &copy.path().join("log"))?;
    let store = taizhang_store::SledStore::open(copy.path()).context("opening the copy of the log")?;
    verify(&store).await
}

/// Copies the directory `from` and everything in it to `to`, naming any file it cannot read.
fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry.with_context(|| format!("reading {}", from.display()))?;
        let (source, target) = (entry.path(), to.join(entry.file_name()));
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            copy_tree(&source, &target)?;
        } else {
            std::fs::copy(&source, &target).with_context(|| format!("reading {}", source.display()))?;
            // The copy keeps the original's read-only mode; the store opens for writing.
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    Ok(())
}

/// Where the read model's checkpoint lives.
fn checkpoint_path(cli: &Cli) -> PathBuf {
    cli.data.join("read-model.ckpt")
}

async fn rebuild<S: EventStore>(cli: &Cli, store: Arc<S>) -> Result<()> {
    let projector = Projector::open(store, Some(checkpoint_path(cli))).await?;
    let report = projector.rebuild().await?;
    println!("{:<10} {:<66} {:<66}", "projection", "live", "rebuilt");
    for ((name, live), (_, rebuilt)) in report.live.iter().zip(&report.rebuilt) {
        let mark = if live == rebuilt { "" } else { "  DIFFERENT" };
        println!("{name:<10} {live:<66} {rebuilt:<66}{mark}");
    }
    if report.matches() {
        println!("ok: the rebuilt projections equal the live ones");
    } else {
        println!("the live projections differed from the log; the rebuilt ones replace them");
    }
    Ok(())
}

/// Serves the API until SIGTERM or SIGINT, then stops accepting, lets requests in
/// flight finish, makes the store durable and saves the read model's checkpoint.
async fn serve(
    cli: &Cli,
    store: Arc<AnyStore>,
    listen: &str,
    demo: bool,
    max_connections: usize,
    limits: Limits,
) -> Result<()> {
    use poem::listener::{Acceptor, Listener, TcpListener};
    let ledger = Arc::new(open_ledger(cli, store.clone()).await?);
    if demo {
        if store.head() == 0 {
            load_demo(&ledger, 1.0, DEMO_SEED).await?;
        } else {
            tracing::info!(head = store.head(), "the log is not empty; the sample campaign is not loaded");
        }
    }
    let policies = PolicySet::load(cli.policy_dir.as_deref())?;
    let projector = Projector::open(store.clone(), Some(checkpoint_path(cli))).await?;
    let follower = tokio::spawn(projector.clone().run());
    let state = Arc::new(ApiState::new(ledger, projector.clone(), policies)?);
    let demo_token = admin_check(&state, demo).await?;
    let schema = taizhang_api::schema(state.clone(), &limits);
    let acceptor =
        TcpListener::bind(listen.to_owned()).into_acceptor().await.with_context(|| format!("listening on {listen}"))?;
    let acceptor = taizhang_api::connections::Bounded::new(acceptor, max_connections);
    let address = acceptor
        .local_addr()
        .first()
        .and_then(|a| a.as_socket_addr().copied())
        .context("the listener has no address")?;
    tracing::info!(%address, store = store.kind(), position = projector.position(), "serving");
    // Tests and scripts started with port 0 read the address from this line.
    println!("listening on http://{address}");
    if let Some(token) = demo_token {
        println!("sample admin token (shown once): {}", token.expose());
        println!("GraphiQL with it: http://{address}/graphql#token={}", token.expose());
    }
    std::io::stdout().flush()?;
    let watchdog = tokio::spawn(watch_store(store.clone()));
    poem::Server::new_with_acceptor(acceptor)
        .idle_timeout(limits.idle)
        .run_with_graceful_shutdown(
            taizhang_api::http::routes(schema, state, limits),
            shutdown_signal(),
            Some(std::time::Duration::from_secs(30)),
        )
        .await?;
    tracing::info!("stopping: making the store durable");
    follower.abort();
    watchdog.abort();
    // Acknowledged appends are durable already; this flushes the key store beside
    // them. A writer stuck in the disk must not keep the process from ending.
    match tokio::time::timeout(STORE_STOP_WAIT, store.sync()).await {
        Ok(synced) => synced?,
        Err(_) => exit_for_restart("the store did not finish its last write"),
    }
    projector.save_checkpoint()?;
    tracing::info!(position = projector.position(), "stopped");
    Ok(())
}

/// How long stopping waits for the store's last flush.
const STORE_STOP_WAIT: std::time::Duration = std::time::Duration::from_secs(10);
/// How long a server whose store can no longer take writes keeps answering (reads, and
/// `/healthz` with 503, so that a load balancer turns away) before it exits.
const UNHEALTHY_GRACE: std::time::Duration = std::time::Duration::from_secs(5);
/// The exit code of a server that stopped so that its supervisor starts it again
/// (EX_TEMPFAIL: a restart reads the log again and recovers).
const EXIT_RESTART: i32 = 75;

/// Ends the process once the store can no longer take writes: poisoned by a failed
/// write, or stalled in one that never returns. A restart reads the log again and
/// serves on; staying up would answer every write with an error, or never.
async fn watch_store(store: Arc<AnyStore>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        tick.tick().await;
        let health = store.health();
        if health != taizhang_store::StoreHealth::Ok {
            tracing::error!(?health, "the store can no longer take writes; /healthz answers 503");
            tokio::time::sleep(UNHEALTHY_GRACE).await;
            exit_for_restart("the store can no longer take writes");
        }
    }
}

/// Exits at once with [`EXIT_RESTART`], without dropping the store: its writer thread
/// may be stuck inside the disk write, and dropping waits for it.
fn exit_for_restart(why: &str) -> ! {
    tracing::error!("{why}: exiting with code {EXIT_RESTART} to be restarted");
    std::process::exit(EXIT_RESTART)
}

/// Warns when no admin token exists. With `--demo` it creates one named "demo" instead,
/// printed with the address, so that a new user can try the API in one command.
async fn admin_check(state: &ApiState, demo: bool) -> Result<Option<Secret>> {
    let now = time::OffsetDateTime::now_utc();
    if state.tokens.has_admin(now).await? {
        return Ok(None);
    }
    if demo {
        let new = NewToken { name: "demo".into(), role: Role::Admin, units: vec![], lifetime: None };
        return Ok(Some(state.tokens.create(state.store().as_ref(), new, now).await?.secret));
    }
    tracing::warn!(
        "no admin token exists, so nobody can use the API yet: stop the server and run \
         `taizhang token create --role admin` (on PostgreSQL it works while servers run)"
    );
    Ok(None)
}

/// The seed `serve --demo` and `demo` use unless told otherwise.
const DEMO_SEED: u64 = 2011;

async fn load_demo(ledger: &Arc<Ledger<AnyStore>>, scale: f64, seed: u64) -> Result<()> {
    if !(scale > 0.0 && scale <= 100.0) {
        bail!("--scale must be above 0 and at most 100, not {scale}");
    }
    let plan = taizhang_app::demo::plan(scale, seed);
    let total = plan.commands.len();
    let progress = Progress::new("loading the sample campaign", total as u64);
    let started = std::time::Instant::now();
    let done = taizhang_app::demo::load(ledger, plan, |n| progress.set(n as u64)).await?;
    progress.finish();
    eprintln!(
        "loaded the sample campaign: {done} commands (scale {scale}, seed {seed}) in {:.1} s; log head {}",
        started.elapsed().as_secs_f64(),
        ledger.store().head()
    );
    Ok(())
}

async fn shutdown_signal() {
    let mut terminate =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("installing SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    tracing::info!("shutdown requested");
}

fn write_event_schemas(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for (file, json) in taizhang_api::event_schemas() {
        std::fs::write(dir.join(&file), json).with_context(|| format!("writing {file}"))?;
    }
    Ok(())
}

fn policies(cli: &Cli) -> Result<()> {
    let set = PolicySet::load(cli.policy_dir.as_deref())?;
    for p in set.iter() {
        println!("{p}");
    }
    Ok(())
}

/// Where a backup goes: a file (mode 0600), on disk for good before the command says it
/// is done, or standard output.
enum BackupOut {
    File(BufWriter<File>),
    Stdout(BufWriter<std::io::StdoutLock<'static>>),
}

impl BackupOut {
    fn open(output: Option<&Path>) -> Result<Self> {
        Ok(match output {
            Some(path) => Self::File(BufWriter::new(
                private::create_file(path).with_context(|| format!("creating {}", path.display()))?,
            )),
            None => Self::Stdout(BufWriter::new(std::io::stdout().lock())),
        })
    }

    /// Flushes, and makes a file durable.
    fn finish(self) -> Result<()> {
        match self {
            Self::File(file) => file.into_inner().map_err(|e| e.into_error())?.sync_all()?,
            Self::Stdout(mut out) => out.flush()?,
        }
        Ok(())
    }
}

impl Write for BackupOut {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        match self {
            Self::File(file) => file.write(bytes),
            Self::Stdout(out) => out.write(bytes),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Self::File(file) => file.flush(),
            Self::Stdout(out) => out.flush(),
        }
    }
}

async fn export<S: EventStore>(store: &S, output: Option<&Path>) -> Result<()> {
    let progress = Progress::new("exporting", store.head());
    let mut out = BackupOut::open(output)?;
    let n = backup::export(store, &mut out, |p| progress.set(p)).await?;
    out.finish()?;
    progress.finish();
    eprintln!("exported {n} events");
    Ok(())
}

/// The backup of a running server: its log up to the head when asked, and with `keys`
/// the wrapped member keys, written as `export` writes them offline (mode 0600).
async fn online_backup(server: &str, token: &str, output: Option<&Path>, keys: Option<&Path>) -> Result<()> {
    let client = reqwest::Client::new();
    let base = server.trim_end_matches('/');
    let fetch = |route: &str| {
        let url = format!("{base}{route}");
        let request = client.get(&url).bearer_auth(token);
        async move {
            let response = request.send().await.with_context(|| format!("asking {url}"))?;
            let status = response.status();
            if !status.is_success() {
                let body = response.text().await.unwrap_or_default();
                bail!("{url} answered {status}: {}", body.trim());
            }
            Ok(response)
        }
    };
    let mut response = fetch("/backup").await?;
    let position: u64 = response
        .headers()
        .get("x-log-position")
        .and_then(|v| v.to_str().ok()?.parse().ok())
        .context("the server did not say which position the backup ends at")?;
    let mut out = BackupOut::open(output)?;
    let progress = Progress::new("backing up", position);
    let mut lines = 0u64;
    while let Some(chunk) = response.chunk().await.context("reading the backup")? {
        lines += chunk.iter().filter(|b| **b == b'\n').count() as u64;
        out.write_all(&chunk)?;
        progress.set(lines);
    }
    out.finish()?;
    progress.finish();
    if lines != position {
        bail!("the backup ended after {lines} of {position} events (the server stopped it); it is incomplete");
    }
    eprintln!("backed up {lines} events from {base} (the log up to position {position})");
    if let Some(path) = keys {
        let body = fetch("/backup/keys").await?.bytes().await.context("reading the keys")?;
        let mut file = private::create_file(path).with_context(|| format!("creating {}", path.display()))?;
        file.write_all(&body)?;
        file.sync_all()?;
        eprintln!("wrote the member keys to {} (wrapped: they open only with the master key)", path.display());
    }
    Ok(())
}

/// `export reports` or `export ledger` from a running server (`GET /export/…`): the same
/// file, made by the server while it serves, written here (mode 0600) or to standard
/// output.
async fn online_sheet(
    server: &str,
    token: &str,
    route: &str,
    query: &[(&str, String)],
    output: Option<&Path>,
) -> Result<()> {
    let url = format!("{}{route}", server.trim_end_matches('/'));
    let request = reqwest::Client::new().get(&url).bearer_auth(token).query(query);
    let response = request.send().await.with_context(|| format!("asking {url}"))?;
    let status = response.status();
    let body = response.bytes().await.context("reading the report")?;
    if !status.is_success() {
        let answer: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let message = answer["errors"][0]["message"]
            .as_str()
            .map_or_else(|| String::from_utf8_lossy(&body).into_owned(), str::to_owned);
        bail!("{url} answered {status}: {message}");
    }
    match output {
        Some(path) => {
            let mut file = private::create_file(path).with_context(|| format!("creating {}", path.display()))?;
            file.write_all(&body)?;
            file.sync_all()?;
        }
        None => std::io::stdout().lock().write_all(&body)?,
    }
    Ok(())
}

/// `verify` by a running server (GraphQL `verifyChain`, an admin's or a reviewer's
/// token): the same walk of the chain, answered as `verify` answers.
async fn online_verify(server: &str, token: &str) -> Result<()> {
    let query = "{ verifyChain { ok events headHash brokenAt reason } }";
    let data = graphql(server, token, query, serde_json::json!({})).await?;
    let report = &data["verifyChain"];
    if report["ok"] != true {
        bail!("chain broken at position {}: {}", report["brokenAt"], report["reason"].as_str().unwrap_or(""));
    }
    println!("ok: {} events, head hash {}", report["events"], report["headHash"].as_str().unwrap_or(""));
    Ok(())
}

/// The `data` of a GraphQL request to a running server, or its first error's message.
async fn graphql(server: &str, token: &str, query: &str, variables: serde_json::Value) -> Result<serde_json::Value> {
    let url = format!("{}/graphql", server.trim_end_matches('/'));
    let body = serde_json::json!({ "query": query, "variables": variables });
    let request = reqwest::Client::new().post(&url).bearer_auth(token).json(&body);
    let response = request.send().await.with_context(|| format!("asking {url}"))?;
    let status = response.status();
    let mut answer: serde_json::Value = response.json().await.with_context(|| format!("{url} answered {status}"))?;
    if let Some(error) = answer["errors"].get(0) {
        bail!("{url} refused: {}", error["message"].as_str().unwrap_or("no message"));
    }
    Ok(answer["data"].take())
}

/// `token` through a running server, over GraphQL (an admin's token): the same
/// create, list and revoke as on the data directory.
async fn online_token(server: &str, token: &str, action: &TokenAction) -> Result<()> {
    match action {
        TokenAction::Create { role, units, expires, name } => {
            let days = match expires {
                None => None,
                Some(d) if d.whole_seconds() % 86_400 == 0 => Some(d.whole_days()),
                Some(_) => bail!("through --server a token's lifetime is given in days (--expires 90d)"),
            };
            let query = "mutation($input: CreateTokenInput!) { createToken(input: $input) { secret token { id role expiresAt } } }";
            let units: Vec<String> = units.iter().map(ToString::to_string).collect();
            let input = serde_json::json!({ "name": name, "role": role.as_str().to_uppercase(), "units": units, "expiresInDays": days });
            let issued = graphql(server, token, query, serde_json::json!({ "input": input })).await?;
            let issued = &issued["createToken"];
            println!("{}", issued["secret"].as_str().unwrap_or_default());
            let expiring =
                issued["token"]["expiresAt"].as_str().map(|at| format!(", expiring {at}")).unwrap_or_default();
            eprintln!(
                "created {role} token {}{expiring}; it is shown once: keep it where you keep passwords",
                issued["token"]["id"].as_str().unwrap_or_default()
            );
        }
        TokenAction::List => {
            let query = "{ tokens { id name role units createdAt expiresAt revokedAt active } }";
            let listed = graphql(server, token, query, serde_json::json!({})).await?;
            print_token_header();
            for t in listed["tokens"].as_array().into_iter().flatten() {
                let text = |key: &str| t[key].as_str().unwrap_or_default().to_owned();
                let status = match (t["revokedAt"].is_null(), t["active"] == true) {
                    (false, _) => "revoked",
                    (true, false) => "expired",
                    (true, true) => "active",
                };
                let units: Vec<&str> = t["units"].as_array().into_iter().flatten().filter_map(|u| u.as_str()).collect();
                let expires = t["expiresAt"].as_str().unwrap_or("never").to_owned();
                let role = text("role").to_lowercase();
                print_token_row(
                    &text("id"),
                    &role,
                    status,
                    &text("name"),
                    &text("createdAt"),
                    &expires,
                    &units.join(","),
                );
            }
        }
        TokenAction::Revoke { id } => {
            let query = "mutation($id: UUID!) { revokeToken(id: $id) { id } }";
            graphql(server, token, query, serde_json::json!({ "id": id })).await?;
            eprintln!("revoked token {id}");
        }
    }
    Ok(())
}

fn print_token_header() {
    println!(
        "{:<36}  {:<8}  {:<8}  {:<20}  {:<20}  {:<20}  units",
        "id", "role", "status", "name", "created", "expires"
    );
}

fn print_token_row(id: &str, role: &str, status: &str, name: &str, created: &str, expires: &str, units: &str) {
    println!("{id:<36}  {role:<8}  {status:<8}  {name:<20}  {created:<20}  {expires:<20}  {units}");
}

/// `import` through a running server (`POST /import/{kind}`): the same checks, the
/// problems printed at their line and column, sent as the token's holder.
async fn online_import(
    server: &str,
    token: &str,
    kind: Kind,
    file: &Path,
    encoding: Encoding,
    skip_invalid: bool,
    amending: Amending,
) -> Result<()> {
    #[derive(serde::Deserialize)]
    struct Answer {
        rows: usize,
        written: usize,
        corrections_written: usize,
        already_in_the_log: usize,
        rows_left_out: usize,
        problems: Vec<Problem>,
        amendments: Vec<Amendment>,
    }
    #[derive(serde::Deserialize)]
    struct Problem {
        line: u64,
        column: usize,
        header: Option<String>,
        message: String,
    }
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let encoding = if encoding == Encoding::Gbk { "gbk" } else { "utf-8" };
    let base = server.trim_end_matches('/');
    let url = format!("{base}/import/{}", kind.name());
    let mut query = vec![("encoding", encoding.to_owned()), ("skip_invalid", skip_invalid.to_string())];
    if let Some(reason) = &amending.reason {
        query.extend([("amend", reason.to_string()), ("confirm", amending.confirmed.to_string())]);
    }
    let request = reqwest::Client::new().post(&url).query(&query).bearer_auth(token).body(bytes);
    let response = request.send().await.with_context(|| format!("sending {} to {url}", file.display()))?;
    let status = response.status();
    let body = response.text().await.context("reading the answer")?;
    let answer: Answer = match serde_json::from_str(&body) {
        Ok(answer) if status.is_success() || status.as_u16() == 422 => answer,
        _ => bail!("{url} answered {status}: {}", body.trim()),
    };
    let name = file.display().to_string();
    for p in &answer.problems {
        let header = p.header.as_deref().map(|h| format!("{h}: ")).unwrap_or_default();
        eprintln!("{name}:{}:{}: {header}{}", p.line, p.column, p.message);
    }
    if amending.stops(&name, answer.problems.len(), skip_invalid, &answer.amendments)? {
        return Ok(());
    }
    let summary = ImportSummary {
        rows: answer.rows,
        written: answer.written,
        corrections: answer.corrections_written,
        already: answer.already_in_the_log,
        left_out: answer.rows_left_out,
    };
    eprintln!("{name}: {} (through {base})", summary.describe(kind));
    Ok(())
}

/// How an import reads changed rows of records already in the log: not at all (a
/// problem each), or as corrections with their reason, shown, and written when
/// confirmed.
struct Amending {
    reason: Option<taizhang_core::Text>,
    confirmed: bool,
}

impl Amending {
    fn of(reason: Option<&str>, confirmed: bool) -> Result<Self> {
        let reason = reason.map(|r| taizhang_core::Text::parse("--amend", r)).transpose()?;
        Ok(Amending { reason, confirmed })
    }

    /// After the problems of file `name` were shown: refuses it when it has any (unless
    /// they are skipped), shows the corrections found, and is true when nothing is to
    /// be written because they were not confirmed.
    fn stops(&self, name: &str, problems: usize, skip_invalid: bool, amendments: &[Amendment]) -> Result<bool> {
        if problems > 0 && !skip_invalid {
            bail!(
                "{problems} problem(s) in {name}; nothing was written (fix them, or add --skip-invalid to write the \
                 other rows)"
            );
        }
        for amendment in amendments {
            eprintln!("{name}:{}: {amendment}", amendment.line);
        }
        let previewed = self.reason.is_some() && !self.confirmed && !amendments.is_empty();
        if previewed {
            eprintln!(
                "{} record(s) would be corrected; nothing was written: add --yes to write the corrections",
                amendments.len()
            );
        }
        Ok(previewed)
    }
}

async fn import(
    cli: &Cli,
    store: Arc<AnyStore>,
    kind: Kind,
    file: &Path,
    encoding: Encoding,
    skip_invalid: bool,
    amending: Amending,
) -> Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let ledger = Arc::new(open_ledger(cli, store).await?);
    let mut import = taizhang_io::import::read(kind, &bytes, encoding);
    if let Some(reason) = amending.reason.clone() {
        import.amend(reason);
    }
    import.check(&ledger, None).await?;
    let name = file.display().to_string();
    for problem in &import.problems {
        eprintln!("{}", Located { file: &name, problem });
    }
    if amending.stops(&name, import.problems.len(), skip_invalid, &import.amendments)? {
        return Ok(());
    }
    let (rows, already) = (import.rows, import.already_imported);
    let progress = Progress::new("importing", import.pending() as u64);
    let operator = taizhang_app::CommandContext::new(taizhang_core::Actor::OPERATOR);
    let written = import.write(&ledger, &operator, skip_invalid, |n| progress.set(n as u64)).await?;
    progress.finish();
    let summary = ImportSummary {
        rows,
        written: written.commands,
        corrections: written.corrections,
        already,
        left_out: written.skipped_rows,
    };
    eprintln!("{name}: {}", summary.describe(kind));
    Ok(())
}

/// What an import did, as its last line says it.
struct ImportSummary {
    rows: usize,
    written: usize,
    corrections: usize,
    already: usize,
    left_out: usize,
}

impl ImportSummary {
    fn describe(&self, kind: Kind) -> String {
        let corrections = match self.corrections {
            0 => String::new(),
            n => format!(", {n} correction(s) written"),
        };
        format!(
            "{} rows; {} {} written{corrections}, {} already in the log, {} rows left out",
            self.rows,
            self.written - self.corrections,
            kind.name(),
            self.already,
            self.left_out
        )
    }
}

/// What `export` writes for spreadsheets.
struct Sheet<'a> {
    what: Exported,
    format: SheetFormat,
    from: Option<time::Date>,
    to: Option<time::Date>,
    unit: Option<&'a UnitArg>,
    region: &'a Option<String>,
    by: &'a str,
    policy: Option<&'a str>,
}

/// The period (from the first of this month to today unless given) and the scope of a
/// report or an award list, the scope checked against the log.
fn period_and_scope(sheet: &Sheet<'_>, projector: &Projector<AnyStore>) -> Result<(taizhang_core::Period, Scope)> {
    let period = taizhang_io::export::period_or_this_month(sheet.from, sheet.to)?;
    let scope = match (sheet.unit, sheet.region) {
        (Some(unit), _) => {
            check_unit(projector, unit)?;
            Scope::Unit(unit.id)
        }
        (None, Some(region)) => Scope::Region(region.clone()),
        (None, None) => Scope::All,
    };
    check_scope(projector, &scope)?;
    Ok((period, scope))
}

/// A unit as the command line names it: by its code or its id, kept as written so that
/// a message names it the same way.
#[derive(Clone, Debug)]
struct UnitArg {
    written: String,
    id: UnitId,
}

impl std::str::FromStr for UnitArg {
    type Err = taizhang_core::NotAReference;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self { written: s.trim().to_owned(), id: s.parse()? })
    }
}

/// Refuses a unit the log does not know, named as the user wrote it.
fn check_unit(projector: &Projector<AnyStore>, unit: &UnitArg) -> Result<()> {
    if !projector.read(|m| m.unit(unit.id, m.position).is_some()) {
        bail!("there is no unit {} (give its code or its id)", unit.written);
    }
    Ok(())
}

/// Refuses a unit, region or industry the log does not know, instead of an empty report.
fn check_scope(projector: &Projector<AnyStore>, scope: &Scope) -> Result<()> {
    // A unit is checked as the user named it (`check_unit`).
    if matches!(scope, Scope::Region(_) | Scope::Industry(_)) {
        if let Some(problem) = projector.read(|m| taizhang_io::export::scope_problem(m, scope)) {
            bail!("{problem}");
        }
    }
    Ok(())
}

async fn export_sheet(cli: &Cli, store: Arc<AnyStore>, sheet: Sheet<'_>, output: Option<&Path>) -> Result<()> {
    use taizhang_io::export::{self as x, ReportScope};
    let projector = Projector::open(store.clone(), Some(checkpoint_path(cli))).await?;
    let bytes = match (sheet.what, sheet.format) {
        (Exported::Log, _) => unreachable!("the log is exported as JSON Lines"),
        (Exported::Units | Exported::Members | Exported::Outings | Exported::Verifications, SheetFormat::Xlsx) => {
            bail!(RECORDS_AS_CSV)
        }
        (Exported::Units | Exported::Members | Exported::Outings | Exported::Verifications, SheetFormat::Csv) => {
            let kind = sheet.what.records_kind().expect("a kind of records");
            // The operator holds every key: every member is listed.
            let ledger = open_ledger(cli, store).await?;
            x::records_file(&ledger, &projector, kind, &AsOf::now(), |_, _| true).await?
        }
        (Exported::Eligibility, SheetFormat::Xlsx) => bail!("the award list is written as CSV"),
        (Exported::Eligibility, SheetFormat::Csv) => {
            let name = sheet.policy.context("give the award list's policy: --policy NAME (`taizhang policies`)")?;
            let policies = PolicySet::load(cli.policy_dir.as_deref())?;
            let policy = policies.get(name)?;
            let (period, scope) = period_and_scope(&sheet, &projector)?;
            let ledger = Arc::new(open_ledger(cli, store).await?);
            // The operator holds every key: everyone is named.
            x::award_list_csv(&ledger, &projector, policy, &scope, period, |_, _| true).await?
        }
        (Exported::Reports, format) => {
            let (period, scope) = period_and_scope(&sheet, &projector)?;
            let scope = ReportScope { period, scope, as_of: AsOf::now() };
            let chosen =
                match format {
                    SheetFormat::Xlsx => None,
                    SheetFormat::Csv => Some(x::report_sheet_named(sheet.by).with_context(|| {
                        format!("--by must be unit, region, industry or weekly, not {:?}", sheet.by)
                    })?),
                };
            x::report_file(&projector, &scope, chosen)?
        }
        (Exported::Ledger, format) => {
            let unit = sheet.unit.context("give the unit whose ledger to export: --unit CODE (or its id)")?;
            check_unit(&projector, unit)?;
            // The participants' names, opened with the keys: the operator holds them all.
            let ledger = open_ledger(cli, store).await?;
            let xlsx = format == SheetFormat::Xlsx;
            x::ledger_file(&ledger, &projector, unit.id, xlsx, |_, _| true).await?
        }
    };
    match output {
        Some(path) => private::create_file(path)
            .and_then(|mut file| file.write_all(&bytes))
            .with_context(|| format!("writing {}", path.display()))?,
        None => std::io::stdout().lock().write_all(&bytes)?,
    }
    Ok(())
}

async fn export_keys(store: &AnyStore, path: &Path) -> Result<()> {
    let entries = KeyStore::of(store)?.export().await?;
    let mut file = BufWriter::new(private::create_file(path).with_context(|| format!("creating {}", path.display()))?);
    file.write_all(&backup::key_lines(&entries))?;
    file.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    eprintln!(
        "wrote {} member keys to {} (wrapped: they open only with the master key, which belongs elsewhere)",
        entries.len(),
        path.display()
    );
    Ok(())
}

async fn restore<S: EventStore>(store: &S, file: &Path) -> Result<()> {
    let input = BufReader::new(File::open(file).with_context(|| format!("opening {}", file.display()))?);
    let progress = Progress::new("restoring", 0);
    let n = backup::restore(store, input, |p| progress.set(p))
        .await
        .with_context(|| format!("restoring {}", file.display()))?;
    progress.finish();
    let report = chain::verify(store, |_| {}).await?;
    println!("ok: restored {n} events, head hash {}", hex::encode(report.head_hash));
    Ok(())
}

async fn restore_keys(cli: &Cli, store: &AnyStore, path: &Path) -> Result<()> {
    let key_store = KeyStore::of(store)?;
    // The keys must open under the master key the operator will run with.
    let master = MasterKey::load_or_create(master_key(cli), false)?;
    let mut entries = Vec::new();
    for (i, line) in std::fs::read_to_string(path)?.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let bad = || format!("{}:{}: expected {{\"member\": id, \"wrapped_key\": hex}}", path.display(), i + 1);
        let value: serde_json::Value = serde_json::from_str(line).with_context(bad)?;
        let member: MemberId = value["member"].as_str().and_then(|s| s.parse().ok()).with_context(bad)?;
        let wrapped = value["wrapped_key"].as_str().and_then(|h| hex::decode(h).ok()).with_context(bad)?;
        entries.push((member, wrapped));
    }
    let count = entries.len();
    key_store.import(entries).await?;
    key_store.check(&master).await?;
    eprintln!("restored {count} member keys");
    Ok(())
}
