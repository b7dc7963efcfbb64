//! Per-member keys for personal data, kept outside the log and wrapped by a master key.
//!
//! Every member gets a random 256-bit key when registered. Their personal data is sealed
//! with XChaCha20-Poly1305 under that key (random 192-bit nonces, so no nonce bookkeeping)
//! and only the ciphertext enters the log. The key itself is stored wrapped (encrypted)
//! under the operator's master key, in a tree of the same sled database but never in the
//! log, never in a log export. Erasing a member replaces the wrapped key with a
//! tombstone: the ciphertext in the log stays, chained and verifiable, and unreadable.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use taizhang_core::{MemberId, PersonalData, SealedPersonal};

use crate::{SledStore, StoreError};

const SEALED_V1: u8 = 1;
const NONCE_LEN: usize = 24;

/// The operator's key. It never leaves its file, mode 0600.
pub struct MasterKey(XChaCha20Poly1305);

/// A member's own key, in clear only in memory.
pub struct MemberKey([u8; 32]);

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("master key file {path}: {reason}")]
    MasterKey { path: String, reason: String },
    #[error("member {0}'s key does not open under this master key (wrong master key file?)")]
    WrongMasterKey(MemberId),
    #[error("member {0} has no key in the key store")]
    Missing(MemberId),
    #[error("member {0} was erased; their id cannot be given a new key")]
    Erased(MemberId),
    #[error("sealed personal data of member {0} is damaged")]
    Damaged(MemberId),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl MasterKey {
    /// Reads the master key at `path`, or creates one (mode 0600) when the file is
    /// absent and `may_create` says no member key depends on an earlier one.
    pub fn load_or_create(path: &Path, may_create: bool) -> Result<Self, KeyError> {
        let err = |reason: String| KeyError::MasterKey { path: path.display().to_string(), reason };
        match std::fs::read(path) {
            Ok(bytes) => {
                let key: [u8; 32] = bytes
                    .as_slice()
                    .try_into()
                    .map_err(|_| err(format!("expected 32 bytes, found {}", bytes.len())))?;
                Ok(Self(XChaCha20Poly1305::new(&key.into())))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && may_create => {
                let key = XChaCha20Poly1305::generate_key(&mut OsRng);
                let mut file = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(path)
                    .map_err(|e| err(e.to_string()))?;
                file.write_all(&key).and_then(|_| file.sync_all()).map_err(|e| err(e.to_string()))?;
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(|e| err(e.to_string()))?;
                }
                Ok(Self(XChaCha20Poly1305::new(&key)))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(err("missing, and the key store holds keys wrapped by it; restore the file".into()))
            }
            Err(e) => Err(err(e.to_string())),
        }
    }

    fn wrap(&self, member: MemberId, key: &MemberKey) -> Vec<u8> {
        seal_bytes(&self.0, member, &key.0)
    }

    fn unwrap(&self, member: MemberId, wrapped: &[u8]) -> Result<MemberKey, KeyError> {
        let bytes = open_bytes(&self.0, member, wrapped).ok_or(KeyError::WrongMasterKey(member))?;
        Ok(MemberKey(bytes.as_slice().try_into().map_err(|_| KeyError::WrongMasterKey(member))?))
    }
}

impl MemberKey {
    pub fn generate() -> Self {
        Self(XChaCha20Poly1305::generate_key(&mut OsRng).into())
    }

    /// Seals personal data for the log. The member id is bound in as associated data,
    /// so a ciphertext copied onto another member does not open.
    pub fn seal(&self, member: MemberId, personal: &PersonalData) -> SealedPersonal {
        let clear = postcard::to_stdvec(personal).expect("encoding into a Vec cannot fail");
        SealedPersonal(seal_bytes(&XChaCha20Poly1305::new(&self.0.into()), member, &clear))
    }

    pub fn open(&self, member: MemberId, sealed: &SealedPersonal) -> Result<PersonalData, KeyError> {
        let clear =
            open_bytes(&XChaCha20Poly1305::new(&self.0.into()), member, &sealed.0).ok_or(KeyError::Damaged(member))?;
        postcard::from_bytes(&clear).map_err(|_| KeyError::Damaged(member))
    }
}

