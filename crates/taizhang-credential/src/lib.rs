//! Certificates anyone can check without taizhang: W3C Verifiable Credentials 2.0 with
//! Data Integrity proofs of the `eddsa-jcs-2022` cryptosuite, issuers named by
//! `did:key`, and revocation published as Bitstring Status Lists.
//!
//! No I/O: the key file, the log and the HTTP routes are the callers'.
//!
//! ```
//! use taizhang_credential::*;
//! let key = IssuerKey::from_seed([7; 32]);
//! let mut document = serde_json::Map::new();
//! document.insert("name".into(), "志愿服务记录证明".into());
//! let signed = serde_json::Value::Object(sign(document, &key, "2026-07-01T00:00:00Z").unwrap());
//! assert_eq!(verify(&signed, Some(&key.public())).unwrap().key, key.public());
//! ```
#![forbid(unsafe_code)]

pub mod certificate;
pub mod jcs;
mod keys;
pub mod multibase;
mod proof;
pub mod status;

pub use certificate::{check_code, Certificate, Line};
pub use keys::{IssuerKey, PublicKey};
pub use proof::{hash_data, proof_config, sign, verify, with_proof, Verified, CRYPTOSUITE};

/// The map of a JSON object built with `json!`.
pub(crate) fn object(value: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    match value {
        serde_json::Value::Object(map) => map,
        _ => unreachable!("built as an object"),
    }
}

/// A document or key that cannot be used as asked.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CredentialError {
    #[error("bad key: {0}")]
    BadKey(&'static str),
    #[error("the document already has a proof")]
    AlreadySigned,
}

/// Why a document did not verify: each a sentence for the person checking it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    #[error("the document is not a JSON object")]
    NotAnObject,
    #[error("the document has no proof")]
    Unsigned,
    #[error("the proof cannot be checked: {0}")]
    Proof(String),
    #[error("signed by key {signed_by}, not by the expected key {expected}")]
    OtherKey { signed_by: String, expected: String },
    #[error("the signature does not match the document: it was changed after signing, or signed by another key")]
    BadSignature,
    #[error("the status list cannot be read: {0}")]
    Status(String),
}
