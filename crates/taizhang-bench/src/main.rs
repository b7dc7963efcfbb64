//! taizhang benchmark scenarios. `cargo run --release -p taizhang-bench -- <scenario>`
//! prints one JSON object per line: `name`, `value`, `unit`, and where the figure
//! compares, `baseline` and `ratio`. The line named after the scenario is its headline.
//! Every baseline runs in the same process, on the same disk, just before or after the
//! figure it is compared with, because these machines are shared and noisy. Data goes
//! to a temporary directory under `TAIZHANG_BENCH_DIR` (default: the working directory);
//! with `TAIZHANG_BENCH_KEEP` set it is kept, for a closer look afterwards.
//!
//! Scenarios:
//! - `append`: durable single-event commands from 64 concurrent writers; baselines: an
//!   fdatasync loop, raw sled inserts with `flush()` (sled's own, not durable) and with
//!   `flush()` plus `fsync`.
//! - `import`: bulk commands (an outing and its three bookings each), durable at the
//!   end; baseline: raw sled batches of the same bytes; also bytes on disk per event.
//! - `scan`: read the whole log and decode every event; baseline: raw sled iteration.
//! - `rebuild`: all projections from the first event; baseline: the scan (read and
//!   decode) of the same log; also the resident bytes per event (median of three fresh
//!   processes, with their spread).
//! - `append --store postgres://…` and `scan --store postgres://…`: the PostgreSQL
//!   backend. `append`: durable single-event commands from three stores ("servers")
//!   sharing one schema, 64 writers; baseline: a pgbench-like loop of single-row
//!   INSERT commits from 16 connections, alternating with the appends in three rounds.
//!   `scan`: catch-up reading; baseline: the raw `SELECT` of the same rows.
//! - `ledger`: a unit-ledger page of 50 and a unit report at a small log (100 k events)
//!   and at `--events N`, timed in alternating rounds; the ratio of their medians shows
//!   whether cost grows with the log. Every unit has the same size at both scales.
//! - `http`: the API server over a campaign log of `--events N` against a bare
//!   async-graphql server returning 50 in-memory objects of the same shape (same HTTP
//!   stack, same client, 64 connections, six alternating 2-second rounds each):
//!   requests per second and p99 of a unit-ledger page of 50; then the p99 of reads
//!   at 500/s, idle and while 5,000 `registerOuting` mutations per second are sent,
//!   in four alternating 3-second phases of each; the CPU a mutation costs; and the
//!   saturation point, the highest of 1,000 … 6,000 mutations/s up to which reads'
//!   p99 stays within twice the idle phase's just before.
//! - `mutations`: the `http` scenario's latency phases alone (reads at 500/s, idle and
//!   with 5,000 `registerOuting`/s, over `--events N`, 300 k by default), for a profile:
//!   the servers' CPU per mutation, in all and by kind of thread, the context switches
//!   per mutation, and the reads' p99 against the idle phases'; then the same phases
//!   with `{ __typename }` in place of the mutations (`mutations.floor`: what any
//!   request costs before it does anything).
//! - `backup`: over the same log of a million events, the p99 of reads at 500/s while
//!   an admin takes online backups (`GET /backup`, one after another), against the
//!   quiet phases' in the same run, in four alternating 3-second phases of each; and
//!   the backup's speed in events per second.
//! - `demo`: the sample campaign at scale 1 through the command path (ordered batches);
//!   baseline: the same number of single-event durable appends straight to the store
//!   from 64 writers, in the same run — what the commands cost beyond storage.
//! - `award`: the award list of the whole sample campaign (every member, 58,000) under
//!   `star-volunteer` for June 2011, names opened and CSV written; baseline: the export
//!   of every member's record (their personal data opened, CSV written), same run. Then
//!   the half-year's star boards of every unit and every member, a page as a server
//!   answers it while outings and transfers keep arriving, from the board kept at the
//!   head; baseline: the same page from a board assessed whole, in the same round.
//! - `round`: a look-back round's report (in total and by region) over a city of 5,800
//!   units with three items each, most assessed, about 2,500 renewed, and opinions, at
//!   a log of 100 k events and at `--events N` (the same round, the log padded with the
//!   units' outings), timed in alternating rounds; the ratio shows whether the cost
//!   grows with the log.
//! - (`demo` then projects the log and publishes the boards and decides the sample's
//!   720 recognitions on them, `demo.projected` and `demo.recognitions`.)
//! - `csv`: `taizhang import` of the three CSV files of a city (5,800 units, ten
//!   members each, four outings a unit with three participants: 133,400 rows), each
//!   read, checked in full and written; rows per second, with the raw appends of the
//!   same number of commands as the baseline; then 116,000 ballots of an evaluation of
//!   the units (`csv.ballots`), against as many raw appends.
//! - `certificate`: a member with 200 verified outings; the median time to issue a
//!   certificate covering them all (read, sign, check every line, durable append);
//!   baseline: one durable single-event command, alternating in the same run; then
//!   offline verifications of that certificate per second on one core.
//! - `web`: the public notice board over the sample campaign: a unit's page per second
//!   against the same data as one GraphQL query, the page answered from its validator
//!   (304) against the page itself, and the page's weight.
#![forbid(unsafe_code)]

