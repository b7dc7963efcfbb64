//! Parsed documents of the queries clients send again and again. A GraphQL client sends
//! the same query text with new variables each time; parsing it (async-graphql's pest
//! parser) costs about 60 µs for a ledger page's query, a fifth of serving the page,
//! while cloning the parsed document costs about 1 µs. The engine still runs every
//! check on the document it is given (validation, depth, complexity, directives), so a
//! cached document is checked like a fresh one, except where the engine validated it
//! before.
//!
//! Validating a mutation's document ran every rule of the specification over it each
//! time (about a tenth of a mutation's CPU). Once the engine has validated a text with an
//! operation name, the cache says so on the next request of that text and name
//! ([`async_graphql::Request::set_validated_before`], a change of ours to the engine):
//! the engine then checks again only the arguments' values with the variables
//! substituted, and the depth and complexity (which a page size in a variable moves);
//! every other rule reads only the document, the operation name and the schema, which
//! are the same, so its answer would be the same.
//!
//! Each request gets a copy whose field names are its own strings (see [`private_copy`]).

use std::collections::HashMap;
use std::sync::RwLock;

use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Name, ServerError};

/// Documents remembered; when full, one is forgotten to make room.
const MAX_DOCUMENTS: usize = 256;
/// Longer queries are parsed every time. Clients' queries are short (the ledger page's
/// is about 150 bytes), and the bound keeps the cache small even when a caller sends one
/// unique query after another: at most 512 KiB of text, and their parsed documents,
/// which hold a node per field (tens of bytes per byte of a dense query at worst).
const MAX_QUERY_BYTES: usize = 2 * 1024;

#[derive(Default)]
pub(crate) struct DocumentCache {
    documents: RwLock<HashMap<Box<str>, Entry>>,
}

/// A request's document, as [`DocumentCache::parse`] gives it.
#[derive(Debug)]
pub(crate) struct Parsed<'r> {
    pub(crate) document: &'r ExecutableDocument,
    /// The engine validated this text with this operation name before: only what the
    /// variables reach is validated again, and there is nothing to note afterwards.
    pub(crate) validated_before: bool,
}

struct Entry {
    document: ExecutableDocument,
    /// The operation names (`None`: the request named none) the engine validated this
    /// text with.
    validated: Vec<Option<Box<str>>>,
}

/// How many operation names of one text are remembered as validated: a client names one,
/// or none; a caller cycling through names cannot grow an entry.
const MAX_VALIDATED_OPERATIONS: usize = 4;

impl DocumentCache {
    /// `request`'s parsed document, from the cache when its text was seen before, and
    /// whether the engine validated that text with the request's operation name before
    /// (then the request says so to the engine). A query that does not parse is not
    /// remembered; its error is the parser's.
    pub(crate) fn parse<'r>(&self, request: &'r mut async_graphql::Request) -> Result<Parsed<'r>, ServerError> {
        let cached = self.documents.read().expect("document cache lock").get(request.query.as_str()).map(|entry| {
            let operation = request.operation_name.as_deref();
            (private_copy(&entry.document), entry.validated.iter().any(|name| name.as_deref() == operation))
        });
        let validated_before = match cached {
            Some((document, validated)) => {
                request.set_parsed_query(document);
                if validated {
                    request.set_validated_before();
                }
                validated
            }
            // A long query is parsed and left with the request, not copied for the cache.
            None if request.query.len() > MAX_QUERY_BYTES => {
                request.parsed_query()?;
                false
            }
            None => {
                let document = request.parsed_query()?.clone();
                self.remember(&request.query, document);
                false
            }
        };
        Ok(Parsed { document: request.parsed_query()?, validated_before })
    }

    /// Whether `query` is a text in the cache whose `operation` is a mutation.
    pub(crate) fn is_mutation(&self, query: &str, operation: Option<&str>) -> bool {
        let documents = self.documents.read().expect("document cache lock");
        documents
            .get(query)
            .is_some_and(|entry| crate::http::non_query_operation(&entry.document, operation) == Some("mutations"))
    }

    /// Notes that the engine validated `query` with `operation` (see the module's doc).
    /// A text not in the cache is left alone: it is parsed and validated whole next time.
    pub(crate) fn validated(&self, query: &str, operation: Option<&str>) {
        let known = |entry: &Entry| entry.validated.iter().any(|name| name.as_deref() == operation);
        if self.documents.read().expect("document cache lock").get(query).is_none_or(known) {
            return;
        }
        let mut documents = self.documents.write().expect("document cache lock");
        if let Some(entry) = documents.get_mut(query).filter(|entry| !known(entry)) {
            if entry.validated.len() < MAX_VALIDATED_OPERATIONS {
                entry.validated.push(operation.map(Into::into));
            }
        }
    }

    fn remember(&self, query: &str, document: ExecutableDocument) {
        let mut documents = self.documents.write().expect("document cache lock");
        if documents.len() >= MAX_DOCUMENTS && !documents.contains_key(query) {
            // Which one goes matters little: clients repeat a handful of queries, and
            // one that is forgotten is parsed and remembered again on its next use.
            let forgotten = documents.keys().next().cloned();
            if let Some(key) = forgotten {
                documents.remove(&key);
            }
        }
        documents.insert(query.into(), Entry { document, validated: Vec::new() });
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.documents.read().unwrap().len()
    }
}

