//! The side tables that live beside the log: the wrapped member keys and the API
//! tokens' records. Each backend keeps them its own way (on sled: a file of key slots
//! overwritten in place, and a `tokens` tree; on PostgreSQL: the `member_keys` and
//! `tokens` tables of the log's schema); the key store ([`crate::keys`]) and the token
//! store ([`crate::tokens`]) are written once, over this trait, and hold an
//! [`AnyStore`](crate::AnyStore), which forwards it to its backend.

use taizhang_core::DataSubject;
use uuid::Uuid;

use crate::StoreError;

/// Every write here is durable before it returns.
pub(crate) trait SideTables {
    /// The wrapped key of `member`: `None` when none was ever stored, empty when the
    /// member was erased.
    async fn subject_key(&self, member: DataSubject) -> Result<Option<Vec<u8>>, StoreError>;

    /// Sets wrapped keys; an empty one is a tombstone (the key is destroyed).
    async fn set_subject_keys(&self, entries: Vec<(DataSubject, Vec<u8>)>) -> Result<(), StoreError>;

    /// Every entry, tombstones as empty keys.
    async fn subject_keys(&self) -> Result<Vec<(DataSubject, Vec<u8>)>, StoreError>;

    /// Whether any key or tombstone is stored.
    async fn any_subject_key(&self) -> Result<bool, StoreError>;

    /// The record of token `id`, as it stands now.
    async fn token(&self, id: Uuid) -> Result<Option<Vec<u8>>, StoreError>;

    async fn put_token(&self, id: Uuid, record: &[u8]) -> Result<(), StoreError>;

    /// Every token's record, in no particular order.
    async fn tokens(&self) -> Result<Vec<(Uuid, Vec<u8>)>, StoreError>;
}
