use crate::{
    BoardId, CertificateId, CommitmentId, CorrectionId, EvaluationId, MemberId, OpinionId, OutingId, RecognitionId,
    RoundId, StreamId, SummaryId, UnitId,
};

/// Why a command was refused. Every variant names what to fix; none of them leaves
/// anything written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// A required text field is empty.
    #[error("{field} must not be empty")]
    Empty { field: String },
    /// A text field is longer than allowed.
    #[error("{field} is {actual_chars} characters long; at most {max_chars} are allowed")]
    TooLong { field: String, max_chars: usize, actual_chars: usize },
    /// A field's value has the wrong form.
    #[error("{field}: {reason}")]
    InvalidValue { field: String, reason: String },
    /// Service hours that are not positive whole minutes up to 24 hours.
    #[error("{field}: {value:?} is not valid hours: {reason}")]
    InvalidHours { field: String, value: String, reason: String },
    /// The stream to create exists already (a unit, member or outing id reused).
    #[error("{stream} already exists")]
    AlreadyExists { stream: StreamId },
    #[error("unit {0} does not exist")]
    UnitNotFound(UnitId),
    #[error("member {0} does not exist")]
    MemberNotFound(MemberId),
    #[error("outing {0} does not exist")]
    OutingNotFound(OutingId),
    #[error("commitment {0} does not exist")]
    CommitmentNotFound(CommitmentId),
    #[error("weekly summary {0} does not exist")]
    SummaryNotFound(SummaryId),
    #[error("look-back round {0} does not exist")]
    RoundNotFound(RoundId),
    #[error("opinion {0} does not exist")]
    OpinionNotFound(OpinionId),
    #[error("certificate {0} does not exist")]
    CertificateNotFound(CertificateId),
    #[error("correction request {0} does not exist")]
    CorrectionNotFound(CorrectionId),
    #[error("correction request {correction} is answered already")]
    CorrectionAnswered { correction: CorrectionId },
    /// An accepted request names the correcting event: the outing must have been
    /// amended since the request.
    #[error("outing {outing} has not been corrected since request {correction} was made: amend it first, then accept")]
    NotCorrectedYet { correction: CorrectionId, outing: OutingId },
    #[error("certificate {certificate} is revoked already")]
    CertificateRevoked { certificate: CertificateId },
    /// A certificate covers verified outings the unit recorded for the member.
    #[error("member {member} has no verified service recorded by unit {unit} in the period")]
    NothingToCertify { member: MemberId, unit: UnitId },
    /// A certificate covers verified outings of its unit in its period.
    #[error("outing {outing} cannot be certified: it is not a verified outing of the issuing unit in the period")]
    NotCertifiable { outing: OutingId },
    /// An outing changed between reading it and issuing the certificate.
    #[error("outing {outing} changed while the certificate was being made: issue it again")]
    CertifiedLineChanged { outing: OutingId },
    /// An opinion is gathered within a round about a unit the round covers.
    #[error("unit {unit} is not covered by look-back round {round}")]
    OutsideRound { unit: UnitId, round: RoundId },
    #[error("opinion {opinion} holds no citizen's data that can still be read (none given, or erased)")]
    NoCitizenData { opinion: OpinionId },
    /// Only an opinion left on the notice board waits for a review, and only once.
    #[error("opinion {opinion} is not waiting for a review (it was recorded by the unit, or reviewed already)")]
    OpinionNotHeld { opinion: OpinionId },
    #[error("evaluation {0} does not exist")]
    EvaluationNotFound(EvaluationId),
    /// Ballots and reviews are taken while the evaluation is open.
    #[error("evaluation {evaluation} is closed")]
    EvaluationClosed { evaluation: EvaluationId },
    /// A ballot or review rates a member or unit of the evaluation's kind and scope.
    #[error("{rated} is not evaluated in evaluation {evaluation}: another kind, or outside its scope")]
    OutsideEvaluation { evaluation: EvaluationId, rated: String },
    #[error("board {0} does not exist")]
    BoardNotFound(BoardId),
    #[error("recognition {0} does not exist")]
    RecognitionNotFound(RecognitionId),
    #[error("objection {objection} to recognition {recognition} does not exist")]
    ObjectionNotFound { recognition: RecognitionId, objection: u32 },
    #[error("objection {objection} to recognition {recognition} is answered already")]
    ObjectionAnswered { recognition: RecognitionId, objection: u32 },
    #[error("recognition {recognition} is decided already")]
    RecognitionDecided { recognition: RecognitionId },
    #[error("recognition {recognition} is revoked")]
    RecognitionRevoked { recognition: RecognitionId },
    /// A nomination is listed publicly (公示) before it is decided.
    #[error("recognition {recognition} is listed for objections until {listed_until}; decide it after that day")]
    StillListed { recognition: RecognitionId, listed_until: time::Date },
    #[error("recognition {recognition} has {count} objection(s) not yet answered; answer them first")]
    ObjectionsUnanswered { recognition: RecognitionId, count: usize },
    /// A decision rests on evidence that holds, or is recorded as an exception.
    #[error("recognition {recognition}: the evidence does not hold ({reason}); decide it as an exception with a reason, or not at all")]
    EvidenceDoesNotHold { recognition: RecognitionId, reason: String },
    #[error("look-back round {round} is closed")]
    RoundClosed { round: RoundId },
    #[error("commitment {commitment} is withdrawn; it can no longer change")]
    CommitmentWithdrawn { commitment: CommitmentId },
    /// An assessed commitment stands as it was assessed: a new promise is a renewal.
    #[error("commitment {commitment} is assessed already; renew it instead of amending it")]
    CommitmentAssessed { commitment: CommitmentId },
    /// A renewal carries on its own unit's items only.
    #[error("commitment {commitment} belongs to unit {unit}; a renewal carries on its own unit's items only")]
    RenewsAnotherUnit { commitment: CommitmentId, unit: UnitId },
    /// Moving a unit under itself or under one of its own descendants.
    #[error("unit {unit} cannot be placed under {parent}: that would make a cycle")]
    UnitCycle { unit: UnitId, parent: UnitId },
    #[error("member {member} is erased; their record can no longer change")]
    MemberErased { member: MemberId },
    /// A transfer to the unit the member already belongs to, or dated before their last move.
    #[error("transfer of member {member}: {reason}")]
    InvalidTransfer { member: MemberId, reason: String },
    #[error("an outing needs at least one participant")]
    NoParticipants,
    #[error("member {member} is listed twice in one outing")]
    DuplicateParticipant { member: MemberId },
    /// A member serves only for the unit they belong to on the outing's date.
    #[error("member {member} does not belong to unit {unit} on {date}")]
    MemberNotInUnit { member: MemberId, unit: UnitId, date: time::Date },
    /// A participation's time span must lie inside the outing's span.
    #[error("member {member}: participation {participation} is outside the outing's span {outing}")]
    ParticipationOutsideOuting { member: MemberId, participation: String, outing: String },
    /// Service hours cannot exceed the time the member was there.
    #[error("member {member}: {hours} h recorded but the participation lasts only {span_hours} h")]
    HoursExceedSpan { member: MemberId, hours: String, span_hours: String },
    /// At most 24 hours per member per day, across all outings.
    #[error("member {member} would serve {total_hours} h on {date}; the limit is {limit_hours} h a day")]
    DailyLimitExceeded { member: MemberId, date: time::Date, total_hours: String, limit_hours: String },
    /// A member cannot be in two outings at the same time.
    #[error("member {member} already serves in outing {other} at an overlapping time ({span})")]
    OverlappingOuting { member: MemberId, other: OutingId, span: String },
    #[error("outing {outing} is voided; it can no longer change")]
    OutingVoided { outing: OutingId },
    #[error("outing {outing} is already verified in its current form")]
    AlreadyVerified { outing: OutingId },
    #[error("check-in is not open for outing {outing}")]
    CheckInNotOpen { outing: OutingId },
    /// One answer for a wrong site code, an unknown member, a member of another unit,
    /// no PIN set and a wrong PIN, so that a stranger learns nothing from it.
    #[error("the site code, member number or PIN is not right")]
    CheckInRefused,
    #[error("check-in for outing {outing} is open from {opens} to {closes}")]
    OutsideCheckInWindow { outing: OutingId, opens: String, closes: String },
    #[error("member {member} has checked in to outing {outing} already")]
    AlreadyCheckedIn { member: MemberId, outing: OutingId },
    #[error("member {member} has not checked in to outing {outing}")]
    NotCheckedIn { member: MemberId, outing: OutingId },
    #[error("member {member} has checked out of outing {outing} already")]
    AlreadyCheckedOut { member: MemberId, outing: OutingId },
    /// The clerk edited an older copy of the record than the one now stored.
    #[error(
        "{stream} is at version {}; the command expected version {expected}: read it again",
        .actual.map_or_else(|| "none (it does not exist)".to_owned(), |v| v.to_string())
    )]
    StaleVersion { stream: StreamId, expected: u64, actual: Option<u64> },
}

