//! What a certificate covers, read from the model: a member's verified service
//! recorded by one unit in a period, one line per outing; the digest of those lines;
//! and a certificate's status at a position (valid, superseded when a line no longer
//! holds, revoked).

use serde::Serialize;
use sha2::{Digest, Sha256};
use taizhang_core::{CertificateIssued, MemberId, OutingId, Period, ServiceLine, UnitId};
use taizhang_store::Position;

use crate::model::{CertificateRecord, OutingView};
use crate::ReadModel;

/// `member`'s line in the outing as `view` shows it, if they serve in it and it is
/// not voided.
pub fn line_of(view: &OutingView<'_>, member: MemberId) -> Option<ServiceLine> {
    if view.voided {
        return None;
    }
    let served = view.participants().find(|p| p.member == member)?;
    let details = view.details();
    Some(ServiceLine {
        outing: view.id,
        date: details.date,
        span: served.span,
        place: details.place,
        category: details.category,
        minutes: served.minutes,
    })
}

/// `member`'s verified service recorded by `unit` on the dates of `period`, as of
/// `as_of`, in date and time order.
pub fn lines(model: &ReadModel, member: MemberId, unit: UnitId, period: Period, as_of: Position) -> Vec<ServiceLine> {
    let mut lines: Vec<ServiceLine> = model
        .member_outings(member)
        .iter()
        .filter_map(|n| model.outing_by_number(*n, as_of))
        .filter(|o| o.unit == unit && o.verified && (period.first..=period.last).contains(&o.date()))
        .filter_map(|o| line_of(&o, member))
        .collect();
    lines.sort_by_key(|l| (l.date, l.span.start, l.outing));
    lines
}

/// For each line of a certificate, whether its hours were credit hours (recorded by the
/// member's own check-in and check-out) when it was issued; a line not found then (it
/// cannot be, for a certificate the log holds) reads as honour hours.
pub fn credited_lines(model: &ReadModel, issued: &CertificateIssued) -> Vec<bool> {
    issued
        .lines
        .iter()
        .map(|line| model.outing(line.outing, issued.as_of).is_some_and(|view| view.credited(issued.member)))
        .collect()
}

/// SHA-256, in hex, of `lines` in canonical JSON (RFC 8785).
pub fn digest(lines: &[ServiceLine]) -> String {
    let json = serde_json::to_value(lines).expect("lines are plain data");
    hex::encode(Sha256::digest(taizhang_credential::jcs::canonical(&json).as_bytes()))
}

/// What a certificate is worth at a position.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
pub enum CertificateStatus {
    /// Every line still holds and it was not revoked.
    Valid,
    /// A record it covers was amended or voided since: re-issue.
    Superseded,
    Revoked,
}

impl CertificateStatus {
    /// The status as checks and lists name it: `valid`, `superseded`, `revoked`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Valid => "valid",
            Self::Superseded => "superseded",
            Self::Revoked => "revoked",
        }
    }

    /// The status of `record` as of `as_of` (revocation first: it says more).
    pub fn of(record: &CertificateRecord, as_of: Position) -> Self {
        match (record.revoked.as_ref(), record.superseded) {
            (Some((at, _)), _) if *at <= as_of => Self::Revoked,
            (_, Some((at, _))) if at <= as_of => Self::Superseded,
            _ => Self::Valid,
        }
    }
}

/// The lines of `issued` as the model reads them at `as_of`, with the outings whose
/// line no longer reads as the certificate states it (amended or voided since).
pub fn changed_lines(model: &ReadModel, issued: &CertificateIssued, as_of: Position) -> Vec<OutingId> {
    issued
        .lines
        .iter()
        .filter(|line| {
            let now = model.outing(line.outing, as_of).and_then(|o| line_of(&o, issued.member));
            now.as_ref() != Some(*line)
        })
        .map(|line| line.outing)
        .collect()
}

/// The index the next certificate of `year` takes in the year's status lists.
pub fn next_index(model: &ReadModel, year: i32) -> u32 {
    model.year_certificates(year).next_back().map_or(0, |(last, _)| last + 1)
}

/// The certificate `issued` states, with the holder's name as it was read when it was
/// issued: the same document, byte for byte, as the one signed (the unit's name and the
/// member's code are read as of the position the certificate records).
pub fn document(model: &ReadModel, issued: &CertificateIssued, holder_name: &str) -> taizhang_credential::Certificate {
    let base = issued.base_url.as_str().trim_end_matches('/');
    let unit_name =
        model.unit(issued.unit, issued.as_of).map_or_else(|| issued.unit.to_string(), |u| u.name.to_string());
    let volunteer_number =
        model.code(issued.member.0, issued.as_of).map_or_else(|| issued.member.to_string(), |c| c.to_string());
    taizhang_credential::Certificate {
        id: format!("urn:uuid:{}", issued.certificate),
        number: issued.number.to_string(),
        check_url: format!("{base}/certificates/{}", issued.number),
        status_url: format!("{base}/certificates/status/{}", issued.year()),
        status_index: issued.status_index,
        issuer_did: format!("did:key:{}", issued.signature.key),
        unit_name,
        person_in_charge: issued.person_in_charge.to_string(),
        contact: issued.contact.to_string(),
        holder_name: holder_name.to_owned(),
        volunteer_number,
        first: issued.first.to_string(),
        last: issued.last.to_string(),
        issued_at: issued.signature.created.to_string(),
        lines: issued
            .lines
            .iter()
            .map(|line| taizhang_credential::Line {
                outing: format!("urn:uuid:{}", line.outing),
                date: line.date.to_string(),
                span: line.span.to_string(),
                place: line.place.to_string(),
                category: line.category.to_string(),
                minutes: line.minutes.get(),
            })
            .collect(),
    }
}
