//! Published star boards and recognitions (表彰): a reviewer publishes a board, which
//! can be computed again exactly at any later time and compared with the board as the
//! log now stands; nominations are listed publicly (公示) and take objections; a
//! reviewer decides each on a published board's evidence, or as an exception with a
//! reason; an administrator may revoke one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_graphql::{Context, Enum, InputObject, Object, SimpleObject, ID};
use taizhang_core::*;
use taizhang_read::board::{star_board_in_slices, Detail, StarBoard as Board};
use taizhang_read::policy::Policy;
use taizhang_read::recognitions::{
    board_scope, differences, evidence_for, publication, round_scope, PublishedBoard as BoardRecord, RecognitionRecord,
};
use taizhang_read::{AsOf, ReadModel};
use taizhang_store::{AppendOutcome, Position};
use time::Date;

use crate::access::{self, Need, Permission};
use crate::error::{self, invalid, Code};
use crate::evaluations::{board_entries, RatedInput, StarBoardEntry};
use crate::mutation::execute;
use crate::reports::{loaded_policy, ScopeInput};
use crate::rounds::page_size;
use crate::types::*;
use crate::{state, ApiState};

/// Published boards computed again, by id: each is fixed (its position and policy are
/// in the log), so one computation serves every later read. A few are kept whole; what
/// the notice board publishes of each (its [`Standings`], small) is kept for every one,
/// so that no caller can have a board computed twice by asking for many in turn.
#[derive(Default)]
pub(crate) struct PublishedBoards {
    boards: Mutex<HashMap<BoardId, Arc<(Policy, Board)>>>,
    standings: Mutex<HashMap<BoardId, Arc<Standings>>>,
}

/// Boards kept computed; the least recently published are the first to go.
const BOARDS_KEPT: usize = 8;

impl PublishedBoards {
    fn get(&self, id: BoardId) -> Option<Arc<(Policy, Board)>> {
        self.boards.lock().unwrap_or_else(|e| e.into_inner()).get(&id).cloned()
    }

    fn keep(&self, id: BoardId, board: Arc<(Policy, Board)>) {
        let mut kept = self.boards.lock().unwrap_or_else(|e| e.into_inner());
        if kept.len() >= BOARDS_KEPT {
            let oldest = kept.iter().min_by_key(|(_, b)| b.1.as_of_position).map(|(id, _)| *id);
            kept.remove(&oldest.expect("a full map has a member"));
        }
        kept.insert(id, board);
    }
}

/// What the notice board publishes of a board: how many reached each number of stars
/// (the most first) and, on a board of units, each unit's place in order.
pub(crate) struct Standings {
    pub star_counts: Vec<StarCount>,
    pub units: Vec<UnitPlace>,
}

/// A unit's place on a published board.
pub(crate) struct UnitPlace {
    pub rank: usize,
    pub stars: usize,
    /// The weighted score as an exact fraction, when the policy has one.
    pub score: Option<(i128, i128)>,
    pub unit: UnitId,
}

impl Standings {
    fn of(board: &Board) -> Self {
        let mut counts = std::collections::BTreeMap::<usize, u64>::new();
        for entry in &board.entries {
            *counts.entry(entry.stars).or_default() += 1;
        }
        let star_counts = counts.into_iter().rev().map(|(stars, count)| StarCount { stars: stars as u64, count });
        let units = board.entries.iter().filter_map(|e| match e.eligibility.candidate {
            taizhang_read::eligibility::Candidate::Unit(unit) => {
                Some(UnitPlace { rank: e.rank, stars: e.stars, score: e.eligibility.score, unit })
            }
            taizhang_read::eligibility::Candidate::Member(_) => None,
        });
        Self { star_counts: star_counts.collect(), units: units.collect() }
    }
}

