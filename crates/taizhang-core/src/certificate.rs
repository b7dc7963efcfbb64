//! Service certificates (志愿服务记录证明): a reviewer issues one in the name of the unit
//! that recorded the service, for a member and the verified outings of a period, and
//! may revoke it with a reason. The certificate is signed outside the domain (the
//! installation's key is not the domain's); its event keeps what rebuilds the signed
//! document exactly, the log position the lines were read at and their digest, and
//! names the member's personal data by the version of their stream that holds it, so
//! that erasing the member leaves the certificate unreadable here.

use serde::{Deserialize, Serialize};
use time::Date;

use crate::command::Decision;
use crate::decide::{absent, Deciding, PendingEvent};
use crate::event::Fact;
use crate::*;

/// The most outings one certificate covers.
pub const MAX_CERTIFICATE_LINES: usize = 1_000;

/// One outing's service by the holder, as the certificate states it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ServiceLine {
    pub outing: OutingId,
    #[schemars(schema_with = "crate::schema::date")]
    pub date: Date,
    /// When the member was there.
    pub span: TimeRange,
    pub place: Text,
    pub category: Text,
    pub minutes: Minutes,
}

/// What is signed, as the signer made it: the key, the moment and the signature.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Signature {
    /// The installation's public key (an Ed25519 Multikey, `z6Mk…`).
    pub key: Text,
    /// The proof's `created`, `YYYY-MM-DDThh:mm:ssZ`.
    pub created: Text,
    /// The proof's `proofValue` (base58btc).
    pub value: Text,
}

/// Issues a certificate: everything it states, read from the log at `as_of` and
/// signed. `certificate` is the id of `number` (a certificate's number is its code).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct IssueCertificate {
    /// The stream it writes: always `issued.certificate` ([`Self::new`]).
    pub(crate) certificate: CertificateId,
    issued: CertificateIssued,
}

impl IssueCertificate {
    pub fn new(issued: CertificateIssued) -> Self {
        Self { certificate: issued.certificate, issued }
    }

