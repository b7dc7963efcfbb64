//! Half-year evaluations (一诺双评): opened and closed by reviewers; the public's ballots
//! and the leaders' reviews entered by them; each member's or unit's result (ballots by
//! rating, satisfaction, the leaders' score) read as of any position.

use async_graphql::{Context, Enum, InputObject, Object, SimpleObject, ID};
use taizhang_core::*;
use taizhang_read::board::{complete_page, BoardEntry};
use taizhang_read::eligibility::Candidate;
use taizhang_read::evaluations::{show_fraction, EvaluationHistory, SatisfactionPoints, Tally};
use taizhang_read::ReadModel;
use taizhang_store::{AppendOutcome, Position};

use crate::access::{self, Need, Permission};
use crate::error::invalid;
use crate::mutation::{execute, record};
use crate::reports::{loaded_policy, Eligibility, ScopeInput};
use crate::rounds::{page_size, RatingValue, RoundScopeInput, ScopeFields};
use crate::state;
use crate::types::*;

/// A refusal of a value, as the domain words it.
fn domain(e: DomainError) -> async_graphql::Error {
    crate::error::domain(&e)
}

/// What an evaluation rates.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "EvaluationSubject")]
pub enum SubjectValue {
    /// Party members (党员).
    Members,
    /// Units (窗口单位 and their Party organisations).
    Units,
}

/// Who cast a ballot.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "Voter")]
pub enum VoterValue {
    /// 群众: a citizen served at the window.
    Citizen,
    /// 群众监督员: a public supervisor.
    Supervisor,
    /// 行风评议员: a conduct assessor.
    Assessor,
}

crate::rounds::same_enum!(SubjectValue <-> EvaluationSubject { Members, Units });
crate::rounds::same_enum!(VoterValue <-> Voter { Citizen, Supervisor, Assessor });

/// A half-year evaluation (a round of ballots and reviews) as known at the position
/// read. (`Evaluation` is a member's recorded pair of scores.)
#[derive(SimpleObject, Clone)]
pub struct EvaluationRound {
    pub id: ID,
    pub name: String,
    /// `2011H1`: January to June.
    pub half_year: String,
    pub subject: SubjectValue,
    #[graphql(flatten)]
    pub scope: ScopeFields,
    pub opened_at: Position,
    /// Where it was closed; null while it is open.
    pub closed_at: Option<Position>,
}

impl EvaluationRound {
    fn of(id: EvaluationId, evaluation: &EvaluationHistory, as_of: Position) -> Option<Self> {
        (evaluation.opened_at <= as_of).then(|| Self {
            id: ID(id.to_string()),
            name: evaluation.name.to_string(),
            half_year: evaluation.half_year.to_string(),
            subject: evaluation.subject.into(),
            scope: ScopeFields::of(&evaluation.scope),
            opened_at: evaluation.opened_at,
            closed_at: evaluation.closed_at.filter(|p| *p <= as_of),
        })
    }

    fn at(model: &ReadModel, id: EvaluationId, as_of: Position) -> Option<Self> {
        Self::of(id, model.evaluations.get(&id)?, as_of)
    }
}

/// One member's or unit's result in an evaluation, as of the position read.
#[derive(SimpleObject)]
pub struct EvaluationResult {
    /// The member rated, in an evaluation of members.
    pub member: Option<ID>,
    /// The unit rated, or the member's unit at the position read.
    pub unit: Option<ID>,
    #[graphql(flatten)]
    pub names: RatedNames,
    /// Every ballot cast, "don't know" included.
    pub ballots: u32,
    pub satisfied: u32,
    pub fairly_satisfied: u32,
    pub dissatisfied: u32,
    pub dont_know: u32,
    /// The mean of the rating ballots' points (满意 100, 基本满意 70, 不满意 30; "don't
    /// know" left out), two decimals; null without a rating ballot.
    pub satisfaction: Option<String>,
    /// The leaders' review (领导点评), 0 to 100; null before one is recorded.
    pub leader_score: Option<u8>,
    pub leader_comment: Option<String>,
}

