//! Members: the Party members who serve, their commands (registration, transfer,
//! correction of personal data, erasure, evaluation), events (their calendar of
//! bookings included), state and decisions.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use time::Date;

use crate::command::Decision;
use crate::decide::{absent, coded, Deciding, PendingEvent};
use crate::event::Fact;
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

/// Shows a member on the notice board, as they consented (亮身份: their name, their
/// post and their commitments, nothing else), or takes the card down when they
/// withdraw consent. Recorded by their unit's clerk, who keeps the signed consent.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SetPublicCard {
    pub member: MemberId,
    pub shown: bool,
    /// Their post (岗位), e.g. 窗口受理员; shown on the card.
    pub post: Option<Text>,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PublicCardSet {
    pub member: MemberId,
    pub shown: bool,
    pub post: Option<Text>,
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

/// A member's bookings, by outing and by day. Every registration checks the
/// participants' other bookings on its day (overlaps, the daily limit); a calendar kept
/// over years of campaigns holds hundreds, so that day is looked up, not searched for.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Calendar {
    by_outing: BTreeMap<OutingId, Booking>,
    by_day: BTreeSet<(Date, OutingId)>,
}

impl Calendar {
    pub fn get(&self, outing: &OutingId) -> Option<&Booking> {
        self.by_outing.get(outing)
    }

    pub fn contains_key(&self, outing: &OutingId) -> bool {
        self.by_outing.contains_key(outing)
    }

    /// Books `outing`, in place of its booking so far.
    pub fn insert(&mut self, outing: OutingId, booking: Booking) {
        if let Some(before) = self.by_outing.insert(outing, booking) {
            self.by_day.remove(&(before.date, outing));
        }
        self.by_day.insert((booking.date, outing));
    }

    pub fn remove(&mut self, outing: &OutingId) {
        if let Some(before) = self.by_outing.remove(outing) {
            self.by_day.remove(&(before.date, *outing));
        }
    }

    /// The bookings on `date`, by outing.
    pub fn on(&self, date: Date) -> impl Iterator<Item = (OutingId, &Booking)> + '_ {
        let day = (date, OutingId(uuid::Uuid::nil()))..=(date, OutingId(uuid::Uuid::max()));
        self.by_day.range(day).map(|(_, outing)| (*outing, &self.by_outing[outing]))
    }
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
    pub bookings: Calendar,
    /// The digest of their check-in PIN, once a clerk set one.
    pub pin: Option<PinDigest>,
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

/// The unit of the member as `loaded` knows them.
fn member_unit(loaded: &Aggregates, member: MemberId) -> Option<UnitId> {
    loaded.members.get(&member).map(MemberState::current_unit)
}

impl Decision for RegisterMember {
    fn answered_by(&self, event: &DomainEvent) -> bool {
        matches!(event, DomainEvent::MemberRegistered(e)
            if (self.unit, self.joined_on, &self.code) == (e.unit, e.joined_on, &e.code))
    }

    fn needs(&self, _: &Aggregates, needs: &mut Vec<StreamId>) {
        needs.push(StreamId::unit(self.unit));
    }

    fn units_written(&self, _: &Aggregates) -> Vec<Option<UnitId>> {
        vec![Some(self.unit)]
    }

    fn decide(&self, cx: &mut Deciding<'_>) -> Result<Vec<PendingEvent>, DomainError> {
        self.personal.validate()?;
        check_date("joinedOn", self.joined_on)?;
        if let Some(born) = self.personal.birth_date.filter(|born| *born > self.joined_on) {
            return Err(DomainError::InvalidValue {
                field: "joinedOn".to_owned(),
                reason: format!("{} is before the member's birth date {born}", self.joined_on),
            });
        }
        coded("member", self.member.0, self.code.as_ref())?;
        absent(cx.loaded, StreamId::member(self.member))?;
        unit(cx.loaded, self.unit)?;
        let personal = cx.sealer.seal(self.member.into(), &self.personal);
        Ok(vec![PendingEvent::now(MemberRegistered {
            member: self.member,
            unit: self.unit,
            joined_on: self.joined_on,
            personal,
            code: self.code.clone(),
        })])
    }
}

impl Decision for TransferMember {
    fn answered_by(&self, event: &DomainEvent) -> bool {
        matches!(event, DomainEvent::MemberTransferred(e)
            if (self.member, self.to, self.effective) == (e.member, e.to, e.effective))
    }

    fn needs(&self, _: &Aggregates, needs: &mut Vec<StreamId>) {
        needs.push(StreamId::unit(self.to));
    }

    /// Both ends of the transfer.
    fn units_written(&self, loaded: &Aggregates) -> Vec<Option<UnitId>> {
        vec![member_unit(loaded, self.member), Some(self.to)]
    }

    fn decide(&self, cx: &mut Deciding<'_>) -> Result<Vec<PendingEvent>, DomainError> {
        check_date("effective", self.effective)?;
        let member = member(cx.loaded, self.member)?;
        unit(cx.loaded, self.to)?;
        let from = member.current_unit();
        let invalid = |reason: String| DomainError::InvalidTransfer { member: self.member, reason };
        if from == self.to {
            return Err(invalid(format!("the member already belongs to unit {}", self.to)));
        }
        let (since, _) = member.memberships.last().copied().expect("a registered member has a unit");
        if self.effective <= since {
            return Err(invalid(format!(
                "effective {} is not after the member's last move on {since}",
                self.effective
            )));
        }
        Ok(vec![PendingEvent::now(MemberTransferred {
            member: self.member,
            from,
            to: self.to,
            effective: self.effective,
        })])
    }
}

