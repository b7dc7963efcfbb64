//! The embedded backend: one sled database holding the log, the stream index and the
//! command index in one tree, so that each group of appends is one atomic batch.
//!
//! Keys: `e` + position → record; `s` + stream + version → position; `c` + command id →
//! the command's outcome. All integers are big-endian so keys sort numerically.
//!
//! Durability: sled 0.34's `flush()` writes its buffers and calls `sync_file_range`,
//! which does not persist the file's metadata or survive a power cut; its background
//! `fsync` runs every 500 ms. So a single writer thread applies every waiting append as
//! one batch, calls `flush()`, then `fsync`s the database file itself, and only then
//! answers the callers and moves the durable head (group commit). Readers never see
//! past the durable head.

use std::collections::HashMap;
use std::fs::File;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;

use serde::{Deserialize, Serialize};
use taizhang_core::{StreamId, Timestamp};
use tokio::sync::{oneshot, watch};
use uuid::Uuid;

use crate::codec::{self, Envelope, GENESIS_HASH};
use crate::{AppendOutcome, AppendRequest, EventStore, Position, RawRecord, RecordedEvent, StoreError};

const EVENT: u8 = b'e';
const STREAM: u8 = b's';
const COMMAND: u8 = b'c';

/// The most appends one group commit takes; bounds the latency of the first in line.
const MAX_GROUP: usize = 4096;

fn event_key(position: Position) -> [u8; 9] {
    let mut k = [EVENT; 9];
    k[1..].copy_from_slice(&position.to_be_bytes());
    k
}

fn stream_prefix(stream: StreamId) -> [u8; 18] {
    let mut k = [STREAM; 18];
    k[1..].copy_from_slice(&stream.to_bytes());
    k
}

fn stream_key(stream: StreamId, version: u64) -> [u8; 26] {
    let mut k = [0; 26];
    k[..18].copy_from_slice(&stream_prefix(stream));
    k[18..].copy_from_slice(&version.to_be_bytes());
    k
}

fn command_key(id: Uuid) -> [u8; 17] {
    let mut k = [COMMAND; 17];
    k[1..].copy_from_slice(id.as_bytes());
    k
}

fn be_u64(bytes: &[u8]) -> u64 {
    u64::from_be_bytes(bytes.try_into().expect("8-byte index entry"))
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// What the command index keeps: the outcome, and a digest of the events so that a
/// different command reusing the id is told apart from a retry.
#[derive(Serialize, Deserialize)]
struct CommandRecord {
    digest: [u8; 32],
    outcome: AppendOutcome,
}

enum Job {
    Append(AppendRequest, oneshot::Sender<Result<AppendOutcome, StoreError>>),
    Restore(Vec<RawRecord>, oneshot::Sender<Result<(), StoreError>>),
    Sync(oneshot::Sender<Result<(), StoreError>>),
}

/// The sled event store. Cheap to clone; all clones share one writer.
#[derive(Clone)]
pub struct SledStore {
    inner: Arc<Inner>,
}

struct Inner {
    db: sled::Db,
    log: sled::Tree,
    jobs: mpsc::Sender<Job>,
    head: watch::Receiver<Position>,
    poisoned: Arc<AtomicBool>,
    writer: std::sync::Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the job channel ends the writer after the work already queued.
        let (closed, _) = mpsc::channel();
        drop(std::mem::replace(&mut self.jobs, closed));
        if let Some(writer) = self.writer.lock().ok().and_then(|mut w| w.take()) {
            let _ = writer.join();
        }
    }
}

impl SledStore {
    /// Opens (or creates) the store in `dir`.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let path = dir.join("log");
        std::fs::create_dir_all(&path).map_err(backend)?;
        // Our writer flushes and fsyncs at every group commit; sled's own 500 ms
        // flusher would only add writes.
        let db = sled::Config::new().path(&path).flush_every_ms(None).open().map_err(backend)?;
        let log = db.open_tree("events").map_err(backend)?;
        let db_file = File::open(path.join("db")).map_err(backend)?;
        // The directory entries of a new database must themselves be durable.
        for d in [&path, dir] {
            File::open(d).and_then(|f| f.sync_all()).map_err(backend)?;
        }

        let (head, last_hash) = match log.scan_prefix([EVENT]).next_back() {
            None => (0, GENESIS_HASH),
            Some(entry) => {
                let (key, value) = entry.map_err(backend)?;
                let record = RawRecord { position: be_u64(&key[1..]), bytes: value.to_vec() };
                (record.position, codec::split_record(&record)?.0)
            }
        };
        let (head_tx, head_rx) = watch::channel(head);
        let (jobs, rx) = mpsc::channel();
        let poisoned = Arc::new(AtomicBool::new(false));
        let writer = Writer {
            db: db.clone(),
            log: log.clone(),
            db_file,
            head,
            last_hash,
            versions: HashMap::new(),
            head_tx,
            poisoned: poisoned.clone(),
        };
        let handle = std::thread::Builder::new()
            .name("taizhang-sled-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(backend)?;
        Ok(Self {
            inner: Arc::new(Inner {
                db,
                log,
                jobs,
                head: head_rx,
                poisoned,
                writer: std::sync::Mutex::new(Some(handle)),
            }),
        })
    }

