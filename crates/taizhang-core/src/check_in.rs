//! Check-in and check-out at an outing's site: the hours a member records themselves
//! (credit hours), beside the hours a clerk types in afterwards (honour hours).
//!
//! A clerk opens check-in for an outing: the site gets a short code (shown as text and
//! as a QR code) that is good only from a margin before the outing starts to a margin
//! after it ends. A member checks in and out with that code, their number and their
//! check-in PIN: the site code shows they are there, the PIN that they are who they say.
//! The PIN is set once per member by a clerk and serves every outing; the log keeps
//! only its keyed digest ([`PinDigest`]), made by the application layer with a key the
//! log does not hold, so a copy of the log does not let anyone try PINs offline.
//!
//! Check-out records the member's participation: from when they arrived (not before the
//! outing starts) to when they left (not after it ends), under the same rules as a
//! clerk's entry (inside the outing's span, 24 hours a day, no overlap). A member who
//! never checks out gets no hours: the clerk sets them, and they are honour hours.

use serde::{Deserialize, Serialize};

use crate::command::Decision;
use crate::decide::{absent, coded, Deciding, PendingEvent};
use crate::event::Fact;
use crate::outing::{happened, open_outing, outing_unit, participations};
use crate::*;

/// The keyed digest of a member's check-in PIN (SHA-256 under a key kept beside the
/// master key; see the application layer). Never the PIN itself.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PinDigest(pub [u8; 32]);

impl std::fmt::Debug for PinDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PinDigest(…)")
    }
}

/// The settings of one check-in, each with the default most check-in systems use.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CheckInRules {
    /// Minutes before the outing starts that check-in opens, and after it ends that
    /// check-out closes (default 30, at most 240). No hours are credited outside the
    /// outing's own span whatever this is.
    pub margin_minutes: u16,
    /// A member arriving this many minutes late or less is credited from the start
    /// (default 0: hours start when they arrive).
    pub late_grace_minutes: u16,
    /// A member leaving this many minutes early or less is credited to the end
    /// (default 0: hours end when they leave).
    pub early_grace_minutes: u16,
}

impl Default for CheckInRules {
    fn default() -> Self {
        Self { margin_minutes: 30, late_grace_minutes: 0, early_grace_minutes: 0 }
    }
}

impl CheckInRules {
    pub const MAX_MARGIN_MINUTES: u16 = 240;
    pub const MAX_GRACE_MINUTES: u16 = 60;

    fn check(&self) -> Result<(), DomainError> {
        let bound = |field: &str, value: u16, max: u16| {
            if value > max {
                Err(DomainError::InvalidValue {
                    field: field.to_owned(),
                    reason: format!("{value} minutes; at most {max} are allowed"),
                })
            } else {
                Ok(())
            }
        };
        bound("marginMinutes", self.margin_minutes, Self::MAX_MARGIN_MINUTES)?;
        bound("lateGraceMinutes", self.late_grace_minutes, Self::MAX_GRACE_MINUTES)?;
        bound("earlyGraceMinutes", self.early_grace_minutes, Self::MAX_GRACE_MINUTES)
    }
}

/// Characters in a site code (Crockford's base 32, [`typed_code`]): 30 bits, about a
/// billion codes.
pub const SITE_CODE_LEN: usize = 6;

/// A site code from the first bits of `bytes`.
pub fn site_code(bytes: &[u8; 32]) -> String {
    typed_code::encode(u64::from_be_bytes(bytes[..8].try_into().expect("eight bytes")), SITE_CODE_LEN)
}

/// A new outing registered together with its check-in: the members come as they
/// check in.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct NewOuting {
    pub unit: UnitId,
    pub details: OutingDetails,
    pub code: Option<Text>,
}

/// Opens (or opens again, with a new code) check-in for an outing; registers the
/// outing first when `registration` is given.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct OpenCheckIn {
    pub outing: OutingId,
    pub registration: Option<NewOuting>,
    /// Made by the application layer ([`site_code`]); the same for a retry.
    pub site_code: String,
    pub rules: CheckInRules,
}

