//! Per-person keys for personal data, kept outside the log and wrapped by a master key.
//!
//! Every data subject (a member, or a citizen who left an opinion with their name) gets a
//! random 256-bit key when first recorded. Their personal data is sealed
//! with XChaCha20-Poly1305 under that key and only the ciphertext enters the log. The
//! 192-bit nonce is synthetic: a hash of the key, the subject and the clear text (as in
//! SIV modes), so sealing needs no randomness and no nonce bookkeeping, the same data
//! under the same key always gives the same bytes (the sample campaign's log is
//! reproducible), and two different texts never share a nonce. The key itself is stored
//! wrapped (encrypted) under the operator's master key, beside the log (a file of slots
//! next to the embedded store, or a PostgreSQL table) but never in the log, never in a
//! log export. Erasing a subject overwrites the wrapped key with a tombstone: the
//! ciphertext in the log stays, chained and verifiable, and unreadable.

use std::io::Write;
use std::path::Path;

use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};
use taizhang_core::{site_code, DataSubject, MemberId, OutingId, PersonalData, PinDigest, SealedPersonal};
use uuid::Uuid;

use std::sync::Arc;

use crate::side::SideTables;
use crate::{AnyStore, PgStore, SledStore, StoreError};

const SEALED_V1: u8 = 1;
const NONCE_LEN: usize = 24;

/// The operator's key. It never leaves its file, mode 0600.
pub struct MasterKey {
    cipher: XChaCha20Poly1305,
    /// A key derived from it for check-in (PIN digests, new PINs and site codes):
    /// every server sharing the master key derives the same, and the log never holds it.
    check_in: [u8; 32],
}

/// A subject's own key, in clear only in memory.
pub struct SubjectKey([u8; 32]);

/// A subject's key sealed under the master key: what the key store holds.
#[derive(Clone, PartialEq, Eq)]
pub struct WrappedKey {
    pub subject: DataSubject,
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for WrappedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WrappedKey({}, {} bytes)", self.subject, self.bytes.len())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("master key file {path}: {reason}")]
    MasterKey { path: String, reason: String },
    #[error("the personal data key of {0} does not open under this master key (wrong master key file?)")]
    WrongMasterKey(DataSubject),
    #[error(
        "the master key does not open this store's keys: it is not the key the store was first used with \
         (check --master-key-file or TAIZHANG_MASTER_KEY_FILE)"
    )]
    NotThisStoresMasterKey,
    #[error("the personal data key of {0} is not in the key store")]
    Missing(DataSubject),
    #[error("the sealed personal data of {0} is damaged")]
    Damaged(DataSubject),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The key store's entry that holds the master key's check value: no subject has the
/// nil id.
const CHECK_SUBJECT: DataSubject = DataSubject(uuid::Uuid::nil());

