//! The writer thread: every waiting append applied as one batch, flushed and fsynced
//! before anyone is answered (group commit), paced to gather a busy moment's appends.

use crate::key_slots::KeySlots;
use crate::keys::WrappedKey;
use crate::staging::{answer, check_restore, Encoded, Reply, Tail};
use crate::{AppendOutcome, AppendRequest, Position, RawRecord, StoreError};
use std::fs::File;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};
use tokio::sync::{watch, RwLock};
use uuid::Uuid;

use super::*;

/// The most appends one group commit takes; bounds the latency of the first in line.
pub(super) const MAX_GROUP: usize = 4096;

/// While many callers append at once, the writer holds a group open for this long at
/// most, or until it has [`GATHER_JOBS`] jobs (see [`Pace`]).
pub(super) const GATHER: Duration = Duration::from_millis(4);
pub(super) const GATHER_JOBS: usize = 32;
/// The span over which [`Pace`] looks at how jobs arrive.
pub(super) const PACE_WINDOW: Duration = Duration::from_millis(20);

/// The single writer: owns the head, the chain's last hash, and all changes to the
/// stream index, so that checks and writes of one group see one consistent state.
pub(super) struct Writer {
    pub(super) db: sled::Db,
    pub(super) log: sled::Tree,
    /// The member keys' file: new members' keys are written with their registrations.
    pub(super) key_slots: Arc<KeySlots>,
    pub(super) db_file: File,
    pub(super) tail: Tail,
    /// The command of the last record staged (see [`Writer::stage_restore`]).
    pub(super) last_command: Option<Uuid>,
    pub(super) index: Arc<RwLock<StreamIndex>>,
    pub(super) head_tx: watch::Sender<Position>,
    pub(super) recent_commits: RecentCommits,
    pub(super) poisoned: Arc<AtomicBool>,
    /// When the group commit under way began (microseconds since the Unix epoch), 0
    /// between commits: a commit that never returns (sled waiting for a buffer write
    /// that failed) shows here as a stall.
    pub(super) busy_since: Arc<AtomicU64>,
    /// See [`Inner::waiting`].
    pub(super) waiting: Arc<AtomicUsize>,
    pub(super) blobs_dir: std::path::PathBuf,
    pub(super) synced_blobs: std::collections::HashSet<std::ffi::OsString>,
}

/// What one group commit stages before writing it.
#[derive(Default)]
pub(super) struct Group {
    pub(super) records: Vec<RawRecord>,
    /// Keys of the members the group registers.
    pub(super) member_keys: Vec<WrappedKey>,
}

