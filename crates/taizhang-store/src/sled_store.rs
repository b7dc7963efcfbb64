//! The embedded backend: the log in one sled tree as pages of records, with the stream
//! index in memory and the command index beside the pages.
//!
//! Layout of the `events` tree:
//! - `e` + first position (8 bytes, big-endian) → a page: the records of consecutive
//!   positions, each prefixed by its length (LEB128). A page is written once, by the
//!   group commit that filled it, and never rewritten; it holds at most
//!   [`PAGE_BYTES`] of records.
//! - `c` + command id (16 bytes) → first and last position of the command's events.
//!
//! Why pages: sled costs about 12 µs and 150 bytes of disk per key on this machine kind
//! (measured with sled alone), more than a whole event. One key per group commit instead of one per
//! event is what lets bulk appends and scans run at the speed of the bytes.
//!
//! Why the stream index is in memory: an index key per event would cost as much again.
//! The index (stream → positions, whose order gives the versions) is rebuilt from the
//! envelopes when the store opens, and kept by the writer after that.
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
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use smallvec::SmallVec;
use taizhang_core::interner::Interner;
use taizhang_core::{StreamId, Timestamp};
use tokio::sync::{oneshot, watch, RwLock, RwLockReadGuard};
use uuid::Uuid;

use crate::codec::{self, GENESIS_HASH};
use crate::key_slots::KeySlots;
use crate::keys::WrappedKey;
use crate::staging::{check_restore, outcome_of, Encoded, Tail};
use crate::{
    AppendOutcome, AppendRequest, EventStore, Position, RawRecord, RecordedEvent, StoreError, StoreHealth, STALL_AFTER,
};

const PAGE: u8 = b'e';
const COMMAND: u8 = b'c';

/// The most bytes of records in one page (a single larger record gets a page of its
/// own). sled splits a leaf at 17 entries and writes any item over 128 KiB (a quarter
/// segment) as a separate blob file, which it never fsyncs; 17 pages of 4 KiB stay
/// well under that. [`Writer::sync_blobs`] covers the rare blob anyway.
const PAGE_BYTES: usize = 4096;

/// sled's node cache.
const SLED_CACHE_BYTES: u64 = 64 << 20;

/// The most appends one group commit takes; bounds the latency of the first in line.
const MAX_GROUP: usize = 4096;

/// While many callers append at once, the writer holds a group open for this long at
/// most, or until it has [`GATHER_JOBS`] jobs (see [`Pace`]).
const GATHER: Duration = Duration::from_millis(1);
const GATHER_JOBS: usize = 8;
/// The span over which [`Pace`] looks at how jobs arrive.
const PACE_WINDOW: Duration = Duration::from_millis(10);

fn page_key(first: Position) -> [u8; 9] {
    let mut k = [PAGE; 9];
    k[1..].copy_from_slice(&first.to_be_bytes());
    k
}

fn command_key(id: Uuid) -> [u8; 17] {
    let mut k = [COMMAND; 17];
    k[1..].copy_from_slice(id.as_bytes());
    k
}

fn be_u64(bytes: &[u8]) -> u64 {
    u64::from_be_bytes(bytes.try_into().expect("8-byte key part"))
}

/// The member keys' file in the data directory, beside `log`.
pub const KEY_FILE: &str = "member-keys";

/// Where earlier versions kept the member keys: a sled tree of the log's database.
const OLD_KEY_TREE: &str = "member_keys";

/// Moves the keys of a store from before [`KEY_FILE`] into it, then drops the tree. The
/// tree's old bytes stay in sled's segments until sled rewrites them; a store that must
/// forget members erased before the move is copied with `backup` and `restore`.
fn move_keys_out_of_sled(db: &sled::Db, slots: &KeySlots) -> Result<(), StoreError> {
    if !db.tree_names().iter().any(|name| name.as_ref() == OLD_KEY_TREE.as_bytes()) {
        return Ok(());
    }
    let tree = db.open_tree(OLD_KEY_TREE).map_err(backend)?;
    let entries: Vec<_> = uuid_entries(&tree)?
        .into_iter()
        .map(|(id, wrapped)| (taizhang_core::MemberId(id), (!wrapped.is_empty()).then_some(wrapped)))
        .collect();
    slots.set(&entries)?;
    drop(tree);
    db.drop_tree(OLD_KEY_TREE).map_err(backend)?;
    db.flush().map_err(backend)?;
    Ok(())
}

pub(crate) fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// Every entry of a side tree keyed by a UUID (member keys, tokens), in key order.
pub(crate) fn uuid_entries(tree: &sled::Tree) -> Result<Vec<(uuid::Uuid, Vec<u8>)>, StoreError> {
    tree.iter()
        .map(|entry| {
            let (k, v) = entry.map_err(backend)?;
            Ok((uuid::Uuid::from_slice(&k).map_err(backend)?, v.to_vec()))
        })
        .collect()
}

/// Page format byte: records (length-prefixed) compressed as one LZ4 block. Records of
/// one page share command ids, timestamps, id prefixes and place names, and LZ4 costs
/// about a microsecond per page to undo.
const PAGE_LZ4: u8 = 1;

/// No page decompresses to more than this; a larger claim is damage, not data.
const MAX_PAGE_BYTES: usize = 16 << 20;

/// Encodes consecutive records as one page value.
fn encode_page(records: &[RawRecord]) -> Vec<u8> {
    let mut plain = Vec::with_capacity(records.iter().map(|r| r.bytes.len() + 3).sum());
    for r in records {
        let mut len = r.bytes.len();
        while len >= 0x80 {
            plain.push((len as u8) | 0x80);
            len >>= 7;
        }
        plain.push(len as u8);
        plain.extend_from_slice(&r.bytes);
    }
    let mut page = vec![PAGE_LZ4];
    page.extend_from_slice(&lz4_flex::block::compress_prepend_size(&plain));
    page
}

/// Calls `visit` with the position and bytes of each record of a page whose first
/// position is `first`, until it returns `false`.
fn visit_page(
    first: Position,
    page: &[u8],
    visit: impl FnMut(Position, &[u8]) -> Result<bool, StoreError>,
) -> Result<(), StoreError> {
    visit_plain(first, &decompress_page(first, page)?, visit)
}

/// A page's records, length-prefixed, as they were before compression.
fn decompress_page(first: Position, page: &[u8]) -> Result<Vec<u8>, StoreError> {
    let damaged = |reason: &str| StoreError::Corrupt { position: first, reason: format!("page: {reason}") };
    match page.split_first() {
        Some((&PAGE_LZ4, block)) => {
            let claimed =
                block.get(..4).map_or(usize::MAX, |b| u32::from_le_bytes(b.try_into().expect("4 bytes")) as usize);
            if claimed > MAX_PAGE_BYTES {
                return Err(damaged("implausible size"));
            }
            lz4_flex::block::decompress_size_prepended(block).map_err(|e| damaged(&e.to_string()))
        }
        _ => Err(damaged("unknown page format")),
    }
}

