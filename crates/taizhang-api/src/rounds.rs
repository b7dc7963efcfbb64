//! Look-back rounds (回头看): opened and closed by reviewers, each with the period it
//! looks back on and the units it covers.

use async_graphql::{ComplexObject, Context, Enum, InputObject, Object, SimpleObject, ID};
use taizhang_app::Personal;
use taizhang_core::*;
use taizhang_read::{look_back, OpinionRecord, ReadModel, RoundHistory};
use taizhang_store::{AppendOutcome, Position};
use time::Date;

use crate::access::{self, Need, Permission};
use crate::members::personal_reach;
use crate::mutation::{execute, record};
use crate::reports::GroupByInput;
use crate::state;
use crate::types::*;
use crate::units::Unit;

/// The units a round or an evaluation covers: all of them (every field null), or the
/// region, the industry or the units named.
#[derive(SimpleObject, Clone)]
pub struct ScopeFields {
    pub region: Option<String>,
    pub industry: Option<String>,
    pub units: Option<Vec<ID>>,
}

impl ScopeFields {
    pub(crate) fn of(scope: &RoundScope) -> Self {
        let (region, industry, units) = match scope {
            RoundScope::All => (None, None, None),
            RoundScope::Region(r) => (Some(r.to_string()), None, None),
            RoundScope::Industry(i) => (None, Some(i.to_string()), None),
            RoundScope::Units(units) => (None, None, Some(units.iter().map(|u| ID(u.to_string())).collect())),
        };
        Self { region, industry, units }
    }
}

/// A look-back round as known at the position read.
#[derive(SimpleObject, Clone)]
pub struct LookBackRound {
    pub id: ID,
    pub name: String,
    /// The first day it looks back on.
    pub first: Date,
    /// The last day it looks back on.
    pub last: Date,
    #[graphql(flatten)]
    pub scope: ScopeFields,
    pub opened_at: Position,
    /// Where it was closed; null while it is open.
    pub closed_at: Option<Position>,
}

impl LookBackRound {
    fn of(id: RoundId, round: &RoundHistory, as_of: Position) -> Option<Self> {
        if round.opened_at > as_of {
            return None;
        }
        Some(Self {
            id: ID(id.to_string()),
            name: round.name.to_string(),
            first: round.period.first,
            last: round.period.last,
            scope: ScopeFields::of(&round.scope),
            opened_at: round.opened_at,
            closed_at: round.closed_at.filter(|p| *p <= as_of),
        })
    }

    pub fn at(model: &ReadModel, id: RoundId, as_of: Position) -> Option<Self> {
        Self::of(id, model.rounds.get(&id)?, as_of)
    }
}

/// The most rounds `lookBackRounds` lists.
const MAX_ROUNDS: usize = 1_000;

#[derive(Default)]
pub struct RoundQueries;

#[Object]
impl RoundQueries {
    #[graphql(guard = "Need(Permission::ReadPublished)")]
    async fn look_back_round(
        &self,
        ctx: &Context<'_>,
        id: ID,
        as_of: Option<AsOfInput>,
        min_position: Option<NonNegative>,
    ) -> async_graphql::Result<Option<LookBackRound>> {
        let round: RoundId = parse_id("id", &id)?;
        let as_of = crate::as_of(as_of);
        state(ctx).read(min_position.map(Into::into), |m| LookBackRound::at(m, round, as_of.position(m))).await
    }

    /// Every round, the most recently opened first, at most 1,000.
    #[graphql(guard = "Need(Permission::ReadPublished)")]
    async fn look_back_rounds(
        &self,
        ctx: &Context<'_>,
        as_of: Option<AsOfInput>,
        min_position: Option<NonNegative>,
    ) -> async_graphql::Result<Vec<LookBackRound>> {
        let as_of = crate::as_of(as_of);
        state(ctx)
            .read(min_position.map(Into::into), |m| {
                let position = as_of.position(m);
                let mut rounds: Vec<LookBackRound> =
                    m.rounds.iter().filter_map(|(id, r)| LookBackRound::of(*id, r, position)).collect();
                rounds.sort_by_key(|r| std::cmp::Reverse(r.opened_at));
                rounds.truncate(MAX_ROUNDS);
                rounds
            })
            .await
    }
}