impl MasterKey {
    /// Reads the master key at `path`, or creates one (mode 0600) when the file is
    /// absent and `may_create` says no subject key depends on an earlier one.
    pub fn load_or_create(path: &Path, may_create: bool) -> Result<Self, KeyError> {
        let err = |reason: String| KeyError::MasterKey { path: path.display().to_string(), reason };
        match std::fs::read(path) {
            Ok(bytes) => {
                let key: [u8; 32] = bytes
                    .as_slice()
                    .try_into()
                    .map_err(|_| err(format!("expected 32 bytes, found {}", bytes.len())))?;
                Ok(Self::of(key))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && may_create => {
                // Written whole under a name of its own, then linked into place: a
                // process starting at the same moment (the default key is shared by
                // every data directory of a user) reads a whole key or makes its own,
                // and only one of the two gets the name.
                let key = XChaCha20Poly1305::generate_key(&mut OsRng);
                let draft = path.with_extension(format!("new-{}", std::process::id()));
                let mut file = crate::private::create_file(&draft).map_err(|e| err(e.to_string()))?;
                file.write_all(&key).and_then(|_| file.sync_all()).map_err(|e| err(e.to_string()))?;
                let linked = std::fs::hard_link(&draft, path);
                let _ = std::fs::remove_file(&draft);
                match linked {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        return Self::load_or_create(path, false)
                    }
                    Err(e) => return Err(err(e.to_string())),
                }
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(|e| err(e.to_string()))?;
                }
                Ok(Self::of(key.into()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(err("missing, and the key store holds keys wrapped by it; restore the file".into()))
            }
            Err(e) => Err(err(e.to_string())),
        }
    }

    fn of(key: [u8; 32]) -> Self {
        let check_in = Sha256::new().chain_update(b"taizhang check-in key v1").chain_update(key).finalize().into();
        Self { cipher: XChaCha20Poly1305::new(&key.into()), check_in }
    }

    /// SHA-256 under the check-in key of `purpose` and `parts`, each length-prefixed so
    /// that no two inputs run together.
    fn check_in_hash(&self, purpose: &[u8], parts: &[&[u8]]) -> [u8; 32] {
        let mut hash = Sha256::new().chain_update(self.check_in).chain_update(purpose);
        for part in parts {
            hash = hash.chain_update((part.len() as u32).to_be_bytes()).chain_update(part);
        }
        hash.finalize().into()
    }

    /// The digest of `member`'s check-in PIN, as the log keeps it: without this key a
    /// copy of the log gives no way to try PINs.
    pub fn pin_digest(&self, member: MemberId, pin: &str) -> PinDigest {
        PinDigest(self.check_in_hash(b"pin", &[member.0.as_bytes(), pin.trim().as_bytes()]))
    }

    /// A six-digit PIN for `member`, the same for a retry of the command that sets it.
    pub fn new_pin(&self, command: Uuid, member: MemberId) -> String {
        let bytes = self.check_in_hash(b"new pin", &[command.as_bytes(), member.0.as_bytes()]);
        let n = u64::from_be_bytes(bytes[..8].try_into().expect("eight bytes"));
        format!("{:06}", n % 1_000_000)
    }

    /// The proof that a public form was served by this installation on `day` (days
    /// since the epoch) for `form`: a page's form carries it, its post gives it back.
    pub fn form_proof(&self, form: &str, day: u64) -> [u8; 16] {
        let hash = self.check_in_hash(b"form", &[form.as_bytes(), &day.to_be_bytes()]);
        hash[..16].try_into().expect("sixteen bytes")
    }

    /// A site code for `outing`, the same for a retry of the command that opens it.
    pub fn new_site_code(&self, command: Uuid, outing: OutingId) -> String {
        site_code(&self.check_in_hash(b"site code", &[command.as_bytes(), outing.0.as_bytes()]))
    }

    /// A new subject's key as the key store keeps it; the store writes it with the
    /// registration's events ([`crate::AppendRequest::subject_key`]).
    pub fn wrap(&self, subject: DataSubject, key: &SubjectKey) -> WrappedKey {
        WrappedKey {
            subject,
            bytes: seal_bytes(&self.cipher, XChaCha20Poly1305::generate_nonce(&mut OsRng), subject, &key.0),
        }
    }

    /// Opens a wrapped key of `subject`: only the master key that wrapped it does.
    pub fn unwrap(&self, subject: DataSubject, wrapped: &[u8]) -> Result<SubjectKey, KeyError> {
        let bytes = open_bytes(&self.cipher, subject, wrapped).ok_or(KeyError::WrongMasterKey(subject))?;
        Ok(SubjectKey(bytes.as_slice().try_into().map_err(|_| KeyError::WrongMasterKey(subject))?))
    }
}

impl SubjectKey {
    pub fn generate() -> Self {
        Self(XChaCha20Poly1305::generate_key(&mut OsRng).into())
    }

    /// A key derived from `secret` and the subject id, for generated people only (the
    /// sample campaign): whoever knows the secret can open their data.
    pub fn derived(secret: &[u8], subject: DataSubject) -> Self {
        Self(
            Sha256::new()
                .chain_update(b"taizhang derived subject key v1")
                .chain_update(secret)
                .chain_update(subject.0)
                .finalize()
                .into(),
        )
    }

    /// Seals personal data for the log. The subject id is bound in as associated data,
    /// so a ciphertext copied onto another subject does not open.
    pub fn seal(&self, subject: DataSubject, personal: &PersonalData) -> SealedPersonal {
        let clear = postcard::to_stdvec(personal).expect("encoding into a Vec cannot fail");
        let digest = Sha256::new()
            .chain_update(b"taizhang seal nonce v1")
            .chain_update(self.0)
            .chain_update(subject.0)
            .chain_update(&clear)
            .finalize();
        let nonce = *XNonce::from_slice(&digest[..NONCE_LEN]);
        SealedPersonal(seal_bytes(&XChaCha20Poly1305::new(&self.0.into()), nonce, subject, &clear))
    }

    pub fn open(&self, subject: DataSubject, sealed: &SealedPersonal) -> Result<PersonalData, KeyError> {
        let clear = open_bytes(&XChaCha20Poly1305::new(&self.0.into()), subject, &sealed.0)
            .ok_or(KeyError::Damaged(subject))?;
        postcard::from_bytes(&clear).map_err(|_| KeyError::Damaged(subject))
    }
}

fn seal_bytes(cipher: &XChaCha20Poly1305, nonce: XNonce, subject: DataSubject, clear: &[u8]) -> Vec<u8> {
    let ciphertext = cipher
        .encrypt(&nonce, Payload { msg: clear, aad: subject.0.as_bytes() })
        .expect("XChaCha20-Poly1305 encrypts any message of this size");
    let mut out = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
    out.push(SEALED_V1);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ciphertext);
    out
}

fn open_bytes(cipher: &XChaCha20Poly1305, subject: DataSubject, sealed: &[u8]) -> Option<Vec<u8>> {
    let (&version, rest) = sealed.split_first()?;
    if version != SEALED_V1 || rest.len() < NONCE_LEN {
        return None;
    }
    let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
    cipher.decrypt(XNonce::from_slice(nonce), Payload { msg: ciphertext, aad: subject.0.as_bytes() }).ok()
}