    pub fn issued(&self) -> &CertificateIssued {
        &self.issued
    }
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RevokeCertificate {
    pub certificate: CertificateId,
    pub reason: Text,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CertificateIssued {
    pub certificate: CertificateId,
    /// `YYYY-NNNNNN`: the year of issue and the certificate's place in that year.
    pub number: Text,
    /// Its bit in the year's status lists.
    pub status_index: u32,
    pub member: MemberId,
    /// The version of the member's stream whose personal data names the holder.
    pub personal_version: u64,
    /// The unit that recorded the service and issues the certificate.
    pub unit: UnitId,
    pub person_in_charge: Text,
    pub contact: Text,
    #[schemars(schema_with = "crate::schema::date")]
    pub first: Date,
    #[schemars(schema_with = "crate::schema::date")]
    pub last: Date,
    pub lines: Vec<ServiceLine>,
    /// The log position the lines were read at.
    pub as_of: u64,
    /// SHA-256 (hex) of the lines in canonical JSON: what the log check recomputes.
    pub digest: Text,
    /// The address the certificate's links start with (`https://…`).
    pub base_url: Text,
    pub signature: Signature,
}

impl CertificateIssued {
    /// The year of issue: the number's first part.
    pub fn year(&self) -> i32 {
        self.number.as_str().split('-').next().and_then(|y| y.parse().ok()).unwrap_or(0)
    }
}

/// A certificate's number: the year of issue and its place among that year's.
pub fn certificate_number(year: i32, index: u32) -> String {
    format!("{year}-{:06}", index + 1)
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CertificateRevoked {
    pub certificate: CertificateId,
    pub reason: Text,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CertificateState {
    pub unit: UnitId,
    pub revoked: bool,
}

impl Decision for IssueCertificate {
    fn answered_by(&self, event: &DomainEvent) -> bool {
        // A retry prepares it again (another moment, another signature): it is the same
        // request when it asks for the same member, unit, period and signatories.
        let i = &self.issued;
        matches!(event, DomainEvent::CertificateIssued(e)
            if (i.member, i.unit, i.first, i.last, &i.person_in_charge, &i.contact)
                == (e.member, e.unit, e.first, e.last, &e.person_in_charge, &e.contact))
    }

    fn needs(&self, _: &Aggregates, needs: &mut Vec<StreamId>) {
        needs.push(StreamId::member(self.issued.member));
        needs.push(StreamId::unit(self.issued.unit));
        needs.extend(self.issued.lines.iter().map(|line| StreamId::outing(line.outing)));
    }

    fn units_written(&self, _: &Aggregates) -> Vec<Option<UnitId>> {
        vec![Some(self.issued.unit)]
    }

    fn decide(&self, cx: &mut Deciding<'_>) -> Result<Vec<PendingEvent>, DomainError> {
        let issued = &self.issued;
        crate::decide::coded("certificate", issued.certificate.0, Some(&issued.number))?;
        if issued.number.as_str() != certificate_number(issued.year(), issued.status_index) {
            return Err(DomainError::InvalidValue {
                field: "number".to_owned(),
                reason: format!("does not match its place {} in the year", issued.status_index),
            });
        }
        absent(cx.loaded, StreamId::certificate(issued.certificate))?;
        unit(cx.loaded, issued.unit)?;
        let holder = member(cx.loaded, issued.member)?;
        // The name signed must be the member's name now: a correction since it was read
        // is a conflict, and the certificate is made again.
        if holder.personal_version != issued.personal_version {
            return Err(DomainError::StaleVersion {
                stream: StreamId::member(issued.member),
                expected: issued.personal_version,
                actual: Some(holder.personal_version),
            });
        }
        if issued.lines.is_empty() {
            return Err(DomainError::NothingToCertify { member: issued.member, unit: issued.unit });
        }
        if issued.lines.len() > MAX_CERTIFICATE_LINES {
            return Err(DomainError::InvalidValue {
                field: "period".to_owned(),
                reason: format!(
                    "{} outings; a certificate covers at most {MAX_CERTIFICATE_LINES}: issue one per shorter period",
                    issued.lines.len()
                ),
            });
        }
        let period = Period::new(issued.first, issued.last)?;
        for line in &issued.lines {
            let outing = cx.loaded.outings.get(&line.outing).ok_or(DomainError::OutingNotFound(line.outing))?;
            if outing.unit != issued.unit || !outing.verified || !(period.first..=period.last).contains(&line.date) {
                return Err(DomainError::NotCertifiable { outing: line.outing });
            }
            // The line states the outing as it stands, or the certificate is made again.
            let served = outing.participants.iter().find(|p| p.member == issued.member);
            let stands = !outing.voided
                && served.is_some_and(|p| (p.span, p.minutes) == (line.span, line.minutes))
                && (outing.details.date, &outing.details.place, &outing.details.category)
                    == (line.date, &line.place, &line.category);
            if !stands {
                return Err(DomainError::CertifiedLineChanged { outing: line.outing });
            }
        }
        Ok(vec![PendingEvent::now(issued.clone())])
    }
}

impl Decision for RevokeCertificate {
    fn answered_by(&self, event: &DomainEvent) -> bool {
        matches!(event, DomainEvent::CertificateRevoked(e) if e.certificate == self.certificate && e.reason == self.reason)
    }

    fn units_written(&self, loaded: &Aggregates) -> Vec<Option<UnitId>> {
        vec![loaded.certificates.get(&self.certificate).map(|c| c.unit)]
    }

    fn decide(&self, cx: &mut Deciding<'_>) -> Result<Vec<PendingEvent>, DomainError> {
        let certificate =
            cx.loaded.certificates.get(&self.certificate).ok_or(DomainError::CertificateNotFound(self.certificate))?;
        if certificate.revoked {
            return Err(DomainError::CertificateRevoked { certificate: self.certificate });
        }
        Ok(vec![PendingEvent::now(CertificateRevoked { certificate: self.certificate, reason: self.reason.clone() })])
    }
}

impl Fact for CertificateIssued {
    fn fold(&self, _: u64, state: &mut Aggregates) {
        state.certificates.insert(self.certificate, CertificateState { unit: self.unit, revoked: false });
    }
}

impl Fact for CertificateRevoked {
    fn fold(&self, _: u64, state: &mut Aggregates) {
        if let Some(certificate) = state.certificates.get_mut(&self.certificate) {
            certificate.revoked = true;
        }
    }
}
