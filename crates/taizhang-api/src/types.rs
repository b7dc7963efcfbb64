//! The GraphQL types: what the read side holds, shaped for clients, and the inputs that
//! become commands. Inputs are parsed with the domain's own value types, and every
//! error names the input field it is about (`input.participants[1].hours`).

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;

use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::{ComplexObject, Context, Enum, InputObject, Object, ObjectType, OutputType, SimpleObject, ID};
use taizhang_app::Personal;
use taizhang_core::*;
use taizhang_read::ledger::LedgerEntry;
use taizhang_read::model::{Change, HistoryItem, OutingView};
use taizhang_read::{AsOf, ReadModel};
use taizhang_store::{AppendOutcome, Position};
use time::{Date, OffsetDateTime};

use crate::access::{self, Need, Permission};
use crate::error::{self, invalid};
use crate::{state, ApiState};

/// A whole number from 0 to 2³¹ − 1, as an `Int` argument carries a position, a version
/// or a count. GraphQL's `Int` is a signed 32-bit integer, so a larger number is refused
/// as the specification asks (async-graphql would read a `u64` argument up to 2⁶⁴ − 1),
/// and a negative one is refused too. It is the same `Int` in the schema.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NonNegative(u32);

/// The `Int` scalar type represents non-fractional whole numeric values.
#[async_graphql::Scalar(name = "Int")]
impl async_graphql::ScalarType for NonNegative {
    fn parse(value: async_graphql::Value) -> async_graphql::InputValueResult<Self> {
        let refused = || async_graphql::InputValueError::custom("Only integers from 0 to 2147483647 are accepted.");
        match &value {
            async_graphql::Value::Number(n) => {
                let n = n.as_i64().ok_or_else(refused)?;
                i32::try_from(n).ok().and_then(|n| u32::try_from(n).ok()).map(Self).ok_or_else(refused)
            }
            _ => Err(async_graphql::InputValueError::expected_type(value)),
        }
    }

    fn is_valid(value: &async_graphql::Value) -> bool {
        matches!(value, async_graphql::Value::Number(n) if n.is_i64())
    }

    fn to_value(&self) -> async_graphql::Value {
        async_graphql::Value::Number(self.0.into())
    }
}

impl From<NonNegative> for u64 {
    fn from(n: NonNegative) -> Self {
        n.0.into()
    }
}

impl From<NonNegative> for u32 {
    fn from(n: NonNegative) -> Self {
        n.0
    }
}

/// Entries per page when a client does not say.
pub const DEFAULT_PAGE: usize = 20;
/// The largest page a client may ask for.
pub const MAX_PAGE: usize = 100;

/// A Relay page: the offset to start at and how many to return.
#[derive(Clone, Copy, Debug)]
pub struct Page {
    pub offset: usize,
    pub limit: usize,
}

impl Page {
    pub fn new(first: Option<i32>, after: Option<String>) -> async_graphql::Result<Self> {
        let limit = match first {
            None => DEFAULT_PAGE,
            Some(n) if n < 0 => return Err(invalid("first", "must not be negative")),
            Some(n) if n as usize > MAX_PAGE => {
                return Err(error::over_limit("page size (first)", MAX_PAGE as u64, Some(n as u64)))
            }
            Some(n) => n as usize,
        };
        let offset = match after {
            None => 0,
            Some(cursor) => cursor
                .parse::<usize>()
                .ok()
                .and_then(|c| c.checked_add(1))
                .ok_or_else(|| invalid("after", "not a cursor of this list"))?,
        };
        Ok(Self { offset, limit })
    }

    /// The page of `all` (everything in the list, in order), each entry made a node by
    /// `node`, with the list's total count.
    pub fn of<K: Copy, N: OutputType>(
        self,
        all: &[K],
        node: impl Fn(K) -> Option<N>,
    ) -> Connection<String, N, TotalCount, EmptyFields> {
        let nodes: Vec<N> = all.iter().skip(self.offset).take(self.limit).filter_map(|k| node(*k)).collect();
        let has_next = self.offset.saturating_add(self.limit) < all.len();
        self.connection(nodes, has_next, TotalCount { total_count: all.len() })
    }

    /// The connection of `nodes`, the page's slice, with cursors counted from the offset.
    pub fn connection<N: OutputType, E: ObjectType>(
        self,
        nodes: Vec<N>,
        has_next: bool,
        extra: E,
    ) -> Connection<String, N, E, EmptyFields> {
        let mut connection = Connection::with_additional_fields(self.offset > 0, has_next, extra);
        connection
            .edges
            .extend(nodes.into_iter().enumerate().map(|(i, node)| Edge::new((self.offset + i).to_string(), node)));
        connection
    }
}

