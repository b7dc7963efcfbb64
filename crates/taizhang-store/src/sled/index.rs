//! The stream index, in memory: each stream's positions, whose order gives the versions;
//! and the commands in the log, by a fingerprint of their ids.

use std::collections::hash_map::Entry;
use std::collections::HashMap;

use crate::Position;
use smallvec::SmallVec;
use taizhang_core::interner::Interner;
use taizhang_core::StreamId;
use uuid::Uuid;

/// Stream → positions of its events; the index of a position in the list is its version.
/// Streams are numbered (each id kept once, a 4-byte table slot each) and their lists
/// kept in a dense vector by number; most streams (outings, units) hold one to three
/// events, whose positions live inside the list with no allocation of their own. At
/// 10 M events (2.7 M streams) that is about 21 bytes per event by the types' sizes,
/// where a hash map of id → list took about 30.
#[derive(Default)]
pub(super) struct StreamIndex {
    pub(super) streams: Interner<StreamId>,
    pub(super) positions: Vec<SmallVec<[Position; 2]>>,
    /// Where every command in the log or staged for it begins: its first position, by
    /// a 64-bit fingerprint of its id. This is the log's only index of commands (sled
    /// holds none). Nearly every command a store is asked about is new, and an id whose
    /// fingerprint is missing was never appended; a fingerprint found may be another
    /// id's, so the record there is read and its command id compared. About 20 bytes a
    /// command; the map's hashes are keyed per process, so ids a client chooses cannot
    /// be made to collide in it.
    commands: HashMap<u64, Position>,
    /// The commands whose fingerprint an earlier command had, by their whole id (one in
    /// 2^64 by chance; or ids a client chose to collide, which cost only that client).
    colliding_commands: HashMap<Uuid, Position>,
}

/// The fingerprint of a command id: the halves of its 128 bits folded together (the
/// random bits of a v4 or v7 id, the digest bits of a v5 one).
fn fingerprint(command_id: Uuid) -> u64 {
    let (high, low) = command_id.as_u64_pair();
    high ^ low
}

impl StreamIndex {
    /// The positions of a stream's events, oldest first.
    pub(super) fn positions(&self, stream: StreamId) -> &[Position] {
        self.streams.number(&stream).map_or(&[], |n| &self.positions[n as usize])
    }

    /// A stream's last version (`None`: no events).
    pub(super) fn last_version(&self, stream: StreamId) -> Option<u64> {
        (self.positions(stream).len() as u64).checked_sub(1)
    }

    /// Notes that the command `command_id`, not yet in the index, is in the log or
    /// staged for it from `first` on.
    pub(super) fn add_command(&mut self, command_id: Uuid, first: Position) {
        match self.commands.entry(fingerprint(command_id)) {
            Entry::Vacant(entry) => {
                entry.insert(first);
            }
            Entry::Occupied(_) => {
                self.colliding_commands.insert(command_id, first);
            }
        }
    }

    /// Where `command_id` begins if it was appended: `None` when it never was; else a
    /// position whose record is that command's first, or, when it never was after all,
    /// another command's.
    pub(super) fn command_candidate(&self, command_id: Uuid) -> Option<Position> {
        let colliding = self.colliding_commands.get(&command_id);
        colliding.or_else(|| self.commands.get(&fingerprint(command_id))).copied()
    }

    /// Adds the next event of `stream`; returns its version.
    pub(super) fn push(&mut self, stream: StreamId, position: Position) -> u64 {
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
