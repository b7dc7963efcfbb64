//! Command handling: every rule lives here, and nothing here writes anything.
//!
//! The application layer calls [`dependencies`] until every stream it names is loaded
//! into [`Aggregates`], then [`decide`], then appends the events with the version of
//! every loaded stream as its expected version. A concurrent change to any of those
//! streams (a member's calendar, say) turns into a conflict, and the command is decided
//! again on fresh state: that is how rules spanning streams hold under concurrency.

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
    pub(crate) fn now(event: impl Into<DomainEvent>) -> Self {
        Self { event: event.into(), occurred_at: None }
    }

    pub(crate) fn at(event: impl Into<DomainEvent>, details: &OutingDetails) -> Self {
        Self { event: event.into(), occurred_at: Some(Timestamp::of_service(details.date, details.span.start)) }
    }
}

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
        Command::RegisterUnit(c) => unit::register_unit(c, loaded),
        Command::RenameUnit(c) => unit::rename_unit(c, loaded),
        Command::MoveUnit(c) => unit::move_unit(c, loaded),
        Command::ReclassifyUnit(c) => unit::reclassify_unit(c, loaded),
        Command::CorrectPersonalData(c) => member::correct_personal_data(c, loaded, sealer),
        Command::RegisterMember(c) => member::register_member(c, loaded, sealer),
        Command::TransferMember(c) => member::transfer_member(c, loaded),
        Command::EraseMember(c) => member::erase_member(c, loaded),
        Command::RegisterOuting(c) => outing::register_outing(c, loaded, today),
        Command::AmendOuting(c) => outing::amend_outing(c, loaded, today),
        Command::VoidOuting(c) => outing::void_outing(c, loaded),
        Command::VerifyOuting(c) => outing::verify_outing(c, loaded),
        Command::RecordEvaluation(c) => member::record_evaluation(c, loaded),
    }
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
