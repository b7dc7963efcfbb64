//! Data Integrity proofs of the `eddsa-jcs-2022` cryptosuite: the document and the
//! proof's options each canonicalised by JCS and hashed by SHA-256, the two hashes
//! (options first) signed by Ed25519, the signature written in base58btc.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::jcs::canonical_object;
use crate::keys::{IssuerKey, PublicKey};
use crate::multibase::{base58btc, from_base58btc};
use crate::{CredentialError, VerifyError};

pub const CRYPTOSUITE: &str = "eddsa-jcs-2022";

/// The proof's options before it is signed: the proof without `proofValue`, carrying
/// the document's `@context` when it has one.
pub fn proof_config(document: &Map<String, Value>, key: &PublicKey, created: &str) -> Map<String, Value> {
    let mut config = Map::new();
    config.insert("type".into(), "DataIntegrityProof".into());
    config.insert("cryptosuite".into(), CRYPTOSUITE.into());
    config.insert("created".into(), created.into());
    config.insert("verificationMethod".into(), key.verification_method().into());
    config.insert("proofPurpose".into(), "assertionMethod".into());
    if let Some(context) = document.get("@context") {
        config.insert("@context".into(), context.clone());
    }
    config
}

/// What is signed: SHA-256 of the canonical proof options, then of the canonical
/// document.
pub fn hash_data(document: &Map<String, Value>, config: &Map<String, Value>) -> [u8; 64] {
    hashed(document, None, config)
}

/// [`hash_data`] of `document` without its member `skip`.
fn hashed(document: &Map<String, Value>, skip: Option<&str>, config: &Map<String, Value>) -> [u8; 64] {
    let mut out = [0; 64];
    out[..32].copy_from_slice(&Sha256::digest(canonical_object(config, None).as_bytes()));
    out[32..].copy_from_slice(&Sha256::digest(canonical_object(document, skip).as_bytes()));
    out
}

/// `document` (a JSON object without a proof) with a proof by `key` made at `created`
/// (an XML Schema date-time in UTC, `2026-06-30T08:00:00Z`).
pub fn sign(
    document: Map<String, Value>,
    key: &IssuerKey,
    created: &str,
) -> Result<Map<String, Value>, CredentialError> {
    if document.contains_key("proof") {
        return Err(CredentialError::AlreadySigned);
    }
    let config = proof_config(&document, &key.public(), created);
    let signature = base58btc(&key.sign(&hash_data(&document, &config)));
    Ok(with_proof(document, &key.public(), created, &signature))
}

/// `document` with the proof `key` made at `created` whose value is `proof_value`:
/// the signed document again, from what was kept of its signing.
pub fn with_proof(
    mut document: Map<String, Value>,
    key: &PublicKey,
    created: &str,
    proof_value: &str,
) -> Map<String, Value> {
    let mut proof = proof_config(&document, key, created);
    proof.insert("proofValue".into(), proof_value.into());
    document.insert("proof".into(), Value::Object(proof));
    document
}

/// What a proof that verified says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// The key that signed, from the proof's `did:key` verification method.
    pub key: PublicKey,
    pub created: String,
}

/// Checks the one `eddsa-jcs-2022` proof of `secured`: its form, its key (a `did:key`,
/// which must be `pinned` when given) and its signature over the rest of the document.
pub fn verify(secured: &Value, pinned: Option<&PublicKey>) -> Result<Verified, VerifyError> {
    let document = secured.as_object().ok_or(VerifyError::NotAnObject)?;
    let proof = match document.get("proof") {
        Some(Value::Object(proof)) => proof,
        Some(Value::Array(_)) => return Err(VerifyError::Proof("more than one proof is not supported".into())),
        Some(_) => return Err(VerifyError::Proof("`proof` is not an object".into())),
        None => return Err(VerifyError::Unsigned),
    };
    let field = |name: &str| proof.get(name).and_then(Value::as_str);
    if field("type") != Some("DataIntegrityProof") || field("cryptosuite") != Some(CRYPTOSUITE) {
        return Err(VerifyError::Proof(format!("not a DataIntegrityProof of {CRYPTOSUITE}")));
    }
    if field("proofPurpose") != Some("assertionMethod") {
        return Err(VerifyError::Proof("the proof's purpose is not assertionMethod".into()));
    }
    let created = field("created").ok_or_else(|| VerifyError::Proof("the proof has no `created`".into()))?.to_owned();
    let method = field("verificationMethod").ok_or_else(|| VerifyError::Proof("no verificationMethod".into()))?;
    let key = PublicKey::parse(method).map_err(|e| VerifyError::Proof(format!("verificationMethod: {e}")))?;
    if let Some(pinned) = pinned.filter(|pinned| **pinned != key) {
        return Err(VerifyError::OtherKey { signed_by: key.multibase(), expected: pinned.multibase() });
    }
    // The proof's context, when it has one, must begin the document's.
    if let Some(context) = proof.get("@context") {
        let starts = match (context, document.get("@context")) {
            (Value::Array(p), Some(Value::Array(d))) => d.starts_with(p),
            (p, Some(d)) => p == d,
            (_, None) => false,
        };
        if !starts {
            return Err(VerifyError::Proof("the proof's @context does not match the document's".into()));
        }
    }
    let signature = field("proofValue")
        .and_then(from_base58btc)
        .ok_or_else(|| VerifyError::Proof("proofValue is not base58btc multibase".into()))?;
    let mut config = proof.clone();
    config.remove("proofValue");
    if !key.verify(&hashed(document, Some("proof"), &config), &signature) {
        return Err(VerifyError::BadSignature);
    }
    Ok(Verified { key, created })
}