/// [`visit_page`] on a page already decompressed.
fn visit_plain(
    first: Position,
    plain: &[u8],
    mut visit: impl FnMut(Position, &[u8]) -> Result<bool, StoreError>,
) -> Result<(), StoreError> {
    let mut rest = plain;
    let mut position = first;
    while !rest.is_empty() {
        let corrupt = || StoreError::Corrupt { position, reason: "page is truncated".into() };
        let (mut len, mut shift, mut used) = (0usize, 0, 0);
        loop {
            let byte = *rest.get(used).ok_or_else(corrupt)?;
            len |= ((byte & 0x7f) as usize) << shift;
            used += 1;
            shift += 7;
            if byte & 0x80 == 0 || shift > 28 {
                break;
            }
        }
        let bytes = rest.get(used..used + len).ok_or_else(corrupt)?;
        if !visit(position, bytes)? {
            break;
        }
        rest = &rest[used + len..];
        position += 1;
    }
    Ok(())
}

/// A page decompressed: positions `first..first + count`.
struct PlainPage {
    first: Position,
    count: u64,
    plain: Vec<u8>,
}

impl PlainPage {
    fn holds(&self, position: Position) -> bool {
        (self.first..self.first + self.count).contains(&position)
    }
}

/// The records of a page whose first position is `first`.
#[cfg(test)]
fn decode_page(first: Position, page: &[u8]) -> Result<Vec<RawRecord>, StoreError> {
    let mut out = Vec::new();
    visit_page(first, page, |position, bytes| {
        out.push(RawRecord { position, bytes: bytes.to_vec() });
        Ok(true)
    })?;
    Ok(out)
}

/// Stream → positions of its events; the index of a position in the list is its version.
/// Streams are numbered (each id kept once, a 4-byte table slot each) and their lists
/// kept in a dense vector by number; most streams (outings, units) hold one to three
/// events, whose positions live inside the list with no allocation of their own. At
/// 10 M events (2.7 M streams) that is about 21 bytes per event by the types' sizes,
/// where a hash map of id → list took about 30.
#[derive(Default)]
struct StreamIndex {
    streams: Interner<StreamId>,
    positions: Vec<SmallVec<[Position; 2]>>,
}

impl StreamIndex {
    /// The positions of a stream's events, oldest first.
    fn positions(&self, stream: StreamId) -> &[Position] {
        self.streams.number(&stream).map_or(&[], |n| &self.positions[n as usize])
    }

    /// A stream's last version (`None`: no events).
    fn last_version(&self, stream: StreamId) -> Option<u64> {
        (self.positions(stream).len() as u64).checked_sub(1)
    }

    /// Adds the next event of `stream`; returns its version.
    fn push(&mut self, stream: StreamId, position: Position) -> u64 {
        let n = self.streams.intern(&stream) as usize;
        if n == self.positions.len() {
            self.positions.push(SmallVec::new());
        }
        let list = &mut self.positions[n];
        // Grown one slot at a time (the allocator reallocates in place within its size
        // class): doubling would leave a member's calendar of 19 events in 32 slots,
        // and there are hundreds of thousands of them.
        list.reserve_exact(1);
        list.push(position);
        list.len() as u64 - 1
    }
}

