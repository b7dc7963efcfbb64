//! Published star boards and recognitions (表彰).
//!
//! A reviewer publishes a star board: the event records the log position it was
//! computed at, the policy it applied (its canonical text and digest) and the digest of
//! the board itself, so the board can be computed again exactly at any later time and
//! compared with the board as the log now stands.
//!
//! A recognition is nominated (by a clerk for their own unit's member or the unit, or by
//! a reviewer), listed publicly for an objection window (公示) of working days, and
//! decided by a reviewer on the evidence of a published board: the nominee's stars and
//! the criteria behind them at the board's position, under the board's policy. A
//! decision whose evidence does not reach the award's level, or with an objection
//! upheld, is refused unless it is recorded as an exception with a reason. Objections
//! must all be answered before a decision. An administrator may revoke a recognition,
//! with a reason. Award kinds are data: each is declared by the policy that rates it.

use serde::{Deserialize, Serialize};
use time::{Date, Weekday};

use crate::command::Decision;
use crate::decide::{absent, Deciding, PendingEvent};
use crate::event::Fact;
use crate::*;

/// The most objections one nomination takes.
pub const MAX_OBJECTIONS: usize = 100;

impl RecognitionId {
    /// The nomination of `nominee` for `award` in `half_year`: one per award, half-year
    /// and nominee, however often nominated.
    pub fn of(award: &str, half_year: HalfYear, nominee: Rated) -> Self {
        let nominee = match nominee {
            Rated::Member(id) => format!("member/{id}"),
            Rated::Unit(id) => format!("unit/{id}"),
        };
        Self::of_code(&format!("{award}/{half_year}/{nominee}"))
    }
}

/// The last day of a listing of `days` working days (Monday to Friday) that starts on
/// `from`: the day itself counts when it is a working day. A listing of no days ended
/// the day before.
pub fn listing_end(from: Date, days: u8) -> Date {
    let mut date = from.previous_day().unwrap_or(from);
    let mut left = days;
    while left > 0 {
        date = date.next_day().unwrap_or(date);
        if !matches!(date.weekday(), Weekday::Saturday | Weekday::Sunday) {
            left -= 1;
        }
    }
    date
}

/// Publishes a star board as the server computed it ([`PublishBoard::new`]).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PublishBoard {
    pub(crate) board: BoardId,
    published: BoardPublished,
}

impl PublishBoard {
    pub fn new(published: BoardPublished) -> Self {
        Self { board: published.board, published }
    }

    pub fn published(&self) -> &BoardPublished {
        &self.published
    }
}

/// A board as published: what reproduces it and what it came to.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BoardPublished {
    pub board: BoardId,
    /// 2011 年上半年 全市窗口单位星级榜 …
    pub name: Text,
    pub half_year: HalfYear,
    pub scope: RoundScope,
    /// The policy's name and version, as it names itself.
    pub policy: Text,
    pub policy_version: u32,
    /// The policy as applied, in canonical JSON: the board is computed again from this
    /// text, whatever the policy files say later.
    pub policy_document: String,
    /// SHA-256 (hex) of `policy_document`.
    pub policy_digest: Text,
    /// The log position the board was computed at.
    pub as_of: u64,
    /// How many members or units it lists.
    pub entries: u32,
    /// SHA-256 (hex) of the board's entries: who, in order, with rank, stars and score.
    pub digest: Text,
}

/// Nominates a member or a unit for an award of a half-year; the award's policy and its
/// listing days are the server's (from the award's declaration).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct NominateRecognition {
    pub recognition: RecognitionId,
    /// The award kind, as the policy declares it (`post-pioneer` …).
    pub award: Text,
    /// The policy that declares the award.
    pub policy: Text,
    pub half_year: HalfYear,
    pub nominee: Rated,
    pub reason: Option<Text>,
    /// Working days the nomination is listed for objections.
    pub listing_days: u8,
}

/// Where an objection came from.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub enum ObjectionSource {
    /// The public: through the notice board's form (sent by the public actor), or by
    /// letter or a call to the supervision telephone, entered by a reviewer.
    Public,
    /// A reviewer's own.
    Reviewer,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RaiseObjection {
    pub recognition: RecognitionId,
    pub from: ObjectionSource,
    pub text: Text,
}

/// Answers objection `objection` (numbered from 1 in the order raised).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AnswerObjection {
    pub recognition: RecognitionId,
    pub objection: u32,
    /// The objection stands: the nominee may then be recognised only as an exception.
    pub upheld: bool,
    pub answer: Text,
}

/// Decides a recognition on `evidence`, which the server reads from a published board;
/// `exception` records why it is decided although the evidence does not hold.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct DecideRecognition {
    pub recognition: RecognitionId,
    pub evidence: Evidence,
    pub exception: Option<Text>,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RevokeRecognition {
    pub recognition: RecognitionId,
    pub reason: Text,
}