/// `published`'s [`Standings`], computed once (as a heavy read charged to `principal`)
/// and kept.
pub(crate) async fn standings(
    state: &Arc<ApiState>,
    principal: &access::Principal,
    published: &BoardPublished,
) -> async_graphql::Result<Arc<Standings>> {
    let id = published.board;
    if let Some(kept) = state.published_boards.standings.lock().unwrap_or_else(|e| e.into_inner()).get(&id) {
        return Ok(kept.clone());
    }
    let computed = computed(state, principal, published, None).await?;
    let standings = Arc::new(Standings::of(&computed.1));
    state.published_boards.standings.lock().unwrap_or_else(|e| e.into_inner()).insert(id, standings.clone());
    Ok(standings)
}

/// `published` computed again at `as_of` (its own position when `None`) under its own
/// policy, as a heavy read; kept when computed at its own position.
pub(crate) async fn computed(
    state: &Arc<ApiState>,
    principal: &access::Principal,
    published: &BoardPublished,
    as_of: Option<AsOf>,
) -> async_graphql::Result<Arc<(Policy, Board)>> {
    let id = published.board;
    if as_of.is_none() {
        if let Some(kept) = state.published_boards.get(id) {
            return Ok(kept);
        }
    }
    let policy = taizhang_read::recognitions::published_policy(published).map_err(|e| error::internal(&e))?;
    let (scope, half_year) = (board_scope(&published.scope), published.half_year);
    let at = as_of.unwrap_or(AsOf::at_position(published.as_of));
    let board = state
        .read_heavy(principal, None, move |heavy| {
            let (_, board) =
                star_board_in_slices(heavy.projector, &policy, &scope, half_year, &at, Detail::Explained, &|| {
                    heavy.abandoned()
                })?;
            Ok::<_, taizhang_read::eligibility::EligibilityError>(Arc::new((policy, board)))
        })
        .await?
        .map_err(|e| invalid("board", e))?;
    if as_of.is_none() {
        state.published_boards.keep(id, board.clone());
    }
    Ok(board)
}

fn published_record(m: &ReadModel, id: BoardId, position: Position) -> Option<BoardRecord> {
    m.boards.get(&id).filter(|b| b.position <= position).cloned()
}

/// A published star board (星级榜): what it was computed from and what it came to.
#[derive(SimpleObject, Clone)]
#[graphql(complex)]
pub struct PublishedBoard {
    pub id: ID,
    pub name: String,
    pub half_year: String,
    /// All, a region, an industry, or one unit.
    pub scope: String,
    pub policy: String,
    pub policy_version: u32,
    /// SHA-256 of the policy as applied (its canonical JSON, kept in the log).
    pub policy_digest: String,
    /// The position the board was computed at.
    pub as_of_position: Position,
    /// How many it lists.
    pub entry_count: u64,
    /// SHA-256 of its entries (who, in order, with rank, stars and score).
    pub digest: String,
    /// Where it was published.
    pub published_at: Position,
    #[graphql(skip)]
    record: BoardPublished,
}

impl PublishedBoard {
    pub(crate) fn of(record: &BoardRecord) -> Self {
        let p = &record.published;
        let scope = match &p.scope {
            RoundScope::All => "all".to_owned(),
            RoundScope::Region(r) => format!("region {r}"),
            RoundScope::Industry(i) => format!("industry {i}"),
            RoundScope::Units(units) => units.iter().map(|u| format!("unit {u}")).collect::<Vec<_>>().join(", "),
        };
        Self {
            id: ID(p.board.to_string()),
            name: p.name.to_string(),
            half_year: p.half_year.to_string(),
            scope,
            policy: p.policy.to_string(),
            policy_version: p.policy_version,
            policy_digest: p.policy_digest.to_string(),
            as_of_position: p.as_of,
            entry_count: u64::from(p.entries),
            digest: p.digest.to_string(),
            published_at: record.position,
            record: p.clone(),
        }
    }
}

/// A published board computed again at its position: whether it is the board
/// published, a page of it, and where the board as the log stands now differs.
#[derive(SimpleObject)]
pub struct BoardReproduction {
    /// The digest of the board computed again.
    pub digest: String,
    /// It equals the published digest: the published board is reproduced exactly.
    pub reproduced: bool,
    pub entries: Vec<StarBoardEntry>,
    /// Members or units whose rank or stars differ on the board computed now (after
    /// later corrections), in all.
    pub difference_count: u64,
    /// The first of them, at most 100.
    pub differences: Vec<BoardDifference>,
    /// The position "now" was read at.
    pub current_position: Position,
}