impl EvaluationResult {
    fn of(model: &ReadModel, evaluation: &EvaluationHistory, rated: Rated, as_of: Position) -> Self {
        let tally: Tally = evaluation.tally(rated, as_of);
        let review = evaluation.review_at(rated, as_of);
        let (member, unit) = match rated {
            Rated::Member(m) => (Some(m), model.member_unit(m, as_of)),
            Rated::Unit(u) => (None, Some(u)),
        };
        Self {
            member: member.map(|m| ID(m.to_string())),
            unit: unit.map(|u| ID(u.to_string())),
            names: RatedNames::of(model, member, unit, as_of),
            ballots: tally.cast(),
            satisfied: tally.satisfied,
            fairly_satisfied: tally.fairly_satisfied,
            dissatisfied: tally.dissatisfied,
            dont_know: tally.dont_know,
            satisfaction: tally.satisfaction(&SatisfactionPoints::default()),
            leader_score: review.map(|r| r.score.get()),
            leader_comment: review.and_then(|r| r.comment.as_ref()).map(ToString::to_string),
        }
    }
}

/// Who a result or a board's entry is of, as a reader of a list or a spreadsheet names
/// them: codes (else ids) and the unit's name, as of the position read. A member's name
/// is personal data, asked of `member` where the caller may read it.
#[derive(SimpleObject)]
pub struct RatedNames {
    /// The unit's code (else its id).
    pub unit_code: Option<String>,
    /// The unit's name at the position read.
    pub unit_name: Option<String>,
    /// The member's code (else their id), when a member is rated.
    pub member_code: Option<String>,
}

impl RatedNames {
    fn of(model: &ReadModel, member: Option<MemberId>, unit: Option<UnitId>, as_of: Position) -> Self {
        Self {
            unit_code: unit.map(|u| model.reference(u.0)),
            unit_name: unit.and_then(|u| model.unit(u, as_of)).map(|u| u.name.to_string()),
            member_code: member.map(|m| model.reference(m.0)),
        }
    }
}

#[derive(SimpleObject)]
pub struct EvaluationResultPage {
    /// Members or units rated by a ballot or a review, in all.
    pub total_count: u64,
    pub results: Vec<EvaluationResult>,
}

/// One criterion's score on a ballot.
#[derive(SimpleObject)]
pub struct BallotScore {
    pub criterion: String,
    pub score: u8,
}

/// One ballot as cast: anonymous, with the voter's standing only.
#[derive(SimpleObject)]
pub struct Ballot {
    pub id: ID,
    /// Where it was recorded.
    pub position: Position,
    pub voter: VoterValue,
    /// Null: "don't know".
    pub rating: Option<RatingValue>,
    pub scores: Vec<BallotScore>,
    pub comment: Option<String>,
}

#[derive(SimpleObject)]
pub struct BallotPage {
    /// The ballots rating the one asked for, in all.
    pub total_count: u64,
    pub ballots: Vec<Ballot>,
}

/// The most evaluations `evaluations` lists.
const MAX_EVALUATIONS: usize = 1_000;

#[derive(Default)]
pub struct EvaluationQueries;

#[Object]
impl EvaluationQueries {
    #[graphql(guard = "Need(Permission::ReadPublished)")]
    async fn evaluation(
        &self,
        ctx: &Context<'_>,
        id: ID,
        as_of: Option<AsOfInput>,
        min_position: Option<NonNegative>,
    ) -> async_graphql::Result<Option<EvaluationRound>> {
        let evaluation: EvaluationId = parse_id("id", &id)?;
        let as_of = crate::as_of(as_of);
        state(ctx).read(min_position.map(Into::into), |m| EvaluationRound::at(m, evaluation, as_of.position(m))).await
    }

