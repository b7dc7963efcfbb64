//! Members: the Party members who serve, their commands (registration, transfer,
//! correction of personal data, erasure, evaluation), events (their calendar of
//! bookings included), state and decisions.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::Date;

use crate::decide::{absent, coded, PendingEvent};
use crate::*;

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RegisterMember {
    pub member: MemberId,
    pub unit: UnitId,
    pub joined_on: Date,
    pub personal: PersonalData,
    /// The member's code in the unit's own records, if any.
    pub code: Option<Text>,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct TransferMember {
    pub member: MemberId,
    pub to: UnitId,
    pub effective: Date,
}

/// A member's personal data as it should read (a misspelt name, a new phone), sealed
/// under the member's own key like the registration's.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CorrectPersonalData {
    pub member: MemberId,
    pub personal: PersonalData,
    pub reason: Text,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct EraseMember {
    pub member: MemberId,
}

/// A reviewer records a member's half-year evaluation.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RecordEvaluation {
    pub member: MemberId,
    pub half_year: HalfYear,
    pub public_score: Score,
    pub leader_score: Score,
    pub note: Option<Text>,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MemberRegistered {
    pub member: MemberId,
    pub unit: UnitId,
    #[schemars(schema_with = "crate::schema::date")]
    pub joined_on: Date,
    /// Name, identity number, phone and birth date, sealed under the member's key.
    pub personal: SealedPersonal,
    /// The member's code in the unit's records; the member id is then the code's.
    #[serde(default)]
    pub code: Option<Text>,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MemberTransferred {
    pub member: MemberId,
    pub from: UnitId,
    pub to: UnitId,
    #[schemars(schema_with = "crate::schema::date")]
    pub effective: Date,
}

/// The member's personal data as it should read from now on, sealed under the member's
/// key; the registration's stays in the log beside it (and is erased with it).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PersonalDataCorrected {
    pub member: MemberId,
    pub personal: SealedPersonal,
    pub reason: Text,
}

/// The member's key was destroyed: personal fields read as erased from now on, in every
/// event, while their hours still count under the member id.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MemberErased {
    pub member: MemberId,
}

/// On the member's stream: the member's time is taken by an outing. The member stream
/// owns the member's calendar, so that the 24-hours-a-day and no-overlap rules are
/// enforced by that stream's expected version, even between concurrent servers.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ServiceBooked {
    pub member: MemberId,
    pub outing: OutingId,
    #[schemars(schema_with = "crate::schema::date")]
    pub date: Date,
    pub span: TimeRange,
    pub minutes: Minutes,
}

/// On the member's stream: the outing no longer takes the member's time (voided, or the
/// member was removed from it by an amendment).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ServiceReleased {
    pub member: MemberId,
    pub outing: OutingId,
}

/// On the member's stream: a half-year's evaluation (一诺双评), the public's and the
/// leader's score. A later one for the same half-year corrects the earlier.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EvaluationRecorded {
    pub member: MemberId,
    pub half_year: HalfYear,
    /// 群众评议
    pub public_score: Score,
    /// 领导点评
    pub leader_score: Score,
    pub note: Option<Text>,
}

/// A member's time taken by one outing.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Booking {
    pub date: Date,
    pub span: TimeRange,
    pub minutes: Minutes,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct MemberState {
    /// Which unit the member belongs to from which date, in date order.
    pub memberships: Vec<(Date, UnitId)>,
    pub erased: bool,
    /// The stream version of the record that holds the member's personal data now: the
    /// registration (0) or the latest correction.
    pub personal_version: u64,
    /// The member's calendar: every outing currently taking their time.
    pub bookings: BTreeMap<OutingId, Booking>,
}

impl MemberState {
    /// The unit the member belongs to on `date`, if any.
    pub fn unit_on(&self, date: Date) -> Option<UnitId> {
        self.memberships.iter().rev().find(|(since, _)| *since <= date).map(|(_, unit)| *unit)
    }

