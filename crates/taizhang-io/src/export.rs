//! Exports for spreadsheets: the records (units, members, outings) in the import's own
//! CSV layouts, so an export can be imported again; reports and ledgers as CSV or as an
//! XLSX workbook (headers in Chinese and English, numbers as numbers, hours with two
//! decimals).

use std::collections::BTreeMap;
use std::io::Write;

use rust_xlsxwriter::{ExcelDateTime, Format, Workbook, Worksheet, XlsxError};
use taizhang_app::Ledger;
use taizhang_core::*;
use taizhang_read::eligibility::Candidate;
use taizhang_read::ledger::{self, LedgerEntry, PageRequest};
use taizhang_read::report::{self, Bucket, GroupBy, ReportQuery, ReportRow, Scope};
use taizhang_read::{AsOf, Projector, ReadModel};
use taizhang_store::{EventStore, Position};

use crate::Kind;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("writing: {0}")]
    Io(#[from] std::io::Error),
    #[error("writing CSV: {0}")]
    Csv(#[from] csv::Error),
    #[error("writing XLSX: {0}")]
    Xlsx(#[from] XlsxError),
    #[error("unit {0} does not exist")]
    UnknownUnit(UnitId),
    #[error(transparent)]
    TooLarge(#[from] report::ReportTooLarge),
}

/// Hours of `minutes` as a number with two decimals (rounded as the ledgers print them).
pub fn hours(minutes: u64) -> f64 {
    ((minutes * 100 + 30) / 60) as f64 / 100.0
}

/// An export's period: from `from` (the first of this month unless given) to `to`
/// (today unless given), in UTC.
pub fn period_or_this_month(from: Option<time::Date>, to: Option<time::Date>) -> Result<Period, DomainError> {
    let today = time::OffsetDateTime::now_utc().date();
    Period::new(from.unwrap_or_else(|| today.replace_day(1).expect("day 1 exists")), to.unwrap_or(today))
}

/// Records listed per hold of the model's lock: a long export leaves the projection
/// room to apply new events between slices.
const RECORDS_PER_SLICE: usize = 2_000;

/// The records of `kind` as a CSV file in the import's own layout (headers in Chinese
/// and English), as of `as_of`'s position (now: the head when the export started), each record named by its
/// code when it has one (else its id) and listed in that order. Members are listed
/// where `may_read` allows reading their personal data, which is opened with their keys;
/// erased members, whose data cannot be read, and voided outings are left out;
/// verifications are the outings awaiting one, as the reviewer's worksheet.
pub async fn records_file<S: EventStore>(
    ledger: &taizhang_app::Ledger<S>,
    projector: &Projector<S>,
    kind: Kind,
    as_of: &AsOf,
    may_read: impl Fn(&ReadModel, MemberId) -> bool,
) -> Result<Vec<u8>, NamedExportError> {
    let header: Vec<String> = kind.layout().columns.iter().map(|c| c.bilingual()).collect();
    let at = projector.read(|m| as_of.position(m));
    let mut listed = Listed::default();
    while projector.read(|m| list_records(kind, m, at, &may_read, &mut listed)) {
        tokio::task::yield_now().await;
    }
    let Listed { mut rows, sealed, .. } = listed;
    if !sealed.is_empty() {
        let records: Vec<(MemberId, u64)> = sealed.iter().map(|(_, record)| *record).collect();
        let personal = ledger.personal_of(records).await?;
        for (row, (member, _)) in sealed {
            match personal.get(&member) {
                Some(p) => rows[row].extend([
                    p.name.to_string(),
                    p.national_id.clone().unwrap_or_default(),
                    p.phone.clone().unwrap_or_default(),
                    p.birth_date.map(|d| d.to_string()).unwrap_or_default(),
                ]),
                // Erased: nothing of them can be listed.
                None => rows[row].clear(),
            }
        }
        rows.retain(|row| !row.is_empty());
    }
    // By code (or id), as text: a clerk's own list reads in its order. The sort is
    // stable, so an outing's rows stay together and in order.
    rows.sort_by(|a, b| a[0].cmp(&b[0]));
    let mut bytes = Vec::new();
    write_csv(&mut bytes, &header, &rows)?;
    Ok(bytes)
}

/// Records listed so far: their rows, for members the row each member's sealed personal
/// data completes once opened, and where the next slice starts.
#[derive(Default)]
struct Listed {
    rows: Vec<Vec<String>>,
    sealed: Vec<(usize, (MemberId, u64))>,
    /// The last unit or member id listed: the next slice starts after it. A key, not a
    /// count, because records registered meanwhile (past `at`, left out) may take any
    /// place in the map and would shift a count.
    after: Option<uuid::Uuid>,
    /// The next outing number: outings are numbered in registration order, so new ones
    /// come after every number already listed.
    next_outing: usize,
}

/// Lists the next slice of the records of `kind` as of `at` into `listed`; false once
/// every record is listed.
fn list_records(
    kind: Kind,
    model: &ReadModel,
    at: Position,
    may_read: &impl Fn(&ReadModel, MemberId) -> bool,
    listed: &mut Listed,
) -> bool {
    use std::ops::Bound::{Excluded, Unbounded};
    let from = |after: Option<uuid::Uuid>| after.map_or(Unbounded, Excluded);
    let rows = &mut listed.rows;
    let numbers = listed.next_outing..(listed.next_outing + RECORDS_PER_SLICE).min(model.outings.len());
    let outings = numbers.clone().filter_map(|n| model.outing_by_number(n as u32, at)).filter(|v| !v.voided);
    match kind {
        Kind::Units => {
            let slice: Vec<UnitId> = model
                .units
                .range((from(listed.after).map(UnitId), Unbounded))
                .take(RECORDS_PER_SLICE)
                .map(|(unit, _)| *unit)
                .collect();
            listed.after = slice.last().map(|u| u.0);
            for unit in &slice {
                let Some(u) = model.unit(*unit, at) else { continue };
                let parent = u.parent.map(|p| model.reference(p.0)).unwrap_or_default();
                rows.push(vec![
                    model.reference(unit.0),
                    u.name.to_string(),
                    u.industry.to_string(),
                    u.region.to_string(),
                    parent,
                ]);
            }
            slice.len() == RECORDS_PER_SLICE
        }
        Kind::Members => {
            let slice: Vec<(&MemberId, _)> =
                model.members.range((from(listed.after).map(MemberId), Unbounded)).take(RECORDS_PER_SLICE).collect();
            listed.after = slice.last().map(|(member, _)| member.0);
            for &(member, history) in &slice {
                let mut known = history.memberships.iter().filter(|m| m.position <= at);
                let Some(first) = known.next() else { continue };
                let last = known.next_back().unwrap_or(first);
                if !may_read(model, *member) {
                    continue;
                }
                let Some(record) = model.personal_records([*member], at).pop() else { continue };
                listed.sealed.push((rows.len(), record));
                rows.push(vec![model.reference(member.0), model.reference(last.unit.0), first.since.to_string()]);
            }
            slice.len() == RECORDS_PER_SLICE
        }
        Kind::Outings => {
            for view in outings {
                let d = view.details();
                for p in view.participants() {
                    rows.push(vec![
                        model.reference(view.id.0),
                        model.reference(view.unit.0),
                        d.date.to_string(),
                        d.span.start.to_string(),
                        d.span.end.to_string(),
                        d.place.to_string(),
                        d.category.to_string(),
                        d.description.as_ref().map(ToString::to_string).unwrap_or_default(),
                        d.beneficiaries.to_string(),
                        model.reference(p.member.0),
                        hours_text(p.minutes.get() as u64),
                    ]);
                }
            }
            listed.next_outing = numbers.end;
            numbers.end < model.outings.len()
        }
        Kind::Verifications => {
            for view in outings.filter(|v| !v.verified) {
                let d = view.details();
                rows.push(vec![
                    model.reference(view.id.0),
                    view.version().to_string(),
                    String::new(),
                    model.unit(view.unit, at).map_or_else(|| view.unit.to_string(), |u| u.name.to_string()),
                    d.date.to_string(),
                    d.place.to_string(),
                    d.category.to_string(),
                    view.participants().len().to_string(),
                    hours_text(view.total_minutes()),
                ]);
            }
            listed.next_outing = numbers.end;
            numbers.end < model.outings.len()
        }
        Kind::Commitments => {
            // Those standing (not withdrawn), as the unit's list shows them.
            let slice: Vec<(&CommitmentId, _)> = model
                .commitments
                .range((from(listed.after).map(CommitmentId), Unbounded))
                .take(RECORDS_PER_SLICE)
                .collect();
            listed.after = slice.last().map(|(commitment, _)| commitment.0);
            for &(commitment, history) in &slice {
                let Some(version) = history.at(at).filter(|v| v.withdrawn.is_none()) else { continue };
                let c = &version.content;
                let renews: Vec<String> = history.renews.iter().map(|r| model.reference(r.0)).collect();
                rows.push(vec![
                    model.reference(commitment.0),
                    model.reference(history.unit.0),
                    history.member.map(|m| model.reference(m.0)).unwrap_or_default(),
                    c.category.to_string(),
                    c.text.to_string(),
                    c.target.as_ref().map(ToString::to_string).unwrap_or_default(),
                    c.from.to_string(),
                    c.until.to_string(),
                    crate::yes_no(c.public).to_owned(),
                    renews.join(";"),
                ]);
            }
            slice.len() == RECORDS_PER_SLICE
        }
        Kind::Ballots => {
            let slice: Vec<(&BallotId, _)> =
                model.ballots.range((from(listed.after).map(BallotId), Unbounded)).take(RECORDS_PER_SLICE).collect();
            listed.after = slice.last().map(|(ballot, _)| ballot.0);
            for &(ballot, b) in slice.iter().filter(|(_, b)| b.position <= at) {
                let (unit, member) = match b.rated {
                    Rated::Unit(u) => (model.reference(u.0), String::new()),
                    Rated::Member(m) => (String::new(), model.reference(m.0)),
                };
                let voter = crate::VOTERS.iter().find(|(v, ..)| *v == b.voter).map_or("", |(_, chinese, _)| chinese);
                let rating = crate::RATINGS.iter().find(|(r, ..)| *r == b.rating).map_or("", |(_, chinese, _)| chinese);
                let scores: Vec<String> =
                    b.scores.iter().map(|s| format!("{}:{}", s.criterion, s.score.get())).collect();
                rows.push(vec![
                    ballot.to_string(),
                    b.evaluation.to_string(),
                    unit,
                    member,
                    voter.to_owned(),
                    rating.to_owned(),
                    scores.join(";"),
                    b.comment.as_ref().map(ToString::to_string).unwrap_or_default(),
                ]);
            }
            slice.len() == RECORDS_PER_SLICE
        }
    }
}

/// Writes `header` and `rows` as CSV (UTF-8, with a BOM so that spreadsheets on Chinese
/// Windows read it as UTF-8), every cell a spreadsheet would run as a formula
/// neutralised.
pub fn write_csv<S: AsRef<str>>(out: impl Write, header: &[S], rows: &[Vec<String>]) -> Result<(), ExportError> {
    let mut out = out;
    out.write_all(b"\xEF\xBB\xBF")?;
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(header.iter().map(AsRef::as_ref))?;
    for row in rows {
        writer.write_record(row.iter().map(|cell| crate::neutralise(cell).into_owned()))?;
    }
    writer.flush()?;
    Ok(())
}

/// What the reports cover.
#[derive(Clone)]
pub struct ReportScope {
    pub period: Period,
    pub scope: Scope,
    pub as_of: AsOf,
}

/// One report sheet: a name (Chinese and English), its grouping and buckets.
pub struct ReportSheet {
    pub name: &'static str,
    pub group_by: GroupBy,
    pub bucket: Bucket,
}

/// The workbook's sheets: the period by unit, by region and by industry, and the
/// weekly summary per unit (一周一小结).
pub const REPORT_SHEETS: [ReportSheet; 4] = [
    ReportSheet { name: "按单位 by unit", group_by: GroupBy::Unit, bucket: Bucket::Period },
    ReportSheet { name: "按区域 by region", group_by: GroupBy::Region, bucket: Bucket::Period },
    ReportSheet { name: "按行业 by industry", group_by: GroupBy::Industry, bucket: Bucket::Period },
    ReportSheet { name: "每周 weekly", group_by: GroupBy::Unit, bucket: Bucket::Week },
];

/// A report's columns, headed in Chinese and English.
pub const REPORT_HEADER: [&str; 11] = [
    "分组 group",
    "名称 label",
    "起 first",
    "止 last",
    "活动次数 outings",
    "参与人数 volunteers",
    "登记时长 recorded hours",
    "核实时长 verified hours",
    "党员人数 members",
    "参与率% participation %",
    "人均时长 hours per member",
];

/// The columns a report grouped by unit adds after the label: where the unit is.
const UNIT_PLACE_HEADER: [&str; 2] = ["区域 region", "行业 industry"];

/// A report's header for `group_by`: [`REPORT_HEADER`], and for a report by unit the
/// unit's region and industry after its name, so that a spreadsheet can filter and
/// subtotal by them.
pub fn report_header(group_by: GroupBy) -> Vec<&'static str> {
    let mut header = REPORT_HEADER.to_vec();
    if group_by == GroupBy::Unit {
        header.splice(2..2, UNIT_PLACE_HEADER);
    }
    header
}

/// The label of the totals row.
pub const TOTAL: &str = "合计 total";

/// Why `scope` would give an empty report: a unit, region or industry no unit of the
/// log has now (the message names those it has).
pub fn scope_problem(model: &ReadModel, scope: &Scope) -> Option<String> {
    let (what, wanted, field): (_, _, fn(&taizhang_read::model::UnitVersion) -> String) = match scope {
        Scope::All => return None,
        Scope::Unit(unit) => {
            return model
                .unit(*unit, model.position)
                .is_none()
                .then(|| format!("there is no unit {}", model.reference(unit.0)))
        }
        Scope::Region(region) => ("region", region, |u| u.region.to_string()),
        Scope::Industry(industry) => ("industry", industry, |u| u.industry.to_string()),
    };
    let known: std::collections::BTreeSet<String> =
        model.units.keys().filter_map(|u| model.unit(*u, model.position)).map(field).collect();
    (!known.contains(wanted)).then(|| {
        let known = known.into_iter().collect::<Vec<_>>().join(", ");
        format!("no unit is in the {what} {wanted:?}; those the log knows: {known}")
    })
}

/// The sheet `--by` names: unit, region, industry or weekly.
pub fn report_sheet_named(by: &str) -> Option<&'static ReportSheet> {
    ["unit", "region", "industry", "weekly"].iter().position(|name| *name == by).map(|i| &REPORT_SHEETS[i])
}

/// A sheet's rows; refused, like any report, above the size limits. Computed a slice of
/// cells at a time, each under the model's lock: the projector's writes, and the reads
/// behind them, wait for one slice (the same slices as the API's reports).
pub fn report_rows<S: EventStore>(
    projector: &Projector<S>,
    scope: &ReportScope,
    sheet: &ReportSheet,
) -> Result<Vec<ReportRow>, ExportError> {
    let query = ReportQuery {
        period: scope.period,
        scope: scope.scope.clone(),
        group_by: sheet.group_by,
        bucket: sheet.bucket,
        as_of: scope.as_of,
    };
    let mut builder =
        projector.read(|m| report::check_size(m, &query).map(|()| report::ReportBuilder::new(m, &query)))?;
    while projector.read(|m| builder.add(m, report::CELLS_PER_SLICE)) {}
    Ok(builder.finish().rows)
}

/// The reports as a file, as of one position: with `sheet`, that one as CSV (under
/// [`report_header`]); without, every sheet in the XLSX workbook ([`reports_xlsx`]).
pub fn report_file<S: EventStore>(
    projector: &Projector<S>,
    scope: &ReportScope,
    sheet: Option<&ReportSheet>,
) -> Result<Vec<u8>, ExportError> {
    let scope = ReportScope { as_of: projector.read(|m| scope.as_of.pinned(m)), ..scope.clone() };
    let Some(sheet) = sheet else { return reports_xlsx(projector, &scope) };
    let rows = report_rows(projector, &scope, sheet)?;
    let rows = projector.read(|m| report_csv_rows(m, &scope, sheet.group_by, &rows));
    let mut bytes = Vec::new();
    write_csv(&mut bytes, &report_header(sheet.group_by), &rows)?;
    Ok(bytes)
}

/// A cell of a report row: text, a date, or a number with its decimals.
enum Cell {
    Text(String),
    Date(time::Date),
    Count(u64),
    Hours(f64),
    Percent(Option<f64>),
}

/// A row's cells under [`report_header`]`(group_by)`: by unit, the unit's region and
/// industry as known at the report's position (empty on a totals row).
fn report_cells(model: &ReadModel, scope: &ReportScope, group_by: GroupBy, row: &ReportRow) -> Vec<Cell> {
    let unit_id = (group_by == GroupBy::Unit).then(|| uuid::Uuid::try_parse(&row.group).ok()).flatten();
    // A unit is named by its code when it has one.
    let group = unit_id.map_or_else(|| row.group.clone(), |u| model.reference(u));
    let mut cells = vec![Cell::Text(group), Cell::Text(row.label.clone())];
    if group_by == GroupBy::Unit {
        let unit = unit_id.and_then(|u| model.unit(UnitId(u), scope.as_of.position(model)));
        cells.push(Cell::Text(unit.map(|u| u.region.to_string()).unwrap_or_default()));
        cells.push(Cell::Text(unit.map(|u| u.industry.to_string()).unwrap_or_default()));
    }
    cells.extend([
        Cell::Date(row.first),
        Cell::Date(row.last),
        Cell::Count(row.outings),
        Cell::Count(row.volunteers),
        Cell::Hours(hours(row.recorded_minutes)),
        Cell::Hours(hours(row.verified_minutes)),
        Cell::Count(row.members),
        Cell::Percent(row.participation_rate_percent()),
        Cell::Percent(row.hours_per_member()),
    ]);
    cells
}

fn cell_text(cell: &Cell) -> String {
    match cell {
        Cell::Text(t) => t.clone(),
        Cell::Date(d) => d.to_string(),
        Cell::Count(n) => n.to_string(),
        Cell::Hours(h) | Cell::Percent(Some(h)) => format!("{h:.2}"),
        Cell::Percent(None) => String::new(),
    }
}

/// The header row, frozen so that it stays in view while the rows scroll.
fn write_header(sheet: &mut Worksheet, titles: &[&str], bold: &Format) -> Result<(), XlsxError> {
    for (c, title) in titles.iter().enumerate() {
        sheet.write_string_with_format(0, c as u16, *title, bold)?;
    }
    sheet.set_freeze_panes(1, 0)?;
    Ok(())
}

/// The formats of a workbook's cells.
struct Formats {
    two_decimals: Format,
    date: Format,
}

impl Formats {
    fn new() -> Self {
        Self { two_decimals: Format::new().set_num_format("0.00"), date: Format::new().set_num_format("yyyy-mm-dd") }
    }
}

/// Writes a row of cells: numbers as numbers, dates as dates, hours and rates with two
/// decimals.
fn write_cells(sheet: &mut Worksheet, row: u32, cells: &[Cell], formats: &Formats) -> Result<(), XlsxError> {
    let two_decimals = &formats.two_decimals;
    for (c, cell) in cells.iter().enumerate() {
        let c = c as u16;
        match cell {
            Cell::Text(t) => sheet.write_string(row, c, t).map(|_| ())?,
            Cell::Date(d) => {
                let day = ExcelDateTime::from_ymd(d.year() as u16, d.month() as u8, d.day())?;
                sheet.write_datetime_with_format(row, c, &day, &formats.date).map(|_| ())?
            }
            Cell::Count(n) => sheet.write_number(row, c, *n as f64).map(|_| ())?,
            Cell::Hours(h) | Cell::Percent(Some(h)) => {
                sheet.write_number_with_format(row, c, *h, two_decimals).map(|_| ())?
            }
            Cell::Percent(None) => {}
        }
    }
    Ok(())
}

/// A report's rows for a sheet grouped by `group_by` as CSV rows, under
/// [`report_header`]`(group_by)`.
pub fn report_csv_rows(
    model: &ReadModel,
    scope: &ReportScope,
    group_by: GroupBy,
    rows: &[ReportRow],
) -> Vec<Vec<String>> {
    rows.iter().map(|r| report_cells(model, scope, group_by, r).iter().map(cell_text).collect()).collect()
}

/// The reports as one workbook, a sheet per [`REPORT_SHEETS`] entry, each ending with a
/// totals row. On a sheet of the whole period the totals are the report of the whole
/// scope (every column, volunteers counted once however many groups they served in);
/// on the weekly sheet, where a person counts in every week they served, the outings
/// and hours are summed and the people left out.
pub fn reports_xlsx<S: EventStore>(projector: &Projector<S>, scope: &ReportScope) -> Result<Vec<u8>, ExportError> {
    let mut workbook = Workbook::new();
    let bold = Format::new().set_bold();
    let formats = Formats::new();
    let cells_of = |group_by, rows: &[ReportRow]| -> Vec<Vec<Cell>> {
        projector.read(|m| rows.iter().map(|row| report_cells(m, scope, group_by, row)).collect())
    };
    for sheet in &REPORT_SHEETS {
        let rows = report_rows(projector, scope, sheet)?;
        let worksheet = workbook.add_worksheet();
        worksheet.set_name(sheet.name)?;
        let header = report_header(sheet.group_by);
        write_header(worksheet, &header, &bold)?;
        for (r, cells) in cells_of(sheet.group_by, &rows).iter().enumerate() {
            write_cells(worksheet, r as u32 + 1, cells, &formats)?;
        }
        let total = rows.len() as u32 + 1;
        if sheet.bucket == Bucket::Period {
            let whole = ReportSheet { name: TOTAL, group_by: GroupBy::Total, bucket: Bucket::Period };
            let whole = report_rows(projector, scope, &whole)?;
            if let Some(cells) = cells_of(sheet.group_by, &whole).first() {
                write_cells(worksheet, total, cells, &formats)?;
            }
        } else {
            let (outings, recorded, verified) = rows.iter().fold((0, 0, 0), |(o, r, v), row| {
                (o + row.outings, r + row.recorded_minutes, v + row.verified_minutes)
            });
            let column = |title: &str| header.iter().position(|h| *h == title).expect("a report column") as u16;
            worksheet.write_number(total, column(REPORT_HEADER[4]), outings as f64)?;
            let (recorded_at, verified_at) = (column(REPORT_HEADER[6]), column(REPORT_HEADER[7]));
            worksheet.write_number_with_format(total, recorded_at, hours(recorded), &formats.two_decimals)?;
            worksheet.write_number_with_format(total, verified_at, hours(verified), &formats.two_decimals)?;
        }
        worksheet.write_string_with_format(total, 0, TOTAL, &bold)?;
        worksheet.write_string(total, 1, "")?;
        worksheet.autofit();
    }
    Ok(workbook.save_to_buffer()?)
}

/// A unit ledger's columns.
pub const LEDGER_HEADER: [&str; 12] = [
    "活动编号 outing",
    "日期 date",
    "开始 start",
    "结束 end",
    "地点 place",
    "类别 category",
    "参与人数 participants",
    "参与者 who (hours)",
    "时长 hours",
    "已核实 verified",
    "已作废 voided",
    "累计登记时长 running recorded hours",
];

/// A ledger entry's cells; `names` gives the participants' names (an erased member, or
/// one not given, shows as their id).
fn ledger_cells(entry: &LedgerEntry, names: &BTreeMap<MemberId, String>) -> Vec<Cell> {
    let d = &entry.details;
    let who: Vec<String> = entry
        .participants
        .iter()
        .map(|p| {
            let name = names.get(&p.member).cloned().unwrap_or_else(|| p.member.to_string());
            format!("{name} {:.2}", hours(u64::from(p.minutes.get())))
        })
        .collect();
    let yes_no = |b: bool| Cell::Text(if b { "是 yes" } else { "否 no" }.into());
    vec![
        Cell::Text(entry.code.as_ref().map_or_else(|| entry.outing.to_string(), ToString::to_string)),
        Cell::Date(d.date),
        Cell::Text(d.span.start.to_string()),
        Cell::Text(d.span.end.to_string()),
        Cell::Text(d.place.to_string()),
        Cell::Text(d.category.to_string()),
        Cell::Count(entry.participants.len() as u64),
        Cell::Text(who.join("、")),
        Cell::Hours(hours(entry.minutes)),
        yes_no(entry.verified),
        yes_no(entry.voided),
        Cell::Hours(hours(entry.running_recorded_minutes)),
    ]
}

/// Every entry of a unit's ledger, as of `as_of`.
pub fn unit_ledger(model: &ReadModel, unit: UnitId, as_of: &AsOf) -> Result<Vec<LedgerEntry>, ExportError> {
    let all = PageRequest { offset: 0, limit: usize::MAX };
    ledger::unit_ledger(model, unit, as_of, all).map(|p| p.entries).ok_or(ExportError::UnknownUnit(unit))
}

/// A unit's ledger as a file, CSV or (with `xlsx`) a workbook, as of now: each outing
/// with who served and their hours, a participant by name where `may_name` allows
/// (their personal data opened with the keys), else, and once erased, by code.
pub async fn ledger_file<S: EventStore>(
    ledger: &taizhang_app::Ledger<S>,
    projector: &Projector<S>,
    unit: UnitId,
    xlsx: bool,
    may_name: impl Fn(&ReadModel, MemberId) -> bool,
) -> Result<Vec<u8>, NamedExportError> {
    let (entries, unit_name, records, mut names) = projector.read(|m| {
        let unit_name = m.unit(unit, m.position).map(|u| u.name.to_string()).unwrap_or_default();
        let entries = unit_ledger(m, unit, &AsOf::now())?;
        let members: std::collections::BTreeSet<MemberId> =
            entries.iter().flat_map(|e| e.participants.iter().map(|p| p.member)).collect();
        let references: BTreeMap<MemberId, String> = members.iter().map(|p| (*p, m.reference(p.0))).collect();
        let named = members.into_iter().filter(|p| may_name(m, *p));
        Ok::<_, ExportError>((entries, unit_name, m.personal_records(named, m.position), references))
    })?;
    names.extend(ledger.personal_of(records).await?.into_iter().map(|(m, p)| (m, p.name.to_string())));
    if xlsx {
        return Ok(ledger_xlsx(&entries, &unit_name, &names)?);
    }
    let mut bytes = Vec::new();
    write_csv(&mut bytes, &LEDGER_HEADER, &ledger_csv_rows(&entries, &names))?;
    Ok(bytes)
}

pub fn ledger_csv_rows(entries: &[LedgerEntry], names: &BTreeMap<MemberId, String>) -> Vec<Vec<String>> {
    entries.iter().map(|e| ledger_cells(e, names).iter().map(cell_text).collect()).collect()
}

/// A unit's ledger as a one-sheet workbook.
pub fn ledger_xlsx(
    entries: &[LedgerEntry],
    unit_name: &str,
    names: &BTreeMap<MemberId, String>,
) -> Result<Vec<u8>, ExportError> {
    let mut workbook = Workbook::new();
    let bold = Format::new().set_bold();
    let formats = Formats::new();
    let worksheet = workbook.add_worksheet();
    worksheet.set_name(sheet_name(&format!("台账 {unit_name}")))?;
    write_header(worksheet, &LEDGER_HEADER, &bold)?;
    for (r, entry) in entries.iter().enumerate() {
        write_cells(worksheet, r as u32 + 1, &ledger_cells(entry, names), &formats)?;
    }
    worksheet.autofit();
    Ok(workbook.save_to_buffer()?)
}

/// The award list as rows: one per member of the scope (see
/// [`taizhang_read::eligibility::award_list`]), with their unit, their name from `names`
/// (empty when erased), the highest level met (its label when the policy gives one),
/// and the actual value of each of the policy's criteria, one column per metric and
/// window, as the policy's first level to use it states it.
pub fn award_list_rows(
    list: &[taizhang_read::eligibility::Eligibility],
    policy: &taizhang_read::policy::Policy,
    model: &ReadModel,
    names: &BTreeMap<MemberId, String>,
) -> (Vec<String>, Vec<Vec<String>>) {
    // Each column's value comes from the first (level, criterion) to state it.
    let (mut criteria, mut sources): (Vec<String>, Vec<(usize, usize)>) = (Vec::new(), Vec::new());
    for (l, level) in policy.levels.iter().enumerate() {
        for (c, criterion) in level.criteria.iter().enumerate() {
            let column = format!("{} ({})", criterion.metric.name(), criterion.window);
            if !criteria.contains(&column) {
                criteria.push(column);
                sources.push((l, c));
            }
        }
    }
    let mut header: Vec<String> =
        ["单位 unit", "单位名称 unit name", "区域 region", "党员 member", "姓名 name", "等级 level"]
            .map(str::to_owned)
            .to_vec();
    header.extend(criteria.iter().cloned());
    let rows = list
        .iter()
        .map(|e| {
            let taizhang_read::eligibility::Candidate::Member(member) = e.candidate else {
                unreachable!("an award list is of members")
            };
            let unit = model.members.get(&member).and_then(|h| h.unit_on(e.period.last, e.as_of_position));
            let unit_version = unit.and_then(|u| model.unit(u, e.as_of_position));
            let level =
                e.levels.iter().rev().find(|l| l.met).map(|l| l.label.clone().unwrap_or_else(|| l.name.clone()));
            let mut row = vec![
                unit.map(|u| model.reference(u.0)).unwrap_or_default(),
                unit_version.map(|u| u.name.to_string()).unwrap_or_default(),
                unit_version.map(|u| u.region.to_string()).unwrap_or_default(),
                model.reference(member.0),
                names.get(&member).cloned().unwrap_or_default(),
                level.unwrap_or_default(),
            ];
            row.extend(sources.iter().map(|&(level, criterion)| e.levels[level].criteria[criterion].actual.clone()));
            row
        })
        .collect();
    (header, rows)
}

/// Why an export that names people (a ledger, an award list) could not be written.
#[derive(Debug, thiserror::Error)]
pub enum NamedExportError {
    #[error(transparent)]
    App(#[from] taizhang_app::AppError),
    #[error(transparent)]
    Eligibility(#[from] taizhang_read::eligibility::EligibilityError),
    #[error(transparent)]
    Export(#[from] ExportError),
    #[error("opening personal data: {0}")]
    Task(String),
}

/// The award list of `scope` under `policy` over `period`, now, as CSV: a row per
/// member ([`award_list_rows`]). Names, and birth dates for a policy that reads ages,
/// are sealed: they are opened with the ledger's keys first, a name kept only where
/// `may_name` allows (the others are named by code alone). Both the opening and the
/// eligibility of the members run on every core, a share of the members each, as of
/// the position the list started at.
pub async fn award_list_csv<S: taizhang_store::EventStore + 'static>(
    ledger: &std::sync::Arc<taizhang_app::Ledger<S>>,
    projector: &std::sync::Arc<taizhang_read::Projector<S>>,
    policy: &taizhang_read::policy::Policy,
    scope: &Scope,
    period: Period,
    may_name: impl Fn(&ReadModel, MemberId) -> bool,
) -> Result<Vec<u8>, NamedExportError> {
    use taizhang_read::eligibility::{award_list_in_slices, award_members, AwardFilter};
    let (as_of, members, records, nameable) = projector.read(|m| {
        let as_of = AsOf::now().pinned(m);
        let members = award_members(m, scope, period, &as_of);
        let nameable: std::collections::HashSet<MemberId> =
            members.iter().copied().filter(|p| may_name(m, *p)).collect();
        // Birth dates are opened for everyone when the policy reads ages, else nothing
        // is opened that will not be shown.
        let opened = members.iter().copied().filter(|p| policy.uses_personal_data() || nameable.contains(p));
        let records = m.personal_records(opened, as_of.position(m));
        (as_of, members, records, nameable)
    });
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let shares: Vec<Vec<MemberId>> = members.chunks(members.len().div_ceil(cores).max(1)).map(<[_]>::to_vec).collect();
    let task = |e: tokio::task::JoinError| NamedExportError::Task(e.to_string());

    // Two XChaCha20-Poly1305 openings and a read of one record per member.
    let share_size = records.len().div_ceil(cores).max(1);
    let opening = records.chunks(share_size).map(<[_]>::to_vec).map(|share| {
        let ledger = ledger.clone();
        tokio::spawn(async move { ledger.personal_of(share).await })
    });
    let (mut names, mut births) = (BTreeMap::new(), std::collections::HashMap::new());
    for share in opening.collect::<Vec<_>>() {
        for (member, p) in share.await.map_err(task)?? {
            if nameable.contains(&member) {
                names.insert(member, p.name.to_string());
            }
            births.insert(member, p.birth_date);
        }
    }

    let births = std::sync::Arc::new(births);
    let assessing = shares.into_iter().map(|share| {
        let (projector, policy, births) = (projector.clone(), policy.clone(), births.clone());
        tokio::task::spawn_blocking(move || {
            let facts = |m: MemberId| births.get(&m).copied().flatten();
            let everyone = AwardFilter::default();
            award_list_in_slices(&projector, &policy, &share, period, &as_of, &facts, &everyone, &|| false)
        })
    });
    let mut list = Vec::with_capacity(members.len());
    for share in assessing.collect::<Vec<_>>() {
        list.extend(share.await.map_err(task)??);
    }
    let (header, rows) = projector.read(|m| award_list_rows(&list, policy, m, &names));
    let mut bytes = Vec::new();
    write_csv(&mut bytes, &header, &rows)?;
    Ok(bytes)
}

/// The columns of a unit's public commitment list (承诺事项公示表).
pub const PUBLIC_LIST_HEADER: [&str; 9] = [
    "编号 code",
    "承诺人 by",
    "类别 category",
    "承诺内容 commitment",
    "目标 target",
    "起 from",
    "止 until",
    "回头看 assessment",
    "再承诺 renewed by",
];

/// A unit's public commitment list (承诺事项公示表) as of now: its standing public
/// items (its members' included), in the order made, each with its latest finding and
/// the items that carry it on; `None` when the unit does not exist.
pub fn public_list_xlsx(model: &ReadModel, unit: UnitId) -> Result<Vec<u8>, ExportError> {
    let position = model.position;
    let unit_name = model.unit(unit, position).ok_or(ExportError::UnknownUnit(unit))?.name.to_string();
    let finding = |f: Fulfilment| match f {
        Fulfilment::Kept => "已兑现 kept",
        Fulfilment::PartlyKept => "部分兑现 partly kept",
        Fulfilment::NotKept => "未兑现 not kept",
    };
    let mut rows = Vec::new();
    for id in model.unit_commitments(unit) {
        let Some(history) = model.commitments.get(id) else { continue };
        let Some(now) = history.at(position).filter(|v| v.withdrawn.is_none() && v.content.public) else { continue };
        let c = &now.content;
        let by = history.member.map_or_else(|| unit_name.clone(), |m| model.reference(m.0));
        let renewals: Vec<String> = history.renewed_by(position).map(|r| model.reference(r.0)).collect();
        rows.push(vec![
            Cell::Text(model.reference(id.0)),
            Cell::Text(by),
            Cell::Text(c.category.to_string()),
            Cell::Text(c.text.to_string()),
            Cell::Text(c.target.as_ref().map(ToString::to_string).unwrap_or_default()),
            Cell::Date(c.from),
            Cell::Date(c.until),
            Cell::Text(now.assessment.as_ref().map(|a| finding(a.fulfilment).to_owned()).unwrap_or_default()),
            Cell::Text(renewals.join("、")),
        ]);
    }
    one_sheet(&format!("承诺事项公示表 {unit_name}"), &PUBLIC_LIST_HEADER, &rows)
}

/// A worksheet's name: at most 31 characters, none of those Excel refuses.
fn sheet_name(name: &str) -> String {
    name.chars().take(31).collect::<String>().replace(['[', ']', ':', '*', '?', '/', '\\'], " ")
}

/// The round a report is asked of: the one named, or else the one opened last.
pub fn round_or_latest(model: &ReadModel, round: Option<RoundId>) -> Option<RoundId> {
    match round {
        Some(round) => model.rounds.contains_key(&round).then_some(round),
        None => model.rounds.iter().max_by_key(|(_, r)| r.opened_at).map(|(id, _)| *id),
    }
}

/// The columns of a look-back round's report; the first two name the group.
pub const ROUND_REPORT_HEADER: [&str; 17] = [
    "分组 group",
    "名称 name",
    "单位数 units",
    "已回头看单位 units looked back",
    "应回头看事项 items due",
    "已评估 assessed",
    "已兑现 kept",
    "部分兑现 partly kept",
    "未兑现 not kept",
    "兑现率% kept %",
    "新承诺 new items",
    "再承诺 renewals",
    "群众意见 opinions",
    "满意 satisfied",
    "基本满意 fairly satisfied",
    "不满意 dissatisfied",
    "未评价 unrated",
];

/// The groupings of a round's report, each a sheet of the workbook, by its CSV name.
pub const ROUND_REPORT_SHEETS: [(&str, &str, GroupBy); 3] = [
    ("unit", "按单位 by unit", GroupBy::Unit),
    ("region", "按区域 by region", GroupBy::Region),
    ("industry", "按行业 by industry", GroupBy::Industry),
];

fn round_row_cells(model: &ReadModel, row: &taizhang_read::look_back::RoundReportRow, group_by: GroupBy) -> Vec<Cell> {
    let t = &row.tally;
    // A unit is named by its code when it has one.
    let group = match (group_by, uuid::Uuid::try_parse(&row.group)) {
        (GroupBy::Unit, Ok(id)) => model.reference(id),
        _ => row.group.clone(),
    };
    let rated = t.satisfied + t.fairly_satisfied + t.dissatisfied;
    vec![
        Cell::Text(group),
        Cell::Text(row.label.clone()),
        Cell::Count(row.units),
        Cell::Count(row.units_looked_back),
        Cell::Count(t.due),
        Cell::Count(t.assessed),
        Cell::Count(t.kept),
        Cell::Count(t.partly_kept),
        Cell::Count(t.not_kept),
        Cell::Percent(t.kept_percent()),
        Cell::Count(t.new_items),
        Cell::Count(t.renewals),
        Cell::Count(t.opinions),
        Cell::Count(t.satisfied),
        Cell::Count(t.fairly_satisfied),
        Cell::Count(t.dissatisfied),
        Cell::Count(t.opinions - rated),
    ]
}

/// A round's report as of now: CSV of one grouping (`by`: unit, region or industry,
/// with its totals row), or a workbook with a sheet per grouping, each ending with the
/// totals, and a sheet of the units not yet looked back. `None` when the round does not
/// exist or `by` names no grouping.
pub fn round_report_file(model: &ReadModel, round: RoundId, by: Option<&str>) -> Result<Option<Vec<u8>>, ExportError> {
    let report = |group_by| taizhang_read::look_back::round_report(model, round, group_by, model.position);
    let sheet_of = |group_by| -> Option<Vec<Vec<Cell>>> {
        let report = report(group_by)?;
        let mut rows: Vec<Vec<Cell>> = report.rows.iter().map(|r| round_row_cells(model, r, group_by)).collect();
        let mut total = round_row_cells(model, &report.total, GroupBy::Total);
        total[0] = Cell::Text(TOTAL.to_owned());
        total[1] = Cell::Text(String::new());
        rows.push(total);
        Some(rows)
    };
    if let Some(by) = by {
        let Some((_, _, group_by)) = ROUND_REPORT_SHEETS.iter().find(|(name, _, _)| *name == by) else {
            return Ok(None);
        };
        let Some(rows) = sheet_of(*group_by) else { return Ok(None) };
        let mut bytes = Vec::new();
        let text: Vec<Vec<String>> = rows.iter().map(|r| r.iter().map(cell_text).collect()).collect();
        write_csv(&mut bytes, &ROUND_REPORT_HEADER, &text)?;
        return Ok(Some(bytes));
    }
    let Some(behind) = report(GroupBy::Total).map(|r| r.not_looked_back) else { return Ok(None) };
    let mut workbook = Workbook::new();
    let (bold, formats) = (Format::new().set_bold(), Formats::new());
    for (_, name, group_by) in &ROUND_REPORT_SHEETS {
        let rows = sheet_of(*group_by).expect("the round exists");
        let worksheet = workbook.add_worksheet();
        worksheet.set_name(*name)?;
        write_header(worksheet, &ROUND_REPORT_HEADER, &bold)?;
        for (r, cells) in rows.iter().enumerate() {
            write_cells(worksheet, r as u32 + 1, cells, &formats)?;
        }
        worksheet.write_string_with_format(rows.len() as u32, 0, TOTAL, &bold)?;
        worksheet.autofit();
    }
    let worksheet = workbook.add_worksheet();
    worksheet.set_name("未回头看 not looked back")?;
    write_header(worksheet, &["单位 unit", "名称 name", "区域 region", "行业 industry"], &bold)?;
    for (r, unit) in behind.iter().enumerate() {
        let Some(info) = model.unit(*unit, model.position) else { continue };
        let cells =
            [&model.reference(unit.0), &info.name.to_string(), &info.region.to_string(), &info.industry.to_string()]
                .map(|s| Cell::Text(s.clone()));
        write_cells(worksheet, r as u32 + 1, &cells, &formats)?;
    }
    worksheet.autofit();
    Ok(Some(workbook.save_to_buffer()?))
}

/// The columns of a list of certificates.
const CERTIFICATE_HEADER: [&str; 11] = [
    "证明编号 number",
    "状态 status",
    "党员 member",
    "出具单位 unit",
    "起 from",
    "止 to",
    "活动 outings",
    "时长 hours",
    "其中签到签退 credit hours",
    "出具时间 issued at",
    "撤销原因 revoked because",
];

/// The certificates of `member`, or issued by `unit` (or both; neither names none),
/// with their status at the head, as CSV or an XLSX workbook; members and units by code
/// where they have one.
pub fn certificate_list(
    model: &ReadModel,
    member: Option<MemberId>,
    unit: Option<UnitId>,
    xlsx: bool,
) -> Result<Vec<u8>, ExportError> {
    use taizhang_read::certificates::CertificateStatus;
    let ids: &[taizhang_core::CertificateId] = match (member, unit) {
        (Some(member), _) => model.member_certificates(member),
        (None, Some(unit)) => model.unit_certificates(unit),
        (None, None) => &[],
    };
    let rows: Vec<Vec<Cell>> = ids
        .iter()
        .filter_map(|id| model.certificates.get(id))
        .filter(|c| unit.is_none_or(|u| c.issued.unit == u))
        .map(|record| {
            let issued = &record.issued;
            let status = CertificateStatus::of(record, model.position).name();
            let minutes: u64 = issued.lines.iter().map(|l| l.minutes.get() as u64).sum();
            let credited = taizhang_read::certificates::credited_lines(model, issued);
            let credit: u64 =
                issued.lines.iter().zip(credited).filter(|(_, c)| *c).map(|(l, _)| l.minutes.get() as u64).sum();
            vec![
                Cell::Text(issued.number.to_string()),
                Cell::Text(status.to_owned()),
                Cell::Text(model.reference(issued.member.0)),
                Cell::Text(model.reference(issued.unit.0)),
                Cell::Date(issued.first),
                Cell::Date(issued.last),
                Cell::Count(issued.lines.len() as u64),
                Cell::Hours(hours(minutes)),
                Cell::Hours(hours(credit)),
                Cell::Text(issued.signature.created.to_string()),
                Cell::Text(record.revoked.as_ref().map(|(_, r)| r.to_string()).unwrap_or_default()),
            ]
        })
        .collect();
    if !xlsx {
        let text: Vec<Vec<String>> = rows.iter().map(|row| row.iter().map(cell_text).collect()).collect();
        let mut out = Vec::new();
        write_csv(&mut out, &CERTIFICATE_HEADER, &text)?;
        return Ok(out);
    }
    let mut workbook = Workbook::new();
    let bold = Format::new().set_bold();
    let formats = Formats::new();
    let worksheet = workbook.add_worksheet();
    worksheet.set_name("志愿服务记录证明")?;
    write_header(worksheet, &CERTIFICATE_HEADER, &bold)?;
    for (r, row) in rows.iter().enumerate() {
        write_cells(worksheet, r as u32 + 1, row, &formats)?;
    }
    worksheet.autofit();
    Ok(workbook.save_to_buffer()?)
}

/// The columns of a published star board's workbook.
pub const BOARD_HEADER: [&str; 7] =
    ["名次 rank", "编号 code", "名称 name", "所在单位 unit", "星级 stars", "得分 score", "名额所限 held by the quota"];

/// A published star board (星级榜) as a workbook: what it is (its name, half-year,
/// policy and digests, position) above, then every entry in rank order as `board` (the
/// board computed again at its position) lists them. Members are named by code: a
/// board publishes no personal data.
pub fn board_xlsx(
    model: &ReadModel,
    published: &BoardPublished,
    board: &taizhang_read::board::StarBoard,
) -> Result<Vec<u8>, ExportError> {
    let at = published.as_of;
    let unit_name = |u: UnitId| model.unit(u, at).map_or_else(|| u.to_string(), |v| v.name.to_string());
    let rows: Vec<Vec<Cell>> = board
        .entries
        .iter()
        .map(|e| {
            let (code, name, unit) = match e.eligibility.candidate {
                Candidate::Unit(u) => (model.reference(u.0), unit_name(u), String::new()),
                Candidate::Member(m) => {
                    let unit = model.member_unit(m, at).map(unit_name).unwrap_or_default();
                    (model.reference(m.0), String::new(), unit)
                }
            };
            let score = e.eligibility.score.map(|(n, d)| taizhang_read::evaluations::show_fraction(n, d));
            vec![
                Cell::Count(e.rank as u64),
                Cell::Text(code),
                Cell::Text(name),
                Cell::Text(unit),
                Cell::Count(e.stars as u64),
                Cell::Text(score.unwrap_or_default()),
                Cell::Text(if e.held_by_quota { "是".into() } else { String::new() }),
            ]
        })
        .collect();
    let mut workbook = Workbook::new();
    let (bold, formats) = (Format::new().set_bold(), Formats::new());
    let worksheet = workbook.add_worksheet();
    worksheet.set_name(sheet_name(&format!("星级榜 {}", published.half_year)))?;
    let about = [
        ("榜单 board", published.name.to_string()),
        ("半年 half-year", published.half_year.to_string()),
        ("政策 policy", format!("{} v{}", published.policy, published.policy_version)),
        ("政策摘要 policy digest", published.policy_digest.to_string()),
        ("日志位置 log position", published.as_of.to_string()),
        ("榜单摘要 board digest", published.digest.to_string()),
    ];
    for (r, (label, value)) in about.iter().enumerate() {
        worksheet.write_string_with_format(r as u32, 0, *label, &bold)?;
        worksheet.write_string(r as u32, 1, value)?;
    }
    let top = about.len() as u32 + 1;
    for (c, title) in BOARD_HEADER.iter().enumerate() {
        worksheet.write_string_with_format(top, c as u16, *title, &bold)?;
    }
    worksheet.set_freeze_panes(top + 1, 0)?;
    for (r, cells) in rows.iter().enumerate() {
        write_cells(worksheet, top + 1 + r as u32, cells, &formats)?;
    }
    worksheet.autofit();
    Ok(workbook.save_to_buffer()?)
}

/// The columns of the recognitions list.
pub const RECOGNITIONS_HEADER: [&str; 12] = [
    "奖项 award",
    "半年 half-year",
    "单位编号 unit code",
    "单位名称 unit",
    "党员编号 member code",
    "姓名 name",
    "状态 status",
    "公示截止 listed until",
    "依据星级 outcome",
    "要求 required",
    "例外理由 exception",
    "撤销理由 revoked because",
];

/// The recognitions list (表彰名单) of a half-year (of every one when `None`), in the
/// order nominated, as a workbook: every nomination with its status, listing, evidence
/// and any exception or revocation. A member is named where `may_read` allows, by the
/// name their record held at the nomination, else left blank.
pub async fn recognitions_xlsx<S: EventStore>(
    ledger: &Ledger<S>,
    projector: &Projector<S>,
    policies: &taizhang_read::policy::PolicySet,
    half_year: Option<HalfYear>,
    may_read: impl Fn(&ReadModel, MemberId) -> bool,
) -> Result<Vec<u8>, NamedExportError> {
    let (mut rows, sealed) = projector.read(|m| {
        let mut records: Vec<_> =
            m.recognitions.values().filter(|r| half_year.is_none_or(|h| r.nominated.half_year == h)).collect();
        records.sort_by_key(|r| r.position);
        let mut sealed = Vec::new();
        let rows: Vec<Vec<Cell>> = records
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let n = &r.nominated;
                let award = policies.award(n.award.as_str()).ok().and_then(|(_, a)| a.label.clone());
                let member = match n.nominee {
                    Rated::Member(id) => {
                        if may_read(m, id) {
                            let version = m.members.get(&id).map_or(0, |h| h.personal_version(r.position));
                            sealed.push((i, (id, version)));
                        }
                        m.reference(id.0)
                    }
                    Rated::Unit(_) => String::new(),
                };
                let status = match (&r.decision, &r.revoked) {
                    (_, Some(_)) => "已撤销 revoked",
                    (Some(_), None) => "已表彰 decided",
                    (None, None) => "公示中 listed",
                };
                let evidence = r.decision.as_ref().map(|d| &d.evidence);
                let text = |t: Option<&Text>| t.map(ToString::to_string).unwrap_or_default();
                vec![
                    Cell::Text(award.map_or_else(|| n.award.to_string(), |label| format!("{label} {}", n.award))),
                    Cell::Text(n.half_year.to_string()),
                    Cell::Text(m.reference(n.unit.0)),
                    Cell::Text(m.unit(n.unit, r.position).map(|u| u.name.to_string()).unwrap_or_default()),
                    Cell::Text(member),
                    Cell::Text(String::new()),
                    Cell::Text(status.to_owned()),
                    Cell::Date(n.listed_until),
                    Cell::Text(text(evidence.and_then(|e| e.outcome.as_ref()))),
                    Cell::Text(text(evidence.map(|e| &e.required))),
                    Cell::Text(text(r.decision.as_ref().and_then(|d| d.exception.as_ref()))),
                    Cell::Text(text(r.revoked.as_ref().map(|(_, reason)| reason))),
                ]
            })
            .collect();
        (rows, sealed)
    });
    let records: Vec<(MemberId, u64)> = sealed.iter().map(|(_, record)| *record).collect();
    let personal = ledger.personal_of(records).await?;
    for (row, (member, _)) in sealed {
        if let Some(p) = personal.get(&member) {
            rows[row][5] = Cell::Text(p.name.to_string());
        }
    }
    let title = half_year.map_or_else(|| "表彰名单".to_owned(), |h| format!("表彰名单 {h}"));
    Ok(one_sheet(&title, &RECOGNITIONS_HEADER, &rows)?)
}

/// A workbook of one sheet named `title`: `header` in bold, frozen, then `rows`.
fn one_sheet(title: &str, header: &[&str], rows: &[Vec<Cell>]) -> Result<Vec<u8>, ExportError> {
    let mut workbook = Workbook::new();
    let (bold, formats) = (Format::new().set_bold(), Formats::new());
    let worksheet = workbook.add_worksheet();
    worksheet.set_name(sheet_name(title))?;
    write_header(worksheet, header, &bold)?;
    for (r, cells) in rows.iter().enumerate() {
        write_cells(worksheet, r as u32 + 1, cells, &formats)?;
    }
    worksheet.autofit();
    Ok(workbook.save_to_buffer()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A unit registered at `position` with an id of its own choosing.
    fn registered(model: &mut ReadModel, position: u64, id: u128) {
        let unit = UnitId(uuid::Uuid::from_u128(id));
        let text = |s: &str| Text::parse("t", s).unwrap();
        let payload = DomainEvent::UnitRegistered(UnitRegistered {
            unit,
            name: text(&format!("单位{id}")),
            industry: text("医疗卫生"),
            region: text("茅箭区"),
            parent: None,
            code: None,
        });
        model.apply(&taizhang_store::RecordedEvent {
            position,
            event_id: uuid::Uuid::from_u128(u128::from(position)),
            stream: StreamId::unit(unit),
            version: 0,
            recorded_at: Timestamp(position as i64),
            occurred_at: Timestamp(position as i64),
            actor: Actor::OPERATOR,
            command_id: uuid::Uuid::from_u128(u128::from(position)),
            correlation_id: None,
            causation_id: None,
            stored_schema_version: payload.schema_version(),
            hash: [0; 32],
            payload,
        });
    }

    /// Records registered between two slices of an export, wherever their ids fall in
    /// the model's order, neither repeat nor push out a record of the export's position.
    #[test]
    fn records_registered_while_an_export_runs_change_none_of_its_rows() {
        let mut model = ReadModel::default();
        let count = RECORDS_PER_SLICE as u64 + 500;
        for position in 1..=count {
            registered(&mut model, position, 1_000 + u128::from(position));
        }
        let mut listed = Listed::default();
        let everyone = |_: &ReadModel, _: MemberId| true;
        assert!(list_records(Kind::Units, &model, count, &everyone, &mut listed), "a second slice is due");
        // Ten units whose ids sort before every one already listed.
        for (i, position) in (count + 1..=count + 10).enumerate() {
            registered(&mut model, position, i as u128 + 1);
        }
        while list_records(Kind::Units, &model, count, &everyone, &mut listed) {}
        let mut ids: Vec<&String> = listed.rows.iter().map(|row| &row[0]).collect();
        assert_eq!(ids.len(), count as usize);
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), count as usize, "no unit twice");
    }
}
