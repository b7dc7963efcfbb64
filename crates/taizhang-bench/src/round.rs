//! The `round` scenario: a look-back round's report over a city of 5,800 units, with
//! the same round (the same units, items, findings, renewals and opinions) in a log of
//! 100 k events and in one padded with the units' outings to `--events N`.

use anyhow::Result;
use taizhang_core::*;
use taizhang_read::look_back::round_report;
use taizhang_read::report::GroupBy;
use taizhang_read::ReadModel;
use taizhang_store::RecordedEvent;
use time::macros::date;
use uuid::Uuid;

use crate::{median, report, sample_micros, workload};

/// The city's units.
const UNITS: usize = 5_800;

/// Applies events to a model as the log would hand them over, numbering them.
struct Feed {
    model: ReadModel,
    versions: std::collections::HashMap<StreamId, u64>,
}

impl Feed {
    fn apply(&mut self, payload: DomainEvent) {
        let position = self.model.position + 1;
        let stream = payload.stream();
        let version = self.versions.entry(stream).and_modify(|v| *v += 1).or_insert(0);
        let at = Timestamp(1_306_857_600_000_000 + position as i64 * 1_000);
        self.model.apply(&RecordedEvent {
            position,
            event_id: Uuid::now_v7(),
            stream,
            version: *version,
            recorded_at: at,
            occurred_at: at,
            actor: Actor::OPERATOR,
            command_id: Uuid::now_v7(),
            correlation_id: None,
            causation_id: None,
            stored_schema_version: payload.schema_version(),
            hash: [0; 32],
            payload,
        });
    }
}

/// A model of the city's round, padded with outings to about `events` events; returns
/// it with the round's id.
fn city(events: usize) -> (ReadModel, RoundId) {
    let text = |s: &str| Text::parse("t", s).expect("a bench text");
    // A public item of category `k` for the days from `from` to `until`.
    let promise = |k: usize, promised: &str, from, until| CommitmentContent {
        category: text(COMMITMENT_CATEGORIES[k]),
        text: text(promised),
        target: None,
        from,
        until,
        public: true,
    };
    let mut feed = Feed { model: ReadModel::default(), versions: Default::default() };
    let mut units = Vec::with_capacity(UNITS);
    for index in 0..UNITS {
        let setup = workload::campaign_unit(index, 0).remove(0);
        let (mut unit, mut members) = (None, Vec::new());
        for event in setup.events {
            match &event.payload {
                DomainEvent::UnitRegistered(e) => unit = Some(e.unit),
                DomainEvent::MemberRegistered(e) => members.push(e.member),
                _ => {}
            }
            feed.apply(event.payload);
        }
        let unit = unit.expect("a unit's setup registers it");
        let items: Vec<CommitmentId> = (0..3).map(|_| CommitmentId::new()).collect();
        for (k, item) in items.iter().enumerate() {
            let content = promise(k, "即办件当场办结，承诺件按时办结", date!(2011 - 01 - 01), date!(2011 - 06 - 30));
            let made = CommitmentMade { commitment: *item, unit, member: None, content, renews: vec![], code: None };
            feed.apply(made.into());
        }
        units.push((unit, members, items));
    }
    let round = RoundId::new();
    let period = HalfYear::containing(date!(2011 - 06 - 30)).period();
    let scope = RoundScope::All;
    let name = text("2011年上半年公开承诺回头看");
    feed.apply(RoundOpened { round, name, first: period.first, last: period.last, scope }.into());
    for (index, (unit, _, items)) in units.iter().enumerate() {
        for k in 0..1 + index % 2 {
            let rating = [Some(Rating::Satisfied), Some(Rating::FairlySatisfied), None][(index + k) % 3];
            let opinion = OpinionRecorded {
                opinion: OpinionId::new(),
                round,
                unit: *unit,
                commitment: Some(items[k]),
                text: text("办事很快，态度热情"),
                rating,
                channel: Channel::Telephone,
                citizen: None,
            };
            feed.apply(opinion.into());
        }
        // Most units look back; one item in six is carried on (about 2,500 in all).
        if index % 20 < 17 {
            for (k, item) in items.iter().enumerate() {
                let renewed = (index * 3 + k) % 6 == 0;
                let fulfilment = if renewed { Fulfilment::NotKept } else { Fulfilment::Kept };
                let evidence = text("群众评议");
                feed.apply(CommitmentAssessed { commitment: *item, fulfilment, evidence }.into());
                if renewed {
                    let content = promise(k, "整改后再承诺", date!(2011 - 07 - 01), date!(2011 - 12 - 31));
                    let commitment = CommitmentId::new();
                    let made = CommitmentMade {
                        commitment,
                        unit: *unit,
                        member: None,
                        content,
                        renews: vec![*item],
                        code: None,
                    };
                    feed.apply(made.into());
                }
            }
        }
    }
    // The log grows with the units' service, not with more units.
    let mut i = 0;
    while (feed.model.position as usize) < events {
        let (unit, members, _) = &units[i % UNITS];
        for event in workload::unit_outing(*unit, members, i / UNITS) {
            feed.apply(event);
        }
        i += 1;
    }
    (feed.model, round)
}

/// Rounds of alternating timings.
const ROUNDS: usize = 25;

pub(crate) fn run(events: usize) -> Result<()> {
    let models = [city(100_000), city(events)];
    let renewals = round_report(&models[1].0, models[1].1, GroupBy::Total, models[1].0.position)
        .expect("the round is open")
        .total
        .tally
        .renewals;
    // Timed in alternating rounds, every sample pooled (see the `ledger` scenario).
    let mut samples = [[Vec::new(), Vec::new()], [Vec::new(), Vec::new()]];
    for _ in 0..ROUNDS {
        for ((model, round), [total_us, region_us]) in models.iter().zip(samples.iter_mut()) {
            total_us.extend(sample_micros(41, || {
                std::hint::black_box(round_report(model, *round, GroupBy::Total, model.position));
            }));
            region_us.extend(sample_micros(41, || {
                std::hint::black_box(round_report(model, *round, GroupBy::Region, model.position));
            }));
        }
    }
    let [[small_total, small_region], [large_total, large_region]] = samples.map(|s| s.map(median));
    report("round.units", UNITS as f64, "units", None);
    report("round.renewals", renewals as f64, "items", None);
    report("round.small_events", models[0].0.position as f64, "events", None);
    report("round.large_events", models[1].0.position as f64, "events", None);
    report("round.by_region", large_region, "µs", Some(small_region));
    report("round", large_total, "µs", Some(small_total));
    Ok(())
}