impl Group {
    /// Records from the group or, before it, from the log.
    pub(super) fn records(
        &self,
        log: &sled::Tree,
        first: Position,
        last: Position,
    ) -> Result<Vec<RawRecord>, StoreError> {
        match self.records.first() {
            Some(start) if first >= start.position && last <= self.records[self.records.len() - 1].position => {
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
/// Every commit costs about the same whatever its size: sled writes two buffers (the
/// batch's manifest, then its items), each waited for with `sync_file_range`, then the
/// `fsync`; and every waiting caller is woken, a wake-up of an idle core each when
/// answers come one at a time. At 5,000 mutations a second, groups held open for 1 ms or
/// 8 jobs took about six jobs each; held for 2 ms or 16 jobs, a dozen; for 4 ms or 32
/// jobs, about twenty, and the writer, the mutations' threads and the request workers
/// spend less per mutation each time (`mutations` benchmark, BENCHMARKS.md: 114–124
/// against 98–102 core-µs at 2 and 4 ms). Since mutations run on threads of their own,
/// a group's callers answered at once no longer delay the reads queued behind them at
/// 4 ms (reads' p99 under mutations 1.3–1.9 × idle against 2.8–4.0 × at 2 ms, alternating);
/// 8 ms or 64 jobs saved no more CPU and did (6.1–6.7 ×). A mutation waits up to
/// [`GATHER`] longer, which a clerk does not notice.
///
/// A caller that waits for each answer before sending its next job would only be slowed
/// down by the hold, and so would a clerk's command after a quiet spell. So the writer
/// holds only when, over the last window, some group took more than one job (callers
/// overlap) and jobs came at least once per [`GATHER`] (the hold will not be in vain).
pub(super) struct Pace {
    /// Start of the current window, and the jobs and commits in it so far.
    pub(super) since: Instant,
    pub(super) jobs: usize,
    pub(super) commits: usize,
    /// Whether the last whole window saw overlapping, frequent jobs.
    pub(super) busy: bool,
}

impl Pace {
    pub(super) fn new(now: Instant) -> Self {
        Pace { since: now, jobs: 0, commits: 0, busy: false }
    }

    /// A group's first job arrived at `now`: whether to hold the group open. A window
    /// that ends here counts the quiet time before `now` too.
    pub(super) fn gathers(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.since);
        if elapsed >= PACE_WINDOW {
            let often = self.jobs as f64 * GATHER.as_secs_f64() >= elapsed.as_secs_f64();
            self.busy = often && self.jobs > self.commits;
            (self.since, self.jobs, self.commits) = (now, 0, 0);
        }
        self.busy
    }

    /// The writer commits a group of `jobs`.
    pub(super) fn took(&mut self, jobs: usize) {
        self.jobs += jobs;
        self.commits += 1;
    }
}

/// Microseconds since the Unix epoch (never 0, which [`Writer::busy_since`] keeps for
/// "idle").
pub(super) fn now_micros() -> u64 {
    let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    (since_epoch.as_micros() as u64).max(1)
}

impl Writer {
    pub(super) fn run(mut self, rx: mpsc::Receiver<Job>) {
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

    pub(super) fn commit_group(&mut self, jobs: Vec<Job>) {
        let mut group = Group::default();
        let mut replies = Vec::with_capacity(jobs.len());
        let poisoned = self.poisoned.load(Ordering::Acquire);
        let written = {
            let index_lock = self.index.clone();
            let mut index = index_lock.blocking_write();
            for job in jobs {
                match job {
                    job if poisoned => job.refuse(&StoreError::Poisoned),
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
            (!poisoned).then(|| self.write(&mut group))
        };
        let mut failed = None;
        if let Some(written) = written {
            if let Err(e) = written.and_then(|()| self.make_durable()) {
                // What reached the disk is unknown: refuse everything until a restart
                // re-reads the log, and tell every waiting writer it was not acknowledged.
                self.poisoned.store(true, Ordering::Release);
                failed = Some(e);
            } else {
                // Before the new head is seen: whoever reads up to it finds its records.
                self.recent_commits.add(group.records);
                self.head_tx.send_replace(self.tail.head);
            }
        }
        // Not busy once the callers can hear: a caller's next request must not find the
        // store marked busy by the commit that answered it.
        self.busy_since.store(0, Ordering::Release);
        answer(replies, failed.as_ref());
    }

    /// Writes the group's pages to sled, and its member keys to their file.
    pub(super) fn write(&mut self, group: &mut Group) -> Result<(), StoreError> {
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
        // Durable before the records are written, so that after a crash no registration
        // is found without its key. A key whose registration a crash lost is never used.
        let keys: Vec<_> =
            std::mem::take(&mut group.member_keys).into_iter().map(|key| (key.subject, Some(key.bytes))).collect();
        self.key_slots.set(&keys)?;
        self.log.apply_batch(batch).map_err(backend)
    }

    /// Makes everything written durable: sled's flush, then fsync (see the module doc).
    pub(super) fn make_durable(&mut self) -> Result<(), StoreError> {
        self.db.flush().map_err(backend)?;
        self.db_file.sync_data().map_err(backend)?;
        self.sync_blobs()
    }

    /// sled writes items too large for its log into `blobs/`, one file each, without
    /// fsync. Pages are sized so that this should not happen; if it does, the blob is
    /// made durable here, before the commit that may depend on it is acknowledged.
    pub(super) fn sync_blobs(&mut self) -> Result<(), StoreError> {
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

    /// The positions of the command `id` in the log or in `group`, if it was appended.
    pub(super) fn stored_command(
        &self,
        id: Uuid,
        index: &StreamIndex,
        group: &Group,
    ) -> Result<Option<(Position, Position)>, StoreError> {
        let Some(first) = index.command_candidate(id) else { return Ok(None) };
        command_span(id, first, self.tail.head, |from, to| group.records(&self.log, from, to))
    }

    pub(super) fn stage_append(
        &mut self,
        request: AppendRequest,
        index: &mut StreamIndex,
        group: &mut Group,
    ) -> Result<AppendOutcome, StoreError> {
        let encoded = Encoded::new(request)?;
        let command_id = encoded.request.command_id;
        if let Some((first, last)) = self.stored_command(command_id, index, group)? {
            return encoded.retry_outcome(&group.records(&self.log, first, last)?);
        }
        encoded.check(|stream| index.last_version(stream))?;
        let outcome =
            encoded.stage(&mut self.tail, |stream, position| index.push(stream, position), &mut group.records);
        index.add_command(outcome.command_id, outcome.first_position);
        self.last_command = Some(outcome.command_id);
        group.member_keys.extend(encoded.request.subject_key);
        Ok(outcome)
    }

    /// Stages backup records after the head. Checks every record first, so a bad backup
    /// stages nothing.
    pub(super) fn stage_restore(
        &mut self,
        records: Vec<RawRecord>,
        index: &mut StreamIndex,
        group: &mut Group,
    ) -> Result<(), StoreError> {
        let (envelopes, tail) = check_restore(&records, self.tail, |stream| index.last_version(stream))?;
        for (record, env) in records.into_iter().zip(envelopes) {
            index.push(env.stream, record.position);
            // A command's records may come in two restores, split where a page ended.
            if self.last_command != Some(env.command_id) {
                index.add_command(env.command_id, record.position);
                self.last_command = Some(env.command_id);
            }
            group.records.push(record);
        }
        self.tail = tail;
        Ok(())
    }
}
