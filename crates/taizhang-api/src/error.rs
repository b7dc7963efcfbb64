//! Errors as clients see them: `extensions.code` names the kind (the README lists them), the
//! message says what to fix, and the other extensions point at the exact field, member
//! or limit. Storage and other internal failures are logged with an id; the client sees
//! only that id.

use async_graphql::{Error, ErrorExtensionValues};
use taizhang_app::AppError;
use taizhang_core::DomainError;
use taizhang_read::ReadError;
use taizhang_store::StoreError;

/// The `extensions.code` of an error.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Code {
    /// The input is malformed or breaks a rule of the domain.
    Validation,
    /// A unit, member, outing, policy or position that does not exist.
    NotFound,
    /// The record changed since the client read it, or a create used an existing id.
    Conflict,
    Unauthenticated,
    Forbidden,
    /// A request over a limit (depth, complexity, aliases, page size, body size).
    Limit,
    /// The read model has not reached the asked `minPosition` yet; retry shortly.
    Unavailable,
    /// The request is not a well-formed GraphQL request (syntax, unknown fields).
    BadRequest,
    Internal,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Validation => "VALIDATION",
            Code::NotFound => "NOT_FOUND",
            Code::Conflict => "CONFLICT",
            Code::Unauthenticated => "UNAUTHENTICATED",
            Code::Forbidden => "FORBIDDEN",
            Code::Limit => "LIMIT",
            Code::Unavailable => "UNAVAILABLE",
            Code::BadRequest => "BAD_REQUEST",
            Code::Internal => "INTERNAL",
        }
    }
}

/// An error with a code and, optionally, details.
pub fn coded(code: Code, message: impl Into<String>) -> Error {
    let mut error = Error::new(message);
    error.extensions.get_or_insert_with(ErrorExtensionValues::default).set("code", code.as_str());
    error
}

/// Adds one detail to `error`'s extensions.
pub fn with(mut error: Error, key: &str, value: impl Into<async_graphql::Value>) -> Error {
    error.extensions.get_or_insert_with(ErrorExtensionValues::default).set(key, value);
    error
}

/// A request over a limit: the message and the extensions name the limit and its value.
pub fn over_limit(limit: &str, max: u64, actual: Option<u64>) -> Error {
    let message = match actual {
        Some(actual) => format!("{limit} is {actual}; the limit is {max}"),
        None => format!("the request exceeds the {limit} limit of {max}"),
    };
    limit_error(message, limit, max, actual)
}

fn limit_error(message: String, limit: &str, max: u64, actual: Option<u64>) -> Error {
    let error = with(with(coded(Code::Limit, message), "limit", limit), "max", max);
    match actual {
        Some(actual) => with(error, "actual", actual),
        None => error,
    }
}

/// `error` as an error of the whole request, before execution: no path, and no
/// `locations` (the specification wants lines and columns from 1; there is no place in
/// the document to point at).
pub fn request_error(error: Error) -> async_graphql::ServerError {
    let mut error = error.into_server_error(Default::default());
    error.locations.clear();
    error
}

/// A report over the size limits, as a `LIMIT` error naming the limit.
pub fn report_too_large(e: taizhang_read::report::ReportTooLarge) -> Error {
    use taizhang_read::report::ReportTooLarge;
    let (limit, max, actual) = match e {
        ReportTooLarge::Buckets { max, .. } => ("report buckets", max as u64, None),
        ReportTooLarge::Cells { cells, max, .. } => ("report cells", max, Some(cells)),
    };
    limit_error(e.to_string(), limit, max, actual)
}

/// A failure the client cannot act on: logged in full, shown only as an id to quote.
pub fn internal(cause: &dyn std::fmt::Display) -> Error {
    let id = uuid::Uuid::new_v4();
    tracing::error!(error_id = %id, "internal error: {cause}");
    with(
        coded(Code::Internal, format!("internal error {id}; quote this id to the operator")),
        "errorId",
        id.to_string(),
    )
}

