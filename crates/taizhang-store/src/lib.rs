//! The taizhang event store: an append-only, hash-chained log of [`DomainEvent`]s.
//!
//! - [`EventStore`] is the one trait every backend implements: atomic multi-stream
//!   appends with expected versions, idempotency by command id, reads by stream and by
//!   global position, and a durable-head watch that [`Subscription`] turns into a
//!   gap-free catch-up-then-live feed.
//! - [`SledStore`] is the embedded backend: one sled database, one writer thread that
//!   group-commits (one flush and one `fsync` for every append waiting at that moment).
//! - [`PgStore`] is the shared backend: one PostgreSQL schema that several servers write
//!   to, positions taken in commit order, the head followed through `LISTEN`.
//!   [`AnyStore`] is whichever of the two the configuration names.
//! - [`codec`] is the binary record format (a format byte, the chain hash, a compact
//!   envelope and a versioned payload); [`chain`] verifies the log end to end.
//! - [`keys`] keeps the per-member keys that seal personal data, wrapped by a master key.
//! - [`backup`] writes and reads the JSON Lines export, byte-exact so the chain survives.
//! - [`conformance`] is the test suite every backend must pass.
//!
//! ```no_run
//! # async fn demo() -> Result<(), taizhang_store::StoreError> {
//! use taizhang_store::{EventStore, SledStore};
//! let store = SledStore::open(std::path::Path::new("./taizhang-data"))?;
//! let head = store.head();
//! let events = store.read_all(1, 100).await?;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

mod any_store;
pub mod backup;
pub mod chain;
pub mod codec;
pub mod conformance;
mod key_slots;
pub mod keys;
mod postgres;
pub mod private;
mod side;
pub mod signing_key;
mod sled;
mod staging;
mod subscription;
pub mod tokens;

use std::future::Future;

pub use any_store::AnyStore;
pub use postgres::PgStore;
pub use sled::SledStore;
pub use subscription::Subscription;
use taizhang_core::{Actor, DomainEvent, StreamId, Timestamp};
use tokio::sync::watch;
use uuid::Uuid;

/// A place in the global log. Positions start at 1 and have no gaps; 0 means "before
/// the first event".
pub type Position = u64;

/// What the writer believes a stream's last version is. A mismatch is a [`StoreError::Conflict`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ExpectedVersion {
    /// Whatever the stream holds.
    Any,
    /// The stream has no events yet.
    NoStream,
    /// The stream's last event has this version (versions start at 0).
    Exact(u64),
}

impl ExpectedVersion {
    /// The expectation matching a version as read: `None` means the stream was empty.
    pub fn from_read(version: Option<u64>) -> Self {
        version.map_or(ExpectedVersion::NoStream, ExpectedVersion::Exact)
    }

    fn admits(self, actual: Option<u64>) -> bool {
        match self {
            ExpectedVersion::Any => true,
            ExpectedVersion::NoStream => actual.is_none(),
            ExpectedVersion::Exact(v) => actual == Some(v),
        }
    }
}

/// One event to append; the store assigns its id, version, position and hash.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct NewEvent {
    pub payload: DomainEvent,
    /// When the fact happened, when that is not when it is recorded.
    pub occurred_at: Option<Timestamp>,
}

/// All the events of one command: written all together or not at all.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AppendRequest {
    /// Makes the append idempotent: a retry with the same id returns the first outcome.
    pub command_id: Uuid,
    pub actor: Actor,
    pub correlation_id: Option<Uuid>,
    pub causation_id: Option<Uuid>,
    /// Expected versions, for the streams written and for streams only read (whose
    /// change would invalidate the decision).
    pub expectations: Vec<(StreamId, ExpectedVersion)>,
    pub events: Vec<NewEvent>,
    /// When the events are to be recorded as having been recorded; `None` (every client
    /// command) means now. Only a simulated history sets it (the sample campaign, so
    /// that its log is the same byte for byte); the store still keeps recorded-at order
    /// equal to log order, so a time before the last event's becomes the last event's.
    pub recorded_at: Option<Timestamp>,
    /// The key of the member this command registers, wrapped by the master key: the
    /// store writes it (beside the log, never in it) in the same commit as the events,
    /// so a registration's sealed data and the key that opens it exist together or
    /// not at all, whatever crashes or races in between.
    pub subject_key: Option<keys::WrappedKey>,
}

/// What an append did (or, for a retried command, what its first attempt did).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AppendOutcome {
    pub command_id: Uuid,
    pub first_position: Position,
    pub last_position: Position,
    /// The last version of every stream written.
    pub streams: Vec<(StreamId, u64)>,
    pub recorded_at: Timestamp,
    /// True when this call found the command already appended and wrote nothing.
    pub duplicate: bool,
}

/// An event as stored, with its full envelope.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RecordedEvent {
    pub position: Position,
    pub event_id: Uuid,
    pub stream: StreamId,
    pub version: u64,
    pub recorded_at: Timestamp,
    pub occurred_at: Timestamp,
    pub actor: Actor,
    pub command_id: Uuid,
    pub correlation_id: Option<Uuid>,
    pub causation_id: Option<Uuid>,
    /// The schema version the payload was written with (before any upcast).
    pub stored_schema_version: u16,
    pub hash: [u8; 32],
    pub payload: DomainEvent,
}