/// Parses an id argument.
pub fn parse_id<T: FromStr>(field: &str, id: &str) -> async_graphql::Result<T> {
    id.parse().map_err(|_| invalid(field, format!("{id:?} is neither an id nor a code")))
}

/// What a command reached: quote `position` as `minPosition` to read your own write.
#[derive(SimpleObject, Clone)]
pub struct Receipt {
    pub command_id: uuid::Uuid,
    /// The log position of the command's last event.
    pub position: Position,
    pub first_position: Position,
    pub recorded_at: OffsetDateTime,
    /// True when the command id had been used already: nothing new was written.
    pub duplicate: bool,
}

impl Receipt {
    pub fn new(outcome: &AppendOutcome) -> Self {
        Self {
            command_id: outcome.command_id,
            position: outcome.last_position,
            first_position: outcome.first_position,
            recorded_at: outcome.recorded_at.to_datetime(),
            duplicate: outcome.duplicate,
        }
    }

    /// The stream of `kind` the command wrote, e.g. the unit it registered (also when
    /// the command was a duplicate and the id was chosen the first time).
    pub fn stream_of(outcome: &AppendOutcome, kind: StreamKind) -> Option<uuid::Uuid> {
        outcome.streams.iter().find(|(s, _)| s.kind == kind).map(|(s, _)| s.id)
    }
}

/// The read side's two timelines.
#[derive(InputObject, Clone, Copy, Default)]
pub struct AsOfInput {
    /// What the log knew at this position.
    pub position: Option<NonNegative>,
    /// What the log knew at this moment.
    pub recorded_at: Option<OffsetDateTime>,
    /// Service on or after this date.
    pub occurred_from: Option<Date>,
    /// Service before this date (exclusive).
    pub occurred_before: Option<Date>,
}

impl From<AsOfInput> for AsOf {
    fn from(input: AsOfInput) -> Self {
        AsOf {
            position: input.position.map(Into::into),
            recorded_at: input.recorded_at.map(Timestamp::from_datetime),
            occurred_from: input.occurred_from,
            occurred_before: input.occurred_before,
        }
    }
}

#[derive(InputObject, Clone, Copy)]
pub struct PeriodInput {
    pub first: Date,
    /// Inclusive.
    pub last: Date,
}

impl PeriodInput {
    pub fn parse(self) -> async_graphql::Result<Period> {
        Period::new(self.first, self.last).map_err(|e| error::domain(&e))
    }
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "Role")]
pub enum RoleName {
    Admin,
    Clerk,
    Reviewer,
    Viewer,
    Operator,
}

impl From<RoleName> for Role {
    fn from(role: RoleName) -> Self {
        match role {
            RoleName::Admin => Role::Admin,
            RoleName::Clerk => Role::Clerk,
            RoleName::Reviewer => Role::Reviewer,
            RoleName::Viewer => Role::Viewer,
            RoleName::Operator => Role::Operator,
        }
    }
}

impl From<Role> for RoleName {
    fn from(role: Role) -> Self {
        match role {
            Role::Admin => RoleName::Admin,
            Role::Clerk => RoleName::Clerk,
            Role::Reviewer => RoleName::Reviewer,
            Role::Viewer => RoleName::Viewer,
            Role::Operator => RoleName::Operator,
        }
    }
}

/// Who caused an event.
#[derive(SimpleObject, Clone, Copy)]
#[graphql(name = "Actor")]
pub struct ActorView {
    pub role: RoleName,
    /// The API token's id, for requests made with one.
    pub token: Option<uuid::Uuid>,
}

impl From<Actor> for ActorView {
    fn from(a: Actor) -> Self {
        Self { role: a.role.into(), token: a.token }
    }
}

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
                    .filter(|m| Member::current_unit(model, *m, position) == Some(unit))
                    .collect();
                page.of(&all, |m| Member::at(model, m, position))
            })
            .await
    }
}

#[derive(SimpleObject, Clone, Copy)]
pub struct TotalCount {
    pub total_count: usize,
}

/// A half-year evaluation (一诺双评).
#[derive(SimpleObject, Clone)]
pub struct Evaluation {
    pub half_year: String,
    pub public_score: u8,
    pub leader_score: u8,
    pub position: Position,
}

