//! The installation's certificate signing key: a private Ed25519 Multikey in a file of
//! its own, mode 0600, beside the master key (not in the data directory, so a copy of
//! the data cannot sign). Created on first use; rotated by writing a new one in its
//! place. Certificates name the public key that signed them, so those signed by a
//! retired key still verify; the retired secret is gone and signs nothing more.

use std::io::Write;
use std::path::Path;

use chacha20poly1305::aead::rand_core::RngCore;
use chacha20poly1305::aead::OsRng;
use taizhang_credential::{IssuerKey, PublicKey};

/// The signing key file cannot be read or written.
#[derive(Debug, thiserror::Error)]
#[error("certificate signing key {path}: {reason}")]
pub struct SigningKeyError {
    pub path: String,
    pub reason: String,
}

fn error(path: &Path, reason: impl ToString) -> SigningKeyError {
    SigningKeyError { path: path.display().to_string(), reason: reason.to_string() }
}

/// The key at `path`, created when absent. Read at each use, so that a rotation (or
/// another server sharing the file) takes effect without a restart.
pub fn load_or_create(path: &Path) -> Result<IssuerKey, SigningKeyError> {
    match std::fs::read_to_string(path) {
        Ok(text) => IssuerKey::from_multibase(&text).map_err(|e| error(path, e)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = new_key();
            // Written whole under a name of its own, then linked into place: of two
            // processes creating it at once, one key wins and both use it.
            let draft = write_draft(path, &key)?;
            let linked = std::fs::hard_link(&draft, path);
            let _ = std::fs::remove_file(&draft);
            match linked {
                Ok(()) => sync_dir(path).map(|()| key),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => load_or_create(path),
                Err(e) => Err(error(path, e)),
            }
        }
        Err(e) => Err(error(path, e)),
    }
}

/// The public half of the key at `path`, without making one when there is none.
pub fn public(path: &Path) -> Result<Option<PublicKey>, SigningKeyError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(IssuerKey::from_multibase(&text).map_err(|e| error(path, e))?.public())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(error(path, e)),
    }
}

/// Replaces the key at `path` with a new one; returns the retired public key (if there
/// was a key) and the new one.
pub fn rotate(path: &Path) -> Result<(Option<PublicKey>, PublicKey), SigningKeyError> {
    let retired = public(path)?;
    let key = new_key();
    let draft = write_draft(path, &key)?;
    std::fs::rename(&draft, path).map_err(|e| error(path, e))?;
    sync_dir(path)?;
    Ok((retired, key.public()))
}

fn new_key() -> IssuerKey {
    let mut seed = [0u8; 32];
    OsRng.fill_bytes(&mut seed);
    IssuerKey::from_seed(seed)
}

fn write_draft(path: &Path, key: &IssuerKey) -> Result<std::path::PathBuf, SigningKeyError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        crate::private::create_dir(dir).map_err(|e| error(path, e))?;
    }
    let draft = path.with_extension(format!("new-{}", std::process::id()));
    let mut file = crate::private::create_file(&draft).map_err(|e| error(path, e))?;
    file.write_all(format!("{}\n", key.to_multibase()).as_bytes())
        .and_then(|_| file.sync_all())
        .map_err(|e| error(path, e))?;
    Ok(draft)
}

fn sync_dir(path: &Path) -> Result<(), SigningKeyError> {
    match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(|e| error(path, e)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn the_key_is_made_once_owner_only_and_rotation_replaces_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/signing.key");
        assert_eq!(public(&path).unwrap(), None, "reading makes no key");
        assert!(!path.exists());
        let first = load_or_create(&path).unwrap().public();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(load_or_create(&path).unwrap().public(), first, "read back, not made again");
        let (retired, new) = rotate(&path).unwrap();
        assert_eq!(retired, Some(first));
        assert_ne!(new, first);
        assert_eq!(load_or_create(&path).unwrap().public(), new);
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        std::fs::write(&path, "not a key").unwrap();
        assert!(load_or_create(&path).unwrap_err().to_string().contains("signing.key"));
    }
}
