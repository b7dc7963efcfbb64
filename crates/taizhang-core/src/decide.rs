//! Command handling: every rule lives here, and nothing here writes anything.
//!
//! The application layer calls [`dependencies`] until every stream it names is loaded
//! into [`Aggregates`], then [`decide`], then appends the events with the version of
//! every loaded stream as its expected version. A concurrent change to any of those
//! streams (a member's calendar, say) turns into a conflict, and the command is decided
//! again on fresh state: that is how rules spanning streams hold under concurrency.

use std::collections::HashSet;

use time::Date;

use crate::*;

/// Seals a new member's personal data under a key of its own. The application layer
/// supplies it; it keeps the key until the command's events are appended.
pub trait Sealer {
    fn seal(&mut self, member: MemberId, personal: &PersonalData) -> SealedPersonal;
}

impl<F: FnMut(MemberId, &PersonalData) -> SealedPersonal> Sealer for F {
    fn seal(&mut self, member: MemberId, personal: &PersonalData) -> SealedPersonal {
        self(member, personal)
    }
}

/// An event decided by a command, with the moment it describes when that is not the
/// moment it is recorded (an outing registered late occurred on its own date).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PendingEvent {
    pub event: DomainEvent,
    pub occurred_at: Option<Timestamp>,
}

impl PendingEvent {
    fn now(event: impl Into<DomainEvent>) -> Self {
        Self { event: event.into(), occurred_at: None }
    }

    fn at(event: impl Into<DomainEvent>, details: &OutingDetails) -> Self {
        Self { event: event.into(), occurred_at: Some(Timestamp::of_service(details.date, details.span.start)) }
    }
}

/// Deepest unit hierarchy walked when checking for cycles.
const MAX_UNIT_DEPTH: usize = 64;

/// The streams `cmd` needs to be decided, given what is loaded so far. Call until it
/// names nothing that is not loaded: some needs appear only after a first load (an
/// outing's current participants, a parent unit's own parent).
pub fn dependencies(cmd: &Command, loaded: &Aggregates) -> Vec<StreamId> {
    let mut needs = Vec::new();
    match cmd {
        Command::RegisterUnit(c) => {
            needs.push(StreamId::unit(c.unit));
            needs.extend(c.parent.map(StreamId::unit));
        }
        Command::RenameUnit(c) => needs.push(StreamId::unit(c.unit)),
        Command::MoveUnit(c) => {
            needs.push(StreamId::unit(c.unit));
            let mut next = c.parent;
            for _ in 0..MAX_UNIT_DEPTH {
                let Some(ancestor) = next else { break };
                needs.push(StreamId::unit(ancestor));
                if ancestor == c.unit {
                    break;
                }
                next = loaded.units.get(&ancestor).and_then(|u| u.parent);
            }
        }
        Command::RegisterMember(c) => needs.extend([StreamId::member(c.member), StreamId::unit(c.unit)]),
        Command::TransferMember(c) => needs.extend([StreamId::member(c.member), StreamId::unit(c.to)]),
        Command::EraseMember(c) => needs.push(StreamId::member(c.member)),
        Command::CorrectPersonalData(c) => needs.push(StreamId::member(c.member)),
        Command::ReclassifyUnit(c) => needs.push(StreamId::unit(c.unit)),
        Command::RegisterOuting(c) => {
            needs.extend([StreamId::outing(c.outing), StreamId::unit(c.unit)]);
            needs.extend(c.participants.iter().map(|p| StreamId::member(p.member)));
        }
        Command::AmendOuting(c) => {
            needs.push(StreamId::outing(c.outing));
            if let Some(o) = loaded.outings.get(&c.outing) {
                needs.push(StreamId::unit(o.unit));
                needs.extend(o.participants.iter().map(|p| StreamId::member(p.member)));
            }
            needs.extend(c.participants.iter().map(|p| StreamId::member(p.member)));
        }
        Command::VoidOuting(c) => {
            needs.push(StreamId::outing(c.outing));
            if let Some(o) = loaded.outings.get(&c.outing) {
                needs.extend(o.participants.iter().map(|p| StreamId::member(p.member)));
            }
        }
        Command::VerifyOuting(c) => needs.push(StreamId::outing(c.outing)),
        Command::RecordEvaluation(c) => needs.push(StreamId::member(c.member)),
    }
    needs
}

