//! taizhang benchmark scenarios. `cargo run --release -p taizhang-bench -- <scenario>`
//! prints one JSON object per line: `name`, `value`, `unit`, and where the figure
//! compares, `baseline` and `ratio`. The line named after the scenario is its headline.
//! Every baseline runs in the same process, on the same disk, just before or after the
//! figure it is compared with, because these machines are shared and noisy.
//!
//! Scenarios:
//! - `append`: durable single-event commands from 64 concurrent writers; baselines: an
//!   fdatasync loop, raw sled inserts with `flush()` (sled's own, not durable) and with
//!   `flush()` plus `fsync`.
//! - `import`: bulk commands (an outing and its three bookings each), durable at the
//!   end; baseline: raw sled batches of the same bytes; also bytes on disk per event.
//! - `scan`: read the whole log and decode every event; baseline: raw sled iteration.
#![forbid(unsafe_code)]

mod workload;

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use serde_json::json;
use taizhang_core::Actor;
use taizhang_store::{AppendRequest, EventStore, ExpectedVersion, NewEvent, SledStore};
use tokio::sync::Semaphore;
use uuid::Uuid;

fn report(name: &str, value: f64, unit: &str, baseline: Option<f64>) {
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

fn rate(n: usize, elapsed: Duration) -> f64 {
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
    match scenario {
        "append" => runtime.block_on(append(dir.path(), count(60_000))),
        "import" => runtime.block_on(import(dir.path(), count(400_000))),
        "scan" => runtime.block_on(scan(dir.path(), count(1_000_000))),
        other => bail!("unknown scenario {other:?}; expected append, import or scan"),
    }
}

/// One request per event, as a clerk's single command would be.
fn single(event: NewEvent) -> AppendRequest {
    AppendRequest {
        command_id: Uuid::now_v7(),
        actor: Actor::OPERATOR,
        correlation_id: None,
        causation_id: None,
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

    let start = Instant::now();
    let mut position = 1;
    let mut seen = 0;
    loop {
        let page = store.read_all(position, 10_000).await?;
        let Some(last) = page.last() else { break };
        position = last.position + 1;
        seen += page.len();
    }
    let scan_rate = rate(seen, start.elapsed());
    assert_eq!(seen, events);

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

fn dir_size(path: &Path) -> Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(path)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        total += if meta.is_dir() { dir_size(&entry.path())? } else { meta.len() };
    }
    Ok(total)
}