/// The units a round covers: give at most one of `region`, `industry` and `units`;
/// none covers every unit.
#[derive(InputObject, Default)]
pub struct RoundScopeInput {
    pub region: Option<String>,
    pub industry: Option<String>,
    /// At most 1,000 units.
    pub units: Option<Vec<ID>>,
}

impl RoundScopeInput {
    pub(crate) fn parse(self) -> async_graphql::Result<RoundScope> {
        match (self.region, self.industry, self.units) {
            (None, None, None) => Ok(RoundScope::All),
            (Some(r), None, None) => Ok(RoundScope::Region(text("input.scope.region", &r)?)),
            (None, Some(i), None) => Ok(RoundScope::Industry(text("input.scope.industry", &i)?)),
            (None, None, Some(units)) => {
                let units = units.iter().map(|u| parse_id("input.scope.units", u)).collect::<Result<_, _>>()?;
                Ok(RoundScope::Units(units))
            }
            _ => Err(crate::error::invalid("input.scope", "give at most one of region, industry and units")),
        }
    }
}

#[derive(InputObject)]
pub struct OpenLookBackRoundInput {
    pub name: String,
    /// The days the round looks back on.
    pub period: PeriodInput,
    #[graphql(default)]
    pub scope: RoundScopeInput,
}

#[derive(SimpleObject)]
pub struct LookBackRoundPayload {
    pub receipt: Receipt,
    pub round: Option<LookBackRound>,
}

async fn round_payload(
    ctx: &Context<'_>,
    outcome: AppendOutcome,
    round: RoundId,
) -> async_graphql::Result<LookBackRoundPayload> {
    let at = |m: &ReadModel, id, p| LookBackRound::at(m, RoundId(id), p);
    let round = record(ctx, &outcome, Some(round.0), StreamKind::Round, "round", at).await?;
    Ok(LookBackRoundPayload { receipt: Receipt::new(&outcome), round })
}

#[derive(Default)]
pub struct RoundMutations;

#[Object]
impl RoundMutations {
    #[graphql(guard = "Need(Permission::Review)")]
    async fn open_look_back_round(
        &self,
        ctx: &Context<'_>,
        input: OpenLookBackRoundInput,
        command_id: Option<uuid::Uuid>,
    ) -> async_graphql::Result<LookBackRoundPayload> {
        let round = RoundId::new();
        let command = OpenRound {
            round,
            name: text("input.name", &input.name)?,
            period: input.period.parse()?,
            scope: input.scope.parse()?,
        };
        let outcome = execute(ctx, command_id, command.into()).await?;
        let round = Receipt::stream_of(&outcome, StreamKind::Round).map_or(round, RoundId);
        round_payload(ctx, outcome, round).await
    }

    #[graphql(guard = "Need(Permission::Review)")]
    async fn close_look_back_round(
        &self,
        ctx: &Context<'_>,
        round: ID,
        command_id: Option<uuid::Uuid>,
    ) -> async_graphql::Result<LookBackRoundPayload> {
        let round: RoundId = parse_id("round", &round)?;
        let outcome = execute(ctx, command_id, CloseRound { round }.into()).await?;
        round_payload(ctx, outcome, round).await
    }
}

/// How satisfied a citizen said they were.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "Rating")]
pub enum RatingValue {
    /// 满意
    Satisfied,
    /// 基本满意
    FairlySatisfied,
    /// 不满意
    Dissatisfied,
}

/// How an opinion reached the unit.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "Channel")]
pub enum ChannelValue {
    /// 公示栏: the notice board at the window.
    NoticeBoard,
    /// 网络: the web.
    Web,
    /// 电话
    Telephone,
    /// 座谈会: a forum meeting with the public.
    ForumMeeting,
    /// 监督员走访: a supervisor's visit.
    SupervisorVisit,
}