/// The units whose records `cmd` writes, as far as `loaded` knows them: what a clerk's
/// scope is checked against. A member's unit is their current one (both ends of a
/// transfer); an outing's is the unit it was registered for. Records not found add
/// nothing: [`decide`] then refuses the command as not found.
pub fn units_written(cmd: &Command, loaded: &Aggregates) -> Vec<UnitId> {
    let member_unit = |m: &MemberId| loaded.members.get(m).map(MemberState::current_unit);
    let outing_unit = |o: &OutingId| loaded.outings.get(o).map(|o| o.unit);
    let mut units = match cmd {
        Command::RegisterUnit(c) => vec![Some(c.unit)],
        Command::RenameUnit(c) => vec![Some(c.unit)],
        Command::MoveUnit(c) => vec![Some(c.unit)],
        Command::ReclassifyUnit(c) => vec![Some(c.unit)],
        Command::CorrectPersonalData(c) => vec![member_unit(&c.member)],
        Command::RegisterMember(c) => vec![Some(c.unit)],
        Command::TransferMember(c) => vec![member_unit(&c.member), Some(c.to)],
        Command::EraseMember(c) => vec![member_unit(&c.member)],
        Command::RecordEvaluation(c) => vec![member_unit(&c.member)],
        Command::RegisterOuting(c) => vec![Some(c.unit)],
        Command::AmendOuting(c) => vec![outing_unit(&c.outing)],
        Command::VoidOuting(c) => vec![outing_unit(&c.outing)],
        Command::VerifyOuting(c) => vec![outing_unit(&c.outing)],
    };
    units.dedup();
    units.into_iter().flatten().collect()
}

/// Validates `cmd` against `loaded` and returns the events it causes, or the first rule
/// it breaks. `loaded` must hold every stream [`dependencies`] names; `today` is the
/// service date the command is recorded on (an outing is registered once it happened).
pub fn decide(
    cmd: &Command,
    loaded: &Aggregates,
    today: Date,
    sealer: &mut dyn Sealer,
) -> Result<Vec<PendingEvent>, DomainError> {
    match cmd {
        Command::RegisterUnit(c) => {
            coded("unit", c.unit.0, c.code.as_ref())?;
            absent(loaded, StreamId::unit(c.unit))?;
            if let Some(parent) = c.parent {
                unit(loaded, parent)?;
            }
            Ok(vec![PendingEvent::now(UnitRegistered {
                unit: c.unit,
                name: c.name.clone(),
                industry: c.industry.clone(),
                region: c.region.clone(),
                parent: c.parent,
                code: c.code.clone(),
            })])
        }
        Command::RenameUnit(c) => {
            unit(loaded, c.unit)?;
            Ok(vec![PendingEvent::now(UnitRenamed { unit: c.unit, name: c.name.clone() })])
        }
        Command::MoveUnit(c) => {
            unit(loaded, c.unit)?;
            if let Some(parent) = c.parent {
                unit(loaded, parent)?;
                let mut next = Some(parent);
                for _ in 0..MAX_UNIT_DEPTH {
                    let Some(ancestor) = next else { break };
                    if ancestor == c.unit {
                        return Err(DomainError::UnitCycle { unit: c.unit, parent });
                    }
                    next = loaded.units.get(&ancestor).and_then(|u| u.parent);
                }
            }
            Ok(vec![PendingEvent::now(UnitMoved { unit: c.unit, region: c.region.clone(), parent: c.parent })])
        }
        Command::ReclassifyUnit(c) => {
            let current = unit(loaded, c.unit)?;
            if current.industry == c.industry {
                return Err(DomainError::InvalidValue {
                    field: "industry".to_owned(),
                    reason: format!("the unit's industry is {} already", c.industry),
                });
            }
            Ok(vec![PendingEvent::now(UnitReclassified {
                unit: c.unit,
                industry: c.industry.clone(),
                reason: c.reason.clone(),
            })])
        }
        Command::CorrectPersonalData(c) => {
            c.personal.validate()?;
            let current = member(loaded, c.member)?;
            if let Some(born) = c.personal.birth_date {
                let (joined, _) = current.memberships.first().copied().expect("a registered member has a unit");
                if born > joined {
                    return Err(DomainError::InvalidValue {
                        field: "personal.birthDate".to_owned(),
                        reason: format!("{born} is after the day the member joined, {joined}"),
                    });
                }
            }
            let personal = sealer.seal(c.member, &c.personal);
            Ok(vec![PendingEvent::now(PersonalDataCorrected { member: c.member, personal, reason: c.reason.clone() })])
        }
        Command::RegisterMember(c) => {
            c.personal.validate()?;
            check_date("joinedOn", c.joined_on)?;
            if let Some(born) = c.personal.birth_date.filter(|born| *born > c.joined_on) {
                return Err(DomainError::InvalidValue {
                    field: "joinedOn".to_owned(),
                    reason: format!("{} is before the member's birth date {born}", c.joined_on),
                });
            }
            coded("member", c.member.0, c.code.as_ref())?;
            absent(loaded, StreamId::member(c.member))?;
            unit(loaded, c.unit)?;
            let personal = sealer.seal(c.member, &c.personal);
            Ok(vec![PendingEvent::now(MemberRegistered {
                member: c.member,
                unit: c.unit,
                joined_on: c.joined_on,
                personal,
                code: c.code.clone(),
            })])
        }
        Command::TransferMember(c) => {
            check_date("effective", c.effective)?;
            let member = member(loaded, c.member)?;
            unit(loaded, c.to)?;
            let from = member.current_unit();
            let invalid = |reason: String| DomainError::InvalidTransfer { member: c.member, reason };
            if from == c.to {
                return Err(invalid(format!("the member already belongs to unit {}", c.to)));
            }
            let (since, _) = member.memberships.last().copied().expect("a registered member has a unit");
            if c.effective <= since {
                return Err(invalid(format!(
                    "effective {} is not after the member's last move on {since}",
                    c.effective
                )));
            }
            Ok(vec![PendingEvent::now(MemberTransferred { member: c.member, from, to: c.to, effective: c.effective })])
        }
        Command::EraseMember(c) => {
            member(loaded, c.member)?;
            Ok(vec![PendingEvent::now(MemberErased { member: c.member })])
        }
        Command::RegisterOuting(c) => {
            happened(&c.details, today)?;
            coded("outing", c.outing.0, c.code.as_ref())?;
            absent(loaded, StreamId::outing(c.outing))?;
            unit(loaded, c.unit)?;
            let participants = participations(loaded, c.outing, c.unit, &c.details, &c.participants)?;
            let mut events = vec![PendingEvent::at(
                OutingRegistered {
                    outing: c.outing,
                    unit: c.unit,
                    details: c.details.clone(),
                    participants: participants.clone(),
                    code: c.code.clone(),
                },
                &c.details,
            )];
            events.extend(calendar_changes(loaded, c.outing, &c.details, &participants));
            Ok(events)
        }
        Command::AmendOuting(c) => {
            happened(&c.details, today)?;
            let outing = open_outing(loaded, c.outing, c.expected_version)?;
            let participants = participations(loaded, c.outing, outing.unit, &c.details, &c.participants)?;
            let mut events = vec![PendingEvent::at(
                OutingAmended {
                    outing: c.outing,
                    details: c.details.clone(),
                    participants: participants.clone(),
                    reason: c.reason.clone(),
                },
                &c.details,
            )];
            events.extend(calendar_changes(loaded, c.outing, &c.details, &participants));
            Ok(events)
        }
        Command::VoidOuting(c) => {
            let outing = open_outing(loaded, c.outing, c.expected_version)?;
            let mut events = vec![PendingEvent::now(OutingVoided { outing: c.outing, reason: c.reason.clone() })];
            events.extend(calendar_changes(loaded, c.outing, &outing.details, &[]));
            Ok(events)
        }
        Command::VerifyOuting(c) => {
            let outing = open_outing(loaded, c.outing, c.expected_version)?;
            if outing.verified {
                return Err(DomainError::AlreadyVerified { outing: c.outing });
            }
            Ok(vec![PendingEvent::now(OutingVerified { outing: c.outing, note: c.note.clone() })])
        }
        Command::RecordEvaluation(c) => {
            member(loaded, c.member)?;
            Ok(vec![PendingEvent::now(EvaluationRecorded {
                member: c.member,
                half_year: c.half_year,
                public_score: c.public_score,
                leader_score: c.leader_score,
                note: c.note.clone(),
            })])
        }
    }
}

