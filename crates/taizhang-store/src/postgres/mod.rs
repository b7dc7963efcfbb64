//! The PostgreSQL backend: one `events` table shared by every server of a deployment.
//!
//! Tables (in a schema of the deployment's choosing, created at connect):
//! - `events (position PK, stream, version, command_id, record)`, unique (stream, version);
//! - `commands (command_id PK, first_position, last_position)`;
//!
//! **No skipped events.** A sequence would hand out positions that commit out of order:
//! a reader could see 11 before the transaction holding 10 commits, and tail past 10
//! for good. Instead every append transaction first takes the schema's append lock
//! (`pg_advisory_xact_lock`, held until commit), reads the last event after it and
//! assigns positions from there; the next writer, on any server, waits for that lock
//! until the previous transaction has committed. (A one-row "tail" table locked with
//! `FOR UPDATE` did the same, but thousands of updates a second to one row made some
//! runs crawl at a sixth of the speed.) Positions
//! therefore become visible strictly in order, and a reader reading "from position N
//! on" can never miss one. The cost is that appends are serialised across servers;
//! each server batches the appends waiting at that moment into one transaction (group
//! commit), as the sled writer does, with prepared statements pipelined: BEGIN and the
//! reads in one round trip, the writes and COMMIT in another.
//!
//! Live tailing: after each commit, `NOTIFY` with the new last position; every server
//! listens, and also polls the last position twice a second in case a notification is
//! lost.

use std::sync::Arc;
use std::time::Duration;

use taizhang_core::StreamId;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_postgres::{Client, NoTls};
use uuid::Uuid;

use crate::codec::{self};
use crate::staging::{outcome_of, Job, JobQueue};
use crate::{AppendOutcome, AppendRequest, EventStore, Position, RawRecord, RecordedEvent, StoreError};

mod listener;
mod schema;
mod side;
mod writer;

use listener::*;
use schema::*;
use writer::*;

fn pg(e: tokio_postgres::Error) -> StoreError {
    StoreError::Backend(format!("postgresql: {e}"))
}

/// The PostgreSQL event store. Cheap to clone.
#[derive(Clone)]
pub struct PgStore {
    inner: Arc<PgInner>,
}

struct PgInner {
    reader: Client,
    schema: String,
    jobs: mpsc::UnboundedSender<Job>,
    head: watch::Receiver<Position>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for PgInner {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

async fn connect(url: &str) -> Result<(Client, JoinHandle<()>), StoreError> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.map_err(pg)?;
    let task = tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok((client, task))
}

impl PgStore {
    /// Connects to `url`, creates the schema and its tables if needed, and starts this
    /// server's writer and listener.
    pub async fn connect(url: &str, schema: &str) -> Result<Self, StoreError> {
        Self::connect_polling_every(url, schema, POLL_EVERY).await
    }

    /// [`PgStore::connect`], checking the last position every `poll` in case a
    /// notification of another server's commit was lost (twice a second by default).
    pub async fn connect_polling_every(url: &str, schema: &str, poll: Duration) -> Result<Self, StoreError> {
        check_schema(schema)?;
        let (reader, reader_task) = connect(url).await?;
        let (mut writer, writer_conn) = connect(url).await?;
        if let Err(e) = migrate(&mut writer, schema).await {
            reader_task.abort();
            writer_conn.abort();
            return Err(e);
        }
        let head = last_position(&reader, schema).await?;
        let (head_tx, head_rx) = watch::channel(head);
        let head_tx = Arc::new(head_tx);
        let (jobs, rx) = mpsc::unbounded_channel();
        let writer_task = tokio::spawn(run_writer(writer, schema.to_owned(), rx, head_tx.clone()));
        let listener_task = tokio::spawn(listen(url.to_owned(), schema.to_owned(), head_tx, poll));
        Ok(Self {
            inner: Arc::new(PgInner {
                reader,
                schema: schema.to_owned(),
                jobs,
                head: head_rx,
                tasks: vec![reader_task, writer_conn, writer_task, listener_task],
            }),
        })
    }

    /// Drops the schema and everything in it (for tests and decommissioning).
    pub async fn drop_schema(url: &str, schema: &str) -> Result<(), StoreError> {
        check_schema(schema)?;
        let (client, task) = connect(url).await?;
        let result = client.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).await.map_err(pg);
        task.abort();
        result
    }

