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

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use taizhang_core::{MemberId, StreamId, Timestamp};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_postgres::types::ToSql;
use tokio_postgres::{AsyncMessage, Client, NoTls, Statement};
use uuid::Uuid;

use crate::codec::{self, GENESIS_HASH};
use crate::keys::WrappedKey;
use crate::staging::{check_restore, outcome_of, Encoded, Tail};
use crate::{AppendOutcome, AppendRequest, EventStore, Position, RawRecord, RecordedEvent, StoreError};

const MAX_GROUP: usize = 1024;
const POLL_EVERY: Duration = Duration::from_millis(500);

fn pg(e: tokio_postgres::Error) -> StoreError {
    StoreError::Backend(format!("postgresql: {e}"))
}

enum Job {
    Append(Vec<AppendRequest>, oneshot::Sender<Vec<Result<AppendOutcome, StoreError>>>),
    Restore(Vec<RawRecord>, oneshot::Sender<Result<(), StoreError>>),
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

/// A schema name is spliced into SQL, so only plain identifiers are accepted.
fn check_schema(schema: &str) -> Result<(), StoreError> {
    let ok = !schema.is_empty()
        && schema.len() <= 63
        && schema.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && schema.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(StoreError::InvalidRequest(format!("schema name {schema:?}: use lowercase letters, digits and _")))
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
        migrate(&mut writer, schema).await?;
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

    async fn submit<T>(&self, job: impl FnOnce(oneshot::Sender<T>) -> Job) -> Result<T, StoreError> {
        let stopped = || StoreError::Backend("the writer stopped".into());
        let (tx, rx) = oneshot::channel();
        self.inner.jobs.send(job(tx)).map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())
    }

    fn s(&self) -> &str {
        &self.inner.schema
    }

    // The member key store's table (see `keys::KeyStore`). Each statement commits on
    // its own, durably, before it returns.

    pub(crate) async fn any_member_key(&self) -> Result<bool, StoreError> {
        let sql = format!("SELECT EXISTS (SELECT 1 FROM {}.member_keys)", self.s());
        Ok(self.inner.reader.query_one(&sql, &[]).await.map_err(pg)?.get(0))
    }

    pub(crate) async fn member_key(&self, member: MemberId) -> Result<Option<Vec<u8>>, StoreError> {
        let sql = format!("SELECT wrapped FROM {}.member_keys WHERE member = $1", self.s());
        let row = self.inner.reader.query_opt(&sql, &[&member.0.as_bytes().as_slice()]).await.map_err(pg)?;
        Ok(row.map(|r| r.get(0)))
    }

    pub(crate) async fn set_member_keys(&self, entries: Vec<(MemberId, Vec<u8>)>) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO {}.member_keys (member, wrapped) VALUES ($1, $2)
             ON CONFLICT (member) DO UPDATE SET wrapped = EXCLUDED.wrapped",
            self.s()
        );
        for (member, wrapped) in entries {
            self.inner.reader.execute(&sql, &[&member.0.as_bytes().as_slice(), &wrapped]).await.map_err(pg)?;
        }
        Ok(())
    }

    pub(crate) async fn member_keys(&self) -> Result<Vec<(MemberId, Vec<u8>)>, StoreError> {
        let sql = format!("SELECT member, wrapped FROM {}.member_keys ORDER BY member", self.s());
        Ok(self.uuid_rows(&sql).await?.into_iter().map(|(id, wrapped)| (MemberId(id), wrapped)).collect())
    }

    /// The rows of a side table keyed by a UUID, as (key, value).
    async fn uuid_rows(&self, sql: &str) -> Result<Vec<(Uuid, Vec<u8>)>, StoreError> {
        let rows = self.inner.reader.query(sql, &[]).await.map_err(pg)?;
        rows.iter()
            .map(|r| {
                let id = Uuid::from_slice(r.get::<_, &[u8]>(0)).map_err(|e| StoreError::Backend(e.to_string()))?;
                Ok((id, r.get(1)))
            })
            .collect()
    }

    // The API token store's table (see `tokens::TokenStore`), one JSON record per token.

    pub(crate) async fn token(&self, id: Uuid) -> Result<Option<Vec<u8>>, StoreError> {
        let sql = format!("SELECT record FROM {}.tokens WHERE id = $1", self.s());
        Ok(self.inner.reader.query_opt(&sql, &[&id.as_bytes().as_slice()]).await.map_err(pg)?.map(|r| r.get(0)))
    }

    pub(crate) async fn put_token(&self, id: Uuid, record: &[u8]) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO {}.tokens (id, record) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET record = EXCLUDED.record",
            self.s()
        );
        self.inner.reader.execute(&sql, &[&id.as_bytes().as_slice(), &record]).await.map_err(pg)?;
        Ok(())
    }

    pub(crate) async fn tokens(&self) -> Result<Vec<(Uuid, Vec<u8>)>, StoreError> {
        self.uuid_rows(&format!("SELECT id, record FROM {}.tokens", self.s())).await
    }
}

