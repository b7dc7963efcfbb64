//! Files and directories that may hold personal data (the log, checkpoints, exports of
//! members, key backups) are readable by their owner only, whatever the umask and
//! whatever directory the user named.

use std::fs::{DirBuilder, File, OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Creates (or truncates) `path` for writing, with mode 0600 even when it existed with
/// a wider one.
pub fn create_file(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    file.set_permissions(Permissions::from_mode(0o600))?;
    Ok(file)
}

/// Creates `path` for writing, failing if it exists, with mode 0600.
pub fn create_new_file(path: &Path) -> io::Result<File> {
    OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)
}

/// Creates `dir` and its missing parents; the directories created are mode 0700.
pub fn create_dir(dir: &Path) -> io::Result<()> {
    DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

/// The first path of `dir` (itself, then what it holds, depth first) that this process
/// may not read and write (and enter, for a directory): what to name when a data
/// directory cannot be opened, rather than the bare "permission denied" of whichever
/// file the store happened to try.
pub fn first_inaccessible(dir: &Path) -> Option<PathBuf> {
    use rustix::fs::{access, Access};
    let usable = |p: &Path, more: Access| access(p, Access::READ_OK | Access::WRITE_OK | more).is_ok();
    if !usable(dir, Access::EXEC_OK) {
        return Some(dir.to_owned());
    }
    let Ok(entries) = std::fs::read_dir(dir) else { return Some(dir.to_owned()) };
    for entry in entries.flatten() {
        let path = entry.path();
        let found = if entry.file_type().is_ok_and(|t| t.is_dir()) {
            first_inaccessible(&path)
        } else {
            (!usable(&path, Access::empty())).then_some(path)
        };
        if found.is_some() {
            return found;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn files_and_directories_are_the_owners_only() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a/b");
        create_dir(&dir).unwrap();
        for d in [root.path().join("a"), dir.clone()] {
            assert_eq!(std::fs::metadata(&d).unwrap().permissions().mode() & 0o777, 0o700, "{}", d.display());
        }
        let wide = dir.join("members.csv");
        std::fs::write(&wide, "old").unwrap();
        std::fs::set_permissions(&wide, Permissions::from_mode(0o644)).unwrap();
        create_file(&wide).unwrap().write_all(b"new").unwrap();
        assert_eq!(std::fs::metadata(&wide).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read(&wide).unwrap(), b"new");
        let fresh = dir.join("master.key");
        create_new_file(&fresh).unwrap();
        assert_eq!(std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o777, 0o600);
        assert!(create_new_file(&fresh).is_err());
    }
}
