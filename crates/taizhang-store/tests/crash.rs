//! Kill a writing process (SIGKILL) at random moments, 50 times, and check after every
//! restart that each acknowledged append is there, that no command is half there, and
//! that the chain verifies.
//!
//! The writer is this same program, started again with an environment variable that
//! makes it an endless writer: on sled in a directory, or on PostgreSQL in a schema
//! (the server then survives; the writing process does not). The program has no test
//! harness, so the writer is not reported as a test: `main` runs the two checks (a
//! name given on the command line selects those containing it).

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use taizhang_core::{Actor, DomainEvent, StreamId, Text, UnitId, UnitRegistered, UnitRenamed};
use taizhang_store::conformance::postgres_url;
use taizhang_store::{chain, AppendRequest, EventStore, ExpectedVersion, NewEvent, PgStore, SledStore};
use uuid::Uuid;

const CHILD_DIR: &str = "TAIZHANG_CRASH_CHILD_DIR";
const CHILD_PG_SCHEMA: &str = "TAIZHANG_CRASH_CHILD_PG_SCHEMA";

const EVENTS_PER_COMMAND: usize = 3;

/// Three events over two streams, one of them written twice: a torn write would show.
fn command() -> AppendRequest {
    let (x, y) = (UnitId::new(), UnitId::new());
    let text = |s: &str| Text::parse("t", s).unwrap();
    let registered = |unit| {
        DomainEvent::UnitRegistered(UnitRegistered {
            unit,
            name: text("十堰市郧阳区便民服务大厅"),
            industry: text("便民服务"),
            region: text("郧阳区"),
            parent: None,
            code: None,
        })
    };
    AppendRequest {
        command_id: Uuid::now_v7(),
        actor: Actor::OPERATOR,
        correlation_id: None,
        causation_id: None,
        recorded_at: None,
        subject_key: None,
        expectations: vec![
            (StreamId::unit(x), ExpectedVersion::NoStream),
            (StreamId::unit(y), ExpectedVersion::NoStream),
        ],
        events: [registered(x), DomainEvent::UnitRenamed(UnitRenamed { unit: x, name: text("新名称") }), registered(y)]
            .into_iter()
            .map(|payload| NewEvent { payload, occurred_at: None })
            .collect(),
    }
}

fn main() {
    if let Ok(dir) = std::env::var(CHILD_DIR) {
        return runtime().block_on(write_forever(Arc::new(SledStore::open(std::path::Path::new(&dir)).unwrap())));
    }
    if let Ok(schema) = std::env::var(CHILD_PG_SCHEMA) {
        return runtime().block_on(async {
            write_forever(Arc::new(PgStore::connect(&postgres_url(), &schema).await.unwrap())).await
        });
    }
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-')).unwrap_or_default();
    let checks: [(&str, fn()); 2] = [
        ("killed_writers_lose_no_acknowledged_append", killed_writers_lose_no_acknowledged_append),
        (
            "killed_writers_lose_no_acknowledged_append_on_postgresql",
            killed_writers_lose_no_acknowledged_append_on_postgresql,
        ),
    ];
    let chosen: Vec<_> = checks.into_iter().filter(|(name, _)| name.contains(&filter)).collect();
    println!("running {} checks", chosen.len());
    // Side by side, as a test harness would run them; a failed check panics its thread
    // and the scope, so the program exits with a failure.
    std::thread::scope(|scope| {
        for (name, check) in chosen {
            scope.spawn(move || {
                check();
                println!("test {name} ... ok");
            });
        }
    });
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

async fn write_forever<S: EventStore>(store: Arc<S>) {
    println!("READY");
    let writers: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                loop {
                    let request = command();
                    let id = request.command_id;
                    let outcome = store.append(request).await.unwrap();
                    // Printed only after the append returned: this is the acknowledgement.
                    println!("ACK {id} {} {}", outcome.first_position, outcome.last_position);
                }
            })
        })
        .collect();
    for w in writers {
        w.await.unwrap();
    }
}

