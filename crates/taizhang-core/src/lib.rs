//! The taizhang domain: what a volunteer service month is made of, and the rules every
//! command must satisfy before any event exists.
//!
//! This crate does no I/O. The main types:
//! - ids ([`UnitId`], [`MemberId`], [`OutingId`], [`StreamId`]) and values parsed once and
//!   trusted after ([`Minutes`], [`Period`], [`Text`], [`Timestamp`]);
//! - [`DomainEvent`], the closed set of facts the log can hold, each with a stable type
//!   code and schema version;
//! - [`Command`], what clerks and reviewers ask for, and [`decide`], which validates a
//!   command against the current [`Aggregates`] and returns the events to append;
//! - [`DomainError`], one error type whose variants a clerk can act on.
//!
//! ```
//! use taizhang_core::*;
//! // A unit the clerks know as SY-0001: its id is the code's, whoever registers it.
//! let unit = UnitId::of_code("SY-0001");
//! assert_eq!("SY-0001".parse::<UnitId>(), Ok(unit));
//! let cmd = Command::RegisterUnit(RegisterUnit {
//!     unit,
//!     name: Text::parse("name", "十堰市人民医院").unwrap(),
//!     industry: Text::parse("industry", "医院").unwrap(),
//!     region: Text::parse("region", "茅箭区").unwrap(),
//!     parent: None,
//!     code: Some(Text::parse("code", "SY-0001").unwrap()),
//! });
//! let loaded = Aggregates::default();
//! let today = time::macros::date!(2011 - 06 - 01);
//! let events = decide(&cmd, &loaded, today, &mut |_: DataSubject, _: &PersonalData| SealedPersonal(vec![])).unwrap();
//! assert_eq!(events[0].event.stream(), StreamId::unit(unit));
//! ```
#![forbid(unsafe_code)]

// The modules that hold the three tables' macros come first: a `macro_rules!` is seen
// by what follows it.
#[macro_use]
mod ids;
#[macro_use]
mod state;
#[macro_use]
mod command;
#[macro_use]
mod event;

mod amend;
mod decide;
mod error;
pub mod interner;
pub mod legacy;
mod personal;
pub mod scenario;
mod schema;
mod values;

// The aggregates, each a module of its own: its commands, events, state and decisions.
mod certificate;
mod check_in;
mod commitment;
mod correction;
mod evaluation;
mod member;
mod opinion;
mod outing;
mod recognition;
mod round;
mod summary;
mod unit;

pub use amend::{corrections, Change, Correction};
pub use certificate::*;
pub use check_in::*;
pub use commitment::*;
pub use correction::*;
pub use decide::{decide, dependencies, units_written, PendingEvent, Sealer};
pub use error::{DomainError, ErrorKind};
pub use evaluation::*;
pub use event::*;
pub use ids::*;
pub use member::*;
pub use opinion::*;
pub use outing::*;
pub use personal::*;
pub use recognition::*;
pub use round::*;
pub use state::*;
pub use summary::*;
pub use unit::*;
pub use values::*;

aggregates! {
    /// A unit (窗口单位): an organisation whose members serve.
    Unit = 1 {
        id: UnitId,
        prefix: "unit",
        stream: unit,
        state: UnitState in units,
        described: "A unit's id (UUIDv7).",
    }
    /// A member (党员 / 志愿者) of one unit at a time.
    Member = 2 {
        id: MemberId,
        prefix: "member",
        stream: member,
        state: MemberState in members,
        described: "A member's id (UUIDv7).",
    }
    /// A volunteer outing (志愿服务活动) organised by a unit.
    Outing = 3 {
        id: OutingId,
        prefix: "outing",
        stream: outing,
        state: OutingState in outings,
        described: "An outing's id (UUIDv7).",
    }
    /// A public commitment (公开承诺) of a unit or of one of its members.
    Commitment = 4 {
        id: CommitmentId,
        prefix: "commitment",
        stream: commitment,
        state: CommitmentState in commitments,
        described: "A commitment's id (UUIDv7).",
    }
    /// A unit's summary of a week (一周一小结).
    Summary = 5 {
        id: SummaryId,
        prefix: "summary",
        stream: summary,
        state: SummaryState in summaries,
        described: "A weekly summary's id: the unit's and the week's (UUIDv5).",
    }
    /// A look-back round (回头看) over some units.
    Round = 6 {
        id: RoundId,
        prefix: "round",
        stream: round,
        state: RoundState in rounds,
        described: "A look-back round's id (UUIDv7).",
    }
    /// An opinion of the public (群众意见) gathered in a look-back round.
    Opinion = 7 {
        id: OpinionId,
        prefix: "opinion",
        stream: opinion,
        state: OpinionState in opinions,
        described: "An opinion's id (UUIDv7).",
    }
    /// A service certificate (志愿服务记录证明) issued to a member.
    Certificate = 8 {
        id: CertificateId,
        prefix: "certificate",
        stream: certificate,
        state: CertificateState in certificates,
        described: "A certificate's id: its number's (UUIDv5).",
    }
    /// A member's request to correct their own record.
    Correction = 9 {
        id: CorrectionId,
        prefix: "correction",
        stream: correction,
        state: CorrectionState in corrections,
        described: "A correction request's id (UUIDv7).",
    }
    /// A half-year evaluation (一诺双评) of the members or the units in a scope.
    Evaluation = 10 {
        id: EvaluationId,
        prefix: "evaluation",
        stream: evaluation,
        state: EvaluationState in evaluations,
        described: "An evaluation's id (UUIDv7).",
    }
    /// One ballot of the public's evaluation (群众评议).
    Ballot = 11 {
        id: BallotId,
        prefix: "ballot",
        stream: ballot,
        state: BallotState in ballots,
        described: "A ballot's id (UUIDv7).",
    }
    /// A published star board (星级榜).
    Board = 12 {
        id: BoardId,
        prefix: "board",
        stream: board,
        state: BoardState in boards,
        described: "A published board's id (UUIDv7).",
    }
    /// A nomination for an award and its decision (表彰).
    Recognition = 13 {
        id: RecognitionId,
        prefix: "recognition",
        stream: recognition,
        state: RecognitionState in recognitions,
        described: "A recognition's id: its award's, half-year's and nominee's (UUIDv5).",
    }
}

