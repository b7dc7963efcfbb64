//! Exports for spreadsheets from the data directory: records, reports, a unit's
//! ledger, the award list.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use taizhang_read::policy::PolicySet;
use taizhang_read::report::Scope;
use taizhang_read::{AsOf, Projector};
use taizhang_store::{private, AnyStore};

use crate::cli::*;
use crate::cmd::*;

/// What `export` writes for spreadsheets.
pub(crate) struct Sheet<'a> {
    pub(crate) what: Exported,
    pub(crate) format: SheetFormat,
    pub(crate) from: Option<time::Date>,
    pub(crate) to: Option<time::Date>,
    pub(crate) unit: Option<&'a UnitArg>,
    pub(crate) region: &'a Option<String>,
    pub(crate) by: &'a str,
    pub(crate) policy: Option<&'a str>,
    pub(crate) round: Option<taizhang_core::RoundId>,
}

/// The period (from the first of this month to today unless given) and the scope of a
/// report or an award list, the scope checked against the log.
pub(crate) fn period_and_scope(
    sheet: &Sheet<'_>,
    projector: &Projector<AnyStore>,
) -> Result<(taizhang_core::Period, Scope)> {
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

/// Refuses a unit the log does not know, named as the user wrote it.
pub(crate) fn check_unit(projector: &Projector<AnyStore>, unit: &UnitArg) -> Result<()> {
    if !projector.read(|m| m.unit(unit.id, m.position).is_some()) {
        bail!("there is no unit {} (give its code or its id)", unit.written);
    }
    Ok(())
}

/// Refuses a unit, region or industry the log does not know, instead of an empty report.
pub(crate) fn check_scope(projector: &Projector<AnyStore>, scope: &Scope) -> Result<()> {
    // A unit is checked as the user named it (`check_unit`).
    if matches!(scope, Scope::Region(_) | Scope::Industry(_)) {
        if let Some(problem) = projector.read(|m| taizhang_io::export::scope_problem(m, scope)) {
            bail!("{problem}");
        }
    }
    Ok(())
}

pub(crate) async fn export_sheet(
    cli: &Cli,
    store: Arc<AnyStore>,
    sheet: Sheet<'_>,
    output: Option<&Path>,
) -> Result<()> {
    use taizhang_io::export::{self as x, ReportScope};
    let projector = Projector::open(store.clone(), Some(checkpoint_path(cli))).await?;
    let bytes = match (sheet.what, sheet.format) {
        (Exported::Log, _) => unreachable!("the log is exported as JSON Lines"),
        (Exported::Commitments, SheetFormat::Xlsx) if sheet.unit.is_some() => {
            let unit = sheet.unit.expect("given");
            check_unit(&projector, unit)?;
            projector.read(|m| x::public_list_xlsx(m, unit.id))?
        }
        (
            Exported::Units
            | Exported::Members
            | Exported::Outings
            | Exported::Verifications
            | Exported::Commitments
            | Exported::Ballots,
            SheetFormat::Xlsx,
        ) => {
            bail!(RECORDS_AS_CSV)
        }
        (Exported::Round, format) => {
            let by = (format == SheetFormat::Csv).then_some(sheet.by);
            let Some(round) = projector.read(|m| x::round_or_latest(m, sheet.round)) else {
                match sheet.round {
                    Some(round) => bail!("there is no look-back round {round}"),
                    None => bail!("no look-back round has been opened yet"),
                }
            };
            projector.read(|m| x::round_report_file(m, round, by))?.with_context(|| {
                format!("--by must be unit, region or industry for a round's report, not {:?}", sheet.by)
            })?
        }
        (
            Exported::Units
            | Exported::Members
            | Exported::Outings
            | Exported::Verifications
            | Exported::Commitments
            | Exported::Ballots,
            SheetFormat::Csv,
        ) => {
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