#[derive(SimpleObject)]
pub struct BoardDifference {
    pub member: Option<ID>,
    pub unit: Option<ID>,
    /// As published; none when not on the published board.
    pub published_rank: Option<u64>,
    pub published_stars: Option<u64>,
    /// Now; none when no longer on the board.
    pub current_rank: Option<u64>,
    pub current_stars: Option<u64>,
}

/// Differences shown at most.
const DIFFERENCES_SHOWN: usize = 100;

/// A published board as the notice board shows it: how many reached each number of
/// stars, and the units' places (a member's place names no member).
#[derive(SimpleObject)]
pub struct BoardStandings {
    /// For each number of stars reached, from the most, how many: `[{ stars: 10, count: 580 }, …]`.
    pub star_counts: Vec<StarCount>,
    /// On a board of units, `first` of them after `offset`; on a board of members,
    /// none (the counts above are what is published of members).
    pub units: Vec<UnitStanding>,
}

#[derive(SimpleObject, Clone)]
pub struct StarCount {
    pub stars: u64,
    pub count: u64,
}

/// A unit's place on a published board.
#[derive(SimpleObject)]
pub struct UnitStanding {
    pub rank: u64,
    pub stars: u64,
    /// The weighted score, two decimals, when the policy has one.
    pub score: Option<String>,
    pub unit: ID,
    /// The unit's code (else its id) and its name at the board's position.
    pub unit_code: String,
    pub unit_name: Option<String>,
}

#[async_graphql::ComplexObject]
impl PublishedBoard {
    /// What the notice board publishes of the board: how many reached each number of
    /// stars, and on a board of units each unit's place (`first` after `offset`).
    #[graphql(guard = "Need(Permission::ReadPublished)")]
    async fn standings(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 0)] offset: usize,
        #[graphql(default = 100)] first: usize,
    ) -> async_graphql::Result<BoardStandings> {
        page_size(first)?;
        let state = state(ctx);
        let standings = standings(state, access::principal(ctx)?, &self.record).await?;
        let at = self.as_of_position;
        let units = state
            .read(None, |m| {
                let places = standings.units.iter().skip(offset).take(first);
                places
                    .map(|place| UnitStanding {
                        rank: place.rank as u64,
                        stars: place.stars as u64,
                        score: place.score.map(|(n, d)| taizhang_read::evaluations::show_fraction(n, d)),
                        unit: ID(place.unit.to_string()),
                        unit_code: m.reference(place.unit.0),
                        unit_name: m.unit(place.unit, at).map(|v| v.name.to_string()),
                    })
                    .collect()
            })
            .await?;
        Ok(BoardStandings { star_counts: standings.star_counts.clone(), units })
    }

    /// The board computed again from the log as of its position under the policy it
    /// recorded (`first` entries after `offset`), checked against the published digest,
    /// and compared with the same board as the log stands now.
    #[graphql(guard = "Need(Permission::ReadRecords)")]
    async fn reproduction(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 0)] offset: usize,
        #[graphql(default = 100)] first: usize,
    ) -> async_graphql::Result<BoardReproduction> {
        page_size(first)?;
        let state = state(ctx);
        let principal = access::principal(ctx)?;
        let then = computed(state, principal, &self.record, None).await?;
        let head = state.read(None, |m| m.position).await?;
        let now = computed(state, principal, &self.record, Some(AsOf::at_position(head))).await?;
        let digest = taizhang_read::recognitions::board_digest(&then.1);
        let changed = differences(&then.1, &now.1);
        let position = self.as_of_position;
        let page: Vec<_> = then.1.entries.iter().skip(offset).take(first).cloned().collect();
        let (entries, differences) = state
            .read(None, |m| {
                let shown = changed.iter().take(DIFFERENCES_SHOWN).map(|d| {
                    let (member, unit) = match d.candidate {
                        taizhang_read::eligibility::Candidate::Member(id) => {
                            (Some(ID(id.to_string())), m.member_unit(id, head).map(|u| ID(u.to_string())))
                        }
                        taizhang_read::eligibility::Candidate::Unit(id) => (None, Some(ID(id.to_string()))),
                    };
                    BoardDifference {
                        member,
                        unit,
                        published_rank: d.published.map(|p| p.0 as u64),
                        published_stars: d.published.map(|p| p.1 as u64),
                        current_rank: d.current.map(|c| c.0 as u64),
                        current_stars: d.current.map(|c| c.1 as u64),
                    }
                });
                (board_entries(m, page, position), shown.collect())
            })
            .await?;
        Ok(BoardReproduction {
            reproduced: digest == self.digest,
            digest,
            entries,
            difference_count: changed.len() as u64,
            differences,
            current_position: head,
        })
    }
}