enum Job {
    Append(Vec<AppendRequest>, oneshot::Sender<Vec<Result<AppendOutcome, StoreError>>>),
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
    /// The page the last single-event read decompressed. Reads of a stream's events go
    /// one position at a time, and neighbouring positions share a page (members
    /// registered one after another, read back by an import's rehearsal): they find
    /// their record here instead of searching sled backwards for the page and
    /// decompressing it again. Pages are never rewritten, so it is never stale.
    last_page: std::sync::Mutex<Option<Arc<PlainPage>>>,
    /// The stream index; its lock is also the gate to sled (see [`SledStore::gate`]).
    /// An async lock: a reader that finds the writer inside waits as a task, and the
    /// runtime thread goes on serving other requests.
    index: Arc<RwLock<StreamIndex>>,
    jobs: mpsc::Sender<Job>,
    /// Jobs sent and not yet taken by the writer, and the writer's thread, which a
    /// sender wakes when a group it holds open is full (see [`Pace`]).
    waiting: Arc<AtomicUsize>,
    writer_thread: std::thread::Thread,
    head: watch::Receiver<Position>,
    poisoned: Arc<AtomicBool>,
    /// See [`Writer::busy_since`].
    busy_since: Arc<AtomicU64>,
    writer: std::sync::Mutex<Option<JoinHandle<()>>>,
    /// The member keys, in their own file beside the log (see [`crate::key_slots`]).
    key_slots: Arc<KeySlots>,
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
    /// Opens (or creates) the store in `dir`, rebuilding the stream index from the log.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let path = dir.join("log");
        if let Some(denied) = dir.exists().then(|| crate::private::first_inaccessible(dir)).flatten() {
            return Err(StoreError::Backend(format!(
                "{} cannot be read and written by this user: the data directory and everything in it must be \
                 (run taizhang as their owner, or give them to its user)",
                denied.display()
            )));
        }
        crate::private::create_dir(&path).map_err(|e| backend(format!("creating {}: {e}", path.display())))?;
        // Our writer flushes and fsyncs at every group commit; sled's own 500 ms
        // flusher would only add writes.
        // sled caches decoded tree nodes up to 1 GiB by default. Reads here are mostly
        // sequential page scans that the OS page cache serves as well, so a smaller
        // cache keeps resident memory proportionate without slowing scans.
        let config = sled::Config::new().path(&path).flush_every_ms(None).cache_capacity(SLED_CACHE_BYTES);
        // sled releases its file lock from background threads a moment after the last
        // handle is dropped; a process that reopens right after closing (or starts as
        // another exits) waits for it briefly instead of failing.
        let mut attempts = 0;
        let mut unfinished_removed = false;
        let db = loop {
            match config.open() {
                Err(sled::Error::Corruption { .. }) if !unfinished_removed => {
                    unfinished_removed = true;
                    if remove_unfinished_snapshots(&path).map_err(backend)? == 0 {
                        return Err(StoreError::Backend(format!("{}: sled reports corrupted data", path.display())));
                    }
                }
                Err(e) if e.to_string().contains("could not acquire lock") && attempts < 40 => {
                    attempts += 1;
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                Err(e) if e.to_string().contains("could not acquire lock") => {
                    return Err(StoreError::Backend(format!(
                        "{} is in use by another process (only one process may open an embedded store)",
                        dir.display()
                    )));
                }
                other => break other.map_err(backend)?,
            }
        };
        let log = db.open_tree("events").map_err(backend)?;
        let db_file = File::open(path.join("db")).map_err(backend)?;
        let key_slots = Arc::new(KeySlots::open(&dir.join(KEY_FILE))?);
        move_keys_out_of_sled(&db, &key_slots)?;
        // The directory entries of a new database must themselves be durable.
        for d in [&path, dir] {
            File::open(d).and_then(|f| f.sync_all()).map_err(backend)?;
        }

        let mut index = StreamIndex::default();
        let (mut head, mut last_hash, mut last_recorded_at) = (0, GENESIS_HASH, Timestamp::default());
        for entry in log.scan_prefix([PAGE]) {
            let (key, value) = entry.map_err(backend)?;
            visit_page(be_u64(&key[1..]), &value, |position, bytes| {
                let (env, _) = codec::envelope_of(position, bytes)?;
                if position != head + 1 || index.push(env.stream, position) != env.version {
                    return Err(StoreError::Corrupt { position, reason: "out of sequence".into() });
                }
                head = position;
                last_hash = codec::split_bytes(position, bytes)?.0;
                last_recorded_at = env.recorded_at;
                Ok(true)
            })?;
        }
        let index = Arc::new(RwLock::new(index));
        let (head_tx, head_rx) = watch::channel(head);
        let (jobs, rx) = mpsc::channel();
        let poisoned = Arc::new(AtomicBool::new(false));
        let busy_since = Arc::new(AtomicU64::new(0));
        let waiting = Arc::new(AtomicUsize::new(0));
        let writer = Writer {
            db: db.clone(),
            log: log.clone(),
            key_slots: key_slots.clone(),
            db_file,
            tail: Tail { head, last_hash, last_recorded_at },
            index: index.clone(),
            head_tx,
            poisoned: poisoned.clone(),
            busy_since: busy_since.clone(),
            waiting: waiting.clone(),
            blobs_dir: path.join("blobs"),
            synced_blobs: Default::default(),
        };
        let handle = std::thread::Builder::new()
            .name("taizhang-sled-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(backend)?;
        Ok(Self {
            inner: Arc::new(Inner {
                db,
                log,
                last_page: Default::default(),
                index,
                jobs,
                waiting,
                writer_thread: handle.thread().clone(),
                head: head_rx,
                poisoned,
                busy_since,
                writer: std::sync::Mutex::new(Some(handle)),
                key_slots,
            }),
        })
    }

    /// The event at `position`, read through the last page cache.
    fn read_one(&self, position: Position) -> Result<RecordedEvent, StoreError> {
        let page = self.page_holding(position)?;
        let mut found = None;
        visit_plain(page.first, &page.plain, |at, bytes| {
            if at == position {
                found = Some(codec::decode_bytes(at, bytes)?);
            }
            Ok(at < position)
        })?;
        found.ok_or_else(|| StoreError::Corrupt { position, reason: "indexed record is missing".into() })
    }

    fn page_holding(&self, position: Position) -> Result<Arc<PlainPage>, StoreError> {
        let cached = self.inner.last_page.lock().expect("page cache lock").clone();
        if let Some(page) = cached.filter(|page| page.holds(position)) {
            return Ok(page);
        }
        let missing = || StoreError::Corrupt { position, reason: "indexed record is missing".into() };
        let (first, value) = page_at_or_before(&self.inner.log, position)?.ok_or_else(missing)?;
        let plain = decompress_page(first, &value)?;
        let mut count = 0;
        visit_plain(first, &plain, |_, _| {
            count += 1;
            Ok(true)
        })?;
        let page = Arc::new(PlainPage { first, count, plain });
        *self.inner.last_page.lock().expect("page cache lock") = Some(page.clone());
        Ok(page)
    }

    /// Waits until the writer is not changing sled, and keeps it out while the guard
    /// lives. Every async use of the store's sled trees (reads, and the key and token
    /// stores' inserts) goes through here: sled's `apply_batch` shuts out every user of
    /// every tree in the process while it runs (a process-wide lock), and a task
    /// blocked there blocks its runtime thread and every task queued behind it. In the
    /// server, reads of the read model, which never touch sled, waited behind
    /// mutations that did. Hold it only across synchronous sled work, never across an
    /// await of the writer ([`SledStore::sync`]).
    pub(crate) async fn gate(&self) -> Gate<'_> {
        Gate { index: self.inner.index.read().await }
    }

    /// The sled database, for the token store that lives beside the log.
    pub(crate) fn db(&self) -> &sled::Db {
        &self.inner.db
    }

    /// The member keys' file, for the key store.
    pub(crate) fn key_slots(&self) -> &KeySlots {
        &self.inner.key_slots
    }

    /// Makes everything written so far durable (flush and fsync).
    pub async fn sync(&self) -> Result<(), StoreError> {
        self.submit(Job::Sync).await?
    }

    /// Whether the store can take writes: not after a failed write, nor while a
    /// durable write has been under way for [`STALL_AFTER`] or longer.
    pub fn health(&self) -> StoreHealth {
        if self.inner.poisoned.load(Ordering::Acquire) {
            return StoreHealth::Poisoned;
        }
        let since = self.inner.busy_since.load(Ordering::Acquire);
        let busy = Duration::from_micros(now_micros().saturating_sub(since));
        if since != 0 && busy >= STALL_AFTER {
            return StoreHealth::Stalled { seconds: busy.as_secs() };
        }
        StoreHealth::Ok
    }

    async fn submit<T>(&self, job: impl FnOnce(oneshot::Sender<T>) -> Job) -> Result<T, StoreError> {
        match self.health() {
            StoreHealth::Ok => {}
            StoreHealth::Poisoned => return Err(StoreError::Poisoned),
            StoreHealth::Stalled { seconds } => return Err(StoreError::Stalled { seconds }),
        }
        let (tx, rx) = oneshot::channel();
        // Counted before it is sent, so that the writer never takes a job it has not
        // counted.
        if self.inner.waiting.fetch_add(1, Ordering::AcqRel) + 1 == GATHER_JOBS {
            self.inner.writer_thread.unpark();
        }
        self.inner.jobs.send(job(tx)).map_err(|_| StoreError::Poisoned)?;
        rx.await.map_err(|_| StoreError::Poisoned)
    }

    /// The durable positions of a stream's events from `from_version` on.
    fn stream_positions(
        &self,
        index: &StreamIndex,
        stream: StreamId,
        from_version: u64,
        limit: usize,
    ) -> Vec<Position> {
        let head = self.head();
        let positions = index.positions(stream);
        let from = usize::try_from(from_version).unwrap_or(usize::MAX).min(positions.len());
        positions[from..].iter().copied().take_while(|p| *p <= head).take(limit).collect()
    }
}

impl EventStore for SledStore {
    async fn append_batch(&self, requests: Vec<AppendRequest>) -> Vec<Result<AppendOutcome, StoreError>> {
        let count = requests.len();
        if count == 0 {
            return Vec::new(); // nothing to commit: no writer turn, no fsync
        }
        self.submit(|tx| Job::Append(requests, tx)).await.unwrap_or_else(|e| vec![Err(e); count])
    }

