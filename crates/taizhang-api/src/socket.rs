//! The subscription socket, `/graphql/ws` (`graphql-transport-ws`, and the older
//! `graphql-ws`). A socket lives long, so its credential is checked where it is used,
//! not only when it opens:
//!
//! - the token comes in the `connection_init` payload, as `{"Authorization": "Bearer
//!   <token>"}`; without a good one the socket is closed (1002, the reason in the close
//!   frame) before any operation runs, and a socket that sends no `connection_init`
//!   within [`INIT_TIMEOUT`] is closed with 4408, as the protocol says;
//! - before every operation the token is looked up again, and an operation of a token
//!   revoked or expired since is refused `UNAUTHENTICATED`;
//! - while the socket is open the token is looked up every [`RECHECK_EVERY`] and at its
//!   expiry: once revoked or expired, the socket is closed with 4403, ending its
//!   subscriptions;
//! - a message is at most as long as a request body, and its document goes through the
//!   same checks as one sent over HTTP;
//! - the socket is pinged at half the server's idle timeout ([`Limits::idle`]), so that
//!   a quiet subscription is not closed by it.

use std::any::TypeId;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use async_graphql::http::{WsMessage, ALL_WEBSOCKET_PROTOCOLS};
use async_graphql_poem::GraphQLProtocol;
use futures_util::stream::BoxStream;
use futures_util::{SinkExt, StreamExt};
use poem::web::websocket::{Message, WebSocket, WebSocketConfig, WebSocketStream};
use poem::web::Data;
use poem::{handler, IntoResponse, Request};
use taizhang_store::tokens::TokenStatus;
use time::OffsetDateTime;
use tokio::sync::watch;

use crate::access::Principal;
use crate::documents::DocumentCache;
use crate::error::{self, Code};
use crate::http::{remote_ip, AuthFailure, Server};
use crate::{ApiState, Limits, TaizhangSchema};

/// How long a new socket may take to send its `connection_init`.
pub(crate) const INIT_TIMEOUT: Duration = Duration::from_secs(10);
/// How often an open socket's token is looked up again (a revocation on another server
/// or from the command line reaches the socket within this).
pub(crate) const RECHECK_EVERY: Duration = Duration::from_secs(5);

/// The schema as the socket runs it: with the checks the HTTP path makes on the parsed
/// document before execution (the alias and expanded-field limits), and the caller's
/// token looked up again before each operation.
#[derive(Clone)]
struct SocketExecutor {
    schema: TaizhangSchema,
    state: Arc<ApiState>,
    limits: Limits,
    documents: Arc<DocumentCache>,
    field_types: Arc<crate::nulls::FieldTypes>,
    writes: Arc<crate::writes::Writes>,
}

impl SocketExecutor {
    fn refuse(&self, request: &mut async_graphql::Request) -> Option<async_graphql::Response> {
        let parsed = self.documents.parse(request).ok()?;
        let mut refused = self.limits.check_document(parsed.document).err()?;
        self.limits.explain(&mut refused);
        Some(async_graphql::Response::from_errors(vec![refused]))
    }
}

/// Why a token that authenticated a socket may no longer be used, if it may not.
enum Stale {
    /// Revoked, expired or gone: the words for the client.
    Refused(String),
    /// The token store could not be read.
    Internal(async_graphql::Error),
}

/// Looks up `caller`'s token now: `Ok` with its expiry while it may be used.
async fn token_now(state: &ApiState, caller: &Principal) -> Result<Option<OffsetDateTime>, Stale> {
    let now = OffsetDateTime::now_utc();
    match state.tokens.record(caller.token).await {
        Ok(Some(record)) => match record.status(now) {
            TokenStatus::Active => Ok(record.expires_at),
            TokenStatus::Expired => Err(Stale::Refused("the token has expired".into())),
            TokenStatus::Revoked => Err(Stale::Refused("the token was revoked".into())),
        },
        Ok(None) => Err(Stale::Refused("the token is not known".into())),
        Err(e) => Err(Stale::Internal(error::internal(&e))),
    }
}

