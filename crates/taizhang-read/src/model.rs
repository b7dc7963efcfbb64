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
        // The latest move on or before `date`; of two for the same day, the later recorded.
        self.memberships
            .iter()
            .filter(|m| m.position <= as_of && m.since <= date)
            .max_by_key(|m| (m.since, m.position))
            .map(|m| m.unit)
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

/// The recorded content of an outing (what a registration or an amendment says), in
/// the model's compact form: repeated texts are interned as [`Symbols`].
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct OutingContent {
    pub date: Date,
    pub span: TimeRange,
    place: u32,
    category: u32,
    description: Option<Box<str>>,
    beneficiaries: u32,
    pub participants: Box<[Participation]>,
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
    actor: u32,
    pub change: Change,
    /// Set by registrations and amendments; other versions keep the content before them.
    content: Option<Box<OutingContent>>,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct OutingHistory {
    pub id: OutingId,
    pub unit: UnitId,
    pub versions: Vec<OutingVersion>,
}

/// One change of an outing as a reader sees it: who made it, when, and why.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct HistoryItem {
    pub position: Position,
    pub recorded_at: Timestamp,
    pub actor: Actor,
    pub change: Change,
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
    model: &'a ReadModel,
}

impl OutingView<'_> {
    pub fn date(&self) -> Date {
        self.content.date
    }

    /// The outing's details as recorded (texts restored from the symbol table).
    pub fn details(&self) -> OutingDetails {
        let c = self.content;
        OutingDetails {
            date: c.date,
            span: c.span,
            place: self.model.symbols.text(c.place),
            category: self.model.symbols.text(c.category),
            description: c.description.as_deref().and_then(|d| Text::parse("description", d).ok()),
            beneficiaries: c.beneficiaries,
        }
    }

    /// Whether `member` was a participant in any version up to the view's position.
    pub fn ever_listed(&self, member: MemberId) -> bool {
        self.versions.iter().filter_map(|v| v.content.as_deref()).any(|c| c.minutes_of(member).is_some())
    }

    /// The position of the latest version in the view.
    pub fn last_position(&self) -> Position {
        self.versions.last().map_or(0, |v| v.position)
    }

    pub fn history(&self) -> impl Iterator<Item = HistoryItem> + '_ {
        self.versions.iter().map(|v| HistoryItem {
            position: v.position,
            recorded_at: v.recorded_at,
            actor: self.model.actors[v.actor as usize],
            change: v.change.clone(),
        })
    }
}

impl OutingHistory {
    /// The outing as known at `as_of`, or `None` if it was not registered yet.
    fn at<'a>(&'a self, model: &'a ReadModel, as_of: Position) -> Option<OutingView<'a>> {
        let known = self.versions.partition_point(|v| v.position <= as_of);
        let versions = &self.versions[..known];
        let content = versions.iter().rev().find_map(|v| v.content.as_deref())?;
        let mut voided = false;
        let mut verified = false;
        for v in versions {
            match v.change {
                Change::Registered | Change::Amended { .. } => verified = false,
                Change::Voided { .. } => voided = true,
                Change::Verified { .. } => verified = true,
            }
        }
        Some(OutingView { id: self.id, unit: self.unit, content, voided, verified, versions, model })
    }
}

/// Interned texts: place names and categories repeat across thousands of outings, so
/// the model keeps each once. Ids follow first use in log order, so the same log
/// always gives the same table.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Symbols {
    texts: Vec<Text>,
    by_hash: std::collections::HashMap<u64, Vec<u32>>,
}

impl Symbols {
    fn hash(text: &str) -> u64 {
        use std::hash::{BuildHasher, BuildHasherDefault};
        BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default().hash_one(text)
    }

    fn intern(&mut self, text: &Text) -> u32 {
        let ids = self.by_hash.entry(Self::hash(text.as_str())).or_default();
        if let Some(id) = ids.iter().copied().find(|id| self.texts[*id as usize] == *text) {
            return id;
        }
        let id = self.texts.len() as u32;
        self.texts.push(text.clone());
        ids.push(id);
        id
    }

    fn text(&self, id: u32) -> Text {
        self.texts[id as usize].clone()
    }
}

