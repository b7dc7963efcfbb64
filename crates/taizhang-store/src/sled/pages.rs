//! The pages of the `events` tree: how a group commit's records are laid out,
//! compressed and read back, their keys, and where a command's records are; and the
//! copy of the last commits' records that readers following the head read instead.

use crate::{Position, RawRecord, StoreError};
use uuid::Uuid;

use super::*;

pub(super) const PAGE: u8 = b'e';

/// The most bytes of records in one page (a single larger record gets a page of its
/// own). sled splits a leaf at 17 entries and writes any item over 128 KiB (a quarter
/// segment) as a separate blob file, which it never fsyncs; 17 pages of 4 KiB stay
/// well under that. [`Writer::sync_blobs`] covers the rare blob anyway.
pub(super) const PAGE_BYTES: usize = 4096;

pub(super) fn page_key(first: Position) -> [u8; 9] {
    let mut k = [PAGE; 9];
    k[1..].copy_from_slice(&first.to_be_bytes());
    k
}

/// Records read at a time while looking for the end of a command's span: a command
/// writes one to three events nearly always.
const SPAN_READ: u64 = 16;

/// The positions of the command `id`'s records if the record at `first` is its first,
/// up to `head`; `None` when that record is another command's (see
/// [`StreamIndex::command_candidate`]). A command's records are consecutive: each
/// append is staged whole. `read(from, to)` answers the records of `from..=to`.
pub(super) fn command_span(
    id: Uuid,
    first: Position,
    head: Position,
    mut read: impl FnMut(Position, Position) -> Result<Vec<RawRecord>, StoreError>,
) -> Result<Option<(Position, Position)>, StoreError> {
    let mut last = None;
    let mut from = first;
    while from <= head {
        let to = head.min(from.saturating_add(SPAN_READ - 1));
        let records = read(from, to)?;
        for record in &records {
            if codec::envelope_of(record.position, &record.bytes)?.0.command_id != id {
                return Ok(last.map(|last| (first, last)));
            }
            last = Some(record.position);
        }
        if records.len() as u64 != to - from + 1 {
            break;
        }
        from = to + 1;
    }
    Ok(last.map(|last| (first, last)))
}

pub(super) fn be_u64(bytes: &[u8]) -> u64 {
    u64::from_be_bytes(bytes.try_into().expect("8-byte key part"))
}

/// Page format byte: records (length-prefixed) compressed as one LZ4 block. Records of
/// one page share command ids, timestamps, id prefixes and place names, and LZ4 costs
/// about a microsecond per page to undo.
pub(super) const PAGE_LZ4: u8 = 1;

/// No page decompresses to more than this; a larger claim is damage, not data.
pub(super) const MAX_PAGE_BYTES: usize = 16 << 20;

