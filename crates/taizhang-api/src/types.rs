//! The GraphQL types: what the read side holds, shaped for clients, and the inputs that
//! become commands. Inputs are parsed with the domain's own value types, and every
//! error names the input field it is about (`input.participants[1].hours`).

use std::str::FromStr;
use std::sync::Arc;

use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::{Enum, InputObject, ObjectType, OutputType, SimpleObject};
use taizhang_core::*;
use taizhang_read::AsOf;
use taizhang_store::{AppendOutcome, Position};
use time::{Date, OffsetDateTime};

use crate::error::{self, invalid};
use crate::ApiState;

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
    /// A member checking in or out for themselves, with their number and check-in PIN.
    Volunteer,
    /// A citizen without an account, leaving an opinion on the notice board.
    Public,
}

impl From<RoleName> for Role {
    fn from(role: RoleName) -> Self {
        match role {
            RoleName::Admin => Role::Admin,
            RoleName::Clerk => Role::Clerk,
            RoleName::Reviewer => Role::Reviewer,
            RoleName::Viewer => Role::Viewer,
            RoleName::Operator => Role::Operator,
            RoleName::Volunteer => Role::Volunteer,
            RoleName::Public => Role::Public,
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
            Role::Volunteer => RoleName::Volunteer,
            Role::Public => RoleName::Public,
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

#[derive(SimpleObject, Clone, Copy)]
pub struct TotalCount {
    pub total_count: usize,
}

/// Looks units and members up in the read model, a whole page's worth under one lock.
pub struct ModelLoader(pub Arc<ApiState>);

/// Parses a clerk's text field.
pub fn text(field: &str, value: &str) -> async_graphql::Result<Text> {
    Text::parse(field, value).map_err(|e| error::domain(&e))
}

pub fn optional_text(field: &str, value: Option<&str>) -> async_graphql::Result<Option<Text>> {
    value.filter(|v| !v.trim().is_empty()).map(|v| text(field, v)).transpose()
}

/// The longest text a search matches.
pub const MAX_SEARCH_CHARS: usize = 64;

/// A search as matched: trimmed, in lower case, none when blank; refused when longer
/// than [`MAX_SEARCH_CHARS`].
pub fn search_text(search: Option<String>) -> async_graphql::Result<Option<String>> {
    let search = search.map(|s| s.trim().to_lowercase()).filter(|s| !s.is_empty());
    if search.as_ref().is_some_and(|s| s.chars().count() > MAX_SEARCH_CHARS) {
        return Err(invalid("search", format!("at most {MAX_SEARCH_CHARS} characters")));
    }
    Ok(search)
}

/// Names the input path of a domain error about a field.
pub fn prefixed(e: &DomainError, prefix: &str) -> async_graphql::Error {
    let mut e = e.clone();
    if let DomainError::Empty { field }
    | DomainError::TooLong { field, .. }
    | DomainError::InvalidValue { field, .. }
    | DomainError::InvalidHours { field, .. } = &mut e
    {
        *field = format!("{prefix}{field}");
    }
    error::domain(&e)
}