/// A stored record exactly as its bytes lie in the log: what the chain hashes, what
/// backups carry, what a restore writes back.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RawRecord {
    pub position: Position,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// Another writer changed a stream since it was read. Nothing was written; read
    /// again, decide again.
    #[error("conflict on {stream}: expected {expected:?}, the stream is at {actual:?}")]
    Conflict { stream: StreamId, expected: ExpectedVersion, actual: Option<u64> },
    /// The command id was used before for a different set of events.
    #[error("command id {0} was already used for a different command")]
    CommandIdReused(Uuid),
    /// The request itself is malformed (no events, say). Nothing was written.
    #[error("invalid append: {0}")]
    InvalidRequest(String),
    /// A stored record does not decode or does not chain: the log is damaged there.
    #[error("record at position {position} is damaged: {reason}")]
    Corrupt { position: Position, reason: String },
    /// The backend failed; the message is for logs, not for clients.
    #[error("storage failure: {0}")]
    Backend(String),
    /// An earlier write failed in a way that leaves durability unknown; the store
    /// refuses further work until it is reopened.
    #[error("the store stopped after a failed write; restart the process")]
    Poisoned,
    /// A durable write has not returned for [`STALL_AFTER`] or longer (a disk that
    /// stopped answering): nothing more is taken until the process restarts.
    #[error("the store has not finished a durable write for {seconds} s; restart the process")]
    Stalled { seconds: u64 },
}

/// How long a durable write may take before the store counts as stalled.
pub const STALL_AFTER: std::time::Duration = std::time::Duration::from_secs(20);

/// Whether a store can take writes now, for `/healthz` and the server's watchdog.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum StoreHealth {
    Ok,
    /// A write failed; what reached the disk is unknown until the log is read again.
    Poisoned,
    /// A durable write has not returned for this many seconds (at least [`STALL_AFTER`]).
    Stalled {
        seconds: u64,
    },
}

impl StoreHealth {
    pub fn as_str(self) -> &'static str {
        match self {
            StoreHealth::Ok => "ok",
            StoreHealth::Poisoned => "poisoned",
            StoreHealth::Stalled { .. } => "stalled",
        }
    }
}

/// The contract every backend keeps. See [`conformance`] for its tests.
pub trait EventStore: Send + Sync + 'static {
    /// Appends the events of one command atomically, after checking every expected
    /// version, and returns only once they are durable.
    fn append(&self, request: AppendRequest) -> impl Future<Output = Result<AppendOutcome, StoreError>> + Send {
        async move {
            let mut outcomes = self.append_batch(vec![request]).await;
            outcomes.pop().unwrap_or_else(|| Err(StoreError::Backend("the writer gave no outcome".into())))
        }
    }

    /// Appends several commands in this order, each atomically on its own exactly as
    /// [`EventStore::append`] would one after the other (a later request may expect the
    /// versions an earlier one writes), all in one commit: one outcome per request, in
    /// order, once they are durable. Bulk loads (imports, the sample campaign) use it
    /// to pay one fsync per batch and to get a log order that does not depend on timing.
    fn append_batch(
        &self,
        requests: Vec<AppendRequest>,
    ) -> impl Future<Output = Vec<Result<AppendOutcome, StoreError>>> + Send;

    /// The outcome recorded for a command id, if that command was appended.
    fn command_outcome(
        &self,
        command_id: Uuid,
    ) -> impl Future<Output = Result<Option<AppendOutcome>, StoreError>> + Send;

    /// The last version of a stream, or `None` when it has no events.
    fn stream_version(&self, stream: StreamId) -> impl Future<Output = Result<Option<u64>, StoreError>> + Send;

    /// Up to `limit` events of `stream` from `from_version` on, in version order.
    fn read_stream(
        &self,
        stream: StreamId,
        from_version: u64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<RecordedEvent>, StoreError>> + Send;

    /// Up to `limit` durable records from position `from` on, in position order.
    fn read_raw(&self, from: Position, limit: usize)
        -> impl Future<Output = Result<Vec<RawRecord>, StoreError>> + Send;

    /// Up to `limit` durable events from position `from` on, decoded.
    fn read_all(
        &self,
        from: Position,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<RecordedEvent>, StoreError>> + Send {
        async move { self.read_raw(from, limit).await?.iter().map(codec::decode).collect() }
    }

    /// The last durable position (0 when the log is empty).
    fn head(&self) -> Position;

    /// Changes whenever the durable head moves; subscriptions wait on it.
    fn watch_head(&self) -> watch::Receiver<Position>;

    /// Whether every append to the log is made by this process (sled's files are
    /// locked to one). Callers that keep streams' state between commands may then
    /// decide on it without first asking for newer events: another writer in this
    /// process can still have appended meanwhile, so the append's expected versions
    /// must still be checked, as they always are. Where other servers append too
    /// (PostgreSQL), asking first keeps races rare.
    fn sole_writer(&self) -> bool {
        false
    }

    /// Writes records taken from a backup, after the current head, byte for byte. Each
    /// must continue the chain; the indexes are rebuilt from them.
    fn restore_raw(&self, records: Vec<RawRecord>) -> impl Future<Output = Result<(), StoreError>> + Send;
}