/// Where a recognition stands.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum RecognitionStatus {
    /// Nominated; listed for objections until `listedUntil`, then waiting for a decision.
    Nominated,
    Decided,
    Revoked,
}

impl RecognitionStatus {
    fn of(record: &RecognitionRecord) -> Self {
        match (&record.decision, &record.revoked) {
            (_, Some(_)) => RecognitionStatus::Revoked,
            (Some(_), None) => RecognitionStatus::Decided,
            (None, None) => RecognitionStatus::Nominated,
        }
    }
}

/// One criterion of a decision's evidence, as the board read it.
#[derive(SimpleObject)]
pub struct EvidenceCriterionView {
    /// The level (star), cap or veto it belongs to.
    pub part: String,
    pub metric: String,
    pub required: String,
    /// None when unknown.
    pub actual: Option<String>,
    pub met: bool,
}

/// A decision and the evidence it rests on.
#[derive(SimpleObject)]
pub struct RecognitionDecision {
    pub decided_at: Position,
    /// The published board it rests on, its position and its policy's digest.
    pub board: ID,
    pub as_of_position: Position,
    pub policy_digest: String,
    /// The award's level, and the nominee's outcome and score on the board.
    pub required: String,
    pub outcome: Option<String>,
    pub score: Option<String>,
    /// The outcome reaches the award's level.
    pub holds: bool,
    /// Why it was decided although the evidence does not hold (or an objection stood).
    pub exception: Option<String>,
    pub criteria: Vec<EvidenceCriterionView>,
}

/// Where an objection came from.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "ObjectionSource")]
pub enum ObjectionSourceValue {
    /// The public: through the notice board's form, or a letter or a call entered by a
    /// reviewer.
    Public,
    /// A reviewer's own.
    Reviewer,
}

crate::rounds::same_enum!(ObjectionSourceValue <-> ObjectionSource { Public, Reviewer });

#[derive(SimpleObject)]
pub struct Objection {
    /// Numbered from 1 in the order raised.
    pub number: u32,
    pub from: ObjectionSourceValue,
    pub text: String,
    pub raised_at: Position,
    /// None while unanswered.
    pub upheld: Option<bool>,
    pub answer: Option<String>,
    pub answered_at: Option<Position>,
}

/// A nomination for an award (表彰) and what became of it.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct Recognition {
    pub id: ID,
    /// The award kind (`post-pioneer` …) and its label (岗位先锋 …).
    pub award: String,
    pub award_label: Option<String>,
    /// The policy that declares the award.
    pub policy: String,
    pub half_year: String,
    pub member: Option<ID>,
    /// The unit nominated, or the member's unit at the nomination.
    pub unit: ID,
    /// The unit's code (else its id) and its name at the nomination.
    pub unit_code: String,
    pub unit_name: Option<String>,
    /// The member's code (else their id), on a member's nomination.
    pub member_code: Option<String>,
    pub reason: Option<String>,
    pub nominated_at: Position,
    /// The last day of the public listing (公示).
    pub listed_until: Date,
    pub status: RecognitionStatus,
    pub decision: Option<RecognitionDecision>,
    pub revoked_at: Option<Position>,
    pub revocation_reason: Option<String>,
    /// Objections raised, and how many are still unanswered.
    pub objection_count: u64,
    pub unanswered_objections: u64,
    #[graphql(skip)]
    objections: Vec<Objection>,
}

