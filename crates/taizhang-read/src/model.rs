//! The read model: every projection, fed only by the log, keeping enough history to
//! answer "as of" any earlier position.
//!
//! Each aggregate keeps its versions with the position that made them, so a view as
//! of position P is the last version at or before P. Maps are `BTreeMap`s so that the
//! model's encoding is canonical: its digest is the hash of its bytes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use taizhang_core::*;
use taizhang_store::{Position, RecordedEvent};
use time::Date;

/// A unit as of one version.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct UnitVersion {
    pub position: Position,
    pub name: Text,
    pub industry: Text,
    pub region: Text,
    pub parent: Option<UnitId>,
}

/// A member's membership from a date, recorded at a position.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Membership {
    pub position: Position,
    pub since: Date,
    pub unit: UnitId,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Evaluation {
    pub position: Position,
    pub half_year: HalfYear,
    pub public_score: Score,
    pub leader_score: Score,
}

#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct MemberHistory {
    pub memberships: Vec<Membership>,
    pub erased_at: Option<Position>,
    pub evaluations: Vec<Evaluation>,
}

impl MemberHistory {
    /// The unit the member belongs to on `date`, as known at `as_of`.
    pub fn unit_on(&self, date: Date, as_of: Position) -> Option<UnitId> {
        let mut known: Vec<&Membership> = self.memberships.iter().filter(|m| m.position <= as_of).collect();
        known.sort_by_key(|m| m.since);
        known.iter().rev().find(|m| m.since <= date).map(|m| m.unit)
    }

    pub fn registered_by(&self, as_of: Position) -> bool {
        self.memberships.first().is_some_and(|m| m.position <= as_of)
    }

    /// The latest evaluation of a half-year known at `as_of` (a later one corrects).
    pub fn evaluation(&self, half_year: HalfYear, as_of: Position) -> Option<&Evaluation> {
        self.evaluations.iter().rev().find(|e| e.half_year == half_year && e.position <= as_of)
    }
}

/// What changed in one version of an outing.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum Change {
    Registered,
    Amended { reason: Text },
    Voided { reason: Text },
    Verified { note: Option<Text> },
}

/// The recorded content of an outing: what a registration or an amendment says.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct OutingContent {
    pub details: OutingDetails,
    pub participants: Vec<Participation>,
}

impl OutingContent {
    pub fn total_minutes(&self) -> u64 {
        self.participants.iter().map(|p| p.minutes.get() as u64).sum()
    }

    pub fn minutes_of(&self, member: MemberId) -> Option<Minutes> {
        self.participants.iter().find(|p| p.member == member).map(|p| p.minutes)
    }
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct OutingVersion {
    pub position: Position,
    pub recorded_at: Timestamp,
    pub actor: Actor,
    pub change: Change,
    /// Set by registrations and amendments; other versions keep the content before them.
    pub content: Option<OutingContent>,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct OutingHistory {
    pub unit: UnitId,
    pub versions: Vec<OutingVersion>,
}

/// An outing as known at one position.
#[derive(Clone, Copy, Debug)]
pub struct OutingView<'a> {
    pub id: OutingId,
    pub unit: UnitId,
    pub content: &'a OutingContent,
    pub voided: bool,
    pub verified: bool,
    /// Every version up to the view's position, oldest first.
    pub versions: &'a [OutingVersion],
}

impl OutingHistory {
    /// The outing as known at `as_of`, or `None` if it was not registered yet.
    pub fn at(&self, id: OutingId, as_of: Position) -> Option<OutingView<'_>> {
        let known = self.versions.partition_point(|v| v.position <= as_of);
        let versions = &self.versions[..known];
        let content = versions.iter().rev().find_map(|v| v.content.as_ref())?;
        let mut voided = false;
        let mut verified = false;
        for v in versions {
            match v.change {
                Change::Registered | Change::Amended { .. } => verified = false,
                Change::Voided { .. } => voided = true,
                Change::Verified { .. } => verified = true,
            }
        }
        Some(OutingView { id, unit: self.unit, content, voided, verified, versions })
    }
}

/// Every projection of the log.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct ReadModel {
    /// The last position applied.
    pub position: Position,
    /// The hash of the event at `position`: a checkpoint matches a log only if it has
    /// this event there.
    pub last_hash: [u8; 32],
    pub units: BTreeMap<UnitId, Vec<UnitVersion>>,
    pub members: BTreeMap<MemberId, MemberHistory>,
    pub outings: BTreeMap<OutingId, OutingHistory>,
    /// Outings of each unit, in registration order.
    pub unit_outings: BTreeMap<UnitId, Vec<OutingId>>,
    /// Outings each member took part in, in any version.
    pub member_outings: BTreeMap<MemberId, Vec<OutingId>>,
    /// Members who ever belonged to each unit.
    pub unit_members: BTreeMap<UnitId, Vec<MemberId>>,
    /// (recorded-at, last position recorded then), one entry per distinct moment, so
    /// that "as of a time" becomes "as of a position".
    pub clock: Vec<(Timestamp, Position)>,
}

fn push_unique<T: PartialEq>(list: &mut Vec<T>, item: T) {
    if !list.contains(&item) {
        list.push(item);
    }
}

