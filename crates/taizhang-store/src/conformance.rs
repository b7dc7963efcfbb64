//! The tests every [`EventStore`] backend must pass. Each takes a fresh, empty store;
//! [`crate::conformance_tests!`] turns them into `#[tokio::test]`s for one backend.

use std::collections::HashSet;
use std::sync::Arc;

use taizhang_core::{Actor, DomainEvent, MemberId, StreamId, Text, UnitId, UnitRegistered, UnitRenamed};
use uuid::Uuid;

use crate::keys::{KeyHome, WrappedKey};
use crate::{
    chain, AppendOutcome, AppendRequest, EventStore, ExpectedVersion, NewEvent, RawRecord, StoreError, Subscription,
};

/// A command that registers a unit, expecting its stream to be new.
pub fn register(unit: UnitId, name: &str) -> AppendRequest {
    request(vec![(StreamId::unit(unit), ExpectedVersion::NoStream)], vec![registered(unit, name)])
}

/// A command that renames a unit, expecting its stream at `expected`.
pub fn rename(unit: UnitId, name: &str, expected: ExpectedVersion) -> AppendRequest {
    let event = DomainEvent::UnitRenamed(UnitRenamed { unit, name: Text::parse("name", name).expect("test name") });
    request(vec![(StreamId::unit(unit), expected)], vec![event])
}

fn registered(unit: UnitId, name: &str) -> DomainEvent {
    let text = |s: &str| Text::parse("t", s).expect("test text");
    DomainEvent::UnitRegistered(UnitRegistered {
        unit,
        name: text(name),
        industry: text("医院"),
        region: text("茅箭区"),
        parent: None,
        code: None,
    })
}

fn request(expectations: Vec<(StreamId, ExpectedVersion)>, events: Vec<DomainEvent>) -> AppendRequest {
    AppendRequest {
        command_id: Uuid::now_v7(),
        actor: Actor::OPERATOR,
        correlation_id: None,
        causation_id: None,
        recorded_at: None,
        subject_key: None,
        expectations,
        events: events.into_iter().map(|payload| NewEvent { payload, occurred_at: None }).collect(),
    }
}

async fn all<S: EventStore>(store: &S) -> Vec<RawRecord> {
    store.read_raw(1, usize::MAX).await.expect("read")
}

/// Positions start at 1 with no gaps; versions start at 0 per stream; reads return
/// what was written, in order.
pub async fn positions_and_versions<S: EventStore>(store: S) {
    let (a, b) = (UnitId::new(), UnitId::new());
    assert_eq!(store.head(), 0);
    let first = store.append(register(a, "十堰市人民医院")).await.unwrap();
    assert_eq!((first.first_position, first.last_position), (1, 1));
    store.append(register(b, "茅箭区税务大厅")).await.unwrap();
    let third = store.append(rename(a, "十堰市太和医院", ExpectedVersion::Exact(0))).await.unwrap();
    assert_eq!(third.first_position, 3);
    assert_eq!(third.streams, vec![(StreamId::unit(a), 1)]);
    assert_eq!(store.head(), 3);

    let stream = store.read_stream(StreamId::unit(a), 0, 100).await.unwrap();
    assert_eq!(stream.iter().map(|e| (e.version, e.position)).collect::<Vec<_>>(), vec![(0, 1), (1, 3)]);
    assert_eq!(stream[1].payload.type_name(), "UnitRenamed");
    assert!(matches!(&stream[0].payload, DomainEvent::UnitRegistered(e) if e.name.as_str() == "十堰市人民医院"));
    assert_eq!(store.read_stream(StreamId::unit(a), 1, 100).await.unwrap().len(), 1);
    assert_eq!(store.stream_version(StreamId::unit(a)).await.unwrap(), Some(1));
    assert_eq!(store.stream_version(StreamId::unit(UnitId::new())).await.unwrap(), None);

    let log = store.read_all(1, 100).await.unwrap();
    assert_eq!(log.iter().map(|e| e.position).collect::<Vec<_>>(), vec![1, 2, 3]);
    assert_eq!(store.read_all(2, 1).await.unwrap()[0].stream, StreamId::unit(b));
    assert!(store.read_all(4, 10).await.unwrap().is_empty());
}

