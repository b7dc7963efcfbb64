//! The shared conformance suite on PostgreSQL, each test in a schema of its own that is
//! dropped afterwards. The server is `TAIZHANG_TEST_POSTGRES` (default: the local one).
//! Under CI (`CI` set) an unreachable server fails the tests; elsewhere they are
//! skipped with a message saying why.

use taizhang_store::conformance::{postgres_url as url, test_pg_store as pg_store};

taizhang_store::conformance_tests!(pg_store());

mod postgres_only {
    use std::sync::Arc;
    use std::time::Duration;

    use taizhang_core::{Actor, StreamId, Timestamp, UnitId};
    use taizhang_store::codec::{self, Envelope};
    use taizhang_store::conformance::register;
    use taizhang_store::{chain, EventStore, PgStore};

    use super::{pg_store, url};

    /// A writer that has taken the next position but not committed (held open here by
    /// hand, as a slow server would) must keep every later append from becoming visible
    /// before it: a reader never sees position N+1 while N may still appear.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_slow_transaction_cannot_be_overtaken() {
        let Some((store, schema)) = pg_store().await else { return };
        let store = Arc::new(store);
        store.append(register(UnitId::new(), "起点")).await.unwrap();
        let s = &schema.0;

        // The slow writer: takes the append lock and inserts position 2, uncommitted.
        let (mut client, connection) = tokio_postgres::connect(&url(), tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(connection);
        let tx = client.transaction().await.unwrap();
        tx.execute(&format!("SELECT pg_advisory_xact_lock(hashtext('taizhang-append-{s}'))"), &[]).await.unwrap();
        let last_sql = format!("SELECT position, record FROM {s}.events ORDER BY position DESC LIMIT 1");
        let row = tx.query_one(&last_sql, &[]).await.unwrap();
        let (head, last): (i64, Vec<u8>) = (row.get(0), row.get(1));
        assert_eq!(head, 1);
        let (hash, _) = codec::split_record(&taizhang_store::RawRecord { position: 1, bytes: last }).unwrap();
        let unit = UnitId::new();
        let slow = register(unit, "慢事务");
        let envelope = Envelope {
            event_id: uuid::Uuid::now_v7(),
            stream: StreamId::unit(unit),
            version: 0,
            recorded_at: Timestamp::now(),
            occurred_at: None,
            actor: Actor::OPERATOR,
            command_id: slow.command_id,
            correlation_id: None,
            causation_id: None,
            type_code: slow.events[0].payload.type_code(),
            schema_version: slow.events[0].payload.schema_version(),
        };
        let prev = hash;
        let (record, _) = codec::encode_record(&prev, 2, &envelope, &codec::encode_payload(&slow.events[0].payload));
        tx.execute(
            &format!("INSERT INTO {s}.events VALUES (2, $1, 0, $2, $3)"),
            &[&StreamId::unit(unit).to_bytes().as_slice(), &slow.command_id.as_bytes().as_slice(), &record],
        )
        .await
        .unwrap();

        // A later append, through the store, while the slow one is open.
        let later = tokio::spawn({
            let store = store.clone();
            async move { store.append(register(UnitId::new(), "后来者")).await }
        });
        // Seen waiting for the append lock (PostgreSQL lists it as not granted), not
        // assumed to after a pause.
        let (observer, connection) = tokio_postgres::connect(&url(), tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(connection);
        let waiting_for_append_lock = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted \
             AND objid = (hashtext($1)::bigint & 4294967295)::oid";
        let lock = format!("taizhang-append-{s}");
        while observer.query_one(waiting_for_append_lock, &[&lock]).await.unwrap().get::<_, i64>(0) == 0 {
            assert!(!later.is_finished(), "the later append finished while the slow one was open");
            tokio::task::yield_now().await;
        }
        assert!(!later.is_finished(), "the later append waits for the slow one");
        assert!(store.read_raw(2, 10).await.unwrap().is_empty(), "nothing after 1 is visible yet");

        tx.commit().await.unwrap();
        let outcome = tokio::time::timeout(Duration::from_secs(5), later).await.unwrap().unwrap().unwrap();
        assert_eq!(outcome.first_position, 3);
        let positions: Vec<u64> = store.read_raw(1, 10).await.unwrap().iter().map(|r| r.position).collect();
        assert_eq!(positions, vec![1, 2, 3]);
        chain::verify(store.as_ref(), |_| {}).await.unwrap();
    }

    /// Two servers on one schema: appends from both interleave into one chain, and each
    /// learns of the other's appends by notification (LISTEN/NOTIFY). Server `b` checks
    /// the last position itself only once, right after its LISTEN, so what it learns
    /// after that came by notification.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_servers_share_one_log() {
        let Some((a, schema)) = pg_store().await else { return };
        let b = PgStore::connect_polling_every(&url(), &schema.0, Duration::from_secs(24 * 3600)).await.unwrap();
        let (a, b) = (Arc::new(a), Arc::new(b));
        // b learns of a first append: by notification, or by the one check it makes
        // right after its LISTEN took effect. Either way, b is listening from then on.
        let mut b_head = b.watch_head();
        assert_eq!(*b_head.borrow(), 0);
        a.append(register(UnitId::new(), "起点")).await.unwrap();
        // The bounds only keep a broken build from hanging; nothing here is timed.
        tokio::time::timeout(Duration::from_secs(30), b_head.wait_for(|h| *h == 1)).await.unwrap().unwrap();

        let writers: Vec<_> = [a.clone(), b.clone(), a.clone(), b.clone()]
            .into_iter()
            .enumerate()
            .map(|(i, store)| {
                tokio::spawn(async move {
                    for j in 0..25 {
                        store.append(register(UnitId::new(), &format!("单位{i}-{j}"))).await.unwrap();
                    }
                })
            })
            .collect();
        for w in writers {
            w.await.unwrap();
        }
        tokio::time::timeout(Duration::from_secs(30), b_head.wait_for(|h| *h == 101)).await.unwrap().unwrap();
        let mut a_head = a.watch_head();
        tokio::time::timeout(Duration::from_secs(30), a_head.wait_for(|h| *h == 101)).await.unwrap().unwrap();
        assert_eq!(a.read_raw(1, 1000).await.unwrap(), b.read_raw(1, 1000).await.unwrap());
        assert_eq!(chain::verify(a.as_ref(), |_| {}).await.unwrap().events, 101);

        // One more on a: b hears of it without any read of its own.
        a.append(register(UnitId::new(), "最后")).await.unwrap();
        tokio::time::timeout(Duration::from_secs(30), b_head.wait_for(|h| *h == 102)).await.unwrap().unwrap();
    }