/// What a refusal means for the one who sent the command: the code a client acts on.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ErrorKind {
    /// The record named does not exist: fix the reference.
    NotFound,
    /// The record is not as the command expected (it exists already, or changed
    /// since it was read): read it again.
    Conflict,
    /// The command itself breaks a rule: fix the values.
    Invalid,
}

impl DomainError {
    /// The kind of refusal, decided here for every variant (a new one does not compile
    /// until it is given one).
    pub fn kind(&self) -> ErrorKind {
        use DomainError::*;
        match self {
            UnitNotFound(_)
            | MemberNotFound(_)
            | OutingNotFound(_)
            | CommitmentNotFound(_)
            | SummaryNotFound(_)
            | RoundNotFound(_)
            | OpinionNotFound(_)
            | CertificateNotFound(_)
            | CorrectionNotFound(_)
            | EvaluationNotFound(_)
            | BoardNotFound(_)
            | RecognitionNotFound(_)
            | ObjectionNotFound { .. } => ErrorKind::NotFound,
            AlreadyExists { .. } | StaleVersion { .. } | CertifiedLineChanged { .. } => ErrorKind::Conflict,
            Empty { .. }
            | TooLong { .. }
            | InvalidValue { .. }
            | InvalidHours { .. }
            | UnitCycle { .. }
            | MemberErased { .. }
            | InvalidTransfer { .. }
            | NoParticipants
            | DuplicateParticipant { .. }
            | MemberNotInUnit { .. }
            | ParticipationOutsideOuting { .. }
            | HoursExceedSpan { .. }
            | DailyLimitExceeded { .. }
            | OverlappingOuting { .. }
            | OutingVoided { .. }
            | AlreadyVerified { .. }
            | CheckInNotOpen { .. }
            | CheckInRefused
            | CorrectionAnswered { .. }
            | NotCorrectedYet { .. }
            | OutsideCheckInWindow { .. }
            | AlreadyCheckedIn { .. }
            | NotCheckedIn { .. }
            | AlreadyCheckedOut { .. }
            | CommitmentWithdrawn { .. }
            | CommitmentAssessed { .. }
            | RenewsAnotherUnit { .. }
            | RoundClosed { .. }
            | OutsideRound { .. }
            | EvaluationClosed { .. }
            | OutsideEvaluation { .. }
            | NoCitizenData { .. }
            | OpinionNotHeld { .. }
            | CertificateRevoked { .. }
            | NothingToCertify { .. }
            | NotCertifiable { .. }
            | ObjectionAnswered { .. }
            | RecognitionDecided { .. }
            | RecognitionRevoked { .. }
            | StillListed { .. }
            | ObjectionsUnanswered { .. }
            | EvidenceDoesNotHold { .. } => ErrorKind::Invalid,
        }
    }

    /// The participant of an outing the error is about, when it is about one of them
    /// alone (the others may still be fine).
    pub fn participant(&self) -> Option<MemberId> {
        use DomainError::*;
        match self {
            MemberNotFound(member)
            | MemberErased { member }
            | DuplicateParticipant { member }
            | MemberNotInUnit { member, .. }
            | DailyLimitExceeded { member, .. }
            | OverlappingOuting { member, .. }
            | HoursExceedSpan { member, .. }
            | ParticipationOutsideOuting { member, .. } => Some(*member),
            _ => None,
        }
    }

    /// The field or member the error is about, for clients that highlight it.
    pub fn field(&self) -> Option<&str> {
        match self {
            DomainError::Empty { field }
            | DomainError::TooLong { field, .. }
            | DomainError::InvalidValue { field, .. }
            | DomainError::InvalidHours { field, .. } => Some(field),
            _ => None,
        }
    }
}
