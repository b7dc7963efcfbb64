//! The API token store on both backends: a token works until it expires or is revoked,
//! only its hash is kept, and requests for impossible tokens are refused.

use std::sync::Arc;

use taizhang_core::{Role, UnitId};
use taizhang_store::conformance::{register, test_pg_store};
use taizhang_store::tokens::{NewToken, Rejection, TokenError, TokenStatus, TokenStore};
use taizhang_store::{AnyStore, EventStore, SledStore};
use time::{Duration, OffsetDateTime};

fn new(role: Role, units: Vec<UnitId>) -> NewToken {
    NewToken { name: "测试".into(), role, units, lifetime: None }
}

async fn tokens_work_until_revoked_or_expired(store: AnyStore) {
    let tokens = TokenStore::of(&store);
    let now = OffsetDateTime::now_utc();
    let unit = UnitId::new();
    store.append(register(unit, "十堰市人民医院")).await.unwrap();
    assert!(!tokens.has_admin(now).await.unwrap());

    let admin = tokens.create(&store, new(Role::Admin, vec![]), now).await.unwrap();
    let clerk = tokens
        .create(&store, NewToken { lifetime: Some(Duration::days(90)), ..new(Role::Clerk, vec![unit]) }, now)
        .await
        .unwrap();
    assert!(tokens.has_admin(now).await.unwrap());
    let secret = admin.secret.expose();
    assert_eq!(tokens.authenticate(secret, now).await.unwrap(), Ok(admin.record.clone()));
    let found = tokens.authenticate(clerk.secret.expose(), now).await.unwrap().unwrap();
    assert_eq!((found.role, found.units), (Role::Clerk, vec![unit]));

    // Only the hash is stored: no record holds the secret part of the token.
    let listed = format!("{:?}", tokens.list().await.unwrap());
    let secret_part = secret.rsplit('_').next().unwrap();
    assert!(!listed.contains(secret_part));
    assert!(!format!("{:?}", admin).contains(secret_part), "Debug of an issued token hides its secret");

    // Another secret for the same id, and garbage, are refused alike.
    let forged = format!("{}{}", &secret[..secret.len() - 1], if secret.ends_with('0') { '1' } else { '0' });
    assert_eq!(tokens.authenticate(&forged, now).await.unwrap(), Err(Rejection::Unknown));
    assert_eq!(tokens.authenticate("Bearer abc", now).await.unwrap(), Err(Rejection::Malformed));

    let later = now + Duration::days(91);
    assert_eq!(tokens.authenticate(clerk.secret.expose(), later).await.unwrap(), Err(Rejection::Expired));
    // Revoked through another token store (the command line's, another server's): this
    // one, which has read and decoded the record before, refuses the token at once.
    TokenStore::of(&store).revoke(clerk.record.id, now).await.unwrap();
    assert_eq!(tokens.authenticate(clerk.secret.expose(), now).await.unwrap(), Err(Rejection::Revoked));
    let revoked = tokens.revoke(admin.record.id, now).await.unwrap();
    assert_eq!(revoked.status(now), TokenStatus::Revoked);
    assert_eq!(tokens.authenticate(secret, now).await.unwrap(), Err(Rejection::Revoked));
    assert!(!tokens.has_admin(now).await.unwrap());
    assert_eq!(tokens.list().await.unwrap().len(), 2);

    let missing = uuid::Uuid::now_v7();
    assert!(matches!(tokens.revoke(missing, now).await, Err(TokenError::NotFound(id)) if id == missing));
    let refused = [
        new(Role::Clerk, vec![]),
        new(Role::Clerk, vec![UnitId::new()]),
        new(Role::Reviewer, vec![unit]),
        new(Role::Operator, vec![]),
        NewToken { name: "名".repeat(101), ..new(Role::Viewer, vec![]) },
        NewToken { name: "管理员\u{202E}nimda".into(), ..new(Role::Viewer, vec![]) },
        NewToken { name: "ok\u{1b}[2J".into(), ..new(Role::Viewer, vec![]) },
        NewToken { lifetime: Some(Duration::seconds(-1)), ..new(Role::Viewer, vec![]) },
        NewToken { lifetime: Some(Duration::ZERO), ..new(Role::Viewer, vec![]) },
        NewToken { lifetime: Some(Duration::days(3_651)), ..new(Role::Viewer, vec![]) },
    ];
    for request in refused {
        let shown = format!("{request:?}");
        assert!(matches!(tokens.create(&store, request, now).await, Err(TokenError::Invalid(_))), "{shown}");
    }
    assert_eq!(tokens.list().await.unwrap().len(), 2, "refused requests store nothing");
}

#[tokio::test]
async fn on_sled() {
    let dir = tempfile::tempdir().unwrap();
    tokens_work_until_revoked_or_expired(AnyStore::Sled(Arc::new(SledStore::open(dir.path()).unwrap()))).await;
}

#[tokio::test]
async fn on_postgres() {
    let Some((store, _schema)) = test_pg_store().await else { return };
    tokens_work_until_revoked_or_expired(AnyStore::Pg(Arc::new(store))).await;
}