/// A member's arrival or departure, as they report it at the site.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Presence {
    pub member: MemberId,
    /// The site code as typed ([`typed_code::normalise`] is applied here).
    pub site_code: String,
    pub pin: PinDigest,
    /// When the member reported (the server's clock).
    pub at: Timestamp,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CheckIn {
    pub outing: OutingId,
    pub presence: Presence,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CheckOut {
    pub outing: OutingId,
    pub presence: Presence,
}

/// Sets a member's check-in PIN (a new one replaces the old).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SetCheckInPin {
    pub member: MemberId,
    pub pin: PinDigest,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CheckInOpened {
    pub outing: OutingId,
    pub site_code: String,
    pub rules: CheckInRules,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MemberCheckedIn {
    pub outing: OutingId,
    pub member: MemberId,
    pub at: Timestamp,
}

/// The member left: `participation` is the service it credits (none when they were
/// there for less than a minute of the outing's span), and replaces any the clerk had
/// entered for them.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MemberCheckedOut {
    pub outing: OutingId,
    pub member: MemberId,
    pub at: Timestamp,
    pub participation: Option<Participation>,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CheckInPinSet {
    pub member: MemberId,
    pub pin: PinDigest,
}

/// An outing's check-in as the command side knows it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CheckInState {
    pub site_code: String,
    pub rules: CheckInRules,
    /// Each member who checked in: when, and when they left if they did.
    pub members: std::collections::BTreeMap<MemberId, (Timestamp, Option<Timestamp>)>,
}

/// When check-in and check-out are open for an outing on `details` under `rules`: from
/// the margin before it starts; check-in until it ends, check-out until the margin
/// after.
pub fn check_in_window(details: &OutingDetails, rules: &CheckInRules) -> (Timestamp, Timestamp, Timestamp) {
    let margin = rules.margin_minutes as i64;
    let start = Timestamp::of_service(details.date, details.span.start);
    let end = Timestamp::of_service(details.date, details.span.end);
    (start.plus_minutes(-margin), end, end.plus_minutes(margin))
}

/// The minute of the outing's day `at` falls in, counted from its midnight (China
/// Standard Time), rounded up or down to a whole minute.
fn clock_minutes(details: &OutingDetails, at: Timestamp, round_up: bool) -> i64 {
    let micros = at.0 - Timestamp::of_service(details.date, ClockTime::from_minutes(0).expect("midnight")).0;
    let minute = 60_000_000;
    if round_up {
        micros.div_euclid(minute) + i64::from(micros.rem_euclid(minute) != 0)
    } else {
        micros.div_euclid(minute)
    }
}

/// The span a member's arrival and departure credit on an outing on `details`: from
/// arrival (the start if they came early, or late within the grace) to departure (the
/// end if they stayed, or left early within the grace); `None` when nothing is left.
pub fn credited_span(
    details: &OutingDetails,
    rules: &CheckInRules,
    arrived: Timestamp,
    left: Timestamp,
) -> Option<TimeRange> {
    let (start, end) = (details.span.start.minutes() as i64, details.span.end.minutes() as i64);
    let mut from = clock_minutes(details, arrived, true).max(start);
    if from <= start + rules.late_grace_minutes as i64 {
        from = start;
    }
    let mut to = clock_minutes(details, left, false).min(end);
    if to >= end - rules.early_grace_minutes as i64 {
        to = end;
    }
    let clock = |m: i64| ClockTime::from_minutes(m as u16).expect("within the outing's day");
    (from < to).then(|| TimeRange { start: clock(from), end: clock(to) })
}

impl Decision for OpenCheckIn {
    fn answered_by(&self, event: &DomainEvent) -> bool {
        matches!(event, DomainEvent::CheckInOpened(e) if (self.outing, &self.site_code, self.rules) == (e.outing, &e.site_code, e.rules))
    }

    fn needs(&self, _: &Aggregates, needs: &mut Vec<StreamId>) {
        if let Some(new) = &self.registration {
            needs.push(StreamId::unit(new.unit));
        }
    }

    fn units_written(&self, loaded: &Aggregates) -> Vec<Option<UnitId>> {
        match &self.registration {
            Some(new) => vec![Some(new.unit)],
            None => vec![outing_unit(loaded, self.outing)],
        }
    }

    fn decide(&self, cx: &mut Deciding<'_>) -> Result<Vec<PendingEvent>, DomainError> {
        let loaded = cx.loaded;
        self.rules.check()?;
        if self.site_code.len() != SITE_CODE_LEN {
            return Err(DomainError::InvalidValue {
                field: "siteCode".to_owned(),
                reason: format!("a site code has {SITE_CODE_LEN} characters"),
            });
        }
        let mut events = Vec::new();
        match &self.registration {
            Some(new) => {
                happened(&new.details, cx.today)?;
                coded("outing", self.outing.0, new.code.as_ref())?;
                absent(loaded, StreamId::outing(self.outing))?;
                unit(loaded, new.unit)?;
                events.push(PendingEvent::at(
                    OutingRegistered {
                        outing: self.outing,
                        unit: new.unit,
                        details: new.details.clone(),
                        participants: Vec::new(),
                        code: new.code.clone(),
                    },
                    &new.details,
                ));
            }
            None => {
                open_outing(loaded, self.outing, None)?;
            }
        }
        events.push(PendingEvent::now(CheckInOpened {
            outing: self.outing,
            site_code: self.site_code.clone(),
            rules: self.rules,
        }));
        Ok(events)
    }
}

/// The outing's check-in and the member, once the site code and the PIN are right. A
/// wrong code, an unknown or erased member, a member of another unit, a member without
/// a PIN and a wrong PIN are one refusal: the public page must not tell a stranger
/// which of them it was.
fn present<'a>(
    loaded: &'a Aggregates,
    id: OutingId,
    presence: &Presence,
) -> Result<(&'a OutingState, &'a CheckInState), DomainError> {
    let outing = open_outing(loaded, id, None)?;
    let session = outing.check_in.as_ref().ok_or(DomainError::CheckInNotOpen { outing: id })?;
    let member = loaded.members.get(&presence.member).filter(|m| !m.erased);
    let known = session.site_code == typed_code::normalise(&presence.site_code)
        && member.is_some_and(|m| m.pin == Some(presence.pin) && m.unit_on(outing.details.date) == Some(outing.unit));
    if !known {
        return Err(DomainError::CheckInRefused);
    }
    Ok((outing, session))
}