/// A copy of `document` whose field names and aliases are strings of its own. The engine
/// clones a field's response key (a reference-counted string) for every object it
/// resolves, 450 times for a page of 50 ledger lines, and drops the clones with the
/// response. Copies sharing the cached strings had every request on both cores counting
/// references on the same few strings (each count's cache line moving between the
/// cores); giving each copy its own took the `http` benchmark's ledger page from about
/// 0.82 to 0.87 × the bare server's rate. It costs a dozen small allocations.
fn private_copy(document: &ExecutableDocument) -> ExecutableDocument {
    let mut copy = document.clone();
    for_each_field_name(&mut copy, &mut |name| *name = Name::new(name.as_str()));
    copy
}

/// Calls `f` on the name and the alias of every field the document selects, in its
/// operations, its fragments and their inline fragments.
fn for_each_field_name(document: &mut ExecutableDocument, f: &mut impl FnMut(&mut Name)) {
    match &mut document.operations {
        DocumentOperations::Single(operation) => in_selection_set(&mut operation.node.selection_set.node, f),
        DocumentOperations::Multiple(operations) => {
            operations.values_mut().for_each(|operation| in_selection_set(&mut operation.node.selection_set.node, f))
        }
    }
    document.fragments.values_mut().for_each(|fragment| in_selection_set(&mut fragment.node.selection_set.node, f));
}

