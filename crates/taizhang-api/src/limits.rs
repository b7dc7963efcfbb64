//! Limits on what one request may ask for. Each refusal names the limit and its value
//! (`extensions.code` = `LIMIT`), so a client knows what to split or page.

use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{SchemaBuilder, ServerError};

use crate::error;

/// The limits of one server.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Nesting of fields.
    pub depth: usize,
    /// Fields selected, a list's fields counted once per entry asked for (`first`).
    pub complexity: usize,
    /// Aliased fields: aliases let one request repeat an expensive field many times.
    pub aliases: usize,
    /// Size of a request body.
    pub body_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { depth: 12, complexity: 5_000, aliases: 30, body_bytes: 256 * 1024 }
    }
}

impl Limits {
    pub(crate) fn apply<Q, M, S>(&self, builder: SchemaBuilder<Q, M, S>) -> SchemaBuilder<Q, M, S> {
        builder.limit_depth(self.depth).limit_complexity(self.complexity).limit_recursive_depth(64).limit_directives(16)
    }

    /// Refuses a document with more aliased fields than allowed. (Checked on the parsed
    /// document the HTTP layer hands to the engine, not in an engine extension: an
    /// extension wraps every field's resolution and cost a tenth of a ledger page.)
    pub(crate) fn check_aliases(&self, document: &ExecutableDocument) -> Result<(), ServerError> {
        let aliases = count_aliases(document);
        if aliases > self.aliases {
            return Err(error::over_limit("aliases", self.aliases as u64, Some(aliases as u64))
                .into_server_error(Default::default()));
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