/// A Party member serving with a unit, as known at `asOfPosition`.
#[derive(SimpleObject, Clone)]
#[graphql(complex)]
pub struct Member {
    /// The member's code in the unit's records, accepted wherever their id is.
    pub code: Option<String>,
    pub joined_on: Date,
    /// Erased members keep their hours; their personal data can no longer be read.
    pub erased: bool,
    pub evaluations: Vec<Evaluation>,
    pub as_of_position: Position,
    #[graphql(skip)]
    pub member_id: MemberId,
    #[graphql(skip)]
    pub unit_id: Option<UnitId>,
    /// The member's unit at the head of the log, whatever `asOfPosition` asks.
    #[graphql(skip)]
    pub unit_now: Option<UnitId>,
}

impl Member {
    /// The unit the member belonged to at `position` (the latest transfer known then).
    pub fn current_unit(model: &ReadModel, member: MemberId, position: Position) -> Option<UnitId> {
        let history = model.members.get(&member)?;
        history.memberships.iter().rev().find(|m| m.position <= position).map(|m| m.unit)
    }

    pub fn at(model: &ReadModel, member: MemberId, position: Position) -> Option<Self> {
        let history = model.members.get(&member)?;
        if !history.registered_by(position) {
            return None;
        }
        let joined = history.memberships.first()?;
        Some(Self {
            code: model.code(member.0, position).map(ToString::to_string),
            joined_on: joined.since,
            erased: history.erased_at.is_some_and(|p| p <= position),
            evaluations: history
                .evaluations
                .iter()
                .filter(|e| e.position <= position)
                .map(|e| Evaluation {
                    half_year: e.half_year.to_string(),
                    public_score: e.public_score.get(),
                    leader_score: e.leader_score.get(),
                    position: e.position,
                })
                .collect(),
            as_of_position: position,
            member_id: member,
            unit_id: Self::current_unit(model, member, position),
            unit_now: Self::current_unit(model, member, model.position),
        })
    }
}

/// Refuses `FORBIDDEN` unless the caller may read the personal data (or data derived
/// from it, such as an age) of a member who belonged to `unit_then` at the position
/// asked and belongs to `unit_now` today: a clerk, only when both are their units, so
/// that neither an `asOf` before a transfer nor one after it opens another unit's member.
pub fn personal_reach(
    principal: &access::Principal,
    unit_then: Option<UnitId>,
    unit_now: Option<UnitId>,
) -> async_graphql::Result<()> {
    let reaches = |unit: Option<UnitId>| unit.is_some_and(|u| principal.reaches(Permission::ReadPersonal, u));
    if reaches(unit_then) && reaches(unit_now) {
        return Ok(());
    }
    let refused = access::forbidden(principal.role, Permission::ReadPersonal);
    Err(error::with(refused, "reason", "the member belongs to a unit outside this token's scope"))
}

#[ComplexObject]
impl Member {
    async fn id(&self) -> ID {
        ID(self.member_id.to_string())
    }

    async fn unit(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Unit>> {
        match self.unit_id {
            Some(u) => load_unit(ctx, u, self.as_of_position).await,
            None => Ok(None),
        }
    }

    /// Name and contact details, opened with the member's key; null once erased. A
    /// clerk sees those of their own units' members only (at the position asked and now).
    #[graphql(guard = "Need(Permission::ReadPersonal)")]
    async fn personal(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<PersonalInfo>> {
        personal_reach(access::principal(ctx)?, self.unit_id, self.unit_now)?;
        let loader = ctx.data_unchecked::<DataLoader<PersonalLoader>>();
        Ok(loader.load_one(self.member_id).await?.flatten())
    }
}

#[derive(SimpleObject, Clone)]
pub struct PersonalInfo {
    pub name: String,
    pub national_id: Option<String>,
    pub phone: Option<String>,
    pub birth_date: Option<Date>,
}

/// Opens members' personal data, many per batch.
pub struct PersonalLoader(pub Arc<ApiState>);

impl Loader<MemberId> for PersonalLoader {
    type Value = Option<PersonalInfo>;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[MemberId]) -> Result<HashMap<MemberId, Self::Value>, Self::Error> {
        let mut out = HashMap::with_capacity(keys.len());
        for member in keys {
            let info = match self.0.ledger.personal(*member).await.map_err(error::app)? {
                Personal::Known(p) => Some(PersonalInfo {
                    name: p.name.to_string(),
                    national_id: p.national_id,
                    phone: p.phone,
                    birth_date: p.birth_date,
                }),
                Personal::Erased => None,
            };
            out.insert(*member, info);
        }
        Ok(out)
    }
}

/// Looks units and members up in the read model, a whole page's worth under one lock.
pub struct ModelLoader(pub Arc<ApiState>);

impl Loader<(UnitId, Position)> for ModelLoader {
    type Value = Unit;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[(UnitId, Position)]) -> Result<HashMap<(UnitId, Position), Unit>, Self::Error> {
        self.0
            .read(None, |model| keys.iter().filter_map(|&(u, p)| Some(((u, p), Unit::at(model, u, p)?))).collect())
            .await
    }
}

