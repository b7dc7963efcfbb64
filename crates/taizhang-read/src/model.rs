//! The read model: every projection, fed only by the log, keeping enough history to
//! answer "as of" any earlier position.
//!
//! Each aggregate keeps its versions with the position that made them, so a view as
//! of position P is the last version at or before P. Maps are `BTreeMap`s so that the
//! model's encoding is canonical: its digest is the hash of its bytes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use taizhang_core::interner::Interner;
use taizhang_core::*;
use taizhang_store::{Position, RecordedEvent};

use crate::evaluations::{BallotMark, BallotRecord, EvaluationHistory, LeaderReview};
use crate::look_back::RoundTallies;
use crate::recognitions::{DecisionRecord, ObjectionRecord, PublishedBoard, RecognitionRecord};
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

/// A look-back's finding on a commitment.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Assessment {
    pub position: Position,
    pub fulfilment: Fulfilment,
    pub evidence: Text,
    /// The reviewer who assessed it.
    pub by: Actor,
}

/// A commitment as of one version: what it says and what became of it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct CommitmentVersion {
    pub position: Position,
    pub content: CommitmentContent,
    /// Why it was last amended (none before its first amendment).
    pub reason: Option<Text>,
    /// Why it was withdrawn, if it was.
    pub withdrawn: Option<Text>,
    /// The latest finding, if any.
    pub assessment: Option<Assessment>,
}

/// Everything known of a commitment, version by version.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct CommitmentHistory {
    pub unit: UnitId,
    pub member: Option<MemberId>,
    /// The items it carries on.
    pub renews: Vec<CommitmentId>,
    /// The renewals that carry it on, each with where it was made.
    pub renewed_by: Vec<(Position, CommitmentId)>,
    pub versions: Vec<CommitmentVersion>,
}

impl CommitmentHistory {
    /// The version current at `as_of`, if the commitment was made by then.
    pub fn at(&self, as_of: Position) -> Option<&CommitmentVersion> {
        self.versions.iter().rev().find(|v| v.position <= as_of)
    }

    /// The renewals made by `as_of`.
    pub fn renewed_by(&self, as_of: Position) -> impl Iterator<Item = CommitmentId> + '_ {
        self.renewed_by.iter().filter(move |(p, _)| *p <= as_of).map(|(_, id)| *id)
    }
}

/// A look-back round: what it covers, and when it was opened and closed.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct RoundHistory {
    pub name: Text,
    pub period: Period,
    pub scope: RoundScope,
    pub opened_at: Position,
    pub opened_by: Actor,
    pub closed_at: Option<Position>,
}

impl RoundHistory {
    /// Whether the round was closed by `as_of`.
    pub fn closed_by(&self, as_of: Position) -> bool {
        self.closed_at.is_some_and(|p| p <= as_of)
    }
}

/// An opinion of the public gathered in a round.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct OpinionRecord {
    pub position: Position,
    pub round: RoundId,
    pub unit: UnitId,
    pub commitment: Option<CommitmentId>,
    pub text: Text,
    pub rating: Option<Rating>,
    pub channel: Channel,
    /// The citizen left their name (sealed in the log under the opinion's own key).
    pub citizen_given: bool,
    /// Where the citizen's key was destroyed, if it was.
    pub citizen_erased_at: Option<Position>,
    /// Who recorded it.
    pub by: Actor,
    /// Left on the notice board: it counts only once accepted.
    pub held: bool,
    /// How a held opinion was reviewed, when it was.
    pub review: Option<OpinionReview>,
}

/// The review of an opinion left on the notice board.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct OpinionReview {
    pub position: Position,
    pub accepted: bool,
    pub reason: Option<Text>,
    pub by: Actor,
}

impl OpinionRecord {
    /// Whether the opinion counts in its round (and shows on the board) as of `as_of`:
    /// recorded by the unit, or left on the board and accepted, by then.
    pub fn counts_at(&self, as_of: Position) -> bool {
        self.position <= as_of
            && (!self.held || self.review.as_ref().is_some_and(|r| r.accepted && r.position <= as_of))
    }

    /// The review as of `as_of`, if there was one by then.
    pub fn review_at(&self, as_of: Position) -> Option<&OpinionReview> {
        self.review.as_ref().filter(|r| r.position <= as_of)
    }
}

/// A certificate as issued, and what became of it since.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct CertificateRecord {
    pub position: Position,
    pub issued: CertificateIssued,
    /// Who issued it.
    pub by: Actor,
    /// Where and why it was revoked, if it was.
    pub revoked: Option<(Position, Text)>,
    /// Where one of its lines first no longer held (an outing amended or voided), and
    /// which outing.
    pub superseded: Option<(Position, OutingId)>,
}

/// A member's request to correct their record, and the unit's answer.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct CorrectionRecord {
    pub position: Position,
    pub requested: CorrectionRequested,
    /// Who sent it: the member themselves (`volunteer`), or a clerk for them.
    pub by: Actor,
    pub recorded_at: Timestamp,
    pub answer: Option<CorrectionAnswer>,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct CorrectionAnswer {
    pub position: Position,
    pub accepted: bool,
    pub reason: Text,
    pub by: Actor,
}

impl CorrectionRecord {
    /// The answer given by `as_of`, if any.
    pub fn answer_at(&self, as_of: Position) -> Option<&CorrectionAnswer> {
        self.answer.as_ref().filter(|a| a.position <= as_of)
    }
}

/// An outing's check-in: each opening, and each member's arrival and departure.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct CheckInRecord {
    /// Each opening (the last stands), with its position and who opened it.
    pub openings: Vec<(Position, Actor, String, CheckInRules)>,
    pub presences: BTreeMap<MemberId, PresenceRecord>,
}

impl CheckInRecord {
    /// The opening standing at `as_of`: its site code and rules.
    pub fn opening(&self, as_of: Position) -> Option<(&str, CheckInRules)> {
        self.openings.iter().rev().find(|o| o.0 <= as_of).map(|o| (o.2.as_str(), o.3))
    }

    /// Whether `presence`, as known at `as_of`, missed the check-out of an outing whose
    /// check-out closes at `closes`, the time being `now`: checked in, never out, and
    /// check-out has closed. Such a member has no hours until a clerk sets them.
    pub fn missed_check_out(presence: &PresenceRecord, as_of: Position, closes: Timestamp, now: Timestamp) -> bool {
        presence.arrived.0 <= as_of && presence.left.is_none_or(|(at, _, _)| at > as_of) && now > closes
    }
}