    /// The sled database, for the key store that lives beside the log.
    pub(crate) fn db(&self) -> &sled::Db {
        &self.inner.db
    }

    /// Makes everything written so far durable (flush and fsync).
    pub async fn sync(&self) -> Result<(), StoreError> {
        self.submit(Job::Sync).await?
    }

    async fn submit<T>(&self, job: impl FnOnce(oneshot::Sender<T>) -> Job) -> Result<T, StoreError> {
        if self.inner.poisoned.load(Ordering::Acquire) {
            return Err(StoreError::Poisoned);
        }
        let (tx, rx) = oneshot::channel();
        self.inner.jobs.send(job(tx)).map_err(|_| StoreError::Poisoned)?;
        rx.await.map_err(|_| StoreError::Poisoned)
    }

    fn durable(&self, position: Position) -> bool {
        position <= *self.inner.head.borrow()
    }

    fn get_record(&self, position: Position) -> Result<RawRecord, StoreError> {
        let bytes = self
            .inner
            .log
            .get(event_key(position))
            .map_err(backend)?
            .ok_or_else(|| StoreError::Corrupt { position, reason: "indexed record is missing".into() })?;
        Ok(RawRecord { position, bytes: bytes.to_vec() })
    }
}

impl EventStore for SledStore {
    async fn append(&self, request: AppendRequest) -> Result<AppendOutcome, StoreError> {
        self.submit(|tx| Job::Append(request, tx)).await?
    }

    async fn command_outcome(&self, command_id: Uuid) -> Result<Option<AppendOutcome>, StoreError> {
        let Some(bytes) = self.inner.log.get(command_key(command_id)).map_err(backend)? else { return Ok(None) };
        let record: CommandRecord = postcard::from_bytes(&bytes).map_err(backend)?;
        Ok(self.durable(record.outcome.last_position).then_some(AppendOutcome { duplicate: true, ..record.outcome }))
    }

    async fn stream_version(&self, stream: StreamId) -> Result<Option<u64>, StoreError> {
        for entry in self.inner.log.scan_prefix(stream_prefix(stream)).rev() {
            let (key, value) = entry.map_err(backend)?;
            if self.durable(be_u64(&value)) {
                return Ok(Some(be_u64(&key[18..])));
            }
        }
        Ok(None)
    }

    async fn read_stream(
        &self,
        stream: StreamId,
        from_version: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let end = stream_key(stream, u64::MAX);
        let mut out = Vec::new();
        for entry in self.inner.log.range(stream_key(stream, from_version)..=end).take(limit) {
            let (_, value) = entry.map_err(backend)?;
            let position = be_u64(&value);
            if !self.durable(position) {
                break;
            }
            out.push(codec::decode(&self.get_record(position)?)?);
        }
        Ok(out)
    }

