//! One type for "whichever backend the operator chose", so that the server, the API and
//! the command line are written once instead of being generic over the store.

use std::sync::Arc;

use taizhang_core::{DataSubject, StreamId};
use tokio::sync::watch;
use uuid::Uuid;

use crate::side::SideTables;
use crate::{
    AppendOutcome, AppendRequest, EventStore, PgStore, Position, RawRecord, RecordedEvent, SledStore, StoreError,
};

/// The log, on sled or on PostgreSQL. Each call is forwarded to the backend.
#[derive(Clone)]
pub enum AnyStore {
    Sled(Arc<SledStore>),
    Pg(Arc<PgStore>),
}

impl AnyStore {
    /// Opens `spec`: `sled` (the embedded store in `data`) or a `postgres://` URL, whose
    /// tables live in `pg_schema`.
    pub async fn open(spec: &str, data: &std::path::Path, pg_schema: &str) -> Result<Self, StoreError> {
        if spec == "sled" {
            Ok(AnyStore::Sled(Arc::new(SledStore::open(data)?)))
        } else if spec.starts_with("postgres://") || spec.starts_with("postgresql://") {
            Ok(AnyStore::Pg(Arc::new(PgStore::connect(spec, pg_schema).await?)))
        } else {
            Err(StoreError::Backend(format!("the store must be `sled` or a postgres:// URL, not {spec:?}")))
        }
    }

    /// `sled` or `postgres`, for health reports and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            AnyStore::Sled(_) => "sled",
            AnyStore::Pg(_) => "postgres",
        }
    }

    /// Whether the store can take writes now. (PostgreSQL's own server reports its
    /// health; a failed transaction there is rolled back and the next one starts afresh.)
    pub fn health(&self) -> crate::StoreHealth {
        match self {
            AnyStore::Sled(s) => s.health(),
            AnyStore::Pg(_) => crate::StoreHealth::Ok,
        }
    }

    /// Makes everything acknowledged durable before the process exits. Appends are
    /// already fsynced when acknowledged; this also flushes the sled key store.
    pub async fn sync(&self) -> Result<(), StoreError> {
        match self {
            AnyStore::Sled(s) => s.sync().await,
            AnyStore::Pg(_) => Ok(()),
        }
    }
}

/// Forwards `$call` to the backend.
macro_rules! forward {
    ($self:ident, $s:ident => $call:expr) => {
        match $self {
            AnyStore::Sled($s) => $call,
            AnyStore::Pg($s) => $call,
        }
    };
}

/// Forwards the asynchronous `$call` to the backend and awaits it. PostgreSQL's is
/// boxed: a query's future on a pooled connection is over a kilobyte, and inline it
/// would make every future that awaits the store that large, sled's too (a command's
/// whole execution), and every move of one of them a copy of it. A box costs nothing
/// beside a round trip to the database.
macro_rules! forward_await {
    ($self:ident, $s:ident => $call:expr) => {
        match $self {
            AnyStore::Sled($s) => $call.await,
            AnyStore::Pg($s) => Box::pin($call).await,
        }
    };
}

impl EventStore for AnyStore {
    async fn append_batch(&self, requests: Vec<AppendRequest>) -> Vec<Result<AppendOutcome, StoreError>> {
        forward_await!(self, s => s.append_batch(requests))
    }

    async fn command_outcome(&self, command_id: Uuid) -> Result<Option<AppendOutcome>, StoreError> {
        forward_await!(self, s => s.command_outcome(command_id))
    }

    async fn stream_version(&self, stream: StreamId) -> Result<Option<u64>, StoreError> {
        forward_await!(self, s => s.stream_version(stream))
    }

    async fn read_stream(
        &self,
        stream: StreamId,
        from_version: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        forward_await!(self, s => s.read_stream(stream, from_version, limit))
    }

    async fn read_raw(&self, from: Position, limit: usize) -> Result<Vec<RawRecord>, StoreError> {
        forward_await!(self, s => s.read_raw(from, limit))
    }

    async fn read_all(&self, from: Position, limit: usize) -> Result<Vec<RecordedEvent>, StoreError> {
        forward_await!(self, s => s.read_all(from, limit))
    }

    fn head(&self) -> Position {
        forward!(self, s => s.head())
    }

    fn watch_head(&self) -> watch::Receiver<Position> {
        forward!(self, s => s.watch_head())
    }

    fn sole_writer(&self) -> bool {
        forward!(self, s => s.sole_writer())
    }

    async fn restore_raw(&self, records: Vec<RawRecord>) -> Result<(), StoreError> {
        forward_await!(self, s => s.restore_raw(records))
    }
}

impl SideTables for AnyStore {
    async fn subject_key(&self, member: DataSubject) -> Result<Option<Vec<u8>>, StoreError> {
        forward_await!(self, s => s.subject_key(member))
    }

    async fn set_subject_keys(&self, entries: Vec<(DataSubject, Vec<u8>)>) -> Result<(), StoreError> {
        forward_await!(self, s => s.set_subject_keys(entries))
    }

    async fn subject_keys(&self) -> Result<Vec<(DataSubject, Vec<u8>)>, StoreError> {
        forward_await!(self, s => s.subject_keys())
    }

    async fn any_subject_key(&self) -> Result<bool, StoreError> {
        forward_await!(self, s => s.any_subject_key())
    }

    async fn token(&self, id: Uuid) -> Result<Option<Vec<u8>>, StoreError> {
        forward_await!(self, s => s.token(id))
    }

    async fn put_token(&self, id: Uuid, record: &[u8]) -> Result<(), StoreError> {
        forward_await!(self, s => s.put_token(id, record))
    }

    async fn tokens(&self) -> Result<Vec<(Uuid, Vec<u8>)>, StoreError> {
        forward_await!(self, s => s.tokens())
    }
}
