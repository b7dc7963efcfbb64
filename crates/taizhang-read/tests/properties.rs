//! Properties over random valid histories (seeded; a failure prints its seed):
//! (a) the live projection, resumed from a checkpoint midway, equals a rebuild from
//!     scratch (equal digests);
//! (b) report totals equal a naive recomputation from the raw events;
//! (c) every read as of position P equals the same read on a store truncated at P.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use support::*;
use taizhang_app::AppError;
use taizhang_core::*;
use taizhang_read::eligibility::{eligibility, Candidate};
use taizhang_read::ledger::{member_ledger, unit_ledger, PageRequest};
use taizhang_read::policy::PolicySet;
use taizhang_read::report::{report, Bucket, GroupBy, ReportQuery, Scope};
use taizhang_read::{catch_up, digests, AsOf, Projector, ReadModel};
use taizhang_store::{EventStore, SledStore};
use time::macros::date;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

fn june() -> Period {
    Period::month(2011, time::Month::June).unwrap()
}

/// Sends `steps` random commands; those the domain refuses are part of the test too
/// (they must change nothing). Returns the units and members created.
async fn random_history(
    w: &World,
    rng: &mut Rng,
    steps: usize,
    mut after_each: impl AsyncFnMut(usize),
) -> (Vec<UnitId>, Vec<MemberId>) {
    let regions = ["茅箭区", "张湾区"];
    let mut units = Vec::new();
    for i in 0..3 {
        units.push(w.unit(&format!("单位{i}"), if i == 0 { "医院" } else { "税务" }, regions[i % 2]).await);
    }
    let mut members = Vec::new();
    for i in 0..9 {
        members.push(w.member(units[i % 3], date!(2011 - 01 - 01), None).await);
    }
    let mut outings: Vec<OutingId> = Vec::new();
    for step in 0..steps {
        let day = date!(2011 - 05 - 25) + time::Duration::days(rng.below(45) as i64);
        let start = 6 + rng.below(12) as u16;
        let end = start + 1 + rng.below(4) as u16;
        let (a, b) = (ClockTime::from_minutes(start * 60).unwrap(), ClockTime::from_minutes(end * 60).unwrap());
        let participants: Vec<ParticipationInput> = (0..1 + rng.below(3))
            .map(|_| rng.pick(&members))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .map(|member| ParticipationInput {
                member,
                span: None,
                minutes: Minutes::new(30 + 30 * rng.below(2) as u32),
            })
            .collect();
        let outing_details =
            OutingDetails { span: TimeRange::new("s", a, b).unwrap(), ..details(day, "08:00", "09:00") };
        let roll = rng.below(100);
        let cmd = if roll < 45 || outings.is_empty() {
            let outing = OutingId::new();
            outings.push(outing);
            Command::RegisterOuting(RegisterOuting {
                outing,
                unit: rng.pick(&units),
                details: outing_details,
                participants,
            })
        } else if roll < 60 {
            Command::AmendOuting(AmendOuting {
                outing: rng.pick(&outings),
                details: outing_details,
                participants,
                reason: text("更正"),
                expected_version: None,
            })
        } else if roll < 68 {
            Command::VoidOuting(VoidOuting {
                outing: rng.pick(&outings), reason: text("作废"), expected_version: None
            })
        } else if roll < 88 {
            Command::VerifyOuting(VerifyOuting { outing: rng.pick(&outings), note: None, expected_version: None })
        } else if roll < 94 {
            Command::TransferMember(TransferMember { member: rng.pick(&members), to: rng.pick(&units), effective: day })
        } else {
            Command::RecordEvaluation(RecordEvaluation {
                member: rng.pick(&members),
                half_year: HalfYear::parse("h", "2011H1").unwrap(),
                public_score: Score::new("p", rng.below(101) as i64).unwrap(),
                leader_score: Score::new("l", rng.below(101) as i64).unwrap(),
                note: None,
            })
        };
        match w.try_run(cmd).await {
            Ok(_) | Err(AppError::Domain(_)) => {}
            Err(e) => panic!("step {step}: {e}"),
        }
        after_each(step).await;
    }
    (units, members)
}