impl ReadModel {
    /// Applies the next event of the log. Never fails: an event the model does not need
    /// (a member's calendar booking, say) changes only the position.
    pub fn apply(&mut self, event: &RecordedEvent) {
        debug_assert_eq!(event.position, self.position + 1, "events are applied in log order");
        self.position = event.position;
        self.last_hash = event.hash;
        match self.clock.last_mut() {
            Some((at, last)) if *at == event.recorded_at => *last = event.position,
            _ => self.clock.push((event.recorded_at, event.position)),
        }
        let position = event.position;
        match &event.payload {
            DomainEvent::UnitRegistered(e) => {
                self.units.entry(e.unit).or_default().push(UnitVersion {
                    position,
                    name: e.name.clone(),
                    industry: e.industry.clone(),
                    region: e.region.clone(),
                    parent: e.parent,
                });
            }
            DomainEvent::UnitRenamed(e) => {
                if let Some(versions) = self.units.get_mut(&e.unit) {
                    let mut next = versions.last().cloned().expect("a unit has a first version");
                    next.position = position;
                    next.name = e.name.clone();
                    versions.push(next);
                }
            }
            DomainEvent::UnitMoved(e) => {
                if let Some(versions) = self.units.get_mut(&e.unit) {
                    let mut next = versions.last().cloned().expect("a unit has a first version");
                    next.position = position;
                    next.region = e.region.clone();
                    next.parent = e.parent;
                    versions.push(next);
                }
            }
            DomainEvent::MemberRegistered(e) => {
                let member = self.members.entry(e.member).or_default();
                member.memberships.push(Membership { position, since: e.joined_on, unit: e.unit });
                push_unique(self.unit_members.entry(e.unit).or_default(), e.member);
            }
            DomainEvent::MemberTransferred(e) => {
                let member = self.members.entry(e.member).or_default();
                member.memberships.push(Membership { position, since: e.effective, unit: e.to });
                push_unique(self.unit_members.entry(e.to).or_default(), e.member);
            }
            DomainEvent::MemberErased(e) => {
                self.members.entry(e.member).or_default().erased_at = Some(position);
            }
            DomainEvent::EvaluationRecorded(e) => {
                self.members.entry(e.member).or_default().evaluations.push(Evaluation {
                    position,
                    half_year: e.half_year,
                    public_score: e.public_score,
                    leader_score: e.leader_score,
                });
            }
            // The member calendar serves the write side's rules; hours are read from
            // the outings themselves.
            DomainEvent::ServiceBooked(_) | DomainEvent::ServiceReleased(_) => {}
            DomainEvent::OutingRegistered(e) => {
                let content = OutingContent { details: e.details.clone(), participants: e.participants.clone() };
                self.index_participants(e.outing, &content);
                self.unit_outings.entry(e.unit).or_default().push(e.outing);
                self.outings.insert(
                    e.outing,
                    OutingHistory {
                        unit: e.unit,
                        versions: vec![self.version(event, Change::Registered, Some(content))],
                    },
                );
            }
            DomainEvent::OutingAmended(e) => {
                let content = OutingContent { details: e.details.clone(), participants: e.participants.clone() };
                self.index_participants(e.outing, &content);
                let version = self.version(event, Change::Amended { reason: e.reason.clone() }, Some(content));
                self.push_outing_version(e.outing, version);
            }
            DomainEvent::OutingVoided(e) => {
                let version = self.version(event, Change::Voided { reason: e.reason.clone() }, None);
                self.push_outing_version(e.outing, version);
            }
            DomainEvent::OutingVerified(e) => {
                let version = self.version(event, Change::Verified { note: e.note.clone() }, None);
                self.push_outing_version(e.outing, version);
            }
        }
    }

    fn version(&self, event: &RecordedEvent, change: Change, content: Option<OutingContent>) -> OutingVersion {
        OutingVersion { position: event.position, recorded_at: event.recorded_at, actor: event.actor, change, content }
    }

    fn push_outing_version(&mut self, outing: OutingId, version: OutingVersion) {
        if let Some(history) = self.outings.get_mut(&outing) {
            history.versions.push(version);
        }
    }

    fn index_participants(&mut self, outing: OutingId, content: &OutingContent) {
        for p in &content.participants {
            push_unique(self.member_outings.entry(p.member).or_default(), outing);
        }
    }

    /// The last position recorded at or before `at`.
    pub fn position_at(&self, at: Timestamp) -> Position {
        let i = self.clock.partition_point(|(t, _)| *t <= at);
        if i == 0 {
            0
        } else {
            self.clock[i - 1].1
        }
    }

    /// A unit as known at `as_of`.
    pub fn unit(&self, unit: UnitId, as_of: Position) -> Option<&UnitVersion> {
        self.units.get(&unit)?.iter().rev().find(|v| v.position <= as_of)
    }

    pub fn outing(&self, outing: OutingId, as_of: Position) -> Option<OutingView<'_>> {
        self.outings.get(&outing)?.at(outing, as_of)
    }

    /// Members of `unit` on `date`, as known at `as_of`.
    pub fn members_of(&self, unit: UnitId, date: Date, as_of: Position) -> impl Iterator<Item = MemberId> + '_ {
        self.unit_members
            .get(&unit)
            .into_iter()
            .flatten()
            .copied()
            .filter(move |m| self.members.get(m).is_some_and(|h| h.unit_on(date, as_of) == Some(unit)))
    }
}