mod board;
mod certificate;
mod client;
mod cpu;
mod csv_import;
mod http;
mod pg;
mod round;
mod web;
mod workload;

/// The same allocator as the `taizhang` binary, so memory figures are the server's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use serde_json::json;
use taizhang_core::{Actor, UnitId};
use taizhang_store::{AppendRequest, EventStore, ExpectedVersion, NewEvent, SledStore};
use tokio::sync::Semaphore;
use uuid::Uuid;

pub(crate) fn report(name: &str, value: f64, unit: &str, baseline: Option<f64>) {
    let mut line = json!({ "name": name, "value": round(value), "unit": unit });
    if let Some(b) = baseline {
        line["baseline"] = json!(round(b));
        line["ratio"] = json!((value / b * 1000.0).round() / 1000.0);
    }
    println!("{line}");
    let _ = std::io::stdout().flush();
}

fn round(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

pub(crate) fn rate(n: usize, elapsed: Duration) -> f64 {
    n as f64 / elapsed.as_secs_f64()
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let scenario = args.first().map(String::as_str).unwrap_or("");
    let count = |default: usize| {
        args.iter()
            .position(|a| a == "--events")
            .and_then(|i| args.get(i + 1))
            .and_then(|n| n.parse().ok())
            .unwrap_or(default)
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let dir = tempfile::tempdir_in(std::env::var_os("TAIZHANG_BENCH_DIR").unwrap_or_else(|| ".".into()))?;
    // TAIZHANG_BENCH_KEEP keeps the data for a closer look afterwards.
    let (_cleanup, dir) = if std::env::var_os("TAIZHANG_BENCH_KEEP").is_some() {
        let kept = dir.keep();
        eprintln!("keeping {}", kept.display());
        (None, kept)
    } else {
        let path = dir.path().to_owned();
        (Some(dir), path)
    };
    let pg_url =
        args.iter().position(|a| a == "--store").and_then(|i| args.get(i + 1)).filter(|u| u.starts_with("postgres"));
    if let Some(url) = pg_url {
        return match scenario {
            "append" => runtime.block_on(pg::append(url, count(60_000))),
            "scan" => runtime.block_on(pg::scan(url, count(300_000))),
            other => bail!("scenario {other:?} has no PostgreSQL variant; expected append or scan"),
        };
    }
    match scenario {
        "append" => runtime.block_on(append(&dir, count(60_000))),
        "import" => runtime.block_on(import(&dir, count(400_000))),
        "scan" => runtime.block_on(scan(&dir, count(1_000_000))),
        "rebuild" => runtime.block_on(rebuild(&dir, count(1_000_000))),
        "rebuild-measure" => {
            runtime.block_on(rebuild_measure(Path::new(args.get(1).map(String::as_str).unwrap_or("."))))
        }
        "ledger" => runtime.block_on(ledger(&dir, count(1_000_000))),
        "http" => runtime.block_on(http::http(&dir, count(1_000_000))),
        "mutations" => runtime.block_on(http::mutations(&dir, count(300_000))),
        "abuse" => runtime.block_on(http::abuse(&dir, count(1_000_000))),
        "backup" => runtime.block_on(http::backup(&dir, count(1_000_000))),
        "demo" => runtime.block_on(demo(&dir)),
        "award" => runtime.block_on(award(&dir)),
        "round" => round::run(count(10_000_000)),
        "csv" => runtime.block_on(csv_import::csv(&dir)),
        "certificate" => runtime.block_on(certificate::certificate(&dir)),
        "web" => runtime.block_on(web::web(&dir)),
        other => bail!(
            "unknown scenario {other:?}; expected append, import, scan, rebuild, ledger, http, mutations, abuse, backup, demo, award, round, csv, certificate or web"
        ),
    }
}

/// One request per event, as a clerk's single command would be.
/// Reads the whole log, decoded, `page` events at a time; returns events per second.
pub(crate) async fn scan_rate<S: EventStore>(store: &S, events: usize, page: usize) -> Result<f64> {
    let start = Instant::now();
    let mut position = 1;
    let mut seen = 0;
    loop {
        let batch = store.read_all(position, page).await?;
        let Some(last) = batch.last() else { break };
        position = last.position + 1;
        seen += batch.len();
    }
    let elapsed = start.elapsed();
    assert_eq!(seen, events, "the scan read every event");
    Ok(rate(seen, elapsed))
}

pub(crate) fn single(event: NewEvent) -> AppendRequest {
    AppendRequest {
        command_id: Uuid::now_v7(),
        actor: Actor::OPERATOR,
        correlation_id: None,
        causation_id: None,
        recorded_at: None,
        subject_key: None,
        expectations: vec![(event.payload.stream(), ExpectedVersion::Any)],
        events: vec![event],
    }
}

/// 300-byte writes, each followed by fdatasync: what one durable write costs this disk.
fn fdatasync_loop(dir: &Path, for_time: Duration) -> Result<f64> {
    let mut file = std::fs::File::create(dir.join("fdatasync-baseline"))?;
    let record = [7u8; 300];
    let start = Instant::now();
    let mut n = 0;
    while start.elapsed() < for_time {
        file.write_all(&record)?;
        file.sync_data()?;
        n += 1;
    }
    Ok(rate(n, start.elapsed()))
}

/// Raw sled: insert each record, then `flush()` and optionally fsync the db file.
fn sled_per_insert(dir: &Path, records: &[Vec<u8>], fsync: bool) -> Result<f64> {
    let path = dir.join(if fsync { "sled-fsync" } else { "sled-flush" });
    let db = sled::Config::new().path(&path).flush_every_ms(None).open()?;
    let file = std::fs::File::open(path.join("db"))?;
    let start = Instant::now();
    let mut n = 0;
    for (i, record) in records.iter().enumerate() {
        db.insert((i as u64).to_be_bytes(), record.as_slice())?;
        db.flush()?;
        if fsync {
            file.sync_data()?;
        }
        n += 1;
        if start.elapsed() > Duration::from_secs(3) {
            break;
        }
    }
    Ok(rate(n, start.elapsed()))
}

async fn append(dir: &Path, events: usize) -> Result<()> {
    let fsync_rate = fdatasync_loop(dir, Duration::from_secs(2))?;
    report("append.fdatasync_loop", fsync_rate, "writes/s", None);

    let store = Arc::new(SledStore::open(&dir.join("store"))?);
    let workload = workload::events(events);
    let writers = 64;
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let shared = Arc::new(workload);
    let start = Instant::now();
    let tasks: Vec<_> = (0..writers)
        .map(|_| {
            let (store, next, shared) = (store.clone(), next.clone(), shared.clone());
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(event) = shared.get(i) else { return Ok::<_, anyhow::Error>(()) };
                    store.append(single(event.clone())).await?;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await??;
    }
    let append_rate = rate(events, start.elapsed());

    let raw: Vec<Vec<u8>> = store.read_raw(1, 20_000).await?.into_iter().map(|r| r.bytes).collect();
    let flush_only = sled_per_insert(dir, &raw, false)?;
    let flush_fsync = sled_per_insert(dir, &raw, true)?;
    report("append.sled_flush_only_not_durable", flush_only, "inserts/s", None);
    report("append.sled_flush_fsync", flush_fsync, "inserts/s", None);
    report("append", append_rate, "commands/s", Some(fsync_rate));
    Ok(())
}

async fn import(dir: &Path, events: usize) -> Result<()> {
    let store = Arc::new(SledStore::open(&dir.join("store"))?);
    let commands = workload::commands(events);
    let total: usize = commands.iter().map(|c| c.events.len()).sum();
    // Up to 4096 commands in flight: the writer takes them as large group commits, and
    // the import is durable when the last one returns.
    let in_flight = Arc::new(Semaphore::new(4096));
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(commands.len());
    for command in commands {
        let permit = in_flight.clone().acquire_owned().await?;
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let result = store.append(command).await;
            drop(permit);
            result
        }));
    }
    for t in tasks {
        t.await??;
    }
    let import_rate = rate(total, start.elapsed());

    let raw = store.read_raw(1, usize::MAX).await?;
    drop(store);
    let disk = dir_size(&dir.join("store"))?;

    let path = dir.join("raw-sled");
    let db = sled::Config::new().path(&path).flush_every_ms(None).open()?;
    let start = Instant::now();
    for chunk in raw.chunks(1000) {
        let mut batch = sled::Batch::default();
        for r in chunk {
            batch.insert(&r.position.to_be_bytes(), r.bytes.as_slice());
        }
        db.apply_batch(batch)?;
    }
    db.flush()?;
    std::fs::File::open(path.join("db"))?.sync_data()?;
    let raw_rate = rate(raw.len(), start.elapsed());
    drop(db);
    let raw_disk = dir_size(&path)?;
    let record_bytes = raw.iter().map(|r| r.bytes.len()).sum::<usize>() as f64 / raw.len() as f64;

    report("import.record_bytes_per_event", record_bytes, "bytes", None);
    report("import.disk_bytes_per_event", disk as f64 / total as f64, "bytes", Some(raw_disk as f64 / total as f64));
    report("import.sled_raw_batches", raw_rate, "events/s", None);
    report("import", import_rate, "events/s", Some(raw_rate));
    Ok(())
}

