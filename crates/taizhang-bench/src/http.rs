//! The `http` scenario: the real API server (the `serve` routes over a campaign-sized
//! sled log) against a bare async-graphql server on the same HTTP stack returning 50
//! in-memory objects of the same shape, driven by the same client in the same run.
//! Then the read latency at a fixed rate, idle and while mutations are applied.
//! Client and servers share the process and the machine's two cores, alike for both;
//! the client has a runtime (one thread) of its own, the servers the default one.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use async_graphql::{EmptyMutation, EmptySubscription, Object, Schema, SimpleObject};
use bytes::Bytes;
use poem::listener::{Acceptor, Listener, TcpListener};
use serde_json::json;
use taizhang_api::{ApiState, Limits};
use taizhang_core::{MemberId, Role, UnitId};
use taizhang_read::policy::PolicySet;
use taizhang_read::Projector;
use taizhang_store::tokens::NewToken;
use taizhang_store::{AnyStore, EventStore};

use crate::client::Client;
use crate::cpu::{CpuMark, CpuUse};
use crate::report;

/// Concurrent connections of the throughput runs (wrk's usual 64).
const CONNECTIONS: usize = 64;
/// The throughput runs: alternating rounds of each server, in the order ABBA…, so that
/// a noisy neighbour or a drift over the run hits both alike.
const ROUNDS: usize = 6;
const ROUND_LENGTH: Duration = Duration::from_secs(2);
/// The latency phases (and the mutations' warm-up round).
const ROUND: Duration = Duration::from_secs(3);
/// The latency phases: reads at a fixed rate, idle and under mutations, alternating.
const PHASES: usize = 4;
const READ_RATE: u64 = 500;
const MUTATION_RATE: u64 = 5_000;
/// The mutation rates the saturation sweep tries, lowest first.
const SWEEP: [u64; 6] = [1_000, 2_000, 3_000, 4_000, 5_000, 6_000];
/// Idle and busy phases per rate of the sweep, alternating, pooled.
const SWEEP_PAIRS: usize = 2;
/// How long each busy phase's mutations run before its reads start.
const LEAD: Duration = Duration::from_millis(500);
/// The stated bound on the whole process's resident memory under abuse, over a log of a
/// million events (server and client in one process): the read model, the page cache
/// of sled, 1,000 idle connections and the heaviest requests the limits allow. Reported
/// as the baseline of the peak.
const ABUSE_MEMORY_BOUND_MIB: f64 = 640.0;

const LEDGER_QUERY: &str = "query($unit: ID!) { unitLedger(unit: $unit, first: 50) { edges { node { hours \
     runningRecordedHours outing { id date start end place category verified } } } } }";
const BARE_QUERY: &str =
    "{ unitLedger { edges { node { hours runningRecordedHours outing { id date start end place category verified } } } } }";

pub async fn http(dir: &Path, events: usize) -> Result<()> {
    let (targets, _state) = start(dir, events).await?;
    on_client_runtime(measure(targets)).await
}

/// Loads a campaign of `events`, starts the real server over it and the bare one, and
/// makes an admin token; returns what the client needs, and the server's state.
async fn start(dir: &Path, events: usize) -> Result<(Targets, Arc<ApiState>)> {
    let (store, unit) = crate::load_campaign(dir, events).await?;
    let store = Arc::new(AnyStore::Sled(store));
    let ledger = Arc::new(taizhang_app::Ledger::open(store.clone(), &dir.join("master.key")).await?);
    let projector = Projector::open(store.clone(), None).await?;
    tokio::spawn(projector.clone().run());
    let pairs = unit_members(&projector);
    let state = Arc::new(ApiState::new(ledger, projector, PolicySet::built_in())?);
    let new = NewToken { name: "bench".into(), role: Role::Admin, units: vec![], lifetime: None };
    let token = state.tokens.create(store.as_ref(), new, time::OffsetDateTime::now_utc()).await?.secret;
    let limits = Limits::default();
    let schema = taizhang_api::schema(state.clone(), &limits);
    let taizhang = serve(taizhang_api::http::routes(schema, state.clone(), limits)).await?;
    let bare = serve(async_graphql_poem::GraphQL::new(bare_schema())).await?;
    report("http.events", store.head() as f64, "events", None);
    Ok((Targets { taizhang, bare, token: token.expose().to_owned(), unit, pairs }, state))
}