async fn migrate(client: &mut Client, s: &str) -> Result<(), StoreError> {
    // Several servers may start together: an advisory lock makes the creation one at a time.
    let sql = format!(
        "BEGIN;
         SELECT pg_advisory_xact_lock(hashtext('taizhang-migrate-{s}'));
         CREATE SCHEMA IF NOT EXISTS {s};
         CREATE TABLE IF NOT EXISTS {s}.events (
             position BIGINT PRIMARY KEY,
             stream BYTEA NOT NULL,
             version BIGINT NOT NULL,
             command_id BYTEA NOT NULL,
             record BYTEA NOT NULL,
             UNIQUE (stream, version));
         CREATE TABLE IF NOT EXISTS {s}.commands (
             command_id BYTEA PRIMARY KEY,
             first_position BIGINT NOT NULL,
             last_position BIGINT NOT NULL);
         CREATE TABLE IF NOT EXISTS {s}.member_keys (
             member BYTEA PRIMARY KEY,
             wrapped BYTEA NOT NULL);
         CREATE TABLE IF NOT EXISTS {s}.tokens (
             id BYTEA PRIMARY KEY,
             record BYTEA NOT NULL);
         COMMIT;"
    );
    client.batch_execute(&sql).await.map_err(pg)
}

async fn last_position(client: &Client, s: &str) -> Result<Position, StoreError> {
    let row = client.query_one(&format!("SELECT coalesce(max(position), 0) FROM {s}.events"), &[]).await.map_err(pg)?;
    Ok(row.get::<_, i64>(0) as Position)
}

fn raise(head: &watch::Sender<Position>, position: Position) {
    head.send_if_modified(|h| {
        let moved = position > *h;
        *h = (*h).max(position);
        moved
    });
}

/// Learns of other servers' commits: `LISTEN`, with a poll of the last position as the
/// fallback.
async fn listen(url: String, s: String, head: Arc<watch::Sender<Position>>, poll_every: Duration) {
    loop {
        if let Ok((client, mut connection)) = tokio_postgres::connect(&url, NoTls).await {
            let (notes_tx, mut notes) = mpsc::unbounded_channel();
            let pump = tokio::spawn(async move {
                while let Some(message) = std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                    match message {
                        Ok(AsyncMessage::Notification(n)) => {
                            let _ = notes_tx.send(n.payload().parse::<Position>().unwrap_or(0));
                        }
                        Ok(_) => {}
                        Err(_) => break,
                    }
                }
            });
            if client.batch_execute(&format!("LISTEN taizhang_{s}")).await.is_ok() {
                let mut poll = tokio::time::interval(poll_every);
                loop {
                    tokio::select! {
                        note = notes.recv() => match note {
                            Some(position) => raise(&head, position),
                            None => break,
                        },
                        _ = poll.tick() => match last_position(&client, &s).await {
                            Ok(position) => raise(&head, position),
                            Err(_) => break,
                        },
                    }
                }
            }
            pump.abort();
        }
        // Connection lost: try again shortly.
        tokio::time::sleep(POLL_EVERY).await;
    }
}

