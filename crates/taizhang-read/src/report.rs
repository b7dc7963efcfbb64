//! Summary reports: outings, distinct volunteers, recorded and verified hours, hours per
//! member and participation rate, grouped by unit, region or industry and bucketed by
//! week, month, half-year or the whole period.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use taizhang_core::*;
use taizhang_store::Position;
use time::{Date, Duration, Weekday};

use crate::{AsOf, ReadModel};

#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Scope {
    All,
    Unit(UnitId),
    Region(String),
    Industry(String),
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum GroupBy {
    Unit,
    Region,
    Industry,
    /// One group for everything in scope.
    Total,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Bucket {
    /// The whole period as one bucket.
    Period,
    /// Monday to Sunday (一周一小结).
    Week,
    Month,
    HalfYear,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ReportQuery {
    pub period: Period,
    pub scope: Scope,
    pub group_by: GroupBy,
    pub bucket: Bucket,
    pub as_of: AsOf,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct ReportRow {
    /// The unit id, region or industry ("total" for [`GroupBy::Total`]).
    pub group: String,
    /// A readable name for the group: the unit's name, or the group itself.
    pub label: String,
    pub first: Date,
    pub last: Date,
    /// Outings not voided whose date is in the bucket.
    pub outings: u64,
    /// Distinct members who served in those outings.
    pub volunteers: u64,
    pub recorded_minutes: u64,
    pub verified_minutes: u64,
    /// Of the recorded minutes, those members recorded themselves by checking in and
    /// out (credit hours); the rest a clerk entered (honour hours).
    pub credit_minutes: u64,
    /// Members of the group's units on the bucket's last day.
    pub members: u64,
}

impl ReportRow {
    /// Members who served ÷ members, in percent with two decimals, when there are members.
    pub fn participation_rate_percent(&self) -> Option<f64> {
        (self.members > 0).then(|| (self.volunteers * 10_000 / self.members) as f64 / 100.0)
    }

    /// Recorded hours ÷ members, with two decimals, when there are members.
    pub fn hours_per_member(&self) -> Option<f64> {
        (self.members > 0).then(|| (self.recorded_minutes * 100 / 60 / self.members) as f64 / 100.0)
    }
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct Report {
    pub rows: Vec<ReportRow>,
    pub as_of_position: Position,
}

#[derive(Default, Clone)]
struct Acc {
    outings: u64,
    volunteers: BTreeSet<MemberId>,
    recorded: u64,
    verified: u64,
    credit: u64,
    /// Members of the group's units on the bucket's last day.
    members: u64,
}

/// (unit, bucket) cells a report adds per hold of the model's lock, a fraction of a
/// millisecond: the projector's writes, and the reads queued behind them, wait at most
/// that long for a report.
pub const CELLS_PER_SLICE: usize = 1_000;

/// A report computed a slice of units at a time: a caller serving others takes the
/// read model's lock for each slice ([`ReportBuilder::add`]) and lets writes in
/// between, so a large report never holds the model for its whole run. Every slice
/// reads as of the position fixed when the builder was made, so the slices agree
/// whatever was applied in between (a read as of a position never changes).
pub struct ReportBuilder {
    query: ReportQuery,
    position: Position,
    buckets: Vec<(Date, Date)>,
    units: Vec<UnitId>,
    added: usize,
    /// Each group's cells, one per bucket.
    groups: BTreeMap<String, Vec<Acc>>,
    labels: BTreeMap<String, String>,
}

impl ReportBuilder {
    pub fn new(model: &ReadModel, query: &ReportQuery) -> Self {
        let position = query.as_of.position(model);
        Self {
            query: query.clone(),
            position,
            buckets: buckets(query.period, query.bucket),
            units: units_in_scope(model, &query.scope, position),
            added: 0,
            groups: BTreeMap::new(),
            labels: BTreeMap::new(),
        }
    }

    /// Adds the next units of the scope, as many as make `cells` (unit, bucket) cells
    /// (at least one unit); false once every unit is in. A slice's time grows with its
    /// cells, so a caller holding a lock across it bounds the hold by the cells.
    pub fn add(&mut self, model: &ReadModel, cells: usize) -> bool {
        let units = (cells / self.buckets.len().max(1)).max(1);
        let end = self.added.saturating_add(units).min(self.units.len());
        for i in self.added..end {
            let unit = self.units[i];
            self.add_unit(model, unit);
        }
        self.added = end;
        self.added < self.units.len()
    }

    fn add_unit(&mut self, model: &ReadModel, unit: UnitId) {
        let (query, position) = (&self.query, self.position);
        let info = model.unit(unit, position).expect("units in scope exist at the position");
        let (group, label) = match query.group_by {
            GroupBy::Unit => (unit.to_string(), info.name.to_string()),
            GroupBy::Region => (info.region.to_string(), info.region.to_string()),
            GroupBy::Industry => (info.industry.to_string(), info.industry.to_string()),
            GroupBy::Total => ("total".to_owned(), "total".to_owned()),
        };
        let cells = match self.groups.get_mut(&group) {
            Some(cells) => cells,
            None => self.groups.entry(group.clone()).or_insert_with(|| vec![Acc::default(); self.buckets.len()]),
        };
        self.labels.insert(group, label);
        // Every bucket of every group counts its units' members, outings or not.
        for (cell, (_, last)) in cells.iter_mut().zip(&self.buckets) {
            cell.members += model.members_of(unit, *last, position).count() as u64;
        }
        for number in model.unit_outings(unit) {
            let Some(view) = model.outing_by_number(*number, position) else { continue };
            let date = view.date();
            if view.voided || !query.period.contains(date) || !query.as_of.admits_date(date) {
                continue;
            }
            let Some(b) = self.buckets.iter().position(|(first, last)| *first <= date && date <= *last) else {
                continue;
            };
            let acc = &mut cells[b];
            let minutes = view.total_minutes();
            acc.outings += 1;
            acc.recorded += minutes;
            acc.credit += view.credited_minutes();
            if view.verified {
                acc.verified += minutes;
            }
            acc.volunteers.extend(view.participants().map(|p| p.member));
        }
    }

    /// The report, once every unit is added.
    pub fn finish(self) -> Report {
        debug_assert_eq!(self.added, self.units.len(), "every unit added");
        let (buckets, labels) = (self.buckets, self.labels);
        let rows = self
            .groups
            .into_iter()
            .flat_map(|(group, cells)| cells.into_iter().enumerate().map(move |(b, acc)| (group.clone(), b, acc)))
            .map(|(group, b, acc)| {
                let (first, last) = buckets[b];
                ReportRow {
                    label: labels.get(&group).cloned().unwrap_or_default(),
                    group,
                    first,
                    last,
                    outings: acc.outings,
                    volunteers: acc.volunteers.len() as u64,
                    recorded_minutes: acc.recorded,
                    verified_minutes: acc.verified,
                    credit_minutes: acc.credit,
                    members: acc.members,
                }
            })
            .collect();
        Report { rows, as_of_position: self.position }
    }
}

/// The most buckets a report may have (about 19 years of weeks, or the whole period as
/// one bucket over any span).
pub const MAX_BUCKETS: usize = 1_000;
/// The most (unit, bucket) cells a report may compute: each cell counts the unit's
/// members on the bucket's last day, whatever the grouping, so this bounds a report's
/// work and memory. 5,800 units × 172 weeks (three years and a quarter, weekly, per unit).
pub const MAX_CELLS: u64 = 1_000_000;

/// A report too large to compute.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum ReportTooLarge {
    #[error("the period holds more than {max} {bucket:?} buckets; ask for a shorter period or a longer bucket")]
    Buckets { bucket: Bucket, max: usize },
    #[error("{units} units × {buckets} buckets is {cells} cells; at most {max} are computed: narrow the scope, shorten the period or lengthen the bucket")]
    Cells { units: u64, buckets: u64, cells: u64, max: u64 },
}

/// Refuses a report over [`MAX_BUCKETS`] or [`MAX_CELLS`], before any of its work.
pub fn check_size(model: &ReadModel, query: &ReportQuery) -> Result<(), ReportTooLarge> {
    let buckets = bucket_spans(query.period, query.bucket).take(MAX_BUCKETS + 1).count();
    if buckets > MAX_BUCKETS {
        return Err(ReportTooLarge::Buckets { bucket: query.bucket, max: MAX_BUCKETS });
    }
    let units = units_in_scope(model, &query.scope, query.as_of.position(model)).len() as u64;
    let cells = units * buckets as u64;
    if cells > MAX_CELLS {
        return Err(ReportTooLarge::Cells { units, buckets: buckets as u64, cells, max: MAX_CELLS });
    }
    Ok(())
}

/// Computes a report. Its cost grows with the units in scope times the buckets, and
/// with the outings in scope, not with the length of the log; callers serving others
/// check it first with [`check_size`] and compute it a slice at a time
/// ([`ReportBuilder`]).
pub fn report(model: &ReadModel, query: &ReportQuery) -> Report {
    let mut builder = ReportBuilder::new(model, query);
    builder.add(model, usize::MAX);
    builder.finish()
}

pub(crate) fn units_in_scope<'a>(model: &'a ReadModel, scope: &'a Scope, position: Position) -> Vec<UnitId> {
    match scope {
        Scope::Unit(unit) => model.unit(*unit, position).map(|_| *unit).into_iter().collect(),
        _ => model
            .units
            .keys()
            .copied()
            .filter(|u| match (model.unit(*u, position), scope) {
                (None, _) => false,
                (Some(_), Scope::All) => true,
                (Some(v), Scope::Region(r)) => v.region.as_str() == r,
                (Some(v), Scope::Industry(i)) => v.industry.as_str() == i,
                (Some(_), Scope::Unit(_)) => unreachable!("handled above"),
            })
            .collect(),
    }
}

/// The buckets of a period, each clipped to it, in order.
pub fn buckets(period: Period, bucket: Bucket) -> Vec<(Date, Date)> {
    let out: Vec<_> = bucket_spans(period, bucket).collect();
    debug_assert!(bucket != Bucket::Week || out.iter().skip(1).all(|(f, _)| f.weekday() == Weekday::Monday));
    out
}

/// [`buckets`], one at a time (so that a count can stop early).
fn bucket_spans(period: Period, bucket: Bucket) -> impl Iterator<Item = (Date, Date)> {
    let mut next = Some(period.first);
    std::iter::from_fn(move || {
        let first = next.filter(|first| *first <= period.last)?;
        let end = match bucket {
            Bucket::Period => period.last,
            Bucket::Week => first
                .checked_add(Duration::days(6 - first.weekday().number_days_from_monday() as i64))
                .unwrap_or(Date::MAX),
            Bucket::Month => Date::from_calendar_date(first.year(), first.month(), first.month().length(first.year()))
                .expect("last day of a month"),
            Bucket::HalfYear => HalfYear::containing(first).period().last,
        };
        let last = end.min(period.last);
        next = last.next_day();
        Some((first, last))
    })
}
