//! Commitments (公开承诺): what a unit, or one of its members, promises the public — a
//! category, the promise itself, an optional measurable target, a term — and what became
//! of it: amended (with a reason, history kept), withdrawn, assessed at a look-back as
//! kept, partly kept or not kept, and renewed by a new item that names the items it
//! carries on, so a chain of promises can be followed back through every round.

use serde::{Deserialize, Serialize};
use time::Date;

use crate::command::Decision;
use crate::decide::{absent, coded, Deciding, PendingEvent};
use crate::event::Fact;
use crate::*;

/// The categories of commitment the campaign's units used (服务内容、服务标准、办事程序、
/// 办结时限、收费标准、便民措施、廉洁自律、岗位承诺); a unit may use others of its own.
pub const COMMITMENT_CATEGORIES: [&str; 8] =
    ["服务内容", "服务标准", "办事程序", "办结时限", "收费标准", "便民措施", "廉洁自律", "岗位承诺"];

/// The most items one renewal may carry on.
pub const MAX_RENEWED: usize = 20;

/// What a commitment says: the part a clerk writes and may amend.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CommitmentContent {
    pub category: Text,
    /// The promise itself (承诺内容).
    pub text: Text,
    /// A measurable target, if any ("办结时限 ≤ 3 个工作日").
    pub target: Option<Text>,
    /// The first day of the term.
    #[schemars(schema_with = "crate::schema::date")]
    pub from: Date,
    /// The last day of the term.
    #[schemars(schema_with = "crate::schema::date")]
    pub until: Date,
    /// Shown to the public (公示) or kept within the unit.
    pub public: bool,
}

impl CommitmentContent {
    fn check(&self) -> Result<(), DomainError> {
        check_date("from", self.from)?;
        check_date("until", self.until)?;
        if self.until < self.from {
            return Err(DomainError::InvalidValue {
                field: "until".to_owned(),
                reason: format!("the term ends on {} before it begins on {}", self.until, self.from),
            });
        }
        Ok(())
    }
}

/// How a look-back found a commitment kept.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub enum Fulfilment {
    /// 已兑现
    Kept,
    /// 部分兑现
    PartlyKept,
    /// 未兑现
    NotKept,
}