fn seal_bytes(cipher: &XChaCha20Poly1305, member: MemberId, clear: &[u8]) -> Vec<u8> {
    let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
    let ciphertext = cipher
        .encrypt(&nonce, Payload { msg: clear, aad: member.0.as_bytes() })
        .expect("XChaCha20-Poly1305 encrypts any message of this size");
    let mut out = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
    out.push(SEALED_V1);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ciphertext);
    out
}

fn open_bytes(cipher: &XChaCha20Poly1305, member: MemberId, sealed: &[u8]) -> Option<Vec<u8>> {
    let (&version, rest) = sealed.split_first()?;
    if version != SEALED_V1 || rest.len() < NONCE_LEN {
        return None;
    }
    let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
    cipher.decrypt(XNonce::from_slice(nonce), Payload { msg: ciphertext, aad: member.0.as_bytes() }).ok()
}

/// What the key store knows about one member.
pub enum KeyState {
    Present(MemberKey),
    Erased,
    Missing,
}

/// The key store beside the sled log: a `member_keys` tree in the same database, so the
/// log's group commit makes a new key durable no later than the events sealed with it.
#[derive(Clone)]
pub struct SledKeyStore {
    store: SledStore,
    tree: sled::Tree,
}

/// A tombstone: the member was erased.
const ERASED: &[u8] = b"";

impl SledKeyStore {
    pub fn open(store: &SledStore) -> Result<Self, StoreError> {
        let tree = store.db().open_tree("member_keys").map_err(|e| StoreError::Backend(e.to_string()))?;
        Ok(Self { store: store.clone(), tree })
    }

    /// True when any member key (or tombstone) exists, so a master key must already too.
    pub fn is_empty(&self) -> bool {
        self.tree.is_empty()
    }

    /// Stores a new member's wrapped key. It becomes durable with the next append, which
    /// is the one carrying the member's sealed data.
    pub fn put(&self, master: &MasterKey, member: MemberId, key: &MemberKey) -> Result<(), KeyError> {
        let wrapped = master.wrap(member, key);
        let previous = self
            .tree
            .compare_and_swap(member.0.as_bytes(), None as Option<&[u8]>, Some(wrapped))
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        match previous {
            Ok(()) => Ok(()),
            Err(current) if current.current.as_deref() == Some(ERASED) => Err(KeyError::Erased(member)),
            // A retried registration finds its own key from the first attempt: the
            // registration's events were sealed with that one, so keep it.
            Err(_) => Ok(()),
        }
    }

    pub fn get(&self, master: &MasterKey, member: MemberId) -> Result<KeyState, KeyError> {
        match self.tree.get(member.0.as_bytes()).map_err(|e| StoreError::Backend(e.to_string()))? {
            None => Ok(KeyState::Missing),
            Some(v) if v.as_ref() == ERASED => Ok(KeyState::Erased),
            Some(v) => Ok(KeyState::Present(master.unwrap(member, &v)?)),
        }
    }

    /// Destroys a member's key, durably, before returning.
    pub async fn erase(&self, member: MemberId) -> Result<(), KeyError> {
        self.tree.insert(member.0.as_bytes(), ERASED).map_err(|e| StoreError::Backend(e.to_string()))?;
        Ok(self.store.sync().await?)
    }

    /// Every entry as (member, wrapped key or empty for erased), for a separate backup.
    pub fn export(&self) -> Result<Vec<(MemberId, Vec<u8>)>, KeyError> {
        self.tree
            .iter()
            .map(|entry| {
                let (k, v) = entry.map_err(|e| StoreError::Backend(e.to_string()))?;
                let id = uuid::Uuid::from_slice(&k).map_err(|e| StoreError::Backend(e.to_string()))?;
                Ok((MemberId(id), v.to_vec()))
            })
            .collect()
    }

    /// Checks that every stored key opens under `master`, naming the first that does not.
    pub fn check(&self, master: &MasterKey) -> Result<(), KeyError> {
        for (member, wrapped) in self.export()? {
            if wrapped != ERASED {
                master.unwrap(member, &wrapped)?;
            }
        }
        Ok(())
    }

    /// Puts back entries from [`SledKeyStore::export`] (still wrapped) and makes them durable.
    pub async fn import(&self, entries: Vec<(MemberId, Vec<u8>)>) -> Result<(), KeyError> {
        for (member, wrapped) in entries {
            self.tree.insert(member.0.as_bytes(), wrapped).map_err(|e| StoreError::Backend(e.to_string()))?;
        }
        Ok(self.store.sync().await?)
    }
}