async fn scan(dir: &Path, events: usize) -> Result<()> {
    let store = SledStore::open(&dir.join("store"))?;
    let workload = workload::events(events);
    for chunk in workload.chunks(1000) {
        // Loading is not what is measured: one request of 1000 events per commit.
        let request = AppendRequest {
            command_id: Uuid::now_v7(),
            actor: Actor::OPERATOR,
            correlation_id: None,
            causation_id: None,
            recorded_at: None,
            subject_key: None,
            expectations: vec![],
            events: chunk.to_vec(),
        };
        store.append(request).await?;
    }
    let raw = store.read_raw(1, usize::MAX).await?;
    drop(store);

    // Opening reads every envelope to rebuild the stream index: a scan of its own.
    let start = Instant::now();
    let store = SledStore::open(&dir.join("store"))?;
    let open_rate = rate(events, start.elapsed());

    let scan_rate = scan_rate(&store, events, 10_000).await?;

    // Baseline: the same record bytes, one sled key each, iterated after a reopen and
    // a first pass, as the store's own scan is (its open made the first pass).
    {
        let tree = sled::open(dir.join("raw-scan"))?;
        for r in &raw {
            tree.insert(r.position.to_be_bytes(), r.bytes.as_slice())?;
        }
        tree.flush()?;
    }
    let tree = sled::open(dir.join("raw-scan"))?;
    let iterate = || -> Result<usize> {
        let mut bytes = 0;
        for entry in tree.iter() {
            bytes += entry?.1.len();
        }
        Ok(bytes)
    };
    iterate()?;
    let start = Instant::now();
    let bytes = iterate()?;
    let raw_rate = rate(events, start.elapsed());
    assert!(bytes > 0);

    report("scan.open_rebuilding_index", open_rate, "events/s", None);
    report("scan.sled_raw_iteration", raw_rate, "events/s", None);
    report("scan", scan_rate, "events/s", Some(raw_rate));
    Ok(())
}

