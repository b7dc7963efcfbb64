//! The embedded store's member keys: a file of fixed-size slots, overwritten in place.
//!
//! Erasing a member must destroy their key in every file the product writes. sled
//! cannot promise that: an update or a removal is a new entry in its log, and the old
//! bytes stay in a segment until sled happens to rewrite it. So the wrapped keys live
//! apart from sled, in `member-keys` beside the `log` directory: a header, then one
//! 128-byte slot per member. Erasing overwrites the member's slot in the same place and
//! fsyncs before it returns; on a file system that writes in place (ext4, XFS) the old
//! bytes are gone from the disk's blocks, not merely unlinked. (Copy-on-write file
//! systems and flash translation layers may keep old blocks: docs/design.md says what
//! that means for the operator.)
//!
//! A slot never straddles a 512-byte sector (128 divides 512 and the header is one
//! slot long), so a crash during an overwrite leaves the old slot or the new one. A
//! crash during an append may leave a partial slot at the end of the file, which was
//! never acknowledged and is cut off at the next open. Each slot ends with a checksum,
//! so a damaged slot is told apart from a key.
//!
//! Readers take the in-memory index for a moment; a writer holds the file's lock
//! across its fsync and publishes the new entries in the index only once they are
//! durable, so no reader waits for a disk.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::{Mutex, RwLock};

use sha2::{Digest, Sha256};
use taizhang_core::DataSubject;

use crate::sled::backend;
use crate::StoreError;

const SLOT: usize = 128;
const MAGIC: &[u8] = b"taizhang member keys v1\n";
const CHECKSUM: usize = 8;
/// Room for a wrapped key in a slot: the state, the member id and the length first.
const MAX_WRAPPED: usize = SLOT - CHECKSUM - 18;

const EMPTY: u8 = 0;
const KEY: u8 = 1;
const ERASED: u8 = 2;

/// What the file says of one member: `Some` wrapped key, or `None` when erased.
type Entry = Option<Vec<u8>>;

pub(crate) struct KeySlots {
    /// Held by a writer from its first write to the end of its fsync.
    file: Mutex<SlotFile>,
    index: RwLock<HashMap<DataSubject, Entry>>,
}

struct SlotFile {
    file: File,
    /// The member's slot numbers; a member has one, unless a crash between the key's
    /// write and its registration's left an earlier one.
    slots: HashMap<DataSubject, Vec<u64>>,
    next: u64,
}

impl KeySlots {
    /// Opens the slot file at `path`, creating it (mode 0600) when absent.
    pub(crate) fn open(path: &Path) -> Result<Self, StoreError> {
        let file = match crate::private::create_new_file(path) {
            Ok(file) => {
                file.write_all_at(&header(), 0).and_then(|_| file.sync_all()).map_err(backend)?;
                if let Some(dir) = path.parent() {
                    File::open(dir).and_then(|d| d.sync_all()).map_err(backend)?;
                }
                std::fs::OpenOptions::new().read(true).write(true).open(path).map_err(backend)?
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                std::fs::OpenOptions::new().read(true).write(true).open(path).map_err(backend)?
            }
            Err(e) => return Err(backend(e)),
        };
        let mut bytes = std::fs::read(path).map_err(backend)?;
        if bytes.len() < SLOT && MAGIC.starts_with(&bytes[..bytes.len().min(MAGIC.len())]) {
            // A creation that a crash cut short: no key was ever acknowledged in it.
            bytes = header().to_vec();
            file.set_len(0)
                .and_then(|_| file.write_all_at(&bytes, 0))
                .and_then(|_| file.sync_all())
                .map_err(backend)?;
        }
        let damaged = |reason: &str| StoreError::Backend(format!("{}: {reason}", path.display()));
        if bytes.len() < SLOT || bytes[..MAGIC.len()] != *MAGIC {
            return Err(damaged("not a taizhang member key file"));
        }
        let whole = (bytes.len() / SLOT) * SLOT;
        if whole != bytes.len() {
            // An append that a crash cut short: never acknowledged.
            file.set_len(whole as u64).and_then(|_| file.sync_all()).map_err(backend)?;
        }
        let (mut slots, mut index) = (HashMap::<DataSubject, Vec<u64>>::new(), HashMap::new());
        let mut damaged_slots = 0;
        for (n, slot) in bytes[SLOT..whole].chunks_exact(SLOT).enumerate() {
            match decode(slot) {
                Some((member, entry)) => {
                    slots.entry(member).or_default().push(n as u64);
                    index.insert(member, entry);
                }
                None if slot[0] == EMPTY && slot.iter().all(|&b| b == 0) => {}
                None => {
                    // Unusable, and whose key it may hold is unknown: destroyed, so that
                    // no erasure can miss it.
                    tracing::warn!(slot = n, file = %path.display(), "a damaged member key slot is cleared");
                    file.write_all_at(&[0; SLOT], (n as u64 + 1) * SLOT as u64).map_err(backend)?;
                    damaged_slots += 1;
                }
            }
        }
        if damaged_slots > 0 {
            file.sync_data().map_err(backend)?;
        }
        let next = (whole / SLOT - 1) as u64;
        Ok(Self { file: Mutex::new(SlotFile { file, slots, next }), index: RwLock::new(index) })
    }