/// Runs the client on a runtime of its own, as another process would: it competes
/// with the servers for the cores, not for places in their task queues (where its
/// timers would wait behind the servers' work and count as their latency).
pub(crate) async fn on_client_runtime(
    work: impl std::future::Future<Output = Result<()>> + Send + 'static,
) -> Result<()> {
    let client = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("bench-client")
        .enable_all()
        .build()?;
    let measured = client.spawn(work).await;
    client.shutdown_background();
    measured?
}

/// The `mutations` scenario: the `http` scenario's latency phases alone, for a profile
/// of what a mutation costs: the servers' CPU per mutation, in all and by kind of
/// thread, and the threads' context switches per mutation, each beyond the idle phases'.
pub async fn mutations(dir: &Path, events: usize) -> Result<()> {
    let (targets, _state) = start(dir, events).await?;
    on_client_runtime(measure_mutations(targets)).await
}

async fn measure_mutations(targets: Targets) -> Result<()> {
    let Targets { taizhang, token, unit, pairs, .. } = targets;
    let taizhang = Arc::new(Client::new(taizhang, &token)?);
    let mut phases = Phases::new(taizhang, unit, pairs);
    phases.warm_up().await?;
    let measured = phases.measure(MUTATION_RATE, PHASES).await?;
    // The threads' time is counted over the busy phases only, while mutations are also
    // sent in each phase's lead: divide by those applied in the busy phases.
    let count = measured.mutations.rate() * measured.busy_cpu.seconds();
    for (kind, seconds) in &measured.threads {
        report(&format!("mutations.cpu.{kind}"), seconds * 1e6 / count, "core-µs", None);
    }
    report("mutations.applied", measured.mutations.rate(), "mutations/s", Some(MUTATION_RATE as f64));
    report("mutations.errors", measured.mutations.errors as f64, "requests", None);
    report("mutations.p99", measured.mutations.p99_ms(), "ms", None);
    report("mutations.read_p99", measured.busy.p99_ms(), "ms", Some(measured.idle.p99_ms()));
    report("mutations.busy_cpu", measured.busy_cpu.machine_percent(), "% of the cores", None);
    report("mutations.context_switches", measured.switches_per_mutation(), "per mutation", None);
    report("mutations", measured.cpu_per_mutation(), "core-µs", None);
    // The floor: the same phases with `{ __typename }` in place of the mutations, what
    // any request costs here (HTTP, the token, the engine) before it does anything.
    phases.instead = Some(Bytes::from(json!({ "query": "{ __typename }" }).to_string()));
    let floor = phases.measure(MUTATION_RATE, PHASES).await?;
    report("mutations.floor", floor.cpu_per_mutation(), "core-µs", None);
    Ok(())
}

/// Reads at a fixed rate in phases, idle and while mutations are applied, alternating,
/// so that a noisy neighbour or a slow minute hits both alike. Each busy phase starts
/// its mutations a little early, so that the reads meet them at their full rate.
struct Phases {
    client: Arc<Client>,
    reads: Arc<[Bytes]>,
    pairs: Vec<(UnitId, MemberId)>,
    /// Mutations sent so far: each registers a new outing.
    sent: u64,
    /// Sent in the busy phases instead of mutations, when set: the floor's request.
    instead: Option<Bytes>,
}

/// What the phases measured.
#[derive(Default)]
struct Measured {
    idle: Run,
    busy: Run,
    mutations: Run,
    idle_cpu: CpuUse,
    busy_cpu: CpuUse,
    /// Each kind of thread's CPU seconds in the busy phases less the idle ones'.
    threads: BTreeMap<String, f64>,
}

impl Measured {
    /// What a mutation costs the servers end to end (HTTP, GraphQL, the command path,
    /// the durable append, the projection, the answer): the servers' CPU in the busy
    /// phases beyond the idle ones' (the same reads in both), per mutation applied. The
    /// client's thread, which sends both, is left out.
    fn cpu_per_mutation(&self) -> f64 {
        (self.busy_cpu.server_cores() - self.idle_cpu.server_cores()) * 1e6 / self.mutations.rate()
    }