macro_rules! same_enum {
    ($api:ident <-> $core:ident { $($variant:ident),* }) => {
        impl From<$api> for $core {
            fn from(value: $api) -> Self {
                match value { $($api::$variant => $core::$variant,)* }
            }
        }
        impl From<$core> for $api {
            fn from(value: $core) -> Self {
                match value { $($core::$variant => $api::$variant,)* }
            }
        }
    };
}

pub(crate) use same_enum;

same_enum!(RatingValue <-> Rating { Satisfied, FairlySatisfied, Dissatisfied });
same_enum!(ChannelValue <-> Channel { NoticeBoard, Web, Telephone, ForumMeeting, SupervisorVisit });

/// Where an opinion stands: one the unit recorded counts at once; one left on the
/// notice board waits for the unit's clerk or a reviewer.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum OpinionStatus {
    /// Recorded by the unit or a reviewer: counts in its round.
    Recorded,
    /// Left on the notice board, waiting for a review: does not count, not shown.
    Held,
    /// Left on the notice board and accepted: counts, and shows on the board.
    Accepted,
    /// Left on the notice board and declined, with a reason.
    Declined,
}

impl OpinionStatus {
    fn of(o: &OpinionRecord, as_of: Position) -> Self {
        match (o.held, o.review_at(as_of)) {
            (false, _) => OpinionStatus::Recorded,
            (true, None) => OpinionStatus::Held,
            (true, Some(r)) if r.accepted => OpinionStatus::Accepted,
            (true, Some(_)) => OpinionStatus::Declined,
        }
    }

    /// Whether the opinion counts in its round, and is published.
    fn counts(self) -> bool {
        matches!(self, OpinionStatus::Recorded | OpinionStatus::Accepted)
    }
}

/// An opinion of the public gathered in a round, as known at the position read.
#[derive(SimpleObject, Clone)]
#[graphql(complex)]
pub struct Opinion {
    pub id: ID,
    pub round: ID,
    /// The unit it is about, or whose commitment it is about.
    pub unit: ID,
    pub commitment: Option<ID>,
    pub text: String,
    pub rating: Option<RatingValue>,
    pub channel: ChannelValue,
    pub position: Position,
    /// The citizen left their name (see `citizen`).
    pub citizen_given: bool,
    /// The citizen's name and phone were erased: `citizen` is null from then on.
    pub citizen_erased: bool,
    pub status: OpinionStatus,
    /// Why it was declined.
    pub declined_because: Option<String>,
    #[graphql(skip)]
    pub opinion_id: OpinionId,
    #[graphql(skip)]
    pub unit_id: UnitId,
}

impl Opinion {
    fn of(id: OpinionId, o: &OpinionRecord, as_of: Position) -> Option<Self> {
        (o.position <= as_of).then(|| Self {
            id: ID(id.to_string()),
            round: ID(o.round.to_string()),
            unit: ID(o.unit.to_string()),
            commitment: o.commitment.map(|c| ID(c.to_string())),
            text: o.text.to_string(),
            rating: o.rating.map(Into::into),
            channel: o.channel.into(),
            position: o.position,
            citizen_given: o.citizen_given,
            citizen_erased: o.citizen_erased_at.is_some_and(|p| p <= as_of),
            status: OpinionStatus::of(o, as_of),
            declined_because: o.review_at(as_of).and_then(|r| r.reason.as_ref()).map(ToString::to_string),
            opinion_id: id,
            unit_id: o.unit,
        })
    }

    pub fn at(model: &ReadModel, id: OpinionId, as_of: Position) -> Option<Self> {
        Self::of(id, model.opinions.get(&id)?, as_of)
    }
}

/// What a citizen gave of themselves with an opinion.
#[derive(SimpleObject, Clone)]
pub struct CitizenInfo {
    pub name: String,
    pub phone: Option<String>,
}

