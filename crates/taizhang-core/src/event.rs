//! The facts the log holds. Variants are past tense; each has a stable type code (used by
//! the binary encoding, never reused) and a schema version (bumped when its shape
//! changes; older versions are upcast on read).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::*;

/// Who caused an event: the role they acted in and, for API callers, their token id.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct Actor {
    pub role: Role,
    pub token: Option<Uuid>,
}

impl Actor {
    /// The operator at the command line, acting on the data directory directly.
    pub const OPERATOR: Actor = Actor { role: Role::Operator, token: None };
    /// A member checking in or out for themselves.
    pub const VOLUNTEER: Actor = Actor { role: Role::Volunteer, token: None };
    /// A citizen without an account, leaving an opinion on the notice board.
    pub const PUBLIC: Actor = Actor { role: Role::Public, token: None };
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Clerk,
    Reviewer,
    Viewer,
    /// The command line (`import`, `demo`, `restore`) with access to the data directory.
    Operator,
    /// A member acting for themselves without a token: checking in and out at an
    /// outing's site with their number and check-in PIN.
    Volunteer,
    /// A citizen without an account: an opinion left on the notice board.
    Public,
}

impl Role {
    /// The roles an API token can hold, in the order the docs list them.
    pub const API: [Role; 4] = [Role::Admin, Role::Clerk, Role::Reviewer, Role::Viewer];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Clerk => "clerk",
            Role::Reviewer => "reviewer",
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Volunteer => "volunteer",
            Role::Public => "public",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::API
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown role {s:?}: one of admin, clerk, reviewer, viewer"))
    }
}

/// How payloads are written (the store's binary format): handed to
/// [`DomainEvent::encode_payload`] and [`DomainEvent::decode_payload`], so that the table
/// of type codes, versions and upcasters is the one `domain_events!` is given.
pub trait PayloadFormat {
    fn encode<T: Serialize>(&self, value: &T) -> Vec<u8>;
    fn decode<'a, T: Deserialize<'a> + Into<DomainEvent>>(&self, bytes: &'a [u8]) -> Result<DomainEvent, String>;
}

/// What an event declares beside its type, in its aggregate's module: how it folds
/// into the command side's state. `domain_events!` hands every [`DomainEvent`] variant
/// to it.
pub(crate) trait Fact {
    /// Folds the event, stored at `version` of its stream, into `state`. Never fails:
    /// every rule was checked when the event was decided.
    fn fold(&self, version: u64, state: &mut Aggregates);
}

/// The closed set of events (the table is in the crate's root): each variant with its
/// type code, its current schema version, the older versions still read
/// (`{ 1: legacy::XV1 }`: version 1 is read as that shape and upcast), and the
/// aggregate whose stream it belongs to (`on member`: the stream of its `member` field).
/// A type code is stated there and nowhere else.
macro_rules! domain_events {
    ($($variant:ident = ($code:literal, $version:literal) on $stream:ident $({ $($old:literal : $legacy:ty),* $(,)? })?),* $(,)?) => {
        /// Every kind of fact the log can hold.
        #[derive(Clone, PartialEq, Eq, Debug, ::serde::Serialize, ::serde::Deserialize)]
        #[serde(tag = "type")]
        pub enum DomainEvent {
            $($variant($variant),)*
        }

        impl DomainEvent {
            /// Every type name with its code and current schema version, in code order.
            pub const TYPES: &'static [(&'static str, u16, u16)] = &[$((stringify!($variant), $code, $version),)*];

            /// The past-tense type name, as the API and the JSON export show it.
            pub fn type_name(&self) -> &'static str {
                match self { $(DomainEvent::$variant(_) => stringify!($variant),)* }
            }

            /// The stable code that identifies the type in the binary encoding.
            pub fn type_code(&self) -> u16 {
                match self { $(DomainEvent::$variant(_) => $code,)* }
            }

            /// The JSON Schema of every type's payload, with its name, code and schema
            /// version, in code order.
            pub fn payload_schemas() -> Vec<(&'static str, u16, u16, ::schemars::Schema)> {
                vec![$((stringify!($variant), $code, $version, ::schemars::schema_for!($variant)),)*]
            }

            /// The current schema version of this type's payload.
            pub fn schema_version(&self) -> u16 {
                match self { $(DomainEvent::$variant(_) => $version,)* }
            }

            /// The payload in its current schema version, written by `format`.
            pub fn encode_payload<F: $crate::PayloadFormat>(&self, format: &F) -> Vec<u8> {
                match self { $(DomainEvent::$variant(e) => format.encode(e),)* }
            }

            /// A payload of any known type and version, read by `format` and upcast to
            /// the current shape.
            pub fn decode_payload<F: $crate::PayloadFormat>(
                format: &F,
                type_code: u16,
                schema_version: u16,
                bytes: &[u8],
            ) -> Result<DomainEvent, String> {
                match (type_code, schema_version) {
                    $(
                        ($code, $version) => format.decode::<$variant>(bytes),
                        $($(($code, $old) => format.decode::<$legacy>(bytes),)*)?
                    )*
                    (code, version) => Err(format!("unknown event type {code} version {version}")),
                }
            }

            /// The stream this event belongs to; every event names its aggregate.
            pub fn stream(&self) -> $crate::StreamId {
                match self { $(DomainEvent::$variant(e) => $crate::StreamId::$stream(e.$stream),)* }
            }

            /// What the event's type declares of it.
            pub(crate) fn fact(&self) -> &dyn $crate::event::Fact {
                match self { $(DomainEvent::$variant(e) => e,)* }
            }
        }

        $(impl From<$variant> for DomainEvent {
            fn from(e: $variant) -> Self { DomainEvent::$variant(e) }
        })*
    };
}