    /// `None` when the member has no slot, `Some(None)` when their key was erased.
    pub(crate) fn get(&self, member: DataSubject) -> Option<Entry> {
        self.index.read().expect("key index lock").get(&member).cloned()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.index.read().expect("key index lock").is_empty()
    }

    /// Every member's entry, in member order.
    pub(crate) fn entries(&self) -> Vec<(DataSubject, Entry)> {
        let mut all: Vec<_> = self.index.read().expect("key index lock").iter().map(|(m, e)| (*m, e.clone())).collect();
        all.sort_by_key(|(member, _)| *member);
        all
    }

    /// Sets entries (a wrapped key, or `None` to erase) durably before returning. A
    /// member's existing slots are overwritten where they are; a new member's slot is
    /// appended.
    pub(crate) fn set(&self, entries: &[(DataSubject, Entry)]) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut file = self.file.lock().expect("key file lock");
        for (member, entry) in entries {
            let slot = encode(*member, entry.as_deref())?;
            let erased = encode(*member, None)?;
            let at = |n: u64| (n + 1) * SLOT as u64;
            match file.slots.get(member).cloned() {
                Some(numbers) => {
                    // The first slot takes the entry; any other is erased.
                    for (i, n) in numbers.into_iter().enumerate() {
                        file.file.write_all_at(if i == 0 { &slot } else { &erased }, at(n)).map_err(backend)?;
                    }
                }
                None => {
                    let n = file.next;
                    file.file.write_all_at(&slot, at(n)).map_err(backend)?;
                    file.next += 1;
                    file.slots.insert(*member, vec![n]);
                }
            }
        }
        file.file.sync_data().map_err(backend)?;
        let mut index = self.index.write().expect("key index lock");
        for (member, entry) in entries {
            index.insert(*member, entry.clone());
        }
        Ok(())
    }
}

fn header() -> [u8; SLOT] {
    let mut out = [0u8; SLOT];
    out[..MAGIC.len()].copy_from_slice(MAGIC);
    out
}

fn checksum(body: &[u8]) -> [u8; CHECKSUM] {
    Sha256::digest(body)[..CHECKSUM].try_into().expect("8 bytes of a digest")
}

fn encode(member: DataSubject, wrapped: Option<&[u8]>) -> Result<[u8; SLOT], StoreError> {
    let mut out = [0u8; SLOT];
    out[1..17].copy_from_slice(member.0.as_bytes());
    match wrapped {
        Some(bytes) if bytes.len() > MAX_WRAPPED => {
            return Err(StoreError::Backend(format!("a wrapped key of {} bytes does not fit a slot", bytes.len())))
        }
        Some(bytes) => {
            out[0] = KEY;
            out[17] = bytes.len() as u8;
            out[18..18 + bytes.len()].copy_from_slice(bytes);
        }
        None => out[0] = ERASED,
    }
    let sum = checksum(&out[..SLOT - CHECKSUM]);
    out[SLOT - CHECKSUM..].copy_from_slice(&sum);
    Ok(out)
}