/// Encodes consecutive records as one page value.
pub(super) fn encode_page(records: &[RawRecord]) -> Vec<u8> {
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
pub(super) fn visit_page(
    first: Position,
    page: &[u8],
    visit: impl FnMut(Position, &[u8]) -> Result<bool, StoreError>,
) -> Result<(), StoreError> {
    visit_plain(first, &decompress_page(first, page)?, visit)
}

/// A page's records, length-prefixed, as they were before compression.
pub(super) fn decompress_page(first: Position, page: &[u8]) -> Result<Vec<u8>, StoreError> {
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
pub(super) fn visit_plain(
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
pub(super) struct PlainPage {
    pub(super) first: Position,
    pub(super) count: u64,
    pub(super) plain: Vec<u8>,
}

impl PlainPage {
    pub(super) fn holds(&self, position: Position) -> bool {
        (self.first..self.first + self.count).contains(&position)
    }
}

/// The records of a page whose first position is `first`.
#[cfg(test)]
pub(super) fn decode_page(first: Position, page: &[u8]) -> Result<Vec<RawRecord>, StoreError> {
    let mut out = Vec::new();
    visit_page(first, page, |position, bytes| {
        out.push(RawRecord { position, bytes: bytes.to_vec() });
        Ok(true)
    })?;
    Ok(out)
}

/// The last page starting at or before `position` (the one holding it, if it exists),
/// with its first position.
pub(super) fn page_at_or_before(
    log: &sled::Tree,
    position: Position,
) -> Result<Option<(Position, sled::IVec)>, StoreError> {
    let Some(entry) = log.range(page_key(0)..=page_key(position)).next_back() else { return Ok(None) };
    let (key, page) = entry.map_err(backend)?;
    Ok(Some((be_u64(&key[1..]), page)))
}

/// A range read: up to `limit` records from `from` to `to` (inclusive). Taking the pages
/// from sled is separate from decompressing and visiting them, so that readers hold the
/// gate ([`SledStore::gate`]) only for the first; pages never change once written.
pub(super) struct PagesRead {
    pub(super) pages: Vec<(Position, sled::IVec)>,
    pub(super) from: Position,
    pub(super) to: Position,
    pub(super) limit: usize,
}

impl PagesRead {
    /// The pages that hold the range. Page keys are first positions and every position
    /// has one record, so which pages are needed is known without opening any.
    pub(super) fn of(log: &sled::Tree, from: Position, to: Position, limit: usize) -> Result<Self, StoreError> {
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
    pub(super) fn visit(
        &self,
        mut visit: impl FnMut(Position, &[u8]) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
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

    pub(super) fn records(&self) -> Result<Vec<RawRecord>, StoreError> {
        let mut out = Vec::new();
        self.visit(|position, bytes| {
            out.push(RawRecord { position, bytes: bytes.to_vec() });
            Ok(())
        })?;
        Ok(out)
    }
}

/// The records of the last group commits, as the writer wrote them, for the readers
/// that follow the head: the read model's projector and every subscription read, after
/// each commit, the records it just added. Finding the page that holds a position is a
/// backward search in sled, and the page must then be decompressed: about half of what
/// following the log cost per event. Records never change once written, so a copy is
/// never stale; the writer adds each commit's before the new head is seen. A reader
/// running a few commits late still finds its records here.
#[derive(Clone, Default)]
pub(super) struct RecentCommits(Arc<std::sync::RwLock<std::collections::VecDeque<Arc<Vec<RawRecord>>>>>);

impl RecentCommits {
    /// How many records are kept. A commit larger than this (an import's) empties the
    /// copy: it would hold its memory until later commits push it out, and readers of
    /// a large range lose little going to sled.
    pub(super) const MAX_RECORDS: usize = 1024;

    /// Adds the records of the commit just made (the positions after the last kept).
    pub(super) fn add(&self, records: Vec<RawRecord>) {
        if records.is_empty() {
            return;
        }
        let mut commits = self.0.write().expect("recent commits lock");
        if records.len() > Self::MAX_RECORDS {
            commits.clear();
            return;
        }
        let mut kept: usize = commits.iter().map(|c| c.len()).sum::<usize>() + records.len();
        while kept > Self::MAX_RECORDS {
            let Some(oldest) = commits.pop_front() else { break };
            kept -= oldest.len();
        }
        commits.push_back(Arc::new(records));
    }

    /// Up to `limit` events from `from` to `head`, when the kept commits hold `from`;
    /// `None` when they do not (read them from sled).
    pub(super) fn read(
        &self,
        from: Position,
        head: Position,
        limit: usize,
    ) -> Option<Result<Vec<RecordedEvent>, StoreError>> {
        if from > head {
            return None;
        }
        // The commits from the one holding `from` on, taken out of the lock before
        // decoding, so that the writer never waits for a reader.
        let holding: Vec<Arc<Vec<RawRecord>>> = {
            let commits = self.0.read().expect("recent commits lock");
            let first = commits.iter().position(|c| c.last().is_some_and(|r| r.position >= from))?;
            if commits[first].first()?.position > from {
                return None;
            }
            commits.range(first..).cloned().collect()
        };
        // Records the writer wrote but whose head is not yet published stay unseen.
        let records = holding.iter().flat_map(|c| c.iter()).skip_while(|r| r.position < from);
        let records = records.take_while(|r| r.position <= head).take(limit);
        // Sized once: the filters above hide the count from `collect`, which would grow
        // the vector by doubling, a copy each time, while the projector follows the log.
        let held = holding.iter().map(|c| c.len()).sum::<usize>();
        let mut events = Vec::with_capacity(held.min(limit));
        for record in records {
            match codec::decode_bytes(record.position, &record.bytes) {
                Ok(event) => events.push(event),
                Err(e) => return Some(Err(e)),
            }
        }
        Some(Ok(events))
    }
}
