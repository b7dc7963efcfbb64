//! Ledgers, reports, as-of reads and policies on hand-computed cases.

mod support;

use support::*;
use taizhang_core::*;
use taizhang_read::eligibility::{eligibility, Candidate};
use taizhang_read::ledger::{member_ledger, unit_ledger, PageRequest};
use taizhang_read::model::Change;
use taizhang_read::policy::{Policy, PolicySet};
use taizhang_read::report::{
    check_size, report, Bucket, GroupBy, ReportBuilder, ReportQuery, ReportTooLarge, Scope, MAX_BUCKETS,
};
use taizhang_read::{AsOf, CheckInRecord};
use taizhang_store::EventStore;
use time::macros::date;
use time::Date;

const ALL: PageRequest = PageRequest { offset: 0, limit: 100 };

fn june() -> Period {
    Period::month(2011, time::Month::June).unwrap()
}

#[tokio::test]
async fn ledgers_are_in_service_order_with_corrections_and_running_totals() {
    let w = World::new().await;
    let unit = w.unit("十堰市人民医院", "医院", "茅箭区").await;
    let (a, b) = (w.member(unit, date!(2011 - 01 - 01), None).await, w.member(unit, date!(2011 - 01 - 01), None).await);
    let o1 = w.outing(unit, date!(2011 - 06 - 10), "09:00", "11:00", &[(a, None), (b, None)]).await;
    let before_late = w.store().head();
    let o2 = w.outing(unit, date!(2011 - 06 - 05), "08:00", "09:00", &[(a, None)]).await;
    w.run(Command::AmendOuting(AmendOuting {
        outing: o1,
        details: details(date!(2011 - 06 - 10), "09:00", "11:00"),
        participants: vec![ParticipationInput { member: a, span: None, minutes: Minutes::new(90) }],
        reason: text("李娜未到场"),
        expected_version: None,
    }))
    .await;
    w.verify(o1).await;
    let o3 = w.outing(unit, date!(2011 - 06 - 20), "13:00", "16:00", &[(b, None)]).await;
    w.run(Command::VoidOuting(VoidOuting { outing: o3, reason: text("重复登记"), expected_version: None })).await;
    let model = w.model().await;

    let page = unit_ledger(&model, unit, &AsOf::now(), ALL).unwrap();
    let rows: Vec<(OutingId, u64, bool, bool, u64, u64)> = page
        .entries
        .iter()
        .map(|e| (e.outing, e.minutes, e.verified, e.voided, e.running_recorded_minutes, e.running_verified_minutes))
        .collect();
    assert_eq!(
        rows,
        vec![(o2, 60, false, false, 60, 0), (o1, 90, true, false, 150, 90), (o3, 180, false, true, 150, 90)]
    );
    assert_eq!((page.total_recorded_minutes, page.total_verified_minutes), (150, 90));
    let o1_history: Vec<&Change> = page.entries[1].history.iter().map(|h| &h.change).collect();
    assert!(
        matches!(o1_history.as_slice(), [Change::Registered, Change::Amended { reason }, Change::Verified { .. }] if reason.as_str() == "李娜未到场")
    );
    assert!(page.entries[1].history.iter().all(|h| h.actor == Actor::OPERATOR));

    // Pages: the running totals of page two continue those of page one.
    let second = unit_ledger(&model, unit, &AsOf::now(), PageRequest { offset: 1, limit: 1 }).unwrap();
    assert_eq!(second.entries.len(), 1);
    assert_eq!(second.entries[0].running_recorded_minutes, 150);
    assert!(second.has_next);

    // a's ledger: their own hours; b's: the amendment took them off o1.
    let a_page = member_ledger(&model, a, &AsOf::now(), ALL).unwrap();
    assert_eq!(a_page.entries.iter().map(|e| (e.outing, e.minutes)).collect::<Vec<_>>(), vec![(o2, 60), (o1, 90)]);
    assert_eq!((a_page.total_recorded_minutes, a_page.total_verified_minutes), (150, 90));
    let b_page = member_ledger(&model, b, &AsOf::now(), ALL).unwrap();
    assert_eq!(b_page.entries.iter().map(|e| e.outing).collect::<Vec<_>>(), vec![o3]);
    assert_eq!(b_page.total_recorded_minutes, 0);

    // What we knew before the late registration: no o2, and b still on o1 with 2 h.
    let then = unit_ledger(&model, unit, &AsOf::at_position(before_late), ALL).unwrap();
    assert_eq!(then.entries.iter().map(|e| (e.outing, e.minutes)).collect::<Vec<_>>(), vec![(o1, 240)]);
    let b_then = member_ledger(&model, b, &AsOf::at_position(before_late), ALL).unwrap();
    assert_eq!(b_then.total_recorded_minutes, 120);
    // The same by recorded-at time.
    let at = model.clock.iter().find(|(_, p)| *p == before_late).unwrap().0;
    let by_time = unit_ledger(&model, unit, &AsOf { recorded_at: Some(at), ..AsOf::now() }, ALL).unwrap();
    assert_eq!(by_time, then);
    // Service done before 8 June: only o2.
    let early = AsOf { occurred_before: Some(date!(2011 - 06 - 08)), ..AsOf::now() };
    assert_eq!(unit_ledger(&model, unit, &early, ALL).unwrap().entries.len(), 1);
    assert!(unit_ledger(&model, UnitId::new(), &AsOf::now(), ALL).is_none());
}