/// Outings per unit in the campaign workload: enough for a full 50-entry ledger page.
const OUTINGS_PER_UNIT: usize = 60;

/// Loads a campaign of about `events` events; returns the store and the first unit.
pub(crate) async fn load_campaign(path: &Path, events: usize) -> Result<(Arc<SledStore>, UnitId)> {
    let store = Arc::new(SledStore::open(path)?);
    let in_flight = Arc::new(Semaphore::new(2048));
    let mut first_unit = None;
    let mut tasks = Vec::new();
    let mut index = 0;
    // 11 setup events, then per outing 1 registration, 3 bookings and a quarter verification.
    let per_unit = 11 + OUTINGS_PER_UNIT * 4 + OUTINGS_PER_UNIT / 4;
    while index * per_unit < events {
        for command in workload::campaign_unit(index, OUTINGS_PER_UNIT) {
            if first_unit.is_none() {
                if let Some(taizhang_core::DomainEvent::UnitRegistered(u)) = command.events.first().map(|e| &e.payload)
                {
                    first_unit = Some(u.unit);
                }
            }
            let permit = in_flight.clone().acquire_owned().await?;
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let r = store.append(command).await;
                drop(permit);
                r
            }));
        }
        index += 1;
    }
    for t in tasks {
        t.await??;
    }
    Ok((store, first_unit.expect("at least one unit")))
}

