//! Field errors as the GraphQL specification handles them. A field that raised an error
//! is null in `data`; when its type is non-null, the null goes up to the nearest nullable
//! ancestor, or makes `data` itself null. The engine instead leaves the failed field out
//! of its object (and an object whose every field failed becomes null), so a client that
//! trusts the schema's `!` would find a non-null field missing. This puts the nulls where
//! the specification does, after execution, from the document and the schema's field
//! types. It runs only for responses that carry a field error, so the common response
//! pays one scan of an empty error list. (Not an engine extension: an extension wraps
//! every field's resolution, and costs a tenth of a ledger page.)

use std::collections::HashMap;

use async_graphql::parser::types::{
    BaseType, ExecutableDocument, Field, OperationType, Selection, SelectionSet, Type, TypeKind, TypeSystemDefinition,
};
use async_graphql::{Name, PathSegment, Value};

/// The type of every field of every object type of the schema.
pub(crate) struct FieldTypes(HashMap<(String, String), Type>);

impl FieldTypes {
    /// Reads the field types from the schema's SDL.
    pub(crate) fn of(sdl: &str) -> Self {
        let schema = async_graphql::parser::parse_schema(sdl).expect("the schema's own SDL parses");
        let mut fields = HashMap::new();
        for definition in schema.definitions {
            let TypeSystemDefinition::Type(ty) = definition else { continue };
            if let TypeKind::Object(object) = &ty.node.kind {
                for field in &object.fields {
                    let key = (ty.node.name.node.to_string(), field.node.name.node.to_string());
                    fields.insert(key, field.node.ty.node.clone());
                }
            }
        }
        Self(fields)
    }
}

/// Puts the nulls of `response`'s field errors where the specification puts them.
/// `query` and `operation_name` are the request's.
pub(crate) fn propagate(
    types: &FieldTypes,
    query: &str,
    operation_name: Option<&str>,
    response: &mut async_graphql::Response,
) {
    if response.errors.iter().all(|e| e.path.is_empty()) {
        return;
    }
    let Ok(document) = async_graphql::parser::parse_query(query) else { return };
    let Some((root, selection)) = operation(&document, operation_name) else { return };
    if response.data == Value::Null {
        // Every root field failed (the engine's null for an empty object).
        response.data = Value::Object(Default::default());
    }
    let mut nulled: Vec<Vec<PathSegment>> = Vec::new();
    for path in response.errors.iter().map(|e| e.path.clone()).filter(|p| !p.is_empty()) {
        if nulled.iter().any(|n| path.starts_with(n)) {
            continue; // already inside a null: one error per field, no more changes
        }
        let Some(along) = types_along(types, &document, root, selection, &path) else { continue };
        if !absent_at(&mut response.data, &path) {
            continue; // the field has a value: the error was not its failure
        }
        // The nearest position on the path that may be null.
        match (0..path.len()).rev().find(|&i| along[i].nullable) {
            Some(i) => {
                set_null(&mut response.data, &path[..=i]);
                nulled.push(path[..=i].to_vec());
            }
            None => {
                response.data = Value::Null;
                return;
            }
        }
    }
}

fn operation<'d>(document: &'d ExecutableDocument, name: Option<&str>) -> Option<(&'static str, &'d SelectionSet)> {
    let (_, operation) = document.operations.iter().find(|(n, _)| match name {
        Some(wanted) => n.is_some_and(|n| n.as_str() == wanted),
        None => true,
    })?;
    let root = match operation.node.ty {
        OperationType::Query => "Query",
        OperationType::Mutation => "Mutation",
        OperationType::Subscription => "Subscription",
    };
    Some((root, &operation.node.selection_set.node))
}

/// The type at each position of `path`: a field's type, or for an index the item type
/// of the list above it. `None` when the path leaves the schema's objects (introspection).
fn types_along(
    types: &FieldTypes,
    document: &ExecutableDocument,
    root: &str,
    selection: &SelectionSet,
    path: &[PathSegment],
) -> Option<Vec<Type>> {
    let (mut along, mut parent, mut sets) = (Vec::<Type>::new(), root.to_owned(), vec![selection]);
    for segment in path {
        let ty = match segment {
            PathSegment::Field(key) => {
                let mut fields = Vec::new();
                for set in &sets {
                    fields_with_key(document, set, key, &mut fields, 0);
                }
                let ty = types.0.get(&(parent, fields.first()?.name.node.to_string()))?.clone();
                sets = fields.iter().map(|f| &f.selection_set.node).collect();
                parent = named(&ty).to_owned();
                ty
            }
            PathSegment::Index(_) => match &along.last()?.base {
                BaseType::List(item) => (**item).clone(),
                BaseType::Named(_) => return None,
            },
        };
        along.push(ty);
    }
    Some(along)
}

/// The fields of `set` (through fragments) whose response key is `key`.
fn fields_with_key<'d>(
    document: &'d ExecutableDocument,
    set: &'d SelectionSet,
    key: &str,
    out: &mut Vec<&'d Field>,
    depth: usize,
) {
    if depth > 64 {
        return; // validated documents have no cycles; this is only a guard
    }
    for item in &set.items {
        match &item.node {
            Selection::Field(field) if field.node.response_key().node.as_str() == key => out.push(&field.node),
            Selection::Field(_) => {}
            Selection::InlineFragment(inline) => {
                fields_with_key(document, &inline.node.selection_set.node, key, out, depth + 1)
            }
            Selection::FragmentSpread(spread) => {
                if let Some(fragment) = document.fragments.get(&spread.node.fragment_name.node) {
                    fields_with_key(document, &fragment.node.selection_set.node, key, out, depth + 1);
                }
            }
        }
    }
}

fn named(ty: &Type) -> &str {
    match &ty.base {
        BaseType::Named(name) => name.as_str(),
        BaseType::List(item) => named(item),
    }
}

/// Whether the value at `path` is missing from an object that is there.
fn absent_at(data: &mut Value, path: &[PathSegment]) -> bool {
    let Some((last, above)) = path.split_last() else { return false };
    match (last, value_at(data, above)) {
        (PathSegment::Field(key), Some(Value::Object(object))) => !object.contains_key(key.as_str()),
        _ => false,
    }
}

fn set_null(data: &mut Value, path: &[PathSegment]) {
    let Some((last, above)) = path.split_last() else {
        *data = Value::Null;
        return;
    };
    match (last, value_at(data, above)) {
        (PathSegment::Field(key), Some(Value::Object(object))) => {
            object.insert(Name::new(key), Value::Null);
        }
        (PathSegment::Index(i), Some(Value::List(list))) => {
            if let Some(item) = list.get_mut(*i) {
                *item = Value::Null;
            }
        }
        _ => {}
    }
}

/// The value at `path`, if there is one. An object the engine made null because every
/// field in it failed is turned back into an object on the way.
fn value_at<'v>(data: &'v mut Value, path: &[PathSegment]) -> Option<&'v mut Value> {
    let mut at = data;
    for segment in path {
        let next = match (segment, at) {
            (PathSegment::Field(key), Value::Object(object)) => object.get_mut(key.as_str())?,
            (PathSegment::Index(i), Value::List(list)) => list.get_mut(*i)?,
            _ => return None,
        };
        if *next == Value::Null {
            *next = Value::Object(Default::default());
        }
        at = next;
    }
    Some(at)
}
