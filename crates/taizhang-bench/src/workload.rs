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
            code: None,
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
                recorded_at: None,
                subject_key: None,
                expectations: events.iter().map(|e| (e.payload.stream(), ExpectedVersion::NoStream)).collect(),
                events,
            }
        })
        .collect()
}

/// Events of one unit in a service campaign, as commands: the unit and its ten members,
/// then `outings` outings of three of its members each (a quarter of them verified).
/// Every unit has the same shape, so a larger log means more units, not larger ones.
pub fn campaign_unit(index: usize, outings: usize) -> Vec<AppendRequest> {
    let text = |s: &str| Text::parse("t", s).expect("workload text");
    let unit = UnitId::new();
    let regions = ["茅箭区", "张湾区", "郧阳区", "丹江口市", "房县", "竹山县"];
    let industries = ["医院", "民政", "税务", "移动公司", "档案馆", "便民服务"];
    let mut setup = vec![UnitRegistered {
        unit,
        name: text(&format!("十堰市第{index}服务窗口")),
        industry: text(industries[index % industries.len()]),
        region: text(regions[index % regions.len()]),
        parent: None,
        code: None,
    }
    .into()];
    let members: Vec<MemberId> = (0..10).map(|_| MemberId::new()).collect();
    setup.extend(members.iter().map(|m| {
        // Sealed personal data is about this size: a name, an id number, a phone.
        MemberRegistered {
            member: *m,
            unit,
            joined_on: date!(2011 - 01 - 01),
            personal: SealedPersonal(vec![7; 72]),
            code: None,
        }
        .into()
    }));
    let mut commands = vec![request(setup)];
    commands.extend((0..outings).map(|i| request(unit_outing(unit, &members, i))));
    commands
}

/// The `i`th outing of `unit` (ten `members`): its registration, three bookings and,
/// for a quarter of them, the verification.
pub fn unit_outing(unit: UnitId, members: &[MemberId], i: usize) -> Vec<DomainEvent> {
    let text = |s: &str| Text::parse("t", s).expect("workload text");
    let outing = OutingId::new();
    let day = date!(2011 - 06 - 01).saturating_add(time::Duration::days((i % 30) as i64));
    let start = ClockTime::from_minutes(8 * 60 + (i / 30 % 6) as u16 * 120).expect("in range");
    let span = TimeRange::new("span", start, ClockTime::from_minutes(start.minutes() + 90).expect("in range"))
        .expect("valid span");
    let details = OutingDetails {
        date: day,
        span,
        place: text(PLACES[i % PLACES.len()]),
        category: text(CATEGORIES[i % CATEGORIES.len()]),
        description: None,
        beneficiaries: (i % 50) as u32,
    };
    let participants: Vec<Participation> = (0..3)
        .map(|k| Participation {
            member: members[(i + k * 3) % members.len()],
            span,
            minutes: Minutes::new(90).expect("positive"),
        })
        .collect();
    let mut events: Vec<DomainEvent> =
        vec![OutingRegistered { outing, unit, details, participants: participants.clone(), code: None }.into()];
    events.extend(participants.iter().map(|p| -> DomainEvent {
        ServiceBooked { member: p.member, outing, date: day, span, minutes: p.minutes }.into()
    }));
    if i % 4 == 0 {
        events.push(OutingVerified { outing, note: None }.into());
    }
    events
}

fn request(events: Vec<DomainEvent>) -> AppendRequest {
    AppendRequest {
        command_id: Uuid::now_v7(),
        actor: Actor::OPERATOR,
        correlation_id: None,
        causation_id: None,
        recorded_at: None,
        subject_key: None,
        expectations: vec![],
        events: events.into_iter().map(|payload| NewEvent { payload, occurred_at: None }).collect(),
    }
}
