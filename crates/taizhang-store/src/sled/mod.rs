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

use std::fs::File;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::Duration;

use taizhang_core::{StreamId, Timestamp};
use tokio::sync::{oneshot, watch, RwLock, RwLockReadGuard};
use uuid::Uuid;

use crate::codec::{self, GENESIS_HASH};
use crate::key_slots::KeySlots;
use crate::staging::{outcome_of, Job, JobQueue, Tail};
use crate::{
    AppendOutcome, AppendRequest, EventStore, Position, RawRecord, RecordedEvent, StoreError, StoreHealth, STALL_AFTER,
};

mod index;
mod pages;
mod side;
#[cfg(test)]
mod tests;
mod writer;

use index::*;
use pages::*;
use writer::*;

/// sled's node cache.
const SLED_CACHE_BYTES: u64 = 64 << 20;

/// The member keys' file in the data directory, beside `log`.
pub const KEY_FILE: &str = "member-keys";

/// The tree of the API tokens' records.
const TOKEN_TREE: &str = "tokens";

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
        .map(|(id, wrapped)| (taizhang_core::DataSubject(id), (!wrapped.is_empty()).then_some(wrapped)))
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

/// The sled event store. Cheap to clone; all clones share one writer.
#[derive(Clone)]
pub struct SledStore {
    inner: Arc<Inner>,
}

struct Inner {
    log: sled::Tree,
    /// The page the last single-event read decompressed. Reads of a stream's events go
    /// one position at a time, and neighbouring positions share a page (members
    /// registered one after another, read back by an import's rehearsal): they find
    /// their record here instead of searching sled backwards for the page and
    /// decompressing it again. Pages are never rewritten, so it is never stale.
    last_page: std::sync::Mutex<Option<Arc<PlainPage>>>,
    /// The records of the last group commits, as written (see [`RecentCommits`]).
    recent_commits: RecentCommits,
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
    tokens: Tokens,
}

/// The API tokens' records, in a tree of the log's database, and those read so far.
struct Tokens {
    tree: sled::Tree,
    cache: std::sync::RwLock<std::collections::HashMap<Uuid, Vec<u8>>>,
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
        let mut last_command = None;
        for entry in log.scan_prefix([PAGE]) {
            let (key, value) = entry.map_err(backend)?;
            visit_page(be_u64(&key[1..]), &value, |position, bytes| {
                let (env, _) = codec::envelope_of(position, bytes)?;
                if position != head + 1 || index.push(env.stream, position) != env.version {
                    return Err(StoreError::Corrupt { position, reason: "out of sequence".into() });
                }
                if last_command != Some(env.command_id) {
                    index.add_command(env.command_id, position);
                    last_command = Some(env.command_id);
                }
                head = position;
                last_hash = codec::split_bytes(position, bytes)?.0;
                last_recorded_at = env.recorded_at;
                Ok(true)
            })?;
        }
        let tokens = Tokens { tree: db.open_tree(TOKEN_TREE).map_err(backend)?, cache: Default::default() };
        let index = Arc::new(RwLock::new(index));
        let (head_tx, head_rx) = watch::channel(head);
        let (jobs, rx) = mpsc::channel();
        let poisoned = Arc::new(AtomicBool::new(false));
        let busy_since = Arc::new(AtomicU64::new(0));
        let waiting = Arc::new(AtomicUsize::new(0));
        let recent_commits = RecentCommits::default();
        let writer = Writer {
            db: db.clone(),
            log: log.clone(),
            key_slots: key_slots.clone(),
            db_file,
            tail: Tail { head, last_hash, last_recorded_at },
            last_command,
            index: index.clone(),
            head_tx,
            recent_commits: recent_commits.clone(),
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
                log,
                last_page: Default::default(),
                recent_commits,
                index,
                jobs,
                waiting,
                writer_thread: handle.thread().clone(),
                head: head_rx,
                poisoned,
                busy_since,
                writer: std::sync::Mutex::new(Some(handle)),
                key_slots,
                tokens,
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
}

impl JobQueue for SledStore {
    async fn submit<T: Send>(&self, job: impl FnOnce(oneshot::Sender<T>) -> Job + Send) -> Result<T, StoreError> {
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
}

impl SledStore {
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
        self.append_through_writer(requests).await
    }

    async fn command_outcome(&self, command_id: Uuid) -> Result<Option<AppendOutcome>, StoreError> {
        let pages = {
            let gate = self.gate().await;
            let Some(first) = gate.index().command_candidate(command_id) else { return Ok(None) };
            // A command staged but not yet durable (beyond the head) is not answered.
            let log = &self.inner.log;
            let span = command_span(command_id, first, self.head(), |from, to| {
                PagesRead::of(log, from, to, usize::MAX)?.records()
            })?;
            let Some((first, last)) = span else { return Ok(None) };
            PagesRead::of(log, first, last, usize::MAX)?
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
        if let Some(events) = self.inner.recent_commits.read(from.max(1), self.head(), limit) {
            return events;
        }
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

    fn sole_writer(&self) -> bool {
        true
    }

    async fn restore_raw(&self, records: Vec<RawRecord>) -> Result<(), StoreError> {
        self.restore_through_writer(records).await
    }
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