#[tokio::test]
async fn reports_group_by_region_and_week_with_participation() {
    let w = World::new().await;
    let hospital = w.unit("十堰市人民医院", "医院", "茅箭区").await;
    let tax = w.unit("张湾区办税服务厅", "税务", "张湾区").await;
    let joined = date!(2011 - 01 - 01);
    let h: Vec<MemberId> = members(&w, hospital, 4, joined).await;
    let t: Vec<MemberId> = members(&w, tax, 2, joined).await;
    // Week of 6–12 June: hospital twice (h0,h1 then h0), tax once; 20 June: hospital.
    let a = w.outing(hospital, date!(2011 - 06 - 06), "08:00", "10:00", &[(h[0], None), (h[1], None)]).await;
    w.outing(hospital, date!(2011 - 06 - 08), "08:00", "09:00", &[(h[0], None)]).await;
    w.outing(tax, date!(2011 - 06 - 07), "14:00", "17:00", &[(t[0], None)]).await;
    w.outing(hospital, date!(2011 - 06 - 20), "08:00", "09:30", &[(h[2], None)]).await;
    w.verify(a).await;
    // Outside June: not counted.
    w.outing(hospital, date!(2011 - 07 - 01), "08:00", "09:00", &[(h[3], None)]).await;
    let model = w.model().await;

    let by_region = report(
        &model,
        &ReportQuery {
            period: june(),
            scope: Scope::All,
            group_by: GroupBy::Region,
            bucket: Bucket::Period,
            as_of: AsOf::now(),
        },
    );
    let rows: Vec<(&str, u64, u64, u64, u64, u64)> = by_region
        .rows
        .iter()
        .map(|r| (r.group.as_str(), r.outings, r.volunteers, r.recorded_minutes, r.verified_minutes, r.members))
        .collect();
    assert_eq!(rows, vec![("张湾区", 1, 1, 180, 0, 2), ("茅箭区", 3, 3, 390, 240, 4)]);
    assert_eq!(by_region.rows[1].participation_rate_percent(), Some(75.0));
    assert_eq!(by_region.rows[0].participation_rate_percent(), Some(50.0));
    assert_eq!(by_region.rows[1].hours_per_member(), Some(1.62), "6.5 h over 4 members, two decimals, rounded down");

    let weekly = report(
        &model,
        &ReportQuery {
            period: june(),
            scope: Scope::Unit(hospital),
            group_by: GroupBy::Unit,
            bucket: Bucket::Week,
            as_of: AsOf::now(),
        },
    );
    // June 2011 starts on a Wednesday: weeks 1–5, 6–12, 13–19, 20–26, 27–30.
    let weeks: Vec<(Date, u64, u64)> = weekly.rows.iter().map(|r| (r.first, r.outings, r.recorded_minutes)).collect();
    assert_eq!(
        weeks,
        vec![
            (date!(2011 - 06 - 01), 0, 0),
            (date!(2011 - 06 - 06), 2, 300),
            (date!(2011 - 06 - 13), 0, 0),
            (date!(2011 - 06 - 20), 1, 90),
            (date!(2011 - 06 - 27), 0, 0)
        ]
    );
    assert!(weekly.rows.iter().all(|r| r.label == "十堰市人民医院"));
}

/// `n` members of `unit`, joined on `joined`.
/// A report's size is checked before any of its work: its buckets, then its units ×
/// buckets, whatever its grouping (a total over all units counts every unit's members
/// in every bucket).
#[tokio::test]
async fn reports_over_the_size_limits_are_refused_before_they_run() {
    let w = World::new().await;
    let mut units = Vec::new();
    for i in 0..1_001 {
        units.push(w.unit(&format!("单位{i}"), "医院", "茅箭区").await);
    }
    let model = w.model().await;
    let query = |first: Date, last: Date, bucket, group_by| ReportQuery {
        period: Period::new(first, last).unwrap(),
        scope: Scope::All,
        group_by,
        bucket,
        as_of: AsOf::now(),
    };
    // 1,000 weeks from a Monday: 1,001 units × 1,000 buckets is over 1,000,000 cells.
    let monday = date!(2000 - 01 - 03);
    let thousand_weeks =
        query(monday, monday + time::Duration::weeks(1_000) - time::Duration::days(1), Bucket::Week, GroupBy::Total);
    assert_eq!(
        check_size(&model, &thousand_weeks),
        Err(ReportTooLarge::Cells { units: 1_001, buckets: 1_000, cells: 1_001_000, max: 1_000_000 })
    );
    // One unit over the same weeks is fine; a day more is a bucket too many.
    let one = ReportQuery { scope: Scope::Unit(units[0]), ..thousand_weeks.clone() };
    assert_eq!(check_size(&model, &one), Ok(()));
    assert_eq!(report(&model, &one).rows.len(), 1_000);
    let longer = query(monday, monday + time::Duration::weeks(1_000), Bucket::Week, GroupBy::Unit);
    assert_eq!(check_size(&model, &longer), Err(ReportTooLarge::Buckets { bucket: Bucket::Week, max: MAX_BUCKETS }));
    // Every date taizhang takes as one bucket, or by months (2,400 buckets).
    assert_eq!(check_size(&model, &query(EARLIEST_DATE, LATEST_DATE, Bucket::Period, GroupBy::Unit)), Ok(()));
    let months = query(EARLIEST_DATE, LATEST_DATE, Bucket::Month, GroupBy::Region);
    assert!(matches!(check_size(&model, &months), Err(ReportTooLarge::Buckets { .. })));
}