#[ComplexObject]
impl Opinion {
    /// The citizen's name and phone, opened with the opinion's own key: personal data,
    /// read as a member's is (clerks: their own units only); null when none was given
    /// or once erased.
    #[graphql(guard = "Need(Permission::ReadPersonal)")]
    async fn citizen(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<CitizenInfo>> {
        personal_reach(access::principal(ctx)?, Some(self.unit_id), Some(self.unit_id))?;
        if !self.citizen_given || self.citizen_erased {
            return Ok(None);
        }
        match state(ctx).ledger.citizen(self.opinion_id).await.map_err(crate::error::app)? {
            Some(Personal::Known(p)) => Ok(Some(CitizenInfo { name: p.name.to_string(), phone: p.phone })),
            Some(Personal::Erased) | None => Ok(None),
        }
    }
}

/// One line of a round's report: the units covered, and what they promised, were found
/// to keep, heard from the public and promised anew.
#[derive(SimpleObject, Clone)]
pub struct RoundReportRow {
    /// The unit id, region or industry (`total` for the whole).
    pub group: String,
    /// The unit's name, or the group itself.
    pub label: String,
    /// Units the round covers.
    pub units: u64,
    /// Units whose every item due is assessed.
    pub units_looked_back: u64,
    /// Items made before the round opened, standing, whose term meets the round's period.
    pub due: u64,
    /// Items due assessed since the round opened.
    pub assessed: u64,
    pub kept: u64,
    pub partly_kept: u64,
    pub not_kept: u64,
    /// Kept ÷ assessed, in percent with two decimals; null when nothing is assessed.
    pub kept_percent: Option<f64>,
    /// Items made while the round was open, standing.
    pub new_items: u64,
    /// New items that carry on or replace earlier ones (再承诺).
    pub renewals: u64,
    pub opinions: u64,
    pub satisfied: u64,
    pub fairly_satisfied: u64,
    pub dissatisfied: u64,
}

impl From<&look_back::RoundReportRow> for RoundReportRow {
    fn from(row: &look_back::RoundReportRow) -> Self {
        let t = &row.tally;
        Self {
            group: row.group.clone(),
            label: row.label.clone(),
            units: row.units,
            units_looked_back: row.units_looked_back,
            due: t.due,
            assessed: t.assessed,
            kept: t.kept,
            partly_kept: t.partly_kept,
            not_kept: t.not_kept,
            kept_percent: t.kept_percent(),
            new_items: t.new_items,
            renewals: t.renewals,
            opinions: t.opinions,
            satisfied: t.satisfied,
            fairly_satisfied: t.fairly_satisfied,
            dissatisfied: t.dissatisfied,
        }
    }
}

#[derive(SimpleObject)]
pub struct RoundReport {
    pub round: LookBackRound,
    pub rows: Vec<RoundReportRow>,
    pub total: RoundReportRow,
    /// How many units the round covers have items due not all assessed.
    pub not_looked_back_count: u64,
    /// The first of them (`first`), in id order.
    pub not_looked_back: Vec<Unit>,
    pub as_of_position: Position,
}

/// The most units a round report lists as not looked back, and opinions a page.
const MAX_PAGE: usize = 1_000;

#[derive(SimpleObject)]
pub struct OpinionPage {
    /// Opinions matching, in all.
    pub total_count: u64,
    pub opinions: Vec<Opinion>,
}

#[derive(Default)]
pub struct OpinionQueries;

#[Object]
impl OpinionQueries {
    /// An opinion; one that does not count (held or declined) only for those who read
    /// every record (for others it is null, as on the notice board).
    #[graphql(guard = "Need(Permission::ReadPublished)")]
    async fn opinion(
        &self,
        ctx: &Context<'_>,
        id: ID,
        as_of: Option<AsOfInput>,
        min_position: Option<NonNegative>,
    ) -> async_graphql::Result<Option<Opinion>> {
        let opinion: OpinionId = parse_id("id", &id)?;
        let as_of = crate::as_of(as_of);
        let all = access::reads_every_record(ctx)?;
        let found =
            state(ctx).read(min_position.map(Into::into), |m| Opinion::at(m, opinion, as_of.position(m))).await?;
        Ok(found.filter(|o| all || o.status.counts()))
    }

