//! Keeping the read model current: catch-up from a checkpoint, live tailing of the log,
//! checkpoints committed atomically with the position they reflect, read-your-writes,
//! and rebuilds beside the live model.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use sha2::{Digest, Sha256};
use taizhang_store::{EventStore, Position, StoreError};
use tokio::sync::watch;

use crate::changes::{ChangeJournal, Changes};
use crate::ReadModel;

/// Events applied between automatic checkpoints.
const CHECKPOINT_EVERY: u64 = 200_000;
/// Events read from the log per step while catching up.
const BATCH: usize = 8192;

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("checkpoint {path}: {reason}")]
    Checkpoint { path: String, reason: String },
    /// The projection did not reach the asked position in time.
    #[error("the read model is at position {reached}, not yet at {wanted}; retry shortly")]
    Lagging { wanted: Position, reached: Position },
}

/// The digest of each part of the model: equal digests mean equal projections.
pub fn digests(model: &ReadModel) -> Vec<(&'static str, String)> {
    fn digest<T: serde::Serialize>(value: &T) -> String {
        hex::encode(Sha256::digest(postcard::to_stdvec(value).expect("encoding into a Vec cannot fail")))
    }
    vec![
        ("position", format!("{} {}", model.position, hex::encode(model.last_hash))),
        ("units", digest(&model.units)),
        ("members", digest(&model.members)),
        ("outings", digest(&model.outings)),
        ("commitments", digest(&model.commitments)),
        ("summaries", digest(&model.summaries)),
        ("rounds", digest(&model.rounds)),
        ("indexes", digest(&model.indexes())),
        ("clock", digest(&model.clock)),
    ]
}

