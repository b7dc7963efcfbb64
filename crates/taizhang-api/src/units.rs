//! Units: the directory (`unit`, `units` found by name, code, region, industry), the
//! `Unit` type, and registering, renaming, moving and reclassifying units.

use std::collections::HashMap;

use async_graphql::connection::{Connection, EmptyFields};
use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::{ComplexObject, Context, InputObject, Object, SimpleObject, ID};
use taizhang_core::*;
use taizhang_read::ReadModel;
use taizhang_store::{AppendOutcome, Position};

use crate::access::{Need, Permission};
use crate::members::Member;
use crate::mutation::{execute, new_record, record};
use crate::state;
use crate::types::*;

/// A service-window or service-industry unit, as known at `asOfPosition`.
#[derive(SimpleObject, Clone)]
#[graphql(complex)]
pub struct Unit {
    /// The unit's code in its own records (`SY-0001`), accepted wherever its id is.
    pub code: Option<String>,
    pub name: String,
    pub industry: String,
    pub region: String,
    pub as_of_position: Position,
    #[graphql(skip)]
    pub parent_id: Option<UnitId>,
    #[graphql(skip)]
    pub unit_id: UnitId,
}

impl Unit {
    pub fn at(model: &ReadModel, unit: UnitId, position: Position) -> Option<Self> {
        let v = model.unit(unit, position)?;
        Some(Self {
            code: model.code(unit.0, position).map(ToString::to_string),
            name: v.name.to_string(),
            industry: v.industry.to_string(),
            region: v.region.to_string(),
            as_of_position: position,
            parent_id: v.parent,
            unit_id: unit,
        })
    }
}

#[ComplexObject]
impl Unit {
    async fn id(&self) -> ID {
        ID(self.unit_id.to_string())
    }

    /// The unit this one reports to.
    async fn parent(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Unit>> {
        match self.parent_id {
            Some(p) => load_unit(ctx, p, self.as_of_position).await,
            None => Ok(None),
        }
    }

    /// Members who belonged to the unit, in order of joining.
    #[graphql(
        guard = "Need(Permission::ReadRecords)",
        complexity = "first.unwrap_or(20).max(0) as usize * child_complexity"
    )]
    async fn members(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<String, Member, TotalCount, EmptyFields>> {
        let page = Page::new(first, after)?;
        let (unit, position) = (self.unit_id, self.as_of_position);
        state(ctx)
            .read(None, |model| {
                let all: Vec<MemberId> = model
                    .unit_members
                    .get(&unit)
                    .into_iter()
                    .flatten()
                    .copied()
                    .filter(|m| model.member_unit(*m, position) == Some(unit))
                    .collect();
                page.of(&all, |m| Member::at(model, m, position))
            })
            .await
    }
}

#[derive(SimpleObject)]
pub struct UnitPayload {
    pub receipt: Receipt,
    pub unit: Option<Unit>,
}

async fn unit_payload(
    ctx: &Context<'_>,
    outcome: AppendOutcome,
    unit: Option<UnitId>,
) -> async_graphql::Result<UnitPayload> {
    let unit =
        record(ctx, &outcome, unit.map(|u| u.0), StreamKind::Unit, "unit", |m, id, p| Unit::at(m, UnitId(id), p))
            .await?;
    Ok(UnitPayload { receipt: Receipt::new(&outcome), unit })
}

#[derive(InputObject)]
pub struct RegisterUnitInput {
    /// Leave empty to have one assigned (the code's, when a code is given).
    pub id: Option<ID>,
    /// The unit's code in your own records (`SY-0001`): shown with it, accepted
    /// wherever its id is.
    pub code: Option<String>,
    pub name: String,
    pub industry: String,
    pub region: String,
    pub parent: Option<ID>,
}

#[derive(InputObject)]
pub struct ReclassifyUnitInput {
    pub unit: ID,
    pub industry: String,
    /// Why (kept in the log with the change).
    pub reason: String,
}

#[derive(InputObject)]
pub struct RenameUnitInput {
    pub unit: ID,
    pub name: String,
}

#[derive(InputObject)]
pub struct MoveUnitInput {
    pub unit: ID,
    pub region: String,
    pub parent: Option<ID>,
}

#[derive(Default)]
pub struct UnitMutations;

#[Object]
impl UnitMutations {
    #[graphql(guard = "Need(Permission::ManageUnits)")]
    async fn register_unit(
        &self,
        ctx: &Context<'_>,
        input: RegisterUnitInput,
        command_id: Option<uuid::Uuid>,
    ) -> async_graphql::Result<UnitPayload> {
        let (unit, code) = new_record(input.id, input.code, UnitId::of_code, UnitId::new)?;
        let command = RegisterUnit {
            unit,
            name: text("input.name", &input.name)?,
            industry: text("input.industry", &input.industry)?,
            region: text("input.region", &input.region)?,
            parent: input.parent.map(|p| parse_id("input.parent", &p)).transpose()?,
            code,
        };
        let outcome = execute(ctx, command_id, Command::RegisterUnit(command)).await?;
        unit_payload(ctx, outcome, None).await
    }