fn outside_window(outing: OutingId, opens: Timestamp, closes: Timestamp) -> DomainError {
    DomainError::OutsideCheckInWindow { outing, opens: opens.to_rfc3339(), closes: closes.to_rfc3339() }
}

impl Decision for CheckIn {
    fn answered_by(&self, event: &DomainEvent) -> bool {
        matches!(event, DomainEvent::MemberCheckedIn(e) if (self.outing, self.presence.member) == (e.outing, e.member))
    }

    fn needs(&self, _: &Aggregates, needs: &mut Vec<StreamId>) {
        needs.push(StreamId::member(self.presence.member));
    }

    fn units_written(&self, loaded: &Aggregates) -> Vec<Option<UnitId>> {
        vec![outing_unit(loaded, self.outing)]
    }

    fn decide(&self, cx: &mut Deciding<'_>) -> Result<Vec<PendingEvent>, DomainError> {
        let (id, p) = (self.outing, &self.presence);
        let (outing, session) = present(cx.loaded, id, p)?;
        let (opens, check_in_closes, _) = check_in_window(&outing.details, &session.rules);
        if p.at < opens || p.at >= check_in_closes {
            return Err(outside_window(id, opens, check_in_closes));
        }
        if session.members.contains_key(&p.member) {
            return Err(DomainError::AlreadyCheckedIn { member: p.member, outing: id });
        }
        Ok(vec![PendingEvent::now(MemberCheckedIn { outing: id, member: p.member, at: p.at })])
    }
}

impl Decision for CheckOut {
    fn answered_by(&self, event: &DomainEvent) -> bool {
        matches!(event, DomainEvent::MemberCheckedOut(e) if (self.outing, self.presence.member) == (e.outing, e.member))
    }

