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

/// The look-back round's report, in total, as the plan's commands say it must read:
/// items made before the round and due in it, those assessed and kept, the renewals
/// made while it was open, the opinions by rating, and the units not looked back.
fn expected_round(plan: &demo::Plan) -> (RoundId, [u64; 8], u64) {
    let mut round = None;
    let mut due: HashMap<CommitmentId, (UnitId, Option<Fulfilment>)> = HashMap::new();
    // (due, assessed, kept, new, renewals, opinions, satisfied, dissatisfied)
    let mut counts = [0u64; 8];
    let mut units = std::collections::BTreeSet::new();
    for planned in &plan.commands {
        match &planned.command {
            Command::RegisterUnit(c) => {
                units.insert(c.unit);
            }
            Command::OpenRound(c) => round = Some(c.round),
            Command::MakeCommitment(c) if round.is_none() => {
                due.insert(c.commitment, (c.unit, None));
            }
            Command::MakeCommitment(c) => {
                counts[3] += 1;
                counts[4] += u64::from(!c.renews.is_empty());
            }
            Command::AssessCommitment(c) => due.get_mut(&c.commitment).expect("made first").1 = Some(c.fulfilment),
            Command::RecordOpinion(c) => {
                counts[5] += 1;
                counts[6] += u64::from(c.rating == Some(Rating::Satisfied));
                counts[7] += u64::from(c.rating == Some(Rating::Dissatisfied));
            }
            _ => {}
        }
    }
    counts[0] = due.len() as u64;
    counts[1] = due.values().filter(|(_, f)| f.is_some()).count() as u64;
    counts[2] = due.values().filter(|(_, f)| *f == Some(Fulfilment::Kept)).count() as u64;
    let behind: std::collections::BTreeSet<UnitId> =
        due.values().filter(|(_, f)| f.is_none()).map(|(unit, _)| *unit).collect();
    (round.expect("the campaign opens a round"), counts, behind.len() as u64)
}

/// The whole city's campaign: its round's report equals the counts taken from the
/// plan, with about 2,500 items renewed across 5,800 units, as in the source campaign
/// ("新承诺事项2500多项"); some units miss some weeks' summaries.
#[tokio::test]
async fn the_campaigns_round_report_matches_the_commands() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SledStore::open(dir.path()).unwrap());
    let ledger = Ledger::open(store.clone(), &dir.path().join("master.key")).await.unwrap();
    let plan = demo::plan(1.0, 2011);
    let (round, expected, behind) = expected_round(&plan);
    demo::load(&ledger, plan, |_| {}).await.unwrap();
    // The recognitions at the source's figures: 200 windows the public is satisfied
    // with, 500 and more post pioneers, each decided on its published board's evidence.
    let projector = taizhang_read::Projector::open(store.clone(), None).await.unwrap();
    let follower = tokio::spawn(projector.clone().run());
    let half_year = HalfYear { year: 2011, half: 1 };
    let done = taizhang_io::sample::recognise(&ledger, &projector, half_year, 2011).await.unwrap();
    follower.abort();
    assert_eq!((done.boards, done.nominated, done.decided), (2, 720, 720), "{done:?}");
    let head = store.head();
    let again = taizhang_io::sample::recognise(&ledger, &projector, half_year, 2011).await.unwrap();
    assert_eq!((again, store.head()), (Default::default(), head), "recognised once");
    let mut model = ReadModel::default();
    taizhang_read::catch_up(&store, &mut model, store.head()).await.unwrap();
    let decided = |award: &str| {
        let of = |r: &&taizhang_read::recognitions::RecognitionRecord| r.nominated.award.as_str() == award;
        model.recognitions.values().filter(of).filter(|r| r.decision.as_ref().is_some_and(|d| d.evidence.holds)).count()
    };
    assert_eq!(decided("satisfied-window"), 200);
    assert!(decided("post-pioneer") >= 500, "{} post pioneers", decided("post-pioneer"));
    let checks = taizhang_read::recognitions::check_recognitions(&model, &AsOf::now()).unwrap();
    assert!(checks.len() == 720 && checks.iter().all(|c| c.reproduced && c.holds_now));
    let report = taizhang_read::look_back::round_report(&model, round, GroupBy::Total, model.position).unwrap();
    let t = &report.total.tally;
    let counted = [t.due, t.assessed, t.kept, t.new_items, t.renewals, t.opinions, t.satisfied, t.dissatisfied];
    assert_eq!(counted, expected);
    assert!((2_000..3_000).contains(&expected[4]), "{} renewals", expected[4]);
    assert!(expected[0] > 5_800 * 2 && expected[2] * 100 > expected[1] * 60 && expected[5] > 0, "{expected:?}");
    assert!((500..1_500).contains(&behind), "{behind} units not looked back");
    assert_eq!((report.not_looked_back.len() as u64, report.total.units), (behind, 5_800));
    let june = IsoWeek::containing(time::macros::date!(2011 - 06 - 13));
    let submitted = model.summaries.values().filter(|s| s.week == june).count();
    assert!((4_000..5_800).contains(&submitted), "{submitted} of 5,800 units summarised the week");
}