    pub fn current_unit(&self) -> UnitId {
        self.memberships.last().map(|(_, u)| *u).expect("a registered member has a unit")
    }
}

pub(crate) fn member(loaded: &Aggregates, id: MemberId) -> Result<&MemberState, DomainError> {
    let member = loaded.members.get(&id).ok_or(DomainError::MemberNotFound(id))?;
    if member.erased {
        return Err(DomainError::MemberErased { member: id });
    }
    Ok(member)
}

/// Decides [`CorrectPersonalData`].
pub(crate) fn correct_personal_data(
    c: &CorrectPersonalData,
    loaded: &Aggregates,
    sealer: &mut dyn Sealer,
) -> Result<Vec<PendingEvent>, DomainError> {
    c.personal.validate()?;
    let current = member(loaded, c.member)?;
    if let Some(born) = c.personal.birth_date {
        let (joined, _) = current.memberships.first().copied().expect("a registered member has a unit");
        if born > joined {
            return Err(DomainError::InvalidValue {
                field: "personal.birthDate".to_owned(),
                reason: format!("{born} is after the day the member joined, {joined}"),
            });
        }
    }
    let personal = sealer.seal(c.member, &c.personal);
    Ok(vec![PendingEvent::now(PersonalDataCorrected { member: c.member, personal, reason: c.reason.clone() })])
}

/// Decides [`RegisterMember`].
pub(crate) fn register_member(
    c: &RegisterMember,
    loaded: &Aggregates,
    sealer: &mut dyn Sealer,
) -> Result<Vec<PendingEvent>, DomainError> {
    c.personal.validate()?;
    check_date("joinedOn", c.joined_on)?;
    if let Some(born) = c.personal.birth_date.filter(|born| *born > c.joined_on) {
        return Err(DomainError::InvalidValue {
            field: "joinedOn".to_owned(),
            reason: format!("{} is before the member's birth date {born}", c.joined_on),
        });
    }
    coded("member", c.member.0, c.code.as_ref())?;
    absent(loaded, StreamId::member(c.member))?;
    unit(loaded, c.unit)?;
    let personal = sealer.seal(c.member, &c.personal);
    Ok(vec![PendingEvent::now(MemberRegistered {
        member: c.member,
        unit: c.unit,
        joined_on: c.joined_on,
        personal,
        code: c.code.clone(),
    })])
}

/// Decides [`TransferMember`].
pub(crate) fn transfer_member(c: &TransferMember, loaded: &Aggregates) -> Result<Vec<PendingEvent>, DomainError> {
    check_date("effective", c.effective)?;
    let member = member(loaded, c.member)?;
    unit(loaded, c.to)?;
    let from = member.current_unit();
    let invalid = |reason: String| DomainError::InvalidTransfer { member: c.member, reason };
    if from == c.to {
        return Err(invalid(format!("the member already belongs to unit {}", c.to)));
    }
    let (since, _) = member.memberships.last().copied().expect("a registered member has a unit");
    if c.effective <= since {
        return Err(invalid(format!("effective {} is not after the member's last move on {since}", c.effective)));
    }
    Ok(vec![PendingEvent::now(MemberTransferred { member: c.member, from, to: c.to, effective: c.effective })])
}

/// Decides [`EraseMember`].
pub(crate) fn erase_member(c: &EraseMember, loaded: &Aggregates) -> Result<Vec<PendingEvent>, DomainError> {
    member(loaded, c.member)?;
    Ok(vec![PendingEvent::now(MemberErased { member: c.member })])
}

/// Decides [`RecordEvaluation`].
pub(crate) fn record_evaluation(c: &RecordEvaluation, loaded: &Aggregates) -> Result<Vec<PendingEvent>, DomainError> {
    member(loaded, c.member)?;
    Ok(vec![PendingEvent::now(EvaluationRecorded {
        member: c.member,
        half_year: c.half_year,
        public_score: c.public_score,
        leader_score: c.leader_score,
        note: c.note.clone(),
    })])
}