    fn needs(&self, _: &Aggregates, needs: &mut Vec<StreamId>) {
        needs.push(StreamId::member(self.presence.member));
    }

    fn units_written(&self, loaded: &Aggregates) -> Vec<Option<UnitId>> {
        vec![outing_unit(loaded, self.outing)]
    }

    fn decide(&self, cx: &mut Deciding<'_>) -> Result<Vec<PendingEvent>, DomainError> {
        let (id, p) = (self.outing, &self.presence);
        let loaded = cx.loaded;
        let (outing, session) = present(loaded, id, p)?;
        let (opens, _, closes) = check_in_window(&outing.details, &session.rules);
        if p.at < opens || p.at > closes {
            return Err(outside_window(id, opens, closes));
        }
        let arrived = match session.members.get(&p.member) {
            None => return Err(DomainError::NotCheckedIn { member: p.member, outing: id }),
            Some((_, Some(_))) => return Err(DomainError::AlreadyCheckedOut { member: p.member, outing: id }),
            Some((arrived, None)) => *arrived,
        };
        let details = &outing.details;
        let participation = match credited_span(details, &session.rules, arrived, p.at) {
            None => None,
            Some(span) => {
                let input = ParticipationInput { member: p.member, span: Some(span), minutes: None };
                participations(loaded, id, outing.unit, details, &[input])?.pop()
            }
        };
        let mut events =
            vec![PendingEvent::now(MemberCheckedOut { outing: id, member: p.member, at: p.at, participation })];
        if let Some(credited) = participation {
            events.push(PendingEvent::at(
                ServiceBooked {
                    member: p.member,
                    outing: id,
                    date: details.date,
                    span: credited.span,
                    minutes: credited.minutes,
                },
                details,
            ));
        }
        Ok(events)
    }
}

impl Decision for SetCheckInPin {
    fn answered_by(&self, event: &DomainEvent) -> bool {
        matches!(event, DomainEvent::CheckInPinSet(e) if (self.member, self.pin) == (e.member, e.pin))
    }

    fn units_written(&self, loaded: &Aggregates) -> Vec<Option<UnitId>> {
        vec![loaded.members.get(&self.member).map(MemberState::current_unit)]
    }

    fn decide(&self, cx: &mut Deciding<'_>) -> Result<Vec<PendingEvent>, DomainError> {
        member(cx.loaded, self.member)?;
        Ok(vec![PendingEvent::now(CheckInPinSet { member: self.member, pin: self.pin })])
    }
}

fn change_outing(state: &mut Aggregates, id: OutingId, fold: impl FnOnce(&mut OutingState)) {
    if let Some(loaded) = state.outings.get_mut(&id) {
        fold(loaded);
    }
}

impl Fact for CheckInOpened {
    fn fold(&self, _: u64, state: &mut Aggregates) {
        change_outing(state, self.outing, |o| {
            let members = o.check_in.take().map(|s| s.members).unwrap_or_default();
            o.check_in = Some(CheckInState { site_code: self.site_code.clone(), rules: self.rules, members });
        });
    }
}

impl Fact for MemberCheckedIn {
    fn fold(&self, _: u64, state: &mut Aggregates) {
        change_outing(state, self.outing, |o| {
            if let Some(session) = &mut o.check_in {
                session.members.insert(self.member, (self.at, None));
            }
        });
    }
}

impl Fact for MemberCheckedOut {
    fn fold(&self, _: u64, state: &mut Aggregates) {
        change_outing(state, self.outing, |o| {
            if let Some((_, left)) = o.check_in.as_mut().and_then(|s| s.members.get_mut(&self.member)) {
                *left = Some(self.at);
            }
            if let Some(credited) = self.participation {
                o.participants.retain(|p| p.member != self.member);
                o.participants.push(credited);
                o.verified = false;
            }
        });
    }
}

impl Fact for CheckInPinSet {
    fn fold(&self, _: u64, state: &mut Aggregates) {
        if let Some(m) = state.members.get_mut(&self.member) {
            m.pin = Some(self.pin);
        }
    }
}
