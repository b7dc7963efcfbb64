//! API tokens: who may call the server, in which role, for which units.
//!
//! A token is `tz_<id>_<secret>`: the id (a UUID in hex) says which record to look at,
//! the secret is 256 random bits. Only the SHA-256 of the secret is stored, so a copy
//! of the database does not hold usable tokens; a slow password hash would add nothing,
//! since 256 random bits cannot be guessed offline anyway. The stored hash is compared
//! in constant time. Records live beside the log, never in it: a `tokens` tree in the
//! sled database, or a `tokens` table in the PostgreSQL schema of the log, so every
//! server of a deployment sees a revocation on its next request (each request reads
//! the record; on sled that is an in-process lookup).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use chacha20poly1305::aead::rand_core::RngCore;
use chacha20poly1305::aead::OsRng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use taizhang_core::{Role, StreamId, UnitId};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::side::SideTables;
use crate::{AnyStore, EventStore, StoreError};

const PREFIX: &str = "tz_";
/// The longest token name, in characters.
const MAX_NAME_CHARS: usize = 100;

/// A token as stored: everything but the secret, which is kept only as its hash.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct TokenRecord {
    pub id: Uuid,
    pub name: String,
    pub role: Role,
    /// The units a clerk may write for; empty for every other role.
    pub units: Vec<UnitId>,
    pub created_at: OffsetDateTime,
    pub expires_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
    /// SHA-256 of the secret, in hex.
    hash: String,
}

/// Whether a token may be used now.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum TokenStatus {
    Active,
    Expired,
    Revoked,
}

impl TokenRecord {
    pub fn status(&self, now: OffsetDateTime) -> TokenStatus {
        if self.revoked_at.is_some() {
            TokenStatus::Revoked
        } else if self.expires_at.is_some_and(|at| at <= now) {
            TokenStatus::Expired
        } else {
            TokenStatus::Active
        }
    }
}

/// The bearer string of a new token. It is shown to its owner once and never stored;
/// `Debug` does not print it, so it cannot slip into a log line.
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(hidden)")
    }
}

/// A token just created: its secret (show it once) and its record.
#[derive(Debug)]
pub struct Issued {
    pub secret: Secret,
    pub record: TokenRecord,
}

/// What a new token is for.
#[derive(Clone, Debug)]
pub struct NewToken {
    pub name: String,
    pub role: Role,
    pub units: Vec<UnitId>,
    /// How long it may be used; for ever when absent.
    pub lifetime: Option<time::Duration>,
}

