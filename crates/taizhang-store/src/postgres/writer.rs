//! The writer task: each server's appends, a group at a time, in one transaction
//! under the append lock, so positions are taken in commit order.

use crate::codec::{self, GENESIS_HASH};
use crate::keys::WrappedKey;
use crate::staging::{answer, check_restore, Encoded, Reply, Tail};
use crate::{AppendOutcome, Position, RawRecord, StoreError};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use taizhang_core::{StreamId, Timestamp};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Statement};
use uuid::Uuid;

use super::*;

pub(super) const MAX_GROUP: usize = 1024;
pub(super) const POLL_EVERY: Duration = Duration::from_millis(500);

/// The writer's statements, prepared once per connection so that each is one round
/// trip, not a parse and an execute.
pub(super) struct Statements {
    pub(super) begin: Statement,
    pub(super) commit: Statement,
    pub(super) lock: Statement,
    pub(super) last_event: Statement,
    pub(super) versions: Statement,
    pub(super) commands: Statement,
    pub(super) insert_events: Statement,
    pub(super) insert_commands: Statement,
    pub(super) insert_member_keys: Statement,
    pub(super) notify: Statement,
}

impl Statements {
    pub(super) async fn prepare(client: &Client, s: &str) -> Result<Self, tokio_postgres::Error> {
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

pub(super) async fn run_writer(
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
                job.refuse(&error);
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
pub(super) struct Columns {
    pub(super) positions: Vec<i64>,
    pub(super) streams: Vec<Vec<u8>>,
    pub(super) versions: Vec<i64>,
    pub(super) commands: Vec<Vec<u8>>,
}

impl Columns {
    pub(super) fn push(&mut self, position: Position, stream: StreamId, version: u64, command: Uuid) {
        self.positions.push(position as i64);
        self.streams.push(stream.to_bytes().to_vec());
        self.versions.push(version as i64);
        self.commands.push(command.as_bytes().to_vec());
    }
}

/// A job whose appends are encoded (or refused) before the append lock is taken.
pub(super) enum Encoding {
    Append(Vec<Result<Encoded, StoreError>>, oneshot::Sender<Vec<Result<AppendOutcome, StoreError>>>),
    Restore(Vec<RawRecord>, oneshot::Sender<Result<(), StoreError>>),
}

pub(super) async fn commit_group(
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
    let failed = match result {
        Ok(tail) => {
            raise(head, tail);
            None
        }
        // The transaction did not commit: nothing of this group was written.
        Err(e) => Some(e),
    };
    answer(replies, failed.as_ref());
}

/// Stages every job of the group in one transaction, under the append lock, and commits.
/// Jobs refused by a check get their error in `replies`; the others their outcome, which
/// the caller turns into an error if the commit fails.
pub(super) async fn stage_and_commit(
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
        .filter_map(|job| match job {
            Job::Append(requests, reply) => {
                Some(Encoding::Append(requests.into_iter().map(Encoded::new).collect(), reply))
            }
            Job::Restore(records, reply) => Some(Encoding::Restore(records, reply)),
            // What the writer commits is durable when the commit returns: a sync is
            // answered with the group.
            Job::Sync(reply) => {
                replies.push(Reply::Unit(reply, Ok(())));
                None
            }
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
                            member_keys.extend(encoded.request.subject_key);
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
                replies.push(Reply::Unit(reply, result));
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
    let key_members: Vec<&[u8]> = member_keys.iter().map(|k| k.subject.0.as_bytes().as_slice()).collect();
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