    async fn read_raw(&self, from: Position, limit: usize) -> Result<Vec<RawRecord>, StoreError> {
        let head = self.head();
        let from = from.max(1);
        if from > head || limit == 0 {
            return Ok(Vec::new());
        }
        self.inner
            .log
            .range(event_key(from)..=event_key(head))
            .take(limit)
            .map(|entry| {
                let (key, value) = entry.map_err(backend)?;
                Ok(RawRecord { position: be_u64(&key[1..]), bytes: value.to_vec() })
            })
            .collect()
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

/// The single writer: owns the head, the chain's last hash and the stream-version cache,
/// so none of them needs a lock.
struct Writer {
    db: sled::Db,
    log: sled::Tree,
    db_file: File,
    head: Position,
    last_hash: [u8; 32],
    /// Last version of every stream touched since start; filled from the index on a miss.
    versions: HashMap<StreamId, Option<u64>>,
    head_tx: watch::Sender<Position>,
    poisoned: Arc<AtomicBool>,
}

enum Reply {
    Append(oneshot::Sender<Result<AppendOutcome, StoreError>>, Result<AppendOutcome, StoreError>),
    Unit(oneshot::Sender<Result<(), StoreError>>, Result<(), StoreError>),
}

/// The appends staged in the current group, by command id, for retries that arrive in
/// the same group as their first attempt.
type GroupCommands = HashMap<Uuid, CommandRecord>;

impl Writer {
    fn run(mut self, rx: mpsc::Receiver<Job>) {
        while let Ok(first) = rx.recv() {
            let mut jobs = vec![first];
            while jobs.len() < MAX_GROUP {
                match rx.try_recv() {
                    Ok(job) => jobs.push(job),
                    Err(_) => break,
                }
            }
            self.commit_group(jobs);
        }
    }

    fn commit_group(&mut self, jobs: Vec<Job>) {
        let mut batch = sled::Batch::default();
        let mut group = GroupCommands::new();
        let mut replies = Vec::with_capacity(jobs.len());
        let poisoned = self.poisoned.load(Ordering::Acquire);
        for job in jobs {
            match job {
                Job::Append(_, tx) if poisoned => replies.push(Reply::Append(tx, Err(StoreError::Poisoned))),
                Job::Restore(_, tx) | Job::Sync(tx) if poisoned => {
                    replies.push(Reply::Unit(tx, Err(StoreError::Poisoned)))
                }
                Job::Append(request, tx) => {
                    let result = self.stage_append(request, &mut batch, &mut group);
                    replies.push(Reply::Append(tx, result));
                }
                Job::Restore(records, tx) => {
                    let result = self.stage_restore(records, &mut batch);
                    replies.push(Reply::Unit(tx, result));
                }
                Job::Sync(tx) => replies.push(Reply::Unit(tx, Ok(()))),
            }
        }
        if !poisoned {
            if let Err(e) = self.make_durable(batch) {
                // What reached the disk is unknown: refuse everything until a restart
                // re-reads the log, and tell every waiting writer it was not acknowledged.
                self.poisoned.store(true, Ordering::Release);
                for reply in &mut replies {
                    match reply {
                        Reply::Append(_, r @ Ok(_)) => *r = Err(e.clone()),
                        Reply::Unit(_, r @ Ok(_)) => *r = Err(e.clone()),
                        _ => {}
                    }
                }
            } else {
                self.head_tx.send_replace(self.head);
            }
        }
        for reply in replies {
            match reply {
                Reply::Append(tx, r) => drop(tx.send(r)),
                Reply::Unit(tx, r) => drop(tx.send(r)),
            }
        }
    }

    fn make_durable(&self, batch: sled::Batch) -> Result<(), StoreError> {
        self.log.apply_batch(batch).map_err(backend)?;
        self.db.flush().map_err(backend)?;
        self.db_file.sync_data().map_err(backend)
    }

    fn version(&mut self, stream: StreamId) -> Result<Option<u64>, StoreError> {
        if let Some(v) = self.versions.get(&stream) {
            return Ok(*v);
        }
        let v = match self.log.scan_prefix(stream_prefix(stream)).next_back() {
            Some(entry) => Some(be_u64(&entry.map_err(backend)?.0[18..])),
            None => None,
        };
        self.versions.insert(stream, v);
        Ok(v)
    }

    fn stage_append(
        &mut self,
        request: AppendRequest,
        batch: &mut sled::Batch,
        group: &mut GroupCommands,
    ) -> Result<AppendOutcome, StoreError> {
        if request.events.is_empty() {
            return Err(StoreError::InvalidRequest("an append needs at least one event".into()));
        }
        let payloads: Vec<Vec<u8>> = request.events.iter().map(|e| codec::encode_payload(&e.payload)).collect();
        let digest = codec::command_digest(request.events.iter().zip(&payloads).map(|(e, p)| {
            (e.payload.stream(), e.payload.type_code(), e.payload.schema_version(), p.as_slice(), e.occurred_at)
        }));

        let earlier = match group.get(&request.command_id) {
            Some(r) => Some((r.digest, r.outcome.clone())),
            None => match self.log.get(command_key(request.command_id)).map_err(backend)? {
                Some(bytes) => {
                    let r: CommandRecord = postcard::from_bytes(&bytes).map_err(backend)?;
                    Some((r.digest, r.outcome))
                }
                None => None,
            },
        };
        if let Some((earlier_digest, outcome)) = earlier {
            return if earlier_digest == digest {
                Ok(AppendOutcome { duplicate: true, ..outcome })
            } else {
                Err(StoreError::CommandIdReused(request.command_id))
            };
        }

        for &(stream, expected) in &request.expectations {
            let actual = self.version(stream)?;
            if !expected.admits(actual) {
                return Err(StoreError::Conflict { stream, expected, actual });
            }
        }

        // Every check passed: from here on the append is staged and cannot fail.
        let recorded_at = Timestamp::now();
        let first_position = self.head + 1;
        let mut streams: Vec<(StreamId, u64)> = Vec::new();
        for (event, payload) in request.events.iter().zip(&payloads) {
            let stream = event.payload.stream();
            let version = self.version(stream)?.map_or(0, |v| v + 1);
            let position = self.head + 1;
            let envelope = Envelope {
                event_id: Uuid::now_v7(),
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
            let (bytes, hash) = codec::encode_record(&self.last_hash, position, &envelope, payload);
            batch.insert(&event_key(position), bytes);
            batch.insert(&stream_key(stream, version), &position.to_be_bytes());
            self.versions.insert(stream, Some(version));
            self.head = position;
            self.last_hash = hash;
            match streams.iter_mut().find(|(s, _)| *s == stream) {
                Some(entry) => entry.1 = version,
                None => streams.push((stream, version)),
            }
        }
        let outcome = AppendOutcome {
            command_id: request.command_id,
            first_position,
            last_position: self.head,
            streams,
            recorded_at,
            duplicate: false,
        };
        let record = CommandRecord { digest, outcome: outcome.clone() };
        batch.insert(&command_key(request.command_id), postcard::to_stdvec(&record).map_err(backend)?);
        group.insert(request.command_id, record);
        Ok(outcome)
    }

    /// Stages backup records after the head. Checks everything first, so a bad backup
    /// stages nothing.
    fn stage_restore(&mut self, records: Vec<RawRecord>, batch: &mut sled::Batch) -> Result<(), StoreError> {
        let mut head = self.head;
        let mut last_hash = self.last_hash;
        let mut versions: HashMap<StreamId, Option<u64>> = HashMap::new();
        let mut staged = sled::Batch::default();
        // Consecutive records of one command form one command-index entry.
        let mut commands: Vec<(Uuid, [u8; 32], AppendOutcome)> = Vec::new();
        let mut command_events: Vec<(StreamId, u16, u16, Vec<u8>, Option<Timestamp>)> = Vec::new();
        for record in &records {
            let corrupt = |reason: String| StoreError::Corrupt { position: record.position, reason };
            if record.position != head + 1 {
                return Err(corrupt(format!("expected position {}, the backup has {}", head + 1, record.position)));
            }
            let (hash, body) = codec::split_record(record)?;
            if codec::chain_hash(&last_hash, record.position, body) != hash {
                return Err(corrupt("hash does not chain to the record before".into()));
            }
            let (env, payload) = codec::decode_envelope(record)?;
            codec::decode_payload(env.type_code, env.schema_version, payload).map_err(corrupt)?;
            let current = match versions.get(&env.stream) {
                Some(v) => *v,
                None => self.version(env.stream)?,
            };
            if env.version != current.map_or(0, |v| v + 1) {
                return Err(corrupt(format!("{} version {} does not follow {current:?}", env.stream, env.version)));
            }
            versions.insert(env.stream, Some(env.version));
            staged.insert(&event_key(record.position), record.bytes.as_slice());
            staged.insert(&stream_key(env.stream, env.version), &record.position.to_be_bytes());

            let continues = commands.last().is_some_and(|(id, _, _)| *id == env.command_id);
            if !continues {
                if let Some(last) = commands.last_mut() {
                    last.1 = digest_of(&command_events);
                }
                command_events.clear();
                commands.push((
                    env.command_id,
                    [0; 32],
                    AppendOutcome {
                        command_id: env.command_id,
                        first_position: record.position,
                        last_position: record.position,
                        streams: Vec::new(),
                        recorded_at: env.recorded_at,
                        duplicate: false,
                    },
                ));
            }
            let outcome = &mut commands.last_mut().expect("pushed above").2;
            outcome.last_position = record.position;
            match outcome.streams.iter_mut().find(|(s, _)| *s == env.stream) {
                Some(entry) => entry.1 = env.version,
                None => outcome.streams.push((env.stream, env.version)),
            }
            command_events.push((env.stream, env.type_code, env.schema_version, payload.to_vec(), env.occurred_at));
            head = record.position;
            last_hash = hash;
        }
        if let Some(last) = commands.last_mut() {
            last.1 = digest_of(&command_events);
        }
        for (id, digest, outcome) in commands {
            staged.insert(&command_key(id), postcard::to_stdvec(&CommandRecord { digest, outcome }).map_err(backend)?);
        }
        // sled batches cannot be merged, so a restore is committed in a group of its own
        // making: apply what earlier jobs staged, then ours.
        let earlier = std::mem::take(batch);
        self.log.apply_batch(earlier).map_err(backend)?;
        *batch = staged;
        self.versions.extend(versions);
        self.head = head;
        self.last_hash = last_hash;
        Ok(())
    }
}

fn digest_of(events: &[(StreamId, u16, u16, Vec<u8>, Option<Timestamp>)]) -> [u8; 32] {
    codec::command_digest(events.iter().map(|(s, c, v, p, o)| (*s, *c, *v, p.as_slice(), *o)))
}