/// The longest lifetime a token may be given: ten years.
pub const MAX_LIFETIME: time::Duration = time::Duration::days(3_650);

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The request for a token is not valid; the message says how to fix it.
    #[error("{0}")]
    Invalid(String),
    #[error("no token has id {0}")]
    NotFound(Uuid),
    #[error("token record {0} is damaged: {1}")]
    Damaged(Uuid, String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a presented token was not accepted. The messages never repeat the token.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
pub enum Rejection {
    #[error("the token is not in the form tz_<id>_<secret>")]
    Malformed,
    #[error("the token is not known")]
    Unknown,
    #[error("the token expired")]
    Expired,
    #[error("the token was revoked")]
    Revoked,
}

/// Where token records live: beside the log, on its backend.
#[derive(Clone)]
pub struct TokenStore {
    store: AnyStore,
    /// Records decoded before, each with the stored bytes it was decoded from. Every
    /// request reads its token's record; decoding it (JSON, three timestamps) cost more
    /// than the rest of the check. A record is taken from here only when the bytes read
    /// now are the same, so a revocation or a change by another server is seen at once.
    /// Holds only records found in the store: as many as there are tokens.
    decoded: Arc<RwLock<HashMap<Uuid, Decoded>>>,
}

/// A token record and the stored bytes it was decoded from.
struct Decoded {
    bytes: Vec<u8>,
    record: TokenRecord,
}

fn hash_of(secret: &[u8]) -> String {
    hex::encode(Sha256::digest(secret))
}

/// Whether `secret` hashes to `hash` (as [`hash_of`] writes it), compared in constant
/// time. Checked on every request: the digest's hex is written on the stack, where
/// [`hash_of`]'s string grew a character at a time.
fn hashes_to(secret: &[u8; 32], hash: &str) -> bool {
    let mut hex = [0u8; 64];
    hex::encode_to_slice(Sha256::digest(secret), &mut hex).expect("64 hex digits hold a SHA-256 digest");
    bool::from(hex.ct_eq(hash.as_bytes()))
}

/// Splits `tz_<id>_<secret>` into the id and the secret's bytes.
fn parse(bearer: &str) -> Option<(Uuid, [u8; 32])> {
    let (id, secret) = bearer.strip_prefix(PREFIX)?.split_once('_')?;
    let id = Uuid::try_parse(id).ok()?;
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(secret, &mut bytes).ok()?;
    Some((id, bytes))
}

impl TokenStore {
    /// The token store that belongs with `store`.
    pub fn of(store: &AnyStore) -> Self {
        Self { store: store.clone(), decoded: Arc::default() }
    }

    /// The record of token `id`, as it stands now (a caller that authenticated earlier
    /// checks again with it that the token is still active). On PostgreSQL it is read
    /// every time: another server or the command line may have revoked it.
    pub async fn record(&self, id: Uuid) -> Result<Option<TokenRecord>, TokenError> {
        let Some(bytes) = self.store.token(id).await? else { return Ok(None) };
        if let Some(decoded) = self.decoded.read().expect("token record cache lock").get(&id) {
            if decoded.bytes == bytes {
                return Ok(Some(decoded.record.clone()));
            }
        }
        let record: TokenRecord = serde_json::from_slice(&bytes).map_err(|e| TokenError::Damaged(id, e.to_string()))?;
        self.decoded.write().expect("token record cache lock").insert(id, Decoded { bytes, record: record.clone() });
        Ok(Some(record))
    }

    /// Writes `record` and makes it durable before returning.
    async fn put(&self, record: &TokenRecord) -> Result<(), TokenError> {
        let bytes = serde_json::to_vec(record).expect("a token record serialises");
        Ok(self.store.put_token(record.id, &bytes).await?)
    }

    /// Every token, oldest first.
    pub async fn list(&self) -> Result<Vec<TokenRecord>, TokenError> {
        let mut records = (self.store.tokens().await?)
            .into_iter()
            .map(|(id, b)| serde_json::from_slice(&b).map_err(|e| TokenError::Damaged(id, e.to_string())))
            .collect::<Result<Vec<TokenRecord>, _>>()?;
        records.sort_by_key(|r| (r.created_at, r.id));
        Ok(records)
    }

    /// Creates a token after checking the request: a role an API caller can hold, units
    /// exactly for clerks and each one registered in `log`, a lifetime above zero and
    /// at most [`MAX_LIFETIME`].
    pub async fn create(
        &self,
        log: &impl EventStore,
        new: NewToken,
        now: OffsetDateTime,
    ) -> Result<Issued, TokenError> {
        let invalid = |m: String| Err(TokenError::Invalid(m));
        let name = new.name.trim().to_string();
        if name.chars().count() > MAX_NAME_CHARS {
            return invalid(format!("the name is longer than {MAX_NAME_CHARS} characters"));
        }
        // `token list` prints names to a terminal: no escape sequences, nothing hidden.
        if name.chars().any(char::is_control) {
            return invalid("the name contains control characters".into());
        }
        if let Err(e) = taizhang_core::check_visible("name", &name) {
            return invalid(e.to_string());
        }
        match (new.role, new.units.is_empty()) {
            (Role::Operator, _) => return invalid("operator is the command line's role; no token can hold it".into()),
            (Role::Clerk, true) => return invalid("a clerk token needs at least one unit (--unit)".into()),
            (Role::Clerk, false) => {}
            (role, false) => {
                return invalid(format!("only clerk tokens are scoped to units; a {role} token reads or acts on all"))
            }
            (_, true) => {}
        }
        for unit in &new.units {
            if log.stream_version(StreamId::unit(*unit)).await?.is_none() {
                return invalid(format!("unit {unit} does not exist"));
            }
        }
        let expires_at = match new.lifetime {
            None => None,
            Some(lifetime) if lifetime <= time::Duration::ZERO => {
                return invalid("the lifetime must be longer than zero".into());
            }
            Some(lifetime) if lifetime > MAX_LIFETIME => {
                return invalid(format!("a token lives at most {} days", MAX_LIFETIME.whole_days()));
            }
            Some(lifetime) => Some(now + lifetime),
        };
        let mut units = new.units;
        units.sort();
        units.dedup();
        let mut secret = [0u8; 32];
        OsRng.fill_bytes(&mut secret);
        let record = TokenRecord {
            id: Uuid::now_v7(),
            name,
            role: new.role,
            units,
            created_at: now,
            expires_at,
            revoked_at: None,
            hash: hash_of(&secret),
        };
        self.put(&record).await?;
        let secret = Secret(format!("{PREFIX}{}_{}", record.id.simple(), hex::encode(secret)));
        Ok(Issued { secret, record })
    }

    /// Revokes a token; from the next request on it is refused. Revoking twice keeps
    /// the first moment.
    pub async fn revoke(&self, id: Uuid, now: OffsetDateTime) -> Result<TokenRecord, TokenError> {
        let mut record = self.record(id).await?.ok_or(TokenError::NotFound(id))?;
        if record.revoked_at.is_none() {
            record.revoked_at = Some(now);
            self.put(&record).await?;
        }
        Ok(record)
    }

    /// The record of the token `bearer`, if it is known, its secret matches and it may
    /// be used at `now`.
    pub async fn authenticate(
        &self,
        bearer: &str,
        now: OffsetDateTime,
    ) -> Result<Result<TokenRecord, Rejection>, TokenError> {
        let Some((id, secret)) = parse(bearer) else { return Ok(Err(Rejection::Malformed)) };
        let Some(record) = self.record(id).await? else { return Ok(Err(Rejection::Unknown)) };
        if !hashes_to(&secret, &record.hash) {
            return Ok(Err(Rejection::Unknown));
        }
        Ok(match record.status(now) {
            TokenStatus::Active => Ok(record),
            TokenStatus::Expired => Err(Rejection::Expired),
            TokenStatus::Revoked => Err(Rejection::Revoked),
        })
    }

    /// True when some admin token may be used now.
    pub async fn has_admin(&self, now: OffsetDateTime) -> Result<bool, TokenError> {
        Ok(self.list().await?.iter().any(|r| r.role == Role::Admin && r.status(now) == TokenStatus::Active))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_parses_only_in_its_own_form() {
        let id = Uuid::now_v7();
        let secret = [7u8; 32];
        let good = format!("tz_{}_{}", id.simple(), hex::encode(secret));
        assert_eq!(parse(&good), Some((id, secret)));
        for bad in [
            "",
            "tz_",
            &good[3..],
            &good[..good.len() - 2],
            &format!("tz_{}_{}", id.simple(), hex::encode([7u8; 31])),
            &good.replace('_', "-"),
            "tz_zz_zz",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
        // A longer secret, too, is not this form.
        assert_eq!(parse(&format!("tz_{}_{}", id.simple(), hex::encode([7u8; 33]))), None);
    }

    #[test]
    fn a_secret_matches_the_digest_kept_of_it_and_no_other() {
        let secret = [7u8; 32];
        let kept = hash_of(&secret);
        assert!(hashes_to(&secret, &kept));
        assert!(!hashes_to(&[8u8; 32], &kept));
        assert!(!hashes_to(&secret, &kept[..63]), "a digest cut short");
        assert!(!hashes_to(&secret, &kept.to_uppercase()), "kept digests are lower-case hex");
    }
}