    fn s(&self) -> &str {
        &self.inner.schema
    }
}

async fn read_range(
    client: &impl tokio_postgres::GenericClient,
    s: &str,
    first: Position,
    last: Position,
) -> Result<Vec<RawRecord>, StoreError> {
    let rows = client
        .query(
            &format!("SELECT position, record FROM {s}.events WHERE position BETWEEN $1 AND $2 ORDER BY position"),
            &[&(first as i64), &(last as i64)],
        )
        .await
        .map_err(pg)?;
    Ok(records(rows))
}

/// Rows of `(position, record)` as records.
fn records(rows: Vec<tokio_postgres::Row>) -> Vec<RawRecord> {
    rows.into_iter().map(|r| RawRecord { position: r.get::<_, i64>(0) as Position, bytes: r.get(1) }).collect()
}

fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl JobQueue for PgStore {
    async fn submit<T: Send>(&self, job: impl FnOnce(oneshot::Sender<T>) -> Job + Send) -> Result<T, StoreError> {
        let stopped = || StoreError::Backend("the writer stopped".into());
        let (tx, rx) = oneshot::channel();
        self.inner.jobs.send(job(tx)).map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())
    }
}

impl EventStore for PgStore {
    async fn append_batch(&self, requests: Vec<AppendRequest>) -> Vec<Result<AppendOutcome, StoreError>> {
        self.append_through_writer(requests).await
    }

    async fn command_outcome(&self, command_id: Uuid) -> Result<Option<AppendOutcome>, StoreError> {
        let row = self
            .inner
            .reader
            .query_opt(
                &format!("SELECT first_position, last_position FROM {}.commands WHERE command_id = $1", self.s()),
                &[&command_id.as_bytes().as_slice()],
            )
            .await
            .map_err(pg)?;
        let Some(row) = row else { return Ok(None) };
        let records = read_range(
            &self.inner.reader,
            self.s(),
            row.get::<_, i64>(0) as Position,
            row.get::<_, i64>(1) as Position,
        )
        .await?;
        Ok(Some(outcome_of(command_id, &records)?))
    }

    async fn stream_version(&self, stream: StreamId) -> Result<Option<u64>, StoreError> {
        let row = self
            .inner
            .reader
            .query_one(
                &format!("SELECT max(version) FROM {}.events WHERE stream = $1", self.s()),
                &[&stream.to_bytes().as_slice()],
            )
            .await
            .map_err(pg)?;
        Ok(row.get::<_, Option<i64>>(0).map(|v| v as u64))
    }

    async fn read_stream(
        &self,
        stream: StreamId,
        from_version: u64,
        limit_n: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let rows = self
            .inner
            .reader
            .query(
                &format!(
                    "SELECT position, record FROM {}.events WHERE stream = $1 AND version >= $2 ORDER BY version LIMIT $3",
                    self.s()
                ),
                &[&stream.to_bytes().as_slice(), &i64::try_from(from_version).unwrap_or(i64::MAX), &limit(limit_n)],
            )
            .await
            .map_err(pg)?;
        rows.into_iter()
            .map(|r| codec::decode(&RawRecord { position: r.get::<_, i64>(0) as Position, bytes: r.get(1) }))
            .collect()
    }

    async fn read_raw(&self, from: Position, limit_n: usize) -> Result<Vec<RawRecord>, StoreError> {
        // Positions are assigned under the append lock, so they commit in order: reading
        // "from N on" cannot pass over one that commits later.
        let rows = self
            .inner
            .reader
            .query(
                &format!(
                    "SELECT position, record FROM {}.events WHERE position >= $1 ORDER BY position LIMIT $2",
                    self.s()
                ),
                &[&(from.max(1) as i64), &limit(limit_n)],
            )
            .await
            .map_err(pg)?;
        Ok(records(rows))
    }

    fn head(&self) -> Position {
        *self.inner.head.borrow()
    }

    fn watch_head(&self) -> watch::Receiver<Position> {
        self.inner.head.clone()
    }

    async fn restore_raw(&self, records: Vec<RawRecord>) -> Result<(), StoreError> {
        self.restore_through_writer(records).await
    }
}