/// A member at an outing's site: when they checked in, and out if they did, with the
/// positions that recorded it.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct PresenceRecord {
    pub arrived: (Position, Timestamp),
    /// The check-out, and the participation it credited, if any.
    pub left: Option<(Position, Timestamp, Option<Participation>)>,
}

/// A reviewer's comment on a weekly summary.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct SummaryComment {
    pub position: Position,
    pub comment: Text,
    pub by: Actor,
}

/// A unit's summary of a week: each submission, and the comments on it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct SummaryHistory {
    pub unit: UnitId,
    pub week: IsoWeek,
    /// Each submission with where it was recorded; the last one stands.
    pub versions: Vec<(Position, SummaryText)>,
    pub comments: Vec<SummaryComment>,
}

impl SummaryHistory {
    /// The text standing at `as_of`, with where it was submitted, if it was by then.
    pub fn at(&self, as_of: Position) -> Option<&(Position, SummaryText)> {
        self.versions.iter().rev().find(|(p, _)| *p <= as_of)
    }
}

#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct MemberHistory {
    pub memberships: Vec<Membership>,
    pub erased_at: Option<Position>,
    pub evaluations: Vec<Evaluation>,
    /// Corrections of the personal data: where each is in the log and its version in
    /// the member's stream, in log order (empty for almost every member).
    pub corrections: Vec<(Position, u64)>,
    /// The member's card on the notice board, each time it was set or taken down, in
    /// log order: where, and the post shown (`None` once taken down).
    pub cards: Vec<(Position, Option<PublicCard>)>,
}

/// What a member's card on the notice board shows besides their name.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct PublicCard {
    pub post: Option<Text>,
}

impl MemberHistory {
    /// The member's card as of `as_of`, if they consented to be shown then and were
    /// not erased.
    pub fn card_at(&self, as_of: Position) -> Option<&PublicCard> {
        if self.erased_at.is_some_and(|p| p <= as_of) {
            return None;
        }
        self.cards.iter().rev().find(|(p, _)| *p <= as_of)?.1.as_ref()
    }

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

    /// The version, in the member's stream, of the record holding their personal data
    /// as known at `as_of`: the registration (0) or the latest correction then.
    pub fn personal_version(&self, as_of: Position) -> u64 {
        self.corrections.iter().rev().find(|(p, _)| *p <= as_of).map_or(0, |(_, v)| *v)
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
    Amended {
        reason: Text,
    },
    Voided {
        reason: Text,
    },
    Verified {
        note: Option<Text>,
    },
    CheckInOpened,
    CheckedIn {
        member: MemberId,
    },
    /// The member checked out; `credited` when it recorded their participation.
    CheckedOut {
        member: MemberId,
        credited: bool,
    },
}

/// Marks an absent number in the model's compact records (no content, no text).
const NONE: u32 = u32::MAX;

/// A participant as the model keeps it: the member by number (see [`ReadModel`]'s
/// `member_numbers`), 12 bytes instead of the event's 24.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
struct Listed {
    member: u32,
    span: TimeRange,
    minutes: Minutes,
}

/// The recorded content of an outing (what a registration or an amendment says), in
/// the model's compact form: texts are interned, participants live in the model's
/// `listed` arena (history is never rewritten, so content never moves or shrinks).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
struct OutingContent {
    date: Date,
    span: TimeRange,
    place: u32,
    category: u32,
    /// A text number, or [`NONE`].
    description: u32,
    beneficiaries: u32,
    /// The first of the participants in `listed`, and how many.
    listed_from: u32,
    listed_count: u32,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
enum ChangeKind {
    Registered,
    Amended,
    Voided,
    Verified,
    CheckInOpened,
    CheckedIn,
    /// Its content is [`NONE`] when it credited nothing.
    CheckedOut,
}

/// One version of an outing, 32 bytes: millions are kept. (Its recorded-at time could
/// be read from the model's clock, but a ledger page shows it for every version, and a
/// search of a clock of millions of moments per version doubled the page's cost.)
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct OutingVersion {
    pub position: Position,
    pub recorded_at: Timestamp,
    actor: u32,
    /// Set by registrations and amendments (a number in `contents`); other versions
    /// keep the content before them ([`NONE`]).
    content: u32,
    /// The reason or note (a text number), the member who checked in or out (a
    /// member number), or [`NONE`].
    text: u32,
    kind: ChangeKind,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct OutingHistory {
    /// The unit's number (see [`ReadModel`]'s `unit_numbers`).
    unit: u32,
    /// Oldest first. A boxed slice, not a `Vec`: most outings never get a second
    /// version, and the capacity word would be kept for each of them.
    versions: Box<[OutingVersion]>,
}

// Millions of each are kept: a field that grows one of them shows in the memory per
// event (BENCHMARKS.md), so their sizes are checked where they are defined.
const _: () = {
    assert!(std::mem::size_of::<Listed>() == 12);
    assert!(std::mem::size_of::<OutingContent>() == 32);
    assert!(std::mem::size_of::<OutingVersion>() == 32);
    assert!(std::mem::size_of::<OutingHistory>() == 24);
};

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
    content: &'a OutingContent,
    pub voided: bool,
    pub verified: bool,
    /// Every version up to the view's position, oldest first.
    versions: &'a [OutingVersion],
    model: &'a ReadModel,
}

impl<'a> OutingView<'a> {
    pub fn date(&self) -> Date {
        self.content.date
    }

    pub fn span(&self) -> TimeRange {
        self.content.span
    }

    /// The outing's details as recorded (texts restored from the interned table).
    pub fn details(&self) -> OutingDetails {
        let c = self.content;
        OutingDetails {
            date: c.date,
            span: c.span,
            place: self.model.texts.get(c.place).clone(),
            category: self.model.texts.get(c.category).clone(),
            description: self.model.text(c.description),
            beneficiaries: c.beneficiaries,
        }
    }

    /// The participants of the content in view, in their recorded order.
    pub fn participants(&self) -> impl ExactSizeIterator<Item = Participation> + 'a {
        let model = self.model;
        model.listed_of(self.content).iter().map(move |l| Participation {
            member: *model.member_numbers.get(l.member),
            span: l.span,
            minutes: l.minutes,
        })
    }

    /// Every participant's service time together.
    pub fn total_minutes(&self) -> u64 {
        self.model.listed_of(self.content).iter().map(|l| l.minutes.get() as u64).sum()
    }