impl Loader<(MemberId, Position)> for ModelLoader {
    type Value = Member;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[(MemberId, Position)]) -> Result<HashMap<(MemberId, Position), Member>, Self::Error> {
        self.0
            .read(None, |model| keys.iter().filter_map(|&(m, p)| Some(((m, p), Member::at(model, m, p)?))).collect())
            .await
    }
}

pub async fn load_unit(ctx: &Context<'_>, unit: UnitId, position: Position) -> async_graphql::Result<Option<Unit>> {
    ctx.data_unchecked::<DataLoader<ModelLoader>>().load_one((unit, position)).await
}

pub async fn load_member(
    ctx: &Context<'_>,
    member: MemberId,
    position: Position,
) -> async_graphql::Result<Option<Member>> {
    ctx.data_unchecked::<DataLoader<ModelLoader>>().load_one((member, position)).await
}

/// One member's part in an outing.
#[derive(Clone)]
pub struct Participant {
    part: Participation,
    as_of_position: Position,
}

#[Object]
impl Participant {
    async fn member_id(&self) -> ID {
        ID(self.part.member.to_string())
    }

    async fn start(&self) -> String {
        self.part.span.start.to_string()
    }

    async fn end(&self) -> String {
        self.part.span.end.to_string()
    }

    async fn minutes(&self) -> u32 {
        self.part.minutes.get()
    }

    /// Hours with two decimals ("1.50").
    async fn hours(&self) -> String {
        self.part.minutes.to_string()
    }

    async fn member(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Member>> {
        load_member(ctx, self.part.member, self.as_of_position).await
    }
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Registered,
    Amended,
    Voided,
    Verified,
}

/// One change of an outing: who made it, when, and why.
#[derive(SimpleObject, Clone)]
pub struct OutingChange {
    pub position: Position,
    pub recorded_at: OffsetDateTime,
    pub actor: ActorView,
    pub kind: ChangeKind,
    /// Why an amendment or a void was made.
    pub reason: Option<String>,
    /// A reviewer's note on a verification.
    pub note: Option<String>,
}

impl From<&HistoryItem> for OutingChange {
    fn from(h: &HistoryItem) -> Self {
        let (kind, reason, note) = match &h.change {
            Change::Registered => (ChangeKind::Registered, None, None),
            Change::Amended { reason } => (ChangeKind::Amended, Some(reason.to_string()), None),
            Change::Voided { reason } => (ChangeKind::Voided, Some(reason.to_string()), None),
            Change::Verified { note } => (ChangeKind::Verified, None, note.as_ref().map(|n| n.to_string())),
        };
        Self {
            position: h.position,
            recorded_at: h.recorded_at.to_datetime(),
            actor: h.actor.into(),
            kind,
            reason,
            note,
        }
    }
}

/// A volunteer outing as known at `asOfPosition`: its current content, whether it is
/// verified or voided, and every change in log order. Fields are computed only when a
/// client asks for them: a ledger page of 50 is mostly what clients leave out.
#[derive(Clone)]
pub struct Outing {
    id: OutingId,
    code: Option<Text>,
    unit: UnitId,
    details: OutingDetails,
    participants: Vec<Participation>,
    verified: bool,
    voided: bool,
    history: Vec<HistoryItem>,
    as_of_position: Position,
}

impl Outing {
    pub fn from_view(view: &OutingView<'_>, position: Position) -> Self {
        Self {
            id: view.id,
            code: view.code().cloned(),
            unit: view.unit,
            details: view.details(),
            participants: view.participants().collect(),
            verified: view.verified,
            voided: view.voided,
            history: view.history().collect(),
            as_of_position: position,
        }
    }