    #[graphql(guard = "Need(Permission::ManageUnits)")]
    async fn rename_unit(
        &self,
        ctx: &Context<'_>,
        input: RenameUnitInput,
        command_id: Option<uuid::Uuid>,
    ) -> async_graphql::Result<UnitPayload> {
        let unit = parse_id("input.unit", &input.unit)?;
        let command = RenameUnit { unit, name: text("input.name", &input.name)? };
        let outcome = execute(ctx, command_id, Command::RenameUnit(command)).await?;
        unit_payload(ctx, outcome, Some(unit)).await
    }

    /// Changes the industry a unit is counted under (reports by industry follow from
    /// this point of the log; as-of reads before it still see the old one).
    #[graphql(guard = "Need(Permission::ManageUnits)")]
    async fn reclassify_unit(
        &self,
        ctx: &Context<'_>,
        input: ReclassifyUnitInput,
        command_id: Option<uuid::Uuid>,
    ) -> async_graphql::Result<UnitPayload> {
        let unit = parse_id("input.unit", &input.unit)?;
        let command = ReclassifyUnit {
            unit,
            industry: text("input.industry", &input.industry)?,
            reason: text("input.reason", &input.reason)?,
        };
        let outcome = execute(ctx, command_id, Command::ReclassifyUnit(command)).await?;
        unit_payload(ctx, outcome, Some(unit)).await
    }

    /// Moves a unit to another region or parent unit.
    #[graphql(guard = "Need(Permission::ManageUnits)")]
    async fn move_unit(
        &self,
        ctx: &Context<'_>,
        input: MoveUnitInput,
        command_id: Option<uuid::Uuid>,
    ) -> async_graphql::Result<UnitPayload> {
        let unit = parse_id("input.unit", &input.unit)?;
        let command = MoveUnit {
            unit,
            region: text("input.region", &input.region)?,
            parent: input.parent.map(|p| parse_id("input.parent", &p)).transpose()?,
        };
        let outcome = execute(ctx, command_id, Command::MoveUnit(command)).await?;
        unit_payload(ctx, outcome, Some(unit)).await
    }
}

#[derive(Default)]
pub struct UnitQueries;

#[Object]
impl UnitQueries {
    /// One unit, as known at the as-of position.
    #[graphql(guard = "Need(Permission::ReadDirectory)")]
    async fn unit(
        &self,
        ctx: &Context<'_>,
        id: ID,
        as_of: Option<AsOfInput>,
        min_position: Option<NonNegative>,
    ) -> async_graphql::Result<Option<Unit>> {
        let unit: UnitId = parse_id("id", &id)?;
        let as_of = crate::as_of(as_of);
        state(ctx).read(min_position.map(Into::into), |m| Unit::at(m, unit, as_of.position(m))).await
    }

    /// The units, found by what a clerk or citizen knows of them: `search` matches a
    /// part of the name or of the code (any case), `region` and `industry` the whole
    /// value; all given must hold. In order of code (units without one by id, which is
    /// registration order).
    #[allow(clippy::too_many_arguments)]
    #[graphql(
        guard = "Need(Permission::ReadDirectory)",
        complexity = "first.unwrap_or(20).max(0) as usize * child_complexity"
    )]
    async fn units(
        &self,
        ctx: &Context<'_>,
        search: Option<String>,
        region: Option<String>,
        industry: Option<String>,
        first: Option<i32>,
        after: Option<String>,
        as_of: Option<AsOfInput>,
        min_position: Option<NonNegative>,
    ) -> async_graphql::Result<Connection<String, Unit, TotalCount, EmptyFields>> {
        let page = Page::new(first, after)?;
        let as_of = crate::as_of(as_of);
        let search = search_text(search)?;
        state(ctx)
            .read(min_position.map(Into::into), |m| {
                let position = as_of.position(m);
                let mut found: Vec<(String, UnitId)> = m
                    .units
                    .keys()
                    .filter_map(|&u| {
                        let v = m.unit(u, position)?;
                        let code = m.code(u.0, position);
                        let matches = search.as_ref().is_none_or(|s| {
                            v.name.as_str().to_lowercase().contains(s)
                                || code.is_some_and(|c| c.as_str().to_lowercase().contains(s))
                        }) && region.as_ref().is_none_or(|r| v.region.as_str() == r)
                            && industry.as_ref().is_none_or(|i| v.industry.as_str() == i);
                        matches.then(|| (code.map_or_else(|| u.to_string(), ToString::to_string), u))
                    })
                    .collect();
                found.sort_unstable();
                let found: Vec<UnitId> = found.into_iter().map(|(_, u)| u).collect();
                page.of(&found, |u| Unit::at(m, u, position))
            })
            .await
    }
}

impl Loader<(UnitId, Position)> for ModelLoader {
    type Value = Unit;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[(UnitId, Position)]) -> Result<HashMap<(UnitId, Position), Unit>, Self::Error> {
        self.0
            .read(None, |model| keys.iter().filter_map(|&(u, p)| Some(((u, p), Unit::at(model, u, p)?))).collect())
            .await
    }
}

pub(crate) async fn load_unit(
    ctx: &Context<'_>,
    unit: UnitId,
    position: Position,
) -> async_graphql::Result<Option<Unit>> {
    ctx.data_unchecked::<DataLoader<ModelLoader>>().load_one((unit, position)).await
}
