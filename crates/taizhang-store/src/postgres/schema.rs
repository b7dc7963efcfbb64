//! The database schema: created and migrated forward at connect, one server at a time.

use crate::StoreError;
use tokio_postgres::Client;

use super::*;

/// A schema name is spliced into SQL, so only plain identifiers are accepted.
pub(super) fn check_schema(schema: &str) -> Result<(), StoreError> {
    let ok = !schema.is_empty()
        && schema.len() <= 63
        && schema.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && schema.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(StoreError::InvalidRequest(format!("schema name {schema:?}: use lowercase letters, digits and _")))
    }
}

/// The migrations, in order: the schema at version N has had the first N applied.
/// A migration is never edited once released; a change of the schema is a new file.
pub(super) const MIGRATIONS: &[&str] = &[include_str!("migrations/0001_log.sql")];

/// Brings the deployment's schema to the last migration: creates it, and its
/// `schema_version` table, if missing, then applies each migration after the version it
/// records, all in one transaction. Several servers may start together: an advisory
/// lock makes them migrate one at a time, and the later ones find nothing to do. A
/// schema newer than this build (migrated by a later release) is refused, not written to.
pub(super) async fn migrate(client: &mut Client, s: &str) -> Result<(), StoreError> {
    let tx = client.transaction().await.map_err(pg)?;
    match migrate_in(&tx, s).await {
        Ok(()) => tx.commit().await.map_err(pg),
        Err(e) => {
            // Said at once, rather than left to the connection's end.
            let _ = tx.rollback().await;
            Err(e)
        }
    }
}

async fn migrate_in(tx: &tokio_postgres::Transaction<'_>, s: &str) -> Result<(), StoreError> {
    tx.batch_execute(&format!(
        "SELECT pg_advisory_xact_lock(hashtext('taizhang-migrate-{s}'));
         CREATE SCHEMA IF NOT EXISTS {s};
         CREATE TABLE IF NOT EXISTS {s}.schema_version (version INTEGER NOT NULL);"
    ))
    .await
    .map_err(pg)?;
    let row = tx.query_opt(&format!("SELECT version FROM {s}.schema_version"), &[]).await.map_err(pg)?;
    let at = row.map_or(0, |r| r.get::<_, i32>(0)) as usize;
    if at > MIGRATIONS.len() {
        return Err(StoreError::Backend(format!(
            "schema {s} is at version {at}, newer than this build knows ({}): run the release that migrated it",
            MIGRATIONS.len()
        )));
    }
    for migration in &MIGRATIONS[at..] {
        tx.batch_execute(&migration.replace("{schema}", s)).await.map_err(pg)?;
    }
    let latest = MIGRATIONS.len() as i32;
    let record = match at {
        0 => format!("INSERT INTO {s}.schema_version (version) VALUES ({latest})"),
        _ => format!("UPDATE {s}.schema_version SET version = {latest}"),
    };
    tx.batch_execute(&record).await.map_err(pg)
}
