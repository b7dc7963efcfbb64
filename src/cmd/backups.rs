//! The log's backup (`export`, with `--keys`) and `restore` into a fresh data
//! directory.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::Path;

use anyhow::{Context, Result};
use taizhang_core::DataSubject;
use taizhang_store::keys::{KeyStore, MasterKey};
use taizhang_store::{backup, chain, private, AnyStore, EventStore};

use crate::cli::*;
use crate::cmd::*;
use crate::progress::Progress;

/// Where a backup goes: a file (mode 0600), on disk for good before the command says it
/// is done, or standard output.
pub(crate) enum BackupOut {
    File(BufWriter<File>),
    Stdout(BufWriter<std::io::StdoutLock<'static>>),
}

impl BackupOut {
    pub(crate) fn open(output: Option<&Path>) -> Result<Self> {
        Ok(match output {
            Some(path) => Self::File(BufWriter::new(
                private::create_file(path).with_context(|| format!("creating {}", path.display()))?,
            )),
            None => Self::Stdout(BufWriter::new(std::io::stdout().lock())),
        })
    }

    /// Flushes, and makes a file durable.
    pub(crate) fn finish(self) -> Result<()> {
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

pub(crate) async fn export<S: EventStore>(store: &S, output: Option<&Path>) -> Result<()> {
    let progress = Progress::new("exporting", store.head());
    let mut out = BackupOut::open(output)?;
    let n = backup::export(store, &mut out, |p| progress.set(p)).await?;
    out.finish()?;
    progress.finish();
    eprintln!("exported {n} events");
    Ok(())
}

pub(crate) async fn export_keys(store: &AnyStore, path: &Path) -> Result<()> {
    let entries = KeyStore::of(store).export().await?;
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

pub(crate) async fn restore<S: EventStore>(store: &S, file: &Path) -> Result<()> {
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

pub(crate) async fn restore_keys(cli: &Cli, store: &AnyStore, path: &Path) -> Result<()> {
    let key_store = KeyStore::of(store);
    // The keys must open under the master key the operator will run with.
    let master = MasterKey::load_or_create(master_key(cli), false)?;
    let mut entries = Vec::new();
    for (i, line) in std::fs::read_to_string(path)?.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let bad = || format!("{}:{}: expected {{\"subject\": id, \"wrapped_key\": hex}}", path.display(), i + 1);
        let value: serde_json::Value = serde_json::from_str(line).with_context(bad)?;
        // Backups from before citizens had keys name the subject `member`.
        let id = value.get("subject").or_else(|| value.get("member")).and_then(|v| v.as_str());
        let subject = id.and_then(|s| uuid::Uuid::try_parse(s).ok()).map(DataSubject).with_context(bad)?;
        let wrapped = value["wrapped_key"].as_str().and_then(|h| hex::decode(h).ok()).with_context(bad)?;
        entries.push((subject, wrapped));
    }
    let count = entries.len();
    key_store.import(entries).await?;
    key_store.check(&master).await?;
    eprintln!("restored {count} personal data keys");
    Ok(())
}