/// A report built a unit at a time, with events applied to the model between the
/// slices (as a server applies writes between them), equals the report computed at
/// once as of the position the builder started at.
#[tokio::test]
async fn a_report_built_in_slices_while_the_model_moves_equals_one_built_at_once() {
    let w = World::new().await;
    let mut units = Vec::new();
    for i in 0..6 {
        let unit = w.unit(&format!("单位{i}"), if i % 2 == 0 { "医院" } else { "税务" }, "茅箭区").await;
        let member = w.member(unit, date!(2011 - 01 - 01), None).await;
        w.outing(unit, date!(2011 - 06 - 03) + time::Duration::days(i), "09:00", "11:00", &[(member, None)]).await;
        units.push((unit, member));
    }
    let mut model = w.model().await;
    let first = model.position;
    let mut step = 0;
    for group_by in [GroupBy::Unit, GroupBy::Industry, GroupBy::Total] {
        let query =
            ReportQuery { period: june(), scope: Scope::All, group_by, bucket: Bucket::Week, as_of: AsOf::now() };
        let started = model.position;
        let mut builder = ReportBuilder::new(&model, &query);
        let mut slices = 0;
        while builder.add(&model, 1) {
            // Between slices: another outing (a day of its own), a new member.
            let (unit, member) = units[step % units.len()];
            let day = date!(2011 - 06 - 10) + time::Duration::days(step as i64);
            w.outing(unit, day, "12:00", "12:30", &[(member, None)]).await;
            w.member(unit, date!(2011 - 06 - 01), None).await;
            taizhang_read::catch_up(w.store(), &mut model, w.store().head()).await.unwrap();
            (slices, step) = (slices + 1, step + 1);
        }
        assert_eq!(slices, 5, "six units, one a slice");
        let then = ReportQuery { as_of: AsOf::at_position(started), ..query };
        assert_eq!(builder.finish(), report(&model, &then), "{group_by:?}");
    }
    assert!(model.position > first + 15, "the model moved while the reports were built");
}

async fn members(w: &World, unit: UnitId, n: usize, joined: Date) -> Vec<MemberId> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(w.member(unit, joined, None).await);
    }
    out
}

/// Registers and verifies outings for `member` on consecutive days from `first`, each
/// of the given minutes.
async fn serve(w: &World, unit: UnitId, member: MemberId, first: Date, minutes: &[u32]) -> Vec<OutingId> {
    let mut out = Vec::new();
    for (i, m) in minutes.iter().enumerate() {
        let day = first + time::Duration::days(i as i64);
        let outing = w.outing(unit, day, "00:00", "24:00", &[(member, Some(*m))]).await;
        w.verify(outing).await;
        out.push(outing);
    }
    out
}