    /// Every evaluation (of one half-year, if given), the most recently opened first, at
    /// most 1,000.
    #[graphql(guard = "Need(Permission::ReadPublished)")]
    async fn evaluations(
        &self,
        ctx: &Context<'_>,
        half_year: Option<String>,
        as_of: Option<AsOfInput>,
        min_position: Option<NonNegative>,
    ) -> async_graphql::Result<Vec<EvaluationRound>> {
        let half_year = half_year.map(|h| HalfYear::parse("halfYear", &h)).transpose().map_err(domain)?;
        let as_of = crate::as_of(as_of);
        state(ctx)
            .read(min_position.map(Into::into), |m| {
                let position = as_of.position(m);
                let mut found: Vec<EvaluationRound> = m
                    .evaluations
                    .iter()
                    .filter(|(_, e)| half_year.is_none_or(|h| e.half_year == h))
                    .filter_map(|(id, e)| EvaluationRound::of(*id, e, position))
                    .collect();
                found.sort_by_key(|e| std::cmp::Reverse(e.opened_at));
                found.truncate(MAX_EVALUATIONS);
                found
            })
            .await
    }

    /// The ballots rating one member or unit in an evaluation, in the order cast,
    /// with their comments: `first` (at most 1,000) after `offset`.
    #[graphql(guard = "Need(Permission::ReadRecords)")]
    #[allow(clippy::too_many_arguments)]
    async fn ballots(
        &self,
        ctx: &Context<'_>,
        evaluation: ID,
        rated: RatedInput,
        #[graphql(default = 0)] offset: usize,
        #[graphql(default = 100)] first: usize,
        as_of: Option<AsOfInput>,
        min_position: Option<NonNegative>,
    ) -> async_graphql::Result<Option<BallotPage>> {
        let id: EvaluationId = parse_id("evaluation", &evaluation)?;
        let rated = rated.parse()?;
        page_size(first)?;
        let as_of = crate::as_of(as_of);
        state(ctx)
            .read(min_position.map(Into::into), |m| {
                let position = as_of.position(m);
                let evaluation = m.evaluations.get(&id).filter(|e| e.opened_at <= position)?;
                let cast = evaluation.cast_by(rated, position);
                let ballots = cast
                    .iter()
                    .skip(offset)
                    .take(first)
                    .filter_map(|mark| {
                        let b = m.ballots.get(&mark.ballot)?;
                        Some(Ballot {
                            id: ID(mark.ballot.to_string()),
                            position: b.position,
                            voter: b.voter.into(),
                            rating: b.rating.map(Into::into),
                            scores: b
                                .scores
                                .iter()
                                .map(|s| BallotScore { criterion: s.criterion.to_string(), score: s.score.get() })
                                .collect(),
                            comment: b.comment.as_ref().map(ToString::to_string),
                        })
                    })
                    .collect();
                Some(BallotPage { total_count: cast.len() as u64, ballots })
            })
            .await
    }

    /// The results of an evaluation, one per member or unit rated by a ballot or a
    /// review (of one unit, if given: the unit itself, or its members), in id order:
    /// `first` of them (at most 1,000) after skipping `offset`.
    #[graphql(guard = "Need(Permission::ReadReports)")]
    #[allow(clippy::too_many_arguments)]
    async fn evaluation_results(
        &self,
        ctx: &Context<'_>,
        evaluation: ID,
        unit: Option<ID>,
        #[graphql(default = 0)] offset: usize,
        #[graphql(default = 100)] first: usize,
        as_of: Option<AsOfInput>,
        min_position: Option<NonNegative>,
    ) -> async_graphql::Result<Option<EvaluationResultPage>> {
        let id: EvaluationId = parse_id("evaluation", &evaluation)?;
        let unit: Option<UnitId> = unit.map(|u| parse_id("unit", &u)).transpose()?;
        page_size(first)?;
        let as_of = crate::as_of(as_of);
        state(ctx)
            .read(min_position.map(Into::into), |m| {
                let position = as_of.position(m);
                let evaluation = m.evaluations.get(&id).filter(|e| e.opened_at <= position)?;
                let of_unit = |rated: &Rated| match (unit, rated) {
                    (None, _) => true,
                    (Some(u), Rated::Unit(r)) => u == *r,
                    (Some(u), Rated::Member(member)) => m.member_unit(*member, position) == Some(u),
                };
                let rated: Vec<Rated> = evaluation.rated_at(position).into_iter().filter(|r| of_unit(r)).collect();
                let results =
                    rated.iter().skip(offset).take(first).map(|r| EvaluationResult::of(m, evaluation, *r, position));
                Some(EvaluationResultPage { total_count: rated.len() as u64, results: results.collect() })
            })
            .await
    }
}

