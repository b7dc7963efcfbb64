//! A GraphQL request's JSON body, read in one pass: the variables go straight into the
//! engine's values. Read first into `serde_json::Value` and then converted, every
//! string and map of the variables was built twice (about 5 µs of a mutation's CPU).
//! Each member's JSON kind is checked as it is read, so that a wrong kind gets its own
//! message rather than the parser's.
//!
//! The values are the engine's as its own reader makes them ([`EngineValue`]), made
//! with fewer allocations: an object's members are gathered first and its map made
//! once at its size (the engine's reader grows the map as members come, moving and
//! rehashing it), and a key becomes a name straight from the text (not a `String`
//! first). The request's variables were about an eighth of a mutation's work on its
//! thread, mostly allocation.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use async_graphql::indexmap::IndexMap;
use async_graphql::{Name, Number, Value, Variables};
use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// A request as the HTTP layer received it, whether by POST or by GET.
pub(super) struct Params {
    pub query: String,
    pub operation_name: Option<String>,
    pub variables: Option<Variables>,
}

/// Reads a POST body; the error is the message for a 400.
pub(super) fn parse(bytes: &[u8]) -> Result<Params, String> {
    // A body that is valid JSON but no object is told apart from one that is not JSON.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(match serde_json::from_slice::<IgnoredAny>(bytes) {
            Ok(_) => "the body must be a JSON object".into(),
            Err(e) => format!("the body is not JSON: {e}"),
        });
    }
    let body: Body = serde_json::from_slice(bytes).map_err(|e| format!("the body is not JSON: {e}"))?;
    let query = match body.query {
        Member::Given(query) => query,
        Member::Absent => return Err("the request has no query".into()),
        Member::Null | Member::Wrong => return Err("query must be a string".into()),
    };
    let operation_name = match body.operation_name {
        Member::Given(name) => Some(name),
        Member::Absent | Member::Null => None,
        Member::Wrong => return Err("operationName must be a string".into()),
    };
    let variables = match body.variables {
        Member::Given(variables) => Some(variables),
        Member::Absent | Member::Null => None,
        Member::Wrong => return Err("variables must be an object".into()),
    };
    if matches!(body.extensions, Member::Wrong) {
        return Err("extensions must be an object".into());
    }
    Ok(Params { query, operation_name, variables })
}

/// A body's query text and operation name, read past everything else without making
/// anything of it: what decides where the request runs before it is read whole.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Peeked<'a> {
    #[serde(borrow)]
    pub query: Cow<'a, str>,
    #[serde(default, borrow)]
    pub operation_name: Option<Cow<'a, str>>,
}

/// [`Peeked`] of a body that is a JSON object with a string `query` (and a string or
/// null `operationName`); `None` for any other, which [`parse`] reads and explains.
pub(super) fn peek(bytes: &[u8]) -> Option<Peeked<'_>> {
    serde_json::from_slice(bytes).ok()
}

/// Reads the variables of a GET request (a JSON object, or null for none).
pub(super) fn variables(text: &str) -> Option<Option<Variables>> {
    match serde_json::from_str::<Member<Variables>>(text) {
        Ok(Member::Given(variables)) => Some(Some(variables)),
        Ok(Member::Null) => Some(None),
        _ => None,
    }
}

/// Whether the `extensions` of a GET request are a JSON object.
pub(super) fn is_object(text: &str) -> bool {
    matches!(serde_json::from_str::<Member<IgnoredAny>>(text), Ok(Member::Given(_)))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Body {
    #[serde(default)]
    query: Member<String>,
    #[serde(default)]
    operation_name: Member<String>,
    #[serde(default)]
    variables: Member<Variables>,
    #[serde(default)]
    extensions: Member<IgnoredAny>,
}

/// One member of the body: of the kind `T` is read from, null, of another kind, or
/// absent.
#[derive(Default)]
enum Member<T> {
    Given(T),
    Null,
    Wrong,
    #[default]
    Absent,
}

/// The JSON kind a member's value is read from: a string or an object.
trait Kind: Sized {
    fn from_string(_text: String) -> Option<Self> {
        None
    }

    /// Reads an object; `None` (after reading it through) when an object is not this kind.
    fn from_object<'de, A: MapAccess<'de>>(map: A) -> Result<Option<Self>, A::Error> {
        read_through(map)?;
        Ok(None)
    }
}

fn read_through<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(())
}

impl Kind for String {
    fn from_string(text: String) -> Option<Self> {
        Some(text)
    }
}