/// What a rebuild found.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RebuildReport {
    pub live: Vec<(&'static str, String)>,
    pub rebuilt: Vec<(&'static str, String)>,
}

impl RebuildReport {
    pub fn matches(&self) -> bool {
        self.live == self.rebuilt
    }
}

/// The live read model over one store.
pub struct Projector<S: EventStore> {
    store: Arc<S>,
    model: RwLock<Arc<RwLock<ReadModel>>>,
    applied: watch::Sender<Position>,
    checkpoint: Option<PathBuf>,
    /// Serialises everything that applies events, so live tailing and a rebuild's swap
    /// never interleave.
    apply_lock: tokio::sync::Mutex<Position>,
    /// What the events applied live changed for boards. Written while the model's
    /// write lock is held, so that a reader holding the model's read lock finds it at
    /// the model's position.
    changes: std::sync::Mutex<ChangeJournal>,
}

impl<S: EventStore> Projector<S> {
    /// Loads the checkpoint (when it still matches the log) and catches up to the head.
    /// Call [`Projector::run`] to follow the log after that.
    pub async fn open(store: Arc<S>, checkpoint: Option<PathBuf>) -> Result<Arc<Self>, ReadError> {
        let mut model = match &checkpoint {
            Some(path) => load_checkpoint(store.as_ref(), path).await?.unwrap_or_default(),
            None => ReadModel::default(),
        };
        catch_up(&store, &mut model, store.head()).await?;
        let position = model.position;
        let (applied, _) = watch::channel(position);
        Ok(Arc::new(Self {
            store,
            model: RwLock::new(Arc::new(RwLock::new(model))),
            applied,
            checkpoint,
            apply_lock: tokio::sync::Mutex::new(position),
            changes: std::sync::Mutex::new(ChangeJournal::starting_at(position)),
        }))
    }

    /// Follows the log until the store closes, checkpointing as it goes.
    pub async fn run(self: Arc<Self>) -> Result<(), ReadError> {
        let mut head = self.store.watch_head();
        let mut since_checkpoint = 0;
        loop {
            let target = *head.borrow_and_update();
            since_checkpoint += self.advance(target).await?;
            if since_checkpoint >= CHECKPOINT_EVERY {
                // Encoding and writing a large model takes a while: off the async
                // workers, so that requests keep being served meanwhile.
                let projector = self.clone();
                tokio::task::spawn_blocking(move || projector.save_checkpoint())
                    .await
                    .map_err(|e| ReadError::Checkpoint { path: "(task)".into(), reason: e.to_string() })??;
                since_checkpoint = 0;
            }
            if head.changed().await.is_err() {
                return Ok(());
            }
        }
    }

    /// Applies the log up to `target`; returns how many events were applied.
    async fn advance(&self, target: Position) -> Result<u64, ReadError> {
        let mut applied = self.apply_lock.lock().await;
        let before = *applied;
        while *applied < target {
            let events = self.store.read_all(*applied + 1, BATCH).await?;
            if events.is_empty() {
                break;
            }
            let model = self.current();
            let mut model = model.write().expect("read model lock");
            let mut changes = self.changes.lock().expect("change journal lock");
            for event in &events {
                model.apply(event);
                changes.record(&model, event);
            }
            drop(changes);
            *applied = model.position;
            drop(model);
            self.applied.send_replace(*applied);
        }
        Ok(*applied - before)
    }

    fn current(&self) -> Arc<RwLock<ReadModel>> {
        self.model.read().expect("model slot lock").clone()
    }

    /// Runs `f` on the current model.
    pub fn read<R>(&self, f: impl FnOnce(&ReadModel) -> R) -> R {
        let model = self.current();
        let guard = model.read().expect("read model lock");
        f(&guard)
    }

    /// Runs `f` on the current model and what changed for boards between `since` and
    /// the model's position (`None` when that is no longer known).
    pub fn read_changes<R>(&self, since: Position, f: impl FnOnce(&ReadModel, Option<Changes>) -> R) -> R {
        let model = self.current();
        let guard = model.read().expect("read model lock");
        let changes = self.changes.lock().expect("change journal lock").since(since);
        f(&guard, changes)
    }

    pub fn position(&self) -> Position {
        *self.applied.borrow()
    }

    /// Read-your-writes: waits (at most `timeout`) until the model reflects `position`.
    pub async fn wait_for(&self, position: Position, timeout: Duration) -> Result<(), ReadError> {
        // Applied already: no subscription and no timer to set up and take down.
        if self.position() >= position {
            return Ok(());
        }
        let mut applied = self.applied.subscribe();
        let reached = tokio::time::timeout(timeout, applied.wait_for(|p| *p >= position)).await;
        match reached {
            Ok(Ok(_)) => Ok(()),
            _ => Err(ReadError::Lagging { wanted: position, reached: self.position() }),
        }
    }

    /// Writes the model and its position to the checkpoint file, atomically (a
    /// temporary file, fsync, rename, fsync of the directory).
    pub fn save_checkpoint(&self) -> Result<(), ReadError> {
        let Some(path) = &self.checkpoint else { return Ok(()) };
        let bytes = {
            let model = self.current();
            let model = model.read().expect("read model lock");
            postcard::to_stdvec(&*model).expect("encoding into a Vec cannot fail")
        };
        write_checkpoint(path, &bytes)
    }

    /// Recomputes every projection from the first event, beside the live model, then
    /// swaps it in once it has caught up. Reports the digests of both, taken at the
    /// same position.
    pub async fn rebuild(&self) -> Result<RebuildReport, ReadError> {
        let mut fresh = ReadModel::default();
        // Most of the work happens without holding anything the live model needs.
        catch_up(&self.store, &mut fresh, self.position()).await?;
        let mut applied = self.apply_lock.lock().await;
        catch_up(&self.store, &mut fresh, *applied).await?;
        let live = self.read(digests);
        let rebuilt = digests(&fresh);
        *applied = fresh.position;
        *self.changes.lock().expect("change journal lock") = ChangeJournal::starting_at(fresh.position);
        *self.model.write().expect("model slot lock") = Arc::new(RwLock::new(fresh));
        drop(applied);
        self.save_checkpoint()?;
        Ok(RebuildReport { live, rebuilt })
    }
}

/// Applies the log to `model` until it reaches `target`. Reading and decoding run in a
/// task of their own, a few batches ahead, so that on a multi-threaded runtime they
/// overlap with applying.
pub async fn catch_up<S: EventStore>(
    store: &Arc<S>,
    model: &mut ReadModel,
    target: Position,
) -> Result<(), StoreError> {
    if model.position >= target {
        return Ok(());
    }
    let (tx, mut rx) = tokio::sync::mpsc::channel(4);
    let reader = {
        let store = store.clone();
        let mut next = model.position + 1;
        tokio::spawn(async move {
            while next <= target {
                let batch = store.read_all(next, BATCH.min((target - next + 1) as usize)).await;
                let last = match &batch {
                    Ok(events) => events.last().map(|e| e.position),
                    Err(_) => None,
                };
                if tx.send(batch).await.is_err() {
                    return;
                }
                match last {
                    Some(p) => next = p + 1,
                    None => return,
                }
            }
        })
    };
    while let Some(batch) = rx.recv().await {
        for event in &batch? {
            model.apply(event);
        }
    }
    reader.await.map_err(|e| StoreError::Backend(format!("log reader task: {e}")))
}

/// The checkpoint at `path`, if it exists and still describes a prefix of this log (a
/// restored or replaced log makes it stale, and it is ignored).
async fn load_checkpoint<S: EventStore>(store: &S, path: &Path) -> Result<Option<ReadModel>, ReadError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(ReadError::Checkpoint { path: path.display().to_string(), reason: e.to_string() }),
    };
    // Written by a model of another shape (another build): rebuilt, never misread.
    let Some(body) = bytes.strip_prefix(crate::shape::checkpoint_header()) else { return Ok(None) };
    let Ok(model) = postcard::from_bytes::<ReadModel>(body) else { return Ok(None) };
    if model.position > store.head() {
        return Ok(None);
    }
    // The hash of the event at the model's position ties the checkpoint to this log.
    if model.position > 0 {
        let record = store.read_all(model.position, 1).await?;
        if record.first().map(|e| e.hash) != Some(model.last_hash) {
            return Ok(None);
        }
    }
    Ok(Some(model))
}

fn write_checkpoint(path: &Path, model_bytes: &[u8]) -> Result<(), ReadError> {
    let fail = |e: std::io::Error| ReadError::Checkpoint { path: path.display().to_string(), reason: e.to_string() };
    let tmp = path.with_extension("tmp");
    let mut file = taizhang_store::private::create_file(&tmp).map_err(fail)?;
    file.write_all(crate::shape::checkpoint_header()).map_err(fail)?;
    file.write_all(model_bytes).map_err(fail)?;
    file.sync_all().map_err(fail)?;
    std::fs::rename(&tmp, path).map_err(fail)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(fail)?;
    }
    Ok(())
}
