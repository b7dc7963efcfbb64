//! What clerks and reviewers ask for. Commands hold values already parsed
//! ([`Text`], [`Minutes`], …); the rules that need the current state are checked by
//! [`crate::decide`].

use crate::*;

#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Command {
    RegisterUnit(RegisterUnit),
    RenameUnit(RenameUnit),
    MoveUnit(MoveUnit),
    ReclassifyUnit(ReclassifyUnit),
    RegisterMember(RegisterMember),
    TransferMember(TransferMember),
    CorrectPersonalData(CorrectPersonalData),
    EraseMember(EraseMember),
    RegisterOuting(RegisterOuting),
    AmendOuting(AmendOuting),
    VoidOuting(VoidOuting),
    VerifyOuting(VerifyOuting),
    RecordEvaluation(RecordEvaluation),
}

impl Command {
    /// The stream of the record the command is about; every command writes an event
    /// there. A command id answered from the log must have written to the same record.
    pub fn subject(&self) -> StreamId {
        match self {
            Command::RegisterUnit(c) => StreamId::unit(c.unit),
            Command::RenameUnit(c) => StreamId::unit(c.unit),
            Command::MoveUnit(c) => StreamId::unit(c.unit),
            Command::ReclassifyUnit(c) => StreamId::unit(c.unit),
            Command::RegisterMember(c) => StreamId::member(c.member),
            Command::TransferMember(c) => StreamId::member(c.member),
            Command::CorrectPersonalData(c) => StreamId::member(c.member),
            Command::EraseMember(c) => StreamId::member(c.member),
            Command::RegisterOuting(c) => StreamId::outing(c.outing),
            Command::AmendOuting(c) => StreamId::outing(c.outing),
            Command::VoidOuting(c) => StreamId::outing(c.outing),
            Command::VerifyOuting(c) => StreamId::outing(c.outing),
            Command::RecordEvaluation(c) => StreamId::member(c.member),
        }
    }

    /// Whether `written`, the events stored under this command's id, are what this
    /// command asks for: a retry of the same command is answered with the first
    /// outcome; another command sent under the same id is not. Compared by what the
    /// command states, not its ids alone: a registration's new id may be drawn afresh
    /// at each attempt, so it is recognised by its values; sealed personal data is
    /// not compared (a correction by its member and reason).
    pub fn asks_for(&self, written: &[DomainEvent]) -> bool {
        use DomainEvent as E;
        written.iter().any(|event| match self {
            Command::RegisterUnit(c) => matches!(event, E::UnitRegistered(e)
                if (&c.name, &c.industry, &c.region, c.parent, &c.code) == (&e.name, &e.industry, &e.region, e.parent, &e.code)),
            Command::RenameUnit(c) => matches!(event, E::UnitRenamed(e) if (c.unit, &c.name) == (e.unit, &e.name)),
            Command::MoveUnit(c) => {
                matches!(event, E::UnitMoved(e) if (c.unit, &c.region, c.parent) == (e.unit, &e.region, e.parent))
            }
            Command::ReclassifyUnit(c) => matches!(event, E::UnitReclassified(e)
                if (c.unit, &c.industry, &c.reason) == (e.unit, &e.industry, &e.reason)),
            Command::RegisterMember(c) => matches!(event, E::MemberRegistered(e)
                if (c.unit, c.joined_on, &c.code) == (e.unit, e.joined_on, &e.code)),
            Command::TransferMember(c) => matches!(event, E::MemberTransferred(e)
                if (c.member, c.to, c.effective) == (e.member, e.to, e.effective)),
            Command::CorrectPersonalData(c) => {
                matches!(event, E::PersonalDataCorrected(e) if (c.member, &c.reason) == (e.member, &e.reason))
            }
            Command::EraseMember(c) => matches!(event, E::MemberErased(e) if c.member == e.member),
            Command::RegisterOuting(c) => matches!(event, E::OutingRegistered(e)
                if (c.unit, &c.details, &c.code) == (e.unit, &e.details, &e.code)
                    && same_participants(&c.participants, &c.details, &e.participants)),
            Command::AmendOuting(c) => matches!(event, E::OutingAmended(e)
                if (c.outing, &c.details, &c.reason) == (e.outing, &e.details, &e.reason)
                    && same_participants(&c.participants, &c.details, &e.participants)),
            Command::VoidOuting(c) => {
                matches!(event, E::OutingVoided(e) if (c.outing, &c.reason) == (e.outing, &e.reason))
            }
            Command::VerifyOuting(c) => {
                matches!(event, E::OutingVerified(e) if (c.outing, &c.note) == (e.outing, &e.note))
            }
            Command::RecordEvaluation(c) => matches!(event, E::EvaluationRecorded(e)
                if (c.member, c.half_year, c.public_score, c.leader_score, &c.note)
                    == (e.member, e.half_year, e.public_score, e.leader_score, &e.note)),
        })
    }

    pub fn name(&self) -> &'static str {
        match self {
            Command::RegisterUnit(_) => "RegisterUnit",
            Command::RenameUnit(_) => "RenameUnit",
            Command::MoveUnit(_) => "MoveUnit",
            Command::ReclassifyUnit(_) => "ReclassifyUnit",
            Command::RegisterMember(_) => "RegisterMember",
            Command::TransferMember(_) => "TransferMember",
            Command::CorrectPersonalData(_) => "CorrectPersonalData",
            Command::EraseMember(_) => "EraseMember",
            Command::RegisterOuting(_) => "RegisterOuting",
            Command::AmendOuting(_) => "AmendOuting",
            Command::VoidOuting(_) => "VoidOuting",
            Command::VerifyOuting(_) => "VerifyOuting",
            Command::RecordEvaluation(_) => "RecordEvaluation",
        }
    }
}

/// Whether `inputs`, as a clerk entered them for an outing described by `details`, are
/// `stored`: each participant's span and minutes as the outing resolves them.
fn same_participants(inputs: &[ParticipationInput], details: &OutingDetails, stored: &[Participation]) -> bool {
    inputs.len() == stored.len()
        && inputs.iter().zip(stored).all(|(input, p)| {
            (input.member, input.span_in(details), input.minutes_in(details)) == (p.member, p.span, p.minutes.get())
        })
}