impl Kind for Variables {
    fn from_object<'de, A: MapAccess<'de>>(mut map: A) -> Result<Option<Self>, A::Error> {
        let mut variables = Variables::default();
        while let Some(KeyName(name)) = map.next_key()? {
            let EngineValue(value) = map.next_value()?;
            variables.insert(name, value);
        }
        Ok(Some(variables))
    }
}

/// An object's key as the engine's [`Name`], made from the text where it lies.
struct KeyName(Name);

impl<'de> Deserialize<'de> for KeyName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(KeyNameVisitor)
    }
}

struct KeyNameVisitor;

impl Visitor<'_> for KeyNameVisitor {
    type Value = KeyName;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E>(self, text: &str) -> Result<KeyName, E> {
        Ok(KeyName(Name::new(text)))
    }
}

/// A JSON value as the engine's [`Value`], equal to what the engine's own reader
/// makes of it (a duplicated key keeps its first place and its last value), in fewer
/// allocations (see the module's doc).
struct EngineValue(Value);

/// Members an object has before its gathering spills to the heap: the largest of a
/// mutation's inputs has about this many.
const INLINE_MEMBERS: usize = 8;

impl<'de> Deserialize<'de> for EngineValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(EngineValueVisitor)
    }
}

struct EngineValueVisitor;

impl<'de> Visitor<'de> for EngineValueVisitor {
    type Value = EngineValue;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E>(self) -> Result<EngineValue, E> {
        Ok(EngineValue(Value::Null))
    }

    fn visit_bool<E>(self, value: bool) -> Result<EngineValue, E> {
        Ok(EngineValue(Value::Boolean(value)))
    }

    fn visit_i64<E>(self, value: i64) -> Result<EngineValue, E> {
        Ok(EngineValue(Value::Number(value.into())))
    }

    fn visit_u64<E>(self, value: u64) -> Result<EngineValue, E> {
        Ok(EngineValue(Value::Number(value.into())))
    }

    fn visit_f64<E>(self, value: f64) -> Result<EngineValue, E> {
        Ok(EngineValue(Number::from_f64(value).map_or(Value::Null, Value::Number)))
    }

    fn visit_str<E>(self, text: &str) -> Result<EngineValue, E> {
        Ok(EngineValue(Value::String(text.to_owned())))
    }

