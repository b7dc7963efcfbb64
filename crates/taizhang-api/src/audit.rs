//! Audit: the log itself (`events`), its head, and the verification of its hash chain.

use async_graphql::connection::{Connection, EmptyFields};
use async_graphql::{Context, Json, Object, SimpleObject};
use taizhang_core::*;
use taizhang_store::{chain, EventStore, Position, RecordedEvent, StoreError};

use crate::access::{Need, Permission};
use crate::error::{self, invalid};
use crate::state;
use crate::types::*;

/// One event of the log, as an auditor reads it.
#[derive(SimpleObject, Clone)]
pub struct LogEvent {
    pub position: Position,
    pub event_id: uuid::Uuid,
    /// `unit-…`, `member-…` or `outing-…`.
    pub stream: String,
    pub version: u64,
    #[graphql(name = "type")]
    pub event_type: String,
    pub recorded_at: time::OffsetDateTime,
    pub occurred_at: time::OffsetDateTime,
    pub actor: ActorView,
    pub command_id: uuid::Uuid,
    pub correlation_id: Option<uuid::Uuid>,
    pub causation_id: Option<uuid::Uuid>,
    /// SHA-256 of the previous hash, the position and the record (hex).
    pub hash: String,
    /// The event's fields as JSON (personal data stays sealed).
    pub payload: Json<serde_json::Value>,
}

impl LogEvent {
    pub fn new(e: RecordedEvent) -> async_graphql::Result<Self> {
        let payload = serde_json::to_value(&e.payload).map_err(|err| error::internal(&err))?;
        Ok(Self {
            position: e.position,
            event_id: e.event_id,
            stream: e.stream.to_string(),
            version: e.version,
            event_type: e.payload.type_name().to_owned(),
            recorded_at: e.recorded_at.to_datetime(),
            occurred_at: e.occurred_at.to_datetime(),
            actor: e.actor.into(),
            command_id: e.command_id,
            correlation_id: e.correlation_id,
            causation_id: e.causation_id,
            hash: hex::encode(e.hash),
            payload: Json(payload),
        })
    }
}

#[derive(SimpleObject, Clone)]
pub struct ChainReport {
    pub ok: bool,
    /// Events checked.
    pub events: u64,
    pub head_hash: Option<String>,
    /// The first position whose record does not match the chain.
    pub broken_at: Option<Position>,
    pub reason: Option<String>,
}

#[derive(SimpleObject, Clone, Copy)]
pub struct LogHead {
    /// The last durable position.
    pub position: Position,
    /// The last position the read model applied.
    pub projected: Position,
}

#[derive(Default)]
pub struct AuditQueries;

#[Object]
impl AuditQueries {
    /// The log itself, by position, optionally one stream only (`unit-…`, `member-…`,
    /// `outing-…`). The cursor is the position.
    #[graphql(
        guard = "Need(Permission::ReadAudit)",
        complexity = "first.unwrap_or(20).max(0) as usize * child_complexity"
    )]
    async fn events(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        stream: Option<String>,
    ) -> async_graphql::Result<Connection<String, LogEvent, EmptyFields, EmptyFields>> {
        // The cursor is a position, not an offset: only the page size comes from `Page`.
        let page = Page::new(first, None)?;
        let store = state(ctx).store();
        let after_position: Position = match &after {
            Some(a) => a.parse().map_err(|_| invalid("after", "not a cursor of this list"))?,
            None => 0,
        };
        let events = match &stream {
            None => store.read_all(after_position.saturating_add(1), page.limit + 1).await,
            Some(name) => {
                let id: StreamId =
                    name.parse().map_err(|_| invalid("stream", format!("{name:?} is not a stream name")))?;
                // Within one stream the cursor is still the global position.
                let mut all = store.read_stream(id, 0, usize::MAX).await;
                if let Ok(events) = &mut all {
                    events.retain(|e| e.position > after_position);
                    events.truncate(page.limit + 1);
                }
                all
            }
        }
        .map_err(|e| error::internal(&e))?;
        let has_next = events.len() > page.limit;
        let mut connection = Connection::new(after.is_some(), has_next);
        for event in events.into_iter().take(page.limit) {
            connection
                .edges
                .push(async_graphql::connection::Edge::new(event.position.to_string(), LogEvent::new(event)?));
        }
        Ok(connection)
    }

    /// Walks the hash chain from the first event.
    #[graphql(guard = "Need(Permission::ReadAudit)")]
    async fn verify_chain(&self, ctx: &Context<'_>) -> async_graphql::Result<ChainReport> {
        match chain::verify(state(ctx).store().as_ref(), |_| {}).await {
            Ok(r) => Ok(ChainReport {
                ok: true,
                events: r.events,
                head_hash: Some(hex::encode(r.head_hash)),
                broken_at: None,
                reason: None,
            }),
            Err(StoreError::Corrupt { position, reason }) => Ok(ChainReport {
                ok: false,
                events: position.saturating_sub(1),
                head_hash: None,
                broken_at: Some(position),
                reason: Some(reason),
            }),
            Err(other) => Err(error::internal(&other)),
        }
    }

    #[graphql(guard = "Need(Permission::ReadDirectory)")]
    async fn head(&self, ctx: &Context<'_>) -> LogHead {
        let state = state(ctx);
        LogHead { position: state.store().head(), projected: state.projector.position() }
    }
}