#[async_graphql::ComplexObject]
impl Recognition {
    /// The objections with their text and answers.
    #[graphql(guard = "Need(Permission::ReadRecords)")]
    async fn objections(&self) -> &[Objection] {
        &self.objections
    }
}

impl Recognition {
    pub(crate) fn of(m: &ReadModel, record: &RecognitionRecord, policies: &taizhang_read::policy::PolicySet) -> Self {
        let n = &record.nominated;
        let label = policies.award(n.award.as_str()).ok().and_then(|(_, a)| a.label.clone());
        let status = RecognitionStatus::of(record);
        let decision = record.decision.as_ref().map(|d| {
            let e = &d.evidence;
            RecognitionDecision {
                decided_at: d.position,
                board: ID(e.board.to_string()),
                as_of_position: e.as_of,
                policy_digest: e.policy_digest.to_string(),
                required: e.required.to_string(),
                outcome: e.outcome.as_ref().map(ToString::to_string),
                score: e.score.as_ref().map(ToString::to_string),
                holds: e.holds,
                exception: d.exception.as_ref().map(ToString::to_string),
                criteria: e
                    .criteria
                    .iter()
                    .map(|c| EvidenceCriterionView {
                        part: c.part.to_string(),
                        metric: c.metric.to_string(),
                        required: c.required.to_string(),
                        actual: c.actual.as_ref().map(ToString::to_string),
                        met: c.met,
                    })
                    .collect(),
            }
        });
        let objections: Vec<Objection> = record
            .objections
            .iter()
            .enumerate()
            .map(|(i, o)| Objection {
                number: i as u32 + 1,
                from: o.from.into(),
                text: o.text.to_string(),
                raised_at: o.position,
                upheld: o.answer.as_ref().map(|a| a.1),
                answer: o.answer.as_ref().map(|a| a.2.to_string()),
                answered_at: o.answer.as_ref().map(|a| a.0),
            })
            .collect();
        Self {
            id: ID(n.recognition.to_string()),
            award: n.award.to_string(),
            award_label: label,
            policy: n.policy.to_string(),
            half_year: n.half_year.to_string(),
            member: match n.nominee {
                Rated::Member(id) => Some(ID(id.to_string())),
                Rated::Unit(_) => None,
            },
            unit: ID(n.unit.to_string()),
            unit_code: m.reference(n.unit.0),
            unit_name: m.unit(n.unit, record.position).map(|u| u.name.to_string()),
            member_code: match n.nominee {
                Rated::Member(id) => Some(m.reference(id.0)),
                Rated::Unit(_) => None,
            },
            reason: n.reason.as_ref().map(ToString::to_string),
            nominated_at: record.position,
            listed_until: n.listed_until,
            status,
            decision,
            revoked_at: record.revoked.as_ref().map(|r| r.0),
            revocation_reason: record.revoked.as_ref().map(|r| r.1.to_string()),
            objection_count: objections.len() as u64,
            unanswered_objections: objections.iter().filter(|o| o.upheld.is_none()).count() as u64,
            objections,
        }
    }
}

#[derive(SimpleObject)]
pub struct RecognitionPage {
    pub total_count: u64,
    pub recognitions: Vec<Recognition>,
}

#[derive(Default)]
pub struct RecognitionQueries;

#[Object]
impl RecognitionQueries {
    /// The published boards, oldest first, as known at the position read.
    #[graphql(guard = "Need(Permission::ReadPublished)")]
    async fn published_boards(
        &self,
        ctx: &Context<'_>,
        half_year: Option<String>,
        min_position: Option<NonNegative>,
    ) -> async_graphql::Result<Vec<PublishedBoard>> {
        let half_year =
            half_year.map(|h| HalfYear::parse("halfYear", &h)).transpose().map_err(|e| error::domain(&e))?;
        state(ctx)
            .read(min_position.map(Into::into), |m| {
                let mut boards: Vec<_> = m
                    .boards
                    .values()
                    .filter(|b| half_year.is_none_or(|h| b.published.half_year == h))
                    .map(PublishedBoard::of)
                    .collect();
                boards.sort_by_key(|b| b.published_at);
                boards
            })
            .await
    }

