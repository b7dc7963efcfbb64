//! taizhang's GraphQL API: the schema clerks, reviewers and report builders use, its
//! errors and limits, and the HTTP routes that serve it (GraphQL over HTTP, GraphiQL,
//! subscriptions over `graphql-transport-ws`, health and metrics).
//!
//! - [`schema`] builds the schema over an [`ApiState`]: the command side
//!   ([`taizhang_app::Ledger`]) and the live read model ([`taizhang_read::Projector`]).
//! - Every read takes the read side's as-of arguments and a `minPosition`; a mutation
//!   answers with the log position it reached, and its own fields already reflect it.
//! - [`http::routes`] serves the schema over HTTP and WebSocket (the README states the contract).
//!
//! A root field's resolver is awaited inside the engine's future for its root type, so
//! that future is as large as the largest resolver of the type, and the engine copies it
//! whole into a box for every root field of every request. A resolver whose own state
//! would make it the largest (a batch of commands, a certificate, a whole board) boxes
//! that part where it awaits it: a `registerOuting` then copies 2.3 KB there, not 7.4.
#![forbid(unsafe_code)]

pub mod access;
pub mod connections;
mod documents;
pub mod error;
mod graphiql;
pub mod http;
mod limiter;
mod limits;
mod metrics;
mod mutation;
mod nulls;
mod share;
mod socket;
mod subscription;
mod types;
mod writes;

// The areas: each one's queries, mutations, inputs and types in a module, merged into
// the schema's roots below.
mod audit;
mod certificates;
mod check_in;
mod commitments;
mod corrections;
mod evaluations;
mod members;
mod outings;
mod recognitions;
mod reports;
mod rounds;
mod summaries;
mod tokens;
mod units;

use std::sync::Arc;
use std::time::Duration;

use async_graphql::{Context, MergedObject, Schema};
use taizhang_app::Ledger;
use taizhang_read::policy::PolicySet;
use taizhang_read::{AsOf, Projector, ReadModel};
use taizhang_store::tokens::TokenStore;
use taizhang_store::{AnyStore, Position, StoreError};

pub use limits::Limits;
pub use metrics::Metrics;
pub use subscription::Subscription;

/// Every area's queries. Every read takes `asOf` (the read side's two timelines) and
/// `minPosition` (read-your-writes: wait until the model has applied that position).
#[derive(MergedObject, Default)]
pub struct Query(
    units::UnitQueries,
    members::MemberQueries,
    outings::OutingQueries,
    commitments::CommitmentQueries,
    summaries::SummaryQueries,
    rounds::RoundQueries,
    rounds::OpinionQueries,
    certificates::CertificateQueries,
    check_in::CheckInQueries,
    corrections::CorrectionQueries,
    evaluations::EvaluationQueries,
    evaluations::BoardQueries,
    recognitions::RecognitionQueries,
    reports::ReportQueries,
    audit::AuditQueries,
    tokens::TokenQueries,
);

/// Every area's mutations, one per command of the domain. Each takes an optional
/// `commandId` (send the same id again to retry safely: the first outcome is returned
/// and nothing is written twice) and answers with a receipt and the record as it now
/// stands, already reflected in every later read.
#[derive(MergedObject, Default)]
pub struct Mutation(
    units::UnitMutations,
    members::MemberMutations,
    outings::OutingMutations,
    outings::ReviewMutations,
    commitments::CommitmentMutations,
    summaries::SummaryMutations,
    rounds::RoundMutations,
    rounds::OpinionMutations,
    certificates::CertificateMutations,
    check_in::CheckInMutations,
    corrections::CorrectionMutations,
    evaluations::EvaluationMutations,
    recognitions::RecognitionMutations,
    tokens::TokenMutations,
);

pub type TaizhangSchema = Schema<Query, Mutation, Subscription>;

/// How long a read waits for the model to reach a `minPosition` before answering
/// `UNAVAILABLE`.
const READ_YOUR_WRITES_WAIT: Duration = Duration::from_secs(5);