impl async_graphql::Executor for SocketExecutor {
    fn execute(
        &self,
        mut request: async_graphql::Request,
    ) -> impl std::future::Future<Output = async_graphql::Response> + Send {
        let (refused, schema, types) = (self.refuse(&mut request), self.schema.clone(), self.field_types.clone());
        async move {
            match refused {
                Some(response) => response,
                None => {
                    let (query, operation) = (request.query.clone(), request.operation_name.clone());
                    let mut response = schema.execute(request).await;
                    crate::nulls::propagate(&types, &query, operation.as_deref(), &mut response);
                    response
                }
            }
        }
    }

    fn execute_stream(
        &self,
        mut request: async_graphql::Request,
        session_data: Option<Arc<async_graphql::Data>>,
    ) -> BoxStream<'static, async_graphql::Response> {
        if let Some(response) = self.refuse(&mut request) {
            return futures_util::stream::once(async move { response }).boxed();
        }
        let caller = session_data
            .as_ref()
            .and_then(|data| data.get(&TypeId::of::<Principal>()))
            .and_then(|caller| caller.downcast_ref::<Principal>())
            .cloned();
        let (state, schema, types) = (self.state.clone(), self.schema.clone(), self.field_types.clone());
        let (query, operation) = (request.query.clone(), request.operation_name.clone());
        let kind = request.parsed_query().ok().and_then(|d| crate::http::non_query_operation(d, operation.as_deref()));
        let (subscription, mutation) = (kind == Some("subscriptions"), kind == Some("mutations"));
        let writes = self.writes.clone();
        let deadline = self.limits.deadline;
        futures_util::stream::once(async move {
            let stale = match &caller {
                // Without a caller the guards refuse every field themselves.
                None => None,
                Some(caller) => token_now(&state, caller).await.err(),
            };
            let refusal = match stale {
                None => {
                    // As over HTTP: the caller's share of the cores, the request deadline
                    // (not for a subscription, which lasts as long as the client wants),
                    // and field errors' nulls where the specification puts them.
                    let token = caller.map_or(uuid::Uuid::nil(), |c| c.token);
                    let answers = async_graphql::Executor::execute_stream(&schema, request, session_data).map(
                        move |mut answer| {
                            crate::nulls::propagate(&types, &query, operation.as_deref(), &mut answer);
                            answer
                        },
                    );
                    if subscription {
                        return state.shares.timed(token, answers).boxed();
                    }
                    let answer = async move {
                        let wait = state.shares.wait(token);
                        if !wait.is_zero() {
                            tokio::time::sleep(wait).await;
                        }
                        let mut answers = std::pin::pin!(state.shares.timed(token, answers));
                        answers.next().await.unwrap_or_default()
                    };
                    // As over HTTP, a mutation runs on the mutations' threads if it finds a place.
                    let answer = async move {
                        if !mutation {
                            return answer.await;
                        }
                        let refused = || {
                            async_graphql::Response::from_errors(vec![error::request_error(crate::writes::saturated())])
                        };
                        writes.run(answer).await.unwrap_or_else(refused)
                    };
                    let answer = tokio::time::timeout(deadline, answer).await.unwrap_or_else(|_| {
                        let refused = error::over_limit("request seconds", deadline.as_secs(), None);
                        async_graphql::Response::from_errors(vec![error::request_error(refused)])
                    });
                    return futures_util::stream::once(async move { answer }).boxed();
                }
                Some(Stale::Refused(why)) => error::coded(Code::Unauthenticated, why),
                Some(Stale::Internal(e)) => e,
            };
            let response = async_graphql::Response::from_errors(vec![error::request_error(refusal)]);
            futures_util::stream::once(async move { response }).boxed()
        })
        .flatten()
        .boxed()
    }
}

/// The socket's upgrade: messages bounded like request bodies, then [`serve`].
#[handler]
pub(crate) async fn graphql_ws(
    req: &Request,
    websocket: WebSocket,
    protocol: GraphQLProtocol,
    server: Data<&Arc<Server>>,
) -> impl IntoResponse {
    let (server, address) = (server.0.clone(), remote_ip(req));
    server.state.metrics.request("/graphql/ws", 101);
    let mut config = WebSocketConfig::default();
    config.max_message_size = Some(server.limits.body_bytes);
    config.max_frame_size = Some(server.limits.body_bytes);
    websocket
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .config(config)
        .on_upgrade(move |socket| serve(server, address, protocol, socket))
}

