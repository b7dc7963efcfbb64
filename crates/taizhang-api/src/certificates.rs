//! Service certificates (志愿服务记录证明): issued and revoked by reviewers, listed with
//! their status; the signed credential and its check code are the holder's personal
//! data.

use async_graphql::{ComplexObject, Context, Enum, InputObject, Object, SimpleObject, ID};
use taizhang_app::CommandContext;
use taizhang_core::*;
use taizhang_io::certificate::{self as issuing, CertificateError, IssueRequest};
use taizhang_read::certificates::CertificateStatus as Status;
use taizhang_read::{CertificateRecord, ReadModel};
use taizhang_store::{AppendOutcome, Position};
use time::Date;

use crate::access::{self, Need, Permission};
use crate::error::{self, Code};
use crate::members::personal_reach;
use crate::mutation::execute;
use crate::types::*;
use crate::units::Unit;
use crate::{state, READ_YOUR_WRITES_WAIT};

/// The most certificates one list returns.
const MAX_CERTIFICATES: usize = 500;

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum CertificateStatus {
    /// Every record it covers reads as it states, and it was not revoked.
    Valid,
    /// A record it covers was amended or voided since it was issued: issue it again.
    Superseded,
    Revoked,
}

impl From<Status> for CertificateStatus {
    fn from(s: Status) -> Self {
        match s {
            Status::Valid => Self::Valid,
            Status::Superseded => Self::Superseded,
            Status::Revoked => Self::Revoked,
        }
    }
}

/// One outing's service, as the certificate states it.
#[derive(SimpleObject, Clone)]
pub struct CertificateLine {
    pub outing: ID,
    pub date: Date,
    /// `hh:mm–hh:mm`: when the member was there.
    pub span: String,
    pub place: String,
    pub category: String,
    pub hours: f64,
    /// The member recorded these hours by checking in and out at the site (credit
    /// hours), rather than the unit entering them afterwards.
    pub credit: bool,
}

/// A certificate as issued, with its status at the position read.
#[derive(SimpleObject, Clone)]
#[graphql(complex)]
pub struct Certificate {
    pub id: ID,
    /// `YYYY-NNNNNN`.
    pub number: String,
    pub status: CertificateStatus,
    pub member: ID,
    #[graphql(skip)]
    pub unit_id: UnitId,
    pub first: Date,
    pub last: Date,
    pub hours: f64,
    pub lines: Vec<CertificateLine>,
    pub person_in_charge: String,
    pub contact: String,
    /// When it was signed (UTC).
    pub issued_at: String,
    /// The log position its lines were read at: the same lines read as of it again give
    /// `digest`.
    pub as_of: Position,
    /// SHA-256 of its lines in canonical JSON.
    pub digest: String,
    /// The public key (Ed25519 Multikey) that signed it.
    pub signing_key: String,
    pub revoked_reason: Option<String>,
    /// The outing whose change superseded it, and where.
    pub superseded_by: Option<ID>,
    pub superseded_at: Option<Position>,
}

impl Certificate {
    fn of(model: &ReadModel, record: &CertificateRecord, as_of: Position) -> Option<Self> {
        if record.position > as_of {
            return None;
        }
        let issued = &record.issued;
        let credited = taizhang_read::certificates::credited_lines(model, issued);
        let lines: Vec<CertificateLine> = issued
            .lines
            .iter()
            .zip(credited)
            .map(|(l, credit)| CertificateLine {
                outing: ID(l.outing.to_string()),
                date: l.date,
                span: l.span.to_string(),
                place: l.place.to_string(),
                category: l.category.to_string(),
                hours: taizhang_io::export::hours(l.minutes.get() as u64),
                credit,
            })
            .collect();
        let minutes: u64 = issued.lines.iter().map(|l| l.minutes.get() as u64).sum();
        let superseded = record.superseded.filter(|(at, _)| *at <= as_of);
        Some(Self {
            id: ID(issued.certificate.to_string()),
            number: issued.number.to_string(),
            status: Status::of(record, as_of).into(),
            member: ID(issued.member.to_string()),
            unit_id: issued.unit,
            first: issued.first,
            last: issued.last,
            hours: taizhang_io::export::hours(minutes),
            lines,
            person_in_charge: issued.person_in_charge.to_string(),
            contact: issued.contact.to_string(),
            issued_at: issued.signature.created.to_string(),
            as_of: issued.as_of,
            digest: issued.digest.to_string(),
            signing_key: issued.signature.key.to_string(),
            revoked_reason: record.revoked.as_ref().filter(|(at, _)| *at <= as_of).map(|(_, r)| r.to_string()),
            superseded_by: superseded.map(|(_, o)| ID(o.to_string())),
            superseded_at: superseded.map(|(at, _)| at),
        })
    }