    fn visit_string<E>(self, text: String) -> Result<EngineValue, E> {
        Ok(EngineValue(Value::String(text)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<EngineValue, A::Error> {
        let mut items = Vec::new();
        while let Some(EngineValue(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(EngineValue(Value::List(items)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<EngineValue, A::Error> {
        let mut members = smallvec::SmallVec::<[(Name, Value); INLINE_MEMBERS]>::new();
        while let Some(KeyName(name)) = map.next_key()? {
            let EngineValue(value) = map.next_value()?;
            members.push((name, value));
        }
        let mut object = IndexMap::with_capacity(members.len());
        // One by one, as the engine's reader does: a later duplicate replaces the value
        // and keeps the first one's place. (`extend` would first round the map's
        // capacity up to its table's, moving it once more.)
        for (name, value) in members {
            object.insert(name, value);
        }
        Ok(EngineValue(Value::Object(object)))
    }
}

/// Any object (the `extensions`, which are read through and left unused).
impl Kind for IgnoredAny {
    fn from_object<'de, A: MapAccess<'de>>(map: A) -> Result<Option<Self>, A::Error> {
        read_through(map)?;
        Ok(Some(IgnoredAny))
    }
}

impl<'de, T: Kind> Deserialize<'de> for Member<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(MemberVisitor(PhantomData))
    }
}

struct MemberVisitor<T>(PhantomData<T>);

impl<'de, T: Kind> Visitor<'de> for MemberVisitor<T> {
    type Value = Member<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E>(self) -> Result<Member<T>, E> {
        Ok(Member::Null)
    }

    fn visit_str<E>(self, text: &str) -> Result<Member<T>, E> {
        Ok(T::from_string(text.to_owned()).map_or(Member::Wrong, Member::Given))
    }

    fn visit_string<E>(self, text: String) -> Result<Member<T>, E> {
        Ok(T::from_string(text).map_or(Member::Wrong, Member::Given))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Member<T>, A::Error> {
        Ok(T::from_object(map)?.map_or(Member::Wrong, Member::Given))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Member<T>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Member::Wrong)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Member<T>, E> {
        Ok(Member::Wrong)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Member<T>, E> {
        Ok(Member::Wrong)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Member<T>, E> {
        Ok(Member::Wrong)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Member<T>, E> {
        Ok(Member::Wrong)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_is_read_with_its_variables_and_each_wrong_kind_named() {
        let params =
            parse(br#" {"query":"q","operationName":null,"variables":{"a":[1,{"b":"c"}]},"extensions":{}}"#).unwrap();
        assert_eq!(params.query, "q");
        assert_eq!(params.operation_name, None);
        let variables = params.variables.unwrap();
        assert_eq!(variables.into_value().into_json().unwrap(), serde_json::json!({"a": [1, {"b": "c"}]}));
        let refused = |body: &str| parse(body.as_bytes()).err().unwrap();
        assert!(refused("not json").starts_with("the body is not JSON"));
        assert!(refused("{\"query\":").starts_with("the body is not JSON"));
        assert_eq!(refused("[1]"), "the body must be a JSON object");
        assert_eq!(refused(r#"{"variables":{}}"#), "the request has no query");
        assert_eq!(refused(r#"{"query":7}"#), "query must be a string");
        assert_eq!(refused(r#"{"query":"q","operationName":3}"#), "operationName must be a string");
        assert_eq!(refused(r#"{"query":"q","variables":[1]}"#), "variables must be an object");
        assert_eq!(refused(r#"{"query":"q","extensions":"x"}"#), "extensions must be an object");
        // Members the protocol does not name are read through and left.
        assert!(parse(br#"{"query":"q","other":{"deep":[true]}}"#).is_ok());
    }

    #[test]
    fn variables_are_the_values_the_engines_own_reader_makes() {
        let documents = [
            r#"{}"#,
            r#"{"input":{"unit":"0b1f","details":{"date":"2011-07-01","start":"09:00","end":"09:50",
                "place":"十堰市便民服务中心","category":"志愿服务","note":null,"hours":2.5,"count":3,
                "big":18446744073709551615,"negative":-7,"tiny":1e-300,"huge":1e308,"flag":true},
                "participants":[{"member":"a"},{"member":"b","present":false}]}}"#,
            // A key given twice: its first place, its last value, in objects and at the top.
            r#"{"a":{"x":1,"y":2,"x":3},"b":[],"a":{"z":"\u5341\"\n"}}"#,
            // More members than are gathered in place, and lists of every kind.
            r#"{"wide":{"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k10":[null,[],{},"s",0.5]}}"#,
        ];
        for text in documents {
            let ours = variables(text).unwrap().unwrap();
            let engines: Variables = serde_json::from_str(text).unwrap();
            assert_eq!(ours, engines, "{text}");
            // Equal maps in the same order: the order a resolver and an answer see.
            let keys = |v: &Variables| format!("{v:?}");
            assert_eq!(keys(&ours), keys(&engines), "{text}");
        }
        // A number beyond a double is refused by both.
        let text = r#"{"n":1e400}"#;
        assert!(serde_json::from_str::<Variables>(text).is_err() && variables(text).is_none());
    }

    #[test]
    fn variables_nested_as_deep_as_the_parser_allows_are_read_and_deeper_refused() {
        // Each object level keeps its members in place on the stack while it is read:
        // a hostile body nested to the parser's limit must still be read (on a test's
        // thread, no larger than a runtime's), and one past it refused, not overflow.
        let nested = |depth: usize| format!("{{\"v\":{}1{}}}", "{\"a\":".repeat(depth), "}".repeat(depth));
        let read = variables(&nested(126)).expect("within the parser's limit").unwrap();
        assert!(matches!(read.get("v"), Some(Value::Object(_))));
        assert!(variables(&nested(127)).is_none(), "past the parser's limit");
        let body = |depth| format!(r#"{{"query":"q","variables":{}}}"#, nested(depth));
        assert!(parse(body(125).as_bytes()).is_ok());
        let refused = parse(body(126).as_bytes()).err().unwrap();
        assert!(refused.contains("recursion limit"), "the body's own object is one level more: {refused}");
    }

    #[test]
    fn get_variables_are_an_object_or_null() {
        assert!(variables(r#"{"unit":"x"}"#).unwrap().is_some());
        assert!(variables("null").unwrap().is_none());
        assert!(variables("[1]").is_none() && variables("{").is_none());
        assert!(is_object("{}") && !is_object("1"));
    }
}