fn decode(slot: &[u8]) -> Option<(DataSubject, Entry)> {
    let (body, sum) = slot.split_at(SLOT - CHECKSUM);
    if body[0] == EMPTY || checksum(body) != sum {
        return None;
    }
    let member = DataSubject(uuid::Uuid::from_bytes(body[1..17].try_into().ok()?));
    match body[0] {
        KEY => {
            let len = usize::from(body[17]);
            (len <= MAX_WRAPPED).then(|| (member, Some(body[18..18 + len].to_vec())))
        }
        ERASED => Some((member, None)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wrapped(n: u8) -> Vec<u8> {
        vec![n; 73]
    }

    #[test]
    fn keys_survive_a_reopen_and_erasure_overwrites_the_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("member-keys");
        let (a, b) =
            (DataSubject::from(taizhang_core::MemberId::new()), DataSubject::from(taizhang_core::MemberId::new()));
        let slots = KeySlots::open(&path).unwrap();
        assert!(slots.is_empty());
        slots.set(&[(a, Some(wrapped(7))), (b, Some(wrapped(9)))]).unwrap();
        slots.set(&[(a, None)]).unwrap();
        drop(slots);

        let file = std::fs::read(&path).unwrap();
        assert_eq!(file.len(), 3 * SLOT, "the erasure took the member's slot, not a new one");
        assert!(!file.windows(73).any(|w| w == wrapped(7).as_slice()), "the erased key's bytes are gone");
        assert!(file.windows(73).any(|w| w == wrapped(9).as_slice()));
        let reopened = KeySlots::open(&path).unwrap();
        assert_eq!(reopened.get(a), Some(None));
        assert_eq!(reopened.get(b), Some(Some(wrapped(9))));
        assert_eq!(reopened.get(DataSubject::from(taizhang_core::MemberId::new())), None);
        assert_eq!(reopened.entries().len(), 2);
    }

    #[test]
    fn a_partial_append_is_cut_off_and_a_damaged_slot_cleared() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("member-keys");
        let (a, b) =
            (DataSubject::from(taizhang_core::MemberId::new()), DataSubject::from(taizhang_core::MemberId::new()));
        KeySlots::open(&path).unwrap().set(&[(a, Some(wrapped(1))), (b, Some(wrapped(2)))]).unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[SLOT + 20] ^= 1; // a's slot
        bytes.extend_from_slice(&[KEY; 50]); // a torn append
        std::fs::write(&path, &bytes).unwrap();

        let slots = KeySlots::open(&path).unwrap();
        assert_eq!(slots.get(a), None);
        assert_eq!(std::fs::read(&path).unwrap()[SLOT..2 * SLOT], [0; SLOT], "the damaged slot is cleared");
        assert_eq!(slots.get(b), Some(Some(wrapped(2))));
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 3 * SLOT as u64);
        let c = DataSubject::from(taizhang_core::MemberId::new());
        slots.set(&[(c, Some(wrapped(3)))]).unwrap();
        assert_eq!(KeySlots::open(&path).unwrap().get(c), Some(Some(wrapped(3))));
    }

    #[test]
    fn a_creation_cut_short_is_finished_and_another_file_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("member-keys");
        std::fs::write(&path, &MAGIC[..5]).unwrap();
        assert!(KeySlots::open(&path).unwrap().is_empty());
        assert_eq!(std::fs::read(&path).unwrap(), header());
    }

    #[test]
    fn another_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("member-keys");
        std::fs::write(&path, vec![b'x'; 300]).unwrap();
        assert!(KeySlots::open(&path).is_err());
    }
}