/// Resident memory of this process, from /proc, after giving the allocator a moment
/// to return what was freed (mimalloc purges freed pages after a short delay).
fn resident_bytes() -> Result<u64> {
    std::thread::sleep(Duration::from_millis(300));
    drop(std::hint::black_box(vec![0u8; 64]));
    let statm = std::fs::read_to_string("/proc/self/statm")?;
    let pages: u64 = statm.split_whitespace().nth(1).unwrap_or("0").parse()?;
    Ok(pages * 4096)
}

/// Fresh processes that measure a rebuild's memory (see [`rebuild`]).
const MEMORY_RUNS: usize = 3;

async fn rebuild(dir: &Path, events: usize) -> Result<()> {
    let path = dir.join("store");
    let (store, _) = load_campaign(&path, events).await?;
    drop(store);
    // Memory is measured in a fresh process that only opens the log and projects it,
    // as a restarted server does; this one is full of the load's freed buffers.
    // Resident memory varies from process to process (where the allocator's threads
    // left freed pages): three processes, the median one reported, and the spread.
    let mut runs = Vec::new();
    for _ in 0..MEMORY_RUNS {
        let out = std::process::Command::new(std::env::current_exe()?).arg("rebuild-measure").arg(&path).output()?;
        if !out.status.success() {
            bail!("rebuild-measure failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        let text = String::from_utf8(out.stdout)?;
        let process_bytes = text
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|v| v["name"] == "rebuild.process_resident_bytes_per_event")
            .and_then(|v| v["value"].as_f64())
            .context("rebuild-measure reported no resident memory")?;
        runs.push((process_bytes, text));
    }
    runs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let spread = runs[runs.len() - 1].0 - runs[0].0;
    let (_, median) = &runs[runs.len() / 2];
    print!("{median}");
    report("rebuild.process_resident_spread_bytes_per_event", spread, "bytes", None);
    Ok(())
}

/// The second half of `rebuild`, in its own process.
async fn rebuild_measure(path: &Path) -> Result<()> {
    let start_rss = resident_bytes()?;
    let start = Instant::now();
    let store = Arc::new(SledStore::open(path)?);
    let open_seconds = start.elapsed().as_secs_f64();
    let n = store.head() as usize;
    let after_open = resident_bytes()?;

    let start = Instant::now();
    let mut model = taizhang_read::ReadModel::default();
    taizhang_read::catch_up(&store, &mut model, store.head()).await?;
    let elapsed = start.elapsed();
    let after_model = resident_bytes()?;
    assert_eq!(model.position as usize, n);

    let start = Instant::now();
    let mut position = 1;
    while let Some(last) = store.read_all(position, 8192).await?.last() {
        position = last.position + 1;
    }
    let scan_rate = rate(n, start.elapsed());

    report("rebuild.events", n as f64, "events", None);
    report("rebuild.open_seconds", open_seconds, "s", None);
    report("rebuild.seconds", elapsed.as_secs_f64(), "s", None);
    report(
        "rebuild.store_resident_bytes_per_event",
        after_open.saturating_sub(start_rss) as f64 / n as f64,
        "bytes",
        None,
    );
    report(
        "rebuild.model_resident_bytes_per_event",
        after_model.saturating_sub(after_open) as f64 / n as f64,
        "bytes",
        None,
    );
    report("rebuild.process_resident_bytes_per_event", after_model as f64 / n as f64, "bytes", None);
    report("rebuild", rate(n, elapsed), "events/s", Some(scan_rate));
    drop(model);
    Ok(())
}

/// The time of each of `runs` runs of `f`, in microseconds.
pub(crate) fn sample_micros(runs: usize, mut f: impl FnMut()) -> Vec<f64> {
    (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64() * 1e6
        })
        .collect()
}