/// A unit's commitment, or one of its member's (`member`, who belongs to the unit on
/// the term's first day). Naming earlier items in
/// `renews` makes it their renewal (再承诺): it carries them on or replaces them.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct MakeCommitment {
    pub commitment: CommitmentId,
    pub unit: UnitId,
    pub member: Option<MemberId>,
    pub content: CommitmentContent,
    pub renews: Vec<CommitmentId>,
    /// The item's code in the unit's own list, if any.
    pub code: Option<Text>,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AmendCommitment {
    pub commitment: CommitmentId,
    pub content: CommitmentContent,
    pub reason: Text,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct WithdrawCommitment {
    pub commitment: CommitmentId,
    pub reason: Text,
}

/// A reviewer's finding at a look-back; a later one corrects it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AssessCommitment {
    pub commitment: CommitmentId,
    pub fulfilment: Fulfilment,
    /// What the finding rests on (the public's opinions, records checked).
    pub evidence: Text,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CommitmentMade {
    pub commitment: CommitmentId,
    pub unit: UnitId,
    pub member: Option<MemberId>,
    pub content: CommitmentContent,
    /// The items this one carries on or replaces (empty for a first commitment).
    pub renews: Vec<CommitmentId>,
    pub code: Option<Text>,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CommitmentAmended {
    pub commitment: CommitmentId,
    pub content: CommitmentContent,
    pub reason: Text,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CommitmentWithdrawn {
    pub commitment: CommitmentId,
    pub reason: Text,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CommitmentAssessed {
    pub commitment: CommitmentId,
    pub fulfilment: Fulfilment,
    pub evidence: Text,
}

/// What the rules need of a commitment.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CommitmentState {
    pub unit: UnitId,
    pub member: Option<MemberId>,
    /// What it says now (an import's changed row is compared with it).
    pub content: CommitmentContent,
    pub renews: Vec<CommitmentId>,
    pub withdrawn: bool,
    pub assessed: bool,
}

/// A commitment that may still change: it exists and was not withdrawn.
fn open_commitment(loaded: &Aggregates, id: CommitmentId) -> Result<&CommitmentState, DomainError> {
    let commitment = loaded.commitments.get(&id).ok_or(DomainError::CommitmentNotFound(id))?;
    if commitment.withdrawn {
        return Err(DomainError::CommitmentWithdrawn { commitment: id });
    }
    Ok(commitment)
}

/// The unit of the commitment as `loaded` knows it.
fn commitment_unit(loaded: &Aggregates, commitment: CommitmentId) -> Option<UnitId> {
    loaded.commitments.get(&commitment).map(|c| c.unit)
}

impl Decision for MakeCommitment {
    fn answered_by(&self, event: &DomainEvent) -> bool {
        matches!(event, DomainEvent::CommitmentMade(e)
            if (self.unit, self.member, &self.content, &self.renews, &self.code)
                == (e.unit, e.member, &e.content, &e.renews, &e.code))
    }

    fn needs(&self, _: &Aggregates, needs: &mut Vec<StreamId>) {
        needs.push(StreamId::unit(self.unit));
        needs.extend(self.member.map(StreamId::member));
        needs.extend(self.renews.iter().copied().map(StreamId::commitment));
    }

    fn units_written(&self, _: &Aggregates) -> Vec<Option<UnitId>> {
        vec![Some(self.unit)]
    }

    fn decide(&self, cx: &mut Deciding<'_>) -> Result<Vec<PendingEvent>, DomainError> {
        self.content.check()?;
        coded("commitment", self.commitment.0, self.code.as_ref())?;
        absent(cx.loaded, StreamId::commitment(self.commitment))?;
        unit(cx.loaded, self.unit)?;
        // A member's commitment is made in the unit they belong to when its term begins.
        if let Some(id) = self.member {
            if member(cx.loaded, id)?.unit_on(self.content.from) != Some(self.unit) {
                return Err(DomainError::MemberNotInUnit { member: id, unit: self.unit, date: self.content.from });
            }
        }
        if self.renews.len() > MAX_RENEWED {
            return Err(DomainError::InvalidValue {
                field: "renews".to_owned(),
                reason: format!("{} items named; a renewal carries on at most {MAX_RENEWED}", self.renews.len()),
            });
        }
        for (i, renewed) in self.renews.iter().enumerate() {
            if self.renews[..i].contains(renewed) || *renewed == self.commitment {
                return Err(DomainError::InvalidValue {
                    field: "renews".to_owned(),
                    reason: format!("commitment {renewed} is named twice"),
                });
            }
            let earlier = loaded_commitment(cx.loaded, *renewed)?;
            if earlier.unit != self.unit {
                return Err(DomainError::RenewsAnotherUnit { commitment: *renewed, unit: earlier.unit });
            }
        }
        Ok(vec![PendingEvent::now(CommitmentMade {
            commitment: self.commitment,
            unit: self.unit,
            member: self.member,
            content: self.content.clone(),
            renews: self.renews.clone(),
            code: self.code.clone(),
        })])
    }
}

/// A commitment that exists, withdrawn or not (a withdrawn item may be replaced by a
/// renewal).
fn loaded_commitment(loaded: &Aggregates, id: CommitmentId) -> Result<&CommitmentState, DomainError> {
    loaded.commitments.get(&id).ok_or(DomainError::CommitmentNotFound(id))
}

impl Decision for AmendCommitment {
    fn answered_by(&self, event: &DomainEvent) -> bool {
        matches!(event, DomainEvent::CommitmentAmended(e)
            if (self.commitment, &self.content, &self.reason) == (e.commitment, &e.content, &e.reason))
    }

    fn units_written(&self, loaded: &Aggregates) -> Vec<Option<UnitId>> {
        vec![commitment_unit(loaded, self.commitment)]
    }

    fn decide(&self, cx: &mut Deciding<'_>) -> Result<Vec<PendingEvent>, DomainError> {
        self.content.check()?;
        if open_commitment(cx.loaded, self.commitment)?.assessed {
            return Err(DomainError::CommitmentAssessed { commitment: self.commitment });
        }
        Ok(vec![PendingEvent::now(CommitmentAmended {
            commitment: self.commitment,
            content: self.content.clone(),
            reason: self.reason.clone(),
        })])
    }
}

impl Decision for WithdrawCommitment {
    fn answered_by(&self, event: &DomainEvent) -> bool {
        matches!(event, DomainEvent::CommitmentWithdrawn(e)
            if (self.commitment, &self.reason) == (e.commitment, &e.reason))
    }

    fn units_written(&self, loaded: &Aggregates) -> Vec<Option<UnitId>> {
        vec![commitment_unit(loaded, self.commitment)]
    }

    fn decide(&self, cx: &mut Deciding<'_>) -> Result<Vec<PendingEvent>, DomainError> {
        open_commitment(cx.loaded, self.commitment)?;
        Ok(vec![PendingEvent::now(CommitmentWithdrawn { commitment: self.commitment, reason: self.reason.clone() })])
    }
}

impl Decision for AssessCommitment {
    fn answered_by(&self, event: &DomainEvent) -> bool {
        matches!(event, DomainEvent::CommitmentAssessed(e)
            if (self.commitment, self.fulfilment, &self.evidence) == (e.commitment, e.fulfilment, &e.evidence))
    }

    fn units_written(&self, loaded: &Aggregates) -> Vec<Option<UnitId>> {
        vec![commitment_unit(loaded, self.commitment)]
    }

    fn decide(&self, cx: &mut Deciding<'_>) -> Result<Vec<PendingEvent>, DomainError> {
        open_commitment(cx.loaded, self.commitment)?;
        Ok(vec![PendingEvent::now(CommitmentAssessed {
            commitment: self.commitment,
            fulfilment: self.fulfilment,
            evidence: self.evidence.clone(),
        })])
    }
}

/// Folds an event into the state of commitment `id`, if it was loaded.
fn change(state: &mut Aggregates, id: CommitmentId, fold: impl FnOnce(&mut CommitmentState)) {
    if let Some(loaded) = state.commitments.get_mut(&id) {
        fold(loaded);
    }
}

impl Fact for CommitmentMade {
    fn fold(&self, _: u64, state: &mut Aggregates) {
        let commitment = CommitmentState {
            unit: self.unit,
            member: self.member,
            content: self.content.clone(),
            renews: self.renews.clone(),
            withdrawn: false,
            assessed: false,
        };
        state.commitments.insert(self.commitment, commitment);
    }
}

impl Fact for CommitmentAmended {
    fn fold(&self, _: u64, state: &mut Aggregates) {
        change(state, self.commitment, |c| c.content = self.content.clone());
    }
}

impl Fact for CommitmentWithdrawn {
    fn fold(&self, _: u64, state: &mut Aggregates) {
        change(state, self.commitment, |c| c.withdrawn = true);
    }
}

impl Fact for CommitmentAssessed {
    fn fold(&self, _: u64, state: &mut Aggregates) {
        change(state, self.commitment, |c| c.assessed = true);
    }
}