    #[graphql(guard = "Need(Permission::ReadPublished)")]
    async fn published_board(
        &self,
        ctx: &Context<'_>,
        id: ID,
        min_position: Option<NonNegative>,
    ) -> async_graphql::Result<Option<PublishedBoard>> {
        let id: BoardId = parse_id("id", &id)?;
        state(ctx)
            .read(min_position.map(Into::into), |m| published_record(m, id, m.position).map(|b| PublishedBoard::of(&b)))
            .await
    }

    /// Nominations and recognitions (表彰名单 and its public listing, 公示), in the order
    /// nominated: of a half-year, an award, a unit (its own and its members'), a status.
    #[graphql(guard = "Need(Permission::ReadPublished)")]
    #[allow(clippy::too_many_arguments)]
    async fn recognitions(
        &self,
        ctx: &Context<'_>,
        half_year: Option<String>,
        award: Option<String>,
        unit: Option<ID>,
        status: Option<RecognitionStatus>,
        #[graphql(default = 0)] offset: usize,
        #[graphql(default = 100)] first: usize,
        min_position: Option<NonNegative>,
    ) -> async_graphql::Result<RecognitionPage> {
        page_size(first)?;
        let half_year =
            half_year.map(|h| HalfYear::parse("halfYear", &h)).transpose().map_err(|e| error::domain(&e))?;
        let unit: Option<UnitId> = unit.map(|u| parse_id("unit", &u)).transpose()?;
        let state = state(ctx);
        state
            .read(min_position.map(Into::into), |m| {
                let mut records: Vec<&RecognitionRecord> = m
                    .recognitions
                    .values()
                    .filter(|r| half_year.is_none_or(|h| r.nominated.half_year == h))
                    .filter(|r| award.as_deref().is_none_or(|a| r.nominated.award.as_str() == a))
                    .filter(|r| unit.is_none_or(|u| r.nominated.unit == u))
                    .collect();
                records.retain(|r| status.is_none_or(|s| RecognitionStatus::of(r) == s));
                records.sort_by_key(|r| r.position);
                let page = records.iter().skip(offset).take(first).map(|r| Recognition::of(m, r, &state.policies));
                RecognitionPage { total_count: records.len() as u64, recognitions: page.collect() }
            })
            .await
    }

    #[graphql(guard = "Need(Permission::ReadPublished)")]
    async fn recognition(
        &self,
        ctx: &Context<'_>,
        id: ID,
        min_position: Option<NonNegative>,
    ) -> async_graphql::Result<Option<Recognition>> {
        let id: RecognitionId = parse_id("id", &id)?;
        let state = state(ctx);
        state
            .read(min_position.map(Into::into), |m| {
                m.recognitions.get(&id).map(|r| Recognition::of(m, r, &state.policies))
            })
            .await
    }
}

#[derive(InputObject)]
pub struct PublishBoardInput {
    /// 2011 年上半年全市窗口单位星级榜 …
    pub name: String,
    /// A ten-star policy of members or units, as `starBoard` takes it.
    pub policy: String,
    pub half_year: String,
    #[graphql(default)]
    pub scope: ScopeInput,
}

#[derive(SimpleObject)]
pub struct PublishedBoardPayload {
    pub receipt: Receipt,
    pub board: Option<PublishedBoard>,
}

#[derive(InputObject)]
pub struct NominateInput {
    /// An award kind a loaded policy declares (`post-pioneer`, `satisfied-window` …).
    pub award: String,
    pub half_year: String,
    /// The member or unit nominated: a member for an award of a member policy, a unit
    /// for one of a unit policy.
    pub nominee: RatedInput,
    pub reason: Option<String>,
}

#[derive(SimpleObject)]
pub struct RecognitionPayload {
    pub receipt: Receipt,
    pub recognition: Option<Recognition>,
}