/// A domain rule broken: the code says which kind, the details say where.
pub fn domain(e: &DomainError) -> Error {
    use DomainError::*;
    let code = match e.kind() {
        taizhang_core::ErrorKind::NotFound => Code::NotFound,
        taizhang_core::ErrorKind::Conflict => Code::Conflict,
        taizhang_core::ErrorKind::Invalid => Code::Validation,
    };
    let mut error = coded(code, e.to_string());
    if let Some(field) = e.field() {
        error = with(error, "field", field);
    }
    let s = |v: &dyn std::fmt::Display| async_graphql::Value::from(v.to_string());
    let details: Vec<(&str, async_graphql::Value)> = match e {
        TooLong { max_chars, actual_chars, .. } => {
            vec![("limit", (*max_chars as u64).into()), ("actual", (*actual_chars as u64).into())]
        }
        InvalidValue { reason, .. } => vec![("reason", reason.as_str().into())],
        InvalidHours { value, reason, .. } => {
            vec![("value", value.as_str().into()), ("reason", reason.as_str().into())]
        }
        AlreadyExists { stream } => vec![("stream", s(stream))],
        UnitNotFound(u) => vec![("unit", s(u))],
        MemberNotFound(m) => vec![("member", s(m))],
        OutingNotFound(o) => vec![("outing", s(o))],
        CommitmentNotFound(c) | CommitmentWithdrawn { commitment: c } | CommitmentAssessed { commitment: c } => {
            vec![("commitment", s(c))]
        }
        SummaryNotFound(summary) => vec![("summary", s(summary))],
        RoundNotFound(round) | RoundClosed { round } => vec![("round", s(round))],
        EvaluationNotFound(evaluation) | EvaluationClosed { evaluation } => vec![("evaluation", s(evaluation))],
        OutsideEvaluation { evaluation, rated } => {
            vec![("evaluation", s(evaluation)), ("rated", rated.as_str().into())]
        }
        OpinionNotFound(opinion) | NoCitizenData { opinion } | OpinionNotHeld { opinion } => {
            vec![("opinion", s(opinion))]
        }
        CertificateNotFound(c) | CertificateRevoked { certificate: c } => vec![("certificate", s(c))],
        BoardNotFound(board) => vec![("board", s(board))],
        RecognitionNotFound(r) | RecognitionDecided { recognition: r } | RecognitionRevoked { recognition: r } => {
            vec![("recognition", s(r))]
        }
        ObjectionNotFound { recognition, objection } | ObjectionAnswered { recognition, objection } => {
            vec![("recognition", s(recognition)), ("objection", (*objection).into())]
        }
        StillListed { recognition, listed_until } => vec![("recognition", s(recognition)), ("date", s(listed_until))],
        ObjectionsUnanswered { recognition, count } => {
            vec![("recognition", s(recognition)), ("actual", (*count as u64).into())]
        }
        EvidenceDoesNotHold { recognition, reason } => {
            vec![("recognition", s(recognition)), ("reason", reason.as_str().into())]
        }
        CorrectionNotFound(c) | CorrectionAnswered { correction: c } => vec![("request", s(c))],
        NotCorrectedYet { correction, outing } => vec![("request", s(correction)), ("outing", s(outing))],
        NothingToCertify { member, unit } => vec![("member", s(member)), ("unit", s(unit))],
        OutsideRound { unit, round } => vec![("unit", s(unit)), ("round", s(round))],
        RenewsAnotherUnit { commitment, unit } => vec![("commitment", s(commitment)), ("unit", s(unit))],
        UnitCycle { unit, parent } => vec![("unit", s(unit)), ("parent", s(parent))],
        MemberErased { member } | DuplicateParticipant { member } => vec![("member", s(member))],
        AlreadyCheckedIn { member, outing }
        | NotCheckedIn { member, outing }
        | AlreadyCheckedOut { member, outing } => {
            vec![("member", s(member)), ("outing", s(outing))]
        }
        OutsideCheckInWindow { outing, opens, closes } => {
            vec![("outing", s(outing)), ("opens", opens.as_str().into()), ("closes", closes.as_str().into())]
        }
        InvalidTransfer { member, reason } => vec![("member", s(member)), ("reason", reason.as_str().into())],
        MemberNotInUnit { member, unit, date } => vec![("member", s(member)), ("unit", s(unit)), ("date", s(date))],
        ParticipationOutsideOuting { member, participation, outing } => {
            vec![("member", s(member)), ("actual", participation.as_str().into()), ("limit", outing.as_str().into())]
        }
        HoursExceedSpan { member, hours, span_hours } => {
            vec![("member", s(member)), ("actual", hours.as_str().into()), ("limit", span_hours.as_str().into())]
        }
        DailyLimitExceeded { member, date, total_hours, limit_hours } => vec![
            ("member", s(member)),
            ("date", s(date)),
            ("actual", total_hours.as_str().into()),
            ("limit", limit_hours.as_str().into()),
        ],
        OverlappingOuting { member, other, span } => {
            vec![("member", s(member)), ("outing", s(other)), ("actual", span.as_str().into())]
        }
        OutingVoided { outing }
        | AlreadyVerified { outing }
        | NotCertifiable { outing }
        | CertifiedLineChanged { outing }
        | CheckInNotOpen { outing } => vec![("outing", s(outing))],
        StaleVersion { stream, expected, actual } => vec![
            ("stream", s(stream)),
            ("expected", (*expected).into()),
            ("actual", actual.map_or(async_graphql::Value::Null, Into::into)),
        ],
        Empty { .. } | NoParticipants | CheckInRefused => vec![],
    };
    for (key, value) in details {
        error = with(error, key, value);
    }
    error
}

/// A command that did not take effect.
pub fn app(e: AppError) -> Error {
    match e {
        AppError::Domain(d) => domain(&d),
        AppError::Contention { ref stream } => with(coded(Code::Conflict, e.to_string()), "stream", stream.as_str()),
        AppError::OutOfScope { unit } => with(coded(Code::Forbidden, e.to_string()), "unit", unit.to_string()),
        AppError::CommandIdReused(id) => with(coded(Code::Conflict, e.to_string()), "commandId", id.to_string()),
        AppError::Keys(k) => internal(&k),
        // The server is restarting: a client retries with the same commandId.
        AppError::Store(s @ (StoreError::Poisoned | StoreError::Stalled { .. })) => {
            tracing::error!("refusing a write: {s}");
            coded(Code::Unavailable, s.to_string())
        }
        AppError::Store(s) => internal(&s),
    }
}

/// A read that could not be served.
pub fn read(e: ReadError) -> Error {
    match e {
        ReadError::Lagging { wanted, reached } => {
            with(with(coded(Code::Unavailable, e.to_string()), "minPosition", wanted), "position", reached)
        }
        other => internal(&other),
    }
}

/// Input that names something in a form that cannot be parsed (an id, a cursor).
pub fn invalid(field: &str, reason: impl std::fmt::Display) -> Error {
    with(coded(Code::Validation, format!("{field}: {reason}")), "field", field)
}

pub fn not_found(what: &str, id: impl std::fmt::Display) -> Error {
    coded(Code::NotFound, format!("{what} {id} does not exist"))
}
