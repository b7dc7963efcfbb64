//! The sample campaign: the same seed gives the same log, byte for byte; loading it
//! again writes nothing; the reports over it equal totals computed here from the
//! generated commands, independently of the read side; and its late registrations
//! change the present answer but not the answer as known at the month's end.

use std::collections::HashMap;
use std::sync::Arc;

use taizhang_app::demo;
use taizhang_app::Ledger;
use taizhang_core::*;
use taizhang_read::report::{report, Bucket, GroupBy, ReportQuery, Scope};
use taizhang_read::{AsOf, ReadModel};
use taizhang_store::{EventStore, RawRecord, SledStore};

#[test]
fn the_same_seed_gives_the_same_campaign() {
    let a = demo::plan(0.01, 7);
    let b = demo::plan(0.01, 7);
    assert_eq!(a.commands, b.commands);
    assert_ne!(a.commands, demo::plan(0.01, 8).commands);
    let units = a.commands.iter().filter(|p| matches!(p.command, Command::RegisterUnit(_))).count();
    assert_eq!(units, 58, "5,800 units at scale 1");
    assert!(a.commands.windows(2).all(|w| w[0].recorded_at <= w[1].recorded_at), "in recorded order");
}

/// Loads the campaign into a fresh store and returns its whole log as stored.
async fn fresh_log(scale: f64, seed: u64) -> Vec<RawRecord> {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SledStore::open(dir.path()).unwrap());
    let ledger = Ledger::open(store.clone(), &dir.path().join("master.key")).await.unwrap();
    demo::load(&ledger, demo::plan(scale, seed), |_| {}).await.unwrap();
    store.read_raw(1, usize::MAX).await.unwrap()
}

#[tokio::test]
async fn the_same_seed_gives_the_same_log_byte_for_byte() {
    let (a, b) = (fresh_log(0.01, 7).await, fresh_log(0.01, 7).await);
    assert!(a.len() > 1_000, "{} events", a.len());
    assert!(a == b, "two fresh loads of seed 7 differ");
    let other = fresh_log(0.01, 8).await;
    assert!(a.last().map(|r| &r.bytes) != other.last().map(|r| &r.bytes), "seed 8 gives another log");
}

/// What the commands recorded before `known_before` say an outing is:
/// (unit, minutes per participant, voided, verified).
fn expected_outings(plan: &demo::Plan, known_before: Timestamp) -> HashMap<OutingId, (UnitId, Vec<u32>, bool, bool)> {
    let minutes = |details: &OutingDetails, participants: &[ParticipationInput]| -> Vec<u32> {
        participants
            .iter()
            .map(|p| p.minutes.map_or_else(|| p.span.unwrap_or(details.span).minutes(), Minutes::get))
            .collect()
    };
    let mut outings = HashMap::new();
    for planned in plan.commands.iter().take_while(|p| p.recorded_at < known_before) {
        match &planned.command {
            Command::RegisterOuting(c) => {
                outings.insert(c.outing, (c.unit, minutes(&c.details, &c.participants), false, false));
            }
            Command::AmendOuting(c) => {
                let o = outings.get_mut(&c.outing).expect("registered first");
                o.1 = minutes(&c.details, &c.participants);
            }
            Command::VoidOuting(c) => outings.get_mut(&c.outing).expect("registered first").2 = true,
            Command::VerifyOuting(c) => outings.get_mut(&c.outing).expect("registered first").3 = true,
            _ => {}
        }
    }
    outings
}

/// (outings, recorded minutes, verified minutes) of the outings not voided.
fn totals(outings: &HashMap<OutingId, (UnitId, Vec<u32>, bool, bool)>) -> (u64, u64, u64) {
    let live = outings.values().filter(|o| !o.2);
    let sum = |o: &(UnitId, Vec<u32>, bool, bool)| o.1.iter().map(|m| *m as u64).sum::<u64>();
    (live.clone().count() as u64, live.clone().map(sum).sum(), live.filter(|o| o.3).map(sum).sum())
}

#[tokio::test]
async fn the_campaign_loads_once_and_its_reports_match_the_commands() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SledStore::open(dir.path()).unwrap());
    let ledger = Ledger::open(store.clone(), &dir.path().join("master.key")).await.unwrap();
    let plan = demo::plan(0.02, 2011);
    let commands = plan.commands.len();
    let month_end = Timestamp::of_service(time::macros::date!(2011 - 07 - 01), ClockTime::from_minutes(0).unwrap());
    let now = totals(&expected_outings(&plan, Timestamp::now()));
    let then = totals(&expected_outings(&plan, month_end));
    assert!(then.0 < now.0, "some outings are registered after the month: {then:?} then, {now:?} now");
    assert!(now.2 > 0 && now.2 < now.1, "some outings are verified, not all");
    assert_eq!(demo::load(&ledger, plan, |_| {}).await.unwrap(), commands);
    let head = store.head();
    demo::load(&ledger, demo::plan(0.02, 2011), |_| {}).await.unwrap();
    assert_eq!(store.head(), head, "loading the same campaign again writes nothing");

    let mut model = ReadModel::default();
    taizhang_read::catch_up(&store, &mut model, head).await.unwrap();
    for (as_of, expected) in [(AsOf::now(), now), (AsOf { recorded_at: Some(month_end), ..AsOf::now() }, then)] {
        let query = ReportQuery {
            period: Period::month(2011, time::Month::June).unwrap(),
            scope: Scope::All,
            group_by: GroupBy::Total,
            bucket: Bucket::Period,
            as_of,
        };
        let rows = report(&model, &query).rows;
        assert_eq!(rows.len(), 1);
        let row = &rows[0];
        assert_eq!((row.outings, row.recorded_minutes, row.verified_minutes), expected, "as of {as_of:?}");
    }
}