    /// `member`'s service time in the content in view, if they are listed.
    pub fn minutes_of(&self, member: MemberId) -> Option<Minutes> {
        let number = self.model.member_numbers.number(&member)?;
        self.model.listed_of(self.content).iter().find(|l| l.member == number).map(|l| l.minutes)
    }

    /// Whether `member`'s participation in view is what their own check-out recorded
    /// (credit hours), rather than what a clerk entered (honour hours).
    pub fn credited(&self, member: MemberId) -> bool {
        let Some(presence) = self.model.check_ins.get(&self.id).and_then(|c| c.presences.get(&member)) else {
            return false;
        };
        match presence.left {
            Some((position, _, Some(credited))) if position <= self.last_position() => {
                self.participants().any(|p| p == credited)
            }
            _ => false,
        }
    }

    /// The minutes of the participants in view whose hours are credit hours.
    pub fn credited_minutes(&self) -> u64 {
        self.participants().filter(|p| self.credited(p.member)).map(|p| p.minutes.get() as u64).sum()
    }

    /// Whether `member` was a participant in any version up to the view's position.
    pub fn ever_listed(&self, member: MemberId) -> bool {
        let Some(number) = self.model.member_numbers.number(&member) else { return false };
        self.versions
            .iter()
            .filter_map(|v| self.model.content(v.content))
            .any(|c| self.model.listed_of(c).iter().any(|l| l.member == number))
    }

    /// Every member listed in any version up to the view's position (a member listed
    /// in several versions, several times).
    pub fn every_participant(&self) -> impl Iterator<Item = MemberId> + 'a {
        let model = self.model;
        self.versions
            .iter()
            .filter_map(move |v| model.content(v.content))
            .flat_map(move |c| model.listed_of(c).iter().map(move |l| *model.member_numbers.get(l.member)))
    }

    /// The outing's code in the unit's records, if it was registered with one.
    pub fn code(&self) -> Option<&'a Text> {
        self.model.code(self.id.0, Position::MAX)
    }

    /// The outing stream's version at the view's position: its events so far, less one.
    pub fn version(&self) -> u64 {
        self.versions.len().saturating_sub(1) as u64
    }

    /// The position of the latest version in the view.
    pub fn last_position(&self) -> Position {
        self.versions.last().map_or(0, |v| v.position)
    }

    pub fn history(&self) -> impl Iterator<Item = HistoryItem> + 'a {
        let model = self.model;
        self.versions.iter().map(move |v| {
            let text = || model.text(v.text);
            let reason = || text().expect("amendments and voidings carry a reason");
            HistoryItem {
                position: v.position,
                recorded_at: v.recorded_at,
                actor: *model.actors.get(v.actor),
                change: match v.kind {
                    ChangeKind::Registered => Change::Registered,
                    ChangeKind::Amended => Change::Amended { reason: reason() },
                    ChangeKind::Voided => Change::Voided { reason: reason() },
                    ChangeKind::Verified => Change::Verified { note: text() },
                    ChangeKind::CheckInOpened => Change::CheckInOpened,
                    ChangeKind::CheckedIn => Change::CheckedIn { member: *model.member_numbers.get(v.text) },
                    ChangeKind::CheckedOut => {
                        Change::CheckedOut { member: *model.member_numbers.get(v.text), credited: v.content != NONE }
                    }
                },
            }
        })
    }
}

