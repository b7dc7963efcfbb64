//! Half-year evaluations (一诺双评: one commitment, two evaluations): a reviewer opens an
//! evaluation of the members or of the units in a scope for a half-year; the public's
//! evaluation (群众评议) is many ballots, each from a citizen, a public supervisor
//! (群众监督员) or a conduct assessor (行风评议员), rating one member or unit; the leaders'
//! review (领导点评) is a reviewer's score and comment for each. Closing the evaluation
//! freezes what counts: no ballot or review is taken after it.
//!
//! A ballot is anonymous (不记名): it keeps the voter's standing, never who they are.
//! A member's ballots follow the member: one who transfers during the half-year is rated
//! as a person, wherever they serve, and is listed under the unit they belong to when
//! their unit's list is read.

use serde::{Deserialize, Serialize};

use crate::command::Decision;
use crate::decide::{absent, Deciding, PendingEvent};
use crate::event::Fact;
use crate::*;

/// The most scores per criterion one ballot carries.
pub const MAX_BALLOT_SCORES: usize = 10;

/// What an evaluation rates.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub enum EvaluationSubject {
    /// Party members (党员).
    Members,
    /// Units: the service windows and their Party organisations (党组织).
    Units,
}

/// The one a ballot or a review rates.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub enum Rated {
    Member(MemberId),
    Unit(UnitId),
}

impl Rated {
    /// The kind of evaluation that rates it.
    pub fn subject(self) -> EvaluationSubject {
        match self {
            Rated::Member(_) => EvaluationSubject::Members,
            Rated::Unit(_) => EvaluationSubject::Units,
        }
    }
}

impl std::fmt::Display for Rated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rated::Member(id) => write!(f, "member {id}"),
            Rated::Unit(id) => write!(f, "unit {id}"),
        }
    }
}

/// Who cast a ballot, by their standing in the evaluation.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub enum Voter {
    /// 群众: a citizen served at the window.
    Citizen,
    /// 群众监督员: a public supervisor appointed for the campaign.
    Supervisor,
    /// 行风评议员: a conduct assessor.
    Assessor,
}

/// One criterion's score on a ballot (服务态度 85, 办事效率 90 …).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CriterionScore {
    pub criterion: Text,
    pub score: Score,
}

/// Opens an evaluation of `subject` within `scope` for a half-year.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct OpenEvaluation {
    pub evaluation: EvaluationId,
    pub name: Text,
    pub half_year: HalfYear,
    pub subject: EvaluationSubject,
    pub scope: RoundScope,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CloseEvaluation {
    pub evaluation: EvaluationId,
}

/// Records one ballot of the public's evaluation. `rating` `None` is a ballot that
/// says "don't know" (不了解): it is counted as cast but left out of satisfaction.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CastBallot {
    pub ballot: BallotId,
    pub evaluation: EvaluationId,
    pub rated: Rated,
    pub voter: Voter,
    pub rating: Option<Rating>,
    pub scores: Vec<CriterionScore>,
    pub comment: Option<Text>,
}

