//! `import` of a CSV file on the data directory, and how an import reports what it
//! found and did (shared with the import through a server).

use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use taizhang_io::import::{Amendment, Encoding};
use taizhang_io::{Kind, Located};
use taizhang_store::AnyStore;

use crate::cli::*;
use crate::cmd::*;
use crate::progress::Progress;

/// How an import reads changed rows of records already in the log: not at all (a
/// problem each), or as corrections with their reason, shown, and written when
/// confirmed.
pub(crate) struct Amending {
    pub(crate) reason: Option<taizhang_core::Text>,
    pub(crate) confirmed: bool,
}

impl Amending {
    pub(crate) fn of(reason: Option<&str>, confirmed: bool) -> Result<Self> {
        let reason = reason.map(|r| taizhang_core::Text::parse("--amend", r)).transpose()?;
        Ok(Amending { reason, confirmed })
    }

    /// After the problems of file `name` were shown: refuses it when it has any (unless
    /// they are skipped), shows the corrections found, and is true when nothing is to
    /// be written because they were not confirmed.
    pub(crate) fn stops(
        &self,
        name: &str,
        problems: usize,
        skip_invalid: bool,
        amendments: &[Amendment],
    ) -> Result<bool> {
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

pub(crate) async fn import(
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
pub(crate) struct ImportSummary {
    pub(crate) rows: usize,
    pub(crate) written: usize,
    pub(crate) corrections: usize,
    pub(crate) already: usize,
    pub(crate) left_out: usize,
}

impl ImportSummary {
    pub(crate) fn describe(&self, kind: Kind) -> String {
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