/// An outing's date is a real one, and not after the day it is recorded (a day's grace
/// for clocks): hours not yet served must not count as recorded.
fn happened(details: &OutingDetails, today: Date) -> Result<(), DomainError> {
    check_date("date", details.date)?;
    if today.next_day().is_some_and(|tomorrow| details.date > tomorrow) {
        return Err(DomainError::InvalidValue {
            field: "date".to_owned(),
            reason: format!("{} is after today ({today}); an outing is registered once it has happened", details.date),
        });
    }
    Ok(())
}

fn absent(loaded: &Aggregates, stream: StreamId) -> Result<(), DomainError> {
    match loaded.versions.get(&stream) {
        Some(Some(_)) => Err(DomainError::AlreadyExists { stream }),
        _ => Ok(()),
    }
}

/// A record of `kind` registered with a code has the code's id ([`crate::id_of_code`]):
/// one code, one record, however many times it is registered.
fn coded(kind: &str, id: uuid::Uuid, code: Option<&Text>) -> Result<(), DomainError> {
    match code {
        Some(code) if crate::id_of_code(kind, code.as_str()) != id => Err(DomainError::InvalidValue {
            field: "code".to_owned(),
            reason: format!("{code} names another record than {id}: give the code or the id, not both"),
        }),
        _ => Ok(()),
    }
}