impl Serialize for Symbols {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.texts.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Symbols {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut symbols = Symbols::default();
        for text in Vec::<Text>::deserialize(d)? {
            symbols.intern(&text);
        }
        Ok(symbols)
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
    /// Outings in registration order; the index is the outing's number in the model.
    pub outings: Vec<OutingHistory>,
    outing_numbers: BTreeMap<OutingId, u32>,
    /// Outings of each unit, in registration order.
    unit_outings: BTreeMap<UnitId, Vec<u32>>,
    /// Outings each member took part in, in any version.
    member_outings: BTreeMap<MemberId, Vec<u32>>,
    /// Members who ever belonged to each unit.
    pub unit_members: BTreeMap<UnitId, Vec<MemberId>>,
    symbols: Symbols,
    actors: Vec<Actor>,
    /// (recorded-at, last position recorded then), one entry per distinct moment, so
    /// that "as of a time" becomes "as of a position".
    pub clock: Vec<(Timestamp, Position)>,
}

/// Pushes without the standard growth to four slots: most outings have one to three
/// versions, and millions of them are kept.
fn push_exact<T>(list: &mut Vec<T>, item: T) {
    list.reserve_exact(1);
    list.push(item);
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
                let number = self.outings.len() as u32;
                let content = self.content(&e.details, &e.participants);
                self.index_participants(number, &content);
                self.unit_outings.entry(e.unit).or_default().push(number);
                self.outing_numbers.insert(e.outing, number);
                let version = self.version(event, Change::Registered, Some(content));
                self.outings.push(OutingHistory { id: e.outing, unit: e.unit, versions: vec![version] });
            }
            DomainEvent::OutingAmended(e) => {
                let Some(&number) = self.outing_numbers.get(&e.outing) else { return };
                let content = self.content(&e.details, &e.participants);
                self.index_participants(number, &content);
                let version = self.version(event, Change::Amended { reason: e.reason.clone() }, Some(content));
                push_exact(&mut self.outings[number as usize].versions, version);
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

    fn content(&mut self, details: &OutingDetails, participants: &[Participation]) -> OutingContent {
        OutingContent {
            date: details.date,
            span: details.span,
            place: self.symbols.intern(&details.place),
            category: self.symbols.intern(&details.category),
            description: details.description.as_ref().map(|d| d.as_str().into()),
            beneficiaries: details.beneficiaries,
            participants: participants.into(),
        }
    }

    fn version(&mut self, event: &RecordedEvent, change: Change, content: Option<OutingContent>) -> OutingVersion {
        let actor = match self.actors.iter().position(|a| *a == event.actor) {
            Some(i) => i as u32,
            None => {
                self.actors.push(event.actor);
                (self.actors.len() - 1) as u32
            }
        };
        OutingVersion {
            position: event.position,
            recorded_at: event.recorded_at,
            actor,
            change,
            content: content.map(Box::new),
        }
    }

    fn push_outing_version(&mut self, outing: OutingId, version: OutingVersion) {
        if let Some(&number) = self.outing_numbers.get(&outing) {
            push_exact(&mut self.outings[number as usize].versions, version);
        }
    }

    fn index_participants(&mut self, number: u32, content: &OutingContent) {
        for p in content.participants.iter() {
            push_unique(self.member_outings.entry(p.member).or_default(), number);
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
        self.outing_by_number(*self.outing_numbers.get(&outing)?, as_of)
    }

    /// An outing by its number in the model (see [`ReadModel::unit_outings`]).
    pub fn outing_by_number(&self, number: u32, as_of: Position) -> Option<OutingView<'_>> {
        self.outings.get(number as usize)?.at(self, as_of)
    }

    /// The numbers of a unit's outings, in registration order.
    pub fn unit_outings(&self, unit: UnitId) -> &[u32] {
        self.unit_outings.get(&unit).map_or(&[], Vec::as_slice)
    }

    /// The numbers of the outings a member was ever listed in.
    pub fn member_outings(&self, member: MemberId) -> &[u32] {
        self.member_outings.get(&member).map_or(&[], Vec::as_slice)
    }

    /// The derived indexes, for digests.
    pub(crate) fn indexes(&self) -> impl Serialize + '_ {
        (
            &self.outing_numbers,
            &self.unit_outings,
            &self.member_outings,
            &self.unit_members,
            &self.symbols,
            &self.actors,
        )
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