    async fn command_outcome(&self, command_id: Uuid) -> Result<Option<AppendOutcome>, StoreError> {
        let pages = {
            let _gate = self.gate().await;
            let Some(span) = self.inner.log.get(command_key(command_id)).map_err(backend)? else { return Ok(None) };
            let (first, last) = (be_u64(&span[..8]), be_u64(&span[8..]));
            if last > self.head() {
                return Ok(None);
            }
            PagesRead::of(&self.inner.log, first, last, usize::MAX)?
        };
        Ok(Some(outcome_of(command_id, &pages.records()?)?))
    }

    async fn stream_version(&self, stream: StreamId) -> Result<Option<u64>, StoreError> {
        let gate = self.gate().await;
        Ok((self.stream_positions(gate.index(), stream, 0, usize::MAX).len() as u64).checked_sub(1))
    }

    async fn read_stream(
        &self,
        stream: StreamId,
        from_version: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let gate = self.gate().await;
        let positions = self.stream_positions(gate.index(), stream, from_version, limit);
        positions.into_iter().map(|position| self.read_one(position)).collect()
    }

    async fn read_raw(&self, from: Position, limit: usize) -> Result<Vec<RawRecord>, StoreError> {
        let pages = {
            let _gate = self.gate().await;
            PagesRead::of(&self.inner.log, from.max(1), self.head(), limit)?
        };
        pages.records()
    }

    /// Decodes straight from the pages, without copying each record first.
    async fn read_all(&self, from: Position, limit: usize) -> Result<Vec<RecordedEvent>, StoreError> {
        let pages = {
            let _gate = self.gate().await;
            PagesRead::of(&self.inner.log, from.max(1), self.head(), limit)?
        };
        let mut out = Vec::new();
        pages.visit(|position, bytes| {
            out.push(codec::decode_bytes(position, bytes)?);
            Ok(())
        })?;
        Ok(out)
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

/// The last page starting at or before `position` (the one holding it, if it exists),
/// with its first position.
fn page_at_or_before(log: &sled::Tree, position: Position) -> Result<Option<(Position, sled::IVec)>, StoreError> {
    let Some(entry) = log.range(page_key(0)..=page_key(position)).next_back() else { return Ok(None) };
    let (key, page) = entry.map_err(backend)?;
    Ok(Some((be_u64(&key[1..]), page)))
}

/// Held while using sled: see [`SledStore::gate`]. It is the stream index's read
/// guard, so stream reads find their positions through it.
pub(crate) struct Gate<'a> {
    index: RwLockReadGuard<'a, StreamIndex>,
}

impl Gate<'_> {
    fn index(&self) -> &StreamIndex {
        &self.index
    }
}

/// A range read: up to `limit` records from `from` to `to` (inclusive). Taking the pages
/// from sled is separate from decompressing and visiting them, so that readers hold the
/// gate ([`SledStore::gate`]) only for the first; pages never change once written.
struct PagesRead {
    pages: Vec<(Position, sled::IVec)>,
    from: Position,
    to: Position,
    limit: usize,
}

impl PagesRead {
    /// The pages that hold the range. Page keys are first positions and every position
    /// has one record, so which pages are needed is known without opening any.
    fn of(log: &sled::Tree, from: Position, to: Position, limit: usize) -> Result<Self, StoreError> {
        let mut read = Self { pages: Vec::new(), from, to, limit };
        if from > to || limit == 0 {
            return Ok(read);
        }
        let last = to.min(from.saturating_add(u64::try_from(limit - 1).unwrap_or(u64::MAX)));
        // The page holding `from` starts at or before it.
        let start = page_at_or_before(log, from)?.map_or(from, |(first, _)| first);
        for entry in log.range(page_key(start)..=page_key(last)) {
            let (key, page) = entry.map_err(backend)?;
            read.pages.push((be_u64(&key[1..]), page));
        }
        Ok(read)
    }

    /// Calls `visit` for each record of the range in order, borrowing its bytes.
    fn visit(&self, mut visit: impl FnMut(Position, &[u8]) -> Result<(), StoreError>) -> Result<(), StoreError> {
        let mut seen = 0;
        for (first, page) in &self.pages {
            visit_page(*first, page, |position, bytes| {
                if position > self.to || seen == self.limit {
                    return Ok(false);
                }
                if position >= self.from {
                    visit(position, bytes)?;
                    seen += 1;
                }
                Ok(true)
            })?;
            if seen == self.limit {
                break;
            }
        }
        Ok(())
    }

    fn records(&self) -> Result<Vec<RawRecord>, StoreError> {
        let mut out = Vec::new();
        self.visit(|position, bytes| {
            out.push(RawRecord { position, bytes: bytes.to_vec() });
            Ok(())
        })?;
        Ok(out)
    }
}

/// The single writer: owns the head, the chain's last hash, and all changes to the
/// stream index, so that checks and writes of one group see one consistent state.
struct Writer {
    db: sled::Db,
    log: sled::Tree,
    /// The member keys' file: new members' keys are written with their registrations.
    key_slots: Arc<KeySlots>,
    db_file: File,
    tail: Tail,
    index: Arc<RwLock<StreamIndex>>,
    head_tx: watch::Sender<Position>,
    poisoned: Arc<AtomicBool>,
    /// When the group commit under way began (microseconds since the Unix epoch), 0
    /// between commits: a commit that never returns (sled waiting for a buffer write
    /// that failed) shows here as a stall.
    busy_since: Arc<AtomicU64>,
    /// See [`Inner::waiting`].
    waiting: Arc<AtomicUsize>,
    blobs_dir: std::path::PathBuf,
    synced_blobs: std::collections::HashSet<std::ffi::OsString>,
}

enum Reply {
    Append(oneshot::Sender<Vec<Result<AppendOutcome, StoreError>>>, Vec<Result<AppendOutcome, StoreError>>),
    Unit(oneshot::Sender<Result<(), StoreError>>, Result<(), StoreError>),
}

/// What one group commit stages before writing it.
#[derive(Default)]
struct Group {
    records: Vec<RawRecord>,
    /// Commands staged in this group: id → (first, last).
    commands: HashMap<Uuid, (Position, Position)>,
    /// Keys of the members the group registers.
    member_keys: Vec<WrappedKey>,
}

impl Group {
    /// Records from the group or, before it, from the log.
    fn records(&self, log: &sled::Tree, first: Position, last: Position) -> Result<Vec<RawRecord>, StoreError> {
        match self.records.first() {
            Some(start) if first >= start.position => {
                let from = (first - start.position) as usize;
                Ok(self.records[from..=(last - start.position) as usize].to_vec())
            }
            _ => PagesRead::of(log, first, last, usize::MAX)?.records(),
        }
    }
}

