//! The sample campaign: the same seed gives the same commands; loading it again writes
//! nothing; and the reports over it equal totals computed here from the generated
//! commands, independently of the read side.

use std::collections::HashMap;
use std::sync::Arc;

use taizhang_app::demo;
use taizhang_app::Ledger;
use taizhang_core::*;
use taizhang_read::report::{report, Bucket, GroupBy, ReportQuery, Scope};
use taizhang_read::{AsOf, ReadModel};
use taizhang_store::{EventStore, SledStore};

#[test]
fn the_same_seed_gives_the_same_campaign() {
    let a = demo::plan(0.01, 7);
    let b = demo::plan(0.01, 7);
    assert_eq!(a.phases, b.phases);
    assert_ne!(a.phases, demo::plan(0.01, 8).phases);
    assert_eq!(a.phases[0].len(), 58, "5,800 units at scale 1");
}

/// What the commands say an outing ends up as: (unit, minutes per participant, voided, verified).
fn expected_outings(plan: &demo::Plan) -> HashMap<OutingId, (UnitId, Vec<u32>, bool, bool)> {
    let minutes = |details: &OutingDetails, participants: &[ParticipationInput]| -> Vec<u32> {
        participants
            .iter()
            .map(|p| p.minutes.map_or_else(|| p.span.unwrap_or(details.span).minutes(), Minutes::get))
            .collect()
    };
    let mut outings = HashMap::new();
    for (_, command) in plan.phases.iter().flatten() {
        match command {
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

#[tokio::test]
async fn the_campaign_loads_once_and_its_reports_match_the_commands() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SledStore::open(dir.path()).unwrap());
    let ledger = Arc::new(Ledger::open(store.clone(), &dir.path().join("master.key")).await.unwrap());
    let plan = demo::plan(0.02, 2011);
    let commands = plan.commands();
    let expected = expected_outings(&plan);
    assert_eq!(demo::load(&ledger, plan, 16, |_| {}).await.unwrap(), commands);
    let head = store.head();
    demo::load(&ledger, demo::plan(0.02, 2011), 16, |_| {}).await.unwrap();
    assert_eq!(store.head(), head, "loading the same campaign again writes nothing");

    let mut model = ReadModel::default();
    taizhang_read::catch_up(&store, &mut model, head).await.unwrap();
    let query = ReportQuery {
        period: Period::month(2011, time::Month::June).unwrap(),
        scope: Scope::All,
        group_by: GroupBy::Total,
        bucket: Bucket::Period,
        as_of: AsOf::now(),
    };
    let rows = report(&model, &query).rows;
    assert_eq!(rows.len(), 1);
    let live = expected.values().filter(|o| !o.2);
    let recorded: u64 = live.clone().map(|o| o.1.iter().map(|m| *m as u64).sum::<u64>()).sum();
    let verified: u64 = live.clone().filter(|o| o.3).map(|o| o.1.iter().map(|m| *m as u64).sum::<u64>()).sum();
    assert_eq!(rows[0].outings, live.clone().count() as u64);
    assert_eq!(rows[0].recorded_minutes, recorded);
    assert_eq!(rows[0].verified_minutes, verified);
    assert!(expected.values().any(|o| o.2) && verified > 0 && verified < recorded, "the campaign has every kind");
}
