//! API tokens over GraphQL, for admins (`tokens`, `createToken`, `revokeToken`), and
//! `me`, which tells any caller who their token says they are. The command line's
//! `taizhang token` does the same against the data directory.

use async_graphql::{Context, InputObject, Object, SimpleObject, ID};
use taizhang_core::{Role, UnitId};
use taizhang_store::tokens::{NewToken, TokenError, TokenRecord, TokenStatus};
use time::OffsetDateTime;

use crate::access::{self, Need, Permission};
use crate::error::{self, Code};
use crate::state;
use crate::types::{parse_id, NonNegative, RoleName};

/// An API token as admins see it; the secret is shown only when it is created.
#[derive(SimpleObject)]
pub struct ApiToken {
    pub id: uuid::Uuid,
    pub name: String,
    pub role: RoleName,
    /// The units a clerk may write for.
    pub units: Vec<ID>,
    pub created_at: OffsetDateTime,
    pub expires_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
    /// False once expired or revoked.
    pub active: bool,
}

impl From<TokenRecord> for ApiToken {
    fn from(r: TokenRecord) -> Self {
        Self {
            id: r.id,
            active: r.status(OffsetDateTime::now_utc()) == TokenStatus::Active,
            name: r.name,
            role: r.role.into(),
            units: r.units.iter().map(|u| ID(u.to_string())).collect(),
            created_at: r.created_at,
            expires_at: r.expires_at,
            revoked_at: r.revoked_at,
        }
    }
}

#[derive(SimpleObject)]
pub struct IssuedToken {
    /// Send as `Authorization: Bearer <secret>`. Shown this once; only its hash is kept.
    pub secret: String,
    pub token: ApiToken,
}

/// The caller, as their token says.
#[derive(SimpleObject)]
pub struct Me {
    pub token: uuid::Uuid,
    pub role: RoleName,
    pub units: Vec<ID>,
}

#[derive(InputObject)]
pub struct CreateTokenInput {
    #[graphql(default)]
    pub name: String,
    pub role: RoleName,
    /// For clerks: the units they may write for (at least one).
    #[graphql(default)]
    pub units: Vec<ID>,
    /// Days until it expires (at most 3,650); never when absent.
    pub expires_in_days: Option<NonNegative>,
}

fn token_error(e: TokenError) -> async_graphql::Error {
    match e {
        TokenError::Invalid(m) => error::coded(Code::Validation, m),
        TokenError::NotFound(id) => error::not_found("token", id),
        other => error::internal(&other),
    }
}

#[derive(Default)]
pub struct TokenQueries;

#[Object]
impl TokenQueries {
    /// Who the request's token says the caller is.
    #[graphql(guard = "Need(Permission::ReadDirectory)")]
    async fn me(&self, ctx: &Context<'_>) -> async_graphql::Result<Me> {
        let p = access::principal(ctx)?;
        Ok(Me { token: p.token, role: p.role.into(), units: p.units.iter().map(|u| ID(u.to_string())).collect() })
    }

    /// Every API token, oldest first, revoked and expired ones included.
    #[graphql(guard = "Need(Permission::ManageTokens)")]
    async fn tokens(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ApiToken>> {
        Ok(state(ctx).tokens.list().await.map_err(token_error)?.into_iter().map(ApiToken::from).collect())
    }
}

#[derive(Default)]
pub struct TokenMutations;

#[Object]
impl TokenMutations {
    /// Creates a token. Its secret is in the answer and nowhere else.
    #[graphql(guard = "Need(Permission::ManageTokens)")]
    async fn create_token(&self, ctx: &Context<'_>, input: CreateTokenInput) -> async_graphql::Result<IssuedToken> {
        let state = state(ctx);
        let units = input
            .units
            .iter()
            .enumerate()
            .map(|(i, u)| parse_id::<UnitId>(&format!("input.units[{i}]"), u))
            .collect::<Result<Vec<_>, _>>()?;
        let now = OffsetDateTime::now_utc();
        let new = NewToken {
            name: input.name,
            role: Role::from(input.role),
            units,
            lifetime: input.expires_in_days.map(|d| time::Duration::days(u32::from(d).into())),
        };
        let issued = state.tokens.create(state.store().as_ref(), new, now).await.map_err(token_error)?;
        tracing::info!(token = %issued.record.id, role = %issued.record.role, "token created");
        Ok(IssuedToken { secret: issued.secret.expose().to_owned(), token: issued.record.into() })
    }

    /// Revokes a token; the next request that carries it is refused.
    #[graphql(guard = "Need(Permission::ManageTokens)")]
    async fn revoke_token(&self, ctx: &Context<'_>, id: uuid::Uuid) -> async_graphql::Result<ApiToken> {
        let record = state(ctx).tokens.revoke(id, OffsetDateTime::now_utc()).await.map_err(token_error)?;
        tracing::info!(token = %record.id, "token revoked");
        Ok(record.into())
    }
}