pub(crate) fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

async fn ledger(dir: &Path, events: usize) -> Result<()> {
    use taizhang_read::ledger::{unit_ledger, PageRequest};
    use taizhang_read::report::{report as unit_report, Bucket, GroupBy, ReportQuery, Scope};
    use taizhang_read::AsOf;

    let query = |unit| ReportQuery {
        period: taizhang_core::Period::month(2011, time::Month::June).expect("June is a month"),
        scope: Scope::Unit(unit),
        group_by: GroupBy::Unit,
        bucket: Bucket::Week,
        as_of: AsOf::now(),
    };
    let page = PageRequest { offset: 0, limit: 50 };
    let mut models = Vec::new();
    for (label, size) in [("small", 100_000), ("large", events)] {
        let (store, unit) = load_campaign(&dir.join(label), size).await?;
        let mut model = taizhang_read::ReadModel::default();
        taizhang_read::catch_up(&store, &mut model, store.head()).await?;
        let entries = unit_ledger(&model, unit, &AsOf::now(), page).map_or(0, |p| p.entries.len());
        assert_eq!(entries, 50);
        models.push((model, unit));
    }
    // A query takes microseconds, so a burst of them is at the mercy of one scheduler
    // hiccup: the two sizes are timed in alternating rounds and every sample pooled.
    let mut samples = [[Vec::new(), Vec::new()], [Vec::new(), Vec::new()]];
    for _ in 0..LEDGER_ROUNDS {
        for ((model, unit), [ledger_us, report_us]) in models.iter().zip(samples.iter_mut()) {
            ledger_us.extend(sample_micros(201, || {
                std::hint::black_box(unit_ledger(model, *unit, &AsOf::now(), page));
            }));
            report_us.extend(sample_micros(201, || {
                std::hint::black_box(unit_report(model, &query(*unit)));
            }));
        }
    }
    let [[small_ledger, small_report], [large_ledger, large_report]] = samples.map(|s| s.map(median));
    report("ledger.small_events", models[0].0.position as f64, "events", None);
    report("ledger.large_events", models[1].0.position as f64, "events", None);
    report("ledger.unit_report", large_report, "µs", Some(small_report));
    report("ledger", large_ledger, "µs", Some(small_ledger));
    Ok(())
}

/// Rounds of the `ledger` scenario (each times both sizes).
const LEDGER_ROUNDS: usize = 25;