/// A small deterministic generator seeded from the clock, printed so a failure can be
/// replayed with the same kill times.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn killed_writers_lose_no_acknowledged_append() {
    let dir = tempfile::tempdir().unwrap();
    kill_and_check((CHILD_DIR, dir.path().display().to_string()), || async { SledStore::open(dir.path()).unwrap() });
}

fn killed_writers_lose_no_acknowledged_append_on_postgresql() {
    let schema = format!("taizhang_crash_{}", Uuid::new_v4().simple());
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    if let Err(e) = runtime.block_on(PgStore::connect(&postgres_url(), &schema)) {
        if std::env::var_os("CI").is_some() {
            panic!("PostgreSQL at {} is required under CI: {e}", postgres_url());
        }
        eprintln!("skipped: PostgreSQL at {} is not reachable ({e})", postgres_url());
        return;
    }
    drop(runtime);
    kill_and_check((CHILD_PG_SCHEMA, schema.clone()), || async {
        PgStore::connect(&postgres_url(), &schema).await.unwrap()
    });
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(PgStore::drop_schema(&postgres_url(), &schema)).unwrap();
}

/// 50 rounds: start the writer child (told where to write by `child_env`), kill it at a
/// random moment, open the store with `open` and check it.
fn kill_and_check<S: EventStore, F: std::future::Future<Output = S>>(child_env: (&str, String), open: impl Fn() -> F) {
    let seed = std::env::var("TAIZHANG_CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1
    });
    println!("crash test seed {seed} (set TAIZHANG_CRASH_SEED to replay)");
    let mut rng = XorShift(seed);
    let mut acknowledged: HashMap<Uuid, (u64, u64)> = HashMap::new();
    let runtime = runtime();

    for round in 0..50 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .env(child_env.0, &child_env.1)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let ready = lines.by_ref().any(|line| line.is_ok_and(|l| l == "READY"));
        assert!(ready, "round {round}: the writer exited before opening the store");
        std::thread::sleep(Duration::from_millis(rng.next() % 200));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let mut acked_this_round = Vec::new();
        for line in lines {
            let line = line.unwrap();
            if let Some(rest) = line.strip_prefix("ACK ") {
                let mut parts = rest.split(' ');
                let id: Uuid = parts.next().unwrap().parse().unwrap();
                let first: u64 = parts.next().unwrap().parse().unwrap();
                let last: u64 = parts.next().unwrap().parse().unwrap();
                acknowledged.insert(id, (first, last));
                acked_this_round.push(id);
            }
        }

        runtime.block_on(async {
            let store = open().await;
            let report = chain::verify(&store, |_| {}).await.unwrap_or_else(|e| panic!("round {round}: {e}"));
            let events = store.read_all(1, usize::MAX).await.unwrap();
            assert_eq!(report.events, events.len() as u64);
            // Nothing half there: every command's events are all present, consecutive.
            let mut by_command: HashMap<Uuid, Vec<u64>> = HashMap::new();
            for e in &events {
                by_command.entry(e.command_id).or_default().push(e.position);
            }
            for (id, positions) in &by_command {
                assert_eq!(positions.len(), EVENTS_PER_COMMAND, "round {round}: command {id} is partly written");
                assert_eq!(positions[2] - positions[0], 2, "round {round}: command {id} is not contiguous");
            }
            // Every acknowledged append survived, where it was acknowledged.
            for (id, (first, last)) in &acknowledged {
                assert_eq!(
                    by_command.get(id).map(|p| (p[0], p[2])),
                    Some((*first, *last)),
                    "round {round}: acknowledged command {id} is missing or moved"
                );
            }
            // And the command index knows this round's (earlier rounds' were checked then).
            for id in &acked_this_round {
                assert!(store.command_outcome(*id).await.unwrap().is_some(), "round {round}: {id} not indexed");
            }
            println!("round {round}: {} acknowledged, {} events in the log", acked_this_round.len(), events.len());
        });
    }
    assert!(acknowledged.len() > 50, "the writer barely wrote; the test proved little");
}
