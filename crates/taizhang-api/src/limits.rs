//! Limits on what one request may ask for. Each refusal names the limit and its value
//! (`extensions.code` = `LIMIT`), so a client knows what to split or page.

use std::collections::{HashMap, HashSet};

use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Name, SchemaBuilder, ServerError};

use crate::error;

/// The limits of one server.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Nesting of fields. 13: the introspection query of graphql-js (what GraphiQL and
    /// most clients send to learn the schema) nests its type references 13 fields deep,
    /// and a client that cannot read the schema shows no docs and no completion. What a
    /// deep document costs is bounded by the complexity and expanded-field limits.
    pub depth: usize,
    /// Fields selected, a list's fields counted once per entry asked for (`first`).
    pub complexity: usize,
    /// Aliased fields: aliases let one request repeat an expensive field many times.
    pub aliases: usize,
    /// Fields selected once every fragment spread is replaced by its fragment: what the
    /// engine's validation walks, before its depth and complexity checks.
    pub expanded_fields: usize,
    /// Size of a request body.
    pub body_bytes: usize,
    /// A connection that neither sends nor receives anything for this long is closed;
    /// sockets are pinged at half of it. Longer than the idle pools of common clients
    /// (90 s for reqwest), which otherwise could send a request down a connection the
    /// server is closing.
    pub idle: std::time::Duration,
    /// How long one query or mutation over HTTP may run; past it its work is dropped
    /// (at its next wait) and the caller gets `LIMIT`.
    pub deadline: std::time::Duration,
    /// Mutations running or waiting at once (see the server's mutation threads); past
    /// it the next is refused with `UNAVAILABLE` and `Retry-After`. At the 5,000 a
    /// second the benchmark sends, about 25 are in flight on a quiet machine (each
    /// waits a few milliseconds for its group's fsync); 1,024 is about 200 ms of them
    /// at that rate, forty times the quiet figure: past it the server is saturated,
    /// and a queue that only grows answers no one in time.
    pub mutations_in_flight: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            depth: 13,
            complexity: 5_000,
            aliases: 30,
            expanded_fields: 5_000,
            body_bytes: 256 * 1024,
            idle: std::time::Duration::from_secs(120),
            deadline: std::time::Duration::from_secs(30),
            mutations_in_flight: 1_024,
        }
    }
}

impl Limits {
    pub(crate) fn apply<Q, M, S>(&self, builder: SchemaBuilder<Q, M, S>) -> SchemaBuilder<Q, M, S> {
        builder.limit_depth(self.depth).limit_complexity(self.complexity).limit_recursive_depth(64).limit_directives(16)
    }

    /// Refuses a document over the alias or expanded-field limits. Checked on the parsed
    /// document that the HTTP and WebSocket paths hand to the engine, before the engine
    /// sees it: its validation expands fragments before its depth and complexity checks,
    /// so a document of a few dozen fragments each spreading the next twice (1 KB
    /// expanding to millions of fields) would cost seconds there. (Not an engine
    /// extension: an extension wraps every field's resolution and cost a tenth of a
    /// ledger page.)
    pub(crate) fn check_document(&self, document: &ExecutableDocument) -> Result<(), ServerError> {
        let refused = |limit, max: usize, actual: usize| {
            Err(error::request_error(error::over_limit(limit, max as u64, Some(actual as u64))))
        };
        let aliases = count_aliases(document);
        if aliases > self.aliases {
            return refused("aliases", self.aliases, aliases);
        }
        let expanded = expanded_fields(document);
        if expanded > self.expanded_fields {
            return refused("expanded fields", self.expanded_fields, expanded);
        }
        Ok(())
    }

    /// Rewrites the engine's own limit errors ("Query is nested too deep.") so that they
    /// name the limit and its value like every other limit error.
    pub(crate) fn explain(&self, e: &mut ServerError) {
        let explained = match e.message.as_str() {
            "Query is nested too deep." => error::over_limit("query depth", self.depth as u64, None),
            "Query is too complex." => error::over_limit("query complexity", self.complexity as u64, None),
            _ => return,
        };
        e.message = explained.message;
        e.extensions = explained.extensions;
    }
}

