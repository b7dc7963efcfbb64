//! A service certificate (志愿服务记录证明) as an Open Badges 3.0 `OpenBadgeCredential`
//! (a W3C Verifiable Credential 2.0): the issuing unit as the issuer's profile, the
//! member as the subject (their name and volunteer number, never an identity number),
//! the hours as the subject's result, each outing as a piece of evidence, and its two
//! status entries.

use serde_json::{json, Map, Value};
use taizhang_core::typed_code;

use crate::status::StatusPurpose;

pub const VC_CONTEXT: &str = "https://www.w3.org/ns/credentials/v2";
pub const OB_CONTEXT: &str = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json";

/// What a certificate states, as text already formatted: the same content gives the
/// same document, byte for byte, whenever it is rebuilt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Certificate {
    /// `urn:uuid:…`, the certificate's id.
    pub id: String,
    pub number: String,
    /// Where the public check of this certificate is: `{base}/certificates/{number}`.
    pub check_url: String,
    /// The status lists' address without the purpose: `{base}/certificates/status/{year}`.
    pub status_url: String,
    pub status_index: u32,
    /// The installation's `did:key`.
    pub issuer_did: String,
    pub unit_name: String,
    pub person_in_charge: String,
    pub contact: String,
    pub holder_name: String,
    pub volunteer_number: String,
    /// The first and last service dates covered, `YYYY-MM-DD`.
    pub first: String,
    pub last: String,
    /// When it was issued: `YYYY-MM-DDThh:mm:ssZ`.
    pub issued_at: String,
    pub lines: Vec<Line>,
}

/// One outing's service by the holder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    /// `urn:uuid:…`, the outing's id.
    pub outing: String,
    pub date: String,
    /// `hh:mm–hh:mm`.
    pub span: String,
    pub place: String,
    pub category: String,
    pub minutes: u32,
}

/// The short code printed on a certificate beside its number, which the public check
/// asks for (a number alone lists nothing): ten characters of Crockford's base 32 from
/// a hash of the signature, which only the key's holder could have made.
pub fn check_code(proof_value: &str) -> String {
    use sha2::{Digest, Sha256};
    let hash = Sha256::new().chain_update(b"taizhang certificate check code").chain_update(proof_value).finalize();
    typed_code::encode(u64::from_be_bytes(hash[..8].try_into().expect("eight bytes")), 10)
}

/// Minutes as hours, to two places at most and without trailing zeros (`1.5`, `2`).
pub fn hours(minutes: u64) -> String {
    let whole = minutes / 60;
    let hundredths = (minutes % 60) * 100 / 60;
    match hundredths {
        0 => whole.to_string(),
        h if h % 10 == 0 => format!("{whole}.{}", h / 10),
        h => format!("{whole}.{h:02}"),
    }
}

impl Certificate {
    pub fn total_minutes(&self) -> u64 {
        self.lines.iter().map(|l| l.minutes as u64).sum()
    }

    /// The certificate as an unsigned `OpenBadgeCredential`.
    pub fn document(&self) -> Map<String, Value> {
        let hours = hours(self.total_minutes());
        let title = "志愿服务记录证明";
        let summary = format!(
            "兹证明 {}（志愿者编号 {}）于 {} 至 {} 参加志愿服务 {} 次，累计服务时长 {} 小时。",
            self.holder_name,
            self.volunteer_number,
            self.first,
            self.last,
            self.lines.len(),
            hours
        );
        let evidence: Vec<Value> = self
            .lines
            .iter()
            .map(|line| {
                json!({
                    "id": line.outing,
                    "type": ["Evidence"],
                    "name": format!("{} {}", line.date, line.category),
                    "description": format!("{} {} · {} · {} · {} 小时", line.date, line.span, line.place, line.category, crate::certificate::hours(line.minutes as u64)),
                    "genre": line.category,
                })
            })
            .collect();
        let document = json!({
            "@context": [VC_CONTEXT, OB_CONTEXT],
            "id": self.id,
            "type": ["VerifiableCredential", "OpenBadgeCredential"],
            "name": format!("{title} {}", self.number),
            "description": summary,
            "issuer": {
                "id": self.issuer_did,
                "type": ["Profile"],
                "name": self.unit_name,
                "phone": self.contact,
                "description": format!("出具单位：{}；负责人：{}；联系电话：{}", self.unit_name, self.person_in_charge, self.contact),
            },
            "validFrom": self.issued_at,
            "credentialSubject": {
                "type": ["AchievementSubject"],
                "identifier": [
                    {"type": "IdentityObject", "identityHash": self.holder_name, "identityType": "ext:name", "hashed": false},
                    {"type": "IdentityObject", "identityHash": self.volunteer_number, "identityType": "identifier", "hashed": false},
                ],
                "activityStartDate": format!("{}T00:00:00Z", self.first),
                "activityEndDate": format!("{}T23:59:59Z", self.last),
                "achievement": {
                    "id": format!("{}#achievement", self.check_url),
                    "type": ["Achievement"],
                    "name": title,
                    "description": format!("{}：编号 {}，{} 出具。", title, self.number, self.unit_name),
                    "criteria": {"narrative": "经出具单位审核的志愿服务记录：每次活动的日期、地点、类别与服务时长（不含往返时间）。"},
                    "resultDescription": [{
                        "id": format!("{}#hours", self.check_url),
                        "type": ["ResultDescription"],
                        "name": "累计服务时长（小时）",
                        "resultType": "ext:ServiceHours",
                    }],
                },
                "result": [{
                    "type": ["Result"],
                    "resultDescription": format!("{}#hours", self.check_url),
                    "value": hours,
                }],
            },
            "evidence": evidence,
            "credentialStatus": [
                StatusPurpose::Revocation.entry(&format!("{}/{}", self.status_url, StatusPurpose::Revocation.path()), self.status_index),
                StatusPurpose::Superseded.entry(&format!("{}/{}", self.status_url, StatusPurpose::Superseded.path()), self.status_index),
            ],
        });
        crate::object(document)
    }
}

#[cfg(test)]
mod tests {
    use super::hours;

    #[test]
    fn a_check_code_is_ten_characters_of_crockfords_base_32() {
        let code = super::check_code("z5it");
        assert_eq!(code.len(), 10);
        assert!(code.chars().all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()));
        assert!(!code.contains(['I', 'L', 'O', 'U']));
    }

    #[test]
    fn hours_are_written_short() {
        assert_eq!(hours(0), "0");
        assert_eq!(hours(90), "1.5");
        assert_eq!(hours(120), "2");
        assert_eq!(hours(125), "2.08");
        assert_eq!(hours(1_441), "24.01");
    }
}