    fn switches_per_mutation(&self) -> f64 {
        let beyond_idle = self.busy_cpu.switches_per_second() - self.idle_cpu.switches_per_second();
        beyond_idle / self.mutations.rate().max(f64::MIN_POSITIVE)
    }
}

/// Adds to `threads` each kind's CPU time since `before`, times `sign`.
fn count_threads(threads: &mut BTreeMap<String, f64>, before: BTreeMap<String, Duration>, sign: f64) -> Result<()> {
    for (kind, time) in crate::cpu::by_thread()? {
        let since = time.saturating_sub(before.get(&kind).copied().unwrap_or_default());
        *threads.entry(kind).or_default() += sign * since.as_secs_f64();
    }
    Ok(())
}

impl Phases {
    fn new(client: Arc<Client>, unit: UnitId, pairs: Vec<(UnitId, MemberId)>) -> Self {
        let ledger_body =
            Bytes::from(json!({ "query": LEDGER_QUERY, "variables": { "unit": unit.to_string() } }).to_string());
        let reads = vec![ledger_body; requests(READ_RATE, ROUND) as usize].into();
        Phases { client, reads, pairs, sent: 0, instead: None }
    }

    /// Mutations at `rate` for `length`, sent from a task of their own.
    fn mutate(&mut self, rate: u64, length: Duration) -> tokio::task::JoinHandle<Result<Run>> {
        let count = requests(rate, length);
        let bodies: Arc<[Bytes]> = match &self.instead {
            Some(body) => vec![body.clone(); count as usize].into(),
            None => (self.sent..self.sent + count).map(|i| outing_mutation(&self.pairs, i)).collect(),
        };
        self.sent += count;
        tokio::spawn(open_loop(self.client.clone(), bodies, rate))
    }

    /// A round of mutations before the first phase: a long-running server has read its
    /// members' streams before (the command side keeps their state), and the phases are
    /// measured in that steady state.
    async fn warm_up(&mut self) -> Result<Run> {
        self.mutate(MUTATION_RATE, ROUND).await?
    }

    /// `pairs` of an idle phase and a busy one with mutations at `rate`.
    async fn measure(&mut self, rate: u64, pairs: usize) -> Result<Measured> {
        let mut measured = Measured::default();
        for _ in 0..pairs {
            let (mark, before) = (CpuMark::now()?, crate::cpu::by_thread()?);
            measured.idle.extend(open_loop(self.client.clone(), self.reads.clone(), READ_RATE).await?);
            measured.idle_cpu.add(&mark)?;
            count_threads(&mut measured.threads, before, -1.0)?;
            let applying = self.mutate(rate, ROUND + LEAD);
            tokio::time::sleep(LEAD).await;
            let (mark, before) = (CpuMark::now()?, crate::cpu::by_thread()?);
            measured.busy.extend(open_loop(self.client.clone(), self.reads.clone(), READ_RATE).await?);
            measured.busy_cpu.add(&mark)?;
            count_threads(&mut measured.threads, before, 1.0)?;
            measured.mutations.extend(applying.await??);
        }
        Ok(measured)
    }
}

/// The `abuse` scenario: a normal reader's ledger reads at 500/s and a clerk's
/// mutations at 500/s, in alternating phases: quiet, and while viewers send the
/// heaviest requests the limits allow in closed loops (two asking the largest report,
/// a total over every unit by week as far as the cells allow; two asking pages of 100
/// units with their parents) with 1,000 idle connections held open.
/// Reports the reader's p99 against the quiet phases', the mutations applied, and the
/// process's peak resident memory.
pub async fn abuse(dir: &Path, events: usize) -> Result<()> {
    let (targets, state) = start(dir, events).await?;
    let viewer = NewToken { name: "hostile".into(), role: Role::Viewer, units: vec![], lifetime: None };
    let viewer = state.tokens.create(state.store().as_ref(), viewer, time::OffsetDateTime::now_utc()).await?.secret;
    let units = state.projector.read(|m| m.units.len()) as u64;
    on_client_runtime(measure_abuse(targets, viewer.expose().to_owned(), units)).await
}

