//! Subscriptions: the log as it grows, and a unit ledger's changes. Both start from a
//! position (1 = the beginning), catch up from the log and then follow it live in the
//! same loop, so a client that reconnects from the position after the last event it
//! saw misses nothing and sees nothing twice.

use async_graphql::{Context, SimpleObject, Subscription as GraphQLSubscription, ID};
use futures_util::Stream;
use taizhang_core::*;
use taizhang_store::{EventStore, Position, RecordedEvent, Subscription as Feed};

use crate::error::{self, invalid};
use crate::query::LogEvent;
use crate::types::{parse_id, Outing};
use crate::{state, ApiState};

pub struct Subscription;

/// A change to one outing of a unit's ledger.
#[derive(SimpleObject, Clone)]
pub struct LedgerChange {
    /// The position of the event that changed the line.
    pub position: Position,
    /// The event's type (`OutingRegistered`, `OutingAmended`, …).
    #[graphql(name = "type")]
    pub event_type: String,
    /// The outing as it stands after the event.
    pub outing: Outing,
}

/// Which events a subscriber wants.
#[derive(Clone, Copy)]
enum Filter {
    All,
    Stream(StreamId),
    Unit(UnitId),
}

impl Filter {
    /// Whether `event` belongs to the filter. Outing and member events belong to the unit
    /// of the outing, or the unit the member is in, as the read model knows it.
    async fn admits(self, state: &ApiState, event: &RecordedEvent) -> async_graphql::Result<bool> {
        match self {
            Filter::All => Ok(true),
            Filter::Stream(s) => Ok(event.stream == s),
            Filter::Unit(unit) => Ok(unit_of(state, event).await? == Some(unit)),
        }
    }
}

/// The unit an event is about, once the model has applied it.
async fn unit_of(state: &ApiState, event: &RecordedEvent) -> async_graphql::Result<Option<UnitId>> {
    let id = event.stream.id;
    match event.stream.kind {
        StreamKind::Unit => Ok(Some(UnitId(id))),
        StreamKind::Outing => {
            state.read(Some(event.position), |m| m.outing(OutingId(id), event.position).map(|o| o.unit)).await
        }
        StreamKind::Member => {
            state
                .read(Some(event.position), |m| crate::types::Member::current_unit(m, MemberId(id), event.position))
                .await
        }
    }
}

fn feed(ctx: &Context<'_>, from: Position) -> (std::sync::Arc<ApiState>, Feed<taizhang_store::AnyStore>) {
    let state = state(ctx).clone();
    let feed = Feed::new(state.store().clone(), from);
    (state, feed)
}

#[GraphQLSubscription]
impl Subscription {
    /// Every new event from `fromPosition` on (default: the next one), optionally only
    /// one stream's or one unit's.
    async fn events(
        &self,
        ctx: &Context<'_>,
        from_position: Option<Position>,
        stream: Option<String>,
        unit: Option<ID>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<LogEvent>>> {
        let filter = match (stream, unit) {
            (None, None) => Filter::All,
            (Some(s), None) => {
                Filter::Stream(s.parse().map_err(|_| invalid("stream", format!("{s:?} is not a stream name")))?)
            }
            (None, Some(u)) => Filter::Unit(parse_id("unit", &u)?),
            _ => return Err(invalid("stream", "give at most one of stream and unit")),
        };
        let from = from_position.unwrap_or_else(|| state(ctx).store().head() + 1);
        let (state, feed) = feed(ctx, from);
        Ok(futures_util::stream::unfold((state, feed), move |(state, mut feed)| async move {
            loop {
                let event = match feed.next().await {
                    Ok(e) => e,
                    Err(e) => return Some((Err(error::internal(&e)), (state, feed))),
                };
                match filter.admits(&state, &event).await {
                    Ok(true) => return Some((LogEvent::new(event), (state, feed))),
                    Ok(false) => continue,
                    Err(e) => return Some((Err(e), (state, feed))),
                }
            }
        }))
    }

    /// Each change to a line of `unit`'s ledger, with the outing as it stands after it.
    async fn unit_ledger(
        &self,
        ctx: &Context<'_>,
        unit: ID,
        from_position: Option<Position>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<LedgerChange>>> {
        let unit: UnitId = parse_id("unit", &unit)?;
        let from = from_position.unwrap_or_else(|| state(ctx).store().head() + 1);
        let (state, feed) = feed(ctx, from);
        Ok(futures_util::stream::unfold((state, feed), move |(state, mut feed)| async move {
            loop {
                let event = match feed.next().await {
                    Ok(e) => e,
                    Err(e) => return Some((Err(error::internal(&e)), (state, feed))),
                };
                if event.stream.kind != StreamKind::Outing {
                    continue;
                }
                let position = event.position;
                let outing = OutingId(event.stream.id);
                let line = state
                    .read(Some(position), |m| {
                        m.outing(outing, position).filter(|o| o.unit == unit).map(|o| Outing::from_view(&o, position))
                    })
                    .await;
                match line {
                    Ok(Some(outing)) => {
                        let change =
                            LedgerChange { position, event_type: event.payload.type_name().to_owned(), outing };
                        return Some((Ok(change), (state, feed)));
                    }
                    Ok(None) => continue,
                    Err(e) => return Some((Err(e), (state, feed))),
                }
            }
        }))
    }
}