/// Everything a request needs: the command side, the read side and the policies.
pub struct ApiState {
    pub ledger: Arc<Ledger<AnyStore>>,
    pub projector: Arc<Projector<AnyStore>>,
    pub policies: PolicySet,
    pub tokens: TokenStore,
    pub metrics: Metrics,
    /// Heavy reads (reports) computing at once: one, so that however many callers ask
    /// for them, one core stays for everything else; the others wait their turn.
    heavy: tokio::sync::Semaphore,
    /// Each caller's share of the cores (see [`share`]).
    pub(crate) shares: Arc<share::Shares>,
    /// Where certificates are signed and checked; `None`: this server issues none.
    pub certificates: Option<CertificateSettings>,
    /// The public check-in's limiters and record of attempts.
    pub(crate) check_in: check_in::CheckInGuard,
    /// How many opinions the notice board takes per address and per unit.
    pub(crate) opinion_quotas: http::OpinionQuotas,
    /// Published boards already computed again.
    pub(crate) published_boards: recognitions::PublishedBoards,
    /// The star boards asked for last, kept at the head of the log.
    pub(crate) kept_boards: taizhang_read::board::KeptBoards,
}

/// How this server issues certificates.
#[derive(Clone, Debug)]
pub struct CertificateSettings {
    /// The installation's signing key (made on first use).
    pub key_file: std::path::PathBuf,
    /// The address certificates link to for their public check (`https://…`).
    pub base_url: String,
}

impl ApiState {
    pub fn new(
        ledger: Arc<Ledger<AnyStore>>,
        projector: Arc<Projector<AnyStore>>,
        policies: PolicySet,
    ) -> Result<Self, StoreError> {
        let tokens = TokenStore::of(ledger.store());
        let heavy = tokio::sync::Semaphore::new(1);
        let shares = Arc::new(share::Shares::new());
        Ok(Self {
            ledger,
            projector,
            policies,
            tokens,
            metrics: Metrics::default(),
            heavy,
            shares,
            certificates: None,
            check_in: Default::default(),
            opinion_quotas: Default::default(),
            published_boards: Default::default(),
            kept_boards: Default::default(),
        })
    }

    /// The address the public reaches this server at (certificates' and check-in QR
    /// codes link to it); the listening address when none was configured.
    pub fn public_url(&self) -> String {
        self.certificates.as_ref().map_or_else(String::new, |c| c.base_url.clone())
    }

    pub fn store(&self) -> &Arc<AnyStore> {
        self.ledger.store()
    }

    /// Runs `f` on the read model once it reflects `min_position` (read-your-writes).
    pub(crate) async fn read<R>(
        &self,
        min_position: Option<Position>,
        f: impl FnOnce(&ReadModel) -> R,
    ) -> async_graphql::Result<R> {
        self.reached(min_position).await?;
        Ok(self.projector.read(f))
    }

    /// Read-your-writes: waits until the model reflects `min_position`, if given.
    async fn reached(&self, min_position: Option<Position>) -> async_graphql::Result<()> {
        if let Some(p) = min_position {
            self.projector.wait_for(p, READ_YOUR_WRITES_WAIT).await.map_err(error::read)?;
        }
        Ok(())
    }

    /// [`ApiState::read`] for work that may take a good part of a second (a report, an
    /// award list): one at a time, on a blocking thread, not on a worker that other
    /// requests are waiting for, given the projector so that it can take the model's
    /// lock a slice of work at a time, and told when the request is abandoned (its
    /// deadline passed, its client left) so that it stops between slices.
    pub(crate) async fn read_heavy<R: Send + 'static>(
        self: &Arc<Self>,
        caller: &access::Principal,
        min_position: Option<Position>,
        f: impl FnOnce(&HeavyRead<'_>) -> R + Send + 'static,
    ) -> async_graphql::Result<R> {
        self.reached(min_position).await?;
        let turn = self.heavy.acquire().await.expect("the semaphore is never closed");
        let state = self.clone();
        let token = caller.token;
        let waiting = Arc::new(());
        let abandoned = Arc::downgrade(&waiting);
        let done = tokio::task::spawn_blocking(move || {
            let started = share::thread_cpu();
            let done = f(&HeavyRead { projector: &state.projector, waiting: abandoned });
            state.shares.charge(token, share::thread_cpu().saturating_sub(started));
            done
        })
        .await
        .map_err(|e| error::internal(&e));
        drop((turn, waiting));
        done
    }
}

