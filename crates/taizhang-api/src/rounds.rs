//! Look-back rounds (回头看): opened and closed by reviewers, each with the period it
//! looks back on and the units it covers.

use async_graphql::{Context, InputObject, Object, SimpleObject, ID};
use taizhang_core::*;
use taizhang_read::{ReadModel, RoundHistory};
use taizhang_store::{AppendOutcome, Position};
use time::Date;

use crate::access::{Need, Permission};
use crate::mutation::{execute, record};
use crate::state;
use crate::types::*;

/// A look-back round as known at the position read.
#[derive(SimpleObject, Clone)]
pub struct LookBackRound {
    pub id: ID,
    pub name: String,
    /// The first day it looks back on.
    pub first: Date,
    /// The last day it looks back on.
    pub last: Date,
    /// `all`, or the region, the industry or the units it covers.
    pub region: Option<String>,
    pub industry: Option<String>,
    pub units: Option<Vec<ID>>,
    pub opened_at: Position,
    /// Where it was closed; null while it is open.
    pub closed_at: Option<Position>,
}

impl LookBackRound {
    fn of(id: RoundId, round: &RoundHistory, as_of: Position) -> Option<Self> {
        if round.opened_at > as_of {
            return None;
        }
        let (region, industry, units) = match &round.scope {
            RoundScope::All => (None, None, None),
            RoundScope::Region(r) => (Some(r.to_string()), None, None),
            RoundScope::Industry(i) => (None, Some(i.to_string()), None),
            RoundScope::Units(units) => (None, None, Some(units.iter().map(|u| ID(u.to_string())).collect())),
        };
        Some(Self {
            id: ID(id.to_string()),
            name: round.name.to_string(),
            first: round.period.first,
            last: round.period.last,
            region,
            industry,
            units,
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
    #[graphql(guard = "Need(Permission::ReadRecords)")]
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
    #[graphql(guard = "Need(Permission::ReadRecords)")]
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
    fn parse(self) -> async_graphql::Result<RoundScope> {
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
    let round = record(ctx, &outcome, Some(round.0), StreamKind::Round, at).await?;
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