/// A stale expected version is a conflict that writes nothing, in any stream of the
/// command: multi-stream appends are all or nothing.
pub async fn conflicts_write_nothing<S: EventStore>(store: S) {
    let (a, b) = (UnitId::new(), UnitId::new());
    store.append(register(a, "甲")).await.unwrap();
    let before = all(&store).await;

    let err = store.append(register(a, "甲")).await.unwrap_err();
    assert_eq!(
        err,
        StoreError::Conflict { stream: StreamId::unit(a), expected: ExpectedVersion::NoStream, actual: Some(0) }
    );

    // Two streams: b is new and fine, a is stale. Neither may be written.
    let both = request(
        vec![(StreamId::unit(b), ExpectedVersion::NoStream), (StreamId::unit(a), ExpectedVersion::Exact(7))],
        vec![
            registered(b, "乙"),
            DomainEvent::UnitRenamed(UnitRenamed { unit: a, name: Text::parse("n", "丙").unwrap() }),
        ],
    );
    assert!(matches!(store.append(both).await, Err(StoreError::Conflict { .. })));
    // A stream only read, not written, is checked too.
    let read_only = request(vec![(StreamId::unit(a), ExpectedVersion::NoStream)], vec![registered(b, "乙")]);
    assert!(matches!(store.append(read_only).await, Err(StoreError::Conflict { .. })));
    let empty = request(vec![], vec![]);
    assert!(matches!(store.append(empty).await, Err(StoreError::InvalidRequest(_))));

    assert_eq!(all(&store).await, before, "a refused append must leave the log byte-for-byte unchanged");
    assert_eq!(store.stream_version(StreamId::unit(b)).await.unwrap(), None);
}

/// A batch is appended in its order, each request on its own: a later request may
/// expect what an earlier one writes; a refused one writes nothing and does not stop
/// the others; a retried one is recognised. A given recorded-at time is kept unless
/// it is before the last event's. Event ids derive from command ids.
pub async fn batches_append_in_order<S: EventStore>(store: S) {
    let (a, b, c) = (UnitId::new(), UnitId::new(), UnitId::new());
    let first = store.append(register(a, "甲")).await.unwrap();
    let in_2011 = taizhang_core::Timestamp(1_306_857_600_000_000);
    let mut then = register(b, "乙");
    then.recorded_at = Some(in_2011);
    let after_it = rename(b, "乙二", ExpectedVersion::Exact(0));
    let stale = rename(a, "甲二", ExpectedVersion::Exact(5));
    let retry = register(a, "甲");
    let retry = AppendRequest { command_id: first.command_id, ..retry };
    let mut last = register(c, "丙");
    let later = taizhang_core::Timestamp::now().0 + 3_600_000_000;
    last.recorded_at = Some(taizhang_core::Timestamp(later));
    let ids: Vec<Uuid> = [&then, &after_it, &last].iter().map(|r| r.command_id).collect();
    let results = store.append_batch(vec![then, after_it, stale, retry, last]).await;
    assert_eq!(results.len(), 5);
    assert_eq!(results[0].as_ref().unwrap().first_position, 2);
    assert_eq!(results[1].as_ref().unwrap().streams, vec![(StreamId::unit(b), 1)]);
    assert!(matches!(results[2], Err(StoreError::Conflict { .. })), "{:?}", results[2]);
    assert!(results[3].as_ref().unwrap().duplicate);
    assert_eq!(results[4].as_ref().unwrap().first_position, 4);
    assert_eq!(store.head(), 4);

    let log = store.read_all(1, 100).await.unwrap();
    assert_eq!(log[1].recorded_at, log[0].recorded_at, "a time before the last event's becomes the last event's");
    assert_eq!(log[3].recorded_at.0, later, "a later time is kept");
    for (event, id) in log[1..].iter().zip(&ids) {
        assert_eq!(event.event_id, Uuid::new_v5(id, &0u64.to_be_bytes()), "event ids derive from command ids");
    }
    assert!(store.append_batch(vec![]).await.is_empty());
}

/// A retried command id returns the first outcome and writes nothing; the same id with
/// other events is refused.
pub async fn command_ids_are_idempotent<S: EventStore>(store: S) {
    let unit = UnitId::new();
    let req = register(unit, "十堰市民政局");
    let first = store.append(req.clone()).await.unwrap();
    assert!(!first.duplicate);
    let before = all(&store).await;

    // Even with an expectation that no longer holds, the retry is recognised first.
    let retry = store.append(req.clone()).await.unwrap();
    assert!(retry.duplicate);
    assert_eq!(AppendOutcome { duplicate: false, ..retry }, first);
    assert_eq!(
        store.command_outcome(req.command_id).await.unwrap().map(|o| o.last_position),
        Some(first.last_position)
    );
    assert_eq!(store.command_outcome(Uuid::now_v7()).await.unwrap(), None);

    let mut other = register(UnitId::new(), "别的单位");
    other.command_id = req.command_id;
    assert_eq!(store.append(other).await.unwrap_err(), StoreError::CommandIdReused(req.command_id));
    assert_eq!(all(&store).await, before);
}

