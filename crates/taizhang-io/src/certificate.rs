//! Service certificates as a volunteer receives them: issued from the read model and
//! signed with the installation's key; rebuilt, signature included, from their event
//! whenever asked for; and printable as a page with a QR code of their public check.

use std::path::Path;
use std::time::Duration;

use serde_json::{Map, Value};
use taizhang_app::{AppError, CommandContext, Ledger, Personal};
use taizhang_core::*;
use taizhang_credential::{check_code, sign, with_proof, PublicKey};
use taizhang_read::certificates::{self, CertificateStatus};
use taizhang_read::{CertificateRecord, Projector, ReadError};
use taizhang_store::signing_key::{self, SigningKeyError};
use taizhang_store::{AppendOutcome, EventStore};

/// How many times an issue is prepared again when the records it read changed before
/// it was appended.
const ATTEMPTS: usize = 5;

/// What a reviewer asks for.
#[derive(Clone, Debug)]
pub struct IssueRequest {
    pub member: MemberId,
    /// The unit that recorded the service and issues the certificate.
    pub unit: UnitId,
    pub period: Period,
    pub person_in_charge: Text,
    pub contact: Text,
    /// The address the certificate's links start with (`https://…`, no trailing `/`).
    pub base_url: Text,
}

#[derive(Debug, thiserror::Error)]
pub enum CertificateError {
    #[error(transparent)]
    App(#[from] AppError),
    #[error(transparent)]
    Key(#[from] SigningKeyError),
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error("certificate {0} does not exist")]
    NotFound(String),
}

impl From<DomainError> for CertificateError {
    fn from(e: DomainError) -> Self {
        Self::App(AppError::Domain(e))
    }
}

/// Issues a certificate for `request`: its lines read at the head of the log, the
/// holder's name as it reads now, signed with the key at `key_file` (made on first
/// use). Prepared again when a record it read changed before it was appended. A retry
/// with the same command id answers with the certificate issued the first time.
pub async fn issue<S: EventStore>(
    ledger: &Ledger<S>,
    projector: &Projector<S>,
    ctx: CommandContext,
    key_file: &Path,
    request: &IssueRequest,
) -> Result<(CertificateId, AppendOutcome), CertificateError> {
    let mut conflict = None;
    for _ in 0..ATTEMPTS {
        projector.wait_for(ledger.store().head(), Duration::from_secs(10)).await?;
        let now = Timestamp::now();
        let key = signing_key::load_or_create(key_file)?;
        let created = now.to_rfc3339_seconds();
        let mut issued = projector.read(|model| {
            let as_of = model.position;
            let year = now.service_date().year();
            let index = certificates::next_index(model, year);
            let number = certificate_number(year, index);
            let lines = certificates::lines(model, request.member, request.unit, request.period, as_of);
            CertificateIssued {
                certificate: CertificateId::of_code(&number),
                number: text(&number),
                status_index: index,
                member: request.member,
                personal_version: model.members.get(&request.member).map_or(0, |m| m.personal_version(as_of)),
                unit: request.unit,
                person_in_charge: request.person_in_charge.clone(),
                contact: request.contact.clone(),
                first: request.period.first,
                last: request.period.last,
                digest: text(&certificates::digest(&lines)),
                lines,
                as_of,
                base_url: request.base_url.clone(),
                signature: Signature {
                    key: text(&key.public().multibase()),
                    created: text(&created),
                    value: text("z"),
                },
            }
        });
        let name = holder_name(ledger, &issued).await?;
        let document = projector.read(|model| certificates::document(model, &issued, &name).document());
        let signed = sign(document, &key, &created)
            .map_err(|e| SigningKeyError { path: key_file.display().to_string(), reason: e.to_string() })?;
        let value = signed["proof"]["proofValue"].as_str().expect("a proof has a value");
        issued.signature.value = text(value);
        match ledger.execute(ctx.clone(), Command::IssueCertificate(IssueCertificate::new(issued))).await {
            Ok(outcome) => {
                let written = outcome.streams.iter().find(|(s, _)| s.kind == StreamKind::Certificate);
                let (stream, _) = written.expect("an issue writes its certificate's stream");
                return Ok((CertificateId(stream.id), outcome));
            }
            Err(AppError::Domain(e)) if e.kind() == ErrorKind::Conflict => conflict = Some(e),
            Err(e) => return Err(e.into()),
        }
    }
    Err(conflict.expect("every attempt met a conflict").into())
}

/// A certificate as issued, the signed document rebuilt from it, and its status at the
/// head; `MemberErased` once the holder's name can no longer be read.
pub struct Issued {
    pub record: CertificateRecord,
    pub status: CertificateStatus,
    /// What it states.
    pub certificate: taizhang_credential::Certificate,
    /// The signed credential.
    pub document: Map<String, Value>,
    pub code: String,
    /// For each line, whether its hours were credit hours (from check-in) when issued.
    pub credited: Vec<bool>,
}

/// The certificate with `number` (or id), rebuilt.
pub async fn read<S: EventStore>(
    ledger: &Ledger<S>,
    projector: &Projector<S>,
    id: CertificateId,
) -> Result<Issued, CertificateError> {
    let record = projector
        .read(|model| model.certificates.get(&id).cloned())
        .ok_or_else(|| CertificateError::NotFound(id.to_string()))?;
    let name = holder_name(ledger, &record.issued).await?;
    let (status, certificate, credited) = projector.read(|model| {
        let status = CertificateStatus::of(&record, model.position);
        (
            status,
            certificates::document(model, &record.issued, &name),
            certificates::credited_lines(model, &record.issued),
        )
    });
    let signature = &record.issued.signature;
    let key = PublicKey::parse(signature.key.as_str())
        .map_err(|e| SigningKeyError { path: "the log".into(), reason: e.to_string() })?;
    let document = with_proof(certificate.document(), &key, signature.created.as_str(), signature.value.as_str());
    let code = check_code(signature.value.as_str());
    Ok(Issued { record, status, certificate, document, code, credited })
}

/// The holder's name as the member's record named it at the version the certificate
/// records.
async fn holder_name<S: EventStore>(
    ledger: &Ledger<S>,
    issued: &CertificateIssued,
) -> Result<String, CertificateError> {
    match ledger.personal_at(issued.member, issued.personal_version).await? {
        Personal::Known(p) => Ok(p.name.to_string()),
        Personal::Erased => Err(DomainError::MemberErased { member: issued.member }.into()),
    }
}

fn text(s: &str) -> Text {
    Text::parse("certificate", s).expect("a certificate's own texts are short and visible")
}

/// The check address printed on a certificate and carried by its QR code.
pub fn check_address(issued: &CertificateIssued) -> String {
    format!(
        "{}/certificates/{}?code={}",
        issued.base_url.as_str().trim_end_matches('/'),
        issued.number,
        check_code(issued.signature.value.as_str())
    )
}

/// `text` as an SVG QR code (error correction M), black modules on white, with the
/// standard quiet zone, `pixels` wide, named `label` for screen readers (escaped here).
pub fn qr_svg(text: &str, pixels: u32, label: &str) -> String {
    let Ok(code) = qrcode::QrCode::with_error_correction_level(text, qrcode::EcLevel::M) else {
        return String::new();
    };
    let width = code.width();
    let side = width + 8;
    let mut path = String::new();
    for (i, color) in code.to_colors().into_iter().enumerate() {
        if color == qrcode::Color::Dark {
            path.push_str(&format!("M{} {}h1v1h-1z", i % width + 4, i / width + 4));
        }
    }
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {side} {side}\" width=\"{pixels}\" height=\"{pixels}\" \
         role=\"img\" aria-label=\"{label}\" shape-rendering=\"crispEdges\"><rect width=\"{side}\" height=\"{side}\" \
         fill=\"#fff\"/><path fill=\"#000\" d=\"{path}\"/></svg>",
        label = html_escape(label),
    )
}