async fn recognition_payload(
    ctx: &Context<'_>,
    outcome: &AppendOutcome,
    id: RecognitionId,
) -> async_graphql::Result<RecognitionPayload> {
    let state = state(ctx);
    let recognition =
        state.read(None, |m| m.recognitions.get(&id).map(|r| Recognition::of(m, r, &state.policies))).await?;
    Ok(RecognitionPayload { receipt: Receipt::new(outcome), recognition })
}

#[derive(Default)]
pub struct RecognitionMutations;

#[Object]
impl RecognitionMutations {
    /// Publishes the star board of `policy` for a half-year and a scope as the log
    /// stands now: the position, the policy (its text and digest) and the board's digest
    /// are recorded, so that it can be computed again exactly at any later time.
    #[graphql(guard = "Need(Permission::Review)")]
    async fn publish_board(
        &self,
        ctx: &Context<'_>,
        input: PublishBoardInput,
        command_id: Option<uuid::Uuid>,
    ) -> async_graphql::Result<PublishedBoardPayload> {
        let state = state(ctx);
        let principal = access::principal(ctx)?;
        let policy = loaded_policy(state, &input.policy)?.clone();
        if policy.uses_personal_data() {
            return Err(invalid(
                "policy",
                format!("policy {} reads ages; a board reads no personal data", policy.name),
            ));
        }
        let name = text("input.name", &input.name)?;
        let half_year = HalfYear::parse("input.halfYear", &input.half_year).map_err(|e| error::domain(&e))?;
        let scope = input.scope.parse()?;
        let recorded_scope = round_scope(&scope).map_err(|e| error::domain(&e))?;
        let board_policy = policy.clone();
        let (_, board) = state
            .read_heavy(principal, None, move |heavy| {
                star_board_in_slices(
                    heavy.projector,
                    &board_policy,
                    &scope,
                    half_year,
                    &AsOf::now(),
                    Detail::Explained,
                    &|| heavy.abandoned(),
                )
            })
            .await?
            .map_err(|e| invalid("policy", e))?;
        let id = BoardId::new();
        let published = publication(id, name, recorded_scope, &policy, &board);
        let outcome = execute(ctx, command_id, PublishBoard::new(published).into()).await?;
        let written = Receipt::stream_of(&outcome, StreamKind::Board).map_or(id, BoardId);
        // A retry answered from the log names the board published the first time, which
        // this computation is not.
        if written == id {
            state.published_boards.keep(id, Arc::new((policy, board)));
        }
        let id = written;
        let board = state.read(None, |m| published_record(m, id, m.position).map(|b| PublishedBoard::of(&b))).await?;
        Ok(PublishedBoardPayload { receipt: Receipt::new(&outcome), board })
    }

    /// Nominates a member or a unit for an award of a half-year (a clerk for their own
    /// unit and its members): listed publicly for objections for the award's working
    /// days, then decided.
    #[graphql(guard = "Need(Permission::Nominate)")]
    async fn nominate_recognition(
        &self,
        ctx: &Context<'_>,
        input: NominateInput,
        command_id: Option<uuid::Uuid>,
    ) -> async_graphql::Result<RecognitionPayload> {
        let state = state(ctx);
        let (policy, award) = state.policies.award(&input.award).map_err(|e| invalid("input.award", e))?;
        let half_year = HalfYear::parse("input.halfYear", &input.half_year).map_err(|e| error::domain(&e))?;
        let nominee = input.nominee.parse()?;
        let member_award = policy.subject == taizhang_read::policy::Subject::Member;
        if member_award != matches!(nominee, Rated::Member(_)) {
            let wanted = if member_award { "a member" } else { "a unit" };
            return Err(invalid("input.nominee", format!("award {} is given to {wanted}", award.name)));
        }
        let recognition = RecognitionId::of(&award.name, half_year, nominee);
        let command = NominateRecognition {
            recognition,
            award: text("input.award", &award.name)?,
            policy: text("policy", &policy.name)?,
            half_year,
            nominee,
            reason: optional_text("input.reason", input.reason.as_deref())?,
            listing_days: award.listing_days,
        };
        let outcome = execute(ctx, command_id, command.into()).await?;
        recognition_payload(ctx, &outcome, recognition).await
    }

