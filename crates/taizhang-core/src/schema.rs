//! JSON Schemas of the event payloads, as their JSON form (the API's `payload`, the
//! backup's `event`) has them. The derives live on the event types, so a changed field
//! changes the schema; these are the value types whose JSON form serde derives do not
//! describe by themselves (the ids' are generated with them, in `ids.rs`).

use std::borrow::Cow;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};

use crate::{ClockTime, Minutes, Score, SealedPersonal, Text, Timestamp};

macro_rules! described {
    ($ty:ty, $name:literal, $schema:tt) => {
        impl JsonSchema for $ty {
            fn schema_name() -> Cow<'static, str> {
                Cow::Borrowed($name)
            }

            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!($schema)
            }
        }
    };
}

described!(Text, "Text", {
    "type": "string", "minLength": 1, "maxLength": 500,
    "description": "Trimmed, non-empty text of at most 500 characters."
});
described!(Minutes, "Minutes", {
    "type": "integer", "minimum": 1, "maximum": 1440,
    "description": "Service time in whole minutes, at most a day."
});
described!(ClockTime, "ClockTime", {
    "type": "integer", "minimum": 0, "maximum": 1440,
    "description": "A time of day (China Standard Time) as minutes after midnight."
});
described!(Timestamp, "Timestamp", {
    "type": "integer",
    "description": "A moment in UTC, microseconds since the Unix epoch."
});
described!(Score, "Score", { "type": "integer", "minimum": 0, "maximum": 100 });
described!(SealedPersonal, "SealedPersonal", {
    "type": "array", "items": { "type": "integer", "minimum": 0, "maximum": 255 },
    "description": "Personal data sealed (XChaCha20-Poly1305) under its data subject's own key (a member's, or a citizen's who left an opinion)."
});

/// A calendar date as `YYYY-MM-DD`.
pub(crate) fn date(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "string", "format": "date" })
}
