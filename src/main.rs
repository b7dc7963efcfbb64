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

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use taizhang_core::MemberId;
use taizhang_read::policy::PolicySet;
use taizhang_read::Projector;
use taizhang_store::keys::{MasterKey, SledKeyStore};
use taizhang_store::{backup, chain, EventStore, SledStore};

use crate::progress::Progress;

/// taizhang (台账): an event-sourced volunteer service ledger.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Data directory (the embedded store and its key store).
    #[arg(long, env = "TAIZHANG_DATA", default_value = "./taizhang-data", global = true)]
    data: PathBuf,
    /// The master key that wraps the personal-data keys [default: <data>/master.key].
    #[arg(long, env = "TAIZHANG_MASTER_KEY_FILE", global = true)]
    master_key_file: Option<PathBuf>,
    /// Directory of policy files (*.toml) beside the built-in policies.
    #[arg(long, env = "TAIZHANG_POLICY_DIR", global = true)]
    policy_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Commands,
}

#[derive(Subcommand)]
enum Commands {
    /// Walk the hash chain from the first event and name the first bad position.
    Verify,
    /// Write the log as JSON Lines (a backup `restore` reads back, chain intact).
    Export {
        /// Output file [default: standard output].
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// Also write the member keys (still wrapped by the master key) to this file.
        #[arg(long)]
        keys: Option<PathBuf>,
    },
    /// Recompute every projection from the log beside the checkpointed one, report both
    /// digests, and keep the rebuilt one.
    Rebuild,
    /// Load and check the policies (built-in and from the policy directory) and list them.
    Policies,
    /// Rebuild an empty data directory from a JSON Lines backup.
    Restore {
        /// The backup written by `export`.
        file: PathBuf,
        /// Member keys written by `export --keys`.
        #[arg(long)]
        keys: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("taizhang: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        match &cli.command {
            Commands::Verify => verify(&cli).await,
            Commands::Rebuild => rebuild(&cli).await,
            Commands::Policies => policies(&cli),
            Commands::Export { output, keys } => export(&cli, output.as_deref(), keys.as_deref()).await,
            Commands::Restore { file, keys } => restore(&cli, file, keys.as_deref()).await,
        }
    })
}

fn open_store(cli: &Cli) -> Result<SledStore> {
    SledStore::open(&cli.data).with_context(|| format!("opening the store in {}", cli.data.display()))
}

fn master_key_path(cli: &Cli) -> PathBuf {
    cli.master_key_file.clone().unwrap_or_else(|| cli.data.join("master.key"))
}

async fn verify(cli: &Cli) -> Result<()> {
    let store = open_store(cli)?;
    let progress = Progress::new("verifying", store.head());
    match chain::verify(&store, |p| progress.set(p)).await {
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

/// Where the read model's checkpoint lives.
fn checkpoint_path(cli: &Cli) -> PathBuf {
    cli.data.join("read-model.ckpt")
}

async fn rebuild(cli: &Cli) -> Result<()> {
    let store = std::sync::Arc::new(open_store(cli)?);
    let projector = Projector::open(store.clone(), Some(checkpoint_path(cli))).await?;
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

fn policies(cli: &Cli) -> Result<()> {
    let set = PolicySet::load(cli.policy_dir.as_deref())?;
    for p in set.iter() {
        let levels: Vec<&str> = p.levels.iter().map(|l| l.name.as_str()).collect();
        println!("{} v{} ({:?}): {} — levels {}", p.name, p.version, p.subject, p.title, levels.join(", "));
    }
    Ok(())
}

async fn export(cli: &Cli, output: Option<&Path>, keys: Option<&Path>) -> Result<()> {
    let store = open_store(cli)?;
    let progress = Progress::new("exporting", store.head());
    let mut out: Box<dyn Write> = match output {
        Some(path) => {
            Box::new(BufWriter::new(File::create(path).with_context(|| format!("creating {}", path.display()))?))
        }
        None => Box::new(BufWriter::new(std::io::stdout().lock())),
    };
    let n = backup::export(&store, &mut out, |p| progress.set(p)).await?;
    progress.finish();
    if let Some(path) = keys {
        let entries = SledKeyStore::open(&store)?.export()?;
        let mut file = BufWriter::new(File::create(path).with_context(|| format!("creating {}", path.display()))?);
        for (member, wrapped) in &entries {
            serde_json::to_writer(
                &mut file,
                &serde_json::json!({ "member": member, "wrapped_key": hex::encode(wrapped) }),
            )?;
            file.write_all(b"\n")?;
        }
        file.flush()?;
        eprintln!(
            "wrote {} member keys to {} (wrapped: keep the master key file with them)",
            entries.len(),
            path.display()
        );
    }
    eprintln!("exported {n} events");
    Ok(())
}

async fn restore(cli: &Cli, file: &Path, keys: Option<&Path>) -> Result<()> {
    let store = open_store(cli)?;
    let input = BufReader::new(File::open(file).with_context(|| format!("opening {}", file.display()))?);
    let progress = Progress::new("restoring", 0);
    let n = backup::restore(&store, input, |p| progress.set(p))
        .await
        .with_context(|| format!("restoring {}", file.display()))?;
    progress.finish();
    if let Some(path) = keys {
        let key_store = SledKeyStore::open(&store)?;
        // The keys must open under the master key the operator will run with.
        let master = MasterKey::load_or_create(&master_key_path(cli), false)?;
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
        key_store.check(&master)?;
        eprintln!("restored {count} member keys");
    }
    let report = chain::verify(&store, |_| {}).await?;
    println!("ok: restored {n} events, head hash {}", hex::encode(report.head_hash));
    Ok(())
}
