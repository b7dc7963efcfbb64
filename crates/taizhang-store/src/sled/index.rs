//! The stream index, in memory: each stream's positions, whose order gives the versions.

use crate::Position;
use smallvec::SmallVec;
use taizhang_core::interner::Interner;
use taizhang_core::StreamId;

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