/// The writer's statements, prepared once per connection so that each is one round
/// trip, not a parse and an execute.
struct Statements {
    begin: Statement,
    commit: Statement,
    lock: Statement,
    last_event: Statement,
    versions: Statement,
    commands: Statement,
    insert_events: Statement,
    insert_commands: Statement,
    insert_member_keys: Statement,
    notify: Statement,
}

impl Statements {
    async fn prepare(client: &Client, s: &str) -> Result<Self, tokio_postgres::Error> {
        Ok(Self {
            begin: client.prepare("BEGIN").await?,
            commit: client.prepare("COMMIT").await?,
            lock: client.prepare(&format!("SELECT pg_advisory_xact_lock(hashtext('taizhang-append-{s}'))")).await?,
            last_event: client
                .prepare(&format!("SELECT position, record FROM {s}.events ORDER BY position DESC LIMIT 1"))
                .await?,
            versions: client
                .prepare(&format!("SELECT stream, max(version) FROM {s}.events WHERE stream = ANY($1) GROUP BY stream"))
                .await?,
            commands: client
                .prepare(&format!(
                    "SELECT command_id, first_position, last_position FROM {s}.commands WHERE command_id = ANY($1)"
                ))
                .await?,
            insert_events: client
                .prepare(&format!(
                    "INSERT INTO {s}.events (position, stream, version, command_id, record)
                     SELECT * FROM UNNEST($1::bigint[], $2::bytea[], $3::bigint[], $4::bytea[], $5::bytea[])"
                ))
                .await?,
            insert_commands: client
                .prepare(&format!(
                    "INSERT INTO {s}.commands (command_id, first_position, last_position)
                     SELECT * FROM UNNEST($1::bytea[], $2::bigint[], $3::bigint[]) ON CONFLICT DO NOTHING"
                ))
                .await?,
            // A key found for a member not yet registered (stored by an older version
            // before its registration, which never came) sealed nothing: replaced.
            insert_member_keys: client
                .prepare(&format!(
                    "INSERT INTO {s}.member_keys (member, wrapped)
                     SELECT * FROM UNNEST($1::bytea[], $2::bytea[])
                     ON CONFLICT (member) DO UPDATE SET wrapped = EXCLUDED.wrapped"
                ))
                .await?,
            notify: client.prepare("SELECT pg_notify($1, $2)").await?,
        })
    }
}

async fn run_writer(
    client: Client,
    s: String,
    mut rx: mpsc::UnboundedReceiver<Job>,
    head: Arc<watch::Sender<Position>>,
) {
    // Every statement of the writer is an index lookup, prepared once and run thousands
    // of times a second. A cached generic plan made while the tables were nearly empty
    // (a sequential scan of one page is cheapest then) stays in use as they grow: some
    // benchmark runs fell to a tenth of the rate, scanning `events` on every append,
    // until autovacuum's ANALYZE replaced the plan. Without sequential scans on this
    // connection, every plan the planner may choose probes the indexes.
    let statements = async {
        client.batch_execute("SET enable_seqscan = off").await?;
        Statements::prepare(&client, &s).await
    };
    let statements = match statements.await {
        Ok(statements) => statements,
        Err(e) => {
            // Without its statements the writer cannot write: tell every caller why.
            let error = pg(e);
            while let Some(job) = rx.recv().await {
                match job {
                    Job::Append(requests, tx) => drop(tx.send(vec![Err(error.clone()); requests.len()])),
                    Job::Restore(_, tx) => drop(tx.send(Err(error.clone()))),
                }
            }
            return;
        }
    };
    while let Some(first) = rx.recv().await {
        let mut jobs = vec![first];
        while jobs.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        commit_group(&client, &statements, &s, jobs, &head).await;
    }
}