/// What a decision rests on: a published board's assessment of the nominee.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Evidence {
    pub board: BoardId,
    /// The board's position and its policy's digest.
    pub as_of: u64,
    pub policy_digest: Text,
    /// The award's level (a level's name, or stars of a counting policy).
    pub required: Text,
    /// The nominee's outcome on the board, none when nothing was awarded.
    pub outcome: Option<Text>,
    /// The nominee's weighted score, two decimals, when the policy has one.
    pub score: Option<Text>,
    /// Every criterion of the required level, and of each cap and veto that held.
    pub criteria: Vec<EvidenceCriterion>,
    /// Whether the outcome reaches the required level.
    pub holds: bool,
}

/// One criterion as the board read it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EvidenceCriterion {
    /// The level, cap or veto it belongs to.
    pub part: Text,
    pub metric: Text,
    /// `≥ 60`, `< 10` …
    pub required: Text,
    /// The value, none when unknown.
    pub actual: Option<Text>,
    pub met: bool,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RecognitionNominated {
    pub recognition: RecognitionId,
    pub award: Text,
    pub policy: Text,
    pub half_year: HalfYear,
    pub nominee: Rated,
    /// The unit nominated, or the member's unit at the nomination.
    pub unit: UnitId,
    pub reason: Option<Text>,
    /// The last day of the public listing (公示): objections are taken until then.
    #[schemars(schema_with = "crate::schema::date")]
    pub listed_until: Date,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ObjectionRaised {
    pub recognition: RecognitionId,
    /// Numbered from 1 in the order raised.
    pub objection: u32,
    pub from: ObjectionSource,
    pub text: Text,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ObjectionAnswered {
    pub recognition: RecognitionId,
    pub objection: u32,
    pub upheld: bool,
    pub answer: Text,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RecognitionDecided {
    pub recognition: RecognitionId,
    pub evidence: Evidence,
    pub exception: Option<Text>,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RecognitionRevoked {
    pub recognition: RecognitionId,
    pub reason: Text,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct BoardState {
    pub half_year: HalfYear,
    pub policy: Text,
    /// The position it was computed at and its policy's digest: what evidence read from
    /// it names.
    pub as_of: u64,
    pub policy_digest: Text,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RecognitionState {
    pub unit: UnitId,
    pub policy: Text,
    pub half_year: HalfYear,
    pub listed_until: Date,
    /// Each objection's answer (upheld or not), `None` while unanswered.
    pub objections: Vec<Option<bool>>,
    pub decided: bool,
    pub revoked: bool,
}

fn recognition(loaded: &Aggregates, id: RecognitionId) -> Result<&RecognitionState, DomainError> {
    let state = loaded.recognitions.get(&id).ok_or(DomainError::RecognitionNotFound(id))?;
    if state.revoked {
        return Err(DomainError::RecognitionRevoked { recognition: id });
    }
    Ok(state)
}

/// What an objection needs: a nomination not yet decided or revoked.
fn undecided(loaded: &Aggregates, id: RecognitionId) -> Result<&RecognitionState, DomainError> {
    let state = recognition(loaded, id)?;
    if state.decided {
        return Err(DomainError::RecognitionDecided { recognition: id });
    }
    Ok(state)
}

impl Decision for PublishBoard {
    fn answered_by(&self, event: &DomainEvent) -> bool {
        matches!(event, DomainEvent::BoardPublished(e) if *e == self.published)
    }

    fn needs(&self, _: &Aggregates, needs: &mut Vec<StreamId>) {
        self.published.scope.needs(needs);
    }

    /// A board covers many units: it writes none of their records.
    fn units_written(&self, _: &Aggregates) -> Vec<Option<UnitId>> {
        Vec::new()
    }

    fn decide(&self, cx: &mut Deciding<'_>) -> Result<Vec<PendingEvent>, DomainError> {
        absent(cx.loaded, StreamId::board(self.board))?;
        self.published.scope.check(cx.loaded)?;
        Ok(vec![PendingEvent::now(self.published.clone())])
    }
}

impl Decision for NominateRecognition {
    fn answered_by(&self, event: &DomainEvent) -> bool {
        matches!(event, DomainEvent::RecognitionNominated(e)
            if (&self.award, self.half_year, self.nominee, &self.reason) == (&e.award, e.half_year, e.nominee, &e.reason))
    }

    fn needs(&self, loaded: &Aggregates, needs: &mut Vec<StreamId>) {
        match self.nominee {
            Rated::Member(id) => {
                needs.push(StreamId::member(id));
                needs.extend(loaded.members.get(&id).map(|m| StreamId::unit(m.current_unit())));
            }
            Rated::Unit(id) => needs.push(StreamId::unit(id)),
        }
    }

    /// A clerk nominates for their own unit only.
    fn units_written(&self, loaded: &Aggregates) -> Vec<Option<UnitId>> {
        vec![match self.nominee {
            Rated::Unit(id) => Some(id),
            Rated::Member(id) => loaded.members.get(&id).map(MemberState::current_unit),
        }]
    }

    fn decide(&self, cx: &mut Deciding<'_>) -> Result<Vec<PendingEvent>, DomainError> {
        absent(cx.loaded, StreamId::recognition(self.recognition))?;
        let unit_id = match self.nominee {
            Rated::Member(m) => {
                let state = member(cx.loaded, m)?;
                if state.erased {
                    return Err(DomainError::MemberErased { member: m });
                }
                state.current_unit()
            }
            Rated::Unit(u) => u,
        };
        unit(cx.loaded, unit_id)?;
        Ok(vec![PendingEvent::now(RecognitionNominated {
            recognition: self.recognition,
            award: self.award.clone(),
            policy: self.policy.clone(),
            half_year: self.half_year,
            nominee: self.nominee,
            unit: unit_id,
            reason: self.reason.clone(),
            listed_until: listing_end(cx.today, self.listing_days),
        })])
    }
}

impl Decision for RaiseObjection {
    fn answered_by(&self, event: &DomainEvent) -> bool {
        matches!(event, DomainEvent::ObjectionRaised(e) if (self.from, &self.text) == (e.from, &e.text))
    }

    /// Objections are entered by reviewers: the API lets no clerk send them.
    fn units_written(&self, _: &Aggregates) -> Vec<Option<UnitId>> {
        Vec::new()
    }

    fn decide(&self, cx: &mut Deciding<'_>) -> Result<Vec<PendingEvent>, DomainError> {
        let state = undecided(cx.loaded, self.recognition)?;
        if state.objections.len() >= MAX_OBJECTIONS {
            return Err(DomainError::InvalidValue {
                field: "recognition".to_owned(),
                reason: format!("a nomination takes at most {MAX_OBJECTIONS} objections"),
            });
        }
        Ok(vec![PendingEvent::now(ObjectionRaised {
            recognition: self.recognition,
            objection: state.objections.len() as u32 + 1,
            from: self.from,
            text: self.text.clone(),
        })])
    }
}

impl Decision for AnswerObjection {
    fn answered_by(&self, event: &DomainEvent) -> bool {
        matches!(event, DomainEvent::ObjectionAnswered(e)
            if (self.objection, self.upheld, &self.answer) == (e.objection, e.upheld, &e.answer))
    }

    fn units_written(&self, _: &Aggregates) -> Vec<Option<UnitId>> {
        Vec::new()
    }

    fn decide(&self, cx: &mut Deciding<'_>) -> Result<Vec<PendingEvent>, DomainError> {
        let state = undecided(cx.loaded, self.recognition)?;
        let index = (self.objection as usize).checked_sub(1);
        match index.and_then(|i| state.objections.get(i)) {
            None => Err(DomainError::ObjectionNotFound { recognition: self.recognition, objection: self.objection }),
            Some(Some(_)) => {
                Err(DomainError::ObjectionAnswered { recognition: self.recognition, objection: self.objection })
            }
            Some(None) => Ok(vec![PendingEvent::now(ObjectionAnswered {
                recognition: self.recognition,
                objection: self.objection,
                upheld: self.upheld,
                answer: self.answer.clone(),
            })]),
        }
    }
}

impl Decision for DecideRecognition {
    fn answered_by(&self, event: &DomainEvent) -> bool {
        matches!(event, DomainEvent::RecognitionDecided(e)
            if (&self.evidence, &self.exception) == (&e.evidence, &e.exception))
    }

    fn needs(&self, _: &Aggregates, needs: &mut Vec<StreamId>) {
        needs.push(StreamId::board(self.evidence.board));
    }

    /// Decisions are reviewers': the API lets no clerk send them.
    fn units_written(&self, _: &Aggregates) -> Vec<Option<UnitId>> {
        Vec::new()
    }

    fn decide(&self, cx: &mut Deciding<'_>) -> Result<Vec<PendingEvent>, DomainError> {
        let id = self.recognition;
        let state = undecided(cx.loaded, id)?;
        let board =
            cx.loaded.boards.get(&self.evidence.board).ok_or(DomainError::BoardNotFound(self.evidence.board))?;
        if (board.half_year, &board.policy) != (state.half_year, &state.policy) {
            return Err(DomainError::InvalidValue {
                field: "board".to_owned(),
                reason: format!(
                    "board {} applies {} to {}; the nomination is for {} in {}",
                    self.evidence.board, board.policy, board.half_year, state.policy, state.half_year
                ),
            });
        }
        if (self.evidence.as_of, &self.evidence.policy_digest) != (board.as_of, &board.policy_digest) {
            return Err(DomainError::InvalidValue {
                field: "evidence".to_owned(),
                reason: format!(
                    "the evidence is not board {}'s: it names position {} and policy digest {}",
                    self.evidence.board, self.evidence.as_of, self.evidence.policy_digest
                ),
            });
        }
        if cx.today <= state.listed_until {
            return Err(DomainError::StillListed { recognition: id, listed_until: state.listed_until });
        }
        let unanswered = state.objections.iter().filter(|o| o.is_none()).count();
        if unanswered > 0 {
            return Err(DomainError::ObjectionsUnanswered { recognition: id, count: unanswered });
        }
        let upheld = state.objections.iter().filter(|o| **o == Some(true)).count();
        if self.exception.is_none() {
            if !self.evidence.holds {
                let outcome = self.evidence.outcome.as_ref().map_or("nothing", Text::as_str);
                return Err(DomainError::EvidenceDoesNotHold {
                    recognition: id,
                    reason: format!("the board awards {outcome}; the award needs {}", self.evidence.required),
                });
            }
            if upheld > 0 {
                return Err(DomainError::EvidenceDoesNotHold {
                    recognition: id,
                    reason: format!("{upheld} objection(s) upheld"),
                });
            }
        }
        Ok(vec![PendingEvent::now(RecognitionDecided {
            recognition: id,
            evidence: self.evidence.clone(),
            exception: self.exception.clone(),
        })])
    }
}

impl Decision for RevokeRecognition {
    fn answered_by(&self, event: &DomainEvent) -> bool {
        matches!(event, DomainEvent::RecognitionRevoked(e) if e.reason == self.reason)
    }

    fn units_written(&self, _: &Aggregates) -> Vec<Option<UnitId>> {
        Vec::new()
    }

    fn decide(&self, cx: &mut Deciding<'_>) -> Result<Vec<PendingEvent>, DomainError> {
        recognition(cx.loaded, self.recognition)?;
        Ok(vec![PendingEvent::now(RecognitionRevoked { recognition: self.recognition, reason: self.reason.clone() })])
    }
}

impl Fact for BoardPublished {
    fn fold(&self, _: u64, state: &mut Aggregates) {
        let board = BoardState {
            half_year: self.half_year,
            policy: self.policy.clone(),
            as_of: self.as_of,
            policy_digest: self.policy_digest.clone(),
        };
        state.boards.insert(self.board, board);
    }
}

impl Fact for RecognitionNominated {
    fn fold(&self, _: u64, state: &mut Aggregates) {
        let nominated = RecognitionState {
            unit: self.unit,
            policy: self.policy.clone(),
            half_year: self.half_year,
            listed_until: self.listed_until,
            objections: Vec::new(),
            decided: false,
            revoked: false,
        };
        state.recognitions.insert(self.recognition, nominated);
    }
}

impl Fact for ObjectionRaised {
    fn fold(&self, _: u64, state: &mut Aggregates) {
        if let Some(r) = state.recognitions.get_mut(&self.recognition) {
            r.objections.push(None);
        }
    }
}

impl Fact for ObjectionAnswered {
    fn fold(&self, _: u64, state: &mut Aggregates) {
        let answer = state.recognitions.get_mut(&self.recognition).and_then(|r| {
            let i = (self.objection as usize).checked_sub(1)?;
            r.objections.get_mut(i)
        });
        if let Some(answer) = answer {
            *answer = Some(self.upheld);
        }
    }
}

impl Fact for RecognitionDecided {
    fn fold(&self, _: u64, state: &mut Aggregates) {
        if let Some(r) = state.recognitions.get_mut(&self.recognition) {
            r.decided = true;
        }
    }
}

impl Fact for RecognitionRevoked {
    fn fold(&self, _: u64, state: &mut Aggregates) {
        if let Some(r) = state.recognitions.get_mut(&self.recognition) {
            r.revoked = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn a_listing_counts_working_days_from_its_first() {
        // Friday 1 July 2011 and the four working days after: Thursday 7 July.
        assert_eq!(listing_end(date!(2011 - 07 - 01), 5), date!(2011 - 07 - 07));
        // From a Saturday, the first working day is the Monday.
        assert_eq!(listing_end(date!(2011 - 07 - 02), 1), date!(2011 - 07 - 04));
        // No listing: it ended the day before.
        assert_eq!(listing_end(date!(2011 - 07 - 02), 0), date!(2011 - 07 - 01));
    }
}
