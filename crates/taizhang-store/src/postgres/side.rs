//! The side tables on PostgreSQL: `member_keys` and `tokens` in the log's schema. Each
//! statement commits on its own, durably, before it returns.

use taizhang_core::DataSubject;
use uuid::Uuid;

use super::{pg, PgStore};
use crate::side::SideTables;
use crate::StoreError;

impl SideTables for PgStore {
    async fn any_subject_key(&self) -> Result<bool, StoreError> {
        let sql = format!("SELECT EXISTS (SELECT 1 FROM {}.member_keys)", self.s());
        Ok(self.inner.reader.query_one(&sql, &[]).await.map_err(pg)?.get(0))
    }

    async fn subject_key(&self, member: DataSubject) -> Result<Option<Vec<u8>>, StoreError> {
        let sql = format!("SELECT wrapped FROM {}.member_keys WHERE member = $1", self.s());
        let row = self.inner.reader.query_opt(&sql, &[&member.0.as_bytes().as_slice()]).await.map_err(pg)?;
        Ok(row.map(|r| r.get(0)))
    }

    async fn set_subject_keys(&self, entries: Vec<(DataSubject, Vec<u8>)>) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO {}.member_keys (member, wrapped) VALUES ($1, $2)
             ON CONFLICT (member) DO UPDATE SET wrapped = EXCLUDED.wrapped",
            self.s()
        );
        for (member, wrapped) in entries {
            self.inner.reader.execute(&sql, &[&member.0.as_bytes().as_slice(), &wrapped]).await.map_err(pg)?;
        }
        Ok(())
    }

    async fn subject_keys(&self) -> Result<Vec<(DataSubject, Vec<u8>)>, StoreError> {
        let sql = format!("SELECT member, wrapped FROM {}.member_keys ORDER BY member", self.s());
        Ok(self.uuid_rows(&sql).await?.into_iter().map(|(id, wrapped)| (DataSubject(id), wrapped)).collect())
    }

    async fn token(&self, id: Uuid) -> Result<Option<Vec<u8>>, StoreError> {
        let sql = format!("SELECT record FROM {}.tokens WHERE id = $1", self.s());
        Ok(self.inner.reader.query_opt(&sql, &[&id.as_bytes().as_slice()]).await.map_err(pg)?.map(|r| r.get(0)))
    }

    async fn put_token(&self, id: Uuid, record: &[u8]) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO {}.tokens (id, record) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET record = EXCLUDED.record",
            self.s()
        );
        self.inner.reader.execute(&sql, &[&id.as_bytes().as_slice(), &record]).await.map_err(pg)?;
        Ok(())
    }

    async fn tokens(&self) -> Result<Vec<(Uuid, Vec<u8>)>, StoreError> {
        self.uuid_rows(&format!("SELECT id, record FROM {}.tokens", self.s())).await
    }
}

impl PgStore {
    /// The rows of a side table keyed by a UUID, as (key, value).
    async fn uuid_rows(&self, sql: &str) -> Result<Vec<(Uuid, Vec<u8>)>, StoreError> {
        let rows = self.inner.reader.query(sql, &[]).await.map_err(pg)?;
        rows.iter()
            .map(|r| {
                let id = Uuid::from_slice(r.get::<_, &[u8]>(0)).map_err(|e| StoreError::Backend(e.to_string()))?;
                Ok((id, r.get(1)))
            })
            .collect()
    }
}