/// A star board (星级榜) as of one position.
#[derive(SimpleObject)]
pub struct StarBoard {
    pub policy: String,
    pub policy_version: u32,
    pub half_year: String,
    /// The position the board was computed at: quote it (`asOf`) to reproduce it.
    pub as_of_position: Position,
    /// Members or units on the board, in all.
    pub total_count: u64,
    pub entries: Vec<StarBoardEntry>,
}

#[derive(SimpleObject)]
pub struct StarBoardEntry {
    /// 1 for the best; equal stars and score share a rank.
    pub rank: u64,
    /// The policy's rank of the outcome: the stars.
    pub stars: u64,
    /// The stars of the previous half-year, as of the same position.
    pub previous_stars: u64,
    /// `stars - previousStars`.
    pub change: i64,
    /// Kept one below the top by the policy's share of the top rank.
    pub held_by_quota: bool,
    /// The member, on a board of members.
    pub member: Option<ID>,
    /// The unit, or the member's unit at the position.
    pub unit: Option<ID>,
    #[graphql(flatten)]
    pub names: RatedNames,
    /// The weighted score, two decimals, when the policy has one and it is known.
    pub score: Option<String>,
    /// Every level (star), cap and veto with its criteria, required and actual.
    pub eligibility: Eligibility,
}

/// A board's entries as the API shows them, the members' units as of `position`.
pub(crate) fn board_entries(m: &ReadModel, page: Vec<BoardEntry>, position: Position) -> Vec<StarBoardEntry> {
    page.into_iter()
        .map(|e| {
            let (member, unit) = match e.eligibility.candidate {
                Candidate::Member(id) => (Some(id), m.member_unit(id, position)),
                Candidate::Unit(id) => (None, Some(id)),
            };
            StarBoardEntry {
                rank: e.rank as u64,
                stars: e.stars as u64,
                previous_stars: e.previous_stars as u64,
                change: e.stars as i64 - e.previous_stars as i64,
                held_by_quota: e.held_by_quota,
                member: member.map(|m| ID(m.to_string())),
                unit: unit.map(|u| ID(u.to_string())),
                names: RatedNames::of(m, member, unit, position),
                score: e.eligibility.score.map(|(n, d)| show_fraction(n, d)),
                eligibility: e.eligibility.into(),
            }
        })
        .collect()
}

#[derive(Default)]
pub struct BoardQueries;

