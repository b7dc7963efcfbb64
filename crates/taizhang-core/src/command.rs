//! What clerks and reviewers ask for. Commands hold values already parsed
//! ([`Text`], [`Minutes`], …); the rules that need the current state are checked by
//! [`crate::decide`].

use crate::decide::Deciding;
use crate::*;

/// What a command declares beside its type, in its aggregate's module: what it reads,
/// whose records it writes, how a retry is recognised, and the decision itself.
/// `commands!` hands every [`Command`] variant to it.
pub(crate) trait Decision {
    /// Whether `event`, stored under this command's id, is one this command asks for
    /// (see [`Command::asks_for`]).
    fn answered_by(&self, event: &DomainEvent) -> bool;

    /// Adds the streams the command needs besides its subject's, which is always read,
    /// given what is loaded so far (see [`dependencies`](crate::dependencies)).
    fn needs(&self, _loaded: &Aggregates, _needs: &mut Vec<StreamId>) {}

    /// The units whose records the command writes, `None` for a record `loaded` does
    /// not hold (see [`units_written`](crate::units_written)).
    fn units_written(&self, loaded: &Aggregates) -> Vec<Option<UnitId>>;

    /// The events the command causes, or the first rule it breaks (see
    /// [`decide`](crate::decide)).
    fn decide(&self, context: &mut Deciding<'_>) -> Result<Vec<PendingEvent>, DomainError>;
}

/// The closed set of commands (the table is in the crate's root), each a type of its
/// aggregate's module that implements [`Decision`], with the aggregate whose record it
/// is about (`on member`: the stream of its `member` field).
macro_rules! commands {
    ($($variant:ident on $stream:ident),* $(,)?) => {
        /// What clerks and reviewers ask for.
        #[derive(Clone, PartialEq, Eq, Debug)]
        pub enum Command {
            $($variant($variant),)*
        }

        impl Command {
            /// The command's type name, as metrics and logs show it.
            pub fn name(&self) -> &'static str {
                match self { $(Command::$variant(_) => stringify!($variant),)* }
            }

            /// The stream of the record the command is about; every command writes an
            /// event there. A command id answered from the log must have written to the
            /// same record.
            pub fn subject(&self) -> $crate::StreamId {
                match self { $(Command::$variant(c) => $crate::StreamId::$stream(c.$stream),)* }
            }

            /// What the command's type declares of it.
            pub(crate) fn decision(&self) -> &dyn $crate::command::Decision {
                match self { $(Command::$variant(c) => c,)* }
            }
        }

        $(impl From<$variant> for Command {
            fn from(c: $variant) -> Self { Command::$variant(c) }
        })*
    };
}

impl Command {
    /// Whether `written`, the events stored under this command's id, are what this
    /// command asks for: a retry of the same command is answered with the first
    /// outcome; another command sent under the same id is not. Compared by what the
    /// command states, not its ids alone: a registration's new id may be drawn afresh
    /// at each attempt, so it is recognised by its values; sealed personal data is
    /// not compared (a correction by its member and reason).
    pub fn asks_for(&self, written: &[DomainEvent]) -> bool {
        written.iter().any(|event| self.decision().answered_by(event))
    }
}