/// Whether the writer should hold a group open for more jobs: only while many callers
/// append at once and often.
///
/// Every commit costs about the same whatever its size: sled's `flush()` hands the
/// write of its buffer to sled's IO thread pool, which wakes all seven of its idle
/// threads for it, then the `fsync`. On a fast disk commits followed each other as fast
/// as jobs came: at 5,000 mutations a second the writer committed about 1,800 times a
/// second, under three mutations each, and the pool's threads took a third of a core
/// (`http` benchmark, BENCHMARKS.md). Holding a group open until it has
/// [`GATHER_JOBS`] jobs, for at most [`GATHER`], shares each commit among several.
///
/// A caller that waits for each answer before sending its next job would only be slowed
/// down by the hold, and so would a clerk's command after a quiet spell. So the writer
/// holds only when, over the last window, some group took more than one job (callers
/// overlap) and jobs came at least once per [`GATHER`] (the hold will not be in vain).
struct Pace {
    /// Start of the current window, and the jobs and commits in it so far.
    since: Instant,
    jobs: usize,
    commits: usize,
    /// Whether the last whole window saw overlapping, frequent jobs.
    busy: bool,
}

impl Pace {
    fn new(now: Instant) -> Self {
        Pace { since: now, jobs: 0, commits: 0, busy: false }
    }

    /// A group's first job arrived at `now`: whether to hold the group open. A window
    /// that ends here counts the quiet time before `now` too.
    fn gathers(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.since);
        if elapsed >= PACE_WINDOW {
            let often = self.jobs as f64 * GATHER.as_secs_f64() >= elapsed.as_secs_f64();
            self.busy = often && self.jobs > self.commits;
            (self.since, self.jobs, self.commits) = (now, 0, 0);
        }
        self.busy
    }

    /// The writer commits a group of `jobs`.
    fn took(&mut self, jobs: usize) {
        self.jobs += jobs;
        self.commits += 1;
    }
}

/// Removes the snapshots sled left unfinished (`snap.<lsn>.generating`); answers how
/// many. sled 0.34 writes a snapshot to `snap.<lsn>.generating`, fsyncs it and only
/// then renames it to `snap.<lsn>`, removing older snapshots after the rename; but on
/// opening it takes the last `snap.*` file by name, `.generating` included, and a
/// partial one (a full disk, a kill) reads as corruption, so the store would never open
/// again. Such a file is never the only copy of anything: the snapshot it was to
/// become is a shortcut over the segments, which sled replays from the last finished
/// snapshot (or from the start) when there is none. Removing it gives the state sled
/// would have found had the process stopped just before creating it. Called only when
/// sled refused to open, holding no lock: so never under a process writing one.
fn remove_unfinished_snapshots(log_dir: &Path) -> std::io::Result<usize> {
    let mut removed = 0;
    for entry in std::fs::read_dir(log_dir)? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if name.starts_with("snap.") && name.ends_with(".generating") {
            std::fs::remove_file(&path)?;
            removed += 1;
        }
    }
    if removed > 0 {
        File::open(log_dir)?.sync_all()?;
    }
    Ok(removed)
}

/// Microseconds since the Unix epoch (never 0, which [`Writer::busy_since`] keeps for
/// "idle").
fn now_micros() -> u64 {
    let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    (since_epoch.as_micros() as u64).max(1)
}

impl Writer {
    fn run(mut self, rx: mpsc::Receiver<Job>) {
        let mut pace = Pace::new(Instant::now());
        while let Ok(first) = rx.recv() {
            let arrived = Instant::now();
            if pace.gathers(arrived) {
                // Parked, not waiting on the channel: a job sent to a waiting receiver
                // wakes it, every one of them, while the sender that makes the group
                // full wakes a parked writer once (`SledStore::submit`).
                let deadline = arrived + GATHER;
                while self.waiting.load(Ordering::Acquire) < GATHER_JOBS {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    std::thread::park_timeout(left);
                }
            }
            let mut jobs = vec![first];
            while jobs.len() < MAX_GROUP {
                match rx.try_recv() {
                    Ok(job) => jobs.push(job),
                    Err(_) => break,
                }
            }
            self.waiting.fetch_sub(jobs.len(), Ordering::AcqRel);
            pace.took(jobs.len());
            self.busy_since.store(now_micros(), Ordering::Release);
            self.commit_group(jobs);
        }
    }

    fn commit_group(&mut self, jobs: Vec<Job>) {
        let mut group = Group::default();
        let mut replies = Vec::with_capacity(jobs.len());
        let poisoned = self.poisoned.load(Ordering::Acquire);
        let written = {
            let index_lock = self.index.clone();
            let mut index = index_lock.blocking_write();
            for job in jobs {
                match job {
                    Job::Append(requests, tx) if poisoned => {
                        replies.push(Reply::Append(tx, vec![Err(StoreError::Poisoned); requests.len()]))
                    }
                    Job::Restore(_, tx) | Job::Sync(tx) if poisoned => {
                        replies.push(Reply::Unit(tx, Err(StoreError::Poisoned)))
                    }
                    Job::Append(requests, tx) => {
                        let results =
                            requests.into_iter().map(|r| self.stage_append(r, &mut index, &mut group)).collect();
                        replies.push(Reply::Append(tx, results));
                    }
                    Job::Restore(records, tx) => {
                        let result = self.stage_restore(records, &mut index, &mut group);
                        replies.push(Reply::Unit(tx, result));
                    }
                    Job::Sync(tx) => replies.push(Reply::Unit(tx, Ok(()))),
                }
            }
            // Into sled with the lock still held, so that async readers wait for
            // `apply_batch` on the lock instead of inside sled (see `gate`).
            (!poisoned).then(|| self.write(group))
        };
        if let Some(written) = written {
            if let Err(e) = written.and_then(|()| self.make_durable()) {
                // What reached the disk is unknown: refuse everything until a restart
                // re-reads the log, and tell every waiting writer it was not acknowledged.
                self.poisoned.store(true, Ordering::Release);
                for reply in &mut replies {
                    match reply {
                        Reply::Append(_, results) => {
                            results.iter_mut().filter(|r| r.is_ok()).for_each(|r| *r = Err(e.clone()))
                        }
                        Reply::Unit(_, r @ Ok(_)) => *r = Err(e.clone()),
                        _ => {}
                    }
                }
            } else {
                self.head_tx.send_replace(self.tail.head);
            }
        }
        // Not busy once the callers can hear: a caller's next request must not find the
        // store marked busy by the commit that answered it.
        self.busy_since.store(0, Ordering::Release);
        for reply in replies {
            match reply {
                Reply::Append(tx, r) => drop(tx.send(r)),
                Reply::Unit(tx, r) => drop(tx.send(r)),
            }
        }
    }