    /// Records an objection to a nomination (from the public, or a reviewer's own); it
    /// must be answered before the nomination is decided.
    #[graphql(guard = "Need(Permission::Review)")]
    async fn raise_objection(
        &self,
        ctx: &Context<'_>,
        recognition: ID,
        from: ObjectionSourceValue,
        text: String,
        command_id: Option<uuid::Uuid>,
    ) -> async_graphql::Result<RecognitionPayload> {
        let recognition: RecognitionId = parse_id("recognition", &recognition)?;
        let command = RaiseObjection { recognition, from: from.into(), text: crate::types::text("text", &text)? };
        let outcome = execute(ctx, command_id, command.into()).await?;
        recognition_payload(ctx, &outcome, recognition).await
    }

    /// Answers objection `objection` (its number); an upheld one leaves the nominee to be
    /// recognised only as an exception.
    #[graphql(guard = "Need(Permission::Review)")]
    async fn answer_objection(
        &self,
        ctx: &Context<'_>,
        recognition: ID,
        objection: u32,
        upheld: bool,
        answer: String,
        command_id: Option<uuid::Uuid>,
    ) -> async_graphql::Result<RecognitionPayload> {
        let recognition: RecognitionId = parse_id("recognition", &recognition)?;
        let command = AnswerObjection { recognition, objection, upheld, answer: text("answer", &answer)? };
        let outcome = execute(ctx, command_id, command.into()).await?;
        recognition_payload(ctx, &outcome, recognition).await
    }

    /// Decides a nomination on the evidence of published board `board` (of the award's
    /// policy and half-year): the nominee's outcome there must reach the award's level,
    /// unless `exception` says why it is decided all the same. The evidence (the board,
    /// its position and policy digest, the criteria's actual values) is recorded.
    #[graphql(guard = "Need(Permission::Review)")]
    async fn decide_recognition(
        &self,
        ctx: &Context<'_>,
        recognition: ID,
        board: ID,
        exception: Option<String>,
        command_id: Option<uuid::Uuid>,
    ) -> async_graphql::Result<RecognitionPayload> {
        let state = state(ctx);
        let principal = access::principal(ctx)?;
        let recognition: RecognitionId = parse_id("recognition", &recognition)?;
        let board: BoardId = parse_id("board", &board)?;
        let exception = optional_text("exception", exception.as_deref())?;
        let (nominated, published) = state
            .read(None, |m| {
                let nominated = m.recognitions.get(&recognition).map(|r| r.nominated.clone());
                (nominated, m.boards.get(&board).map(|b| b.published.clone()))
            })
            .await?;
        let nominated = nominated
            .ok_or_else(|| error::coded(Code::NotFound, format!("recognition {recognition} does not exist")))?;
        let published = published.ok_or_else(|| error::domain(&DomainError::BoardNotFound(board)))?;
        // Boxed: see the crate's note on root fields.
        let computed = Box::pin(computed(state, principal, &published, None)).await?;
        let evidence =
            evidence_for(&published, &computed.0, &computed.1, &nominated).map_err(|e| invalid("board", e))?;
        let command = DecideRecognition { recognition, evidence, exception };
        let outcome = execute(ctx, command_id, command.into()).await?;
        recognition_payload(ctx, &outcome, recognition).await
    }

    /// Revokes a recognition, with the reason (an administrator's).
    #[graphql(guard = "Need(Permission::RevokeRecognitions)")]
    async fn revoke_recognition(
        &self,
        ctx: &Context<'_>,
        recognition: ID,
        reason: String,
        command_id: Option<uuid::Uuid>,
    ) -> async_graphql::Result<RecognitionPayload> {
        let recognition: RecognitionId = parse_id("recognition", &recognition)?;
        let command = RevokeRecognition { recognition, reason: text("reason", &reason)? };
        let outcome = execute(ctx, command_id, command.into()).await?;
        recognition_payload(ctx, &outcome, recognition).await
    }
}
