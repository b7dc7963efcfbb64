//! The shared conformance suite, on the sled backend in a temporary directory.

use taizhang_store::SledStore;
use tempfile::TempDir;

async fn sled_store() -> Option<(SledStore, TempDir)> {
    let dir = tempfile::tempdir().expect("temporary directory");
    Some((SledStore::open(dir.path()).expect("open sled store"), dir))
}

taizhang_store::conformance_tests!(sled_store());