async fn measure_abuse(targets: Targets, viewer: String, units: u64) -> Result<()> {
    let Targets { taizhang, token, unit, pairs, .. } = targets;
    let reader = Arc::new(Client::new(taizhang, &token)?);
    let hostile = Arc::new(Client::new(taizhang, &viewer)?);
    let ledger_body =
        Bytes::from(json!({ "query": LEDGER_QUERY, "variables": { "unit": unit.to_string() } }).to_string());
    let weeks = (taizhang_read::report::MAX_CELLS / units.max(1)).min(taizhang_read::report::MAX_BUCKETS as u64);
    let last = time::macros::date!(2011 - 06 - 06) + time::Duration::weeks(weeks as i64) - time::Duration::days(1);
    let largest_report = format!(
        r#"{{ report(period: {{ first: "2011-06-06", last: "{last}" }}, bucket: WEEK, groupBy: TOTAL) {{ rows {{ outings }} }} }}"#
    );
    let heavy: [Bytes; 2] = [
        Bytes::from(json!({ "query": largest_report }).to_string()),
        Bytes::from(
            json!({ "query": "{ units(first: 100) { edges { node { id name region industry parent { name region industry } } } } }" })
                .to_string(),
        ),
    ];
    reader.post(heavy[0].clone()).await?; // within the limits: answered
    let mut idle_connections = Vec::new();
    for _ in 0..1_000 {
        idle_connections.push(tokio::net::TcpStream::connect(taizhang).await?);
    }
    report("abuse.report_weeks", weeks as f64, "weeks", None);

    let reads: Arc<[Bytes]> = vec![ledger_body; requests(READ_RATE, ROUND) as usize].into();
    let mut sent = 0;
    let mut mutate = || {
        let count = requests(READ_RATE, ROUND);
        let bodies: Arc<[Bytes]> = (sent..sent + count).map(|i| outing_mutation(&pairs, i)).collect();
        sent += count;
        tokio::spawn(open_loop(reader.clone(), bodies, READ_RATE))
    };
    let (mut quiet, mut attacked, mut mutations) = (Run::default(), Run::default(), Run::default());
    let mut heavy_answered = 0;
    for _ in 0..PHASES {
        let writes = mutate();
        quiet.extend(open_loop(reader.clone(), reads.clone(), READ_RATE).await?);
        mutations.extend(writes.await??);
        let stop = Instant::now() + ROUND;
        let abusers: Vec<_> = (0..4)
            .map(|i| {
                let (client, body) = (hostile.clone(), heavy[i % 2].clone());
                tokio::spawn(async move {
                    let mut answered = 0u64;
                    while Instant::now() < stop {
                        client.post(body.clone()).await?;
                        answered += 1;
                    }
                    anyhow::Ok(answered)
                })
            })
            .collect();
        let writes = mutate();
        attacked.extend(open_loop(reader.clone(), reads.clone(), READ_RATE).await?);
        mutations.extend(writes.await??);
        for abuser in abusers {
            heavy_answered += abuser.await??;
        }
    }
    drop(idle_connections);
    report("abuse.heavy_requests_answered", heavy_answered as f64, "requests", None);
    report("abuse.mutations_applied", mutations.rate(), "mutations/s", Some(READ_RATE as f64));
    report("abuse.mutation_errors", mutations.errors as f64, "requests", None);
    report("abuse.read_errors", (quiet.errors + attacked.errors) as f64, "requests", None);
    report("abuse", attacked.p99_ms(), "ms", Some(quiet.p99_ms()));
    let status = std::fs::read_to_string("/proc/self/status")?;
    let peak_kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmHWM in /proc/self/status")?;
    report("abuse.peak_resident_memory", peak_kib / 1024.0, "MiB", Some(ABUSE_MEMORY_BOUND_MIB));
    Ok(())
}

/// The `backup` scenario: a reader's ledger reads at 500/s in alternating phases, quiet
/// and while an admin takes the online backup of the whole log (`GET /backup`, read as
/// it streams, one after another for the phase). Reports the reader's p99 against the
/// quiet phases' and the backup's speed.
pub async fn backup(dir: &Path, events: usize) -> Result<()> {
    let (targets, state) = start(dir, events).await?;
    let head = state.store().head();
    on_client_runtime(measure_backup(targets, head)).await
}

