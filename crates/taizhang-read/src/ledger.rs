//! Ledgers (台账): the chronological record of a unit or a member, corrections beside
//! what they correct, running totals of recorded and verified hours.

use serde::Serialize;
use taizhang_core::*;
use taizhang_store::Position;
use time::Date;

use crate::model::{HistoryItem, OutingView};
use crate::{AsOf, ReadModel};

#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct LedgerEntry {
    pub outing: OutingId,
    /// The outing's code in the unit's records, if it has one.
    pub code: Option<Text>,
    pub unit: UnitId,
    pub details: OutingDetails,
    pub participants: Vec<Participation>,
    /// The entry's hours: every participant's on a unit ledger, the member's own on a
    /// member ledger.
    pub minutes: u64,
    /// Of the entry's minutes, those recorded by checking in and out (credit hours);
    /// the rest were entered by a clerk (honour hours).
    pub credit_minutes: u64,
    pub verified: bool,
    pub voided: bool,
    /// Registration first, then every correction and verification, in log order.
    pub history: Vec<HistoryItem>,
    /// Totals up to and including this entry (voided entries add nothing).
    pub running_recorded_minutes: u64,
    pub running_verified_minutes: u64,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct LedgerPage {
    pub entries: Vec<LedgerEntry>,
    /// Entries in the whole ledger (all pages).
    pub total_entries: usize,
    pub has_next: bool,
    /// The log position the page describes.
    pub as_of_position: Position,
    pub total_recorded_minutes: u64,
    pub total_verified_minutes: u64,
    /// Of the recorded minutes, the credit hours'.
    pub total_credit_minutes: u64,
}

/// Which slice of a ledger to return.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PageRequest {
    /// Entries to skip (the Relay cursor is this offset).
    pub offset: usize,
    pub limit: usize,
}

/// The ledger of a unit, or `None` if the unit did not exist at the as-of position.
pub fn unit_ledger(model: &ReadModel, unit: UnitId, as_of: &AsOf, page: PageRequest) -> Option<LedgerPage> {
    let position = as_of.position(model);
    model.unit(unit, position)?;
    let minutes = |view: &OutingView<'_>| Some((view.total_minutes(), view.credited_minutes()));
    Some(build(model, model.unit_outings(unit), as_of, position, page, minutes))
}

/// The ledger of a member: the outings they served in, with their own hours.
pub fn member_ledger(model: &ReadModel, member: MemberId, as_of: &AsOf, page: PageRequest) -> Option<LedgerPage> {
    let position = as_of.position(model);
    if !model.members.get(&member)?.registered_by(position) {
        return None;
    }
    let minutes = |view: &OutingView<'_>| {
        let minutes = view.minutes_of(member)?.get() as u64;
        Some((minutes, if view.credited(member) { minutes } else { 0 }))
    };
    Some(build(model, model.member_outings(member), as_of, position, page, minutes))
}

fn build(
    model: &ReadModel,
    outings: &[u32],
    as_of: &AsOf,
    position: Position,
    page: PageRequest,
    minutes_of: impl Fn(&OutingView<'_>) -> Option<(u64, u64)>,
) -> LedgerPage {
    let mut rows: Vec<(OutingView<'_>, (u64, u64))> = outings
        .iter()
        .filter_map(|number| model.outing_by_number(*number, position))
        .filter(|view| as_of.admits_date(view.date()))
        .filter_map(|view| minutes_of(&view).map(|m| (view, m)))
        .collect();
    rows.sort_by_key(|(v, _)| sort_key(v));

    let (mut recorded, mut verified, mut credit) = (0, 0, 0);
    let mut entries = Vec::with_capacity(page.limit.min(rows.len()));
    for (i, (view, (minutes, credit_minutes))) in rows.iter().enumerate() {
        if !view.voided {
            recorded += minutes;
            credit += credit_minutes;
            if view.verified {
                verified += minutes;
            }
        }
        if i >= page.offset && entries.len() < page.limit {
            entries.push(entry(view, (*minutes, *credit_minutes), recorded, verified));
        }
    }
    LedgerPage {
        has_next: page.offset.saturating_add(entries.len()) < rows.len(),
        entries,
        total_entries: rows.len(),
        as_of_position: position,
        total_recorded_minutes: recorded,
        total_verified_minutes: verified,
        total_credit_minutes: credit,
    }
}

fn sort_key(view: &OutingView<'_>) -> (Date, ClockTime, OutingId) {
    (view.date(), view.span().start, view.id)
}

fn entry(view: &OutingView<'_>, (minutes, credit_minutes): (u64, u64), recorded: u64, verified: u64) -> LedgerEntry {
    LedgerEntry {
        outing: view.id,
        code: view.code().cloned(),
        unit: view.unit,
        details: view.details(),
        participants: view.participants().collect(),
        minutes,
        credit_minutes,
        verified: view.verified,
        voided: view.voided,
        history: view.history().collect(),
        running_recorded_minutes: recorded,
        running_verified_minutes: verified,
    }
}
