//! `token` on the data directory (or PostgreSQL), and how tokens are listed.

use std::sync::Arc;

use anyhow::Result;
use taizhang_store::tokens::{NewToken, TokenStatus, TokenStore};
use taizhang_store::AnyStore;

use crate::cli::*;

pub(crate) async fn token(store: Arc<AnyStore>, action: &TokenAction) -> Result<()> {
    let tokens = TokenStore::of(&store);
    let now = time::OffsetDateTime::now_utc();
    match action {
        TokenAction::Create { role, units, expires, name } => {
            let new = NewToken { name: name.clone(), role: *role, units: units.clone(), lifetime: *expires };
            let issued = tokens.create(store.as_ref(), new, now).await?;
            println!("{}", issued.secret.expose());
            eprintln!(
                "created {} token {}{}; it is shown once: keep it where you keep passwords",
                issued.record.role,
                issued.record.id,
                issued.record.expires_at.map(|at| format!(", expiring {}", timestamp(at))).unwrap_or_default()
            );
        }
        TokenAction::List => {
            print_token_header();
            for r in tokens.list().await? {
                let status = match r.status(now) {
                    TokenStatus::Active => "active",
                    TokenStatus::Expired => "expired",
                    TokenStatus::Revoked => "revoked",
                };
                let units: Vec<String> = r.units.iter().map(ToString::to_string).collect();
                let expires = r.expires_at.map(timestamp).unwrap_or_else(|| "never".into());
                let (id, created) = (r.id.to_string(), timestamp(r.created_at));
                print_token_row(&id, r.role.as_str(), status, &r.name, &created, &expires, &units.join(","));
            }
        }
        TokenAction::Revoke { id } => {
            tokens.revoke(*id, now).await?;
            eprintln!("revoked token {id}");
        }
    }
    store.sync().await?;
    Ok(())
}

pub(crate) fn timestamp(at: time::OffsetDateTime) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]Z");
    at.format(&format).unwrap_or_else(|_| at.to_string())
}

pub(crate) fn print_token_header() {
    println!(
        "{:<36}  {:<8}  {:<8}  {:<20}  {:<20}  {:<20}  units",
        "id", "role", "status", "name", "created", "expires"
    );
}

pub(crate) fn print_token_row(
    id: &str,
    role: &str,
    status: &str,
    name: &str,
    created: &str,
    expires: &str,
    units: &str,
) {
    println!("{id:<36}  {role:<8}  {status:<8}  {name:<20}  {created:<20}  {expires:<20}  {units}");
}