async fn measure_backup(targets: Targets, head: u64) -> Result<()> {
    let Targets { taizhang, token, unit, .. } = targets;
    let reader = Arc::new(Client::new(taizhang, &token)?);
    let ledger_body =
        Bytes::from(json!({ "query": LEDGER_QUERY, "variables": { "unit": unit.to_string() } }).to_string());
    let reads: Arc<[Bytes]> = vec![ledger_body; requests(READ_RATE, ROUND) as usize].into();
    let (mut quiet, mut during, mut backups, mut backing_up) = (Run::default(), Run::default(), 0u64, Duration::ZERO);
    let mut bytes = 0;
    for _ in 0..PHASES {
        quiet.extend(open_loop(reader.clone(), reads.clone(), READ_RATE).await?);
        let stop = Instant::now() + ROUND;
        // The backup is taken by a client of its own, on a thread of its own, as another
        // process would: its reading of a gigabyte must not delay the reader's timers.
        // It runs at the priority `taizhang --server … export` gives itself.
        let backing = {
            let client = Client::new(taizhang, &token)?;
            std::thread::spawn(move || {
                taizhang_api::lower_priority();
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
                runtime.block_on(async move {
                    let (mut taken, mut bytes, started) = (0u64, 0usize, Instant::now());
                    while Instant::now() < stop {
                        bytes = client.download("/backup").await?;
                        taken += 1;
                    }
                    anyhow::Ok((taken, bytes, started.elapsed()))
                })
            })
        };
        during.extend(open_loop(reader.clone(), reads.clone(), READ_RATE).await?);
        let (taken, size, took) = backing.join().map_err(|_| anyhow::anyhow!("the backup thread panicked"))??;
        (backups, bytes, backing_up) = (backups + taken, size, backing_up + took);
    }
    report("backup.read_errors", (quiet.errors + during.errors) as f64, "requests", None);
    report("backup.taken", backups as f64, "backups", None);
    report("backup.bytes", bytes as f64, "bytes", None);
    let rate = (backups * head) as f64 / backing_up.as_secs_f64().max(1e-9);
    report("backup.events_per_second", rate, "events/s", None);
    report("backup", during.p99_ms(), "ms", Some(quiet.p99_ms()));
    Ok(())
}

/// What the client needs: the two servers, the token, the unit whose ledger it reads and
/// the members its mutations book outings for.
struct Targets {
    taizhang: SocketAddr,
    bare: SocketAddr,
    token: String,
    unit: UnitId,
    pairs: Vec<(UnitId, MemberId)>,
}

