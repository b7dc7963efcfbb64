//! The command bodies, one module per job, and what they share: opening the store,
//! the master key and the ledger.

pub(crate) mod backups;
pub(crate) mod certificate;
pub(crate) mod import;
pub(crate) mod online;
pub(crate) mod serve;
pub(crate) mod sheets;
pub(crate) mod token;
pub(crate) mod verify;

pub(crate) use backups::*;
pub(crate) use certificate::*;
pub(crate) use import::*;
pub(crate) use online::*;
pub(crate) use serve::*;
pub(crate) use sheets::*;
pub(crate) use token::*;
pub(crate) use verify::*;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use taizhang_app::Ledger;
use taizhang_read::policy::PolicySet;
use taizhang_store::{private, AnyStore};

use crate::cli::*;

pub(crate) async fn open_store(cli: &Cli) -> Result<Arc<AnyStore>> {
    let store = AnyStore::open(&cli.store, &cli.data, &cli.pg_schema).await.with_context(|| {
        format!("opening the store {} (data {}, schema {})", cli.store, cli.data.display(), cli.pg_schema)
    })?;
    Ok(Arc::new(store))
}

/// The master key file: the one named, or by default one in the user's configuration
/// directory, apart from the data: a copy of the data directory (a backup, a copied
/// disk) must not carry the key that opens its personal data. Resolved once, at start.
pub(crate) fn master_key_path(cli: &Cli) -> Result<PathBuf> {
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
pub(crate) fn master_key(cli: &Cli) -> &Path {
    cli.master_key_file.as_deref().expect("resolved before the store is opened")
}

/// Whether `path` (which may not exist yet) lies inside the directory `dir`.
pub(crate) fn is_inside(path: &Path, dir: &Path) -> bool {
    let resolve = |p: &Path| std::path::absolute(p).ok().map(|p| p.canonicalize().unwrap_or(p));
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    match (resolve(parent), resolve(dir)) {
        (Some(parent), Some(dir)) => parent.starts_with(dir),
        _ => false,
    }
}

/// The ledger over `store` with the master key; says where a new master key was made.
pub(crate) async fn open_ledger(cli: &Cli, store: Arc<AnyStore>) -> Result<Ledger<AnyStore>> {
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

/// Where the read model's checkpoint lives.
pub(crate) fn checkpoint_path(cli: &Cli) -> PathBuf {
    cli.data.join("read-model.ckpt")
}

pub(crate) fn write_event_schemas(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for (file, json) in taizhang_api::event_schemas() {
        std::fs::write(dir.join(&file), json).with_context(|| format!("writing {file}"))?;
    }
    Ok(())
}

pub(crate) fn policies(cli: &Cli) -> Result<()> {
    let set = PolicySet::load(cli.policy_dir.as_deref())?;
    for p in set.iter() {
        println!("{p}");
    }
    Ok(())
}