fn unit(loaded: &Aggregates, id: UnitId) -> Result<&UnitState, DomainError> {
    loaded.units.get(&id).ok_or(DomainError::UnitNotFound(id))
}

fn member(loaded: &Aggregates, id: MemberId) -> Result<&MemberState, DomainError> {
    let member = loaded.members.get(&id).ok_or(DomainError::MemberNotFound(id))?;
    if member.erased {
        return Err(DomainError::MemberErased { member: id });
    }
    Ok(member)
}

/// An outing that exists, is not voided, and is at the version the caller saw.
fn open_outing(loaded: &Aggregates, id: OutingId, expected: Option<u64>) -> Result<&OutingState, DomainError> {
    let outing = loaded.outings.get(&id).ok_or(DomainError::OutingNotFound(id))?;
    if let Some(expected) = expected {
        let stream = StreamId::outing(id);
        let actual = loaded.versions.get(&stream).copied().flatten();
        if actual != Some(expected) {
            return Err(DomainError::StaleVersion { stream, expected, actual });
        }
    }
    if outing.voided {
        return Err(DomainError::OutingVoided { outing: id });
    }
    Ok(outing)
}

/// Resolves and checks every participant of an outing of `unit` described by `details`.
fn participations(
    loaded: &Aggregates,
    outing: OutingId,
    unit: UnitId,
    details: &OutingDetails,
    inputs: &[ParticipationInput],
) -> Result<Vec<Participation>, DomainError> {
    if inputs.is_empty() {
        return Err(DomainError::NoParticipants);
    }
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(inputs.len());
    for input in inputs {
        if !seen.insert(input.member) {
            return Err(DomainError::DuplicateParticipant { member: input.member });
        }
        let state = member(loaded, input.member)?;
        if state.unit_on(details.date) != Some(unit) {
            return Err(DomainError::MemberNotInUnit { member: input.member, unit, date: details.date });
        }
        let span = input.span_in(details);
        if !details.span.contains(span) {
            return Err(DomainError::ParticipationOutsideOuting {
                member: input.member,
                participation: span.to_string(),
                outing: details.span.to_string(),
            });
        }
        let minutes = match input.minutes {
            Some(m) => m,
            None => Minutes::new(span.minutes()).expect("a non-empty span within a day is valid minutes"),
        };
        if minutes.get() > span.minutes() {
            return Err(DomainError::HoursExceedSpan {
                member: input.member,
                hours: minutes.to_string(),
                span_hours: Minutes::new(span.minutes()).expect("non-empty span").to_string(),
            });
        }
        let mut day_total = minutes.get();
        for (other, booking) in state.bookings.iter().filter(|(o, b)| **o != outing && b.date == details.date) {
            if booking.span.overlaps(span) {
                return Err(DomainError::OverlappingOuting {
                    member: input.member,
                    other: *other,
                    span: booking.span.to_string(),
                });
            }
            day_total += booking.minutes.get();
        }
        if day_total > Minutes::DAY {
            return Err(DomainError::DailyLimitExceeded {
                member: input.member,
                date: details.date,
                total_hours: format!("{:.2}", day_total as f64 / 60.0),
                limit_hours: "24.00".to_owned(),
            });
        }
        out.push(Participation { member: input.member, span, minutes });
    }
    Ok(out)
}

/// The member-calendar events that make every participant's bookings match
/// `participants` for this outing: new or changed bookings, and releases for members
/// no longer in it.
fn calendar_changes(
    loaded: &Aggregates,
    outing: OutingId,
    details: &OutingDetails,
    participants: &[Participation],
) -> Vec<PendingEvent> {
    let mut events = Vec::new();
    for p in participants {
        let booking = Booking { date: details.date, span: p.span, minutes: p.minutes };
        let current = loaded.members.get(&p.member).and_then(|m| m.bookings.get(&outing));
        if current != Some(&booking) {
            events.push(PendingEvent::at(
                ServiceBooked { member: p.member, outing, date: details.date, span: p.span, minutes: p.minutes },
                details,
            ));
        }
    }
    // Only the outing's current participants can hold a booking for it: looking no
    // further keeps this independent of how many members are loaded (an import's
    // rehearsal holds them all).
    let current = loaded.outings.get(&outing).map_or(&[][..], |o| o.participants.as_slice());
    let mut released: Vec<MemberId> = current
        .iter()
        .map(|p| p.member)
        .filter(|id| loaded.members.get(id).is_some_and(|m| m.bookings.contains_key(&outing)))
        .filter(|id| !participants.iter().any(|p| p.member == *id))
        .collect();
    // HashMap order is arbitrary; the log must not depend on it.
    released.sort();
    events.extend(released.into_iter().map(|member| PendingEvent::now(ServiceReleased { member, outing })));
    events
}