fn in_selection_set(set: &mut SelectionSet, f: &mut impl FnMut(&mut Name)) {
    for selection in &mut set.items {
        match &mut selection.node {
            Selection::Field(field) => {
                let field = &mut field.node;
                f(&mut field.name.node);
                if let Some(alias) = &mut field.alias {
                    f(&mut alias.node);
                }
                in_selection_set(&mut field.selection_set.node, f);
            }
            Selection::InlineFragment(fragment) => in_selection_set(&mut fragment.node.selection_set.node, f),
            Selection::FragmentSpread(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(query: &str) -> async_graphql::Request {
        async_graphql::Request::new(query)
    }

    #[test]
    fn a_repeated_query_gets_the_document_its_text_parses_to() {
        let cache = DocumentCache::default();
        let query = "query($u: ID!) { unitLedger(unit: $u, first: 50) { edges { node { hours } } } }";
        let first = cache.parse(&mut request(query)).unwrap().document.clone();
        assert_eq!(cache.len(), 1);
        let again = cache.parse(&mut request(query)).unwrap().document.clone();
        let fresh = async_graphql::parser::parse_query(query).unwrap();
        // Positions included: an error in the cached document points where the text says.
        assert_eq!(format!("{again:?}"), format!("{fresh:?}"));
        assert_eq!(format!("{first:?}"), format!("{fresh:?}"));
        let other = "{ units { totalCount } }";
        let parsed = cache.parse(&mut request(other)).unwrap().document.clone();
        assert_eq!(format!("{parsed:?}"), format!("{:?}", async_graphql::parser::parse_query(other).unwrap()));
        // The repeated query is answered from the cache, not parsed again: what the
        // cache holds under its text is what it gets.
        cache.remember(query, parsed.clone());
        let answered = cache.parse(&mut request(query)).unwrap().document.clone();
        assert_eq!(format!("{answered:?}"), format!("{parsed:?}"));
    }

    /// The string of every field name and alias in `document`, by address.
    fn addresses(mut document: ExecutableDocument) -> Vec<*const u8> {
        let mut all = Vec::new();
        for_each_field_name(&mut document, &mut |name| all.push(name.as_str().as_ptr()));
        all
    }

    #[test]
    fn requests_of_one_query_share_no_field_names() {
        let cache = DocumentCache::default();
        let query = "query Page($u: ID!) { unitLedger(unit: $u, first: 50) { edges { node { h: hours ...Line } } } } \
                     fragment Line on LedgerLine { outing { ... on Outing { id date } } }";
        let first = cache.parse(&mut request(query)).unwrap().document.clone();
        let (second, third) = (
            cache.parse(&mut request(query)).unwrap().document.clone(),
            cache.parse(&mut request(query)).unwrap().document.clone(),
        );
        assert_eq!(format!("{second:?}"), format!("{first:?}"));
        assert_eq!(format!("{third:?}"), format!("{first:?}"));
        let (a, b) = (addresses(second), addresses(third));
        // unitLedger edges node hours h; outing id date (in the fragment, the last two in
        // its inline fragment).
        assert_eq!(a.len(), 8);
        assert!(a.iter().all(|p| !b.contains(p)), "two requests' copies share a field name's string");
        let kept = addresses(cache.documents.read().unwrap()[query].document.clone());
        assert!(a.iter().all(|p| !kept.contains(p)), "a copy shares a field name's string with the cache");
    }

    #[test]
    fn unparsable_and_long_queries_are_not_remembered() {
        let cache = DocumentCache::default();
        let error = cache.parse(&mut request("{ units { ")).unwrap_err();
        assert!(error.message.contains("expected"), "{}", error.message);
        let long = format!("{{ units {{ totalCount }} }} # {}", "x".repeat(MAX_QUERY_BYTES));
        cache.parse(&mut request(&long)).unwrap();
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn the_cache_stays_bounded() {
        let cache = DocumentCache::default();
        for i in 0..MAX_DOCUMENTS + 10 {
            cache.parse(&mut request(&format!("{{ a{i}: units {{ totalCount }} }}"))).unwrap();
        }
        assert_eq!(cache.len(), MAX_DOCUMENTS);
    }

    #[test]
    fn a_text_is_validated_before_only_with_the_operation_names_the_engine_validated() {
        let cache = DocumentCache::default();
        let query = "query A { units { totalCount } } query B { head { position } }";
        let named = |name: Option<&str>| {
            let mut request = request(query);
            request.operation_name = name.map(str::to_owned);
            request
        };
        cache.validated(query, Some("A")); // not cached yet: nothing to note
        assert!(!cache.parse(&mut named(Some("A"))).unwrap().validated_before);
        cache.validated(query, Some("A"));
        assert!(cache.parse(&mut named(Some("A"))).unwrap().validated_before);
        assert!(!cache.parse(&mut named(Some("B"))).unwrap().validated_before);
        assert!(!cache.parse(&mut named(None)).unwrap().validated_before);
        // A caller cycling through names grows the entry to a bound, no further.
        for i in 0..10 {
            cache.validated(query, Some(&format!("C{i}")));
        }
        assert!(cache.parse(&mut named(Some("C2"))).unwrap().validated_before);
        assert!(!cache.parse(&mut named(Some("C3"))).unwrap().validated_before);
        assert_eq!(cache.documents.read().unwrap()[query].validated.len(), MAX_VALIDATED_OPERATIONS);
    }
}