fn policies() -> PolicySet {
    PolicySet::load(Some(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/policies"))).unwrap()
}

#[tokio::test]
async fn star_volunteer_thresholds_hold_exactly_at_the_boundary() {
    let w = World::new().await;
    let unit = w.unit("十堰市民政局", "民政", "茅箭区").await;
    let (exact, short) =
        (w.member(unit, date!(2010 - 01 - 01), None).await, w.member(unit, date!(2010 - 01 - 01), None).await);
    // 100 h exactly: ten outings of 10 h.
    serve(&w, unit, exact, date!(2011 - 01 - 01), &[600; 10]).await;
    // 99 h 59 min.
    serve(&w, unit, short, date!(2011 - 01 - 01), &[600, 600, 600, 600, 600, 600, 600, 600, 600, 599]).await;
    // Neither unverified nor voided outings count, and both say why.
    let unverified = w.outing(unit, date!(2011 - 03 - 01), "08:00", "18:00", &[(short, None)]).await;
    let voided = w.outing(unit, date!(2011 - 03 - 02), "08:00", "18:00", &[(short, None)]).await;
    w.verify(voided).await;
    w.run(Command::VoidOuting(VoidOuting { outing: voided, reason: text("误登记"), expected_version: None })).await;
    let model = w.model().await;
    let set = policies();
    let star = set.get("star-volunteer").unwrap();
    let no_birth = |_: MemberId| None;
    let assess = |m| eligibility(&model, star, Candidate::Member(m), june(), &AsOf::now(), &no_birth).unwrap();

    let e = assess(exact);
    assert_eq!(e.outcome.as_deref(), Some("1"));
    let first = &e.levels[0].criteria[0];
    assert_eq!((first.required.as_str(), first.actual.as_str(), first.met), ("≥ 100.00", "100.00", true));
    assert_eq!(first.counted.len(), 10);
    assert!(!e.levels[1].met);

    let s = assess(short);
    assert_eq!(s.outcome, None);
    let c = &s.levels[0].criteria[0];
    assert_eq!(c.actual, "99.98");
    let reasons: Vec<(OutingId, &str)> = c.excluded.iter().map(|x| (x.outing, x.reason.as_str())).collect();
    assert!(reasons.contains(&(unverified, "unverified")), "{reasons:?}");
    assert!(reasons.contains(&(voided, "voided")), "{reasons:?}");

    // The regional variant's own thresholds, one with decimals.
    let regional = set.get("star-volunteer-regional").unwrap();
    let r = eligibility(&model, regional, Candidate::Member(exact), june(), &AsOf::now(), &no_birth).unwrap();
    assert_eq!(r.outcome.as_deref(), Some("1"));
    let topped = w.member(unit, date!(2010 - 01 - 01), None).await;
    serve(&w, unit, topped, date!(2011 - 01 - 01), &[1440, 1440, 1440, 1440, 1440, 1440, 390]).await; // 150.5 h
    let model = w.model().await;
    let r = eligibility(&model, regional, Candidate::Member(topped), june(), &AsOf::now(), &no_birth).unwrap();
    assert_eq!(r.outcome.as_deref(), Some("2"));
    assert_eq!(r.as_of_position, model.position, "a decision cites the position it was computed at");
}

#[tokio::test]
async fn pvsa_bands_use_age_on_the_last_day_and_a_twelve_month_window() {
    let w = World::new().await;
    let unit = w.unit("Volunteer Center", "community", "Hubei").await;
    // Turns 16 inside the window (20 June 2016): a young adult on 30 June 2016.
    let turned_16 = w.member(unit, date!(2014 - 01 - 01), Some(date!(2000 - 06 - 20))).await;
    // Turns 16 the day after the period: still a teen.
    let still_15 = w.member(unit, date!(2014 - 01 - 01), Some(date!(2000 - 07 - 01))).await;
    for m in [turned_16, still_15] {
        // 100 h inside the window (from 1 July 2015), and 24 h the day before it.
        serve(&w, unit, m, date!(2015 - 06 - 30), &[1440]).await;
        serve(&w, unit, m, date!(2015 - 07 - 01), &[1200; 5]).await;
    }
    let model = w.model().await;
    let set = policies();
    let pvsa = set.get("pvsa").unwrap();
    let period = Period::new(date!(2015 - 07 - 01), date!(2016 - 06 - 30)).unwrap();
    let births = |m: MemberId| {
        if m == turned_16 {
            Some(date!(2000 - 06 - 20))
        } else if m == still_15 {
            Some(date!(2000 - 07 - 01))
        } else {
            None
        }
    };
    let young = eligibility(&model, pvsa, Candidate::Member(turned_16), period, &AsOf::now(), &births).unwrap();
    assert_eq!(young.outcome.as_deref(), Some("young-adults-bronze"));
    let hours = &young.levels[6].criteria[1];
    assert_eq!(hours.actual, "100.00");
    assert!(hours.excluded.iter().any(|x| x.reason.starts_with("outside the window (2015-07-01 to 2016-06-30)")));
    let teen = eligibility(&model, pvsa, Candidate::Member(still_15), period, &AsOf::now(), &births).unwrap();
    assert_eq!(teen.outcome.as_deref(), Some("teens-gold"));
    // An erased member's age is unknown: no band applies.
    let unknown =
        eligibility(&model, pvsa, Candidate::Member(still_15), period, &AsOf::now(), &|_: MemberId| None).unwrap();
    assert_eq!(unknown.outcome, None);
    assert_eq!(unknown.levels[0].criteria[0].actual, "unknown");
}

#[tokio::test]
async fn ten_star_and_service_month_policies() {
    let w = World::new().await;
    let unit = w.unit("十堰市档案馆", "档案", "茅箭区").await;
    let m = w.member(unit, date!(2010 - 01 - 01), None).await;
    let evaluate = |public, leader| {
        Command::RecordEvaluation(RecordEvaluation {
            member: m,
            half_year: HalfYear::parse("h", "2011H1").unwrap(),
            public_score: Score::new("p", public).unwrap(),
            leader_score: Score::new("l", leader).unwrap(),
            note: None,
        })
    };
    w.run(evaluate(92, 88)).await; // 0.6 × 92 + 0.4 × 88 = 90.4
    serve(&w, unit, m, date!(2011 - 06 - 01), &[300, 180]).await;
    let model = w.model().await;
    let set = PolicySet::built_in();
    let none = |_: MemberId| None;
    let stars =
        eligibility(&model, set.get("ten-star-default").unwrap(), Candidate::Member(m), june(), &AsOf::now(), &none)
            .unwrap();
    assert_eq!(stars.outcome.as_deref(), Some("9"));
    assert_eq!(stars.levels[8].criteria[0].actual, "90.40");
    let gate = eligibility(
        &model,
        set.get("service-month-default").unwrap(),
        Candidate::Member(m),
        june(),
        &AsOf::now(),
        &none,
    )
    .unwrap();
    assert_eq!(gate.outcome.as_deref(), Some("post-pioneer"));

    // A correction to exactly 90: still nine stars, at the boundary.
    w.run(evaluate(90, 90)).await;
    let model = w.model().await;
    let stars =
        eligibility(&model, set.get("ten-star-default").unwrap(), Candidate::Member(m), june(), &AsOf::now(), &none)
            .unwrap();
    assert_eq!((stars.outcome.as_deref(), stars.levels[8].criteria[0].actual.as_str()), (Some("9"), "90.00"));
}

#[test]
fn bad_policies_are_refused_with_file_line_and_reason() {
    let bad = |text: &str| Policy::parse("p.toml", text).unwrap_err();
    let head = "name = \"x\"\nversion = 1\ntitle = \"x\"\nsubject = \"member\"\n";

    let e =
        bad(&format!("{head}[[levels]]\nname = \"1\"\ncriteria = [{{ metric = \"verified_hours\", at_least = }}]\n"));
    assert_eq!((e.file.as_str(), e.line), ("p.toml", 7), "{e}");

    let e = bad(&format!("{head}treshold = 3\n[[levels]]\nname = \"1\"\ncriteria = []\n"));
    assert_eq!(e.line, 5, "{e}");
    assert!(e.reason.contains("treshold"), "{e}");

    let e = bad(&format!("{head}[[levels]]\nname = \"1\"\ncriteria = [{{ metric = \"karma\", at_least = 1 }}]\n"));
    assert_eq!(e.line, 7, "{e}");
    assert!(e.reason.contains("karma"), "{e}");

    let e = bad(&format!("{head}[evaluation]\npublic_weight = 60\nleader_weight = 30\n[[levels]]\nname = \"1\"\ncriteria = [{{ metric = \"evaluation_score\", at_least = 1 }}]\n"));
    assert!(e.reason.contains("add up to 100"), "{e}");
    assert_eq!(e.line, 5);

    let e = bad(&format!("{head}[[levels]]\nname = \"1\"\ncriteria = [{{ metric = \"verified_hours\", window = \"fortnight\", at_least = 1 }}]\n"));
    assert!(e.reason.contains("fortnight"), "{e}");
    let e = bad(&format!(
        "{head}[[levels]]\nname = \"1\"\ncriteria = [{{ metric = \"verified_hours\", at_least = 1.005 }}]\n"
    ));
    assert!(e.reason.contains("two decimals"), "{e}");
    let e = bad(&format!("{head}[[levels]]\nname = \"1\"\ncriteria = [{{ metric = \"verified_hours\" }}]\n"));
    assert!(e.reason.contains("no bound"), "{e}");

    // The ten-star schemes' parts: weights that do not add up, a weighted score with no
    // parts, a cap at a level that does not exist (or, counting stars, at no number).
    let level = "[[levels]]\nname = \"1\"\ncriteria = [{ metric = \"weighted_score\", at_least = 50 }]\n";
    let e = bad(&format!("{head}[[weighted]]\nmetric = \"public_satisfaction\"\nweight = 70\n{level}"));
    assert!(e.reason.contains("[[weighted]] must add up to 100"), "{e}");
    let e = bad(&format!("{head}{level}"));
    assert!(e.reason.contains("needs [[weighted]] parts"), "{e}");
    let cap =
        "[[caps]]\nname = \"low\"\nat_most = \"3\"\ncriteria = [{ metric = \"public_satisfaction\", below = 60 }]\n";
    let levels = "[[levels]]\nname = \"1\"\ncriteria = [{ metric = \"ballots\", at_least = 1 }]\n";
    let e = bad(&format!("{head}{levels}{cap}"));
    assert!(e.reason.contains("the name of one of the levels"), "{e}");
    assert_eq!(e.line, 9, "{e}");
    Policy::parse("p.toml", &format!("{head}scheme = \"count\"\n{levels}{}", cap.replace("\"3\"", "\"1\""))).unwrap();
    let e = bad(&format!("{head}scheme = \"count\"\n{levels}{}", cap.replace("\"3\"", "\"three\"")));
    assert!(e.reason.contains("a number of stars"), "{e}");
    // Three stars of a policy of one.
    let e = bad(&format!("{head}scheme = \"count\"\n{levels}{cap}"));
    assert!(e.reason.contains("a number of stars the levels can light"), "{e}");
    // An award at a level that does not exist, an award declared twice.
    let award = "[[awards]]\nname = \"a\"\nat_least = \"2\"\n";
    let e = bad(&format!("{head}{levels}{award}"));
    assert!(e.reason.contains("award \"a\": at_least must be the name of one of the levels"), "{e}");
    let award = award.replace("\"2\"", "\"1\"");
    let e = bad(&format!("{head}{levels}{award}{award}"));
    assert!(e.reason.contains("award \"a\" is declared twice"), "{e}");
    let with_award = Policy::parse("p.toml", &format!("{head}{levels}{award}")).unwrap();
    assert_eq!(with_award.awards[0].listing_days, 5, "five working days when not given");
    let e = bad(&format!("{head}{levels}[[vetoes]]\nname = \"v\"\ncriteria = []\n"));
    assert!(e.reason.contains("veto \"v\" has no criteria"), "{e}");

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("broken.toml"), "name = ").unwrap();
    let e = PolicySet::load(Some(dir.path())).unwrap_err();
    assert!(e.file.ends_with("broken.toml") && e.line == 1, "{e}");
    let unknown = PolicySet::built_in().get("gold-star").unwrap_err();
    assert!(unknown.to_string().contains("star-volunteer"), "the error lists the known policies: {unknown}");
}

/// Commitment figures as policy metrics: the share of assessed commitments kept (a
/// member's own, or all of a unit's), and the weeks of the window a unit summarised;
/// as of a position before a finding, it does not count.
#[tokio::test]
async fn policies_read_commitments_kept_and_weekly_summaries() {
    let w = World::new().await;
    let unit = w.unit("十堰市人民医院", "医疗卫生", "茅箭区").await;
    let m = w.member(unit, date!(2010 - 01 - 01), None).await;
    let content = |text: &str| CommitmentContent {
        category: Text::parse("c", "办结时限").unwrap(),
        text: Text::parse("t", text).unwrap(),
        target: None,
        from: date!(2011 - 01 - 01),
        until: date!(2011 - 06 - 30),
        public: true,
    };
    let mut items = Vec::new();
    for (i, member) in [Some(m), Some(m), None, None].into_iter().enumerate() {
        let commitment = CommitmentId::new();
        let content = content(&format!("承诺{i}"));
        w.run(Command::MakeCommitment(MakeCommitment {
            commitment,
            unit,
            member,
            content,
            renews: vec![],
            code: None,
        }))
        .await;
        items.push(commitment);
    }
    let assess = |commitment, fulfilment| {
        Command::AssessCommitment(AssessCommitment {
            commitment,
            fulfilment,
            evidence: Text::parse("e", "群众意见").unwrap(),
        })
    };
    w.run(assess(items[0], Fulfilment::Kept)).await;
    let before_second = w.store().head();
    w.run(assess(items[1], Fulfilment::PartlyKept)).await;
    w.run(assess(items[2], Fulfilment::Kept)).await;
    for week in ["2011-W22", "2011-W23", "2011-W25"] {
        let text = SummaryText { done: Text::parse("d", "义诊").unwrap(), learnt: None, next: None };
        w.run(Command::SubmitSummary(SubmitSummary::new(unit, IsoWeek::parse("w", week).unwrap(), text))).await;
    }
    let policy = |subject: &str, metric: &str, bound: &str| {
        let text = format!(
            "name = \"p\"\nversion = 1\ntitle = \"p\"\nsubject = \"{subject}\"\n[[levels]]\nname = \"1\"\ncriteria = [{{ metric = \"{metric}\", window = \"period\", at_least = {bound} }}]\n"
        );
        Policy::parse("p.toml", &text).unwrap()
    };
    let model = w.model().await;
    let none = |_: MemberId| None;
    let actual = |policy: &Policy, candidate, as_of: &AsOf| {
        let answer = eligibility(&model, policy, candidate, june(), as_of, &none).unwrap();
        answer.levels[0].criteria[0].actual.clone()
    };
    let member_kept = policy("member", "commitments_kept_percent", "50");
    assert_eq!(actual(&member_kept, Candidate::Member(m), &AsOf::now()), "50.00", "one kept of two assessed");
    assert_eq!(actual(&member_kept, Candidate::Member(m), &AsOf::at_position(before_second)), "100.00");
    let unit_kept = policy("unit", "commitments_kept_percent", "50");
    // Two kept of three assessed, shown (as every value) to the nearest hundredth; the
    // comparison with the bound is exact.
    assert_eq!(actual(&unit_kept, Candidate::Unit(unit), &AsOf::now()), "66.67");
    let weeks = policy("unit", "weekly_summaries", "4");
    // June 2011 meets ISO weeks 22 to 26: three of them summarised.
    assert_eq!(actual(&weeks, Candidate::Unit(unit), &AsOf::now()), "3.00");
    let e = Policy::parse(
        "p.toml",
        "name = \"p\"\nversion = 1\ntitle = \"p\"\nsubject = \"member\"\n[[levels]]\nname = \"1\"\ncriteria = [{ metric = \"weekly_summaries\", at_least = 1 }]\n",
    )
    .unwrap_err();
    assert!(e.reason.contains("applies to units"), "{e}");
}

#[tokio::test]
async fn a_policy_can_require_credit_hours_from_check_in() {
    let w = World::new().await;
    let unit = w.unit("十堰市人民医院", "医疗卫生", "茅箭区").await;
    let (came, typed) =
        (w.member(unit, date!(2010 - 01 - 01), None).await, w.member(unit, date!(2010 - 01 - 01), None).await);
    let pin = PinDigest([3; 32]);
    w.run(Command::SetCheckInPin(SetCheckInPin { member: came, pin })).await;
    let outing = OutingId::new();
    let day = date!(2011 - 06 - 10);
    w.run(Command::OpenCheckIn(OpenCheckIn {
        outing,
        registration: Some(NewOuting { unit, details: details(day, "09:00", "12:00"), code: None }),
        site_code: "7K3M9P".into(),
        rules: CheckInRules::default(),
    }))
    .await;
    let at = |clock: &str| Timestamp::of_service(day, ClockTime::parse("t", clock).unwrap());
    let presence = |clock: &str| Presence { member: came, site_code: "7K3M9P".into(), pin, at: at(clock) };
    w.run(Command::CheckIn(CheckIn { outing, presence: presence("08:55") })).await;
    // Before check-out closes (12:30), and after: a member still checked in then has
    // missed it.
    let model = w.model().await;
    let record = &model.check_ins[&outing];
    let arrived = &record.presences[&came];
    let closes = at("12:30");
    assert!(!CheckInRecord::missed_check_out(arrived, model.position, closes, at("12:29")));
    assert!(CheckInRecord::missed_check_out(arrived, model.position, closes, at("12:31")));
    w.run(Command::CheckOut(CheckOut { outing, presence: presence("11:00") })).await;
    let model = w.model().await;
    let left = &model.check_ins[&outing].presences[&came];
    assert!(!CheckInRecord::missed_check_out(left, model.position, closes, at("12:31")));
    assert!(CheckInRecord::missed_check_out(left, model.position - 2, closes, at("12:31")), "as of before it");
    // The other member's two hours are typed in by the clerk beside the credited two.
    let both = |typed_minutes: u32| {
        Command::AmendOuting(AmendOuting {
            outing,
            details: details(day, "09:00", "12:00"),
            participants: vec![
                ParticipationInput { member: came, span: Some(span("09:00", "11:00")), minutes: None },
                ParticipationInput { member: typed, span: None, minutes: Minutes::new(typed_minutes) },
            ],
            reason: Text::parse("r", "补录").unwrap(),
            expected_version: None,
        })
    };
    w.run(both(120)).await;
    w.verify(outing).await;
    let policy = Policy::parse(
        "p.toml",
        "name = \"p\"\nversion = 1\ntitle = \"p\"\nsubject = \"member\"\n[[levels]]\nname = \"1\"\ncriteria = [{ metric = \"credit_hours\", window = \"period\", at_least = 2 }]\n",
    )
    .unwrap();
    let model = w.model().await;
    let none = |_: MemberId| None;
    let met = |model: &taizhang_read::ReadModel, m| {
        let answer = eligibility(model, &policy, Candidate::Member(m), june(), &AsOf::now(), &none).unwrap();
        let c = &answer.levels[0].criteria[0];
        (c.actual.clone(), c.met)
    };
    assert_eq!(met(&model, came), ("2.00".to_owned(), true), "kept as checked out: credit");
    assert_eq!(met(&model, typed), ("0.00".to_owned(), false), "typed in: honour");
    let view = model.outing(outing, model.position).unwrap();
    assert_eq!((view.total_minutes(), view.credited_minutes()), (240, 120));
    let row = report(
        &model,
        &ReportQuery {
            period: june(),
            scope: Scope::All,
            group_by: GroupBy::Total,
            bucket: Bucket::Period,
            as_of: AsOf::now(),
        },
    )
    .rows
    .remove(0);
    assert_eq!((row.recorded_minutes, row.credit_minutes), (240, 120));

    // The clerk changes the credited member's span: their hours become honour hours.
    w.run(Command::AmendOuting(AmendOuting {
        outing,
        details: details(day, "09:00", "12:00"),
        participants: vec![ParticipationInput { member: came, span: Some(span("09:00", "11:30")), minutes: None }],
        reason: Text::parse("r", "更正").unwrap(),
        expected_version: None,
    }))
    .await;
    w.verify(outing).await;
    let model = w.model().await;
    assert_eq!(met(&model, came), ("0.00".to_owned(), false));
}

/// Opens an evaluation of `subject` over every unit for 2011H1.
async fn open_evaluation(w: &World, subject: EvaluationSubject) -> EvaluationId {
    let evaluation = EvaluationId::new();
    w.run(Command::OpenEvaluation(OpenEvaluation {
        evaluation,
        name: text("2011年上半年评议"),
        half_year: HalfYear { year: 2011, half: 1 },
        subject,
        scope: RoundScope::All,
    }))
    .await;
    evaluation
}

/// Casts one ballot of `rating` (None: "don't know") for each entry.
async fn ballots(w: &World, evaluation: EvaluationId, rated: Rated, ratings: &[(Option<Rating>, usize)]) {
    for &(rating, count) in ratings {
        for _ in 0..count {
            w.run(Command::CastBallot(CastBallot {
                ballot: BallotId::new(),
                evaluation,
                rated,
                voter: Voter::Citizen,
                rating,
                scores: vec![],
                comment: None,
            }))
            .await;
        }
    }
}

async fn leader(w: &World, evaluation: EvaluationId, rated: Rated, score: i64) {
    let score = Score::new("score", score).unwrap();
    w.run(Command::ReviewAsLeader(ReviewAsLeader { evaluation, rated, score, comment: None })).await;
}

const SATISFIED: Option<Rating> = Some(Rating::Satisfied);
const FAIRLY: Option<Rating> = Some(Rating::FairlySatisfied);
const DISSATISFIED: Option<Rating> = Some(Rating::Dissatisfied);

#[tokio::test]
async fn ten_star_units_by_bands_of_a_weighted_score_with_a_cap_and_a_veto() {
    let w = World::new().await;
    let unit = |name| w.unit(name, "政务服务", "茅箭区");
    let (on_band, unballoted, capped, vetoed) =
        (unit("办税服务厅").await, unit("社保窗口").await, unit("公积金窗口").await, unit("不动产窗口").await);
    let evaluation = open_evaluation(&w, EvaluationSubject::Units).await;
    // Five satisfied and one fairly satisfied: (500 + 70) / 6 = 95.00, a "don't know"
    // left out; the leaders 95: 0.6 × 95 + 0.4 × 95 = 95.00, exactly the ten-star band.
    ballots(&w, evaluation, Rated::Unit(on_band), &[(SATISFIED, 5), (FAIRLY, 1), (None, 1)]).await;
    leader(&w, evaluation, Rated::Unit(on_band), 95).await;
    // No ballot: no satisfaction, so no score, however the leaders rate it.
    leader(&w, evaluation, Rated::Unit(unballoted), 100).await;
    // (100 + 3 × 30) / 4 = 47.50; 0.6 × 47.5 + 40 = 68.50, four stars by the bands,
    // capped at two below 60 % satisfaction.
    ballots(&w, evaluation, Rated::Unit(capped), &[(SATISFIED, 1), (DISSATISFIED, 3)]).await;
    leader(&w, evaluation, Rated::Unit(capped), 100).await;
    // (40 × 100 + 10 × 30) / 50 = 86.00; 51.6 + 40 = 91.60, nine stars, vetoed by ten
    // 不满意 ballots.
    ballots(&w, evaluation, Rated::Unit(vetoed), &[(SATISFIED, 40), (DISSATISFIED, 10)]).await;
    leader(&w, evaluation, Rated::Unit(vetoed), 100).await;

    let set = PolicySet::built_in();
    let policy = set.get("ten-star-unit-default").unwrap();
    let none = |_: MemberId| None;
    let model = w.model().await;
    let assess = |u| eligibility(&model, policy, Candidate::Unit(u), june(), &AsOf::now(), &none).unwrap();

    let e = assess(on_band);
    assert_eq!(e.outcome.as_deref(), Some("10"));
    assert_eq!(e.levels[9].criteria[0].actual, "95.00");
    assert!(e.caps.iter().chain(&e.vetoes).all(|rule| !rule.met));

    let e = assess(unballoted);
    assert_eq!(e.outcome, None);
    assert_eq!(e.levels[0].criteria[0].actual, "unknown");

    let e = assess(capped);
    assert_eq!(e.outcome.as_deref(), Some("2"));
    assert!(e.levels[3].met && !e.levels[4].met, "four stars by the bands");
    assert_eq!((e.caps[0].met, e.caps[0].criteria[0].actual.as_str()), (true, "47.50"));

    let e = assess(vetoed);
    assert_eq!(e.outcome, None);
    assert!(e.levels[8].met && !e.levels[9].met, "nine stars by the bands");
    assert_eq!((e.vetoes[0].met, e.vetoes[0].criteria[0].actual.as_str()), (true, "10.00"));

    // One more fairly satisfied ballot: (570 + 70) / 7 = 91.43, 92.86 in all: nine stars.
    ballots(&w, evaluation, Rated::Unit(on_band), &[(FAIRLY, 1)]).await;
    let model = w.model().await;
    let e = eligibility(&model, policy, Candidate::Unit(on_band), june(), &AsOf::now(), &none).unwrap();
    assert_eq!((e.outcome.as_deref(), e.levels[8].criteria[0].actual.as_str()), (Some("9"), "92.86"));
    // The ten stars are still there as of the position before it.
    let before = AsOf { position: Some(model.position - 1), ..AsOf::now() };
    let e = eligibility(&model, policy, Candidate::Unit(on_band), june(), &before, &none).unwrap();
    assert_eq!(e.outcome.as_deref(), Some("10"));
}

#[tokio::test]
async fn ten_named_stars_are_lit_one_by_one_and_a_members_ballots_follow_them() {
    let w = World::new().await;
    let (first, second) =
        (w.unit("人民医院", "医疗卫生", "茅箭区").await, w.unit("中医院", "医疗卫生", "张湾区").await);
    let (five, four, moved) = (
        w.member(first, date!(2010 - 01 - 01), None).await,
        w.member(first, date!(2010 - 01 - 01), None).await,
        w.member(first, date!(2010 - 01 - 01), None).await,
    );
    let evaluation = open_evaluation(&w, EvaluationSubject::Members).await;
    for m in [five, four] {
        // 20 h in four verified outings in June: 服务星 and 奉献星.
        serve(&w, first, m, date!(2011 - 06 - 01), &[300; 4]).await;
        // The leaders 85: 评议星, not 标兵星.
        leader(&w, evaluation, Rated::Member(m), 85).await;
    }
    // Five satisfied ballots light 满意星 and 口碑星; four, one short, light 满意星 only.
    ballots(&w, evaluation, Rated::Member(five), &[(SATISFIED, 5)]).await;
    ballots(&w, evaluation, Rated::Member(four), &[(SATISFIED, 4)]).await;
    // Two ballots before a transfer and three after it: all five are the member's.
    ballots(&w, evaluation, Rated::Member(moved), &[(SATISFIED, 2)]).await;
    let transfer = TransferMember { member: moved, to: second, effective: date!(2011 - 04 - 01) };
    w.run(Command::TransferMember(transfer)).await;
    ballots(&w, evaluation, Rated::Member(moved), &[(SATISFIED, 3)]).await;

    let set = PolicySet::built_in();
    let policy = set.get("ten-star-named-default").unwrap();
    let none = |_: MemberId| None;
    let model = w.model().await;
    let assess = |m| eligibility(&model, policy, Candidate::Member(m), june(), &AsOf::now(), &none).unwrap();
    let lit = |e: &taizhang_read::eligibility::Eligibility| {
        e.levels.iter().filter(|l| l.met).map(|l| l.name.clone()).collect::<Vec<_>>()
    };

    let e = assess(five);
    assert_eq!(lit(&e), ["服务星", "奉献星", "满意星", "口碑星", "评议星"]);
    assert_eq!(e.outcome.as_deref(), Some("5"));
    let e = assess(four);
    assert_eq!(e.outcome.as_deref(), Some("4"));
    let missed = e.levels.iter().find(|l| l.name == "口碑星").unwrap();
    assert_eq!((missed.criteria[0].actual.as_str(), missed.criteria[0].met), ("4.00", false));
    let e = assess(moved);
    assert_eq!(lit(&e), ["满意星", "口碑星"]);
    assert_eq!(e.outcome.as_deref(), Some("2"));
    assert_eq!(model.member_unit(moved, model.position), Some(second), "listed where they serve now");
}

#[tokio::test]
async fn a_star_board_ranks_holds_the_top_to_its_quota_and_reproduces_as_of_its_position() {
    let w = World::new().await;
    let mut units = Vec::new();
    for i in 0..10 {
        units.push(w.unit(&format!("窗口{i}"), "政务服务", "茅箭区").await);
    }
    let (a, b, c) = (units[0], units[1], units[2]);
    // The half-year before: ten stars for A.
    let earlier = EvaluationId::new();
    w.run(Command::OpenEvaluation(OpenEvaluation {
        evaluation: earlier,
        name: text("2010年下半年评议"),
        half_year: HalfYear { year: 2010, half: 2 },
        subject: EvaluationSubject::Units,
        scope: RoundScope::All,
    }))
    .await;
    ballots(&w, earlier, Rated::Unit(a), &[(SATISFIED, 1)]).await;
    leader(&w, earlier, Rated::Unit(a), 100).await;
    // This half-year: A 0.6 × 100 + 0.4 × 96 = 98.40 and B 97.00, both ten stars by the
    // bands, but a tenth of ten units is one: B, the lower, has nine. C (70, 80) 74.00:
    // five stars. The seven others have no ballot: no stars, and share the last rank.
    let evaluation = open_evaluation(&w, EvaluationSubject::Units).await;
    for (unit, rating, review) in [(a, SATISFIED, 96), (b, SATISFIED, 95), (c, FAIRLY, 80)] {
        ballots(&w, evaluation, Rated::Unit(unit), &[(rating, 1)]).await;
        leader(&w, evaluation, Rated::Unit(unit), review).await;
    }
    let set = PolicySet::built_in();
    let policy = set.get("ten-star-unit-default").unwrap();
    let half = HalfYear { year: 2011, half: 1 };
    let model = w.model().await;
    let published = taizhang_read::board::star_board(&model, policy, &Scope::All, half, &AsOf::now()).unwrap();
    let row = |board: &taizhang_read::board::StarBoard, i: usize| {
        let e = &board.entries[i];
        (e.eligibility.candidate, e.rank, e.stars, e.previous_stars, e.held_by_quota, e.eligibility.outcome.clone())
    };
    assert_eq!(row(&published, 0), (Candidate::Unit(a), 1, 10, 10, false, Some("10".into())));
    assert_eq!(row(&published, 1), (Candidate::Unit(b), 2, 9, 0, true, Some("9".into())));
    assert_eq!(row(&published, 2), (Candidate::Unit(c), 3, 5, 0, false, Some("5".into())));
    assert!(published.entries[3..].iter().all(|e| (e.rank, e.stars) == (4, 0)));
    assert_eq!(published.entries.len(), 10);

    // A later ballot changes C's stars on the live board; the board as of its position
    // stays what was published.
    ballots(&w, evaluation, Rated::Unit(c), &[(DISSATISFIED, 1)]).await;
    let model = w.model().await;
    let live = taizhang_read::board::star_board(&model, policy, &Scope::All, half, &AsOf::now()).unwrap();
    assert_eq!(live.entries[2].stars, 2, "(70 + 30) / 2 = 50 % satisfaction: capped at two");
    let again = taizhang_read::board::star_board(
        &model,
        policy,
        &Scope::All,
        half,
        &AsOf::at_position(published.as_of_position),
    )
    .unwrap();
    assert_eq!(again, published);
}