/// What the key store knows about one subject.
pub enum KeyState {
    Present(SubjectKey),
    Erased,
    Missing,
}

/// Where the wrapped subject keys live: a file of slots beside the embedded store's log
/// (`key_slots.rs`: overwritten in place, so that erasure reaches the disk), or a
/// `member_keys` table in the PostgreSQL schema of the log. A new subject's key is
/// written by the store's writer before or with the registration sealed with it
/// ([`crate::AppendRequest::subject_key`]); this handle reads keys, destroys them and
/// moves them in backups. Every server of a PostgreSQL deployment sees every key; they
/// share the master key file.
#[derive(Clone)]
pub struct KeyStore {
    store: AnyStore,
}

/// A store with a place for the subject keys beside its log.
pub trait KeyHome {
    fn key_store(&self) -> KeyStore;
}

impl KeyHome for SledStore {
    fn key_store(&self) -> KeyStore {
        KeyStore::sled(self)
    }
}

impl KeyHome for PgStore {
    fn key_store(&self) -> KeyStore {
        KeyStore::postgres(self)
    }
}

impl KeyHome for AnyStore {
    fn key_store(&self) -> KeyStore {
        KeyStore::of(self)
    }
}

/// A tombstone, in exports and in the PostgreSQL table: the subject was erased.
const ERASED: &[u8] = b"";

impl KeyStore {
    pub fn sled(store: &SledStore) -> Self {
        Self::of(&AnyStore::Sled(Arc::new(store.clone())))
    }

    pub fn postgres(store: &PgStore) -> Self {
        Self::of(&AnyStore::Pg(Arc::new(store.clone())))
    }

    /// The key store that belongs with `store`.
    pub fn of(store: &AnyStore) -> Self {
        Self { store: store.clone() }
    }

    /// True when no subject key (nor tombstone) exists, so no master key need exist yet.
    pub async fn is_empty(&self) -> Result<bool, KeyError> {
        Ok(!self.store.any_subject_key().await?)
    }

    async fn raw_get(&self, subject: DataSubject) -> Result<Option<Vec<u8>>, KeyError> {
        Ok(self.store.subject_key(subject).await?)
    }

    /// Sets entries (an empty value erases) and makes them durable before returning.
    async fn raw_set(&self, entries: Vec<(DataSubject, Vec<u8>)>) -> Result<(), KeyError> {
        Ok(self.store.set_subject_keys(entries).await?)
    }

    pub async fn get(&self, master: &MasterKey, subject: DataSubject) -> Result<KeyState, KeyError> {
        match self.raw_get(subject).await? {
            None => Ok(KeyState::Missing),
            Some(v) if v == ERASED => Ok(KeyState::Erased),
            Some(v) => Ok(KeyState::Present(master.unwrap(subject, &v)?)),
        }
    }

    /// Destroys a subject's key, durably, before returning.
    pub async fn erase(&self, subject: DataSubject) -> Result<(), KeyError> {
        self.raw_set(vec![(subject, ERASED.to_vec())]).await
    }

    /// Every entry as (subject, wrapped key or empty for erased), for a separate backup.
    pub async fn export(&self) -> Result<Vec<(DataSubject, Vec<u8>)>, KeyError> {
        Ok(self.store.subject_keys().await?)
    }

    /// Checks that every stored key opens under `master`, naming the first that does not.
    pub async fn check(&self, master: &MasterKey) -> Result<(), KeyError> {
        for (subject, wrapped) in self.export().await? {
            if wrapped != ERASED {
                master.unwrap(subject, &wrapped)?;
            }
        }
        Ok(())
    }

    /// Refuses a master key other than the one this store's keys were wrapped with, at
    /// start, before anything is sealed under it: the store keeps a check value (a
    /// known key wrapped by the master key, under the nil subject id) from its first
    /// use. A store from before the check value gets one once all its keys open.
    pub async fn confirm_master(&self, master: &MasterKey) -> Result<(), KeyError> {
        let check_key = || SubjectKey::derived(b"taizhang master key check", CHECK_SUBJECT);
        match self.raw_get(CHECK_SUBJECT).await? {
            Some(check) => match master.unwrap(CHECK_SUBJECT, &check) {
                Ok(key) if key.0 == check_key().0 => Ok(()),
                _ => Err(KeyError::NotThisStoresMasterKey),
            },
            None => {
                self.check(master).await.map_err(|_| KeyError::NotThisStoresMasterKey)?;
                self.raw_set(vec![(CHECK_SUBJECT, master.wrap(CHECK_SUBJECT, &check_key()).bytes)]).await
            }
        }
    }

    /// Puts back entries from [`KeyStore::export`] (still wrapped) and makes them durable.
    pub async fn import(&self, entries: Vec<(DataSubject, Vec<u8>)>) -> Result<(), KeyError> {
        self.raw_set(entries).await
    }
}