/// The client's side of the scenario: every figure it reports.
async fn measure(targets: Targets) -> Result<()> {
    let Targets { taizhang, bare, token, unit, pairs } = targets;
    // Every request carries the token, to both servers alike.
    let (taizhang, bare) = (Arc::new(Client::new(taizhang, &token)?), Arc::new(Client::new(bare, &token)?));
    let ledger_body =
        Bytes::from(json!({ "query": LEDGER_QUERY, "variables": { "unit": unit.to_string() } }).to_string());
    let bare_body = Bytes::from(json!({ "query": BARE_QUERY }).to_string());
    // Both answers carry 50 lines; check once that they are alike in size.
    let ledger_bytes = taizhang.post(ledger_body.clone()).await?;
    let bare_bytes = bare.post(bare_body.clone()).await?;
    report("http.ledger_response_bytes", ledger_bytes as f64, "bytes", Some(bare_bytes as f64));

    closed_loop(&bare, &bare_body, Duration::from_secs(1)).await?;
    closed_loop(&taizhang, &ledger_body, Duration::from_secs(1)).await?;
    let (mut bare_run, mut ledger_run) = (Run::default(), Run::default());
    for round in 0..ROUNDS {
        if round % 2 == 0 {
            bare_run.extend(closed_loop(&bare, &bare_body, ROUND_LENGTH).await?);
        }
        ledger_run.extend(closed_loop(&taizhang, &ledger_body, ROUND_LENGTH).await?);
        if round % 2 == 1 {
            bare_run.extend(closed_loop(&bare, &bare_body, ROUND_LENGTH).await?);
        }
    }
    report("http.ledger_p99", ledger_run.p99_ms(), "ms", Some(bare_run.p99_ms()));
    report("http", ledger_run.rate(), "req/s", Some(bare_run.rate()));

    // Reads at a fixed rate, idle and while 5,000 mutations per second are applied.
    let mut phases = Phases::new(taizhang, unit, pairs);
    let warm_up = phases.warm_up().await?;
    let mut measured = phases.measure(MUTATION_RATE, PHASES).await?;
    measured.mutations.extend(warm_up);
    let mutations = &measured.mutations;
    report("http.mutations_applied", mutations.rate(), "mutations/s", Some(MUTATION_RATE as f64));
    report("http.mutation_errors", mutations.errors as f64, "requests", None);
    report("http.mutation_p99", mutations.p99_ms(), "ms", None);
    report("http.read_p99_under_mutations", measured.busy.p99_ms(), "ms", Some(measured.idle.p99_ms()));
    // How much of the cores the phases used. Near 100 % under mutations, reads queue
    // for a core whatever the server does, and the read ratio above then measures the
    // machine's headroom more than the server.
    let (idle_cpu, busy_cpu) = (&measured.idle_cpu, &measured.busy_cpu);
    report("http.busy_cpu", busy_cpu.machine_percent(), "% of the cores", Some(idle_cpu.machine_percent()));
    report("http.busy_client_cpu", busy_cpu.client_percent(), "% of the process's CPU", None);
    report("http.cpu_per_mutation", measured.cpu_per_mutation(), "core-µs", None);

    // The saturation point: the highest of these mutation rates up to which reads' p99
    // stays within twice the idle p99 measured beside it (two alternating idle and busy
    // phases per rate, pooled, lowest rate first; the sweep stops at the first rate that fails,
    // so that one lucky phase above a failing one does not count).
    let mut saturation = 0;
    for rate in SWEEP {
        let swept = phases.measure(rate, SWEEP_PAIRS).await?;
        let ratio = swept.busy.p99_ms() / swept.idle.p99_ms();
        report(&format!("http.read_p99_ratio_at_{rate}"), ratio, "× idle", None);
        if ratio > 2.0 || swept.mutations.rate() < rate as f64 * 0.95 {
            break;
        }
        saturation = rate;
    }
    report("http.saturation_point", saturation as f64, "mutations/s", None);
    Ok(())
}

/// For each unit, one of its members: the mutations register outings for them.
fn unit_members(projector: &Projector<AnyStore>) -> Vec<(UnitId, MemberId)> {
    projector.read(|m| m.unit_members.iter().filter_map(|(u, members)| Some((*u, *members.first()?))).collect())
}

/// The `i`-th mutation: an hour's outing for one member of one unit, each member's
/// outings in July at three-hour steps, so that no rule refuses them.
fn outing_mutation(pairs: &[(UnitId, MemberId)], i: u64) -> Bytes {
    let (unit, member) = pairs[i as usize % pairs.len()];
    let k = i / pairs.len() as u64;
    let date = time::macros::date!(2011 - 07 - 01) + time::Duration::days((k / 8) as i64);
    let start = (k % 8) * 3;
    let query = "mutation($input: RegisterOutingInput!) { registerOuting(input: $input) { receipt { position } } }";
    json!({ "query": query, "variables": { "input": {
        "unit": unit.to_string(),
        "details": { "date": date.to_string(), "start": format!("{start:02}:00"), "end": format!("{start:02}:50"),
                     "place": "十堰市便民服务中心", "category": "志愿服务" },
        "participants": [{ "member": member.to_string() }],
    } } })
    .to_string()
    .into()
}

pub(crate) async fn serve(endpoint: impl poem::IntoEndpoint<Endpoint: 'static> + Send + 'static) -> Result<SocketAddr> {
    let acceptor = TcpListener::bind("127.0.0.1:0").into_acceptor().await?;
    let address = *acceptor.local_addr().first().and_then(|a| a.as_socket_addr()).context("no address")?;
    tokio::spawn(poem::Server::new_with_acceptor(acceptor).run(endpoint));
    Ok(address)
}

/// Latencies and errors of one run.
#[derive(Default)]
struct Run {
    latencies: Vec<Duration>,
    elapsed: Duration,
    errors: u64,
}

impl Run {
    fn extend(&mut self, other: Run) {
        self.latencies.extend(other.latencies);
        self.elapsed += other.elapsed;
        self.errors += other.errors;
    }

    fn rate(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }

