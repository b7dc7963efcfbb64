//! Subscriptions: the log as it grows, a unit ledger's changes, and the boards published
//! and the recognitions as they are nominated, objected to, decided and revoked. Each
//! starts from a
//! position (1 = the beginning), catch up from the log and then follow it live in the
//! same loop, so a client that reconnects from the position after the last event it
//! saw misses nothing and sees nothing twice.

use async_graphql::{Context, SimpleObject, Subscription as GraphQLSubscription, ID};
use std::future::Future;
use std::sync::Arc;

use futures_util::Stream;
use taizhang_core::*;
use taizhang_store::{EventStore, Position, RecordedEvent, Subscription as Feed};

use crate::access::{Need, Permission};
use crate::audit::LogEvent;
use crate::error::{self, invalid};
use crate::outings::Outing;
use crate::types::{parse_id, NonNegative};
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

/// A board published, or a recognition changed (nominated, objected to, answered,
/// decided, revoked).
#[derive(SimpleObject)]
pub struct RecognitionChange {
    /// The position of the event.
    pub position: Position,
    /// The event's type (`BoardPublished`, `RecognitionDecided`, …).
    #[graphql(name = "type")]
    pub event_type: String,
    /// The board published, on `BoardPublished`.
    pub board: Option<crate::recognitions::PublishedBoard>,
    /// The recognition as it stands after the event, on the others.
    pub recognition: Option<crate::recognitions::Recognition>,
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
    state.read(Some(event.position), |m| m.unit_of(event.stream, event.position)).await
}

/// The events from `from_position` on (default: the next one) that `select` turns into
/// items, in log order.
fn follow<T, F, Fut>(
    ctx: &Context<'_>,
    from_position: Option<NonNegative>,
    select: F,
) -> impl Stream<Item = async_graphql::Result<T>>
where
    T: Send + 'static,
    F: Fn(Arc<ApiState>, RecordedEvent) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = async_graphql::Result<Option<T>>> + Send,
{
    let state = state(ctx).clone();
    let from = from_position.map_or_else(|| state.store().head() + 1, Into::into);
    let feed = Feed::new(state.store().clone(), from);
    futures_util::stream::unfold((state, feed, select), |(state, mut feed, select)| async move {
        loop {
            let item = match feed.next().await {
                Ok(event) => select(state.clone(), event).await,
                Err(e) => Err(error::internal(&e)),
            };
            match item {
                Ok(None) => continue,
                Ok(Some(item)) => return Some((Ok(item), (state, feed, select))),
                Err(e) => return Some((Err(e), (state, feed, select))),
            }
        }
    })
}

#[GraphQLSubscription]
impl Subscription {
    /// Every new event from `fromPosition` on (default: the next one), optionally only
    /// one stream's or one unit's.
    #[graphql(guard = "Need(Permission::ReadAudit)")]
    async fn events(
        &self,
        ctx: &Context<'_>,
        from_position: Option<NonNegative>,
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
        Ok(follow(ctx, from_position, move |state, event| async move {
            if filter.admits(&state, &event).await? {
                LogEvent::new(event).map(Some)
            } else {
                Ok(None)
            }
        }))
    }

    /// Each change to a line of `unit`'s ledger, with the outing as it stands after it.
    #[graphql(guard = "Need(Permission::ReadRecords)")]
    async fn unit_ledger(
        &self,
        ctx: &Context<'_>,
        unit: ID,
        from_position: Option<NonNegative>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<LedgerChange>>> {
        let unit: UnitId = parse_id("unit", &unit)?;
        Ok(follow(ctx, from_position, move |state, event| async move {
            if event.stream.kind != StreamKind::Outing {
                return Ok(None);
            }
            let (position, outing) = (event.position, OutingId(event.stream.id));
            let line = state
                .read(Some(position), |m| {
                    m.outing(outing, position).filter(|o| o.unit == unit).map(|o| Outing::from_view(&o, position))
                })
                .await?;
            Ok(line.map(|outing| LedgerChange { position, event_type: event.payload.type_name().to_owned(), outing }))
        }))
    }

    /// Each board published and each change to a recognition (of `halfYear`, or all),
    /// what the notice board's listing shows.
    #[graphql(guard = "Need(Permission::ReadPublished)")]
    async fn recognition_changes(
        &self,
        ctx: &Context<'_>,
        half_year: Option<String>,
        from_position: Option<NonNegative>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<RecognitionChange>>> {
        let half_year =
            half_year.map(|h| HalfYear::parse("halfYear", &h)).transpose().map_err(|e| error::domain(&e))?;
        Ok(follow(ctx, from_position, move |state, event| async move {
            let (position, id) = (event.position, event.stream.id);
            let event_type = event.payload.type_name().to_owned();
            let of_half = |h: HalfYear| half_year.is_none_or(|wanted| wanted == h);
            let change = match event.stream.kind {
                StreamKind::Board => {
                    state
                        .read(Some(position), |m| {
                            let board = m.boards.get(&BoardId(id)).filter(|b| of_half(b.published.half_year))?;
                            Some(RecognitionChange {
                                position,
                                event_type,
                                board: Some(crate::recognitions::PublishedBoard::of(board)),
                                recognition: None,
                            })
                        })
                        .await?
                }
                StreamKind::Recognition => {
                    state
                        .read(Some(position), |m| {
                            let record = m.recognitions.get(&RecognitionId(id))?.at(position)?;
                            of_half(record.nominated.half_year).then(|| RecognitionChange {
                                position,
                                event_type,
                                board: None,
                                recognition: Some(crate::recognitions::Recognition::of(m, &record, &state.policies)),
                            })
                        })
                        .await?
                }
                _ => None,
            };
            Ok(change)
        }))
    }
}