#[Object]
impl BoardQueries {
    /// The star board of `policy` (a ten-star policy of members or of units) for a
    /// half-year over a scope's units (or their members on the half-year's last day):
    /// `first` entries (at most 1,000) after `offset`, best first. The whole board is
    /// ranked as of one position; at the head, only those whom an event touched since
    /// the board was last asked for are assessed again.
    #[graphql(guard = "Need(Permission::ReadRecords)")]
    #[allow(clippy::too_many_arguments)]
    async fn star_board(
        &self,
        ctx: &Context<'_>,
        policy: String,
        half_year: String,
        #[graphql(default)] scope: ScopeInput,
        #[graphql(default = 0)] offset: usize,
        #[graphql(default = 100)] first: usize,
        as_of: Option<AsOfInput>,
        min_position: Option<NonNegative>,
    ) -> async_graphql::Result<StarBoard> {
        let state = state(ctx);
        let principal = access::principal(ctx)?;
        let policy = loaded_policy(state, &policy)?.clone();
        if policy.uses_personal_data() {
            return Err(invalid(
                "policy",
                format!("policy {} reads ages; a board reads no personal data", policy.name),
            ));
        }
        let half_year = HalfYear::parse("halfYear", &half_year).map_err(domain)?;
        page_size(first)?;
        let (scope, as_of) = (scope.parse()?, crate::as_of(as_of));
        state.reached(min_position.map(Into::into)).await?;
        // The heavy read takes the policy; the page's half-year before needs it too.
        let page_policy = policy.clone();
        let kept = state.clone();
        let (as_of, total_count, board) = state
            .read_heavy(principal, None, move |heavy| {
                let abandoned = || heavy.abandoned();
                let boards = &kept.kept_boards;
                boards.page(heavy.projector, &policy, &scope, half_year, &as_of, offset, first, &abandoned)
            })
            .await?
            .map_err(|e| invalid("policy", e))?;
        let position = board.as_of_position;
        let total_count = total_count as u64;
        let mut page = board.entries;
        let entries = state
            .read(None, |m| -> async_graphql::Result<Vec<StarBoardEntry>> {
                // The explanations and the half-year before for the page only: the ranks
                // depend on neither.
                complete_page(m, &page_policy, &mut page, half_year, &as_of).map_err(|e| invalid("policy", e))?;
                Ok(board_entries(m, page, position))
            })
            .await??;
        Ok(StarBoard {
            policy: board.policy,
            policy_version: board.policy_version,
            half_year: half_year.to_string(),
            as_of_position: position,
            total_count,
            entries,
        })
    }
}

#[derive(InputObject)]
pub struct OpenEvaluationInput {
    pub name: String,
    /// `2011H1`: January to June; `2011H2`: July to December.
    pub half_year: String,
    pub subject: SubjectValue,
    #[graphql(default)]
    pub scope: RoundScopeInput,
}

/// The one rated: give exactly one of `member` and `unit`.
#[derive(InputObject)]
pub struct RatedInput {
    pub member: Option<ID>,
    pub unit: Option<ID>,
}

impl RatedInput {
    pub(crate) fn parse(self) -> async_graphql::Result<Rated> {
        match (self.member, self.unit) {
            (Some(m), None) => Ok(Rated::Member(parse_id("input.rated.member", &m)?)),
            (None, Some(u)) => Ok(Rated::Unit(parse_id("input.rated.unit", &u)?)),
            _ => Err(invalid("input.rated", "give exactly one of member and unit")),
        }
    }
}

#[derive(InputObject)]
pub struct CriterionScoreInput {
    /// 服务态度, 办事效率 …
    pub criterion: String,
    /// 0 to 100.
    pub score: i64,
}

#[derive(InputObject)]
pub struct CastBallotInput {
    pub evaluation: ID,
    pub rated: RatedInput,
    pub voter: VoterValue,
    /// Null: "don't know" (不了解), cast but left out of satisfaction.
    pub rating: Option<RatingValue>,
    /// At most 10, each criterion once.
    #[graphql(default)]
    pub scores: Vec<CriterionScoreInput>,
    pub comment: Option<String>,
}

#[derive(InputObject)]
pub struct ReviewAsLeaderInput {
    pub evaluation: ID,
    pub rated: RatedInput,
    /// 0 to 100.
    pub score: i64,
    pub comment: Option<String>,
}

#[derive(SimpleObject)]
pub struct EvaluationPayload {
    pub receipt: Receipt,
    pub evaluation: Option<EvaluationRound>,
}

async fn evaluation_payload(
    ctx: &Context<'_>,
    outcome: AppendOutcome,
    evaluation: EvaluationId,
) -> async_graphql::Result<EvaluationPayload> {
    let at = |m: &ReadModel, id, p| EvaluationRound::at(m, EvaluationId(id), p);
    let evaluation = record(ctx, &outcome, Some(evaluation.0), StreamKind::Evaluation, "evaluation", at).await?;
    Ok(EvaluationPayload { receipt: Receipt::new(&outcome), evaluation })
}

