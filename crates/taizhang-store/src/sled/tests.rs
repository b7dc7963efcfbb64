//! The sled backend's own tests (the conformance suite runs on it from `tests/`).

use std::time::Instant;

use super::*;

mod pages {
    use super::*;

    #[test]
    fn pages_round_trip_records_of_any_length() {
        let records: Vec<RawRecord> = [0usize, 1, 127, 128, 300, 20_000]
            .iter()
            .enumerate()
            .map(|(i, &n)| RawRecord { position: 10 + i as u64, bytes: vec![i as u8; n] })
            .collect();
        assert_eq!(decode_page(10, &encode_page(&records)).unwrap(), records);
        let page = encode_page(&records);
        assert!(matches!(decode_page(10, &page[..page.len() - 1]), Err(StoreError::Corrupt { position: 10, .. })));
        assert!(matches!(decode_page(10, &[9, 1, 2]), Err(StoreError::Corrupt { .. })));
    }

    /// Feeds `pace` groups of `size` jobs, one every `every`, for three windows; answers
    /// whether it holds the group after them.
    fn after_groups(pace: &mut Pace, start: Instant, size: usize, every: Duration) -> (Instant, bool) {
        let mut now = start;
        while now < start + 3 * PACE_WINDOW {
            pace.gathers(now);
            pace.took(size);
            now += every;
        }
        (now, pace.gathers(now))
    }

    #[test]
    fn the_writer_holds_groups_only_for_frequent_overlapping_callers() {
        let start = Instant::now();
        // Many callers at 5,000 jobs a second, committed one or two at a time: hold.
        let mut pace = Pace::new(start);
        let (now, holds) = after_groups(&mut pace, start, 2, Duration::from_micros(400));
        assert!(holds);
        // After a quiet spell, the next job goes straight to its commit.
        assert!(!pace.gathers(now + Duration::from_secs(1)));

        // One caller waiting for each answer, however fast: its jobs are never held.
        let mut pace = Pace::new(start);
        assert!(!after_groups(&mut pace, start, 1, Duration::from_micros(200)).1);

        // Callers that overlap now and then but send a job only every few
        // milliseconds: a hold would rarely gather anything.
        let mut pace = Pace::new(start);
        assert!(!after_groups(&mut pace, start, 2, Duration::from_millis(10)).1);
    }
}

mod log_tests {
    use taizhang_core::*;

    use super::*;
    use crate::chain;
    use crate::codec::Envelope;
    use crate::conformance::register;
    use taizhang_core::legacy::{OutingDetailsV1, OutingRegisteredV1};

    fn text(s: &str) -> Text {
        Text::parse("t", s).unwrap()
    }