impl OutingHistory {
    /// The outing as known at `as_of`, or `None` if it was not registered yet.
    fn at<'a>(&'a self, model: &'a ReadModel, number: u32, as_of: Position) -> Option<OutingView<'a>> {
        let known = self.versions.partition_point(|v| v.position <= as_of);
        let versions = &self.versions[..known];
        let content = versions.iter().rev().find_map(|v| model.content(v.content))?;
        let mut voided = false;
        let mut verified = false;
        for v in versions {
            match v.kind {
                ChangeKind::Registered | ChangeKind::Amended => verified = false,
                ChangeKind::Voided => voided = true,
                ChangeKind::Verified => verified = true,
                ChangeKind::CheckedOut if v.content != NONE => verified = false,
                ChangeKind::CheckInOpened | ChangeKind::CheckedIn | ChangeKind::CheckedOut => {}
            }
        }
        let unit = *model.unit_numbers.get(self.unit);
        let id = *model.outing_ids.get(number);
        Some(OutingView { id, unit, content, voided, verified, versions, model })
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
    /// Outings in registration order; the index is the outing's number in the model,
    /// the same as its id's number in `outing_ids`.
    pub outings: Vec<OutingHistory>,
    outing_ids: Interner<OutingId>,
    /// Every registration's and amendment's content, in log order.
    contents: Vec<OutingContent>,
    /// Every content's participants, in log order (an arena: see [`OutingContent`]).
    listed: Vec<Listed>,
    /// Outings of each unit, in registration order.
    unit_outings: BTreeMap<UnitId, Vec<u32>>,
    /// Outings each member took part in, in any version.
    member_outings: BTreeMap<MemberId, Vec<u32>>,
    /// Members who ever belonged to each unit.
    pub unit_members: BTreeMap<UnitId, Vec<MemberId>>,
    texts: Interner<Text>,
    actors: Interner<Actor>,
    member_numbers: Interner<MemberId>,
    unit_numbers: Interner<UnitId>,
    /// (recorded-at, last position recorded then), one entry per distinct moment, so
    /// that "as of a time" becomes "as of a position".
    pub clock: Vec<(Timestamp, Position)>,
    /// The clerks' own codes of the units, members, outings and commitments registered
    /// with one, by the record's id (ids of different kinds never meet: a code's id is
    /// named by its kind too), with where each was registered.
    codes: BTreeMap<uuid::Uuid, (Position, Text)>,
    pub commitments: BTreeMap<CommitmentId, CommitmentHistory>,
    /// Commitments of each unit (its members' included), in the order they were made.
    unit_commitments: BTreeMap<UnitId, Vec<CommitmentId>>,
    /// Weekly summaries by their id (the unit's and the week's, [`SummaryId::of`]).
    pub summaries: BTreeMap<SummaryId, SummaryHistory>,
    /// The weekly summaries of each unit, in the order first submitted.
    unit_summaries: BTreeMap<UnitId, Vec<SummaryId>>,
    /// Look-back rounds, by id.
    pub rounds: BTreeMap<RoundId, RoundHistory>,
    /// Each round's report counts at the head of the log ([`crate::look_back`]).
    round_tallies: BTreeMap<RoundId, RoundTallies>,
    /// The public's opinions, by id.
    pub opinions: BTreeMap<OpinionId, OpinionRecord>,
    /// The opinions of each round, in the order recorded.
    round_opinions: BTreeMap<RoundId, Vec<OpinionId>>,
    /// The opinions about each unit (or its commitments), in the order recorded.
    unit_opinions: BTreeMap<UnitId, Vec<OpinionId>>,
    /// Service certificates, by id.
    pub certificates: BTreeMap<CertificateId, CertificateRecord>,
    /// The certificates of each year of issue, by their index in the year's status
    /// lists.
    year_certificates: BTreeMap<i32, BTreeMap<u32, CertificateId>>,
    /// The certificates covering each outing.
    outing_certificates: BTreeMap<OutingId, Vec<CertificateId>>,
    /// Each member's certificates, in the order issued.
    member_certificates: BTreeMap<MemberId, Vec<CertificateId>>,
    /// The certificates each unit issued, in the order issued.
    unit_certificates: BTreeMap<UnitId, Vec<CertificateId>>,
    /// The check-ins of outings a clerk opened one for.
    pub check_ins: BTreeMap<OutingId, CheckInRecord>,
    /// The outing each site code was last opened for.
    site_codes: BTreeMap<String, OutingId>,
    /// Members' correction requests, by id.
    pub corrections: BTreeMap<CorrectionId, CorrectionRecord>,
    /// The correction requests each unit answers, in the order made.
    unit_corrections: BTreeMap<UnitId, Vec<CorrectionId>>,
    /// Half-year evaluations, by id.
    pub evaluations: BTreeMap<EvaluationId, EvaluationHistory>,
    /// The public's ballots, by id.
    pub ballots: BTreeMap<BallotId, BallotRecord>,
    /// Published star boards, by id.
    pub boards: BTreeMap<BoardId, PublishedBoard>,
    /// Nominations for awards and their decisions, by id.
    pub recognitions: BTreeMap<RecognitionId, RecognitionRecord>,
}

/// Pushes without the standard doubling: the model keeps hundreds of thousands of
/// these short lists (a member's outings, a unit's) and never shrinks them.
fn push_exact<T>(list: &mut Vec<T>, item: T) {
    list.reserve_exact(1);
    list.push(item);
}

fn push_unique<T: PartialEq>(list: &mut Vec<T>, item: T) {
    if !list.contains(&item) {
        push_exact(list, item);
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
                if let Some(code) = &e.code {
                    self.codes.insert(e.unit.0, (position, code.clone()));
                }
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
            DomainEvent::UnitReclassified(e) => {
                if let Some(versions) = self.units.get_mut(&e.unit) {
                    let mut next = versions.last().cloned().expect("a unit has a first version");
                    next.position = position;
                    next.industry = e.industry.clone();
                    versions.push(next);
                }
            }
            DomainEvent::PersonalDataCorrected(e) => {
                self.members.entry(e.member).or_default().corrections.push((position, event.version));
            }
            DomainEvent::MemberRegistered(e) => {
                if let Some(code) = &e.code {
                    self.codes.insert(e.member.0, (position, code.clone()));
                }
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
            DomainEvent::CommitmentMade(e) => {
                if let Some(code) = &e.code {
                    self.codes.insert(e.commitment.0, (position, code.clone()));
                }
                for renewed in &e.renews {
                    if let Some(earlier) = self.commitments.get_mut(renewed) {
                        earlier.renewed_by.push((position, e.commitment));
                    }
                }
                push_exact(self.unit_commitments.entry(e.unit).or_default(), e.commitment);
                let first = CommitmentVersion {
                    position,
                    content: e.content.clone(),
                    reason: None,
                    withdrawn: None,
                    assessment: None,
                };
                self.commitments.insert(
                    e.commitment,
                    CommitmentHistory {
                        unit: e.unit,
                        member: e.member,
                        renews: e.renews.clone(),
                        renewed_by: Vec::new(),
                        versions: vec![first],
                    },
                );
                self.retally(e.commitment);
            }
            DomainEvent::SummarySubmitted(e) => {
                let unit_summaries = &mut self.unit_summaries;
                let history = self.summaries.entry(e.summary).or_insert_with(|| {
                    push_exact(unit_summaries.entry(e.unit).or_default(), e.summary);
                    SummaryHistory { unit: e.unit, week: e.week, versions: Vec::new(), comments: Vec::new() }
                });
                push_exact(&mut history.versions, (position, e.text.clone()));
            }
            DomainEvent::RoundOpened(e) => {
                let round = RoundHistory {
                    name: e.name.clone(),
                    period: Period { first: e.first, last: e.last },
                    scope: e.scope.clone(),
                    opened_at: position,
                    opened_by: event.actor,
                    closed_at: None,
                };
                self.round_tallies.insert(e.round, RoundTallies::opened(self, &round));
                self.rounds.insert(e.round, round);
            }
            DomainEvent::OpinionRecorded(e) => self.add_opinion(e, position, event.actor, false),
            DomainEvent::OpinionSubmitted(e) => self.add_opinion(e, position, event.actor, true),
            DomainEvent::OpinionReviewed(e) => {
                if let Some(opinion) = self.opinions.get_mut(&e.opinion) {
                    let review =
                        OpinionReview { position, accepted: e.accepted, reason: e.reason.clone(), by: event.actor };
                    opinion.review = Some(review);
                    if e.accepted {
                        if let Some(tallies) = self.round_tallies.get_mut(&opinion.round) {
                            tallies.add_opinion(opinion.unit, opinion.rating);
                        }
                    }
                }
            }
            DomainEvent::CitizenErased(e) => {
                if let Some(opinion) = self.opinions.get_mut(&e.opinion) {
                    opinion.citizen_erased_at = Some(position);
                }
            }
            DomainEvent::EvaluationOpened(e) => {
                self.evaluations.insert(e.evaluation, EvaluationHistory::opened(e, position, event.actor));
            }
            DomainEvent::EvaluationClosed(e) => {
                if let Some(evaluation) = self.evaluations.get_mut(&e.evaluation) {
                    evaluation.closed_at = Some(position);
                }
            }
            DomainEvent::LeaderReviewed(e) => {
                if let Some(evaluation) = self.evaluations.get_mut(&e.evaluation) {
                    let review = LeaderReview { position, score: e.score, comment: e.comment.clone(), by: event.actor };
                    push_exact(evaluation.reviews.entry(e.rated).or_default(), review);
                }
            }
            DomainEvent::BallotCast(e) => {
                if let Some(evaluation) = self.evaluations.get_mut(&e.evaluation) {
                    let mark = BallotMark { position, rating: e.rating, ballot: e.ballot };
                    push_exact(evaluation.ballots.entry(e.rated).or_default(), mark);
                }
                let ballot = BallotRecord {
                    position,
                    evaluation: e.evaluation,
                    rated: e.rated,
                    unit: e.unit,
                    voter: e.voter,
                    rating: e.rating,
                    scores: e.scores.clone(),
                    comment: e.comment.clone(),
                    by: event.actor,
                };
                self.ballots.insert(e.ballot, ballot);
            }
            DomainEvent::BoardPublished(e) => {
                let board = PublishedBoard { position, published: e.clone(), by: event.actor };
                self.boards.insert(e.board, board);
            }
            DomainEvent::RecognitionNominated(e) => {
                let record = RecognitionRecord {
                    position,
                    nominated: e.clone(),
                    by: event.actor,
                    objections: Vec::new(),
                    decision: None,
                    revoked: None,
                };
                self.recognitions.insert(e.recognition, record);
            }
            DomainEvent::ObjectionRaised(e) => {
                if let Some(r) = self.recognitions.get_mut(&e.recognition) {
                    let objection = ObjectionRecord { position, from: e.from, text: e.text.clone(), answer: None };
                    r.objections.push(objection);
                }
            }
            DomainEvent::ObjectionAnswered(e) => {
                let recognition = self.recognitions.get_mut(&e.recognition);
                let objection = recognition.and_then(|r| r.objections.get_mut((e.objection as usize).checked_sub(1)?));
                if let Some(objection) = objection {
                    objection.answer = Some((position, e.upheld, e.answer.clone()));
                }
            }
            DomainEvent::RecognitionDecided(e) => {
                if let Some(r) = self.recognitions.get_mut(&e.recognition) {
                    let decision = DecisionRecord {
                        position,
                        evidence: e.evidence.clone(),
                        exception: e.exception.clone(),
                        by: event.actor,
                    };
                    r.decision = Some(decision);
                }
            }
            DomainEvent::RecognitionRevoked(e) => {
                if let Some(r) = self.recognitions.get_mut(&e.recognition) {
                    r.revoked = Some((position, e.reason.clone()));
                }
            }
            DomainEvent::RoundClosed(e) => {
                if let Some(round) = self.rounds.get_mut(&e.round) {
                    round.closed_at = Some(position);
                }
            }
            DomainEvent::SummaryCommented(e) => {
                if let Some(history) = self.summaries.get_mut(&e.summary) {
                    let comment = SummaryComment { position, comment: e.comment.clone(), by: event.actor };
                    push_exact(&mut history.comments, comment);
                }
            }
            DomainEvent::CommitmentAmended(e) => self.next_commitment_version(e.commitment, position, |v| {
                v.content = e.content.clone();
                v.reason = Some(e.reason.clone());
            }),
            DomainEvent::CommitmentWithdrawn(e) => {
                self.next_commitment_version(e.commitment, position, |v| v.withdrawn = Some(e.reason.clone()))
            }
            DomainEvent::CommitmentAssessed(e) => {
                let assessment =
                    Assessment { position, fulfilment: e.fulfilment, evidence: e.evidence.clone(), by: event.actor };
                self.next_commitment_version(e.commitment, position, |v| v.assessment = Some(assessment))
            }
            DomainEvent::OutingRegistered(e) => {
                if self.outing_ids.number(&e.outing).is_some() {
                    return; // the log never registers an outing twice; the first stands
                }
                if let Some(code) = &e.code {
                    self.codes.insert(e.outing.0, (position, code.clone()));
                }
                let number = self.outing_ids.intern(&e.outing);
                let content = self.content_of(number, &e.details, &e.participants);
                push_exact(self.unit_outings.entry(e.unit).or_default(), number);
                let version = self.version(event, ChangeKind::Registered, content, None);
                let unit = self.unit_numbers.intern(&e.unit);
                self.outings.push(OutingHistory { unit, versions: Box::new([version]) });
            }
            DomainEvent::OutingAmended(e) => {
                let Some(number) = self.outing_ids.number(&e.outing) else { return };
                let content = self.content_of(number, &e.details, &e.participants);
                let version = self.version(event, ChangeKind::Amended, content, Some(&e.reason));
                self.push_outing_version(number, version);
                self.recheck_certificates(e.outing, position);
            }
            DomainEvent::OutingVoided(e) => {
                let Some(number) = self.outing_ids.number(&e.outing) else { return };
                let version = self.version(event, ChangeKind::Voided, NONE, Some(&e.reason));
                self.push_outing_version(number, version);
                self.recheck_certificates(e.outing, position);
            }
            DomainEvent::CertificateIssued(e) => {
                for line in &e.lines {
                    push_unique(self.outing_certificates.entry(line.outing).or_default(), e.certificate);
                }
                self.year_certificates.entry(e.year()).or_default().insert(e.status_index, e.certificate);
                push_exact(self.member_certificates.entry(e.member).or_default(), e.certificate);
                push_exact(self.unit_certificates.entry(e.unit).or_default(), e.certificate);
                let record =
                    CertificateRecord { position, issued: e.clone(), by: event.actor, revoked: None, superseded: None };
                self.certificates.insert(e.certificate, record);
            }
            DomainEvent::CertificateRevoked(e) => {
                if let Some(record) = self.certificates.get_mut(&e.certificate) {
                    record.revoked = Some((position, e.reason.clone()));
                }
            }
            DomainEvent::OutingVerified(e) => {
                let Some(number) = self.outing_ids.number(&e.outing) else { return };
                let version = self.version(event, ChangeKind::Verified, NONE, e.note.as_ref());
                self.push_outing_version(number, version);
            }
            DomainEvent::CheckInPinSet(_) => {}
            DomainEvent::PublicCardSet(e) => {
                let card = e.shown.then(|| PublicCard { post: e.post.clone() });
                self.members.entry(e.member).or_default().cards.push((position, card));
            }
            DomainEvent::CorrectionRequested(e) => {
                push_exact(self.unit_corrections.entry(e.unit).or_default(), e.correction);
                let record = CorrectionRecord {
                    position,
                    requested: e.clone(),
                    by: event.actor,
                    recorded_at: event.recorded_at,
                    answer: None,
                };
                self.corrections.insert(e.correction, record);
            }
            DomainEvent::CorrectionAnswered(e) => {
                if let Some(record) = self.corrections.get_mut(&e.correction) {
                    let answer =
                        CorrectionAnswer { position, accepted: e.accepted, reason: e.reason.clone(), by: event.actor };
                    record.answer = Some(answer);
                }
            }
            DomainEvent::CheckInOpened(e) => {
                let Some(number) = self.outing_ids.number(&e.outing) else { return };
                let version = self.version(event, ChangeKind::CheckInOpened, NONE, None);
                self.push_outing_version(number, version);
                let record = self.check_ins.entry(e.outing).or_default();
                push_exact(&mut record.openings, (position, event.actor, e.site_code.clone(), e.rules));
                self.site_codes.insert(e.site_code.clone(), e.outing);
            }
            DomainEvent::MemberCheckedIn(e) => {
                let Some(number) = self.outing_ids.number(&e.outing) else { return };
                let mut version = self.version(event, ChangeKind::CheckedIn, NONE, None);
                version.text = self.member_numbers.intern(&e.member);
                self.push_outing_version(number, version);
                let presence = PresenceRecord { arrived: (position, e.at), left: None };
                self.check_ins.entry(e.outing).or_default().presences.insert(e.member, presence);
            }
            DomainEvent::MemberCheckedOut(e) => {
                let Some(number) = self.outing_ids.number(&e.outing) else { return };
                let content = match e.participation {
                    None => NONE,
                    Some(credited) => {
                        let view = self.outing_by_number(number, position).expect("a checked-in outing is registered");
                        let details = view.details();
                        let mut participants: Vec<Participation> =
                            view.participants().filter(|p| p.member != e.member).collect();
                        participants.push(credited);
                        self.content_of(number, &details, &participants)
                    }
                };
                let mut version = self.version(event, ChangeKind::CheckedOut, content, None);
                version.text = self.member_numbers.intern(&e.member);
                self.push_outing_version(number, version);
                if let Some(presence) = self.check_ins.get_mut(&e.outing).and_then(|c| c.presences.get_mut(&e.member)) {
                    presence.left = Some((position, e.at, e.participation));
                }
                if content != NONE {
                    self.recheck_certificates(e.outing, position);
                }
            }
        }
    }

    /// The correction requests `unit` answers, in the order made (those made after a
    /// given position are for the caller to leave out).
    pub fn unit_corrections(&self, unit: UnitId) -> impl Iterator<Item = &CorrectionRecord> + '_ {
        self.unit_corrections.get(&unit).into_iter().flatten().filter_map(|id| self.corrections.get(id))
    }