/// The `events` table's columns of the rows a group writes, one list per column (what
/// `UNNEST` takes).
#[derive(Default)]
struct Columns {
    positions: Vec<i64>,
    streams: Vec<Vec<u8>>,
    versions: Vec<i64>,
    commands: Vec<Vec<u8>>,
}

impl Columns {
    fn push(&mut self, position: Position, stream: StreamId, version: u64, command: Uuid) {
        self.positions.push(position as i64);
        self.streams.push(stream.to_bytes().to_vec());
        self.versions.push(version as i64);
        self.commands.push(command.as_bytes().to_vec());
    }
}

/// A job whose appends are encoded (or refused) before the append lock is taken.
enum Encoding {
    Append(Vec<Result<Encoded, StoreError>>, oneshot::Sender<Vec<Result<AppendOutcome, StoreError>>>),
    Restore(Vec<RawRecord>, oneshot::Sender<Result<(), StoreError>>),
}

enum Reply {
    Append(oneshot::Sender<Vec<Result<AppendOutcome, StoreError>>>, Vec<Result<AppendOutcome, StoreError>>),
    Restore(oneshot::Sender<Result<(), StoreError>>, Result<(), StoreError>),
}

async fn commit_group(
    client: &Client,
    statements: &Statements,
    s: &str,
    jobs: Vec<Job>,
    head: &watch::Sender<Position>,
) {
    let mut replies = Vec::with_capacity(jobs.len());
    let result = stage_and_commit(client, statements, s, jobs, &mut replies).await;
    if result.is_err() {
        // Whatever failed, leave the connection outside any transaction.
        let _ = client.batch_execute("ROLLBACK").await;
    }
    match result {
        Ok(tail) => raise(head, tail),
        Err(e) => {
            // The transaction did not commit: nothing of this group was written.
            for reply in &mut replies {
                match reply {
                    Reply::Append(_, results) => {
                        results.iter_mut().filter(|r| r.is_ok()).for_each(|r| *r = Err(e.clone()))
                    }
                    Reply::Restore(_, r @ Ok(_)) => *r = Err(e.clone()),
                    _ => {}
                }
            }
        }
    }
    for reply in replies {
        match reply {
            Reply::Append(tx, r) => drop(tx.send(r)),
            Reply::Restore(tx, r) => drop(tx.send(r)),
        }
    }
}

