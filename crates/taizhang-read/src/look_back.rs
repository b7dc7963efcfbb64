//! A look-back round's report (回头看): for the units the round covers, the commitment
//! items due for review, how many were assessed and found kept, the public's opinions
//! and their ratings, the new items made while the round was open (renewals among
//! them), and the units that have not yet looked back — by unit, region, industry or
//! in total.
//!
//! What one commitment adds to a round is [`part`]: a function of the round and of the
//! commitment's history up to the position read. The model keeps each round's tally
//! at the head up to date as events arrive ([`RoundTallies`]): a report at the head
//! reads one small tally per unit, whatever the length of the log. A report as of an
//! earlier position sums the same parts over the units' commitments as they were then.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use taizhang_core::*;
use taizhang_store::Position;

use crate::model::{CommitmentHistory, RoundHistory};
use crate::report::GroupBy;
use crate::ReadModel;

/// Declares [`RoundTally`] with its counts, each listed once.
macro_rules! round_tally {
    ($($(#[$doc:meta])* $count:ident,)*) => {
        /// Counts of one unit, group or round.
        #[derive(Clone, Copy, Default, PartialEq, Eq, Debug, Serialize, Deserialize)]
        pub struct RoundTally {
            $($(#[$doc])* pub $count: u64,)*
        }

        impl RoundTally {
            /// Adds `other` to these counts, or takes it away (`remove`: it was added before).
            fn merge(&mut self, other: &Self, remove: bool) {
                $(self.$count = if remove { self.$count - other.$count } else { self.$count + other.$count };)*
            }
        }
    };
}

round_tally! {
    /// Items made before the round opened, not withdrawn, whose term meets the period
    /// the round looks back on.
    due,
    /// Items due whose latest finding was made after the round opened.
    assessed,
    kept,
    partly_kept,
    not_kept,
    /// Items made while the round was open, not withdrawn.
    new_items,
    /// New items that carry on or replace earlier ones (再承诺).
    renewals,
    opinions,
    satisfied,
    fairly_satisfied,
    dissatisfied,
}

impl RoundTally {
    /// Kept ÷ assessed, in percent with two decimals, once anything is assessed.
    pub fn kept_percent(&self) -> Option<f64> {
        (self.assessed > 0).then(|| (self.kept * 10_000 / self.assessed) as f64 / 100.0)
    }

    /// Whether every item due is assessed (a unit with nothing due has nothing to look
    /// back on, and is not counted as having looked back).
    pub fn looked_back(&self) -> bool {
        self.due > 0 && self.assessed == self.due
    }

    fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    fn opinion(rating: Option<Rating>) -> Self {
        Self {
            opinions: 1,
            satisfied: u64::from(rating == Some(Rating::Satisfied)),
            fairly_satisfied: u64::from(rating == Some(Rating::FairlySatisfied)),
            dissatisfied: u64::from(rating == Some(Rating::Dissatisfied)),
            ..Self::default()
        }
    }
}

/// What one commitment adds to `round`, as known at `as_of`.
pub fn part(round: &RoundHistory, history: &CommitmentHistory, as_of: Position) -> RoundTally {
    let (Some(first), Some(now)) = (history.versions.first(), history.at(as_of)) else {
        return RoundTally::default();
    };
    if now.withdrawn.is_some() || round.opened_at > as_of {
        return RoundTally::default();
    }
    let made = first.position;
    let term_meets_period = now.content.from <= round.period.last && now.content.until >= round.period.first;
    if made < round.opened_at && term_meets_period {
        let finding = now.assessment.as_ref().filter(|a| a.position > round.opened_at).map(|a| a.fulfilment);
        return RoundTally {
            due: 1,
            assessed: u64::from(finding.is_some()),
            kept: u64::from(finding == Some(Fulfilment::Kept)),
            partly_kept: u64::from(finding == Some(Fulfilment::PartlyKept)),
            not_kept: u64::from(finding == Some(Fulfilment::NotKept)),
            ..RoundTally::default()
        };
    }
    let open_when_made = made > round.opened_at && round.closed_at.is_none_or(|closed| made < closed);
    if open_when_made {
        return RoundTally { new_items: 1, renewals: u64::from(!history.renews.is_empty()), ..RoundTally::default() };
    }
    RoundTally::default()
}

/// A round's tally at the head of the log, kept current as events arrive: each unit's
/// counts, and what each commitment added to them (so that its next change replaces it).
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct RoundTallies {
    pub(crate) by_unit: BTreeMap<UnitId, RoundTally>,
    pub(crate) parts: BTreeMap<CommitmentId, RoundTally>,
}

impl RoundTallies {
    /// The tally of a round just opened at the model's position: every commitment made
    /// before it that is due in it.
    pub(crate) fn opened(model: &ReadModel, round: &RoundHistory) -> Self {
        let mut tallies = Self::default();
        for (id, history) in &model.commitments {
            tallies.replace(*id, history.unit, part(round, history, model.position));
        }
        tallies
    }

    /// Puts `now` in place of what `commitment` added before.
    pub(crate) fn replace(&mut self, commitment: CommitmentId, unit: UnitId, now: RoundTally) {
        let before = if now.is_empty() { self.parts.remove(&commitment) } else { self.parts.insert(commitment, now) };
        if before.as_ref() == Some(&now) {
            return;
        }
        let counts = self.by_unit.entry(unit).or_default();
        if let Some(before) = before {
            counts.merge(&before, true);
        }
        counts.merge(&now, false);
        if counts.is_empty() {
            self.by_unit.remove(&unit);
        }
    }

    pub(crate) fn add_opinion(&mut self, unit: UnitId, rating: Option<Rating>) {
        self.by_unit.entry(unit).or_default().merge(&RoundTally::opinion(rating), false);
    }
}

/// One line of a round's report.
#[derive(Clone, PartialEq, Debug, Serialize)]
pub struct RoundReportRow {
    /// The unit id, region or industry ("total" for [`GroupBy::Total`]).
    pub group: String,
    /// A readable name for the group: the unit's name, or the group itself.
    pub label: String,
    /// Units of the group the round covers.
    pub units: u64,
    /// Those whose every item due is assessed.
    pub units_looked_back: u64,
    #[serde(flatten)]
    pub tally: RoundTally,
}

#[derive(Clone, PartialEq, Debug, Serialize)]
pub struct RoundReport {
    pub rows: Vec<RoundReportRow>,
    /// Every group's counts added up.
    pub total: RoundReportRow,
    /// Units the round covers that have items due not yet all assessed, in id order.
    pub not_looked_back: Vec<UnitId>,
    pub as_of_position: Position,
}

/// The report of `round` as of `as_of`, or `None` when the round was not open by then.
/// At the head it reads the round's kept tally, one entry per unit; earlier, it sums
/// [`part`] over the covered units' commitments as they were.
pub fn round_report(model: &ReadModel, round_id: RoundId, group_by: GroupBy, as_of: Position) -> Option<RoundReport> {
    let round = model.rounds.get(&round_id).filter(|r| r.opened_at <= as_of)?;
    let by_unit: Cow<'_, BTreeMap<UnitId, RoundTally>> = match model.round_tallies(round_id) {
        Some(tallies) if as_of >= model.position => Cow::Borrowed(&tallies.by_unit),
        _ => Cow::Owned(recount(model, round_id, round, as_of)),
    };
    // Groups by a borrowed key: a row's strings are made once per group, not per unit.
    let mut groups: BTreeMap<&str, RoundReportRow> = BTreeMap::new();
    let mut by_unit_rows = Vec::new();
    let mut total = row("total".to_owned(), "total".to_owned());
    let mut not_looked_back = Vec::new();
    // Both maps are in unit order: walked side by side, with no lookup per unit.
    let mut tallies = by_unit.iter().peekable();
    for (unit, versions) in &model.units {
        let Some(info) = versions.iter().rev().find(|v| v.position <= as_of) else { continue };
        if !round.scope.covers(*unit, &info.region, &info.industry) {
            continue;
        }
        while tallies.next_if(|(id, _)| *id < unit).is_some() {}
        let tally = tallies.next_if(|(id, _)| *id == unit).map(|(_, t)| *t).unwrap_or_default();
        if tally.due > tally.assessed {
            not_looked_back.push(*unit);
        }
        let line = match group_by {
            GroupBy::Unit => {
                by_unit_rows.push(row(unit.to_string(), info.name.to_string()));
                by_unit_rows.last_mut().expect("just pushed")
            }
            GroupBy::Region => {
                groups.entry(info.region.as_str()).or_insert_with_key(|r| row(r.to_string(), r.to_string()))
            }
            GroupBy::Industry => {
                groups.entry(info.industry.as_str()).or_insert_with_key(|i| row(i.to_string(), i.to_string()))
            }
            GroupBy::Total => groups.entry("total").or_insert_with(|| row("total".to_owned(), "total".to_owned())),
        };
        for line in [line, &mut total] {
            line.units += 1;
            line.units_looked_back += u64::from(tally.looked_back());
            line.tally.merge(&tally, false);
        }
    }
    let rows = if group_by == GroupBy::Unit { by_unit_rows } else { groups.into_values().collect() };
    Some(RoundReport { rows, total, not_looked_back, as_of_position: as_of })
}

fn row(group: String, label: String) -> RoundReportRow {
    RoundReportRow { group, label, units: 0, units_looked_back: 0, tally: RoundTally::default() }
}

/// Every unit's counts in `round` as of `as_of`, from the commitments and opinions as
/// they were then.
fn recount(
    model: &ReadModel,
    round_id: RoundId,
    round: &RoundHistory,
    as_of: Position,
) -> BTreeMap<UnitId, RoundTally> {
    let mut by_unit: BTreeMap<UnitId, RoundTally> = BTreeMap::new();
    for history in model.commitments.values() {
        let part = part(round, history, as_of);
        if !part.is_empty() {
            by_unit.entry(history.unit).or_default().merge(&part, false);
        }
    }
    for (_, opinion) in model.round_opinions(round_id).filter(|(_, o)| o.counts_at(as_of)) {
        by_unit.entry(opinion.unit).or_default().merge(&RoundTally::opinion(opinion.rating), false);
    }
    by_unit
}