    /// The outing whose check-in was last opened with `site_code` (as typed: it is
    /// normalised here).
    pub fn site_code_outing(&self, site_code: &str) -> Option<OutingId> {
        self.site_codes.get(&typed_code::normalise(site_code)).copied()
    }

    /// Records the content of a registration or amendment of outing `number`, indexes
    /// its participants, and returns the content's number.
    fn content_of(&mut self, number: u32, details: &OutingDetails, participants: &[Participation]) -> u32 {
        let listed_from = self.listed.len() as u32;
        for p in participants {
            let member = self.member_numbers.intern(&p.member);
            self.listed.push(Listed { member, span: p.span, minutes: p.minutes });
            push_unique(self.member_outings.entry(p.member).or_default(), number);
        }
        let content = OutingContent {
            date: details.date,
            span: details.span,
            place: self.texts.intern(&details.place),
            category: self.texts.intern(&details.category),
            description: details.description.as_ref().map_or(NONE, |d| self.texts.intern(d)),
            beneficiaries: details.beneficiaries,
            listed_from,
            listed_count: participants.len() as u32,
        };
        self.contents.push(content);
        (self.contents.len() - 1) as u32
    }

    fn version(&mut self, event: &RecordedEvent, kind: ChangeKind, content: u32, text: Option<&Text>) -> OutingVersion {
        OutingVersion {
            position: event.position,
            recorded_at: event.recorded_at,
            actor: self.actors.intern(&event.actor),
            content,
            text: text.map_or(NONE, |t| self.texts.intern(t)),
            kind,
        }
    }

