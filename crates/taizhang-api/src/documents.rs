//! Parsed documents of the queries clients send again and again. A GraphQL client sends
//! the same query text with new variables each time; parsing it (async-graphql's pest
//! parser) costs about 60 µs for a ledger page's query, a fifth of serving the page,
//! while cloning the parsed document costs about 1 µs. The engine still runs every
//! check on the document it is given (validation, depth, complexity, directives), so a
//! cached document is checked like a fresh one.

use std::collections::HashMap;
use std::sync::RwLock;

use async_graphql::parser::types::ExecutableDocument;
use async_graphql::ServerError;

/// Documents remembered; when full, one is forgotten to make room.
const MAX_DOCUMENTS: usize = 256;
/// Longer queries are parsed every time. Clients' queries are short (the ledger page's
/// is about 150 bytes), and the bound keeps the cache small even when a caller sends one
/// unique query after another: at most 512 KiB of text, and their parsed documents,
/// which hold a node per field (tens of bytes per byte of a dense query at worst).
const MAX_QUERY_BYTES: usize = 2 * 1024;

#[derive(Default)]
pub(crate) struct DocumentCache {
    documents: RwLock<HashMap<Box<str>, ExecutableDocument>>,
}

impl DocumentCache {
    /// `request`'s parsed document, from the cache when its text was seen before. A
    /// query that does not parse is not remembered; its error is the parser's.
    pub(crate) fn parse<'r>(
        &self,
        request: &'r mut async_graphql::Request,
    ) -> Result<&'r ExecutableDocument, ServerError> {
        let cached = self.documents.read().expect("document cache lock").get(request.query.as_str()).cloned();
        match cached {
            Some(document) => request.set_parsed_query(document),
            // A long query is parsed and left with the request, not copied for the cache.
            None if request.query.len() > MAX_QUERY_BYTES => {
                request.parsed_query()?;
            }
            None => {
                let document = request.parsed_query()?.clone();
                self.remember(&request.query, document);
            }
        }
        request.parsed_query()
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
        documents.insert(query.into(), document);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.documents.read().unwrap().len()
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
        let first = cache.parse(&mut request(query)).unwrap().clone();
        assert_eq!(cache.len(), 1);
        let again = cache.parse(&mut request(query)).unwrap().clone();
        let fresh = async_graphql::parser::parse_query(query).unwrap();
        // Positions included: an error in the cached document points where the text says.
        assert_eq!(format!("{again:?}"), format!("{fresh:?}"));
        assert_eq!(format!("{first:?}"), format!("{fresh:?}"));
        let other = "{ units { totalCount } }";
        let parsed = cache.parse(&mut request(other)).unwrap().clone();
        assert_eq!(format!("{parsed:?}"), format!("{:?}", async_graphql::parser::parse_query(other).unwrap()));
        // The repeated query is answered from the cache, not parsed again: what the
        // cache holds under its text is what it gets.
        cache.remember(query, parsed.clone());
        let answered = cache.parse(&mut request(query)).unwrap().clone();
        assert_eq!(format!("{answered:?}"), format!("{parsed:?}"));
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
}