    fn at(model: &ReadModel, id: CertificateId, as_of: Position) -> Option<Self> {
        Self::of(model, model.certificates.get(&id)?, as_of)
    }
}

#[ComplexObject]
impl Certificate {
    /// The issuing unit.
    async fn unit(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Unit>> {
        let unit = self.unit_id;
        state(ctx).read(None, move |m| Unit::at(m, unit, m.position)).await
    }

    /// The signed credential (a W3C Verifiable Credential, Open Badges 3.0), as JSON:
    /// it names the holder, so it is personal data (clerks: their own units').
    #[graphql(guard = "Need(Permission::ReadPersonal)")]
    async fn document(&self, ctx: &Context<'_>) -> async_graphql::Result<String> {
        Ok(serde_json::to_string_pretty(&self.issued(ctx).await?.document).expect("a document is JSON"))
    }

    /// The code printed beside the number, which the public check asks for.
    #[graphql(guard = "Need(Permission::ReadPersonal)")]
    async fn check_code(&self, ctx: &Context<'_>) -> async_graphql::Result<String> {
        Ok(self.issued(ctx).await?.code)
    }
}

impl Certificate {
    async fn issued(&self, ctx: &Context<'_>) -> async_graphql::Result<issuing::Issued> {
        personal_reach(access::principal(ctx)?, Some(self.unit_id), Some(self.unit_id))?;
        let state = state(ctx);
        let id = parse_id("id", &self.id)?;
        issuing::read(&state.ledger, &state.projector, id).await.map_err(certificate_error)
    }
}

pub(crate) fn certificate_error(e: CertificateError) -> async_graphql::Error {
    match e {
        CertificateError::App(e) => error::app(e),
        CertificateError::Read(e) => error::read(e),
        CertificateError::NotFound(n) => error::not_found("certificate", n),
        CertificateError::Key(e) => {
            tracing::error!("certificate signing key: {e}");
            error::coded(
                Code::Unavailable,
                "the certificate signing key cannot be read; an administrator must restore it",
            )
        }
    }
}

#[derive(Default)]
pub struct CertificateQueries;

#[Object]
impl CertificateQueries {
    /// A certificate by its number (or id).
    #[graphql(guard = "Need(Permission::ReadRecords)")]
    async fn certificate(
        &self,
        ctx: &Context<'_>,
        number: String,
        min_position: Option<Position>,
    ) -> async_graphql::Result<Option<Certificate>> {
        let id: CertificateId = parse_id("number", &number)?;
        state(ctx).read(min_position, move |m| Certificate::at(m, id, m.position)).await
    }