#[derive(SimpleObject)]
pub struct BallotPayload {
    pub receipt: Receipt,
    /// The ballot's id.
    pub ballot: ID,
}

#[derive(Default)]
pub struct EvaluationMutations;

#[Object]
impl EvaluationMutations {
    #[graphql(guard = "Need(Permission::Review)")]
    async fn open_evaluation(
        &self,
        ctx: &Context<'_>,
        input: OpenEvaluationInput,
        command_id: Option<uuid::Uuid>,
    ) -> async_graphql::Result<EvaluationPayload> {
        let evaluation = EvaluationId::new();
        let command = OpenEvaluation {
            evaluation,
            name: text("input.name", &input.name)?,
            half_year: HalfYear::parse("input.halfYear", &input.half_year).map_err(domain)?,
            subject: input.subject.into(),
            scope: input.scope.parse()?,
        };
        let outcome = execute(ctx, command_id, command.into()).await?;
        let evaluation = Receipt::stream_of(&outcome, StreamKind::Evaluation).map_or(evaluation, EvaluationId);
        evaluation_payload(ctx, outcome, evaluation).await
    }

    #[graphql(guard = "Need(Permission::Review)")]
    async fn close_evaluation(
        &self,
        ctx: &Context<'_>,
        evaluation: ID,
        command_id: Option<uuid::Uuid>,
    ) -> async_graphql::Result<EvaluationPayload> {
        let evaluation: EvaluationId = parse_id("evaluation", &evaluation)?;
        let outcome = execute(ctx, command_id, CloseEvaluation { evaluation }.into()).await?;
        evaluation_payload(ctx, outcome, evaluation).await
    }

    /// Enters one ballot of the public's evaluation (a paper ballot, a supervisor's
    /// or an assessor's); anonymous: it keeps the voter's standing only.
    #[graphql(guard = "Need(Permission::Review)")]
    async fn cast_ballot(
        &self,
        ctx: &Context<'_>,
        input: CastBallotInput,
        command_id: Option<uuid::Uuid>,
    ) -> async_graphql::Result<BallotPayload> {
        let scores = input
            .scores
            .iter()
            .map(|s| {
                Ok(CriterionScore {
                    criterion: text("input.scores.criterion", &s.criterion)?,
                    score: Score::new("input.scores.score", s.score).map_err(domain)?,
                })
            })
            .collect::<async_graphql::Result<Vec<_>>>()?;
        let ballot = BallotId::new();
        let command = CastBallot {
            ballot,
            evaluation: parse_id("input.evaluation", &input.evaluation)?,
            rated: input.rated.parse()?,
            voter: input.voter.into(),
            rating: input.rating.map(Into::into),
            scores,
            comment: optional_text("input.comment", input.comment.as_deref())?,
        };
        let outcome = execute(ctx, command_id, command.into()).await?;
        let ballot = Receipt::stream_of(&outcome, StreamKind::Ballot).map_or(ballot, BallotId);
        Ok(BallotPayload { receipt: Receipt::new(&outcome), ballot: ID(ballot.to_string()) })
    }

    /// Records the leaders' review of a member or unit; a later one replaces it.
    #[graphql(guard = "Need(Permission::Review)")]
    async fn review_as_leader(
        &self,
        ctx: &Context<'_>,
        input: ReviewAsLeaderInput,
        command_id: Option<uuid::Uuid>,
    ) -> async_graphql::Result<EvaluationPayload> {
        let evaluation: EvaluationId = parse_id("input.evaluation", &input.evaluation)?;
        let command = ReviewAsLeader {
            evaluation,
            rated: input.rated.parse()?,
            score: Score::new("input.score", input.score).map_err(domain)?,
            comment: optional_text("input.comment", input.comment.as_deref())?,
        };
        let outcome = execute(ctx, command_id, command.into()).await?;
        evaluation_payload(ctx, outcome, evaluation).await
    }
}