fn count_aliases(document: &ExecutableDocument) -> usize {
    fn count(set: &SelectionSet) -> usize {
        set.items
            .iter()
            .map(|item| match &item.node {
                Selection::Field(f) => usize::from(f.node.alias.is_some()) + count(&f.node.selection_set.node),
                Selection::InlineFragment(f) => count(&f.node.selection_set.node),
                Selection::FragmentSpread(_) => 0,
            })
            .sum()
    }
    let operations: usize = document.operations.iter().map(|(_, op)| count(&op.node.selection_set.node)).sum();
    let fragments: usize = document.fragments.values().map(|f| count(&f.node.selection_set.node)).sum();
    operations + fragments
}

/// The fields `document`'s operations select with every fragment spread replaced by the
/// fragment (saturating). Each fragment's size is computed once, from the fragments it
/// spreads, in an explicit depth-first order: the time is proportional to the
/// document's length whatever it expands to, and a long chain of fragments cannot
/// overflow the stack. A fragment spread inside itself counts as unbounded (the engine
/// refuses such a cycle anyway); a spread of a fragment that does not exist counts
/// nothing (the engine reports it).
fn expanded_fields(document: &ExecutableDocument) -> usize {
    fn spreads(set: &SelectionSet, out: &mut Vec<Name>) {
        for item in &set.items {
            match &item.node {
                Selection::Field(f) => spreads(&f.node.selection_set.node, out),
                Selection::InlineFragment(f) => spreads(&f.node.selection_set.node, out),
                Selection::FragmentSpread(s) => out.push(s.node.fragment_name.node.clone()),
            }
        }
    }
    fn size(set: &SelectionSet, sizes: &HashMap<Name, usize>) -> usize {
        set.items.iter().fold(0usize, |total, item| {
            total.saturating_add(match &item.node {
                Selection::Field(f) => 1usize.saturating_add(size(&f.node.selection_set.node, sizes)),
                Selection::InlineFragment(f) => size(&f.node.selection_set.node, sizes),
                Selection::FragmentSpread(s) => sizes.get(&s.node.fragment_name.node).copied().unwrap_or(0),
            })
        })
    }

    // Fragments in progress (on the walk's current path) and done (their size known).
    let mut sizes: HashMap<Name, usize> = HashMap::new();
    let mut in_progress: HashSet<Name> = HashSet::new();
    for root in document.fragments.keys() {
        let mut stack = vec![(root.clone(), false)];
        while let Some((name, children_done)) = stack.pop() {
            if sizes.contains_key(&name) {
                continue;
            }
            let Some(fragment) = document.fragments.get(&name) else {
                sizes.insert(name, 0);
                continue;
            };
            let set = &fragment.node.selection_set.node;
            if children_done {
                in_progress.remove(&name);
                let total = size(set, &sizes);
                sizes.insert(name, total);
                continue;
            }
            if !in_progress.insert(name.clone()) {
                return usize::MAX; // reached again before it was done: a cycle
            }
            stack.push((name, true));
            let mut children = Vec::new();
            spreads(set, &mut children);
            stack.extend(children.into_iter().filter(|c| !sizes.contains_key(c)).map(|c| (c, false)));
        }
    }
    document
        .operations
        .iter()
        .fold(0usize, |total, (_, op)| total.saturating_add(size(&op.node.selection_set.node, &sizes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expanded(query: &str) -> usize {
        expanded_fields(&async_graphql::parser::parse_query(query).unwrap())
    }

    #[test]
    fn fragments_are_counted_as_expanded_once_each() {
        assert_eq!(expanded("{ head { position } }"), 2);
        assert_eq!(expanded("{ a: head { ...P } b: head { ...P } } fragment P on Head { position time }"), 6);
        // Each fragment spreads the next twice: 2^30 fields from a few hundred bytes.
        let mut doubling = String::from("{ units { ...F0 } }");
        for i in 0..30 {
            doubling.push_str(&format!(" fragment F{i} on Unit {{ name ...F{n} parent {{ ...F{n} }} }}", n = i + 1));
        }
        doubling.push_str(" fragment F30 on Unit { id }");
        assert!(expanded(&doubling) > 1 << 30);
        // A cycle has no finite expansion; an unknown fragment adds nothing.
        assert_eq!(expanded("{ units { ...A } } fragment A on Unit { ...B } fragment B on Unit { ...A }"), usize::MAX);
        assert_eq!(expanded("{ units { ...Missing } }"), 1);
        // A long chain does not recurse: 20,000 fragments in a row.
        let mut chain = String::from("{ units { ...C0 } }");
        for i in 0..20_000 {
            chain.push_str(&format!(" fragment C{i} on Unit {{ id ...C{} }}", i + 1));
        }
        assert_eq!(expanded(&chain), 1 + 20_000);
    }
}