/// A new member's key is written with its registration's events, in the same commit;
/// a refused append writes no key, a retry keeps the first key, and in a batch only
/// the requests that are written bring their keys.
pub async fn member_keys_commit_with_their_events<S: EventStore + KeyHome>(store: S) {
    let keys = store.key_store();
    let key = |n: u8| WrappedKey { subject: MemberId::new().into(), bytes: vec![n; 72] };
    let with_key =
        |request: AppendRequest, key: &WrappedKey| AppendRequest { subject_key: Some(key.clone()), ..request };
    let stored = || async { keys.export().await.expect("export keys") };

    let (a, b) = (UnitId::new(), UnitId::new());
    let first_key = key(1);
    let first = with_key(register(a, "甲"), &first_key);
    store.append(first.clone()).await.unwrap();
    assert_eq!(stored().await, vec![(first_key.subject, first_key.bytes.clone())]);

    let refused = store.append(with_key(register(a, "甲"), &key(2))).await;
    assert!(matches!(refused, Err(StoreError::Conflict { .. })), "{refused:?}");
    let retried = store.append(AppendRequest { subject_key: Some(key(3)), ..first }).await.unwrap();
    assert!(retried.duplicate);
    assert_eq!(stored().await, vec![(first_key.subject, first_key.bytes.clone())], "no key but the first");

    let (stale, fresh) = (key(4), key(5));
    let results = store
        .append_batch(vec![
            with_key(rename(a, "甲二", ExpectedVersion::Exact(9)), &stale),
            with_key(register(b, "乙"), &fresh),
        ])
        .await;
    assert!(results[0].is_err() && results[1].is_ok(), "{results:?}");
    let mut expected = vec![(first_key.subject, first_key.bytes), (fresh.subject, fresh.bytes)];
    expected.sort();
    assert_eq!(stored().await, expected);
}

/// 32 tasks update one stream with expected versions: every update lands exactly once,
/// every lost race is reported as a conflict, and versions stay dense.
pub async fn racing_writers_lose_no_update<S: EventStore>(store: S) {
    let store = Arc::new(store);
    let unit = UnitId::new();
    store.append(register(unit, "起点")).await.unwrap();
    // All 32 read version 0 before any of them writes, so the first round is a real
    // race with exactly one winner.
    let start = Arc::new(tokio::sync::Barrier::new(32));
    let mut tasks = Vec::new();
    for i in 0..32 {
        let (store, start) = (store.clone(), start.clone());
        tasks.push(tokio::spawn(async move {
            let mut conflicts = 0;
            let mut version = store.stream_version(StreamId::unit(unit)).await.unwrap();
            start.wait().await;
            loop {
                match store.append(rename(unit, &format!("名称{i}"), ExpectedVersion::from_read(version))).await {
                    Ok(outcome) => return (outcome, conflicts),
                    Err(StoreError::Conflict { actual, .. }) => {
                        conflicts += 1;
                        version = actual;
                    }
                    Err(e) => panic!("unexpected error {e}"),
                }
            }
        }));
    }
    let mut versions = HashSet::new();
    let mut conflicts = 0;
    let mut first_round_winners = 0;
    for task in tasks {
        let (outcome, c) = task.await.unwrap();
        conflicts += c;
        first_round_winners += usize::from(c == 0);
        versions.insert(outcome.streams[0].1);
    }
    assert_eq!(first_round_winners, 1, "one writer wins the first round; the others are told they conflicted");
    assert!(conflicts >= 31);
    assert_eq!(versions, (1..=32).collect::<HashSet<u64>>(), "each update got its own version");
    let events = store.read_stream(StreamId::unit(unit), 0, 1000).await.unwrap();
    assert_eq!(events.len(), 33, "every one of the 32 updates is in the stream");
    let names: HashSet<String> = events[1..]
        .iter()
        .filter_map(|e| match &e.payload {
            DomainEvent::UnitRenamed(r) => Some(r.name.as_str().to_owned()),
            _ => None,
        })
        .collect();
    assert_eq!(names.len(), 32, "no update was lost or doubled");
}

/// A subscription from the middle of the log yields the catch-up part and then live
/// events, in order, with no gap or duplicate across the switch.
pub async fn subscriptions_switch_from_catch_up_to_live<S: EventStore>(store: S) {
    let store = Arc::new(store);
    for i in 0..10 {
        store.append(register(UnitId::new(), &format!("单位{i}"))).await.unwrap();
    }
    let mut sub = Subscription::new(store.clone(), 5);
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            for i in 0..200 {
                store.append(register(UnitId::new(), &format!("新单位{i}"))).await.unwrap();
            }
        })
    };
    for expected in 5..=210 {
        let event =
            tokio::time::timeout(std::time::Duration::from_secs(10), sub.next()).await.expect("event in time").unwrap();
        assert_eq!(event.position, expected);
    }
    writer.await.unwrap();
    // Nothing came twice or out of thin air after the head: the next event the
    // subscription yields is the next one appended.
    store.append(register(UnitId::new(), "最后一个")).await.unwrap();
    let next = tokio::time::timeout(std::time::Duration::from_secs(10), sub.next()).await.expect("event in time");
    assert_eq!(next.unwrap().position, 211);
}