    /// A member's certificates, or those a unit issued, newest first.
    #[graphql(guard = "Need(Permission::ReadRecords)")]
    async fn certificates(
        &self,
        ctx: &Context<'_>,
        member: Option<ID>,
        unit: Option<ID>,
        #[graphql(default = 100)] first: i32,
        min_position: Option<Position>,
    ) -> async_graphql::Result<Vec<Certificate>> {
        let first = usize::try_from(first).unwrap_or(0);
        if first > MAX_CERTIFICATES {
            return Err(error::over_limit("page size (first)", MAX_CERTIFICATES as u64, Some(first as u64)));
        }
        let member: Option<MemberId> = member.map(|m| parse_id("member", &m)).transpose()?;
        let unit: Option<UnitId> = unit.map(|u| parse_id("unit", &u)).transpose()?;
        if member.is_none() && unit.is_none() {
            return Err(error::invalid("member", "give a member or a unit"));
        }
        state(ctx)
            .read(min_position, move |m| {
                let ids: &[CertificateId] = match (member, unit) {
                    (Some(member), _) => m.member_certificates(member),
                    (None, Some(unit)) => m.unit_certificates(unit),
                    (None, None) => &[],
                };
                let mut found: Vec<Certificate> = ids
                    .iter()
                    .filter_map(|id| m.certificates.get(id))
                    .filter(|c| unit.is_none_or(|u| c.issued.unit == u))
                    .filter_map(|c| Certificate::of(m, c, m.position))
                    .collect();
                found.sort_by(|a, b| b.issued_at.cmp(&a.issued_at).then_with(|| b.number.cmp(&a.number)));
                found.truncate(first);
                found
            })
            .await
    }
}

#[derive(InputObject)]
pub struct IssueCertificateInput {
    pub member: ID,
    /// The unit that recorded the service; it issues the certificate.
    pub unit: ID,
    /// The first and last service dates covered.
    pub first: Date,
    pub last: Date,
    /// The unit's person in charge (负责人) and contact telephone, printed on it.
    pub person_in_charge: String,
    pub contact: String,
}

#[derive(SimpleObject)]
pub struct CertificatePayload {
    pub receipt: Receipt,
    pub certificate: Option<Certificate>,
}

async fn payload(
    ctx: &Context<'_>,
    outcome: &AppendOutcome,
    id: CertificateId,
) -> async_graphql::Result<CertificatePayload> {
    let certificate = state(ctx).read(None, move |m| Certificate::at(m, id, m.position)).await?;
    Ok(CertificatePayload { receipt: Receipt::new(outcome), certificate })
}

#[derive(Default)]
pub struct CertificateMutations;

#[Object]
impl CertificateMutations {
    /// Issues a service certificate in the name of the unit that recorded the service:
    /// the member's verified outings of that unit in the period, read now, signed with
    /// the installation's key. Send the same `commandId` again to get the same one.
    #[graphql(guard = "Need(Permission::IssueCertificates)")]
    async fn issue_certificate(
        &self,
        ctx: &Context<'_>,
        input: IssueCertificateInput,
        command_id: Option<uuid::Uuid>,
    ) -> async_graphql::Result<CertificatePayload> {
        let state = state(ctx);
        let settings = state.certificates.as_ref().ok_or_else(|| {
            error::coded(Code::Unavailable, "this server issues no certificates: it was started without a signing key")
        })?;
        let request = IssueRequest {
            member: parse_id("input.member", &input.member)?,
            unit: parse_id("input.unit", &input.unit)?,
            period: Period::new(input.first, input.last).map_err(|e| error::domain(&e))?,
            person_in_charge: text("input.personInCharge", &input.person_in_charge)?,
            contact: text("input.contact", &input.contact)?,
            base_url: text("baseUrl", &settings.base_url)?,
        };
        let principal = access::principal(ctx)?;
        let mut context = CommandContext { scope: principal.scope(), ..CommandContext::new(principal.actor()) };
        if let Some(id) = command_id {
            context.command_id = id;
        }
        // Boxed: see the crate's note on root fields.
        let (id, outcome) =
            Box::pin(issuing::issue(&state.ledger, &state.projector, context, &settings.key_file, &request))
                .await
                .map_err(certificate_error)?;
        state.metrics.command_applied(&outcome);
        state.projector.wait_for(outcome.last_position, READ_YOUR_WRITES_WAIT).await.map_err(error::read)?;
        payload(ctx, &outcome, id).await
    }

    /// Revokes a certificate, with the reason: its public check and the status list say
    /// so from now on.
    #[graphql(guard = "Need(Permission::IssueCertificates)")]
    async fn revoke_certificate(
        &self,
        ctx: &Context<'_>,
        number: String,
        reason: String,
        command_id: Option<uuid::Uuid>,
    ) -> async_graphql::Result<CertificatePayload> {
        let certificate: CertificateId = parse_id("number", &number)?;
        let command = RevokeCertificate { certificate, reason: text("reason", &reason)? };
        let outcome = execute(ctx, command_id, command.into()).await?;
        payload(ctx, &outcome, certificate).await
    }
}
