//! Typed identifiers. A member is identified by an id, never by a name.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::StreamKind;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, ::serde::Serialize, ::serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub ::uuid::Uuid);

        impl $name {
            /// A fresh, time-ordered id (UUID v7).
            pub fn new() -> Self {
                Self(::uuid::Uuid::now_v7())
            }

            /// The id of the record a unit's own code names (`SY-0001`): the same code
            /// always names the same record ([`id_of_code`]).
            pub fn of_code(code: &str) -> Self {
                Self($crate::id_of_code($prefix, code))
            }

            /// An id as a client writes one: a taizhang id (a UUID) as it is, anything
            /// else as a code ([`Self::of_code`]).
            pub fn parse_ref(s: &str) -> Self {
                ::uuid::Uuid::try_parse(s).map_or_else(|_| Self::of_code(s), Self)
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl ::std::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                write!(f, concat!($prefix, "-{}"), self.0)
            }
        }

        /// A taizhang id (a UUID), or a code from the unit's own records, which names
        /// the record registered with it ([`Self::parse_ref`]).
        impl ::std::str::FromStr for $name {
            type Err = $crate::NotAReference;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let s = s.trim();
                let max = $crate::MAX_CODE_CHARS;
                if s.is_empty() || s.chars().count() > max || s.chars().any(char::is_control) {
                    return Err($crate::NotAReference(s.chars().take(max).collect()));
                }
                Ok(Self::parse_ref(s))
            }
        }
    };
}

/// The longest code accepted where an id is expected.
pub const MAX_CODE_CHARS: usize = 64;

/// Text that is neither an id nor a code (empty, too long, or with control characters).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct NotAReference(pub String);

impl fmt::Display for NotAReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} is neither an id nor a code (1 to {MAX_CODE_CHARS} characters)", self.0)
    }
}

impl std::error::Error for NotAReference {}

/// The namespace of the ids that codes name.
const CODE_NAMESPACE: Uuid = Uuid::from_u128(0x7a1c_7a5e_1d0c_4b3e_9c61_6a2d_1f00_2011);

/// The id (a name-based UUID, v5) that `code` names among records of `kind` (`unit`,
/// `member`, `outing`): clerks keep their own codes, and a code given twice (an import
/// run again, a registration retried) names the same record, so it is registered once.
pub fn id_of_code(kind: &str, code: &str) -> Uuid {
    Uuid::new_v5(&CODE_NAMESPACE, format!("{kind}:{code}").as_bytes())
}

/// The kinds of aggregate, one declaration each (the table is in the crate's root): its
/// stream kind and key byte (never reused), its id type, the prefix of its stream names
/// and codes, the `StreamId` constructor, its state on the command side and the field of
/// [`Aggregates`](crate::Aggregates) that holds it, and its id's JSON Schema
/// description. Everything that lists the kinds (names, key bytes, parsing, schemas,
/// the command side's snapshots) is generated from here.
macro_rules! aggregates {
    ($($(#[$doc:meta])* $kind:ident = $code:literal {
        id: $id:ident,
        prefix: $prefix:literal,
        stream: $stream:ident,
        state: $state:ident in $loaded:ident,
        described: $described:literal $(,)?
    })*) => {
        $(id_type!($(#[$doc])* $id, $prefix);)*

        /// Which kind of aggregate a stream holds.
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, ::serde::Serialize, ::serde::Deserialize)]
        #[repr(u8)]
        pub enum StreamKind {
            $($kind = $code,)*
        }

        impl StreamKind {
            /// Every kind, in code order.
            pub const ALL: &'static [StreamKind] = &[$(StreamKind::$kind,)*];

            pub fn prefix(self) -> &'static str {
                match self {
                    $(StreamKind::$kind => $prefix,)*
                }
            }

            pub fn from_code(code: u8) -> Option<Self> {
                match code {
                    $($code => Some(StreamKind::$kind),)*
                    _ => None,
                }
            }
        }

        impl $crate::StreamId {
            $(pub fn $stream(id: $id) -> Self {
                Self { kind: StreamKind::$kind, id: id.0 }
            })*
        }

        $(impl ::schemars::JsonSchema for $id {
            fn schema_name() -> ::std::borrow::Cow<'static, str> {
                ::std::borrow::Cow::Borrowed(stringify!($id))
            }

            fn json_schema(_: &mut ::schemars::SchemaGenerator) -> ::schemars::Schema {
                ::schemars::json_schema!({ "type": "string", "format": "uuid", "description": $described })
            }
        })*

        aggregate_states! { $($kind, $id, $state, $loaded;)* }
    };
}

/// The name of one event stream, written `unit-<uuid>`, `member-<uuid>` or `outing-<uuid>`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct StreamId {
    pub kind: StreamKind,
    pub id: Uuid,
}

impl StreamId {
    /// The 17-byte key form: kind code then the UUID bytes. Sorts streams of one kind
    /// together, which the stores' indexes rely on.
    pub fn to_bytes(self) -> [u8; 17] {
        let mut out = [0u8; 17];
        out[0] = self.kind as u8;
        out[1..].copy_from_slice(self.id.as_bytes());
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let kind = StreamKind::from_code(*bytes.first()?)?;
        let id = Uuid::from_slice(bytes.get(1..17)?).ok()?;
        Some(Self { kind, id })
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.kind.prefix(), self.id)
    }
}

impl fmt::Debug for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The error for a stream name that is not `<kind>-<uuid>`.
#[derive(Debug, thiserror::Error)]
#[error("not a stream name (expected unit-<uuid>, member-<uuid> or outing-<uuid>): {0:?}")]
pub struct BadStreamName(pub String);

impl FromStr for StreamId {
    type Err = BadStreamName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadStreamName(s.to_owned());
        let (prefix, rest) = s.split_once('-').ok_or_else(bad)?;
        let kind = StreamKind::ALL.iter().copied().find(|k| k.prefix() == prefix).ok_or_else(bad)?;
        let id = Uuid::parse_str(rest).map_err(|_| bad())?;
        Ok(Self { kind, id })
    }
}

#[cfg(test)]
mod tests {
    use crate::*;

    #[test]
    fn stream_names_round_trip_in_text_and_bytes() {
        let s = StreamId::outing(OutingId::new());
        assert_eq!(s.to_string().parse::<StreamId>().unwrap(), s);
        assert_eq!(StreamId::from_bytes(&s.to_bytes()), Some(s));
        assert!("outing-nope".parse::<StreamId>().is_err());
        assert!("team-0190c3a4-0000-7000-8000-000000000000".parse::<StreamId>().is_err());
        assert_eq!(StreamId::from_bytes(&[200u8; 17]), None, "no kind has key byte 200");
    }
}

/// Whose personal data a key seals: a member, or a citizen who left an opinion (known
/// by the opinion's id). Each has a key of their own beside the log, and erasing them
/// destroys it; the key's id is bound into every ciphertext sealed under it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct DataSubject(pub Uuid);

impl From<crate::MemberId> for DataSubject {
    fn from(member: crate::MemberId) -> Self {
        Self(member.0)
    }
}

impl From<crate::OpinionId> for DataSubject {
    fn from(opinion: crate::OpinionId) -> Self {
        Self(opinion.0)
    }
}

impl fmt::Display for DataSubject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