fn seeds() -> Vec<u64> {
    match std::env::var("TAIZHANG_PROPERTY_SEED") {
        Ok(s) => vec![s.parse().expect("a number")],
        Err(_) => {
            let base = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
            (0..4).map(|i| (base.wrapping_add(i * 7919)) | 1).collect()
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_projection_resumed_from_a_checkpoint_equals_a_rebuild() {
    for seed in seeds() {
        println!("seed {seed} (TAIZHANG_PROPERTY_SEED={seed} replays it)");
        let w = World::new().await;
        let path = w.path("read-model.ckpt");
        let mut rng = Rng(seed);
        let store = w.store().clone();
        let mut projector = Projector::open(store.clone(), Some(path.clone())).await.unwrap();
        let mut runner = tokio::spawn(projector.clone().run());
        let mut resumed_from = 0;
        random_history(&w, &mut rng, 120, async |step| {
            // Read-your-writes after every command.
            projector.wait_for(store.head(), Duration::from_secs(5)).await.unwrap();
            if step == 60 {
                projector.save_checkpoint().unwrap();
                resumed_from = projector.position();
                runner.abort();
                projector = Projector::open(store.clone(), Some(path.clone())).await.unwrap();
                runner = tokio::spawn(projector.clone().run());
            }
        })
        .await;
        projector.wait_for(store.head(), Duration::from_secs(5)).await.unwrap();
        assert!(resumed_from > 0);

        // The resumed live model equals one built from scratch, part by part.
        let mut scratch = ReadModel::default();
        catch_up(&store, &mut scratch, store.head()).await.unwrap();
        assert_eq!(projector.read(digests), digests(&scratch), "seed {seed}");
        let rebuilt = projector.rebuild().await.unwrap();
        assert!(rebuilt.matches(), "seed {seed}: {rebuilt:?}");
        runner.abort();
    }
}

#[tokio::test]
async fn report_totals_equal_a_naive_recomputation_from_the_raw_events() {
    for seed in seeds() {
        let w = World::new().await;
        let mut rng = Rng(seed);
        let (units, _) = random_history(&w, &mut rng, 150, async |_| {}).await;
        // Naive: fold the raw events written, with nothing from the read crate.
        let mut outings: BTreeMap<OutingId, (UnitId, time::Date, u64, bool, bool)> = BTreeMap::new();
        for e in w.store().read_all(1, usize::MAX).await.unwrap() {
            let total = |ps: &[Participation]| ps.iter().map(|p| p.minutes.get() as u64).sum::<u64>();
            match e.payload {
                DomainEvent::OutingRegistered(r) => {
                    outings.insert(r.outing, (r.unit, r.details.date, total(&r.participants), false, false));
                }
                DomainEvent::OutingAmended(a) => {
                    let o = outings.get_mut(&a.outing).unwrap();
                    (o.1, o.2, o.4) = (a.details.date, total(&a.participants), false);
                }
                DomainEvent::OutingVoided(v) => outings.get_mut(&v.outing).unwrap().3 = true,
                DomainEvent::OutingVerified(v) => outings.get_mut(&v.outing).unwrap().4 = true,
                _ => {}
            }
        }
        let mut naive: BTreeMap<String, (u64, u64, u64)> = units.iter().map(|u| (u.to_string(), (0, 0, 0))).collect();
        for (unit, date, minutes, voided, verified) in outings.values() {
            if !voided && june().contains(*date) {
                let row = naive.get_mut(&unit.to_string()).unwrap();
                row.0 += 1;
                row.1 += minutes;
                row.2 += if *verified { *minutes } else { 0 };
            }
        }
        let model = w.model().await;
        let query = ReportQuery {
            period: june(),
            scope: Scope::All,
            group_by: GroupBy::Unit,
            bucket: Bucket::Period,
            as_of: AsOf::now(),
        };
        let computed: BTreeMap<String, (u64, u64, u64)> = report(&model, &query)
            .rows
            .into_iter()
            .map(|r| (r.group, (r.outings, r.recorded_minutes, r.verified_minutes)))
            .collect();
        assert_eq!(computed, naive, "seed {seed}");
    }
}

#[tokio::test]
async fn reads_as_of_a_position_equal_reads_of_the_log_truncated_there() {
    let policies = PolicySet::built_in();
    for seed in seeds() {
        let w = World::new().await;
        let mut rng = Rng(seed);
        let (units, members) = random_history(&w, &mut rng, 100, async |_| {}).await;
        let full = w.model().await;
        let records = w.store().read_raw(1, usize::MAX).await.unwrap();
        for _ in 0..3 {
            let p = 1 + rng.below(records.len()) as u64;
            let dir = tempfile::tempdir().unwrap();
            let truncated_store = Arc::new(SledStore::open(dir.path()).unwrap());
            truncated_store.restore_raw(records[..p as usize].to_vec()).await.unwrap();
            let mut truncated = ReadModel::default();
            catch_up(&truncated_store, &mut truncated, p).await.unwrap();

            let then = AsOf::at_position(p);
            let now = AsOf::now();
            let page = PageRequest { offset: 0, limit: 1000 };
            for u in &units {
                assert_eq!(
                    unit_ledger(&full, *u, &then, page),
                    unit_ledger(&truncated, *u, &now, page),
                    "seed {seed} p {p}"
                );
            }
            let star = policies.get("star-volunteer").unwrap();
            let none = |_: MemberId| None;
            for m in &members {
                assert_eq!(
                    member_ledger(&full, *m, &then, page),
                    member_ledger(&truncated, *m, &now, page),
                    "seed {seed} p {p}"
                );
                assert_eq!(
                    eligibility(&full, star, Candidate::Member(*m), june(), &then, &none).ok(),
                    eligibility(&truncated, star, Candidate::Member(*m), june(), &now, &none).ok(),
                    "seed {seed} p {p}"
                );
            }
            for group_by in [GroupBy::Unit, GroupBy::Region, GroupBy::Industry] {
                let q =
                    |as_of| ReportQuery { period: june(), scope: Scope::All, group_by, bucket: Bucket::Week, as_of };
                assert_eq!(report(&full, &q(then)), report(&truncated, &q(now)), "seed {seed} p {p}");
            }
        }
    }
}