    /// The schema records the migration it is at: a fresh schema is at the last one, a
    /// second server's connect changes nothing, and a schema made before versions were
    /// recorded (its tables and events, no version table) is recorded at the last
    /// version with every event kept.
    #[tokio::test]
    async fn the_schema_is_migrated_forward_once() {
        let Some((store, schema)) = pg_store().await else { return };
        let s = &schema.0;
        store.append(register(UnitId::new(), "起点")).await.unwrap();
        let (client, connection) = tokio_postgres::connect(&url(), tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(connection);
        let versions = |s: String| {
            let client = &client;
            async move {
                let rows = client.query(&format!("SELECT version FROM {s}.schema_version"), &[]).await.unwrap();
                rows.iter().map(|r| r.get::<_, i32>(0)).collect::<Vec<_>>()
            }
        };
        assert_eq!(versions(s.clone()).await, [1]);
        let again = PgStore::connect(&url(), s).await.unwrap();
        assert_eq!(versions(s.clone()).await, [1], "one row, unchanged");
        assert_eq!(again.head(), 1);

        // Before versions were recorded: the tables as the first release made them.
        client.batch_execute(&format!("DROP TABLE {s}.schema_version")).await.unwrap();
        let older = PgStore::connect(&url(), s).await.unwrap();
        assert_eq!(versions(s.clone()).await, [1]);
        assert_eq!(older.read_raw(1, 10).await.unwrap(), store.read_raw(1, 10).await.unwrap(), "the events kept");

        // A schema migrated by a later release is refused, not written to.
        client.batch_execute(&format!("UPDATE {s}.schema_version SET version = 99")).await.unwrap();
        let refused = PgStore::connect(&url(), s).await.err().expect("a newer schema is refused");
        assert!(refused.to_string().contains("version 99"), "{refused}");
    }
}
