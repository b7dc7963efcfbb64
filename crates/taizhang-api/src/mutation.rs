//! The path every mutation takes: [`execute`] a command as the caller, then answer with
//! the record as the read model now has it ([`record`]).

use async_graphql::{Context, ID};
use taizhang_app::CommandContext;
use taizhang_core::*;
use taizhang_store::AppendOutcome;

use crate::access::{self};
use crate::error::{self};
use crate::types::*;
use crate::{state, READ_YOUR_WRITES_WAIT};

/// Validates and applies `command`, then waits until the read model reflects it.
pub(crate) async fn execute(
    ctx: &Context<'_>,
    command_id: Option<uuid::Uuid>,
    command: Command,
) -> async_graphql::Result<AppendOutcome> {
    let state = state(ctx);
    let principal = access::principal(ctx)?;
    let mut context = CommandContext { scope: principal.scope(), ..CommandContext::new(principal.actor()) };
    if let Some(id) = command_id {
        context.command_id = id;
    }
    // Boxed: its state (3.5 KB) would otherwise be inside every resolver's future,
    // copied each time the engine moves one.
    let outcome = Box::pin(state.ledger.execute(context, command)).await.map_err(error::app)?;
    state.metrics.command_applied(&outcome);
    state.projector.wait_for(outcome.last_position, READ_YOUR_WRITES_WAIT).await.map_err(error::read)?;
    Ok(outcome)
}

/// A new record's id and code: the code's id when the client gives a code (one code,
/// one record: a retry registers nothing twice), else the id the client chose (so that
/// it can refer to the record before the answer arrives), else a fresh one. An id and a
/// code that disagree are refused by the domain.
pub(crate) fn new_record<T: std::str::FromStr>(
    id: Option<ID>,
    code: Option<String>,
    of_code: fn(&str) -> T,
    fresh: fn() -> T,
) -> async_graphql::Result<(T, Option<Text>)> {
    let code = optional_text("input.code", code.as_deref())?;
    let id = match (id, &code) {
        (Some(id), _) => parse_id("input.id", &id)?,
        (None, Some(code)) => of_code(code.as_str()),
        (None, None) => fresh(),
    };
    Ok((id, code))
}

/// The record a command wrote, as the model now has it: `id`, or else the stream of
/// `kind` the command wrote (so a retried creation names what the first attempt made).
/// `None` when the answer's selection does not ask for its payload's `field`: a
/// client that reads only the receipt costs no look into the model.
pub(crate) async fn record<T: Send>(
    ctx: &Context<'_>,
    outcome: &AppendOutcome,
    id: Option<uuid::Uuid>,
    kind: StreamKind,
    field: &str,
    at: impl FnOnce(&taizhang_read::ReadModel, uuid::Uuid, taizhang_store::Position) -> Option<T>,
) -> async_graphql::Result<Option<T>> {
    if !ctx.look_ahead().field(field).exists() {
        return Ok(None);
    }
    match id.or_else(|| Receipt::stream_of(outcome, kind)) {
        Some(id) => state(ctx).read(None, |m| at(m, id, m.position)).await,
        None => Ok(None),
    }
}