/// Stages every job of the group in one transaction, under the append lock, and commits.
/// Jobs refused by a check get their error in `replies`; the others their outcome, which
/// the caller turns into an error if the commit fails.
async fn stage_and_commit(
    client: &Client,
    st: &Statements,
    s: &str,
    jobs: Vec<Job>,
    replies: &mut Vec<Reply>,
) -> Result<Position, StoreError> {
    // Payloads are encoded before BEGIN: the append lock is held from the first round
    // trip to the commit, and every other server waits for it, so only what needs the
    // log's tail (positions, versions, the hash chain) is done while holding it.
    let jobs: Vec<Encoding> = jobs
        .into_iter()
        .map(|job| match job {
            Job::Append(requests, reply) => Encoding::Append(requests.into_iter().map(Encoded::new).collect(), reply),
            Job::Restore(records, reply) => Encoding::Restore(records, reply),
        })
        .collect();
    // What the checks need, for the whole group. The three reads are pipelined (one
    // round trip) and run in order on the server: the versions and command ids are read
    // after the append lock is held, so no other server can change them meanwhile.
    let mut streams: Vec<Vec<u8>> = Vec::new();
    let mut command_ids: Vec<Vec<u8>> = Vec::new();
    for job in &jobs {
        match job {
            Encoding::Append(requests, _) => {
                for r in requests.iter().flatten().map(|e| &e.request) {
                    command_ids.push(r.command_id.as_bytes().to_vec());
                    streams.extend(r.expectations.iter().map(|(st, _)| st.to_bytes().to_vec()));
                    streams.extend(r.events.iter().map(|e| e.payload.stream().to_bytes().to_vec()));
                }
            }
            Encoding::Restore(records, _) => {
                for record in records {
                    if let Ok((env, _)) = codec::decode_envelope(record) {
                        streams.push(env.stream.to_bytes().to_vec());
                    }
                }
            }
        }
    }
    let versions_params: [&(dyn ToSql + Sync); 1] = [&streams];
    let commands_params: [&(dyn ToSql + Sync); 1] = [&command_ids];
    let (begun, locked, last, version_rows, command_rows) = tokio::join!(
        client.execute(&st.begin, &[]),
        client.execute(&st.lock, &[]),
        client.query_opt(&st.last_event, &[]),
        client.query(&st.versions, &versions_params),
        client.query(&st.commands, &commands_params),
    );
    begun.map_err(pg)?;
    locked.map_err(pg)?;
    let (last, version_rows, command_rows) = (last.map_err(pg)?, version_rows.map_err(pg)?, command_rows.map_err(pg)?);
    let mut tail = match last {
        None => Tail { head: 0, last_hash: GENESIS_HASH, last_recorded_at: Timestamp::default() },
        Some(row) => {
            let record = RawRecord { position: row.get::<_, i64>(0) as Position, bytes: row.get(1) };
            let (hash, _) = codec::split_record(&record)?;
            let (env, _) = codec::decode_envelope(&record)?;
            Tail { head: record.position, last_hash: hash, last_recorded_at: env.recorded_at }
        }
    };
    let mut versions: HashMap<StreamId, Option<u64>> = HashMap::new();
    for row in version_rows {
        let stream: Vec<u8> = row.get(0);
        if let Some(id) = StreamId::from_bytes(&stream) {
            versions.insert(id, Some(row.get::<_, i64>(1) as u64));
        }
    }
    let mut known_commands: HashMap<Uuid, (Position, Position)> = HashMap::new();
    for row in command_rows {
        let id: Vec<u8> = row.get(0);
        if let Ok(id) = Uuid::from_slice(&id) {
            known_commands.insert(id, (row.get::<_, i64>(1) as Position, row.get::<_, i64>(2) as Position));
        }
    }

    let first_new = tail.head + 1;
    let mut records: Vec<RawRecord> = Vec::new();
    // The rows' columns, gathered while staging (decoding the records again to find
    // them would be work done while every server waits for the lock).
    let mut columns = Columns::default();
    let mut commands: Vec<(Uuid, Position, Position)> = Vec::new();
    let mut member_keys: Vec<WrappedKey> = Vec::new();
    let version_of =
        |versions: &HashMap<StreamId, Option<u64>>, stream: StreamId| versions.get(&stream).copied().flatten();
    for job in jobs {
        match job {
            Encoding::Append(requests, reply) => {
                let mut results = Vec::with_capacity(requests.len());
                for encoded in requests {
                    results.push(
                        async {
                            let encoded = encoded?;
                            if let Some(&(first, last)) = known_commands.get(&encoded.request.command_id) {
                                let stored = if first >= first_new {
                                    records[(first - first_new) as usize..=(last - first_new) as usize].to_vec()
                                } else {
                                    read_range(client, s, first, last).await?
                                };
                                return encoded.retry_outcome(&stored);
                            }
                            encoded.check(|stream| version_of(&versions, stream))?;
                            let outcome = encoded.stage(
                                &mut tail,
                                |stream, position| {
                                    let next = version_of(&versions, stream).map_or(0, |v| v + 1);
                                    versions.insert(stream, Some(next));
                                    columns.push(position, stream, next, encoded.request.command_id);
                                    next
                                },
                                &mut records,
                            );
                            known_commands.insert(outcome.command_id, (outcome.first_position, outcome.last_position));
                            commands.push((outcome.command_id, outcome.first_position, outcome.last_position));
                            member_keys.extend(encoded.request.member_key);
                            Ok(outcome)
                        }
                        .await,
                    );
                }
                replies.push(Reply::Append(reply, results));
            }
            Encoding::Restore(batch, reply) => {
                let result =
                    check_restore(&batch, tail, |stream| version_of(&versions, stream)).map(|(envelopes, after)| {
                        for (record, env) in batch.into_iter().zip(envelopes) {
                            versions.insert(env.stream, Some(env.version));
                            columns.push(record.position, env.stream, env.version, env.command_id);
                            match commands.last_mut() {
                                Some((id, _, last)) if *id == env.command_id => *last = record.position,
                                _ => commands.push((env.command_id, record.position, record.position)),
                            }
                            records.push(record);
                        }
                        tail = after;
                    });
                replies.push(Reply::Restore(reply, result));
            }
        }
    }
    if records.is_empty() {
        client.batch_execute("ROLLBACK").await.map_err(pg)?;
        return Ok(tail.head);
    }

    let bytes: Vec<&[u8]> = records.iter().map(|r| r.bytes.as_slice()).collect();
    let Columns { positions, streams: stream_keys, versions: stream_versions, commands: command_of } = columns;
    let ids: Vec<Vec<u8>> = commands.iter().map(|(id, _, _)| id.as_bytes().to_vec()).collect();
    let firsts: Vec<i64> = commands.iter().map(|(_, f, _)| *f as i64).collect();
    let lasts: Vec<i64> = commands.iter().map(|(_, _, l)| *l as i64).collect();
    let channel = format!("taizhang_{s}");
    let head_text = tail.head.to_string();
    let events_params: [&(dyn ToSql + Sync); 5] = [&positions, &stream_keys, &stream_versions, &command_of, &bytes];
    let commands_params: [&(dyn ToSql + Sync); 3] = [&ids, &firsts, &lasts];
    let notify_params: [&(dyn ToSql + Sync); 2] = [&channel, &head_text];
    let key_members: Vec<&[u8]> = member_keys.iter().map(|k| k.member.0.as_bytes().as_slice()).collect();
    let key_bytes: Vec<&[u8]> = member_keys.iter().map(|k| k.bytes.as_slice()).collect();
    let keys_params: [&(dyn ToSql + Sync); 2] = [&key_members, &key_bytes];
    // The writes and the commit in one round trip. If a write fails the server aborts
    // the transaction and turns the COMMIT into a rollback, so a failed write is never
    // half committed; its error is what the callers get. The notification follows the
    // COMMIT in the same round trip, as a transaction of its own: the append lock is
    // released at the commit, not after the notification too (listeners would not hear
    // of the events before the commit anyway; a lost one is covered by polling).
    // New members' keys go in the same transaction as their registrations.
    let keys_written = async {
        if member_keys.is_empty() {
            return Ok(0);
        }
        client.execute(&st.insert_member_keys, &keys_params).await
    };
    let (a, b, c, committed, notified) = tokio::join!(
        client.execute(&st.insert_events, &events_params),
        client.execute(&st.insert_commands, &commands_params),
        keys_written,
        client.execute(&st.commit, &[]),
        client.execute(&st.notify, &notify_params),
    );
    for result in [a, b, c] {
        result.map_err(pg)?;
    }
    committed.map_err(pg)?;
    // Committed: the appends stand whatever became of the notification; if it failed,
    // other servers learn of them by polling, and a broken connection fails the next group.
    drop(notified);
    Ok(tail.head)
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

impl EventStore for PgStore {
    async fn append_batch(&self, requests: Vec<AppendRequest>) -> Vec<Result<AppendOutcome, StoreError>> {
        let count = requests.len();
        if count == 0 {
            return Vec::new(); // nothing to commit: no writer turn, no fsync
        }
        self.submit(|tx| Job::Append(requests, tx)).await.unwrap_or_else(|e| vec![Err(e); count])
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
        self.submit(|tx| Job::Restore(records, tx)).await?
    }
}
