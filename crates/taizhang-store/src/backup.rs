//! JSON Lines backup of the log.
//!
//! Each line is one event: the readable envelope and payload for people and tools, and
//! `record`, the stored bytes in hex, which is what a restore writes back. Restoring the
//! exact bytes (not a re-encoding of the JSON) keeps every hash valid, including for
//! events whose payload an upcaster changes on read.

use std::io::{BufRead, Write};

use serde_json::{json, Value};

use crate::codec::{self, GENESIS_HASH};
use crate::{EventStore, Position, RawRecord, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("line {line}: {reason}")]
    Line { line: usize, reason: String },
    #[error("restore needs an empty store; this one holds {0} events")]
    NotEmpty(Position),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// The JSON form of one record, with the hash of the record before it.
pub fn record_json(record: &RawRecord, prev_hash: &[u8; 32]) -> Result<Value, StoreError> {
    let event = codec::decode(record)?;
    Ok(json!({
        "position": event.position,
        "stream": event.stream.to_string(),
        "version": event.version,
        "type": event.payload.type_name(),
        "schema_version": event.stored_schema_version,
        "event_id": event.event_id,
        "recorded_at": event.recorded_at.to_rfc3339(),
        "occurred_at": event.occurred_at.to_rfc3339(),
        "actor": event.actor,
        "command_id": event.command_id,
        "correlation_id": event.correlation_id,
        "causation_id": event.causation_id,
        "prev_hash": hex::encode(prev_hash),
        "hash": hex::encode(event.hash),
        "payload": event.payload,
        "record": hex::encode(&record.bytes),
    }))
}

/// Events a backup reads and writes at a time.
const BACKUP_PAGE: usize = 4096;

/// A backup of the log up to a position fixed when it starts, written a page at a time:
/// a point in the log however much is appended meanwhile, which `restore` rebuilds
/// exactly. The offline export and the server's online backup both write through it.
pub struct BackupCursor {
    next: Position,
    upto: Position,
    prev: [u8; 32],
}

impl BackupCursor {
    /// A backup of events 1 to `upto`.
    pub fn new(upto: Position) -> Self {
        Self { next: 1, upto, prev: GENESIS_HASH }
    }

    /// The position the backup ends at.
    pub fn upto(&self) -> Position {
        self.upto
    }

    /// The JSON lines of the next page of events, or `None` once the backup is whole.
    pub async fn next_page<S: EventStore>(&mut self, store: &S) -> Result<Option<Vec<u8>>, BackupError> {
        if self.next > self.upto {
            return Ok(None);
        }
        let wanted = usize::try_from(self.upto - self.next + 1).unwrap_or(usize::MAX).min(BACKUP_PAGE);
        let page = store.read_raw(self.next, wanted).await?;
        let Some(last) = page.last() else {
            return Err(StoreError::Backend(format!("the log ends before position {}", self.next)).into());
        };
        let mut out = Vec::with_capacity(page.len() * 512);
        for record in &page {
            serde_json::to_writer(&mut out, &record_json(record, &self.prev)?).map_err(std::io::Error::from)?;
            out.push(b'\n');
            self.prev = codec::split_record(record)?.0;
        }
        self.next = last.position + 1;
        Ok(Some(out))
    }
}

/// The personal data keys (each still wrapped by the master key) as the JSON lines a
/// backup's keys file holds: `{"subject": id, "wrapped_key": hex}`.
pub fn key_lines(entries: &[(taizhang_core::DataSubject, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(entries.len() * 160);
    for (subject, wrapped) in entries {
        let line = json!({ "subject": subject.to_string(), "wrapped_key": hex::encode(wrapped) });
        serde_json::to_writer(&mut out, &line).expect("JSON into a Vec cannot fail");
        out.push(b'\n');
    }
    out
}

/// Writes every event of the log, up to its head when the export starts, as one JSON
/// line each; returns how many.
pub async fn export<S: EventStore>(
    store: &S,
    out: &mut impl Write,
    mut progress: impl FnMut(Position),
) -> Result<u64, BackupError> {
    let mut cursor = BackupCursor::new(store.head());
    while let Some(lines) = cursor.next_page(store).await? {
        out.write_all(&lines)?;
        progress(cursor.next - 1);
    }
    out.flush()?;
    Ok(cursor.upto)
}

/// Reads a backup into an empty store, checking the chain as it goes; returns how many
/// events it restored. A damaged backup stops at the first bad line, naming it; what
/// was restored before that line is a valid prefix of the log.
pub async fn restore<S: EventStore>(
    store: &S,
    input: impl BufRead,
    mut progress: impl FnMut(Position),
) -> Result<u64, BackupError> {
    if store.head() != 0 {
        return Err(BackupError::NotEmpty(store.head()));
    }
    let mut page = Vec::new();
    let mut restored = 0;
    let mut prev = GENESIS_HASH;
    for (index, line) in input.lines().enumerate() {
        let line_no = index + 1;
        let bad = |reason: String| BackupError::Line { line: line_no, reason };
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let value: Value = serde_json::from_str(&line).map_err(|e| bad(e.to_string()))?;
        let position = value["position"].as_u64().ok_or_else(|| bad("no position".into()))?;
        let bytes =
            value["record"].as_str().and_then(|h| hex::decode(h).ok()).ok_or_else(|| bad("no hex record".into()))?;
        let record = RawRecord { position, bytes };
        check_readable(&value, &record, &prev).map_err(bad)?;
        prev = codec::split_record(&record).map_err(|e| bad(e.to_string()))?.0;
        page.push(record);
        if page.len() == 1024 {
            restored += flush_page(store, &mut page).await?;
            progress(restored);
        }
    }
    restored += flush_page(store, &mut page).await?;
    progress(restored);
    Ok(restored)
}

/// Refuses a line whose readable fields say something other than its stored record (a
/// hand edit that the restore, which writes the record, would silently drop). Fields
/// the line leaves out are not compared; nor is the payload of an event stored in an
/// older shape, which a backup from an earlier version shows as that version read it.
fn check_readable(line: &Value, record: &RawRecord, prev: &[u8; 32]) -> Result<(), String> {
    let stored = record_json(record, prev).map_err(|e| e.to_string())?;
    let upcast = codec::decode(record)
        .map(|event| event.stored_schema_version != event.payload.schema_version())
        .map_err(|e| e.to_string())?;
    let (Value::Object(line), Value::Object(stored)) = (line, &stored) else {
        return Err("not a JSON object".into());
    };
    for (key, value) in line {
        if key == "payload" && upcast {
            continue;
        }
        if stored.get(key).is_some_and(|s| s != value) {
            let position = record.position;
            return Err(format!(
                "position {position}: its readable {key} disagrees with its stored record (edited by hand?)"
            ));
        }
    }
    Ok(())
}

async fn flush_page<S: EventStore>(store: &S, page: &mut Vec<RawRecord>) -> Result<u64, BackupError> {
    let n = page.len() as u64;
    if n > 0 {
        store.restore_raw(std::mem::take(page)).await?;
    }
    Ok(n)
}
