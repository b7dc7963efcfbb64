//! Aggregate state folded from events. Applying an event only changes state and never
//! fails: every rule was checked when the event was decided.

use crate::*;

/// The command side's state of every aggregate kind, generated from the table of kinds
/// ([`aggregates!`](crate)): the [`Aggregates`] a command is decided on, and the
/// [`StreamState`] snapshots a cache keeps.
macro_rules! aggregate_states {
    ($($kind:ident, $id:ident, $state:ident, $loaded:ident;)*) => {
        /// The aggregates a command needs, each with the stream version it was read at.
        #[derive(Clone, Default, Debug)]
        pub struct Aggregates {
            $(pub $loaded: ::std::collections::HashMap<$id, $state>,)*
            /// Every stream read, with its last version (`None`: read and empty).
            pub versions: ::std::collections::HashMap<$crate::StreamId, Option<u64>>,
        }

        /// One stream's folded state, of whichever kind.
        #[derive(Clone, PartialEq, Eq, Debug)]
        pub enum StreamState {
            $($kind($state),)*
        }

        impl Aggregates {
            /// The state of `stream` as loaded, if it has any events.
            pub fn snapshot(&self, stream: $crate::StreamId) -> Option<$crate::StreamSnapshot> {
                let version = (*self.versions.get(&stream)?)?;
                let state = match stream.kind {
                    $($crate::StreamKind::$kind => StreamState::$kind(self.$loaded.get(&$id(stream.id))?.clone()),)*
                };
                Some($crate::StreamSnapshot { version, state })
            }

            /// [`Aggregates::snapshot`] moved out: the stream's state leaves `self`.
            pub fn take_snapshot(&mut self, stream: $crate::StreamId) -> Option<$crate::StreamSnapshot> {
                let version = (*self.versions.get(&stream)?)?;
                let state = match stream.kind {
                    $($crate::StreamKind::$kind => StreamState::$kind(self.$loaded.remove(&$id(stream.id))?),)*
                };
                Some($crate::StreamSnapshot { version, state })
            }

            /// Loads `stream` from a snapshot; events after `snapshot.version` are applied
            /// next.
            pub fn restore(&mut self, stream: $crate::StreamId, snapshot: $crate::StreamSnapshot) {
                self.versions.insert(stream, Some(snapshot.version));
                match snapshot.state {
                    $(StreamState::$kind(s) => {
                        self.$loaded.insert($id(stream.id), s);
                    })*
                }
            }
        }
    };
}

impl Aggregates {
    pub fn is_loaded(&self, stream: &StreamId) -> bool {
        self.versions.contains_key(stream)
    }

    /// The last version of a stream as read or applied (`None`: empty or not read).
    pub fn version(&self, stream: StreamId) -> Option<u64> {
        self.versions.get(&stream).copied().flatten()
    }

    /// Records that `stream` was read and found empty.
    pub fn mark_empty(&mut self, stream: StreamId) {
        self.versions.entry(stream).or_insert(None);
    }

    /// Folds one stored event (at `version` of its stream) into the state.
    pub fn apply(&mut self, version: u64, event: &DomainEvent) {
        self.versions.insert(event.stream(), Some(version));
        event.fact().fold(version, self);
    }
}

/// One stream's folded state at a version: what a command-side cache keeps so that the
/// next command reads only the events appended since.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct StreamSnapshot {
    pub version: u64,
    pub state: StreamState,
}
