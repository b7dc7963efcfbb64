//! The side tables on sled: member keys in their own file of slots (see
//! [`crate::key_slots`]), token records in the `tokens` tree, read through a cache.

use taizhang_core::DataSubject;
use uuid::Uuid;

use super::{backend, uuid_entries, SledStore};
use crate::side::SideTables;
use crate::StoreError;

impl SideTables for SledStore {
    async fn subject_key(&self, member: DataSubject) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.key_slots().get(member).map(Option::unwrap_or_default))
    }

    async fn set_subject_keys(&self, entries: Vec<(DataSubject, Vec<u8>)>) -> Result<(), StoreError> {
        let store = self.clone();
        let entries: Vec<_> =
            entries.into_iter().map(|(member, wrapped)| (member, (!wrapped.is_empty()).then_some(wrapped))).collect();
        // The fsync stays off the runtime's workers.
        tokio::task::spawn_blocking(move || store.key_slots().set(&entries)).await.map_err(backend)?
    }

    async fn subject_keys(&self) -> Result<Vec<(DataSubject, Vec<u8>)>, StoreError> {
        let entries = self.key_slots().entries();
        Ok(entries.into_iter().map(|(member, wrapped)| (member, wrapped.unwrap_or_default())).collect())
    }

    async fn any_subject_key(&self) -> Result<bool, StoreError> {
        Ok(!self.key_slots().is_empty())
    }

    /// From the cache when read before: the process holding the sled database is the
    /// only one that can write its tokens, and every write goes through `put_token`,
    /// which updates the cache.
    async fn token(&self, id: Uuid) -> Result<Option<Vec<u8>>, StoreError> {
        let tokens = &self.inner.tokens;
        if let Some(record) = tokens.cache.read().expect("token cache lock").get(&id) {
            return Ok(Some(record.clone()));
        }
        let gate = self.gate().await;
        let Some(bytes) = tokens.tree.get(id.as_bytes()).map_err(backend)? else { return Ok(None) };
        drop(gate);
        tokens.cache.write().expect("token cache lock").insert(id, bytes.to_vec());
        Ok(Some(bytes.to_vec()))
    }

    async fn put_token(&self, id: Uuid, record: &[u8]) -> Result<(), StoreError> {
        let tokens = &self.inner.tokens;
        let gate = self.gate().await;
        tokens.tree.insert(id.as_bytes(), record).map_err(backend)?;
        drop(gate); // the writer's sync needs it
        self.sync().await?;
        tokens.cache.write().expect("token cache lock").insert(id, record.to_vec());
        Ok(())
    }

    async fn tokens(&self) -> Result<Vec<(Uuid, Vec<u8>)>, StoreError> {
        let _gate = self.gate().await;
        uuid_entries(&self.inner.tokens.tree)
    }
}
