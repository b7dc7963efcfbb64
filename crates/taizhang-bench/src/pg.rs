//! The PostgreSQL scenarios. Every run uses a schema of its own, dropped at the end.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use taizhang_store::{EventStore, PgStore};
use tokio_postgres::NoTls;

use crate::{rate, report, scan_rate, single, workload};

fn schema() -> String {
    format!("taizhang_bench_{}", uuid::Uuid::new_v4().simple())
}

/// Rounds of the `append` scenario: PostgreSQL's insert loop and taizhang's appends
/// alternate, so that a checkpoint or a noisy neighbour hits both alike (single runs
/// of each varied the ratio between 0.77 and 1.09).
const ROUNDS: usize = 3;

/// The baseline's table: a primary key from a sequence, and the two byte columns.
async fn create_baseline_table(url: &str, s: &str) -> Result<()> {
    let (setup, conn) = tokio_postgres::connect(url, NoTls).await?;
    let task = tokio::spawn(conn);
    setup
        .batch_execute(&format!(
            "CREATE TABLE {s}.baseline (id BIGSERIAL PRIMARY KEY, stream BYTEA NOT NULL, record BYTEA NOT NULL)"
        ))
        .await?;
    task.abort();
    Ok(())
}

/// PostgreSQL's own durable single-row inserts: `clients` connections, each committing
/// one 300-byte row at a time, for `for_time`. Returns the rows written.
async fn insert_loop(url: &str, s: &str, clients: usize, for_time: Duration) -> Result<usize> {
    let done = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    // Connected and prepared before the clock starts: the loop times inserts only.
    for _ in 0..clients {
        let (client, conn) = tokio_postgres::connect(url, NoTls).await?;
        let task = tokio::spawn(conn);
        let insert = client.prepare(&format!("INSERT INTO {s}.baseline (stream, record) VALUES ($1, $2)")).await?;
        workers.push((client, task, insert));
    }
    let start = Instant::now();
    let workers: Vec<_> = workers
        .into_iter()
        .map(|(client, task, insert)| {
            let done = done.clone();
            tokio::spawn(async move {
                let record = vec![7u8; 300];
                while start.elapsed() < for_time {
                    client.execute(&insert, &[&uuid::Uuid::new_v4().as_bytes().as_slice(), &record]).await?;
                    done.fetch_add(1, Ordering::Relaxed);
                }
                task.abort();
                Ok::<_, anyhow::Error>(())
            })
        })
        .collect();
    for w in workers {
        w.await??;
    }
    Ok(done.load(Ordering::Relaxed))
}

pub async fn append(url: &str, events: usize) -> Result<()> {
    let s = schema();
    let servers =
        [PgStore::connect(url, &s).await?, PgStore::connect(url, &s).await?, PgStore::connect(url, &s).await?];
    let servers: Vec<Arc<PgStore>> = servers.into_iter().map(Arc::new).collect();
    create_baseline_table(url, &s).await?;
    let workload = Arc::new(workload::events(events));
    let (mut inserted, mut insert_time) = (0, Duration::ZERO);
    let mut append_time = Duration::ZERO;
    for round in 1..=ROUNDS {
        let start = Instant::now();
        inserted += insert_loop(url, &s, 16, Duration::from_millis(1500)).await?;
        insert_time += start.elapsed();

        // This round's share of the workload, from 64 writers spread over the servers.
        let end = events * round / ROUNDS;
        let next = Arc::new(AtomicUsize::new(events * (round - 1) / ROUNDS));
        let start = Instant::now();
        let tasks: Vec<_> = (0..64)
            .map(|i| {
                let (store, next, workload) = (servers[i % 3].clone(), next.clone(), workload.clone());
                tokio::spawn(async move {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= end {
                            return Ok::<_, anyhow::Error>(());
                        }
                        store.append(single(workload[i].clone())).await?;
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await??;
        }
        append_time += start.elapsed();
    }
    let baseline = rate(inserted, insert_time);
    report("append.postgres_insert_loop_16_clients", baseline, "rows/s", None);
    report("append", rate(events, append_time), "commands/s", Some(baseline));
    drop(servers);
    PgStore::drop_schema(url, &s).await?;
    Ok(())
}

pub async fn scan(url: &str, events: usize) -> Result<()> {
    let s = schema();
    let store = PgStore::connect(url, &s).await?;
    for chunk in workload::events(events).chunks(1000) {
        let mut request = single(chunk[0].clone());
        request.expectations.clear();
        request.events = chunk.to_vec();
        store.append(request).await?;
    }

    let (client, conn) = tokio_postgres::connect(url, NoTls).await?;
    let task = tokio::spawn(conn);
    let start = Instant::now();
    let mut from = 1i64;
    let mut rows = 0usize;
    loop {
        let page = client
            .query(
                &format!("SELECT position, record FROM {s}.events WHERE position >= $1 ORDER BY position LIMIT 8192"),
                &[&from],
            )
            .await?;
        let Some(last) = page.last() else { break };
        from = last.get::<_, i64>(0) + 1;
        rows += page.len();
    }
    let raw_rate = rate(rows, start.elapsed());
    task.abort();

    let scan_rate = scan_rate(&store, events, 8192).await?;
    report("scan.postgres_raw_select", raw_rate, "rows/s", None);
    report("scan", scan_rate, "events/s", Some(raw_rate));
    drop(store);
    PgStore::drop_schema(url, &s).await?;
    Ok(())
}