    fn p99_ms(&self) -> f64 {
        let mut sorted = self.latencies.clone();
        sorted.sort();
        let i = (sorted.len() * 99 / 100).min(sorted.len().saturating_sub(1));
        sorted.get(i).map_or(0.0, |d| d.as_secs_f64() * 1e3)
    }
}

/// `CONNECTIONS` clients, each sending the next request when the last is answered.
async fn closed_loop(client: &Arc<Client>, body: &Bytes, length: Duration) -> Result<Run> {
    let started = Instant::now();
    let deadline = started + length;
    let tasks: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            let (client, body) = (client.clone(), body.clone());
            tokio::spawn(async move {
                let mut run = Run::default();
                while Instant::now() < deadline {
                    let sent = Instant::now();
                    match client.post(body.clone()).await {
                        Ok(_) => run.latencies.push(sent.elapsed()),
                        Err(_) => run.errors += 1,
                    }
                }
                run
            })
        })
        .collect();
    let mut total = Run::default();
    for t in tasks {
        total.extend(t.await?);
    }
    total.elapsed = started.elapsed();
    anyhow::ensure!(total.errors == 0, "{} requests failed", total.errors);
    Ok(total)
}

/// `bodies` at a fixed `rate` per second, whatever the answers take; latency counts
/// from the moment each request was due, so a stalled server cannot hide its queue.
async fn open_loop(client: Arc<Client>, bodies: Arc<[Bytes]>, rate: u64) -> Result<Run> {
    let started = Instant::now();
    let errors = Arc::new(AtomicU64::new(0));
    // Requests wait for a connection beyond this, and their wait counts as latency.
    let connections = Arc::new(tokio::sync::Semaphore::new(1024));
    let mut tasks = Vec::with_capacity(bodies.len());
    for (i, body) in bodies.iter().enumerate() {
        let due = started + Duration::from_secs_f64(i as f64 / rate as f64);
        tokio::time::sleep_until(due.into()).await;
        let (client, body, errors) = (client.clone(), body.clone(), errors.clone());
        let connections = connections.clone();
        tasks.push(tokio::spawn(async move {
            let _connection = connections.acquire().await.expect("never closed");
            match client.post(body).await {
                Ok(_) => Some(due.elapsed()),
                Err(e) => {
                    if errors.fetch_add(1, Ordering::Relaxed) == 0 {
                        eprintln!("first failed request: {e:#}");
                    }
                    None
                }
            }
        }));
    }
    let mut run = Run::default();
    for t in tasks {
        run.latencies.extend(t.await?);
    }
    run.elapsed = started.elapsed();
    run.errors = errors.load(Ordering::Relaxed);
    Ok(run)
}

/// How many requests `rate` per second sends in `length`.
fn requests(rate: u64, length: Duration) -> u64 {
    (rate as f64 * length.as_secs_f64()) as u64
}

/// The baseline: 50 objects from memory, shaped like a ledger page.
fn bare_schema() -> Schema<BareQuery, EmptyMutation, EmptySubscription> {
    let line = |i: usize| BareLine {
        hours: "4.50".into(),
        running_recorded_hours: format!("{}.50", i * 4),
        outing: BareOuting {
            id: uuid::Uuid::now_v7().to_string(),
            date: "2011-06-04".into(),
            start: "08:00".into(),
            end: "09:30".into(),
            place: "茅箭区武当路社区".into(),
            category: "义诊".into(),
            verified: i % 4 == 0,
        },
    };
    let page = BarePage { edges: (0..50).map(|i| BareEdge { node: line(i) }).collect() };
    Schema::new(BareQuery(page), EmptyMutation, EmptySubscription)
}

struct BareQuery(BarePage);

#[Object]
impl BareQuery {
    async fn unit_ledger(&self) -> BarePage {
        self.0.clone()
    }
}

#[derive(SimpleObject, Clone)]
struct BarePage {
    edges: Vec<BareEdge>,
}

#[derive(SimpleObject, Clone)]
struct BareEdge {
    node: BareLine,
}

#[derive(SimpleObject, Clone)]
struct BareLine {
    hours: String,
    running_recorded_hours: String,
    outing: BareOuting,
}

#[derive(SimpleObject, Clone)]
struct BareOuting {
    id: String,
    date: String,
    start: String,
    end: String,
    place: String,
    category: String,
    verified: bool,
}