impl Decision for CorrectPersonalData {
    /// By its member and reason: sealed personal data is not compared.
    fn answered_by(&self, event: &DomainEvent) -> bool {
        matches!(event, DomainEvent::PersonalDataCorrected(e) if (self.member, &self.reason) == (e.member, &e.reason))
    }

    fn units_written(&self, loaded: &Aggregates) -> Vec<Option<UnitId>> {
        vec![member_unit(loaded, self.member)]
    }

    fn decide(&self, cx: &mut Deciding<'_>) -> Result<Vec<PendingEvent>, DomainError> {
        self.personal.validate()?;
        let current = member(cx.loaded, self.member)?;
        if let Some(born) = self.personal.birth_date {
            let (joined, _) = current.memberships.first().copied().expect("a registered member has a unit");
            if born > joined {
                return Err(DomainError::InvalidValue {
                    field: "personal.birthDate".to_owned(),
                    reason: format!("{born} is after the day the member joined, {joined}"),
                });
            }
        }
        let personal = cx.sealer.seal(self.member.into(), &self.personal);
        Ok(vec![PendingEvent::now(PersonalDataCorrected {
            member: self.member,
            personal,
            reason: self.reason.clone(),
        })])
    }
}

impl Decision for EraseMember {
    fn answered_by(&self, event: &DomainEvent) -> bool {
        matches!(event, DomainEvent::MemberErased(e) if self.member == e.member)
    }

    fn units_written(&self, loaded: &Aggregates) -> Vec<Option<UnitId>> {
        vec![member_unit(loaded, self.member)]
    }

    fn decide(&self, cx: &mut Deciding<'_>) -> Result<Vec<PendingEvent>, DomainError> {
        member(cx.loaded, self.member)?;
        Ok(vec![PendingEvent::now(MemberErased { member: self.member })])
    }
}

impl Decision for RecordEvaluation {
    fn answered_by(&self, event: &DomainEvent) -> bool {
        matches!(event, DomainEvent::EvaluationRecorded(e)
            if (self.member, self.half_year, self.public_score, self.leader_score, &self.note)
                == (e.member, e.half_year, e.public_score, e.leader_score, &e.note))
    }

    fn units_written(&self, loaded: &Aggregates) -> Vec<Option<UnitId>> {
        vec![member_unit(loaded, self.member)]
    }

    fn decide(&self, cx: &mut Deciding<'_>) -> Result<Vec<PendingEvent>, DomainError> {
        member(cx.loaded, self.member)?;
        Ok(vec![PendingEvent::now(EvaluationRecorded {
            member: self.member,
            half_year: self.half_year,
            public_score: self.public_score,
            leader_score: self.leader_score,
            note: self.note.clone(),
        })])
    }
}

/// Folds an event into the state of member `id`, if it was loaded.
fn change(state: &mut Aggregates, id: MemberId, fold: impl FnOnce(&mut MemberState)) {
    if let Some(loaded) = state.members.get_mut(&id) {
        fold(loaded);
    }
}

impl Fact for MemberRegistered {
    fn fold(&self, version: u64, state: &mut Aggregates) {
        let member = MemberState {
            memberships: vec![(self.joined_on, self.unit)],
            erased: false,
            personal_version: version,
            bookings: Calendar::default(),
            pin: None,
        };
        state.members.insert(self.member, member);
    }
}

impl Fact for PersonalDataCorrected {
    fn fold(&self, version: u64, state: &mut Aggregates) {
        change(state, self.member, |m| m.personal_version = version);
    }
}

impl Fact for MemberTransferred {
    fn fold(&self, _: u64, state: &mut Aggregates) {
        change(state, self.member, |m| m.memberships.push((self.effective, self.to)));
    }
}

impl Decision for SetPublicCard {
    fn answered_by(&self, event: &DomainEvent) -> bool {
        matches!(event, DomainEvent::PublicCardSet(e)
            if (e.member, e.shown, &e.post) == (self.member, self.shown, &self.post))
    }

    fn units_written(&self, loaded: &Aggregates) -> Vec<Option<UnitId>> {
        vec![loaded.members.get(&self.member).map(MemberState::current_unit)]
    }

    fn decide(&self, cx: &mut Deciding<'_>) -> Result<Vec<PendingEvent>, DomainError> {
        member(cx.loaded, self.member)?;
        if !self.shown && self.post.is_some() {
            return Err(DomainError::InvalidValue {
                field: "post".to_owned(),
                reason: "a card taken down shows no post".to_owned(),
            });
        }
        Ok(vec![PendingEvent::now(PublicCardSet { member: self.member, shown: self.shown, post: self.post.clone() })])
    }
}

// The card is the notice board's: no rule of the command side depends on it.
impl Fact for PublicCardSet {
    fn fold(&self, _: u64, _: &mut Aggregates) {}
}

impl Fact for MemberErased {
    fn fold(&self, _: u64, state: &mut Aggregates) {
        change(state, self.member, |m| m.erased = true);
    }
}

impl Fact for ServiceBooked {
    fn fold(&self, _: u64, state: &mut Aggregates) {
        change(state, self.member, |m| {
            m.bookings.insert(self.outing, Booking { date: self.date, span: self.span, minutes: self.minutes });
        });
    }
}

impl Fact for ServiceReleased {
    fn fold(&self, _: u64, state: &mut Aggregates) {
        change(state, self.member, |m| {
            m.bookings.remove(&self.outing);
        });
    }
}

impl Fact for EvaluationRecorded {
    /// Evaluations change no rule's state.
    fn fold(&self, _: u64, _: &mut Aggregates) {}
}