/// The chain verifies, and a byte-exact copy restored into another store verifies with
/// the same head hash; a tampered record is refused by restore.
pub async fn chain_verifies_and_restores<S: EventStore>(store: S, copy: S, tampered_target: S) {
    for i in 0..50 {
        store.append(register(UnitId::new(), &format!("单位{i}"))).await.unwrap();
    }
    let report = chain::verify(&store, |_| {}).await.unwrap();
    assert_eq!(report.events, 50);

    let records = all(&store).await;
    copy.restore_raw(records.clone()).await.unwrap();
    assert_eq!(all(&copy).await, records);
    assert_eq!(chain::verify(&copy, |_| {}).await.unwrap(), report);
    // The restored command index makes retries idempotent there too.
    let first = store.read_all(1, 1).await.unwrap().remove(0);
    assert!(copy.command_outcome(first.command_id).await.unwrap().is_some());

    let mut bad = records.clone();
    let last = bad[20].bytes.len() - 1;
    bad[20].bytes[last] ^= 1;
    let err = tampered_target.restore_raw(bad).await.unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { position: 21, .. }), "{err:?}");
    assert_eq!(tampered_target.head(), 0);
}

/// Generates one `#[tokio::test]` per conformance test. `$make` is an expression whose
/// value is a future of `Option<(store, guard)>`; the guard (a temporary directory, a
/// schema) lives as long as the test, and `None` means the backend is not available
/// here and the factory has said why (the test then passes as skipped).
#[macro_export]
macro_rules! conformance_tests {
    ($make:expr) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn positions_and_versions() {
            let Some((store, _guard)) = $make.await else { return };
            $crate::conformance::positions_and_versions(store).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn conflicts_write_nothing() {
            let Some((store, _guard)) = $make.await else { return };
            $crate::conformance::conflicts_write_nothing(store).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn batches_append_in_order() {
            let Some((store, _guard)) = $make.await else { return };
            $crate::conformance::batches_append_in_order(store).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn command_ids_are_idempotent() {
            let Some((store, _guard)) = $make.await else { return };
            $crate::conformance::command_ids_are_idempotent(store).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn member_keys_commit_with_their_events() {
            let Some((store, _guard)) = $make.await else { return };
            $crate::conformance::member_keys_commit_with_their_events(store).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn racing_writers_lose_no_update() {
            let Some((store, _guard)) = $make.await else { return };
            $crate::conformance::racing_writers_lose_no_update(store).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn subscriptions_switch_from_catch_up_to_live() {
            let Some((store, _guard)) = $make.await else { return };
            $crate::conformance::subscriptions_switch_from_catch_up_to_live(store).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn chain_verifies_and_restores() {
            let Some((store, _g1)) = $make.await else { return };
            let Some((copy, _g2)) = $make.await else { return };
            let Some((tampered, _g3)) = $make.await else { return };
            $crate::conformance::chain_verifies_and_restores(store, copy, tampered).await;
        }
    };
}

/// The PostgreSQL server the tests use: `TAIZHANG_TEST_POSTGRES`, by default the local one.
pub fn postgres_url() -> String {
    std::env::var("TAIZHANG_TEST_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A test's own PostgreSQL schema, dropped when this is dropped, pass or fail.
pub struct TestSchema(pub String);

impl Drop for TestSchema {
    fn drop(&mut self) {
        let schema = self.0.clone();
        // The test's runtime may be shutting down; use a small one of our own.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            runtime.block_on(crate::PgStore::drop_schema(&postgres_url(), &schema))
        })
        .join();
    }
}

/// A store in a fresh schema of the test PostgreSQL server. When the server cannot be
/// reached: under CI (`CI` set) a panic, elsewhere `None` and a line saying the test was
/// skipped and why.
pub async fn test_pg_store() -> Option<(crate::PgStore, TestSchema)> {
    let schema = format!("taizhang_test_{}", Uuid::new_v4().simple());
    let url = postgres_url();
    let connect = crate::PgStore::connect(&url, &schema);
    let why = match tokio::time::timeout(std::time::Duration::from_secs(5), connect).await {
        Ok(Ok(store)) => return Some((store, TestSchema(schema))),
        Ok(Err(e)) => e.to_string(),
        Err(_) => "no answer within 5 s".to_owned(),
    };
    if std::env::var_os("CI").is_some() {
        panic!("PostgreSQL at {} is required under CI and could not be reached: {why}", postgres_url());
    }
    eprintln!("skipped: PostgreSQL at {} is not reachable ({why}); set TAIZHANG_TEST_POSTGRES", postgres_url());
    None
}
