//! What every backend's writer does with an append, apart from storing it: encode the
//! payloads, recognise a retry, check the expected versions, assign versions and
//! positions, chain the records; for a restore, check the records it is given; and
//! once a group's fate is known, answer each of its jobs (`answer`).

use std::collections::HashMap;

use taizhang_core::{StreamId, Timestamp};
use tokio::sync::oneshot;
use uuid::Uuid;

use crate::codec::{self, Envelope};
use crate::{AppendOutcome, AppendRequest, Position, RawRecord, StoreError};

/// The end of the chain a writer appends after.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Tail {
    pub head: Position,
    pub last_hash: [u8; 32],
    pub last_recorded_at: Timestamp,
}

/// An append request with its payloads encoded once.
pub(crate) struct Encoded {
    pub request: AppendRequest,
    payloads: Vec<Vec<u8>>,
}

impl Encoded {
    pub fn new(request: AppendRequest) -> Result<Self, StoreError> {
        if request.events.is_empty() {
            return Err(StoreError::InvalidRequest("an append needs at least one event".into()));
        }
        let payloads = request.events.iter().map(|e| codec::encode_payload(&e.payload)).collect();
        Ok(Self { request, payloads })
    }

    /// The answer to a request whose command id is already stored with `stored`: the
    /// first outcome if it asks for exactly those events, else `CommandIdReused`.
    pub fn retry_outcome(&self, stored: &[RawRecord]) -> Result<AppendOutcome, StoreError> {
        let events = &self.request.events;
        let same = stored.len() == events.len()
            && stored.iter().zip(events.iter().zip(&self.payloads)).all(|(record, (event, payload))| {
                codec::decode_envelope(record).is_ok_and(|(env, stored_payload)| {
                    env.stream == event.payload.stream()
                        && env.type_code == event.payload.type_code()
                        && env.schema_version == event.payload.schema_version()
                        && env.occurred_at == event.occurred_at
                        && stored_payload == payload.as_slice()
                })
            });
        if same {
            outcome_of(self.request.command_id, stored)
        } else {
            Err(StoreError::CommandIdReused(self.request.command_id))
        }
    }

    /// Checks every expected version against the streams' current last versions.
    pub fn check(&self, mut version_of: impl FnMut(StreamId) -> Option<u64>) -> Result<(), StoreError> {
        for &(stream, expected) in &self.request.expectations {
            let actual = version_of(stream);
            if !expected.admits(actual) {
                return Err(StoreError::Conflict { stream, expected, actual });
            }
        }
        Ok(())
    }

    /// Assigns versions (from `next_version`, told each event's position) and positions,
    /// chains the records onto `tail` and pushes them to `out`. Cannot fail: call it
    /// only after every check passed.
    pub fn stage(
        &self,
        tail: &mut Tail,
        mut next_version: impl FnMut(StreamId, Position) -> u64,
        out: &mut Vec<RawRecord>,
    ) -> AppendOutcome {
        let request = &self.request;
        // Never earlier than the last event's, even if the clock steps back, so that
        // recorded-at order is log order and "as of a time" is a position.
        let recorded_at = request.recorded_at.unwrap_or_else(Timestamp::now).max(tail.last_recorded_at);
        tail.last_recorded_at = recorded_at;
        let first_position = tail.head + 1;
        let mut streams: Vec<(StreamId, u64)> = Vec::new();
        for (index, (event, payload)) in request.events.iter().zip(&self.payloads).enumerate() {
            let stream = event.payload.stream();
            let position = tail.head + 1;
            let version = next_version(stream, position);
            let envelope = Envelope {
                event_id: event_id(request.command_id, index),
                stream,
                version,
                recorded_at,
                occurred_at: event.occurred_at,
                actor: request.actor,
                command_id: request.command_id,
                correlation_id: request.correlation_id,
                causation_id: request.causation_id,
                type_code: event.payload.type_code(),
                schema_version: event.payload.schema_version(),
            };
            let (bytes, hash) = codec::encode_record(&tail.last_hash, position, &envelope, payload);
            out.push(RawRecord { position, bytes });
            tail.head = position;
            tail.last_hash = hash;
            match streams.iter_mut().find(|(s, _)| *s == stream) {
                Some(entry) => entry.1 = version,
                None => streams.push((stream, version)),
            }
        }
        AppendOutcome {
            command_id: request.command_id,
            first_position,
            last_position: tail.head,
            streams,
            recorded_at,
            duplicate: false,
        }
    }
}

/// An event's id: named by the command that wrote it and its place among that
/// command's events (UUIDv5 in the command id's namespace). Command ids are unique in a
/// log, so event ids are too, and writing the same commands gives the same ids.
pub(crate) fn event_id(command_id: Uuid, index: usize) -> Uuid {
    Uuid::new_v5(&command_id, &(index as u64).to_be_bytes())
}

/// The outcome of a command, recomputed from its stored records.
pub(crate) fn outcome_of(command_id: Uuid, records: &[RawRecord]) -> Result<AppendOutcome, StoreError> {
    let (Some(first), Some(last)) = (records.first(), records.last()) else {
        return Err(StoreError::Backend(format!("command {command_id} indexed without events")));
    };
    let mut streams: Vec<(StreamId, u64)> = Vec::new();
    let mut recorded_at = Timestamp::default();
    for record in records {
        let (env, _) = codec::decode_envelope(record)?;
        recorded_at = env.recorded_at;
        match streams.iter_mut().find(|(s, _)| *s == env.stream) {
            Some(entry) => entry.1 = env.version,
            None => streams.push((env.stream, env.version)),
        }
    }
    Ok(AppendOutcome {
        command_id,
        first_position: first.position,
        last_position: last.position,
        streams,
        recorded_at,
        duplicate: true,
    })
}

