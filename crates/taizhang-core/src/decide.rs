//! Command handling: every rule lives here, and nothing here writes anything.
//!
//! The application layer calls [`dependencies`] until every stream it names is loaded
//! into [`Aggregates`], then [`decide`], then appends the events with the version of
//! every loaded stream as its expected version. A concurrent change to any of those
//! streams (a member's calendar, say) turns into a conflict, and the command is decided
//! again on fresh state: that is how rules spanning streams hold under concurrency.

use time::Date;

use crate::*;

/// Seals personal data (a new member's, a citizen's) under its subject's own key. The
/// application layer supplies it; it keeps the key until the command's events are
/// appended.
pub trait Sealer {
    fn seal(&mut self, subject: DataSubject, personal: &PersonalData) -> SealedPersonal;
}

impl<F: FnMut(DataSubject, &PersonalData) -> SealedPersonal> Sealer for F {
    fn seal(&mut self, subject: DataSubject, personal: &PersonalData) -> SealedPersonal {
        self(subject, personal)
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
    pub(crate) fn now(event: impl Into<DomainEvent>) -> Self {
        Self { event: event.into(), occurred_at: None }
    }

    pub(crate) fn at(event: impl Into<DomainEvent>, details: &OutingDetails) -> Self {
        Self { event: event.into(), occurred_at: Some(Timestamp::of_service(details.date, details.span.start)) }
    }
}

/// What a decision is given beside its command.
pub(crate) struct Deciding<'a> {
    /// Every stream [`dependencies`] names, loaded.
    pub loaded: &'a Aggregates,
    /// The service date the command is recorded on.
    pub today: Date,
    /// Seals personal data the command carries.
    pub sealer: &'a mut dyn Sealer,
}

/// The streams `cmd` needs to be decided, given what is loaded so far. Call until it
/// names nothing that is not loaded: some needs appear only after a first load (an
/// outing's current participants, a parent unit's own parent).
pub fn dependencies(cmd: &Command, loaded: &Aggregates) -> Vec<StreamId> {
    let mut needs = vec![cmd.subject()];
    cmd.decision().needs(loaded, &mut needs);
    needs
}

/// The units whose records `cmd` writes, as far as `loaded` knows them: what a clerk's
/// scope is checked against. A member's unit is their current one (both ends of a
/// transfer); an outing's is the unit it was registered for. Records not found add
/// nothing: [`decide`] then refuses the command as not found.
pub fn units_written(cmd: &Command, loaded: &Aggregates) -> Vec<UnitId> {
    let mut units = cmd.decision().units_written(loaded);
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
    cmd.decision().decide(&mut Deciding { loaded, today, sealer })
}

pub(crate) fn absent(loaded: &Aggregates, stream: StreamId) -> Result<(), DomainError> {
    match loaded.versions.get(&stream) {
        Some(Some(_)) => Err(DomainError::AlreadyExists { stream }),
        _ => Ok(()),
    }
}

/// A record of `kind` registered with a code has the code's id ([`crate::id_of_code`]):
/// one code, one record, however many times it is registered.
pub(crate) fn coded(kind: &str, id: uuid::Uuid, code: Option<&Text>) -> Result<(), DomainError> {
    match code {
        Some(code) if crate::id_of_code(kind, code.as_str()) != id => Err(DomainError::InvalidValue {
            field: "code".to_owned(),
            reason: format!("{code} names another record than {id}: give the code or the id, not both"),
        }),
        _ => Ok(()),
    }
}