async fn demo(dir: &Path) -> Result<()> {
    let store = Arc::new(SledStore::open(&dir.join("demo"))?);
    let ledger = Arc::new(taizhang_app::Ledger::open(store.clone(), &dir.join("master.key")).await?);
    let plan = taizhang_app::demo::plan(1.0, 2011);
    let commands = plan.commands.len();
    let started = Instant::now();
    taizhang_app::demo::load(&ledger, plan, |_| {}).await?;
    let elapsed = started.elapsed();
    let events = store.head() as usize;
    let raw_rate = raw_appends(&dir.join("raw"), commands).await?;
    report("demo.events", events as f64, "events", None);
    report("demo.seconds", elapsed.as_secs_f64(), "s", None);
    report("demo", rate(commands, elapsed), "commands/s", Some(raw_rate));
    // Then the recognitions, decided on the boards the read side computes: the
    // projection of the whole log first (its own line), then the two boards published
    // and the 720 nominations and decisions.
    let started = Instant::now();
    let projector = taizhang_read::Projector::open(store.clone(), None).await?;
    let follower = tokio::spawn(projector.clone().run());
    projector.wait_for(store.head(), Duration::from_secs(600)).await?;
    report("demo.projected", started.elapsed().as_secs_f64(), "s", None);
    let started = Instant::now();
    let half_year = taizhang_core::HalfYear { year: 2011, half: 1 };
    let done = taizhang_io::sample::recognise(&ledger, &projector, half_year, 2011).await?;
    report("demo.recognitions", started.elapsed().as_secs_f64(), "s", None);
    report("demo.recognitions.decided", done.decided as f64, "decisions", None);
    follower.abort();
    Ok(())
}

async fn award(dir: &Path) -> Result<()> {
    let store = Arc::new(SledStore::open(&dir.join("demo"))?);
    let ledger = Arc::new(taizhang_app::Ledger::open(store.clone(), &dir.join("master.key")).await?);
    taizhang_app::demo::load(&ledger, taizhang_app::demo::plan(1.0, 2011), |_| {}).await?;
    let projector = taizhang_read::Projector::open(store.clone(), None).await?;
    let policies = taizhang_read::policy::PolicySet::load(None)?;
    let policy = policies.get("star-volunteer")?;
    let june = taizhang_core::Period::new(time::macros::date!(2011 - 06 - 01), time::macros::date!(2011 - 06 - 30))?;

    let started = Instant::now();
    let (members, now) = (taizhang_io::Kind::Members, taizhang_read::AsOf::now());
    let members_csv = taizhang_io::export::records_file(&ledger, &projector, members, &now, |_, _| true).await?;
    let baseline = started.elapsed();

    let started = Instant::now();
    let scope = taizhang_read::report::Scope::All;
    let list = taizhang_io::export::award_list_csv(&ledger, &projector, policy, &scope, june, |_, _| true).await?;
    let elapsed = started.elapsed();
    let rows = list.iter().filter(|b| **b == b'\n').count() - 1;
    let members = members_csv.iter().filter(|b| **b == b'\n').count() - 1;
    report("award.members", rows as f64, "rows", Some(members as f64));
    report("award.bytes", list.len() as f64, "bytes", Some(members_csv.len() as f64));
    report("award", elapsed.as_secs_f64() * 1e3, "ms", Some(baseline.as_secs_f64() * 1e3));

    let follower = tokio::spawn(projector.clone().run());
    board::boards(&ledger, &projector, &policies).await?;
    follower.abort();
    Ok(())
}

/// Single-event durable appends straight to a fresh store from 64 writers, per second:
/// what `count` commands would cost in storage alone.
async fn raw_appends(dir: &Path, count: usize) -> Result<f64> {
    let raw = Arc::new(SledStore::open(dir)?);
    let started = Instant::now();
    let in_flight = Arc::new(Semaphore::new(64));
    let mut tasks = Vec::with_capacity(count);
    for event in workload::events(count) {
        let permit = in_flight.clone().acquire_owned().await?;
        let raw = raw.clone();
        tasks.push(tokio::spawn(async move {
            let r = raw.append(single(event)).await;
            drop(permit);
            r
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(rate(count, started.elapsed()))
}

fn dir_size(path: &Path) -> Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(path)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        total += if meta.is_dir() { dir_size(&entry.path())? } else { meta.len() };
    }
    Ok(total)
}
