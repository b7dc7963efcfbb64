//! Outings: a unit's volunteer service on a day, with who served and for how long; their
//! commands, events, state and decisions (participants checked against their units and
//! calendars).

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use time::Date;

use crate::command::Decision;
use crate::decide::{absent, coded, Deciding, PendingEvent};
use crate::event::Fact;
use crate::*;

/// One participant as a clerk enters them: the span defaults to the outing's, the hours
/// to the span's length.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ParticipationInput {
    pub member: MemberId,
    pub span: Option<TimeRange>,
    pub minutes: Option<Minutes>,
}

impl ParticipationInput {
    /// The span of this participation in an outing described by `details`.
    pub fn span_in(&self, details: &OutingDetails) -> TimeRange {
        self.span.unwrap_or(details.span)
    }

    /// The minutes of service this participation records in such an outing: as given,
    /// else the length of its span.
    pub fn minutes_in(&self, details: &OutingDetails) -> u32 {
        self.minutes.map_or_else(|| self.span_in(details).minutes(), Minutes::get)
    }
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RegisterOuting {
    pub outing: OutingId,
    pub unit: UnitId,
    pub details: OutingDetails,
    pub participants: Vec<ParticipationInput>,
    /// The outing's code in the unit's own records, if any.
    pub code: Option<Text>,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AmendOuting {
    pub outing: OutingId,
    pub details: OutingDetails,
    pub participants: Vec<ParticipationInput>,
    pub reason: Text,
    /// The outing stream version the clerk's copy shows; a newer stored version is a
    /// conflict rather than a silent overwrite.
    pub expected_version: Option<u64>,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct VoidOuting {
    pub outing: OutingId,
    pub reason: Text,
    pub expected_version: Option<u64>,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct VerifyOuting {
    pub outing: OutingId,
    pub note: Option<Text>,
    /// The version the reviewer looked at: a verification covers exactly that record.
    pub expected_version: Option<u64>,
}

/// What a clerk records about an outing, apart from who served.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct OutingDetails {
    #[schemars(schema_with = "crate::schema::date")]
    pub date: Date,
    pub span: TimeRange,
    pub place: Text,
    pub category: Text,
    pub description: Option<Text>,
    /// How many people the outing served.
    pub beneficiaries: u32,
}

/// One member's service on an outing: when they were there and the hours served
/// (actual service, travel excluded).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Participation {
    pub member: MemberId,
    pub span: TimeRange,
    pub minutes: Minutes,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct OutingRegistered {
    pub outing: OutingId,
    pub unit: UnitId,
    pub details: OutingDetails,
    pub participants: Vec<Participation>,
    /// The outing's code in the unit's records; the outing id is then the code's.
    #[serde(default)]
    pub code: Option<Text>,
}

/// A correction: the outing as it should have been recorded, and why. The earlier
/// record stays in the log beside it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct OutingAmended {
    pub outing: OutingId,
    pub details: OutingDetails,
    pub participants: Vec<Participation>,
    pub reason: Text,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct OutingVoided {
    pub outing: OutingId,
    pub reason: Text,
}

/// A reviewer confirmed the outing as it stands at this point of its stream. A later
/// amendment needs a new verification.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct OutingVerified {
    pub outing: OutingId,
    pub note: Option<Text>,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct OutingState {
    pub unit: UnitId,
    pub details: OutingDetails,
    pub participants: Vec<Participation>,
    pub voided: bool,
    /// Verified in its current form (an amendment clears this).
    pub verified: bool,
    /// Its check-in, once a clerk opened one.
    pub check_in: Option<CheckInState>,
}

/// An outing's date is a real one, and not after the day it is recorded (a day's grace
/// for clocks): hours not yet served must not count as recorded.
pub(crate) fn happened(details: &OutingDetails, today: Date) -> Result<(), DomainError> {
    check_date("date", details.date)?;
    if today.next_day().is_some_and(|tomorrow| details.date > tomorrow) {
        return Err(DomainError::InvalidValue {
            field: "date".to_owned(),
            reason: format!("{} is after today ({today}); an outing is registered once it has happened", details.date),
        });
    }
    Ok(())
}

/// An outing that exists, is not voided, and is at the version the caller saw.
pub(crate) fn open_outing(
    loaded: &Aggregates,
    id: OutingId,
    expected: Option<u64>,
) -> Result<&OutingState, DomainError> {
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
pub(crate) fn participations(
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
        for (other, booking) in state.bookings.on(details.date).filter(|(o, _)| *o != outing) {
            if booking.span.overlaps(span) {
                return Err(DomainError::OverlappingOuting {
                    member: input.member,
                    other,
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
pub(crate) fn calendar_changes(
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

/// The streams of every participant in `participants`.
fn participant_streams(participants: &[ParticipationInput]) -> impl Iterator<Item = StreamId> + '_ {
    participants.iter().map(|p| StreamId::member(p.member))
}

/// The unit of the outing as `loaded` knows it.
pub(crate) fn outing_unit(loaded: &Aggregates, outing: OutingId) -> Option<UnitId> {
    loaded.outings.get(&outing).map(|o| o.unit)
}

/// Whether `inputs`, as a clerk entered them for an outing described by `details`, are
/// `stored`: each participant's span and minutes as the outing resolves them.
fn same_participants(inputs: &[ParticipationInput], details: &OutingDetails, stored: &[Participation]) -> bool {
    inputs.len() == stored.len()
        && inputs.iter().zip(stored).all(|(input, p)| {
            (input.member, input.span_in(details), input.minutes_in(details)) == (p.member, p.span, p.minutes.get())
        })
}

impl Decision for RegisterOuting {
    fn answered_by(&self, event: &DomainEvent) -> bool {
        matches!(event, DomainEvent::OutingRegistered(e)
            if (self.unit, &self.details, &self.code) == (e.unit, &e.details, &e.code)
                && same_participants(&self.participants, &self.details, &e.participants))
    }

    fn needs(&self, _: &Aggregates, needs: &mut Vec<StreamId>) {
        needs.push(StreamId::unit(self.unit));
        needs.extend(participant_streams(&self.participants));
    }

    fn units_written(&self, _: &Aggregates) -> Vec<Option<UnitId>> {
        vec![Some(self.unit)]
    }

    fn decide(&self, cx: &mut Deciding<'_>) -> Result<Vec<PendingEvent>, DomainError> {
        let loaded = cx.loaded;
        happened(&self.details, cx.today)?;
        coded("outing", self.outing.0, self.code.as_ref())?;
        absent(loaded, StreamId::outing(self.outing))?;
        unit(loaded, self.unit)?;
        let participants = participations(loaded, self.outing, self.unit, &self.details, &self.participants)?;
        let mut events = vec![PendingEvent::at(
            OutingRegistered {
                outing: self.outing,
                unit: self.unit,
                details: self.details.clone(),
                participants: participants.clone(),
                code: self.code.clone(),
            },
            &self.details,
        )];
        events.extend(calendar_changes(loaded, self.outing, &self.details, &participants));
        Ok(events)
    }
}

impl Decision for AmendOuting {
    fn answered_by(&self, event: &DomainEvent) -> bool {
        matches!(event, DomainEvent::OutingAmended(e)
            if (self.outing, &self.details, &self.reason) == (e.outing, &e.details, &e.reason)
                && same_participants(&self.participants, &self.details, &e.participants))
    }

    /// Once the outing is loaded: its unit, and its participants before and after.
    fn needs(&self, loaded: &Aggregates, needs: &mut Vec<StreamId>) {
        if let Some(o) = loaded.outings.get(&self.outing) {
            needs.push(StreamId::unit(o.unit));
            needs.extend(o.participants.iter().map(|p| StreamId::member(p.member)));
        }
        needs.extend(participant_streams(&self.participants));
    }

    fn units_written(&self, loaded: &Aggregates) -> Vec<Option<UnitId>> {
        vec![outing_unit(loaded, self.outing)]
    }

    fn decide(&self, cx: &mut Deciding<'_>) -> Result<Vec<PendingEvent>, DomainError> {
        let loaded = cx.loaded;
        happened(&self.details, cx.today)?;
        let outing = open_outing(loaded, self.outing, self.expected_version)?;
        let participants = participations(loaded, self.outing, outing.unit, &self.details, &self.participants)?;
        let mut events = vec![PendingEvent::at(
            OutingAmended {
                outing: self.outing,
                details: self.details.clone(),
                participants: participants.clone(),
                reason: self.reason.clone(),
            },
            &self.details,
        )];
        events.extend(calendar_changes(loaded, self.outing, &self.details, &participants));
        Ok(events)
    }
}

impl Decision for VoidOuting {
    fn answered_by(&self, event: &DomainEvent) -> bool {
        matches!(event, DomainEvent::OutingVoided(e) if (self.outing, &self.reason) == (e.outing, &e.reason))
    }

    /// Once the outing is loaded: its participants, whose time it releases.
    fn needs(&self, loaded: &Aggregates, needs: &mut Vec<StreamId>) {
        if let Some(o) = loaded.outings.get(&self.outing) {
            needs.extend(o.participants.iter().map(|p| StreamId::member(p.member)));
        }
    }

    fn units_written(&self, loaded: &Aggregates) -> Vec<Option<UnitId>> {
        vec![outing_unit(loaded, self.outing)]
    }

    fn decide(&self, cx: &mut Deciding<'_>) -> Result<Vec<PendingEvent>, DomainError> {
        let outing = open_outing(cx.loaded, self.outing, self.expected_version)?;
        let mut events = vec![PendingEvent::now(OutingVoided { outing: self.outing, reason: self.reason.clone() })];
        events.extend(calendar_changes(cx.loaded, self.outing, &outing.details, &[]));
        Ok(events)
    }
}

impl Decision for VerifyOuting {
    fn answered_by(&self, event: &DomainEvent) -> bool {
        matches!(event, DomainEvent::OutingVerified(e) if (self.outing, &self.note) == (e.outing, &e.note))
    }

    fn units_written(&self, loaded: &Aggregates) -> Vec<Option<UnitId>> {
        vec![outing_unit(loaded, self.outing)]
    }

    fn decide(&self, cx: &mut Deciding<'_>) -> Result<Vec<PendingEvent>, DomainError> {
        let outing = open_outing(cx.loaded, self.outing, self.expected_version)?;
        if outing.verified {
            return Err(DomainError::AlreadyVerified { outing: self.outing });
        }
        Ok(vec![PendingEvent::now(OutingVerified { outing: self.outing, note: self.note.clone() })])
    }
}

/// Folds an event into the state of outing `id`, if it was loaded.
fn change(state: &mut Aggregates, id: OutingId, fold: impl FnOnce(&mut OutingState)) {
    if let Some(loaded) = state.outings.get_mut(&id) {
        fold(loaded);
    }
}

impl Fact for OutingRegistered {
    fn fold(&self, _: u64, state: &mut Aggregates) {
        let outing = OutingState {
            unit: self.unit,
            details: self.details.clone(),
            participants: self.participants.clone(),
            voided: false,
            verified: false,
            check_in: None,
        };
        state.outings.insert(self.outing, outing);
    }
}

impl Fact for OutingAmended {
    fn fold(&self, _: u64, state: &mut Aggregates) {
        change(state, self.outing, |o| {
            o.details = self.details.clone();
            o.participants = self.participants.clone();
            o.verified = false;
        });
    }
}

impl Fact for OutingVoided {
    fn fold(&self, _: u64, state: &mut Aggregates) {
        change(state, self.outing, |o| o.voided = true);
    }
}

impl Fact for OutingVerified {
    fn fold(&self, _: u64, state: &mut Aggregates) {
        change(state, self.outing, |o| o.verified = true);
    }
}
