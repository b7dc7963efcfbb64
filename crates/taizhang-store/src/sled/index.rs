//! The stream index, in memory: each stream's positions, whose order gives the versions;
//! and the commands in the log, by a fingerprint of their ids.

use std::collections::HashSet;

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
    /// A 64-bit fingerprint of the id of every command in the log or staged for it.
    /// Nearly every command a store is asked about is new, and an id whose fingerprint
    /// is missing was never appended: its outcome is known without a lookup in sled
    /// (one to two microseconds, two or three times per command). A fingerprint found
    /// may be another id's, so the lookup is made then. About 10 bytes a command; the
    /// set's hashes are keyed per process, so ids a client chooses cannot be made to
    /// collide in it.
    commands: HashSet<u64>,
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

    /// Notes that `command_id` is in the log or staged for it.
    pub(super) fn add_command(&mut self, command_id: Uuid) {
        self.commands.insert(fingerprint(command_id));
    }

    /// False when `command_id` was never appended; true when it may have been.
    pub(super) fn may_hold_command(&self, command_id: Uuid) -> bool {
        self.commands.contains(&fingerprint(command_id))
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