/// Records the leaders' review of one member or unit; a later review of the same one in
/// the same evaluation replaces the earlier.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ReviewAsLeader {
    pub evaluation: EvaluationId,
    pub rated: Rated,
    pub score: Score,
    pub comment: Option<Text>,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EvaluationOpened {
    pub evaluation: EvaluationId,
    pub name: Text,
    pub half_year: HalfYear,
    pub subject: EvaluationSubject,
    pub scope: RoundScope,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EvaluationClosed {
    pub evaluation: EvaluationId,
}

/// On the evaluation's stream: the leaders' review of one member or unit.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LeaderReviewed {
    pub evaluation: EvaluationId,
    pub rated: Rated,
    pub score: Score,
    pub comment: Option<Text>,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BallotCast {
    pub ballot: BallotId,
    pub evaluation: EvaluationId,
    pub rated: Rated,
    /// The unit rated, or the member's unit when the ballot was cast.
    pub unit: UnitId,
    pub voter: Voter,
    pub rating: Option<Rating>,
    pub scores: Vec<CriterionScore>,
    pub comment: Option<Text>,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct EvaluationState {
    pub subject: EvaluationSubject,
    pub scope: RoundScope,
    pub closed: bool,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct BallotState {
    pub evaluation: EvaluationId,
}

/// The unit of `rated` as `loaded` knows it: itself, or the member's unit now.
fn unit_of_rated(loaded: &Aggregates, rated: Rated) -> Option<UnitId> {
    match rated {
        Rated::Unit(id) => Some(id),
        Rated::Member(id) => loaded.members.get(&id).map(MemberState::current_unit),
    }
}

/// The streams a ballot or a review of `rated` in `evaluation` is decided on.
fn rated_needs(evaluation: EvaluationId, rated: Rated, loaded: &Aggregates, needs: &mut Vec<StreamId>) {
    needs.push(StreamId::evaluation(evaluation));
    if let Rated::Member(id) = rated {
        needs.push(StreamId::member(id));
    }
    needs.extend(unit_of_rated(loaded, rated).map(StreamId::unit));
}

/// What a ballot or a review must meet: an open evaluation of `rated`'s kind whose scope
/// covers it. Answers the unit rated, or the member's.
fn admit(cx: &Deciding<'_>, id: EvaluationId, rated: Rated) -> Result<UnitId, DomainError> {
    let evaluation = cx.loaded.evaluations.get(&id).ok_or(DomainError::EvaluationNotFound(id))?;
    if evaluation.closed {
        return Err(DomainError::EvaluationClosed { evaluation: id });
    }
    let unit_id = match rated {
        Rated::Member(m) => member(cx.loaded, m)?.current_unit(),
        Rated::Unit(u) => u,
    };
    let covered = unit(cx.loaded, unit_id)?;
    if rated.subject() != evaluation.subject || !evaluation.scope.covers(unit_id, &covered.region, &covered.industry) {
        return Err(DomainError::OutsideEvaluation { evaluation: id, rated: rated.to_string() });
    }
    Ok(unit_id)
}

impl Decision for OpenEvaluation {
    fn answered_by(&self, event: &DomainEvent) -> bool {
        matches!(event, DomainEvent::EvaluationOpened(e)
            if (&self.name, self.half_year, self.subject, &self.scope) == (&e.name, e.half_year, e.subject, &e.scope))
    }

    fn needs(&self, _: &Aggregates, needs: &mut Vec<StreamId>) {
        self.scope.needs(needs);
    }

    /// An evaluation is a reviewer's, over many units: it writes no unit's records.
    fn units_written(&self, _: &Aggregates) -> Vec<Option<UnitId>> {
        Vec::new()
    }

    fn decide(&self, cx: &mut Deciding<'_>) -> Result<Vec<PendingEvent>, DomainError> {
        absent(cx.loaded, StreamId::evaluation(self.evaluation))?;
        self.scope.check(cx.loaded)?;
        Ok(vec![PendingEvent::now(EvaluationOpened {
            evaluation: self.evaluation,
            name: self.name.clone(),
            half_year: self.half_year,
            subject: self.subject,
            scope: self.scope.clone(),
        })])
    }
}

impl Decision for CloseEvaluation {
    fn answered_by(&self, event: &DomainEvent) -> bool {
        matches!(event, DomainEvent::EvaluationClosed(e) if e.evaluation == self.evaluation)
    }

    fn units_written(&self, _: &Aggregates) -> Vec<Option<UnitId>> {
        Vec::new()
    }

    fn decide(&self, cx: &mut Deciding<'_>) -> Result<Vec<PendingEvent>, DomainError> {
        let id = self.evaluation;
        let evaluation = cx.loaded.evaluations.get(&id).ok_or(DomainError::EvaluationNotFound(id))?;
        if evaluation.closed {
            return Err(DomainError::EvaluationClosed { evaluation: id });
        }
        Ok(vec![PendingEvent::now(EvaluationClosed { evaluation: id })])
    }
}

impl Decision for CastBallot {
    fn answered_by(&self, event: &DomainEvent) -> bool {
        matches!(event, DomainEvent::BallotCast(e)
            if (self.evaluation, self.rated, self.voter, self.rating, &self.scores, &self.comment)
                == (e.evaluation, e.rated, e.voter, e.rating, &e.scores, &e.comment))
    }

    fn needs(&self, loaded: &Aggregates, needs: &mut Vec<StreamId>) {
        rated_needs(self.evaluation, self.rated, loaded, needs);
    }

    /// Ballots are entered by the evaluation's office (reviewers), never by the unit
    /// rated: the API lets reviewers alone send them.
    fn units_written(&self, _: &Aggregates) -> Vec<Option<UnitId>> {
        Vec::new()
    }

    fn decide(&self, cx: &mut Deciding<'_>) -> Result<Vec<PendingEvent>, DomainError> {
        absent(cx.loaded, StreamId::ballot(self.ballot))?;
        if self.scores.len() > MAX_BALLOT_SCORES {
            return Err(DomainError::InvalidValue {
                field: "scores".to_owned(),
                reason: format!("{} scores given; a ballot carries at most {MAX_BALLOT_SCORES}", self.scores.len()),
            });
        }
        for (i, s) in self.scores.iter().enumerate() {
            if self.scores[..i].iter().any(|earlier| earlier.criterion == s.criterion) {
                return Err(DomainError::InvalidValue {
                    field: "scores".to_owned(),
                    reason: format!("criterion {:?} is scored twice", s.criterion.as_str()),
                });
            }
        }
        let unit = admit(cx, self.evaluation, self.rated)?;
        Ok(vec![PendingEvent::now(BallotCast {
            ballot: self.ballot,
            evaluation: self.evaluation,
            rated: self.rated,
            unit,
            voter: self.voter,
            rating: self.rating,
            scores: self.scores.clone(),
            comment: self.comment.clone(),
        })])
    }
}

impl Decision for ReviewAsLeader {
    fn answered_by(&self, event: &DomainEvent) -> bool {
        matches!(event, DomainEvent::LeaderReviewed(e)
            if (self.evaluation, self.rated, self.score, &self.comment) == (e.evaluation, e.rated, e.score, &e.comment))
    }

    fn needs(&self, loaded: &Aggregates, needs: &mut Vec<StreamId>) {
        rated_needs(self.evaluation, self.rated, loaded, needs);
    }

    fn units_written(&self, _: &Aggregates) -> Vec<Option<UnitId>> {
        Vec::new()
    }

    fn decide(&self, cx: &mut Deciding<'_>) -> Result<Vec<PendingEvent>, DomainError> {
        admit(cx, self.evaluation, self.rated)?;
        Ok(vec![PendingEvent::now(LeaderReviewed {
            evaluation: self.evaluation,
            rated: self.rated,
            score: self.score,
            comment: self.comment.clone(),
        })])
    }
}

impl Fact for EvaluationOpened {
    fn fold(&self, _: u64, state: &mut Aggregates) {
        let opened = EvaluationState { subject: self.subject, scope: self.scope.clone(), closed: false };
        state.evaluations.insert(self.evaluation, opened);
    }
}

impl Fact for EvaluationClosed {
    fn fold(&self, _: u64, state: &mut Aggregates) {
        if let Some(evaluation) = state.evaluations.get_mut(&self.evaluation) {
            evaluation.closed = true;
        }
    }
}

impl Fact for LeaderReviewed {
    /// Reviews change no rule's state: the evaluation stays open for more.
    fn fold(&self, _: u64, _: &mut Aggregates) {}
}

impl Fact for BallotCast {
    fn fold(&self, _: u64, state: &mut Aggregates) {
        state.ballots.insert(self.ballot, BallotState { evaluation: self.evaluation });
    }
}