/// Escapes text for HTML.
pub fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// How a line's hours were recorded, as the certificate's pages say it: by the
/// member's check-in and check-out at the site, or entered by the unit afterwards.
pub fn recorded_how(credited: bool) -> &'static str {
    if credited {
        "签到签退"
    } else {
        "单位录入"
    }
}

/// The head of a table of service lines (see [`service_rows`]).
pub const SERVICE_HEAD: &str = "<tr><th>日期</th><th>时间</th><th>地点</th><th>服务类别</th><th>记录方式</th>\
                                <th class=\"n\">时长（小时）</th></tr>";

/// Table rows of service lines (date, time, place, category, how recorded, hours),
/// escaped; the hours right-aligned (class `n`).
pub fn service_rows(lines: impl IntoIterator<Item = [String; 6]>) -> String {
    lines
        .into_iter()
        .map(|[date, span, place, category, how, hours]| {
            let e = |s: &str| html_escape(s);
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td></tr>",
                e(&date),
                e(&span),
                e(&place),
                e(&category),
                e(&how),
                e(&hours)
            )
        })
        .collect()
}

/// The certificate as a printable page (A4, Chinese): who, what, the table of outings,
/// the issuing unit, the number and check code, and the QR code of the public check.
pub fn printable_html(issued: &Issued) -> String {
    let (certificate, record) = (&issued.certificate, &issued.record.issued);
    let e = |s: &str| html_escape(s);
    let rows = service_rows(certificate.lines.iter().zip(&issued.credited).map(|(l, credited)| {
        let hours = taizhang_credential::certificate::hours(l.minutes as u64);
        [&l.date, &l.span, &l.place, &l.category, recorded_how(*credited), &hours].map(|cell| cell.to_string())
    }));
    let credit_minutes: u64 =
        certificate.lines.iter().zip(&issued.credited).filter(|(_, c)| **c).map(|(l, _)| l.minutes as u64).sum();
    let issued = record;
    let address = check_address(issued);
    format!(
        r#"<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>志愿服务记录证明 {number}</title>
<style>
body{{font-family:"Noto Serif CJK SC","Songti SC",serif;max-width:48em;margin:2em auto;padding:0 1em;color:#111}}
h1{{text-align:center;letter-spacing:.3em}} table{{border-collapse:collapse;width:100%;margin:1em 0}}
td,th{{border:1px solid #444;padding:.3em .5em;text-align:left}} .n{{text-align:right}}
.foot{{display:flex;justify-content:space-between;align-items:flex-end;gap:1em;flex-wrap:wrap}}
.meta{{font-size:.9em;color:#333;word-break:break-all}} @page{{size:A4;margin:18mm}}
</style></head><body>
<h1>志愿服务记录证明</h1>
<p>兹证明 <strong>{name}</strong>（志愿者编号 {volunteer}）于 {first} 至 {last} 在 {unit} 参加志愿服务 {count} 次，累计服务时长 <strong>{hours}</strong> 小时（其中签到签退记录 {credit} 小时）。服务记录如下：</p>
<table><thead>{head}</thead>
<tbody>{rows}</tbody></table>
<div class="foot"><div>
<p>出具单位：{unit}（盖章）<br>负责人：{person}<br>联系电话：{contact}<br>出具日期：{date}</p>
<p class="meta">证明编号：{number}<br>核验码：{code}<br>核验地址：{address_text}<br>签名密钥：{key}</p>
</div><div>{qr}</div></div>
</body></html>
"#,
        number = e(&certificate.number),
        name = e(&certificate.holder_name),
        volunteer = e(&certificate.volunteer_number),
        first = e(&certificate.first),
        last = e(&certificate.last),
        unit = e(&certificate.unit_name),
        count = certificate.lines.len(),
        hours = taizhang_credential::certificate::hours(certificate.total_minutes()),
        credit = taizhang_credential::certificate::hours(credit_minutes),
        head = SERVICE_HEAD,
        person = e(&certificate.person_in_charge),
        contact = e(&certificate.contact),
        date = e(certificate.issued_at.get(..10).unwrap_or(&certificate.issued_at)),
        code = check_code(issued.signature.value.as_str()),
        address_text = e(&address),
        key = e(issued.signature.key.as_str()),
        qr = qr_svg(&address, 160, "核验二维码"),
    )
}