    /// A snapshot sled left unfinished (empty, or cut short, as a full disk or a kill
    /// leaves it) does not keep the store from opening; nothing is lost.
    #[tokio::test]
    async fn an_unfinished_snapshot_does_not_keep_the_store_closed() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        for i in 0..20 {
            store.append(register(UnitId::new(), &format!("单位{i}"))).await.unwrap();
        }
        let before = store.read_raw(1, usize::MAX).await.unwrap();
        drop(store);
        drop(SledStore::open(dir.path()).unwrap()); // sled snapshots what it recovered
        let log = dir.path().join("log");
        let finished: Vec<_> = std::fs::read_dir(&log)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.starts_with("snap."))
            .collect();
        assert_eq!(finished.len(), 1, "sled wrote its snapshot: {finished:?}");
        let partial = std::fs::read(log.join(&finished[0])).unwrap();
        for unfinished in [Vec::new(), partial[..partial.len() / 2].to_vec()] {
            std::fs::write(log.join("snap.7FFFFFFFFFFFFFFF.generating"), &unfinished).unwrap();
            let store = SledStore::open(dir.path()).unwrap();
            assert_eq!(store.read_raw(1, usize::MAX).await.unwrap(), before);
            drop(store);
            assert!(!log.join("snap.7FFFFFFFFFFFFFFF.generating").exists());
        }
    }

    /// Readers that follow the head read the last commits' records from the writer's
    /// copy: what they read, whatever the range, is what sled holds, as read after a
    /// restart (which starts with no copy). The copy keeps a bounded number of records.
    #[tokio::test]
    async fn recent_commits_read_as_the_log_holds_them() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let batch = |n: usize| (0..n).map(|i| register(UnitId::new(), &format!("单位{i}"))).collect::<Vec<_>>();
        for commit in [batch(3), batch(1), batch(2)] {
            for appended in store.append_batch(commit).await {
                appended.unwrap();
            }
        }
        assert_eq!(store.head(), 6);
        let recent = &store.inner.recent_commits;
        assert_eq!(recent.read(1, 6, usize::MAX).unwrap().unwrap().len(), 6, "every commit is kept");
        // Records written but not yet published by the head are not read from the copy.
        assert_eq!(recent.read(5, 5, usize::MAX).unwrap().unwrap().len(), 1);
        assert!(recent.read(6, 5, usize::MAX).is_none());

        let ranges: Vec<(Position, usize)> =
            (0..=7).flat_map(|from| [1, 2, usize::MAX].map(|limit| (from, limit))).collect();
        let mut read = Vec::new();
        for &(from, limit) in &ranges {
            read.push(store.read_all(from, limit).await.unwrap());
        }
        drop(store);
        let store = SledStore::open(dir.path()).unwrap();
        assert!(store.inner.recent_commits.read(1, store.head(), usize::MAX).is_none(), "no copy after a restart");
        for (&(from, limit), before) in ranges.iter().zip(read) {
            assert_eq!(store.read_all(from, limit).await.unwrap(), before, "from {from}, limit {limit}");
        }
    }

    #[test]
    fn recent_commits_keep_a_bounded_number_of_records() {
        let records = |positions: std::ops::RangeInclusive<Position>| -> Vec<RawRecord> {
            positions.map(|position| RawRecord { position, bytes: vec![1] }).collect()
        };
        let recent = RecentCommits::default();
        let half = RecentCommits::MAX_RECORDS as Position / 2 + 1;
        recent.add(records(1..=half));
        recent.add(records(half + 1..=2 * half));
        assert!(recent.read(1, 2 * half, 1).is_none(), "the oldest commit made room");
        assert!(recent.read(half + 1, 2 * half, 1).is_some());
        // A commit larger than the bound (an import's) is read from sled, and so is
        // everything before it.
        let large = 2 * half + 1..=2 * half + RecentCommits::MAX_RECORDS as Position + 1;
        let last = *large.end();
        recent.add(records(large));
        assert!(recent.read(half + 1, last, 1).is_none());
        assert!(recent.read(last, last, 1).is_none());
    }

    /// Commands are known by their ids across a restart: the fingerprints of the ids
    /// in the log are read again at opening, so a command sent again after a restart
    /// is answered from the log, not appended twice, and a new id is not found.
    #[tokio::test]
    async fn a_command_sent_again_after_a_restart_is_answered_from_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let (first, again) = (register(UnitId::new(), "十堰市人民医院"), register(UnitId::new(), "十堰市太和医院"));
        let sent = store.append_batch(vec![first.clone(), again.clone()]).await;
        let positions: Vec<Position> = sent.iter().map(|r| r.as_ref().unwrap().first_position).collect();
        drop(store);
        let store = SledStore::open(dir.path()).unwrap();
        assert_eq!(
            store.command_outcome(first.command_id).await.unwrap().map(|o| o.first_position),
            Some(positions[0])
        );
        let answered = store.append(again).await.unwrap();
        assert_eq!((answered.first_position, answered.duplicate), (positions[1], true), "answered from the log");
        assert_eq!(store.head(), 2, "nothing appended twice");
        assert_eq!(store.command_outcome(Uuid::now_v7()).await.unwrap(), None);
        let next = store.append(register(UnitId::new(), "十堰市税务局")).await.unwrap();
        let found = store.command_outcome(next.command_id).await.unwrap().map(|o| o.first_position);
        assert_eq!((next.first_position, found), (3, Some(3)));
    }

    /// Command ids whose fingerprints are the same (a client may choose them so) are
    /// told apart by the id in the record: each is answered with its own events, in the
    /// same group commit or not, before and after a restart, and an id never appended
    /// is not found though its fingerprint is.
    #[tokio::test]
    async fn commands_whose_fingerprints_collide_are_told_apart() {
        let same_fingerprint = |(high, low): (u64, u64), mask: u64| Uuid::from_u64_pair(high ^ mask, low ^ mask);
        let pair = Uuid::now_v7().as_u64_pair();
        let [a, b, c, never] = [1, 2, 3, 4].map(|mask| same_fingerprint(pair, mask));
        let dir = tempfile::tempdir().unwrap();
        let mut store = SledStore::open(dir.path()).unwrap();
        // `a` writes two events; `b` follows it in the same group.
        let mut first = register(UnitId::new(), "十堰市人民医院");
        first.events.extend(register(UnitId::new(), "十堰市太和医院").events);
        let first = AppendRequest { command_id: a, expectations: Vec::new(), ..first };
        let second = AppendRequest { command_id: b, ..register(UnitId::new(), "十堰市税务局") };
        let sent = store.append_batch(vec![first.clone(), second.clone()]).await;
        let spans: Vec<_> =
            sent.iter().map(|r| r.as_ref().map(|o| (o.first_position, o.last_position)).unwrap()).collect();
        assert_eq!(spans, [(1, 2), (3, 3)]);
        let third = store.append(AppendRequest { command_id: c, ..register(UnitId::new(), "十堰市民政局") }).await;
        assert_eq!(third.unwrap().first_position, 4);
        for round in ["before a restart", "after a restart"] {
            for (id, span) in [(a, (1, 2)), (b, (3, 3)), (c, (4, 4))] {
                let found = store.command_outcome(id).await.unwrap().map(|o| (o.first_position, o.last_position));
                assert_eq!(found, Some(span), "{round}: {id}");
            }
            assert_eq!(store.command_outcome(never).await.unwrap(), None, "{round}");
            let again = store.append(second.clone()).await.unwrap();
            assert_eq!((again.first_position, again.duplicate), (3, true), "{round}");
            let again = store.append(first.clone()).await.unwrap();
            assert_eq!((again.first_position, again.last_position, again.duplicate), (1, 2, true), "{round}");
            assert_eq!(store.head(), 4, "{round}: nothing appended twice");
            drop(store);
            store = SledStore::open(dir.path()).unwrap();
        }
    }

    /// A command whose records a restore brings in two parts (a backup's pages end
    /// where they end) is still known from its first record: answered with its whole
    /// span, and a retry is a duplicate.
    #[tokio::test]
    async fn a_command_restored_in_two_parts_is_known_whole() {
        let source = tempfile::tempdir().unwrap();
        let store = SledStore::open(source.path()).unwrap();
        let mut both = register(UnitId::new(), "十堰市人民医院");
        both.events.extend(register(UnitId::new(), "十堰市太和医院").events);
        let both = AppendRequest { expectations: Vec::new(), ..both };
        store.append(both.clone()).await.unwrap();
        let records = store.read_raw(1, usize::MAX).await.unwrap();
        let restored = tempfile::tempdir().unwrap();
        let copy = SledStore::open(restored.path()).unwrap();
        copy.restore_raw(records[..1].to_vec()).await.unwrap();
        copy.restore_raw(records[1..].to_vec()).await.unwrap();
        let span = copy.command_outcome(both.command_id).await.unwrap().map(|o| (o.first_position, o.last_position));
        assert_eq!(span, Some((1, 2)));
        let again = copy.append(both).await.unwrap();
        assert_eq!((again.first_position, again.last_position, again.duplicate), (1, 2, true));
    }

    /// A durable write under way for [`STALL_AFTER`] makes the store stalled: healthy
    /// before, writes refused with `Stalled` (not queued behind the stuck one) after,
    /// healthy again once it returns. (The stuck write is set here by hand: a disk that
    /// stops answering cannot be made on demand.)
    #[tokio::test]
    async fn a_write_that_does_not_return_makes_the_store_stalled() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        store.append(register(UnitId::new(), "起点")).await.unwrap();
        assert_eq!(store.health(), StoreHealth::Ok);
        let busy = &store.inner.busy_since;
        busy.store(now_micros() - (STALL_AFTER.as_micros() as u64) + 1_000_000, Ordering::Release);
        assert_eq!(store.health(), StoreHealth::Ok, "a second short of the bound");
        busy.store(now_micros() - STALL_AFTER.as_micros() as u64, Ordering::Release);
        assert!(matches!(store.health(), StoreHealth::Stalled { seconds } if seconds >= STALL_AFTER.as_secs()));
        let refused = store.append(register(UnitId::new(), "卡住")).await;
        assert!(matches!(refused, Err(StoreError::Stalled { .. })), "{refused:?}");
        busy.store(0, Ordering::Release);
        assert_eq!(store.health(), StoreHealth::Ok);
        assert_eq!(store.append(register(UnitId::new(), "恢复")).await.unwrap().first_position, 2);
    }

    /// Streams read one event at a time, across many pages and groups, in an order
    /// that hops between pages and back (the last-page cache must never answer with
    /// a neighbour's record), give exactly the events the whole log holds for them;
    /// so do windows of the log read as ranges.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn stream_reads_across_pages_match_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let units: Vec<UnitId> = (0..40).map(|_| UnitId::new()).collect();
        for group in 0..3 {
            let requests = units
                .iter()
                .map(|u| match group {
                    0 => register(*u, "十堰市某某服务窗口单位"),
                    _ => crate::conformance::rename(*u, "改名", crate::ExpectedVersion::Exact(group - 1)),
                })
                .collect();
            assert!(store.append_batch(requests).await.iter().all(Result::is_ok));
        }
        let log = store.read_all(1, usize::MAX).await.unwrap();
        assert!(store.inner.log.scan_prefix([PAGE]).count() > 3, "the log spans several pages");
        for unit in units.iter().rev().chain(&units) {
            let expected: Vec<_> = log.iter().filter(|e| e.stream == StreamId::unit(*unit)).cloned().collect();
            assert_eq!(store.read_stream(StreamId::unit(*unit), 0, usize::MAX).await.unwrap(), expected);
            assert_eq!(store.read_stream(StreamId::unit(*unit), 2, 1).await.unwrap(), expected[2..]);
        }
        // Windows starting mid-page and ending in another page give exactly their slice.
        for (from, limit) in [(1, 1), (2, 7), (17, 40), (39, 1000), (log.len(), 5)] {
            let window = &log[from - 1..(from - 1 + limit).min(log.len())];
            assert_eq!(store.read_all(from as u64, limit).await.unwrap(), window);
            let raw: Vec<_> = store.read_raw(from as u64, limit).await.unwrap().iter().map(|r| r.position).collect();
            assert_eq!(raw, window.iter().map(|e| e.position).collect::<Vec<_>>());
        }
        // Every event on its own, in log order: each page boundary crossed forwards.
        for event in &log {
            assert_eq!(store.read_stream(event.stream, event.version, 1).await.unwrap(), std::slice::from_ref(event));
        }
    }

    /// Appends from many callers at once, in bursts of eight every millisecond and then
    /// a tail of stragglers: every append is acknowledged once, at its own position,
    /// with the log holding exactly what was acknowledged. The bursts overlap and come
    /// every millisecond, so the writer holds their groups open; a temporary print in
    /// the hold showed both of its ends taken (full groups waking the writer, the
    /// stragglers' groups ending at the deadline). When to hold is asserted by
    /// `the_writer_holds_groups_only_for_frequent_overlapping_callers`.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn appends_held_for_a_group_are_each_acknowledged() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let mut tasks = Vec::new();
        let mut tick = tokio::time::interval(std::time::Duration::from_millis(1));
        for burst in 0..40 {
            tick.tick().await;
            let callers = if burst < 30 { 8 } else { 3 };
            for _ in 0..callers {
                let (store, unit) = (store.clone(), UnitId::new());
                tasks.push(tokio::spawn(async move {
                    let request = register(unit, "十堰市某某服务窗口单位");
                    let command = request.command_id;
                    (unit, command, store.append(request).await.unwrap())
                }));
            }
        }
        let mut acknowledged = Vec::new();
        for task in tasks {
            let (unit, command, outcome) = task.await.unwrap();
            assert_eq!((outcome.command_id, outcome.first_position), (command, outcome.last_position));
            assert_eq!(outcome.streams, vec![(StreamId::unit(unit), 0)]);
            acknowledged.push((outcome.first_position, unit));
        }
        acknowledged.sort();
        let log = store.read_all(1, usize::MAX).await.unwrap();
        let logged: Vec<_> = log.iter().map(|e| (e.position, e.stream)).collect();
        let expected: Vec<_> = acknowledged.iter().map(|(p, u)| (*p, StreamId::unit(*u))).collect();
        assert_eq!(logged, expected);
        assert_eq!(acknowledged.last().unwrap().0, 30 * 8 + 10 * 3, "positions are dense");
    }

    /// While the writer holds the store (as it does while it applies a group to sled),
    /// each kind of read of the log waits for it, as a
    /// task: the runtime's one thread serves other tasks meanwhile, and the reads finish
    /// once the writer lets go. With a blocking lock the runtime would stall; with a
    /// read that skips the gate, sled's `apply_batch` could block the thread.
    #[test]
    fn reads_waiting_for_the_writer_leave_their_thread_free() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let unit = UnitId::new();
        let request = register(unit, "十堰市某某服务窗口单位");
        let command = request.command_id;
        runtime.block_on(store.append(request)).unwrap();
        // Reopened, so that the record is read from sled, not from the writer's copy of
        // its last commits (which a read takes without going into sled).
        drop(store);
        let store = SledStore::open(dir.path()).unwrap();

        let (done, finished) = mpsc::channel();
        std::thread::spawn(move || {
            let held = store.inner.index.blocking_write();
            runtime.block_on(async {
                let stream = tokio::spawn({
                    let store = store.clone();
                    async move { store.read_stream(StreamId::unit(unit), 0, usize::MAX).await.unwrap().len() }
                });
                let all = tokio::spawn({
                    let store = store.clone();
                    async move { store.read_all(1, usize::MAX).await.unwrap().len() }
                });
                let outcome = tokio::spawn({
                    let store = store.clone();
                    async move { store.command_outcome(command).await.unwrap().map(|o| o.last_position) }
                });
                assert_eq!(tokio::spawn(async { "another task ran" }).await.unwrap(), "another task ran");
                for read in [stream.is_finished(), all.is_finished(), outcome.is_finished()] {
                    assert!(!read, "a read went into sled while the writer held it");
                }
                drop(held);
                let (stream, all, outcome) = (stream.await.unwrap(), all.await.unwrap(), outcome.await.unwrap());
                done.send((stream, all, outcome)).unwrap();
            });
        });
        let answered = finished.recv_timeout(std::time::Duration::from_secs(30));
        assert_eq!(answered, Ok((1, 1, Some(1))), "the runtime thread stalled behind the writer");
    }

    /// A store from before the key file kept its member keys in a sled tree: at open
    /// they move into the file, tombstones included, and the tree is dropped.
    #[tokio::test]
    async fn keys_kept_in_sled_move_into_the_key_file() {
        let dir = tempfile::tempdir().unwrap();
        let (kept, erased) = (DataSubject::from(MemberId::new()), DataSubject::from(MemberId::new()));
        {
            let db = sled::Config::new().path(dir.path().join("log")).open().unwrap();
            let tree = db.open_tree(OLD_KEY_TREE).unwrap();
            tree.insert(kept.0.as_bytes(), vec![5u8; 73]).unwrap();
            tree.insert(erased.0.as_bytes(), vec![]).unwrap();
            db.flush().unwrap();
        }
        let store = SledStore::open(dir.path()).unwrap();
        let keys = crate::keys::KeyStore::sled(&store).export().await.unwrap();
        let mut expected = vec![(kept, vec![5u8; 73]), (erased, vec![])];
        expected.sort();
        assert_eq!(keys, expected);
        drop(store);
        let db = sled::Config::new().path(dir.path().join("log")).open().unwrap();
        assert!(!db.tree_names().iter().any(|n| n.as_ref() == OLD_KEY_TREE.as_bytes()));
    }

    /// A record in a format no longer written: `OutingRegistered` version 1, before
    /// outings counted beneficiaries. It must read back as the current version.
    #[tokio::test]
    async fn old_event_versions_are_upcast_on_read_and_their_bytes_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let (outing, unit, member) = (OutingId::new(), UnitId::new(), MemberId::new());
        let span =
            TimeRange::new("s", ClockTime::parse("t", "08:00").unwrap(), ClockTime::parse("t", "10:00").unwrap())
                .unwrap();
        let v1 = OutingRegisteredV1 {
            outing,
            unit,
            details: OutingDetailsV1 {
                date: time::macros::date!(2011 - 06 - 15),
                span,
                place: text("十堰市人民广场"),
                category: text("义诊"),
                description: None,
            },
            participants: vec![Participation { member, span, minutes: Minutes::new(120).unwrap() }],
        };
        let envelope = Envelope {
            event_id: Uuid::now_v7(),
            stream: StreamId::outing(outing),
            version: 0,
            recorded_at: Timestamp::now(),
            occurred_at: None,
            actor: Actor::OPERATOR,
            command_id: Uuid::now_v7(),
            correlation_id: None,
            causation_id: None,
            type_code: 20,
            schema_version: 1,
        };
        let (bytes, _) = codec::encode_record(&GENESIS_HASH, 1, &envelope, &postcard::to_stdvec(&v1).unwrap());
        let record = RawRecord { position: 1, bytes };
        store.restore_raw(vec![record.clone()]).await.unwrap();

        let event = store.read_stream(StreamId::outing(outing), 0, 10).await.unwrap().remove(0);
        assert_eq!(event.stored_schema_version, 1);
        match event.payload {
            DomainEvent::OutingRegistered(e) => {
                assert_eq!(e.details.beneficiaries, 0, "the upcaster fills the field v1 lacked");
                assert_eq!(e.details.place.as_str(), "十堰市人民广场");
                assert_eq!(e.participants[0].member, member);
            }
            other => panic!("expected OutingRegistered, got {other:?}"),
        }
        // The stored bytes are the v1 bytes, never rewritten, and the chain holds.
        assert_eq!(store.read_raw(1, 1).await.unwrap(), vec![record]);
        chain::verify(&store, |_| {}).await.unwrap();
    }

    /// Flip one byte of one stored record, as a disk or an intruder might: `verify`
    /// names that position and no earlier one.
    #[tokio::test]
    async fn verify_names_the_first_damaged_position() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = SledStore::open(dir.path()).unwrap();
            for i in 0..40 {
                store.append(register(UnitId::new(), &format!("单位{i}"))).await.unwrap();
            }
            assert_eq!(chain::verify(&store, |_| {}).await.unwrap().events, 40);
        }
        {
            // sled releases its file lock from background threads a moment after the
            // store's last handle is dropped: open the raw database once it has.
            let path = dir.path().join("log");
            let db = (0..200)
                .find_map(|_| match sled::open(&path) {
                    Err(e) if e.to_string().contains("could not acquire lock") => {
                        std::thread::sleep(std::time::Duration::from_millis(25));
                        None
                    }
                    opened => Some(opened.unwrap()),
                })
                .expect("sled released its lock within 5 s");
            let log = db.open_tree("events").unwrap();
            let (key, page) = log.range(page_key(0)..=page_key(27)).next_back().unwrap().unwrap();
            let first = be_u64(&key[1..]);
            let mut records = decode_page(first, &page).unwrap();
            let target = records.iter_mut().find(|r| r.position == 27).unwrap();
            let last = target.bytes.len() - 1;
            target.bytes[last] ^= 0x01; // inside the payload: still decodes, no longer chains
            log.insert(key, encode_page(&records)).unwrap();
            db.flush().unwrap();
        }
        let store = SledStore::open(dir.path()).unwrap();
        let err = chain::verify(&store, |_| {}).await.unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { position: 27, .. }), "{err:?}");
    }
}

mod open_tests {
    use super::*;

    #[test]
    fn a_second_opener_is_told_the_store_is_in_use() {
        let dir = tempfile::tempdir().unwrap();
        let _first = SledStore::open(dir.path()).unwrap();
        let err = SledStore::open(dir.path()).err().expect("the store is locked");
        assert!(err.to_string().contains("in use by another process"), "{err}");
    }
}
