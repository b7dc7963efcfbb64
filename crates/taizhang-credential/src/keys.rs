//! Ed25519 keys as the Data Integrity standards name them: a Multikey (multicodec
//! prefix, then base58btc) and a `did:key` built from the public one.

use ed25519_dalek::{SigningKey, VerifyingKey};

use crate::multibase::{base58btc, from_base58btc};
use crate::CredentialError;

/// The multicodec prefixes (unsigned varints) of an Ed25519 public and private key.
const ED25519_PUB: [u8; 2] = [0xed, 0x01];
const ED25519_PRIV: [u8; 2] = [0x80, 0x26];

/// The installation's signing key. Its secret never leaves this type but as the
/// private Multikey written to the key file.
pub struct IssuerKey(SigningKey);

impl IssuerKey {
    /// The key of a 32-byte seed (from the operating system's random source when new).
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self(SigningKey::from_bytes(&seed))
    }

    /// Reads a private Multikey (`z3u2…`).
    pub fn from_multibase(text: &str) -> Result<Self, CredentialError> {
        let bytes = from_base58btc(text.trim()).ok_or(CredentialError::BadKey("not base58btc multibase"))?;
        let seed = bytes
            .strip_prefix(&ED25519_PRIV[..])
            .and_then(|seed| <[u8; 32]>::try_from(seed).ok())
            .ok_or(CredentialError::BadKey("not an Ed25519 private Multikey"))?;
        Ok(Self::from_seed(seed))
    }

    /// The private Multikey, for the key file.
    pub fn to_multibase(&self) -> String {
        base58btc(&[&ED25519_PRIV[..], self.0.as_bytes()].concat())
    }

    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    pub(crate) fn sign(&self, message: &[u8]) -> [u8; 64] {
        use ed25519_dalek::Signer;
        self.0.sign(message).to_bytes()
    }
}

impl std::fmt::Debug for IssuerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IssuerKey({})", self.public().multibase())
    }
}

/// An Ed25519 public key: what a verifier pins.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// The public Multikey (`z6Mk…`).
    pub fn multibase(&self) -> String {
        base58btc(&[&ED25519_PUB[..], self.0.as_bytes()].concat())
    }

    /// `did:key:z6Mk…`, the issuer's identifier.
    pub fn did(&self) -> String {
        format!("did:key:{}", self.multibase())
    }

    /// `did:key:z6Mk…#z6Mk…`, the verification method a proof names.
    pub fn verification_method(&self) -> String {
        let key = self.multibase();
        format!("did:key:{key}#{key}")
    }

    /// Reads a public Multikey, a `did:key` or a `did:key` verification method.
    pub fn parse(text: &str) -> Result<Self, CredentialError> {
        let text = text.trim();
        let key = match text.strip_prefix("did:key:") {
            Some(did) => match did.split_once('#') {
                Some((key, fragment)) if key == fragment => key,
                Some(_) => return Err(CredentialError::BadKey("the did:key fragment names another key")),
                None => did,
            },
            None => text,
        };
        let bytes = from_base58btc(key).ok_or(CredentialError::BadKey("not base58btc multibase"))?;
        let public = bytes
            .strip_prefix(&ED25519_PUB[..])
            .and_then(|key| <[u8; 32]>::try_from(key).ok())
            .ok_or(CredentialError::BadKey("not an Ed25519 public Multikey"))?;
        VerifyingKey::from_bytes(&public).map(Self).map_err(|_| CredentialError::BadKey("not a point of Ed25519"))
    }

    pub(crate) fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        let Ok(signature) = ed25519_dalek::Signature::from_slice(signature) else { return false };
        self.0.verify_strict(message, &signature).is_ok()
    }
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({})", self.multibase())
    }
}

impl std::fmt::Display for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.multibase())
    }
}