/// Checks backup records that are to follow `tail`: consecutive positions, each hash
/// chained to the one before, payloads that decode, stream versions that follow the
/// streams' current ones. Returns their envelopes and the tail after them.
pub(crate) fn check_restore(
    records: &[RawRecord],
    tail: Tail,
    mut version_of: impl FnMut(StreamId) -> Option<u64>,
) -> Result<(Vec<Envelope>, Tail), StoreError> {
    let mut tail = tail;
    let mut next_versions: HashMap<StreamId, u64> = HashMap::new();
    let mut envelopes = Vec::with_capacity(records.len());
    for record in records {
        let corrupt = |reason: String| StoreError::Corrupt { position: record.position, reason };
        if record.position != tail.head + 1 {
            return Err(corrupt(format!("expected position {}, the backup has {}", tail.head + 1, record.position)));
        }
        let (hash, body) = codec::split_record(record)?;
        if codec::chain_hash(&tail.last_hash, record.position, body) != hash {
            return Err(corrupt("hash does not chain to the record before".into()));
        }
        let (env, payload) = codec::decode_envelope(record)?;
        codec::decode_payload(env.type_code, env.schema_version, payload).map_err(corrupt)?;
        let next = *next_versions.entry(env.stream).or_insert_with(|| version_of(env.stream).map_or(0, |v| v + 1));
        if env.version != next {
            return Err(corrupt(format!("{} version {} does not follow {}", env.stream, env.version, next)));
        }
        next_versions.insert(env.stream, next + 1);
        tail = Tail {
            head: record.position,
            last_hash: hash,
            last_recorded_at: tail.last_recorded_at.max(env.recorded_at),
        };
        envelopes.push(env);
    }
    Ok((envelopes, tail))
}

/// What a backend's writer is asked to do; each job carries the channel of its answer.
pub(crate) enum Job {
    Append(Vec<AppendRequest>, oneshot::Sender<Vec<Result<AppendOutcome, StoreError>>>),
    Restore(Vec<RawRecord>, oneshot::Sender<Result<(), StoreError>>),
    /// Makes everything written so far durable (on sled, the side trees' inserts; a
    /// PostgreSQL statement is durable once it returns).
    Sync(oneshot::Sender<Result<(), StoreError>>),
}

impl Job {
    /// Answers the job with `error` without doing it.
    pub fn refuse(self, error: &StoreError) {
        match self {
            Job::Append(requests, tx) => drop(tx.send(vec![Err(error.clone()); requests.len()])),
            Job::Restore(_, tx) | Job::Sync(tx) => drop(tx.send(Err(error.clone()))),
        }
    }
}

/// A backend's way to its writer: [`JobQueue::submit`] hands over a job and waits for
/// its answer; the requests every backend makes of its writer are written once, here.
pub(crate) trait JobQueue {
    async fn submit<T: Send>(&self, job: impl FnOnce(oneshot::Sender<T>) -> Job + Send) -> Result<T, StoreError>;

    /// See [`crate::EventStore::append_batch`].
    async fn append_through_writer(&self, requests: Vec<AppendRequest>) -> Vec<Result<AppendOutcome, StoreError>>
    where
        Self: Sync,
    {
        let count = requests.len();
        if count == 0 {
            return Vec::new(); // nothing to commit: no writer turn, no fsync
        }
        self.submit(|tx| Job::Append(requests, tx)).await.unwrap_or_else(|e| vec![Err(e); count])
    }

    /// See [`crate::EventStore::restore_raw`].
    async fn restore_through_writer(&self, records: Vec<RawRecord>) -> Result<(), StoreError>
    where
        Self: Sync,
    {
        self.submit(|tx| Job::Restore(records, tx)).await?
    }
}

/// The answer a writer owes a job of its group, sent once the group's fate is known.
pub(crate) enum Reply {
    Append(oneshot::Sender<Vec<Result<AppendOutcome, StoreError>>>, Vec<Result<AppendOutcome, StoreError>>),
    Unit(oneshot::Sender<Result<(), StoreError>>, Result<(), StoreError>),
}

/// Sends every reply of a group: as staged when the group was made durable, else
/// (`failed`) with every staged success turned into that failure, since nothing of the
/// group may be taken as acknowledged.
pub(crate) fn answer(replies: Vec<Reply>, failed: Option<&StoreError>) {
    for mut reply in replies {
        if let Some(e) = failed {
            match &mut reply {
                Reply::Append(_, results) => results.iter_mut().filter(|r| r.is_ok()).for_each(|r| *r = Err(e.clone())),
                Reply::Unit(_, r @ Ok(_)) => *r = Err(e.clone()),
                Reply::Unit(_, Err(_)) => {}
            }
        }
        match reply {
            Reply::Append(tx, r) => drop(tx.send(r)),
            Reply::Unit(tx, r) => drop(tx.send(r)),
        }
    }
}