/// Runs the protocol on `socket` until either side ends it, or [`guard`] closes it.
async fn serve(server: Arc<Server>, address: Option<IpAddr>, protocol: GraphQLProtocol, socket: WebSocketStream) {
    let (mut sink, stream) = socket.split();
    let incoming = stream.take_while(|message| std::future::ready(message.is_ok())).filter_map(|message| {
        std::future::ready(message.ok().filter(|m| m.is_text() || m.is_binary()).map(Message::into_bytes))
    });
    let executor = SocketExecutor {
        schema: server.schema.clone(),
        state: server.state.clone(),
        limits: server.limits,
        documents: server.documents.clone(),
        field_types: server.field_types.clone(),
        writes: server.writes.clone(),
    };
    let (authenticated, caller) = watch::channel(None);
    let (state, ping_every) = (server.state.clone(), server.limits.idle / 2);
    let outgoing = async_graphql::http::WebSocket::new(executor, incoming, protocol.0)
        .on_connection_init(move |payload| async move {
            let header = ["Authorization", "authorization"].into_iter().find_map(|k| payload.get(k)?.as_str());
            let bearer = header.map(|h| h.strip_prefix("Bearer ").unwrap_or(h).trim());
            match server.authenticate(bearer, address).await {
                Ok(principal) => {
                    let mut data = async_graphql::Data::default();
                    data.insert(principal.clone());
                    authenticated.send_replace(Some(principal));
                    Ok(data)
                }
                Err(AuthFailure::Unauthenticated(m)) => Err(async_graphql::Error::new(format!("UNAUTHENTICATED: {m}"))),
                Err(AuthFailure::Internal(e)) => Err(e),
            }
        })
        .map(|message| match message {
            WsMessage::Text(text) => Message::text(text),
            WsMessage::Close(code, reason) => Message::close_with(code, reason),
        });
    let guard = guard(state, caller);
    futures_util::pin_mut!(outgoing, guard);
    // A ping now and then keeps a quiet subscription from looking idle to the server's
    // idle timeout (a client's socket answers it with a pong by itself).
    let mut keepalive = tokio::time::interval_at(tokio::time::Instant::now() + ping_every, ping_every);
    loop {
        tokio::select! {
            _ = keepalive.tick() => {
                if sink.send(Message::Ping(Vec::new())).await.is_err() {
                    return;
                }
            }
            message = outgoing.next() => {
                let Some(message) = message else { return };
                if sink.send(message).await.is_err() {
                    return;
                }
            }
            (code, reason) = &mut guard => {
                let _ = sink.send(Message::close_with(code, reason)).await;
                return;
            }
        }
    }
}

/// Resolves to the close code and reason when the socket must be closed: no
/// `connection_init` in time, or its token revoked or expired since. Never resolves
/// for a socket whose `connection_init` was refused (the protocol closes that one).
async fn guard(state: Arc<ApiState>, mut caller: watch::Receiver<Option<Principal>>) -> (u16, String) {
    let initialised = tokio::time::timeout(INIT_TIMEOUT, caller.wait_for(Option::is_some))
        .await
        .map(|caller| caller.ok().and_then(|caller| caller.clone()));
    let caller = match initialised {
        Ok(Some(caller)) => caller,
        Ok(None) => return std::future::pending().await,
        Err(_) => return (4408, "Connection initialisation timeout".into()),
    };
    loop {
        let wait = match token_now(&state, &caller).await {
            Ok(expires_at) => {
                let left = expires_at.map(|at| (at - OffsetDateTime::now_utc()).try_into().unwrap_or(Duration::ZERO));
                left.map_or(RECHECK_EVERY, |left| left.min(RECHECK_EVERY))
            }
            Err(Stale::Refused(why)) => return (4403, format!("Forbidden: {why}")),
            // Logged by `token_now`; the store may answer at the next look.
            Err(Stale::Internal(_)) => RECHECK_EVERY,
        };
        tokio::time::sleep(wait).await;
    }
}
