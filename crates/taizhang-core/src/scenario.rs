//! Rules stated as scenarios, without a store: `given(events).when(command)` decides
//! the command against the state those events fold into, and `.then(events)` or
//! `.then_err(kind)` says what must come of it. For the domain's rules; races,
//! idempotency and durability are tested against the real stores.
//!
//! ```
//! use taizhang_core::scenario::{given, sample};
//! use taizhang_core::{Command, ErrorKind, RenameUnit, UnitId};
//!
//! let unit = UnitId::new();
//! given([sample::unit_registered(unit)])
//!     .when(Command::RenameUnit(RenameUnit { unit: UnitId::new(), name: sample::text("新名") }))
//!     .then_err(ErrorKind::NotFound);
//! ```

use time::Date;

use crate::{decide, Aggregates, Command, DomainError, DomainEvent, ErrorKind, PersonalData, SealedPersonal};

/// The state a scenario starts from.
pub struct Given {
    state: Aggregates,
    today: Date,
}

/// Folds `events` (each on its stream, in order) into the state a command is decided
/// against; "today" is the last day of 2011, after the service month.
pub fn given(events: impl IntoIterator<Item = DomainEvent>) -> Given {
    let mut state = Aggregates::default();
    for event in events {
        let version = state.version(event.stream()).map_or(0, |v| v + 1);
        state.apply(version, &event);
    }
    Given { state, today: time::macros::date!(2011 - 12 - 31) }
}

impl Given {
    /// Decides with `today` as the service date of the day.
    pub fn today(self, today: Date) -> Self {
        Self { today, ..self }
    }

    /// Decides `command`. Personal data is "sealed" as its name's bytes, so that a
    /// scenario can state the event it expects.
    pub fn when(self, command: Command) -> Then {
        let mut seal = |_: crate::DataSubject, p: &PersonalData| SealedPersonal(p.name.as_str().as_bytes().to_vec());
        let decided = decide(&command, &self.state, self.today, &mut seal);
        Then { decided: decided.map(|events| events.into_iter().map(|e| e.event).collect()) }
    }
}

/// What a command decided.
pub struct Then {
    decided: Result<Vec<DomainEvent>, DomainError>,
}

impl Then {
    /// Asserts that the command was accepted with exactly `expected`, in order.
    #[track_caller]
    pub fn then(self, expected: impl IntoIterator<Item = DomainEvent>) {
        let expected: Vec<DomainEvent> = expected.into_iter().collect();
        match self.decided {
            Ok(events) => assert_eq!(events, expected),
            Err(e) => panic!("expected {expected:?}, the command was refused: {e}"),
        }
    }

    /// Asserts that the command was refused with an error of `kind`, and returns it.
    #[track_caller]
    pub fn then_err(self, kind: ErrorKind) -> DomainError {
        match self.decided {
            Err(e) if e.kind() == kind => e,
            Err(e) => panic!("expected a refusal of kind {kind:?}, got {:?}: {e}", e.kind()),
            Ok(events) => panic!("expected a refusal of kind {kind:?}, the command was accepted: {events:?}"),
        }
    }
}

/// Events and values for scenarios, filled with plausible values.
pub mod sample {
    use time::macros::date;

    use crate::*;

    pub fn text(s: &str) -> Text {
        Text::parse("sample", s).expect("a sample text is valid")
    }

    /// From `a` to `b`, as "08:00".
    pub fn span(a: &str, b: &str) -> TimeRange {
        let clock = |s: &str| ClockTime::parse("sample", s).expect("a sample time is valid");
        TimeRange::new("sample", clock(a), clock(b)).expect("a sample span is valid")
    }

    pub fn unit_registered(unit: UnitId) -> DomainEvent {
        DomainEvent::UnitRegistered(UnitRegistered {
            unit,
            name: text("十堰市人民医院"),
            industry: text("医疗卫生"),
            region: text("茅箭区"),
            parent: None,
            code: None,
        })
    }

    /// A member of `unit` since the first of January 2011.
    pub fn member_registered(member: MemberId, unit: UnitId) -> DomainEvent {
        DomainEvent::MemberRegistered(MemberRegistered {
            member,
            unit,
            joined_on: date!(2011 - 01 - 01),
            personal: SealedPersonal("王俊".as_bytes().to_vec()),
            code: None,
        })
    }

    /// An outing on 15 June 2011 from `a` to `b`.
    pub fn details(a: &str, b: &str) -> OutingDetails {
        OutingDetails {
            date: date!(2011 - 06 - 15),
            span: span(a, b),
            place: text("武当路社区"),
            category: text("义诊"),
            description: None,
            beneficiaries: 40,
        }
    }

    /// `members` joined for the whole outing, hours by its span.
    pub fn joined(members: &[MemberId]) -> Vec<ParticipationInput> {
        members.iter().map(|&member| ParticipationInput { member, span: None, minutes: None }).collect()
    }
}