    /// A round's opinions (of one unit, and in one status, if given) in the order
    /// recorded: `first` of them (at most 1,000) after skipping `offset`. Those that do
    /// not count (held or declined) only for those who read every record.
    #[graphql(guard = "Need(Permission::ReadPublished)")]
    #[allow(clippy::too_many_arguments)]
    async fn opinions(
        &self,
        ctx: &Context<'_>,
        round: ID,
        unit: Option<ID>,
        status: Option<OpinionStatus>,
        #[graphql(default = 0)] offset: usize,
        #[graphql(default = 100)] first: usize,
        as_of: Option<AsOfInput>,
        min_position: Option<NonNegative>,
    ) -> async_graphql::Result<OpinionPage> {
        let round: RoundId = parse_id("round", &round)?;
        let unit: Option<UnitId> = unit.map(|u| parse_id("unit", &u)).transpose()?;
        page_size(first)?;
        let as_of = crate::as_of(as_of);
        let all = access::reads_every_record(ctx)?;
        state(ctx)
            .read(min_position.map(Into::into), |m| {
                let position = as_of.position(m);
                let shown = |o: &OpinionRecord| {
                    let is = OpinionStatus::of(o, position);
                    (all || is.counts()) && status.is_none_or(|s| s == is)
                };
                // A unit's own opinions when one is asked for: a round over the city
                // holds thousands.
                let all: Box<dyn Iterator<Item = (OpinionId, &OpinionRecord)>> = match unit {
                    Some(u) => Box::new(m.unit_opinions(u).filter(move |(_, o)| o.round == round)),
                    None => Box::new(m.round_opinions(round)),
                };
                let matching = all.filter(|(_, o)| o.position <= position && shown(o)).collect::<Vec<_>>();
                let opinions = matching
                    .iter()
                    .skip(offset)
                    .take(first)
                    .filter_map(|(id, o)| Opinion::of(*id, o, position))
                    .collect();
                OpinionPage { total_count: matching.len() as u64, opinions }
            })
            .await
    }