/// What heavy read work is given: the projector, and whether anyone still waits.
pub(crate) struct HeavyRead<'a> {
    pub projector: &'a Projector<AnyStore>,
    /// Alive while the request's future is: dropped with it at its deadline.
    waiting: std::sync::Weak<()>,
}

impl HeavyRead<'_> {
    /// True once the request is gone: the rest of the work would be thrown away.
    pub fn abandoned(&self) -> bool {
        self.waiting.strong_count() == 0
    }
}

/// How nice background work is (an online backup, on the server and in the client
/// that takes it): on a busy machine the scheduler gives it a fraction of a core beside
/// the request workers (nice 0), so readers' latency stays near quiet while it runs; on
/// an idle machine it runs at full speed.
pub const BACKGROUND_NICENESS: i32 = 10;

/// Lowers the calling thread's scheduling priority to [`BACKGROUND_NICENESS`]. A
/// courtesy: where the system refuses it, the work runs as it is.
pub fn lower_priority() {
    set_niceness(BACKGROUND_NICENESS);
}

/// Sets the calling thread's niceness (on Linux a thread's priority is its own); a
/// courtesy as above.
pub(crate) fn set_niceness(niceness: i32) {
    let _ = rustix::process::setpriority_process(Some(rustix::thread::gettid()), niceness);
}

/// The state a resolver runs with.
pub(crate) fn state<'a>(ctx: &Context<'a>) -> &'a Arc<ApiState> {
    ctx.data_unchecked::<Arc<ApiState>>()
}

/// The schema over `state`, with `limits` applied.
pub fn schema(state: Arc<ApiState>, limits: &Limits) -> TaizhangSchema {
    // No delay: a page's lookups are issued together while its fields resolve, and a
    // timer would add its delay to every request.
    use async_graphql::dataloader::DataLoader;
    limits
        .apply(Schema::build(Query::default(), Mutation::default(), Subscription))
        .data(DataLoader::new(types::ModelLoader(state.clone()), tokio::spawn).delay(Duration::ZERO))
        .data(DataLoader::new(members::PersonalLoader(state.clone()), tokio::spawn).delay(Duration::ZERO))
        .data(state)
        .finish()
}

/// The schema's SDL, as `taizhang schema` prints it and `schema/schema.graphql` holds.
pub fn sdl() -> String {
    Schema::build(Query::default(), Mutation::default(), Subscription).finish().sdl()
}

/// The JSON Schema of every event payload, as `(file name, pretty JSON)`, for
/// `schema/events/`. Each names the event's type code and schema version.
pub fn event_schemas() -> Vec<(String, String)> {
    taizhang_core::DomainEvent::payload_schemas()
        .into_iter()
        .map(|(name, code, version, schema)| {
            let mut value = schema.to_value();
            if let Some(object) = value.as_object_mut() {
                object.insert("x-type-code".into(), code.into());
                object.insert("x-schema-version".into(), version.into());
            }
            let text = serde_json::to_string_pretty(&value).expect("a schema serialises") + "\n";
            (format!("{name}.json"), text)
        })
        .collect()
}

/// The as-of bounds of a read, as the read side takes them.
pub(crate) fn as_of(input: Option<types::AsOfInput>) -> AsOf {
    input.map_or_else(AsOf::now, AsOf::from)
}