    pub fn from_entry(entry: LedgerEntry, position: Position) -> Self {
        Self {
            id: entry.outing,
            code: entry.code,
            unit: entry.unit,
            details: entry.details,
            participants: entry.participants,
            verified: entry.verified,
            voided: entry.voided,
            history: entry.history,
            as_of_position: position,
        }
    }

    pub fn at(model: &ReadModel, outing: OutingId, position: Position) -> Option<Self> {
        model.outing(outing, position).map(|view| Self::from_view(&view, position))
    }

    fn total_minutes(&self) -> u64 {
        self.participants.iter().map(|p| p.minutes.get() as u64).sum()
    }
}

#[Object]
impl Outing {
    async fn id(&self) -> ID {
        ID(self.id.to_string())
    }

    /// The outing's code in the unit's records, accepted wherever its id is.
    async fn code(&self) -> Option<&str> {
        self.code.as_ref().map(Text::as_str)
    }

    async fn date(&self) -> Date {
        self.details.date
    }

    /// Start time, HH:MM (China Standard Time).
    async fn start(&self) -> String {
        self.details.span.start.to_string()
    }

    async fn end(&self) -> String {
        self.details.span.end.to_string()
    }

    async fn place(&self) -> &str {
        self.details.place.as_str()
    }

    async fn category(&self) -> &str {
        self.details.category.as_str()
    }

    async fn description(&self) -> Option<&str> {
        self.details.description.as_ref().map(Text::as_str)
    }

    /// How many people the outing served.
    async fn beneficiaries(&self) -> u32 {
        self.details.beneficiaries
    }

    async fn participants(&self) -> Vec<Participant> {
        self.participants.iter().map(|p| Participant { part: *p, as_of_position: self.as_of_position }).collect()
    }

    /// Everyone's minutes together.
    async fn minutes(&self) -> u64 {
        self.total_minutes()
    }

    /// Everyone's hours together, with two decimals.
    async fn hours(&self) -> String {
        hours_text(self.total_minutes())
    }

    async fn verified(&self) -> bool {
        self.verified
    }

    async fn voided(&self) -> bool {
        self.voided
    }

    /// The outing stream's version: pass it as `expectedVersion` when correcting.
    async fn version(&self) -> u64 {
        self.history.len().saturating_sub(1) as u64
    }

    /// Registration first, then every correction and verification, in log order.
    async fn history(&self) -> Vec<OutingChange> {
        self.history.iter().map(OutingChange::from).collect()
    }

    async fn as_of_position(&self) -> Position {
        self.as_of_position
    }

    async fn unit(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Unit>> {
        load_unit(ctx, self.unit, self.as_of_position).await
    }
}

/// A line of a ledger: the outing and the totals up to it.
pub struct LedgerLine {
    outing: Outing,
    minutes: u64,
    running_recorded_minutes: u64,
    running_verified_minutes: u64,
}

impl LedgerLine {
    pub fn new(entry: LedgerEntry, position: Position) -> Self {
        Self {
            minutes: entry.minutes,
            running_recorded_minutes: entry.running_recorded_minutes,
            running_verified_minutes: entry.running_verified_minutes,
            outing: Outing::from_entry(entry, position),
        }
    }
}

#[Object]
impl LedgerLine {
    async fn outing(&self) -> &Outing {
        &self.outing
    }

    /// The line's minutes: every participant's on a unit ledger, the member's own on a
    /// member ledger.
    async fn minutes(&self) -> u64 {
        self.minutes
    }

    /// The line's hours, with two decimals.
    async fn hours(&self) -> String {
        hours_text(self.minutes)
    }

    /// Recorded hours up to and including this line (voided lines add nothing).
    async fn running_recorded_hours(&self) -> String {
        hours_text(self.running_recorded_minutes)
    }

    /// Verified hours up to and including this line.
    async fn running_verified_hours(&self) -> String {
        hours_text(self.running_verified_minutes)
    }
}

/// The whole ledger's totals, beside the page.
#[derive(SimpleObject, Clone)]
pub struct LedgerTotals {
    pub total_count: usize,
    pub as_of_position: Position,
    pub total_recorded_hours: String,
    pub total_verified_hours: String,
}

/// Parses a clerk's text field.
pub fn text(field: &str, value: &str) -> async_graphql::Result<Text> {
    Text::parse(field, value).map_err(|e| error::domain(&e))
}

pub fn optional_text(field: &str, value: Option<&str>) -> async_graphql::Result<Option<Text>> {
    value.filter(|v| !v.trim().is_empty()).map(|v| text(field, v)).transpose()
}