    /// A round's report as of the position read: by unit, region, industry or in total
    /// (`groupBy`, default TOTAL), with the units not yet looked back.
    #[graphql(guard = "Need(Permission::ReadReports)")]
    async fn round_report(
        &self,
        ctx: &Context<'_>,
        round: ID,
        #[graphql(default_with = "GroupByInput::Total")] group_by: GroupByInput,
        #[graphql(default = 100)] first: usize,
        as_of: Option<AsOfInput>,
        min_position: Option<NonNegative>,
    ) -> async_graphql::Result<Option<RoundReport>> {
        let round: RoundId = parse_id("round", &round)?;
        page_size(first)?;
        let as_of = crate::as_of(as_of);
        state(ctx)
            .read(min_position.map(Into::into), |m| {
                let position = as_of.position(m);
                let report = look_back::round_report(m, round, group_by.into(), position)?;
                Some(RoundReport {
                    round: LookBackRound::at(m, round, position)?,
                    rows: report.rows.iter().map(Into::into).collect(),
                    total: (&report.total).into(),
                    not_looked_back_count: report.not_looked_back.len() as u64,
                    not_looked_back: report
                        .not_looked_back
                        .iter()
                        .take(first)
                        .filter_map(|u| Unit::at(m, *u, position))
                        .collect(),
                    as_of_position: report.as_of_position,
                })
            })
            .await
    }
}

pub(crate) fn page_size(first: usize) -> async_graphql::Result<()> {
    if first > MAX_PAGE {
        return Err(crate::error::invalid("first", format!("at most {MAX_PAGE} a page")));
    }
    Ok(())
}

/// A citizen's name and, if they gave one, phone.
#[derive(InputObject)]
pub struct CitizenInput {
    pub name: String,
    pub phone: Option<String>,
}

/// An opinion about a unit, or about one of its commitments: give one of `unit` and
/// `commitment`.
#[derive(InputObject)]
pub struct RecordOpinionInput {
    pub round: ID,
    pub unit: Option<ID>,
    pub commitment: Option<ID>,
    pub text: String,
    pub rating: Option<RatingValue>,
    pub channel: ChannelValue,
    /// Personal data, sealed under a key of this opinion's own, erasable.
    pub citizen: Option<CitizenInput>,
}

#[derive(SimpleObject)]
pub struct OpinionPayload {
    pub receipt: Receipt,
    pub opinion: Option<Opinion>,
}

async fn opinion_payload(
    ctx: &Context<'_>,
    outcome: AppendOutcome,
    opinion: OpinionId,
) -> async_graphql::Result<OpinionPayload> {
    let at = |m: &ReadModel, id, p| Opinion::at(m, OpinionId(id), p);
    let opinion = record(ctx, &outcome, Some(opinion.0), StreamKind::Opinion, "opinion", at).await?;
    Ok(OpinionPayload { receipt: Receipt::new(&outcome), opinion })
}

#[derive(Default)]
pub struct OpinionMutations;

#[Object]
impl OpinionMutations {
    /// Records an opinion of the public (群众意见) within an open round, about a unit the
    /// round covers or one of its commitments.
    #[graphql(guard = "Need(Permission::RecordOpinions)")]
    async fn record_opinion(
        &self,
        ctx: &Context<'_>,
        input: RecordOpinionInput,
        command_id: Option<uuid::Uuid>,
    ) -> async_graphql::Result<OpinionPayload> {
        let about = match (input.unit, input.commitment) {
            (Some(unit), None) => OpinionAbout::Unit(parse_id("input.unit", &unit)?),
            (None, Some(commitment)) => OpinionAbout::Commitment(parse_id("input.commitment", &commitment)?),
            _ => return Err(crate::error::invalid("input", "give one of unit and commitment")),
        };
        let citizen = match input.citizen {
            Some(c) => {
                let personal = PersonalData {
                    name: text("input.citizen.name", &c.name)?,
                    national_id: None,
                    phone: c.phone.filter(|p| !p.trim().is_empty()).map(|p| p.trim().to_owned()),
                    birth_date: None,
                };
                personal.validate().map_err(|e| crate::error::domain(&e))?;
                Some(personal)
            }
            None => None,
        };
        let opinion = OpinionId::new();
        let command = RecordOpinion {
            opinion,
            round: parse_id("input.round", &input.round)?,
            about,
            text: text("input.text", &input.text)?,
            rating: input.rating.map(Into::into),
            channel: input.channel.into(),
            citizen,
        };
        let outcome = execute(ctx, command_id, command.into()).await?;
        let opinion = Receipt::stream_of(&outcome, StreamKind::Opinion).map_or(opinion, OpinionId);
        opinion_payload(ctx, outcome, opinion).await
    }

    /// Reviews an opinion left on the notice board: accepted, it counts in its round
    /// (which must still be open) and shows on the board; declined, it keeps the reason
    /// given (required).
    #[graphql(guard = "Need(Permission::RecordOpinions)")]
    async fn review_opinion(
        &self,
        ctx: &Context<'_>,
        opinion: ID,
        accept: bool,
        reason: Option<String>,
        command_id: Option<uuid::Uuid>,
    ) -> async_graphql::Result<OpinionPayload> {
        let opinion: OpinionId = parse_id("opinion", &opinion)?;
        let reason = reason.filter(|r| !r.trim().is_empty()).map(|r| text("reason", &r)).transpose()?;
        let outcome = execute(ctx, command_id, ReviewOpinion { opinion, accept, reason }.into()).await?;
        opinion_payload(ctx, outcome, opinion).await
    }

    /// Destroys the key of the citizen who left an opinion: their name and phone can no
    /// longer be read, in the log or in any backup; the opinion itself stays.
    #[graphql(guard = "Need(Permission::ErasePersonal)")]
    async fn erase_citizen(
        &self,
        ctx: &Context<'_>,
        opinion: ID,
        command_id: Option<uuid::Uuid>,
    ) -> async_graphql::Result<OpinionPayload> {
        let opinion: OpinionId = parse_id("opinion", &opinion)?;
        let outcome = execute(ctx, command_id, EraseCitizen { opinion }.into()).await?;
        opinion_payload(ctx, outcome, opinion).await
    }
}
