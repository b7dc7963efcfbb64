//! The workload: events shaped like a real service month. Each outing is registered
//! with three participants and books each participant's time, so the typical event mix
//! is one `OutingRegistered` to three `ServiceBooked`.

use taizhang_core::*;
use taizhang_store::{AppendRequest, ExpectedVersion, NewEvent};
use time::macros::date;
use uuid::Uuid;

const PLACES: [&str; 4] = ["茅箭区五堰街道社区", "张湾区车城路社区", "郧阳区城关镇", "丹江口市均州路"];
const CATEGORIES: [&str; 3] = ["便民服务", "义务咨询", "环境整治"];

/// The events of one outing: its registration and its three bookings.
fn outing(i: usize) -> Vec<NewEvent> {
    let text = |s: &str| Text::parse("t", s).expect("workload text");
    let start = ClockTime::from_minutes(8 * 60 + (i % 8) as u16 * 30).expect("in range");
    let end = ClockTime::from_minutes(start.minutes() + 120).expect("in range");
    let span = TimeRange::new("span", start, end).expect("valid span");
    let details = OutingDetails {
        date: date!(2011 - 06 - 01).saturating_add(time::Duration::days((i % 30) as i64)),
        span,
        place: text(PLACES[i % PLACES.len()]),
        category: text(CATEGORIES[i % CATEGORIES.len()]),
        description: None,
        beneficiaries: (i % 50) as u32,
    };
    let outing = OutingId::new();
    let participants: Vec<Participation> = (0..3)
        .map(|_| Participation { member: MemberId::new(), span, minutes: Minutes::new(90).expect("positive") })
        .collect();
    let at = Some(Timestamp::of_service(details.date, span.start));
    let mut events = vec![NewEvent {
        payload: OutingRegistered {
            outing,
            unit: UnitId::new(),
            details: details.clone(),
            participants: participants.clone(),
        }
        .into(),
        occurred_at: at,
    }];
    events.extend(participants.iter().map(|p| NewEvent {
        payload: ServiceBooked { member: p.member, outing, date: details.date, span, minutes: p.minutes }.into(),
        occurred_at: at,
    }));
    events
}

/// `n` events in the typical mix.
pub fn events(n: usize) -> Vec<NewEvent> {
    (0..).flat_map(outing).take(n).collect()
}

/// Commands (one per outing) holding about `n` events in all.
pub fn commands(n: usize) -> Vec<AppendRequest> {
    (0..n.div_ceil(4))
        .map(|i| {
            let events = outing(i);
            AppendRequest {
                command_id: Uuid::now_v7(),
                actor: Actor::OPERATOR,
                correlation_id: None,
                causation_id: None,
                expectations: events.iter().map(|e| (e.payload.stream(), ExpectedVersion::NoStream)).collect(),
                events,
            }
        })
        .collect()
}