    fn push_outing_version(&mut self, number: u32, version: OutingVersion) {
        // Allocated at the exact size: growing a `Vec` and shrinking it back can leave
        // the block at the grown size inside the allocator.
        let slot = &mut self.outings[number as usize].versions;
        let mut versions = Vec::with_capacity(slot.len() + 1);
        versions.extend_from_slice(slot);
        versions.push(version);
        *slot = versions.into_boxed_slice();
    }

    /// Marks superseded, at `position`, each certificate one of whose lines about
    /// `outing` no longer reads as it states.
    fn recheck_certificates(&mut self, outing: OutingId, position: Position) {
        let Some(covering) = self.outing_certificates.get(&outing) else { return };
        let view = self.outing(outing, position);
        let changed: Vec<CertificateId> = covering
            .iter()
            .filter(|id| {
                self.certificates.get(id).is_some_and(|record| {
                    record.superseded.is_none()
                        && record.issued.lines.iter().filter(|line| line.outing == outing).any(|line| {
                            view.and_then(|v| crate::certificates::line_of(&v, record.issued.member)).as_ref()
                                != Some(line)
                        })
                })
            })
            .copied()
            .collect();
        for id in changed {
            if let Some(record) = self.certificates.get_mut(&id) {
                record.superseded = Some((position, outing));
            }
        }
    }