    /// Writes the group's pages, command index entries and member keys to sled.
    fn write(&mut self, group: Group) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        let mut rest = group.records.as_slice();
        while !rest.is_empty() {
            let mut bytes = 0;
            let len = rest.iter().take_while(|r| {
                bytes += r.bytes.len();
                bytes <= PAGE_BYTES
            });
            let len = len.count().max(1);
            batch.insert(&page_key(rest[0].position), encode_page(&rest[..len]));
            rest = &rest[len..];
        }
        for (id, (first, last)) in &group.commands {
            let mut span = [0u8; 16];
            span[..8].copy_from_slice(&first.to_be_bytes());
            span[8..].copy_from_slice(&last.to_be_bytes());
            batch.insert(&command_key(*id), &span);
        }
        // Durable before the records are written, so that after a crash no registration
        // is found without its key. A key whose registration a crash lost is never used.
        let keys: Vec<_> = group.member_keys.into_iter().map(|key| (key.member, Some(key.bytes))).collect();
        self.key_slots.set(&keys)?;
        self.log.apply_batch(batch).map_err(backend)
    }

    /// Makes everything written durable: sled's flush, then fsync (see the module doc).
    fn make_durable(&mut self) -> Result<(), StoreError> {
        self.db.flush().map_err(backend)?;
        self.db_file.sync_data().map_err(backend)?;
        self.sync_blobs()
    }

    /// sled writes items too large for its log into `blobs/`, one file each, without
    /// fsync. Pages are sized so that this should not happen; if it does, the blob is
    /// made durable here, before the commit that may depend on it is acknowledged.
    fn sync_blobs(&mut self) -> Result<(), StoreError> {
        let entries = match std::fs::read_dir(&self.blobs_dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(backend(e)),
        };
        let mut present = std::collections::HashSet::new();
        let mut new_blob = false;
        for entry in entries {
            let name = entry.map_err(backend)?.file_name();
            if !self.synced_blobs.contains(&name) {
                File::open(self.blobs_dir.join(&name)).and_then(|f| f.sync_all()).map_err(backend)?;
                new_blob = true;
            }
            present.insert(name);
        }
        if new_blob {
            File::open(&self.blobs_dir).and_then(|d| d.sync_all()).map_err(backend)?;
        }
        // sled removes blobs it no longer needs; forget those.
        self.synced_blobs = present;
        Ok(())
    }

    fn stored_command(&self, id: Uuid, group: &Group) -> Result<Option<(Position, Position)>, StoreError> {
        if let Some(span) = group.commands.get(&id) {
            return Ok(Some(*span));
        }
        Ok(self.log.get(command_key(id)).map_err(backend)?.map(|span| (be_u64(&span[..8]), be_u64(&span[8..]))))
    }

    fn stage_append(
        &mut self,
        request: AppendRequest,
        index: &mut StreamIndex,
        group: &mut Group,
    ) -> Result<AppendOutcome, StoreError> {
        let encoded = Encoded::new(request)?;
        if let Some((first, last)) = self.stored_command(encoded.request.command_id, group)? {
            return encoded.retry_outcome(&group.records(&self.log, first, last)?);
        }
        encoded.check(|stream| index.last_version(stream))?;
        let outcome =
            encoded.stage(&mut self.tail, |stream, position| index.push(stream, position), &mut group.records);
        group.commands.insert(outcome.command_id, (outcome.first_position, outcome.last_position));
        group.member_keys.extend(encoded.request.member_key);
        Ok(outcome)
    }

    /// Stages backup records after the head. Checks every record first, so a bad backup
    /// stages nothing.
    fn stage_restore(
        &mut self,
        records: Vec<RawRecord>,
        index: &mut StreamIndex,
        group: &mut Group,
    ) -> Result<(), StoreError> {
        let (envelopes, tail) = check_restore(&records, self.tail, |stream| index.last_version(stream))?;
        for (record, env) in records.into_iter().zip(envelopes) {
            index.push(env.stream, record.position);
            group
                .commands
                .entry(env.command_id)
                .and_modify(|(_, last)| *last = record.position)
                .or_insert((record.position, record.position));
            group.records.push(record);
        }
        self.tail = tail;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_round_trip_records_of_any_length() {
        let records: Vec<RawRecord> = [0usize, 1, 127, 128, 300, 20_000]
            .iter()
            .enumerate()
            .map(|(i, &n)| RawRecord { position: 10 + i as u64, bytes: vec![i as u8; n] })
            .collect();
        assert_eq!(decode_page(10, &encode_page(&records)).unwrap(), records);
        let page = encode_page(&records);
        assert!(matches!(decode_page(10, &page[..page.len() - 1]), Err(StoreError::Corrupt { position: 10, .. })));
        assert!(matches!(decode_page(10, &[9, 1, 2]), Err(StoreError::Corrupt { .. })));
    }

    /// Feeds `pace` groups of `size` jobs, one every `every`, for three windows; answers
    /// whether it holds the group after them.
    fn after_groups(pace: &mut Pace, start: Instant, size: usize, every: Duration) -> (Instant, bool) {
        let mut now = start;
        while now < start + 3 * PACE_WINDOW {
            pace.gathers(now);
            pace.took(size);
            now += every;
        }
        (now, pace.gathers(now))
    }

    #[test]
    fn the_writer_holds_groups_only_for_frequent_overlapping_callers() {
        let start = Instant::now();
        // Many callers at 5,000 jobs a second, committed one or two at a time: hold.
        let mut pace = Pace::new(start);
        let (now, holds) = after_groups(&mut pace, start, 2, Duration::from_micros(400));
        assert!(holds);
        // After a quiet spell, the next job goes straight to its commit.
        assert!(!pace.gathers(now + Duration::from_secs(1)));

        // One caller waiting for each answer, however fast: its jobs are never held.
        let mut pace = Pace::new(start);
        assert!(!after_groups(&mut pace, start, 1, Duration::from_micros(200)).1);

        // Callers that overlap now and then but send a job only every few
        // milliseconds: a hold would rarely gather anything.
        let mut pace = Pace::new(start);
        assert!(!after_groups(&mut pace, start, 2, Duration::from_millis(5)).1);
    }
}

#[cfg(test)]
mod log_tests {
    use taizhang_core::*;

    use super::*;
    use crate::chain;
    use crate::codec::Envelope;
    use crate::conformance::register;
    use taizhang_core::legacy::{OutingDetailsV1, OutingRegisteredV1};

    fn text(s: &str) -> Text {
        Text::parse("t", s).unwrap()
    }