commands! {
    RegisterUnit on unit,
    RenameUnit on unit,
    MoveUnit on unit,
    ReclassifyUnit on unit,
    RegisterMember on member,
    TransferMember on member,
    CorrectPersonalData on member,
    EraseMember on member,
    RecordEvaluation on member,
    RegisterOuting on outing,
    AmendOuting on outing,
    VoidOuting on outing,
    VerifyOuting on outing,
    OpenCheckIn on outing,
    CheckIn on outing,
    CheckOut on outing,
    SetCheckInPin on member,
    SetPublicCard on member,
    MakeCommitment on commitment,
    AmendCommitment on commitment,
    WithdrawCommitment on commitment,
    AssessCommitment on commitment,
    SubmitSummary on summary,
    CommentOnSummary on summary,
    OpenRound on round,
    CloseRound on round,
    RecordOpinion on opinion,
    SubmitOpinion on opinion,
    ReviewOpinion on opinion,
    EraseCitizen on opinion,
    IssueCertificate on certificate,
    RevokeCertificate on certificate,
    RequestCorrection on correction,
    AnswerCorrection on correction,
    OpenEvaluation on evaluation,
    CloseEvaluation on evaluation,
    ReviewAsLeader on evaluation,
    CastBallot on ballot,
    PublishBoard on board,
    NominateRecognition on recognition,
    RaiseObjection on recognition,
    AnswerObjection on recognition,
    DecideRecognition on recognition,
    RevokeRecognition on recognition,
}

domain_events! {
    // Versions 1 of the registrations had no `code`.
    UnitRegistered = (1, 2) on unit { 1: crate::legacy::UnitRegisteredV1 },
    UnitRenamed = (2, 1) on unit,
    UnitMoved = (3, 1) on unit,
    UnitReclassified = (4, 1) on unit,
    MemberRegistered = (10, 2) on member { 1: crate::legacy::MemberRegisteredV1 },
    MemberTransferred = (11, 1) on member,
    MemberErased = (12, 1) on member,
    ServiceBooked = (13, 1) on member,
    ServiceReleased = (14, 1) on member,
    EvaluationRecorded = (15, 1) on member,
    PersonalDataCorrected = (16, 1) on member,
    CheckInPinSet = (17, 1) on member,
    PublicCardSet = (18, 1) on member,
    // Version 1 of OutingRegistered had no `beneficiaries` in its details, version 2
    // no `code`.
    OutingRegistered = (20, 3) on outing { 1: crate::legacy::OutingRegisteredV1, 2: crate::legacy::OutingRegisteredV2 },
    OutingAmended = (21, 1) on outing,
    OutingVoided = (22, 1) on outing,
    OutingVerified = (23, 1) on outing,
    CheckInOpened = (24, 1) on outing,
    MemberCheckedIn = (25, 1) on outing,
    MemberCheckedOut = (26, 1) on outing,
    CommitmentMade = (30, 1) on commitment,
    CommitmentAmended = (31, 1) on commitment,
    CommitmentWithdrawn = (32, 1) on commitment,
    CommitmentAssessed = (33, 1) on commitment,
    SummarySubmitted = (40, 1) on summary,
    SummaryCommented = (41, 1) on summary,
    RoundOpened = (50, 1) on round,
    RoundClosed = (51, 1) on round,
    OpinionRecorded = (60, 1) on opinion,
    CitizenErased = (61, 1) on opinion,
    OpinionSubmitted = (62, 1) on opinion,
    OpinionReviewed = (63, 1) on opinion,
    CertificateIssued = (70, 1) on certificate,
    CertificateRevoked = (71, 1) on certificate,
    CorrectionRequested = (80, 1) on correction,
    CorrectionAnswered = (81, 1) on correction,
    EvaluationOpened = (90, 1) on evaluation,
    EvaluationClosed = (91, 1) on evaluation,
    LeaderReviewed = (92, 1) on evaluation,
    BallotCast = (93, 1) on ballot,
    BoardPublished = (100, 1) on board,
    RecognitionNominated = (110, 1) on recognition,
    ObjectionRaised = (111, 1) on recognition,
    ObjectionAnswered = (112, 1) on recognition,
    RecognitionDecided = (113, 1) on recognition,
    RecognitionRevoked = (114, 1) on recognition,
}