    /// The certificates issued in `year`, by their index in the year's status lists.
    pub fn year_certificates(&self, year: i32) -> impl DoubleEndedIterator<Item = (u32, CertificateId)> + '_ {
        self.year_certificates.get(&year).into_iter().flatten().map(|(i, id)| (*i, *id))
    }

    /// `member`'s certificates, in the order issued.
    pub fn member_certificates(&self, member: MemberId) -> &[CertificateId] {
        self.member_certificates.get(&member).map_or(&[], Vec::as_slice)
    }

    /// The certificates `unit` issued, in the order issued.
    pub fn unit_certificates(&self, unit: UnitId) -> &[CertificateId] {
        self.unit_certificates.get(&unit).map_or(&[], Vec::as_slice)
    }

    fn content(&self, number: u32) -> Option<&OutingContent> {
        self.contents.get(number as usize)
    }

    fn listed_of(&self, content: &OutingContent) -> &[Listed] {
        let from = content.listed_from as usize;
        &self.listed[from..from + content.listed_count as usize]
    }

    fn text(&self, number: u32) -> Option<Text> {
        (number != NONE).then(|| self.texts.get(number).clone())
    }

    /// The last position recorded at or before `at`.
    /// When the event at `position` was recorded, if the model has applied it.
    pub fn recorded_at(&self, position: Position) -> Option<Timestamp> {
        let i = self.clock.partition_point(|(_, last)| *last < position);
        self.clock.get(i).map(|(at, _)| *at)
    }

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

    /// The code `id` (a unit's, member's, outing's or commitment's) was registered with, if it was by
    /// `as_of`.
    pub fn code(&self, id: uuid::Uuid, as_of: Position) -> Option<&Text> {
        self.codes.get(&id).filter(|(p, _)| *p <= as_of).map(|(_, code)| code)
    }

    /// How a record is named to a person: its code when it has one, else its id.
    pub fn reference(&self, id: uuid::Uuid) -> String {
        self.codes.get(&id).map_or_else(|| id.to_string(), |(_, code)| code.to_string())
    }

    /// Each member with the version of the record holding their personal data as known
    /// at `as_of` (what `Ledger::personal_of` opens); members unknown then are left out.
    pub fn personal_records(
        &self,
        members: impl IntoIterator<Item = MemberId>,
        as_of: Position,
    ) -> Vec<(MemberId, u64)> {
        members
            .into_iter()
            .filter_map(|m| {
                let history = self.members.get(&m).filter(|h| h.registered_by(as_of))?;
                Some((m, history.personal_version(as_of)))
            })
            .collect()
    }

    /// Pushes the next version of a commitment: the last one, changed by `change`.
    fn next_commitment_version(
        &mut self,
        commitment: CommitmentId,
        position: Position,
        change: impl FnOnce(&mut CommitmentVersion),
    ) {
        let Some(history) = self.commitments.get_mut(&commitment) else { return };
        let mut next = history.versions.last().cloned().expect("a commitment has a first version");
        next.position = position;
        change(&mut next);
        push_exact(&mut history.versions, next);
        self.retally(commitment);
    }

    /// Brings every round's tally up to date with a commitment's latest version.
    fn retally(&mut self, commitment: CommitmentId) {
        let Some(history) = self.commitments.get(&commitment) else { return };
        for (id, tallies) in &mut self.round_tallies {
            let round = self.rounds.get(id).expect("a round's tally comes with the round");
            tallies.replace(commitment, history.unit, crate::look_back::part(round, history, self.position));
        }
    }

    /// Keeps an opinion recorded at `position`; one the unit recorded counts in its
    /// round's tally at once, one left on the board (`held`) once accepted.
    fn add_opinion(&mut self, e: &OpinionRecorded, position: Position, by: Actor, held: bool) {
        let opinion = OpinionRecord {
            position,
            round: e.round,
            unit: e.unit,
            commitment: e.commitment,
            text: e.text.clone(),
            rating: e.rating,
            channel: e.channel,
            citizen_given: e.citizen.is_some(),
            citizen_erased_at: None,
            by,
            held,
            review: None,
        };
        if !held {
            if let Some(tallies) = self.round_tallies.get_mut(&e.round) {
                tallies.add_opinion(e.unit, e.rating);
            }
        }
        push_exact(self.round_opinions.entry(e.round).or_default(), e.opinion);
        push_exact(self.unit_opinions.entry(e.unit).or_default(), e.opinion);
        self.opinions.insert(e.opinion, opinion);
    }

    /// The tally kept of a round at the head of the log.
    pub(crate) fn round_tallies(&self, round: RoundId) -> Option<&RoundTallies> {
        self.round_tallies.get(&round)
    }

    /// The opinions of a round, in the order recorded (later ones than a position read
    /// are for the caller to leave out).
    pub fn round_opinions(&self, round: RoundId) -> impl Iterator<Item = (OpinionId, &OpinionRecord)> + '_ {
        self.round_opinions.get(&round).into_iter().flatten().filter_map(|id| Some((*id, self.opinions.get(id)?)))
    }

    /// The opinions about a unit or its commitments, in every round, in the order
    /// recorded (later ones than a position read are for the caller to leave out).
    pub fn unit_opinions(&self, unit: UnitId) -> impl DoubleEndedIterator<Item = (OpinionId, &OpinionRecord)> + '_ {
        self.unit_opinions.get(&unit).into_iter().flatten().filter_map(|id| Some((*id, self.opinions.get(id)?)))
    }

    /// A unit's commitments (its members' included), in the order they were made; those
    /// made after a given position are left out by [`CommitmentHistory::at`].
    pub fn unit_commitments(&self, unit: UnitId) -> &[CommitmentId] {
        self.unit_commitments.get(&unit).map_or(&[], Vec::as_slice)
    }

    /// A unit's weekly summaries, in the order first submitted (those submitted after a
    /// given position are left out by [`SummaryHistory::at`]).
    pub fn unit_summaries(&self, unit: UnitId) -> impl Iterator<Item = &SummaryHistory> + '_ {
        self.unit_summaries.get(&unit).into_iter().flatten().filter_map(|id| self.summaries.get(id))
    }

    /// The unit a member belonged to at `as_of` (the latest transfer known then).
    pub fn member_unit(&self, member: MemberId, as_of: Position) -> Option<UnitId> {
        let history = self.members.get(&member)?;
        history.memberships.iter().rev().find(|m| m.position <= as_of).map(|m| m.unit)
    }

    /// The unit a stream's record belongs to at `as_of`: a unit is its own, an outing
    /// its organiser's, a member the one they were in then.
    pub fn unit_of(&self, stream: StreamId, as_of: Position) -> Option<UnitId> {
        match stream.kind {
            StreamKind::Unit => Some(UnitId(stream.id)),
            StreamKind::Member => self.member_unit(MemberId(stream.id), as_of),
            StreamKind::Outing => self.outing(OutingId(stream.id), as_of).map(|o| o.unit),
            // A round or an evaluation covers many units; it belongs to none.
            StreamKind::Round | StreamKind::Evaluation | StreamKind::Board => None,
            StreamKind::Recognition => self
                .recognitions
                .get(&RecognitionId(stream.id))
                .filter(|r| r.position <= as_of)
                .map(|r| r.nominated.unit),
            StreamKind::Ballot => {
                self.ballots.get(&BallotId(stream.id)).filter(|b| b.position <= as_of).map(|b| b.unit)
            }
            StreamKind::Opinion => {
                self.opinions.get(&OpinionId(stream.id)).filter(|o| o.position <= as_of).map(|o| o.unit)
            }
            StreamKind::Summary => {
                let history = self.summaries.get(&SummaryId(stream.id))?;
                history.at(as_of).map(|_| history.unit)
            }
            StreamKind::Commitment => {
                let history = self.commitments.get(&CommitmentId(stream.id))?;
                history.at(as_of).map(|_| history.unit)
            }
            StreamKind::Correction => {
                self.corrections.get(&CorrectionId(stream.id)).filter(|c| c.position <= as_of).map(|c| c.requested.unit)
            }
            StreamKind::Certificate => {
                self.certificates.get(&CertificateId(stream.id)).filter(|c| c.position <= as_of).map(|c| c.issued.unit)
            }
        }
    }

    pub fn outing(&self, outing: OutingId, as_of: Position) -> Option<OutingView<'_>> {
        self.outing_by_number(self.outing_ids.number(&outing)?, as_of)
    }

    /// An outing by its number in the model (see [`ReadModel::unit_outings`]).
    pub fn outing_by_number(&self, number: u32, as_of: Position) -> Option<OutingView<'_>> {
        self.outings.get(number as usize)?.at(self, number, as_of)
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
            &self.outing_ids,
            &self.unit_outings,
            &self.member_outings,
            &self.unit_members,
            &self.texts,
            &self.actors,
            &self.member_numbers,
            &self.unit_numbers,
            &self.unit_commitments,
            &self.unit_summaries,
            &self.round_tallies,
            &self.round_opinions,
            &self.year_certificates,
            &self.outing_certificates,
            &self.member_certificates,
            // serde serialises tuples of up to 16.
            (&self.site_codes, &self.unit_corrections, &self.unit_certificates, &self.unit_opinions),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The checkpoint's header is the digest of the sample model's encoding, so the
    /// sample must hold something in every part of the model: a part left empty would
    /// encode the same whatever its type. A field added to the model does not compile
    /// here until it is listed, and checked as filled.
    #[test]
    fn the_shape_sample_fills_every_part_of_the_model() {
        let ReadModel {
            position,
            last_hash,
            units,
            members,
            outings,
            outing_ids,
            contents,
            listed,
            unit_outings,
            member_outings,
            unit_members,
            texts,
            actors,
            member_numbers,
            unit_numbers,
            clock,
            codes,
            commitments,
            unit_commitments,
            summaries,
            unit_summaries,
            rounds,
            round_tallies,
            opinions,
            round_opinions,
            unit_opinions,
            certificates,
            year_certificates,
            outing_certificates,
            member_certificates,
            unit_certificates,
            check_ins,
            site_codes,
            corrections,
            unit_corrections,
            evaluations,
            ballots,
            boards,
            recognitions,
        } = crate::shape::sample();
        assert!(position > 0 && last_hash != [0; 32]);
        assert!(units.values().any(|versions| versions.len() > 1 && versions.iter().any(|v| v.parent.is_some())));
        let history = |erased: bool| members.values().find(|h| h.erased_at.is_some() == erased).unwrap();
        let kept = history(false);
        assert!(!kept.evaluations.is_empty() && !kept.corrections.is_empty() && !kept.cards.is_empty());
        assert!(history(true).memberships.len() > 1, "the erased member was transferred first");
        assert!(outings.iter().any(|o| o.versions.len() > 2) && outings.len() > 1);
        assert!(!outing_ids.is_empty() && !contents.is_empty() && !listed.is_empty());
        assert!(!unit_outings.is_empty() && !member_outings.is_empty() && !unit_members.is_empty());
        assert!(!texts.is_empty() && actors.len() > 1 && !member_numbers.is_empty() && !unit_numbers.is_empty());
        assert!(clock.len() > 1 && codes.len() == 3);
        let history = |renewal: bool| commitments.values().find(|c| c.renews.is_empty() != renewal).unwrap();
        let first = history(false);
        assert!(!first.renewed_by.is_empty() && first.versions.len() > 3 && first.member.is_some());
        assert!(first.versions.iter().any(|v| v.reason.is_some() && v.assessment.is_some()));
        assert!(first.versions.last().unwrap().withdrawn.is_some());
        assert!(!history(true).renews.is_empty() && !unit_commitments.is_empty());
        assert!(summaries.values().any(|s| s.versions.len() > 1 && !s.comments.is_empty()));
        assert!(!unit_summaries.is_empty());
        assert!(rounds.values().any(|r| r.closed_at.is_some() && r.scope != RoundScope::All));
        let tally = round_tallies.values().next().unwrap();
        assert!(!tally.by_unit.is_empty() && !tally.parts.is_empty());
        assert!(opinions.values().any(|o| o.citizen_erased_at.is_some()) && !round_opinions.is_empty());
        assert!(opinions.values().any(|o| o.review.is_some()) && !unit_opinions.is_empty());
        assert!(certificates.values().any(|c| c.revoked.is_some() && c.superseded.is_some()));
        assert!(!year_certificates.is_empty() && !outing_certificates.is_empty() && !member_certificates.is_empty());
        assert!(!unit_certificates.is_empty());
        let check_in = check_ins.values().next().unwrap();
        assert!(!check_in.openings.is_empty() && check_in.presences.values().any(|p| p.left.is_some()));
        assert!(!site_codes.is_empty());
        assert!(corrections.values().any(|c| c.answer.is_some()) && !unit_corrections.is_empty());
        let evaluation = evaluations.values().next().unwrap();
        assert!(evaluation.closed_at.is_some() && !evaluation.ballots.is_empty() && !evaluation.reviews.is_empty());
        assert!(ballots.values().any(|b| !b.scores.is_empty() && b.comment.is_some()));
        assert!(!boards.is_empty());
        let recognition = recognitions.values().next().unwrap();
        assert!(recognition.objections.iter().all(|o| o.answer.is_some()) && !recognition.objections.is_empty());
        assert!(recognition.decision.is_some() && recognition.revoked.is_some());
    }

    #[test]
    fn the_checkpoint_header_names_the_shape() {
        let header = crate::shape::checkpoint_header();
        assert_eq!((header.len(), &header[..4]), (12, b"TZRM".as_slice()));
        assert_eq!(header, crate::shape::checkpoint_header(), "the same build, the same header");
    }
}