    /// A snapshot sled left unfinished (empty, or cut short, as a full disk or a kill
    /// leaves it) does not keep the store from opening; nothing is lost.
    #[tokio::test]
    async fn an_unfinished_snapshot_does_not_keep_the_store_closed() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        for i in 0..20 {
            store.append(register(UnitId::new(), &format!("单位{i}"))).await.unwrap();
        }
        let before = store.read_raw(1, usize::MAX).await.unwrap();
        drop(store);
        drop(SledStore::open(dir.path()).unwrap()); // sled snapshots what it recovered
        let log = dir.path().join("log");
        let finished: Vec<_> = std::fs::read_dir(&log)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.starts_with("snap."))
            .collect();
        assert_eq!(finished.len(), 1, "sled wrote its snapshot: {finished:?}");
        let partial = std::fs::read(log.join(&finished[0])).unwrap();
        for unfinished in [Vec::new(), partial[..partial.len() / 2].to_vec()] {
            std::fs::write(log.join("snap.7FFFFFFFFFFFFFFF.generating"), &unfinished).unwrap();
            let store = SledStore::open(dir.path()).unwrap();
            assert_eq!(store.read_raw(1, usize::MAX).await.unwrap(), before);
            drop(store);
            assert!(!log.join("snap.7FFFFFFFFFFFFFFF.generating").exists());
        }
    }

    /// A durable write under way for [`STALL_AFTER`] makes the store stalled: healthy
    /// before, writes refused with `Stalled` (not queued behind the stuck one) after,
    /// healthy again once it returns. (The stuck write is set here by hand: a disk that
    /// stops answering cannot be made on demand.)
    #[tokio::test]
    async fn a_write_that_does_not_return_makes_the_store_stalled() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        store.append(register(UnitId::new(), "起点")).await.unwrap();
        assert_eq!(store.health(), StoreHealth::Ok);
        let busy = &store.inner.busy_since;
        busy.store(now_micros() - (STALL_AFTER.as_micros() as u64) + 1_000_000, Ordering::Release);
        assert_eq!(store.health(), StoreHealth::Ok, "a second short of the bound");
        busy.store(now_micros() - STALL_AFTER.as_micros() as u64, Ordering::Release);
        assert!(matches!(store.health(), StoreHealth::Stalled { seconds } if seconds >= STALL_AFTER.as_secs()));
        let refused = store.append(register(UnitId::new(), "卡住")).await;
        assert!(matches!(refused, Err(StoreError::Stalled { .. })), "{refused:?}");
        busy.store(0, Ordering::Release);
        assert_eq!(store.health(), StoreHealth::Ok);
        assert_eq!(store.append(register(UnitId::new(), "恢复")).await.unwrap().first_position, 2);
    }

    /// Streams read one event at a time, across many pages and groups, in an order
    /// that hops between pages and back (the last-page cache must never answer with
    /// a neighbour's record), give exactly the events the whole log holds for them;
    /// so do windows of the log read as ranges.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn stream_reads_across_pages_match_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let units: Vec<UnitId> = (0..40).map(|_| UnitId::new()).collect();
        for group in 0..3 {
            let requests = units
                .iter()
                .map(|u| match group {
                    0 => register(*u, "十堰市某某服务窗口单位"),
                    _ => crate::conformance::rename(*u, "改名", crate::ExpectedVersion::Exact(group - 1)),
                })
                .collect();
            assert!(store.append_batch(requests).await.iter().all(Result::is_ok));
        }
        let log = store.read_all(1, usize::MAX).await.unwrap();
        assert!(store.inner.log.scan_prefix([PAGE]).count() > 3, "the log spans several pages");
        for unit in units.iter().rev().chain(&units) {
            let expected: Vec<_> = log.iter().filter(|e| e.stream == StreamId::unit(*unit)).cloned().collect();
            assert_eq!(store.read_stream(StreamId::unit(*unit), 0, usize::MAX).await.unwrap(), expected);
            assert_eq!(store.read_stream(StreamId::unit(*unit), 2, 1).await.unwrap(), expected[2..]);
        }
        // Windows starting mid-page and ending in another page give exactly their slice.
        for (from, limit) in [(1, 1), (2, 7), (17, 40), (39, 1000), (log.len(), 5)] {
            let window = &log[from - 1..(from - 1 + limit).min(log.len())];
            assert_eq!(store.read_all(from as u64, limit).await.unwrap(), window);
            let raw: Vec<_> = store.read_raw(from as u64, limit).await.unwrap().iter().map(|r| r.position).collect();
            assert_eq!(raw, window.iter().map(|e| e.position).collect::<Vec<_>>());
        }
        // Every event on its own, in log order: each page boundary crossed forwards.
        for event in &log {
            assert_eq!(store.read_stream(event.stream, event.version, 1).await.unwrap(), std::slice::from_ref(event));
        }
    }

    /// Appends from many callers at once, in bursts of eight every millisecond and then
    /// a tail of stragglers: every append is acknowledged once, at its own position,
    /// with the log holding exactly what was acknowledged. The bursts overlap and come
    /// every millisecond, so the writer holds their groups open; a temporary print in
    /// the hold showed both of its ends taken (full groups waking the writer, the
    /// stragglers' groups ending at the deadline). When to hold is asserted by
    /// `the_writer_holds_groups_only_for_frequent_overlapping_callers`.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn appends_held_for_a_group_are_each_acknowledged() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let mut tasks = Vec::new();
        let mut tick = tokio::time::interval(std::time::Duration::from_millis(1));
        for burst in 0..40 {
            tick.tick().await;
            let callers = if burst < 30 { 8 } else { 3 };
            for _ in 0..callers {
                let (store, unit) = (store.clone(), UnitId::new());
                tasks.push(tokio::spawn(async move {
                    let request = register(unit, "十堰市某某服务窗口单位");
                    let command = request.command_id;
                    (unit, command, store.append(request).await.unwrap())
                }));
            }
        }
        let mut acknowledged = Vec::new();
        for task in tasks {
            let (unit, command, outcome) = task.await.unwrap();
            assert_eq!((outcome.command_id, outcome.first_position), (command, outcome.last_position));
            assert_eq!(outcome.streams, vec![(StreamId::unit(unit), 0)]);
            acknowledged.push((outcome.first_position, unit));
        }
        acknowledged.sort();
        let log = store.read_all(1, usize::MAX).await.unwrap();
        let logged: Vec<_> = log.iter().map(|e| (e.position, e.stream)).collect();
        let expected: Vec<_> = acknowledged.iter().map(|(p, u)| (*p, StreamId::unit(*u))).collect();
        assert_eq!(logged, expected);
        assert_eq!(acknowledged.last().unwrap().0, 30 * 8 + 10 * 3, "positions are dense");
    }

    /// While the writer holds the store (as it does while it applies a group to sled),
    /// each kind of read of the log waits for it, as a
    /// task: the runtime's one thread serves other tasks meanwhile, and the reads finish
    /// once the writer lets go. With a blocking lock the runtime would stall; with a
    /// read that skips the gate, sled's `apply_batch` could block the thread.
    #[test]
    fn reads_waiting_for_the_writer_leave_their_thread_free() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let unit = UnitId::new();
        let request = register(unit, "十堰市某某服务窗口单位");
        let command = request.command_id;
        runtime.block_on(store.append(request)).unwrap();

        let (done, finished) = mpsc::channel();
        std::thread::spawn(move || {
            let held = store.inner.index.blocking_write();
            runtime.block_on(async {
                let stream = tokio::spawn({
                    let store = store.clone();
                    async move { store.read_stream(StreamId::unit(unit), 0, usize::MAX).await.unwrap().len() }
                });
                let all = tokio::spawn({
                    let store = store.clone();
                    async move { store.read_all(1, usize::MAX).await.unwrap().len() }
                });
                let outcome = tokio::spawn({
                    let store = store.clone();
                    async move { store.command_outcome(command).await.unwrap().map(|o| o.last_position) }
                });
                assert_eq!(tokio::spawn(async { "another task ran" }).await.unwrap(), "another task ran");
                for read in [stream.is_finished(), all.is_finished(), outcome.is_finished()] {
                    assert!(!read, "a read went into sled while the writer held it");
                }
                drop(held);
                let (stream, all, outcome) = (stream.await.unwrap(), all.await.unwrap(), outcome.await.unwrap());
                done.send((stream, all, outcome)).unwrap();
            });
        });
        let answered = finished.recv_timeout(std::time::Duration::from_secs(30));
        assert_eq!(answered, Ok((1, 1, Some(1))), "the runtime thread stalled behind the writer");
    }

    /// A store from before the key file kept its member keys in a sled tree: at open
    /// they move into the file, tombstones included, and the tree is dropped.
    #[tokio::test]
    async fn keys_kept_in_sled_move_into_the_key_file() {
        let dir = tempfile::tempdir().unwrap();
        let (kept, erased) = (MemberId::new(), MemberId::new());
        {
            let db = sled::Config::new().path(dir.path().join("log")).open().unwrap();
            let tree = db.open_tree(OLD_KEY_TREE).unwrap();
            tree.insert(kept.0.as_bytes(), vec![5u8; 73]).unwrap();
            tree.insert(erased.0.as_bytes(), vec![]).unwrap();
            db.flush().unwrap();
        }
        let store = SledStore::open(dir.path()).unwrap();
        let keys = crate::keys::KeyStore::sled(&store).export().await.unwrap();
        let mut expected = vec![(kept, vec![5u8; 73]), (erased, vec![])];
        expected.sort();
        assert_eq!(keys, expected);
        assert!(!store.db().tree_names().iter().any(|n| n.as_ref() == OLD_KEY_TREE.as_bytes()));
    }

    /// A record in a format no longer written: `OutingRegistered` version 1, before
    /// outings counted beneficiaries. It must read back as the current version.
    #[tokio::test]
    async fn old_event_versions_are_upcast_on_read_and_their_bytes_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let (outing, unit, member) = (OutingId::new(), UnitId::new(), MemberId::new());
        let span =
            TimeRange::new("s", ClockTime::parse("t", "08:00").unwrap(), ClockTime::parse("t", "10:00").unwrap())
                .unwrap();
        let v1 = OutingRegisteredV1 {
            outing,
            unit,
            details: OutingDetailsV1 {
                date: time::macros::date!(2011 - 06 - 15),
                span,
                place: text("十堰市人民广场"),
                category: text("义诊"),
                description: None,
            },
            participants: vec![Participation { member, span, minutes: Minutes::new(120).unwrap() }],
        };
        let envelope = Envelope {
            event_id: Uuid::now_v7(),
            stream: StreamId::outing(outing),
            version: 0,
            recorded_at: Timestamp::now(),
            occurred_at: None,
            actor: Actor::OPERATOR,
            command_id: Uuid::now_v7(),
            correlation_id: None,
            causation_id: None,
            type_code: 20,
            schema_version: 1,
        };
        let (bytes, _) = codec::encode_record(&GENESIS_HASH, 1, &envelope, &postcard::to_stdvec(&v1).unwrap());
        let record = RawRecord { position: 1, bytes };
        store.restore_raw(vec![record.clone()]).await.unwrap();

        let event = store.read_stream(StreamId::outing(outing), 0, 10).await.unwrap().remove(0);
        assert_eq!(event.stored_schema_version, 1);
        match event.payload {
            DomainEvent::OutingRegistered(e) => {
                assert_eq!(e.details.beneficiaries, 0, "the upcaster fills the field v1 lacked");
                assert_eq!(e.details.place.as_str(), "十堰市人民广场");
                assert_eq!(e.participants[0].member, member);
            }
            other => panic!("expected OutingRegistered, got {other:?}"),
        }
        // The stored bytes are the v1 bytes, never rewritten, and the chain holds.
        assert_eq!(store.read_raw(1, 1).await.unwrap(), vec![record]);
        chain::verify(&store, |_| {}).await.unwrap();
    }

    /// Flip one byte of one stored record, as a disk or an intruder might: `verify`
    /// names that position and no earlier one.
    #[tokio::test]
    async fn verify_names_the_first_damaged_position() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = SledStore::open(dir.path()).unwrap();
            for i in 0..40 {
                store.append(register(UnitId::new(), &format!("单位{i}"))).await.unwrap();
            }
            assert_eq!(chain::verify(&store, |_| {}).await.unwrap().events, 40);
        }
        {
            // sled releases its file lock from background threads a moment after the
            // store's last handle is dropped: open the raw database once it has.
            let path = dir.path().join("log");
            let db = (0..200)
                .find_map(|_| match sled::open(&path) {
                    Err(e) if e.to_string().contains("could not acquire lock") => {
                        std::thread::sleep(std::time::Duration::from_millis(25));
                        None
                    }
                    opened => Some(opened.unwrap()),
                })
                .expect("sled released its lock within 5 s");
            let log = db.open_tree("events").unwrap();
            let (key, page) = log.range(page_key(0)..=page_key(27)).next_back().unwrap().unwrap();
            let first = be_u64(&key[1..]);
            let mut records = decode_page(first, &page).unwrap();
            let target = records.iter_mut().find(|r| r.position == 27).unwrap();
            let last = target.bytes.len() - 1;
            target.bytes[last] ^= 0x01; // inside the payload: still decodes, no longer chains
            log.insert(key, encode_page(&records)).unwrap();
            db.flush().unwrap();
        }
        let store = SledStore::open(dir.path()).unwrap();
        let err = chain::verify(&store, |_| {}).await.unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { position: 27, .. }), "{err:?}");
    }
}

#[cfg(test)]
mod open_tests {
    use super::*;

    #[test]
    fn a_second_opener_is_told_the_store_is_in_use() {
        let dir = tempfile::tempdir().unwrap();
        let _first = SledStore::open(dir.path()).unwrap();
        let err = SledStore::open(dir.path()).err().expect("the store is locked");
        assert!(err.to_string().contains("in use by another process"), "{err}");
    }
}
