//! Aggregate state folded from events. Applying an event only changes state and never
//! fails: every rule was checked when the event was decided.

use std::collections::{BTreeMap, HashMap};

use crate::*;

/// The aggregates a command needs, each with the stream version it was read at.
#[derive(Clone, Default, Debug)]
pub struct Aggregates {
    pub units: HashMap<UnitId, UnitState>,
    pub members: HashMap<MemberId, MemberState>,
    pub outings: HashMap<OutingId, OutingState>,
    /// Every stream read, with its last version (`None`: read and empty).
    pub versions: HashMap<StreamId, Option<u64>>,
}

impl Aggregates {
    pub fn is_loaded(&self, stream: &StreamId) -> bool {
        self.versions.contains_key(stream)
    }

    /// The last version of a stream as read or applied (`None`: empty or not read).
    pub fn version(&self, stream: StreamId) -> Option<u64> {
        self.versions.get(&stream).copied().flatten()
    }

    /// Records that `stream` was read and found empty.
    pub fn mark_empty(&mut self, stream: StreamId) {
        self.versions.entry(stream).or_insert(None);
    }

    /// Folds one stored event (at `version` of its stream) into the state.
    pub fn apply(&mut self, version: u64, event: &DomainEvent) {
        self.versions.insert(event.stream(), Some(version));
        match event {
            DomainEvent::UnitRegistered(e) => {
                self.units.insert(
                    e.unit,
                    UnitState {
                        name: e.name.clone(),
                        industry: e.industry.clone(),
                        region: e.region.clone(),
                        parent: e.parent,
                    },
                );
            }
            DomainEvent::UnitRenamed(e) => {
                if let Some(u) = self.units.get_mut(&e.unit) {
                    u.name = e.name.clone();
                }
            }
            DomainEvent::UnitMoved(e) => {
                if let Some(u) = self.units.get_mut(&e.unit) {
                    u.region = e.region.clone();
                    u.parent = e.parent;
                }
            }
            DomainEvent::MemberRegistered(e) => {
                self.members.insert(
                    e.member,
                    MemberState {
                        memberships: vec![(e.joined_on, e.unit)],
                        erased: false,
                        personal_version: version,
                        bookings: BTreeMap::new(),
                    },
                );
            }
            DomainEvent::UnitReclassified(e) => {
                if let Some(u) = self.units.get_mut(&e.unit) {
                    u.industry = e.industry.clone();
                }
            }
            DomainEvent::PersonalDataCorrected(e) => {
                if let Some(m) = self.members.get_mut(&e.member) {
                    m.personal_version = version;
                }
            }
            DomainEvent::MemberTransferred(e) => {
                if let Some(m) = self.members.get_mut(&e.member) {
                    m.memberships.push((e.effective, e.to));
                }
            }
            DomainEvent::MemberErased(e) => {
                if let Some(m) = self.members.get_mut(&e.member) {
                    m.erased = true;
                }
            }
            DomainEvent::ServiceBooked(e) => {
                if let Some(m) = self.members.get_mut(&e.member) {
                    m.bookings.insert(e.outing, Booking { date: e.date, span: e.span, minutes: e.minutes });
                }
            }
            DomainEvent::ServiceReleased(e) => {
                if let Some(m) = self.members.get_mut(&e.member) {
                    m.bookings.remove(&e.outing);
                }
            }
            // Evaluations change no rule's state.
            DomainEvent::EvaluationRecorded(_) => {}
            DomainEvent::OutingRegistered(e) => {
                self.outings.insert(
                    e.outing,
                    OutingState {
                        unit: e.unit,
                        details: e.details.clone(),
                        participants: e.participants.clone(),
                        voided: false,
                        verified: false,
                    },
                );
            }
            DomainEvent::OutingAmended(e) => {
                if let Some(o) = self.outings.get_mut(&e.outing) {
                    o.details = e.details.clone();
                    o.participants = e.participants.clone();
                    o.verified = false;
                }
            }
            DomainEvent::OutingVoided(e) => {
                if let Some(o) = self.outings.get_mut(&e.outing) {
                    o.voided = true;
                }
            }
            DomainEvent::OutingVerified(e) => {
                if let Some(o) = self.outings.get_mut(&e.outing) {
                    o.verified = true;
                }
            }
        }
    }
}

/// One stream's folded state at a version: what a command-side cache keeps so that the
/// next command reads only the events appended since.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct StreamSnapshot {
    pub version: u64,
    pub state: StreamState,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub enum StreamState {
    Unit(UnitState),
    Member(MemberState),
    Outing(OutingState),
}

impl Aggregates {
    /// The state of `stream` as loaded, if it has any events.
    pub fn snapshot(&self, stream: StreamId) -> Option<StreamSnapshot> {
        let version = (*self.versions.get(&stream)?)?;
        let state = match stream.kind {
            crate::StreamKind::Unit => StreamState::Unit(self.units.get(&UnitId(stream.id))?.clone()),
            crate::StreamKind::Member => StreamState::Member(self.members.get(&MemberId(stream.id))?.clone()),
            crate::StreamKind::Outing => StreamState::Outing(self.outings.get(&OutingId(stream.id))?.clone()),
        };
        Some(StreamSnapshot { version, state })
    }

    /// Loads `stream` from a snapshot; events after `snapshot.version` are applied next.
    pub fn restore(&mut self, stream: StreamId, snapshot: StreamSnapshot) {
        self.versions.insert(stream, Some(snapshot.version));
        match snapshot.state {
            StreamState::Unit(s) => {
                self.units.insert(UnitId(stream.id), s);
            }
            StreamState::Member(s) => {
                self.members.insert(MemberId(stream.id), s);
            }
            StreamState::Outing(s) => {
                self.outings.insert(OutingId(stream.id), s);
            }
        }
    }
}
