//! The HTTP face of the API: `POST /graphql` and `GET /graphql` per the
//! GraphQL over HTTP specification, GraphiQL for browsers, `/graphql/ws` for
//! subscriptions (`graphql-transport-ws`), `/healthz`, `/metrics`, and `/backup` with
//! `/backup/keys` (an admin's online backup, streamed).
//!
//! Status codes follow the specification: with `application/graphql-response+json` a
//! request that fails before execution (unparsable, invalid, over a limit) is a 400 and
//! has no `data`; with legacy `application/json` such a request is a 200. Malformed
//! HTTP requests (not JSON, no query, wrong media type, mutation over GET) get 4xx under
//! both.
//!
//! Every route but `/healthz`, the GraphiQL page, the public certificate checks
//! (`/certificates/{number}?code=…`, `/certificates/status/{year}/{list}`) and the check-in
//! and correction pages (`/check-in`, `/correction`, `check_in_page.rs`) needs `Authorization: Bearer <token>`; the subscription socket (`socket.rs`) takes the token in its
//! `connection_init` payload (`{"Authorization": "Bearer <token>"}`). A missing or bad token is a 401 with code
//! `UNAUTHENTICATED`, held back longer and longer when one address keeps sending bad
//! ones (`limiter.rs`). Tokens never reach a log line or an error message.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use async_graphql::parser::types::{ExecutableDocument, OperationType};
use async_graphql::{ErrorExtensionValues, ServerError, Value, Variables};
use poem::http::{header, Method, StatusCode};
use poem::web::Data;
use poem::{get, handler, Body, EndpointExt, IntoEndpoint, Request, Response, Route};
use serde::Serialize;
use taizhang_read::report::Scope;
use taizhang_store::tokens::Rejection;
use taizhang_store::EventStore;
use time::OffsetDateTime;

use crate::access::{Grant, Permission, Principal};
use crate::documents::DocumentCache;
use crate::error::{self, Code};
use crate::limiter::Limiter;
use crate::writes::Writes;
use crate::{ApiState, Limits, TaizhangSchema};
use request_body::Params;

mod board;
mod boards_page;
mod check_in_page;
mod console;
mod objection_form;
mod opinion_form;
pub(crate) use opinion_form::OpinionQuotas;
mod page;
mod request_body;

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json; charset=utf-8";
const JSON: &str = "application/json; charset=utf-8";

/// What a handler needs.
pub(crate) struct Server {
    pub(crate) schema: TaizhangSchema,
    pub(crate) state: Arc<ApiState>,
    pub(crate) limits: Limits,
    /// The GraphiQL page (about 1.5 MB), shared by every response.
    graphiql: bytes::Bytes,
    limiter: Limiter,
    /// Holds back addresses that keep guessing certificate check codes.
    code_limiter: Limiter,
    /// Signed status lists by (year, list, log position, key).
    status_lists: std::sync::Mutex<std::collections::HashMap<StatusListKey, bytes::Bytes>>,
    pub(crate) documents: Arc<DocumentCache>,
    pub(crate) field_types: Arc<crate::nulls::FieldTypes>,
    /// Where mutations run (see [`crate::writes`]).
    pub(crate) writes: Arc<Writes>,
}

/// A signed status list's year, list, log position and signing key.
type StatusListKey = (i32, &'static str, taizhang_store::Position, String);

/// Why a request carries no usable token.
pub(crate) enum AuthFailure {
    Unauthenticated(String),
    Internal(async_graphql::Error),
}

/// Every route of the server.
pub fn routes(schema: TaizhangSchema, state: Arc<ApiState>, limits: Limits) -> impl IntoEndpoint {
    let graphiql = crate::graphiql::page().into();
    let documents = Arc::default();
    let field_types = Arc::new(crate::nulls::FieldTypes::of(&schema.sdl()));
    let limiter = Limiter::default();
    let server = Arc::new(Server {
        schema,
        state,
        limits,
        graphiql,
        limiter,
        code_limiter: Limiter::default(),
        status_lists: Default::default(),
        documents,
        field_types,
        writes: Arc::new(Writes::new(limits.mutations_in_flight).expect("the mutations' threads start")),
    });
    Route::new()
        .at("/graphql", get(graphql_get).post(graphql_post))
        .at("/graphql/ws", get(crate::socket::graphql_ws))
        .at("/healthz", get(healthz))
        .at("/metrics", get(metrics))
        .at("/backup", get(backup_log))
        .at("/import/:kind", poem::post(import_csv))
        .at("/export/reports", get(export_reports))
        .at("/export/ledger", get(export_ledger))
        .at("/export/eligibility", get(export_award_list))
        .at("/export/round", get(export_round))
        .at("/export/certificate", get(export_certificate))
        .at("/export/certificates", get(export_certificates))
        .at("/export/board", get(export_board))
        .at("/export/recognitions", get(export_recognitions))
        .at("/certificates/keys", get(certificate_keys))
        .at("/certificates/status/:year/:purpose", get(certificate_status))
        .at("/certificates/:number", get(certificate_check))
        .at("/check-in", get(check_in_page::check_in_form).post(check_in_page::check_in_post))
        .at("/export/check-in", get(check_in_page::check_in_poster))
        .at("/correction", get(check_in_page::correction_form).post(check_in_page::correction_post))
        .at("/", get(board::board))
        .at("/units/:code", get(board::unit_page))
        .at("/recognitions", get(board::recognitions_page))
        .at("/recognitions/:id", get(objection_form::recognition_page))
        .at("/recognitions/:id/objections", poem::post(objection_form::objection_post))
        .at("/boards", get(boards_page::boards_page))
        .at("/boards/:id", get(boards_page::published_board_page))
        .at("/units/:code/opinions", poem::post(opinion_form::opinion_post))
        .at("/certificate-check", get(board::certificate_form))
        .at("/console", get(console::home))
        .at("/console/unit", get(console::unit_form))
        .at("/console/units/:code", get(console::unit_page))
        .at("/console/sign-in", poem::post(console::sign_in))
        .at("/console/sign-out", poem::post(console::sign_out))
        .at("/console/outings", poem::post(console::register_outing))
        .at("/console/verify", poem::post(console::verify))
        .at("/console/import", poem::post(console::import))
        .at("/console/members", poem::post(console::register_member))
        .at("/console/transfers", poem::post(console::transfer_member))
        .at("/console/summaries", poem::post(console::submit_summary))
        .at("/console/reports", get(console::reports))
        .at("/console/eligibility", get(console::eligibility))
        .at("/console/recognitions", get(console::recognitions))
        .at("/console/recognitions/decide", poem::post(console::decide))
        .at("/console/evaluations", get(console::evaluations::rounds_page).post(console::evaluations::open_round))
        .at("/console/evaluations/close", poem::post(console::evaluations::close_round))
        .at("/console/evaluations/:id", get(console::evaluations::round_page))
        .at("/console/ballots", poem::post(console::evaluations::cast_ballot))
        .at("/console/reviews", poem::post(console::evaluations::record_review))
        .at("/console/boards", get(console::evaluations::boards_page).post(console::evaluations::publish_board))
        .at("/export/:kind", get(export_records))
        .at("/backup/keys", get(backup_keys))
        .data(server)
}

/// The response media type a client accepts.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Media {
    GraphQLResponse,
    Json,
}

impl Media {
    /// Picks from the `Accept` header; `None` when the client accepts neither.
    fn negotiate(accept: Option<&str>) -> Option<Self> {
        let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else { return Some(Media::Json) };
        let types: Vec<String> = accept
            .split(',')
            .filter(|item| !item.contains("q=0") || item.contains("q=0."))
            .map(|item| item.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
            .collect();
        if types.iter().any(|t| t == "application/graphql-response+json") {
            Some(Media::GraphQLResponse)
        } else if types.iter().any(|t| t == "application/json" || t == "application/*" || t == "*/*") {
            Some(Media::Json)
        } else {
            None
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Media::GraphQLResponse => GRAPHQL_RESPONSE,
            Media::Json => JSON,
        }
    }
}

#[derive(Serialize)]
struct GraphQLBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a Value>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    errors: &'a [ServerError],
}

/// An error response outside GraphQL execution (the request is not a GraphQL request).
fn http_error(status: StatusCode, media: Media, code: Code, message: &str) -> Response {
    error_response(status, media, error::coded(code, message))
}

/// The answer to a mutation that found no place (see [`crate::writes`]): 503, with
/// `Retry-After`, `UNAVAILABLE`.
fn busy(media: Media) -> Response {
    let mut response = error_response(StatusCode::SERVICE_UNAVAILABLE, media, crate::writes::saturated());
    response.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
    response
}

/// The same for an error that carries details (a limit, an error id).
fn error_response(status: StatusCode, media: Media, error: async_graphql::Error) -> Response {
    let error = error::request_error(error);
    let body = serde_json::to_vec(&GraphQLBody { data: None, errors: std::slice::from_ref(&error) })
        .expect("a response serialises");
    Response::builder().status(status).content_type(media.content_type()).body(body)
}

#[handler]
async fn graphql_post(req: &Request, body: Body, server: Data<&Arc<Server>>) -> Response {
    let started = Instant::now();
    let response = post(req, body, &server).await;
    server.finish(started, response)
}

#[handler]
async fn graphql_get(req: &Request, server: Data<&Arc<Server>>) -> Response {
    let started = Instant::now();
    let response = get_request(req, &server).await;
    server.finish(started, response)
}

impl Server {
    /// The caller `bearer` names. A bad token is answered only after the limiter's
    /// hold for `address`; a good one is never held.
    pub(crate) async fn authenticate(
        &self,
        bearer: Option<&str>,
        address: Option<IpAddr>,
    ) -> Result<Principal, AuthFailure> {
        let Some(bearer) = bearer else {
            return Err(AuthFailure::Unauthenticated(
                "send Authorization: Bearer <token>; an admin creates tokens with `taizhang token create`".into(),
            ));
        };
        let rejection = match self.state.tokens.authenticate(bearer, OffsetDateTime::now_utc()).await {
            Ok(Ok(record)) => {
                return Ok(Principal { token: record.id, role: record.role, units: record.units.into() });
            }
            Ok(Err(rejection)) => rejection,
            Err(e) => return Err(AuthFailure::Internal(error::internal(&e))),
        };
        tracing::info!(address = ?address, reason = %rejection, "refused a token");
        // Guesses are held back; an expired or revoked token is a real one, gone stale.
        let guess = matches!(rejection, Rejection::Malformed | Rejection::Unknown);
        if let Some(address) = address.filter(|_| guess) {
            let hold = self.limiter.failure(address, Instant::now());
            if !hold.is_zero() {
                let _held = self.state.metrics.held();
                tokio::time::sleep(hold).await;
            }
        }
        Err(AuthFailure::Unauthenticated(match rejection {
            Rejection::Malformed | Rejection::Unknown => format!("{rejection}; check the Authorization header"),
            Rejection::Expired | Rejection::Revoked => format!("{rejection}; ask an admin for a new one"),
        }))
    }

    /// [`Server::authenticate`] for an HTTP request, answering a refusal as a response.
    async fn caller(&self, req: &Request, media: Media) -> Result<Principal, Response> {
        let bearer = match header_str(req, header::AUTHORIZATION) {
            // A console's downloads are links: a GET, which changes nothing, may carry
            // the token in the console's cookie instead (never sent by another site).
            None if req.method() == Method::GET => console::cookie_token(req),
            None => None,
            Some(value) => match value.split_once(' ') {
                Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => Some(token.trim()),
                _ => {
                    return Err(unauthenticated(media, "the Authorization header must be `Bearer <token>`"));
                }
            },
        };
        self.authenticate(bearer, remote_ip(req)).await.map_err(|failure| match failure {
            AuthFailure::Unauthenticated(message) => unauthenticated(media, &message),
            AuthFailure::Internal(e) => error_response(StatusCode::INTERNAL_SERVER_ERROR, media, e),
        })
    }

    fn finish(&self, started: Instant, response: Response) -> Response {
        let (status, elapsed) = (response.status().as_u16(), started.elapsed());
        self.state.metrics.request("/graphql", status);
        self.state.metrics.graphql_latency(elapsed);
        tracing::debug!(status, micros = elapsed.as_micros() as u64, "graphql request");
        response
    }

    /// Runs a well-formed request and shapes the answer for `media`. Over GET only
    /// queries run: a GET may be cached or prefetched, so it must not change data.
    /// `place` says whether this already runs on the mutations' threads, within the
    /// request deadline (see [`Server::mutate`]).
    async fn execute(&self, params: Params, media: Media, method: Method, caller: Principal, place: Place) -> Response {
        // Kept for the rare response with field errors (see [`crate::nulls`]).
        let query = params.query.clone();
        let token = caller.token;
        let mut request = async_graphql::Request::new(params.query).data(caller);
        if let Some(name) = params.operation_name.clone() {
            request = request.operation_name(name);
        }
        if let Some(variables) = params.variables {
            request = request.variables(variables);
        }
        // Parsed once here (or taken from the cache); the engine reuses the document. A
        // parse error is left to the engine, which reports it like any other.
        let mut known = Known::default();
        let refused = match self.documents.parse(&mut request) {
            Ok(parsed) => match self.limits.check_document(parsed.document) {
                Err(e) => Some(async_graphql::Response::from_errors(vec![e])),
                Ok(()) => {
                    let kind = non_query_operation(parsed.document, params.operation_name.as_deref());
                    if let Some(kind) = kind.filter(|_| method == Method::GET) {
                        let mut response = http_error(
                            StatusCode::METHOD_NOT_ALLOWED,
                            media,
                            Code::BadRequest,
                            &format!("{kind} are not allowed over GET; use POST"),
                        );
                        response.headers_mut().insert(header::ALLOW, header::HeaderValue::from_static("POST"));
                        return response;
                    }
                    known = Known { mutation: kind == Some("mutations"), validated_before: parsed.validated_before };
                    None
                }
            },
            Err(_) => None,
        };
        let response = match refused {
            Some(r) => r,
            None => match self.run_within_deadline(token, request, query, known, place).await {
                Some(response) => response,
                None => return busy(media),
            },
        };
        self.shape(response, media)
    }

    /// Executes `query` with `variables` for `caller` in process, as a request over HTTP
    /// would be: the same limits on the document, the same deadline, the same share of
    /// the cores, and the same schema deciding who may do what (the consoles' pages act
    /// through it, so the role table stays the one place that decides).
    pub(crate) async fn execute_as(
        &self,
        caller: Principal,
        query: &str,
        variables: serde_json::Value,
    ) -> async_graphql::Response {
        let token = caller.token;
        let mut request = async_graphql::Request::new(query).data(caller).variables(Variables::from_json(variables));
        let mut known = Known::default();
        if let Ok(parsed) = self.documents.parse(&mut request) {
            if let Err(e) = self.limits.check_document(parsed.document) {
                return async_graphql::Response::from_errors(vec![e]);
            }
            let mutation = non_query_operation(parsed.document, None) == Some("mutations");
            known = Known { mutation, validated_before: parsed.validated_before };
        }
        self.run_within_deadline(token, request, query.to_owned(), known, Place::RequestWorker).await.unwrap_or_else(
            || async_graphql::Response::from_errors(vec![error::request_error(crate::writes::saturated())]),
        )
    }

    /// [`Server::run`] within the request deadline, a mutation on the mutations' threads
    /// (see [`crate::writes`]): `None` when a mutation finds no place there. Where the
    /// request already runs there, within its deadline, it just runs.
    async fn run_within_deadline(
        &self,
        token: uuid::Uuid,
        request: async_graphql::Request,
        query: String,
        known: Known,
        place: Place,
    ) -> Option<async_graphql::Response> {
        let work = self.run(token, request, query, known.validated_before);
        if place == Place::MutationThread {
            return Some(work.await);
        }
        let ran = async {
            if !known.mutation {
                return Some(work.await);
            }
            self.writes.run(work).await
        };
        tokio::time::timeout(self.limits.deadline, ran).await.unwrap_or_else(|_| Some(self.over_deadline()))
    }

    /// The answer to a request whose deadline passed.
    fn over_deadline(&self) -> async_graphql::Response {
        let refused = error::over_limit("request seconds", self.limits.deadline.as_secs(), None);
        async_graphql::Response::from_errors(vec![error::request_error(refused)])
    }

    /// A POST of a mutation whose text the document cache knows, from its body on: read,
    /// executed and answered on the mutations' threads, within the request deadline.
    /// The variables, the document's copy and the answer are then made and let go on
    /// one thread. Made on a request worker and let go on a mutation's thread (or the
    /// other way), each of their blocks went back to its allocator through the
    /// cross-thread path, for the request workers to collect; and the request workers,
    /// which answer the reads, keep only the HTTP and the token's check.
    async fn mutate(self: &Arc<Self>, bytes: bytes::Bytes, media: Media, caller: Principal) -> Response {
        let server = self.clone();
        // Boxed once here: handed on to the mutations' runtime and into its task, the
        // work's 1.7 KB of state would otherwise be copied at each step.
        let work = Box::pin(async move {
            match request_body::parse(&bytes) {
                Ok(params) => server.execute(params, media, Method::POST, caller, Place::MutationThread).await,
                Err(message) => http_error(StatusCode::BAD_REQUEST, media, Code::BadRequest, &message),
            }
        });
        match tokio::time::timeout(self.limits.deadline, self.writes.run(work)).await {
            Ok(Some(response)) => response,
            Ok(None) => busy(media),
            Err(_) => self.shape(self.over_deadline(), media),
        }
    }

    /// Executes `request` (whose text is `query`) once `token` is within its share of the
    /// cores (see [`crate::share`]), and puts its field errors' nulls where the
    /// specification does, counting the CPU time both take; notes the text validated
    /// once the engine executed it, unless it was `validated_before`. Owns what it uses,
    /// so that it may run on another runtime's thread.
    fn run(
        &self,
        token: uuid::Uuid,
        request: async_graphql::Request,
        query: String,
        validated_before: bool,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = async_graphql::Response> + Send + 'static>> {
        let (schema, state) = (self.schema.clone(), self.state.clone());
        let (documents, field_types) = (self.documents.clone(), self.field_types.clone());
        // Boxed: the engine's execution (about 4 KB of state) is otherwise inside every
        // future around it, and copied whole each time one of them is moved: into the
        // HTTP framework's box, into the mutations' task, out of a timeout.
        Box::pin(async move {
            let shares = &state.shares;
            let wait = shares.wait(token);
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
            let operation = request.operation_name.clone();
            let work = async {
                let mut response = schema.execute(request).await;
                if !validated_before && !refused_before_execution(&response) {
                    documents.validated(&query, operation.as_deref());
                }
                crate::nulls::propagate(&field_types, &query, operation.as_deref(), &mut response);
                response
            };
            shares.timed(token, work).await
        })
    }

    fn shape(&self, mut response: async_graphql::Response, media: Media) -> Response {
        let request_error = refused_before_execution(&response);
        for e in &mut response.errors {
            self.limits.explain(e);
            let extensions = e.extensions.get_or_insert_with(ErrorExtensionValues::default);
            if extensions.get("code").is_none() {
                let code = if e.path.is_empty() { Code::BadRequest } else { Code::Validation };
                extensions.set("code", code.as_str());
            }
        }
        let status =
            if request_error && media == Media::GraphQLResponse { StatusCode::BAD_REQUEST } else { StatusCode::OK };
        let body = GraphQLBody { data: (!request_error).then_some(&response.data), errors: &response.errors };
        match serde_json::to_vec(&body) {
            Ok(bytes) => Response::builder().status(status).content_type(media.content_type()).body(bytes),
            Err(e) => error_response(StatusCode::INTERNAL_SERVER_ERROR, media, error::internal(&e)),
        }
    }
}

/// Where a request runs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    /// On a request worker: a mutation moves to the mutations' threads to execute.
    RequestWorker,
    /// Already on the mutations' threads, within the request deadline.
    MutationThread,
}

/// What the server knows of a request from its parsed document.
#[derive(Clone, Copy, Default)]
struct Known {
    /// Its operation is a mutation: it runs on the mutations' threads.
    mutation: bool,
    /// The engine validated its text with its operation name before.
    validated_before: bool,
}

/// Whether `response` refused its request before executing it (parse, validation, a
/// limit): errors alone, none with a path. An executed request has data (an object, or
/// null when a non-null root field failed), and its fields' errors carry their paths.
fn refused_before_execution(response: &async_graphql::Response) -> bool {
    response.data == Value::Null && !response.errors.is_empty() && response.errors.iter().all(|e| e.path.is_empty())
}

/// "mutations" or "subscriptions" when the operation to run is not a query.
pub(crate) fn non_query_operation(document: &ExecutableDocument, operation_name: Option<&str>) -> Option<&'static str> {
    let (_, operation) = document.operations.iter().find(|(name, _)| match operation_name {
        Some(wanted) => name.is_some_and(|n| n.as_str() == wanted),
        None => true,
    })?;
    match operation.node.ty {
        OperationType::Query => None,
        OperationType::Mutation => Some("mutations"),
        OperationType::Subscription => Some("subscriptions"),
    }
}

pub(crate) fn remote_ip(req: &Request) -> Option<IpAddr> {
    req.remote_addr().as_socket_addr().map(|a| a.ip())
}

fn unauthenticated(media: Media, message: &str) -> Response {
    let mut response = http_error(StatusCode::UNAUTHORIZED, media, Code::Unauthenticated, message);
    response.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
    response
}

fn header_str(req: &Request, name: header::HeaderName) -> Option<&str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

async fn post(req: &Request, body: Body, server: &Arc<Server>) -> Response {
    let Some(media) = Media::negotiate(header_str(req, header::ACCEPT)) else {
        return not_acceptable();
    };
    let caller = match server.caller(req, media).await {
        Ok(caller) => caller,
        Err(refused) => return refused,
    };
    let content_type = header_str(req, header::CONTENT_TYPE).unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if essence != "application/json" {
        return http_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            media,
            Code::BadRequest,
            &format!("send the request as application/json, not {content_type:?}"),
        );
    }
    let bytes = match body.into_bytes_limit(server.limits.body_bytes).await {
        Ok(b) => b,
        Err(poem::error::ReadBodyError::PayloadTooLarge) => {
            let e = error::over_limit("request body bytes", server.limits.body_bytes as u64, None);
            return error_response(StatusCode::PAYLOAD_TOO_LARGE, media, e);
        }
        Err(e) => {
            return http_error(StatusCode::BAD_REQUEST, media, Code::BadRequest, &format!("reading the body: {e}"))
        }
    };
    let known_mutation = request_body::peek(&bytes)
        .is_some_and(|peeked| server.documents.is_mutation(&peeked.query, peeked.operation_name.as_deref()));
    if known_mutation {
        return server.mutate(bytes, media, caller).await;
    }
    let params = request_body::parse(&bytes);
    match params {
        Ok(params) => server.execute(params, media, Method::POST, caller, Place::RequestWorker).await,
        Err(message) => http_error(StatusCode::BAD_REQUEST, media, Code::BadRequest, &message),
    }
}

fn not_acceptable() -> Response {
    http_error(
        StatusCode::NOT_ACCEPTABLE,
        Media::Json,
        Code::BadRequest,
        "accept application/graphql-response+json or application/json",
    )
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct GetParams {
    query: Option<String>,
    operation_name: Option<String>,
    variables: Option<String>,
    extensions: Option<String>,
}

async fn get_request(req: &Request, server: &Server) -> Response {
    let accept = header_str(req, header::ACCEPT);
    let params: GetParams = match req.params() {
        Ok(p) => p,
        Err(e) => return http_error(StatusCode::BAD_REQUEST, Media::Json, Code::BadRequest, &e.to_string()),
    };
    let Some(query) = params.query else {
        if accept.is_some_and(|a| a.contains("text/html")) {
            return Response::builder().content_type("text/html; charset=utf-8").body(server.graphiql.clone());
        }
        return http_error(StatusCode::BAD_REQUEST, Media::Json, Code::BadRequest, "the request has no query");
    };
    let Some(media) = Media::negotiate(accept) else { return not_acceptable() };
    let caller = match server.caller(req, media).await {
        Ok(caller) => caller,
        Err(refused) => return refused,
    };
    let variables = match params.variables.as_deref().map(request_body::variables) {
        None => None,
        Some(Some(variables)) => variables,
        Some(None) => {
            return http_error(StatusCode::BAD_REQUEST, media, Code::BadRequest, "variables must be a JSON object")
        }
    };
    if params.extensions.as_deref().is_some_and(|e| !request_body::is_object(e)) {
        return http_error(StatusCode::BAD_REQUEST, media, Code::BadRequest, "extensions must be a JSON object");
    }
    let params = Params { query, operation_name: params.operation_name, variables };
    server.execute(params, media, Method::GET, caller, Place::RequestWorker).await
}

#[derive(Serialize)]
struct Health {
    /// `ok`, or why writes cannot be served: `poisoned` (a write failed), `stalled` (a
    /// durable write has not returned); the server then exits to be restarted.
    status: &'static str,
    store: &'static str,
    head: u64,
    projected: u64,
    lag: u64,
}

/// 200 while the server can serve writes, 503 otherwise, so that a load balancer stops
/// sending it requests.
#[handler]
async fn healthz(server: Data<&Arc<Server>>) -> Response {
    let state = &server.state;
    let head = state.store().head();
    let projected = state.projector.position();
    let status = state.store().health().as_str();
    let health = Health { status, store: state.store().kind(), head, projected, lag: head.saturating_sub(projected) };
    let code = if status == "ok" { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    state.metrics.request("/healthz", code.as_u16());
    Response::builder().status(code).content_type(JSON).body(serde_json::to_vec(&health).expect("health serialises"))
}

/// The caller of a backup route, when they may take a backup; else the refusal.
async fn backup_caller(req: &Request, server: &Server, route: &'static str) -> Result<(), Response> {
    let refused = match server.caller(req, Media::Json).await {
        Ok(caller) if Permission::BackUp.grant(caller.role) == Grant::Yes => None,
        Ok(caller) => Some(forbidden(&caller, Permission::BackUp)),
        Err(refused) => Some(refused),
    };
    match refused {
        None => Ok(()),
        Some(response) => {
            server.state.metrics.request(route, response.status().as_u16());
            Err(response)
        }
    }
}

/// The largest file `POST /import/{kind}` takes: the whole city's outings of a month
/// are a fraction of it.
pub(crate) const IMPORT_BODY_BYTES: usize = 32 * 1024 * 1024;

/// What an import through the server did, or why it wrote nothing.
#[derive(Serialize)]
pub(crate) struct ImportAnswer {
    pub(crate) rows: usize,
    /// Commands written: new records, and corrections.
    pub(crate) written: usize,
    corrections_written: usize,
    pub(crate) already_in_the_log: usize,
    rows_left_out: usize,
    pub(crate) problems: Vec<ImportProblem>,
    /// With `amend`, the corrections the changed rows ask for; written only with
    /// `confirm=true`.
    amendments: Vec<taizhang_io::import::Amendment>,
    /// The log's head once written: every read made after the answer reflects it, and
    /// a read elsewhere may quote it as `minPosition`.
    position: u64,
}

#[derive(Serialize)]
pub(crate) struct ImportProblem {
    pub(crate) line: u64,
    pub(crate) column: usize,
    pub(crate) header: Option<&'static str>,
    pub(crate) message: String,
}

/// How an import reads its file and what it may write.
#[derive(Default)]
pub(crate) struct ImportOptions {
    pub(crate) encoding: taizhang_io::import::Encoding,
    pub(crate) skip_invalid: bool,
    pub(crate) amend: Option<taizhang_core::Text>,
    pub(crate) confirmed: bool,
}

/// `POST /import/{kind}` (`?encoding=gbk`, `?skip_invalid=true`, `?amend=REASON` to read
/// changed rows as corrections, listed in the answer and written with `&confirm=true`):
/// a CSV file imported as
/// `taizhang import` imports it, while the server serves: every row checked first and
/// nothing written when one has a problem (422, with every problem at its line and
/// column), sent by the caller (their role; a clerk's rows only for their units). One
/// import at a time, beside the heavy reads; the file's size is bounded.
#[handler]
async fn import_csv(
    req: &Request,
    poem::web::Path(kind): poem::web::Path<String>,
    body: Body,
    server: Data<&Arc<Server>>,
) -> Response {
    let answer = import_answer(req, &kind, body, &server).await;
    let response = answer.unwrap_or_else(|refused| refused);
    server.state.metrics.request("/import", response.status().as_u16());
    response
}

async fn import_answer(req: &Request, kind: &str, body: Body, server: &Server) -> Result<Response, Response> {
    use taizhang_io::import;
    let caller = server.caller(req, Media::Json).await?;
    let kind: taizhang_io::Kind = kind.parse().map_err(bad_request)?;
    let params = params(req, &["encoding", "skip_invalid", "amend", "confirm"])?;
    let options = ImportOptions {
        encoding: params.get("encoding").map_or(Ok(import::Encoding::Utf8), |e| e.parse()).map_err(bad_request)?,
        skip_invalid: params.get("skip_invalid").is_some_and(|v| v == "true"),
        amend: params
            .get("amend")
            .map(|reason| taizhang_core::Text::parse("amend", reason))
            .transpose()
            .map_err(|e| bad_request(e.to_string()))?,
        confirmed: params.get("confirm").is_some_and(|v| v == "true"),
    };
    let bytes = body.into_bytes_limit(IMPORT_BODY_BYTES).await.map_err(|e| {
        let over = error::over_limit("import file bytes", IMPORT_BODY_BYTES as u64, None);
        let status = if matches!(e, poem::error::ReadBodyError::PayloadTooLarge) {
            StatusCode::PAYLOAD_TOO_LARGE
        } else {
            StatusCode::BAD_REQUEST
        };
        error_response(status, Media::Json, over)
    })?;
    let (status, answer) = server.import(&caller, kind, bytes.to_vec(), options).await?;
    Ok(Response::builder().status(status).content_type(JSON).body(serde_json::to_vec(&answer).expect("serialises")))
}

impl Server {
    /// Imports `bytes`, a CSV file of `kind`, for `caller`: the role table's permission
    /// for the kind (a clerk's rows only for their units), every row checked first and
    /// nothing written when one has a problem (`422`, every problem at its line and
    /// column), one import at a time beside the heavy reads. `POST /import/{kind}` and
    /// the console's upload both come here.
    // The error is the answer itself, returned at once by the route.
    #[allow(clippy::result_large_err)]
    pub(crate) async fn import(
        &self,
        caller: &Principal,
        kind: taizhang_io::Kind,
        bytes: Vec<u8>,
        options: ImportOptions,
    ) -> Result<(StatusCode, ImportAnswer), Response> {
        use taizhang_io::{import, Kind};
        let server = self;
        let permission = match kind {
            Kind::Units => Permission::ManageUnits,
            Kind::Members | Kind::Outings | Kind::Commitments => Permission::WriteRecords,
            Kind::Verifications | Kind::Ballots => Permission::Review,
        };
        let scope = match permission.grant(caller.role) {
            Grant::Yes => None,
            Grant::OwnUnits => Some(caller.units.clone()),
            Grant::No => return Err(forbidden(caller, permission)),
        };
        let ImportOptions { encoding, skip_invalid, amend, confirmed } = options;
        let _turn = server.state.heavy.acquire().await.expect("the semaphore is never closed");
        let failed = |e: &dyn std::fmt::Display| {
            error_response(StatusCode::INTERNAL_SERVER_ERROR, Media::Json, error::internal(e))
        };
        let mut file =
            tokio::task::spawn_blocking(move || import::read(kind, &bytes, encoding)).await.map_err(|e| failed(&e))?;
        let previewing = amend.is_some() && !confirmed;
        if let Some(reason) = amend {
            file.amend(reason);
        }
        let ledger = &server.state.ledger;
        file.check(ledger, scope.as_deref()).await.map_err(|e| failed(&e))?;
        let problems: Vec<ImportProblem> = file
            .problems
            .iter()
            .map(|p| ImportProblem { line: p.line, column: p.column, header: p.header, message: p.message.clone() })
            .collect();
        let (rows, already, amendments) = (file.rows, file.already_imported, file.amendments.clone());
        let refused = !problems.is_empty() && !skip_invalid;
        let mut sender = taizhang_app::CommandContext::new(caller.actor());
        sender.scope = caller.scope();
        let written = if refused || (previewing && !amendments.is_empty()) {
            taizhang_io::import::Written { commands: 0, corrections: 0, skipped_rows: 0 }
        } else {
            file.write(ledger, &sender, skip_invalid, |_| {}).await.map_err(|e| {
                let e = error::app(e);
                error_response(StatusCode::CONFLICT, Media::Json, e)
            })?
        };
        // Read-your-writes, as after a mutation: the answer comes once the read model has
        // applied what was written. Should it lag, the rows are written all the same; the
        // position lets a client wait for them.
        let position = ledger.store().head();
        if written.commands > 0 {
            let _ = server.state.projector.wait_for(position, crate::READ_YOUR_WRITES_WAIT).await;
        }
        let answer = ImportAnswer {
            position,
            rows,
            written: written.commands,
            corrections_written: written.corrections,
            already_in_the_log: already,
            rows_left_out: written.skipped_rows,
            problems,
            amendments,
        };
        let status = if refused { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
        Ok((status, answer))
    }
}

/// `GET /export/{units|members|outings|verifications|commitments}`: the records in the import's own
/// CSV layout, the file `taizhang export units` (and the others) writes, while the
/// server serves, one heavy export at a time, as of the position it started at. Members
/// carry personal data: a clerk's list holds the members of their own units.
#[handler]
async fn export_records(
    req: &Request,
    poem::web::Path(kind): poem::web::Path<String>,
    server: Data<&Arc<Server>>,
) -> Response {
    let response = records_answer(req, &kind, &server).await.unwrap_or_else(|refused| refused);
    server.state.metrics.request("/export/records", response.status().as_u16());
    response
}

async fn records_answer(req: &Request, kind: &str, server: &Server) -> Result<Response, Response> {
    use taizhang_io::Kind;
    let caller = server.caller(req, Media::Json).await?;
    let kind: Kind = kind.parse().map_err(|e| {
        http_error(StatusCode::NOT_FOUND, Media::Json, Code::NotFound, &format!("{e}; or reports, ledger, eligibility"))
    })?;
    let permission = match kind {
        Kind::Units => Permission::ReadDirectory,
        Kind::Members => Permission::ReadPersonal,
        Kind::Outings | Kind::Commitments | Kind::Ballots => Permission::ReadRecords,
        Kind::Verifications => Permission::Review,
    };
    permitted(&caller, permission)?;
    let params = params(req, if kind == Kind::Commitments { &["unit", "format"] } else { &[] })?;
    if params.contains_key("unit") && params.get("format").is_none_or(|f| f == "csv") {
        return Err(bad_request(
            "the CSV of commitments holds every unit's; unit=CODE picks a unit's public list with format=xlsx".into(),
        ));
    }
    if let Some(format) = params.get("format").filter(|f| *f != "csv") {
        // A unit's public commitment list (承诺事项公示表), as a workbook.
        let (Scope::Unit(unit), "xlsx") = (period_and_scope(&params, server)?.1, format.as_str()) else {
            return Err(bad_request(
                "a workbook of commitments is one unit's public list: unit=CODE&format=xlsx".into(),
            ));
        };
        let bytes = server
            .state
            .projector
            .read(|m| taizhang_io::export::public_list_xlsx(m, unit))
            .map_err(|e| error_response(StatusCode::INTERNAL_SERVER_ERROR, Media::Json, error::internal(&e)))?;
        return Ok(Response::builder().content_type(sheet_type(true)).body(bytes));
    }
    let _turn = server.state.heavy.acquire().await.expect("the semaphore is never closed");
    let (ledger, projector) = (&server.state.ledger, &server.state.projector);
    let bytes =
        taizhang_io::export::records_file(ledger, projector, kind, &taizhang_read::AsOf::now(), may_name(&caller))
            .await
            .map_err(|e| error_response(StatusCode::INTERNAL_SERVER_ERROR, Media::Json, error::internal(&e)))?;
    Ok(Response::builder().content_type(sheet_type(false)).body(bytes))
}

/// `GET /export/reports?from=D&to=D[&unit=CODE|&region=R][&by=unit|region|industry|weekly][&format=csv|xlsx]`:
/// the reports `taizhang export reports` writes, the same bytes, while the server serves:
/// computed on a blocking thread, one heavy read at a time, a slice of cells per hold of
/// the model's lock, as of one position; refused like any report above the size limits.
#[handler]
async fn export_reports(req: &Request, server: Data<&Arc<Server>>) -> Response {
    let response = report_answer(req, &server).await.unwrap_or_else(|refused| refused);
    server.state.metrics.request("/export/reports", response.status().as_u16());
    response
}

async fn report_answer(req: &Request, server: &Server) -> Result<Response, Response> {
    use taizhang_io::export as x;
    let caller = server.caller(req, Media::Json).await?;
    permitted(&caller, Permission::ReadReports)?;
    let params = params(req, &["from", "to", "unit", "region", "by", "format"])?;
    let (period, scope) = period_and_scope(&params, server)?;
    let xlsx = params.get("format").is_some_and(|f| f == "xlsx");
    let by = params.get("by").map_or("unit", String::as_str);
    let sheet = match xlsx {
        true => None,
        false => Some(
            x::report_sheet_named(by)
                .ok_or_else(|| bad_request(format!("by must be unit, region, industry or weekly, not {by:?}")))?,
        ),
    };
    let report_scope = x::ReportScope { period, scope, as_of: taizhang_read::AsOf::now() };
    let made = server
        .state
        .read_heavy(&caller, None, move |heavy| x::report_file(heavy.projector, &report_scope, sheet))
        .await
        .map_err(|e| error_response(StatusCode::INTERNAL_SERVER_ERROR, Media::Json, e))?;
    let bytes = made.map_err(|e| match e {
        x::ExportError::TooLarge(too_large) => {
            error_response(StatusCode::BAD_REQUEST, Media::Json, error::report_too_large(too_large))
        }
        other => error_response(StatusCode::INTERNAL_SERVER_ERROR, Media::Json, error::internal(&other)),
    })?;
    Ok(Response::builder().content_type(sheet_type(xlsx)).body(bytes))
}

/// `GET /export/round[?round=ID][&by=unit|region|industry][&format=csv|xlsx]`: a
/// look-back round's report (the one opened last unless named) as `taizhang export
/// round` writes it: one grouping as CSV, or a workbook of every grouping and the units
/// not yet looked back. It reads one tally per unit: no heavier than a page of units.
#[handler]
async fn export_round(req: &Request, server: Data<&Arc<Server>>) -> Response {
    let response = round_answer(req, &server).await.unwrap_or_else(|refused| refused);
    server.state.metrics.request("/export/round", response.status().as_u16());
    response
}

async fn round_answer(req: &Request, server: &Server) -> Result<Response, Response> {
    use taizhang_io::export as x;
    let caller = server.caller(req, Media::Json).await?;
    permitted(&caller, Permission::ReadReports)?;
    let params = params(req, &["round", "by", "format"])?;
    let xlsx = params.get("format").is_some_and(|f| f == "xlsx");
    let round = params
        .get("round")
        .map(|r| uuid::Uuid::try_parse(r).map(taizhang_core::RoundId))
        .transpose()
        .map_err(|e| bad_request(format!("round: {e}")))?;
    let by = (!xlsx).then(|| params.get("by").map_or("unit", String::as_str));
    let made = server.state.projector.read(|m| x::round_or_latest(m, round).map(|r| x::round_report_file(m, r, by)));
    let Some(made) = made else {
        let what = round
            .map_or("no look-back round has been opened yet".into(), |r| format!("there is no look-back round {r}"));
        return Err(http_error(StatusCode::NOT_FOUND, Media::Json, Code::NotFound, &what));
    };
    let made = made.map_err(|e| error_response(StatusCode::INTERNAL_SERVER_ERROR, Media::Json, error::internal(&e)))?;
    let bytes =
        made.ok_or_else(|| bad_request(format!("by must be unit, region or industry, not {:?}", by.unwrap_or(""))))?;
    Ok(Response::builder().content_type(sheet_type(xlsx)).body(bytes))
}

/// `GET /export/ledger?unit=CODE[&format=xlsx]`: a unit's ledger as `taizhang export
/// ledger` writes it, while the server serves. A participant is named only where the
/// caller may read their personal data (a clerk: members of their own units), else by
/// code.
#[handler]
async fn export_ledger(req: &Request, server: Data<&Arc<Server>>) -> Response {
    let response = ledger_answer(req, &server).await.unwrap_or_else(|refused| refused);
    server.state.metrics.request("/export/ledger", response.status().as_u16());
    response
}

async fn ledger_answer(req: &Request, server: &Server) -> Result<Response, Response> {
    let caller = server.caller(req, Media::Json).await?;
    permitted(&caller, Permission::ReadRecords)?;
    let params = params(req, &["unit", "format"])?;
    let xlsx = params.get("format").is_some_and(|f| f == "xlsx");
    let Scope::Unit(unit) = period_and_scope(&params, server)?.1 else {
        return Err(bad_request("give the unit whose ledger to export: unit=CODE (or its id)".into()));
    };
    let may_name = may_name(&caller);
    let (ledger, projector) = (&server.state.ledger, &server.state.projector);
    let bytes = taizhang_io::export::ledger_file(ledger, projector, unit, xlsx, may_name)
        .await
        .map_err(|e| error_response(StatusCode::INTERNAL_SERVER_ERROR, Media::Json, error::internal(&e)))?;
    Ok(Response::builder().content_type(sheet_type(xlsx)).body(bytes))
}

/// `GET /export/eligibility?policy=P&from=D&to=D[&unit=CODE|&region=R]`: the award list
/// `taizhang export eligibility` writes, while the server serves, one heavy read at a
/// time. Members are named only where the caller may read their personal data; a
/// policy that reads ages (derived from sealed birth dates) needs that reach for the
/// whole scope.
#[handler]
async fn export_award_list(req: &Request, server: Data<&Arc<Server>>) -> Response {
    let response = award_list_answer(req, &server).await.unwrap_or_else(|refused| refused);
    server.state.metrics.request("/export/eligibility", response.status().as_u16());
    response
}

async fn award_list_answer(req: &Request, server: &Server) -> Result<Response, Response> {
    let caller = server.caller(req, Media::Json).await?;
    permitted(&caller, Permission::ReadRecords)?;
    let params = params(req, &["policy", "from", "to", "unit", "region"])?;
    let name = params.get("policy").ok_or_else(|| bad_request("give the award list's policy: policy=NAME".into()))?;
    let policy = server
        .state
        .policies
        .get(name)
        .map_err(|e| http_error(StatusCode::NOT_FOUND, Media::Json, Code::NotFound, &e.to_string()))?;
    if policy.subject != taizhang_read::policy::Subject::Member {
        return Err(bad_request(format!("policy {name} assesses units; an award list is of members")));
    }
    let (period, scope) = period_and_scope(&params, server)?;
    // Ages come from sealed birth dates: a policy that reads them is for those who may
    // read everyone's in scope (a clerk, the list of one of their own units).
    let whole_reach = match (Permission::ReadPersonal.grant(caller.role), &scope) {
        (Grant::Yes, _) => true,
        (Grant::OwnUnits, Scope::Unit(u)) => caller.reaches(Permission::ReadPersonal, *u),
        _ => false,
    };
    if policy.uses_personal_data() && !whole_reach {
        return Err(forbidden(&caller, Permission::ReadPersonal));
    }
    let may_name = may_name(&caller);
    let _turn = server.state.heavy.acquire().await.expect("the semaphore is never closed");
    let (ledger, projector) = (&server.state.ledger, &server.state.projector);
    let bytes = taizhang_io::export::award_list_csv(ledger, projector, policy, &scope, period, may_name)
        .await
        .map_err(|e| error_response(StatusCode::INTERNAL_SERVER_ERROR, Media::Json, error::internal(&e)))?;
    Ok(Response::builder().content_type(sheet_type(false)).body(bytes))
}

/// `GET /export/board?board=ID`: a published star board as a workbook, computed again
/// at its position under its own policy (one heavy read, kept for later).
#[handler]
async fn export_board(req: &Request, server: Data<&Arc<Server>>) -> Response {
    let response = board_answer(req, &server).await.unwrap_or_else(|refused| refused);
    server.state.metrics.request("/export/board", response.status().as_u16());
    response
}

async fn board_answer(req: &Request, server: &Server) -> Result<Response, Response> {
    let caller = server.caller(req, Media::Json).await?;
    permitted(&caller, Permission::ReadRecords)?;
    let params = params(req, &["board"])?;
    let board = params.get("board").ok_or_else(|| bad_request("give the published board: board=ID".into()))?;
    let id = uuid::Uuid::try_parse(board.trim())
        .map(taizhang_core::BoardId)
        .map_err(|e| bad_request(format!("board: {e}")))?;
    let Some(published) = server.state.projector.read(|m| m.boards.get(&id).map(|b| b.published.clone())) else {
        return Err(http_error(
            StatusCode::NOT_FOUND,
            Media::Json,
            Code::NotFound,
            &format!("board {id} does not exist"),
        ));
    };
    let failed =
        |e: &dyn std::fmt::Display| error_response(StatusCode::INTERNAL_SERVER_ERROR, Media::Json, error::internal(e));
    let computed = crate::recognitions::computed(&server.state, &caller, &published, None)
        .await
        .map_err(|e| failed(&e.message))?;
    let bytes = server
        .state
        .projector
        .read(|m| taizhang_io::export::board_xlsx(m, &published, &computed.1))
        .map_err(|e| failed(&e))?;
    Ok(Response::builder().content_type(sheet_type(true)).body(bytes))
}

/// `GET /export/recognitions[?halfYear=2011H1]`: the recognitions list (表彰名单) as a
/// workbook; members named where the caller may read their personal data.
#[handler]
async fn export_recognitions(req: &Request, server: Data<&Arc<Server>>) -> Response {
    let response = recognitions_answer(req, &server).await.unwrap_or_else(|refused| refused);
    server.state.metrics.request("/export/recognitions", response.status().as_u16());
    response
}

async fn recognitions_answer(req: &Request, server: &Server) -> Result<Response, Response> {
    let caller = server.caller(req, Media::Json).await?;
    permitted(&caller, Permission::ReadPublished)?;
    let params = params(req, &["halfYear"])?;
    let half_year = params
        .get("halfYear")
        .map(|h| taizhang_core::HalfYear::parse("halfYear", h))
        .transpose()
        .map_err(|e| bad_request(e.to_string()))?;
    let (state, may_name) = (&server.state, may_name(&caller));
    let bytes =
        taizhang_io::export::recognitions_xlsx(&state.ledger, &state.projector, &state.policies, half_year, may_name)
            .await
            .map_err(|e| error_response(StatusCode::INTERNAL_SERVER_ERROR, Media::Json, error::internal(&e)))?;
    Ok(Response::builder().content_type(sheet_type(true)).body(bytes))
}

/// The media type of an exported sheet.
fn sheet_type(xlsx: bool) -> &'static str {
    if xlsx {
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    } else {
        "text/csv; charset=utf-8"
    }
}

/// A 400 for a request whose parameters are wrong, saying what is.
fn bad_request(message: String) -> Response {
    http_error(StatusCode::BAD_REQUEST, Media::Json, Code::BadRequest, &message)
}

/// A 403 naming what `caller`'s role lacks.
fn forbidden(caller: &Principal, permission: Permission) -> Response {
    error_response(StatusCode::FORBIDDEN, Media::Json, crate::access::forbidden(caller.role, permission))
}

/// Refuses a caller whose role holds `permission` for no unit at all.
// The error is the answer itself, returned at once by the route (`?` into its
// `Result<Response, Response>`): boxing it would only add an allocation.
#[allow(clippy::result_large_err)]
fn permitted(caller: &Principal, permission: Permission) -> Result<(), Response> {
    match permission.grant(caller.role) {
        Grant::No => Err(forbidden(caller, permission)),
        Grant::Yes | Grant::OwnUnits => Ok(()),
    }
}

/// A route's query parameters, decoded, refused when one is not among `known`.
// The error is the answer itself, returned at once by the route (`?` into its
// `Result<Response, Response>`): boxing it would only add an allocation.
#[allow(clippy::result_large_err)]
fn params(req: &Request, known: &[&str]) -> Result<BTreeMap<String, String>, Response> {
    let params: BTreeMap<String, String> = req.params().map_err(|e| bad_request(format!("the query string: {e}")))?;
    match params.keys().find(|k| !known.contains(&k.as_str())) {
        Some(other) => Err(bad_request(format!("unknown parameter {other:?}: {}", known.join(", ")))),
        None => Ok(params),
    }
}

/// An export's period (`from`, `to`: this month so far by default) and scope (`unit` by
/// code or id, or `region`), refused as the command line refuses them: a unit or region
/// the log does not know is named, not answered with an empty file.
// The error is the answer itself, returned at once by the route (`?` into its
// `Result<Response, Response>`): boxing it would only add an allocation.
#[allow(clippy::result_large_err)]
fn period_and_scope(
    params: &BTreeMap<String, String>,
    server: &Server,
) -> Result<(taizhang_core::Period, Scope), Response> {
    let day = |key: &str| {
        params.get(key).map(|v| taizhang_core::parse_date(key, v)).transpose().map_err(|e| bad_request(e.to_string()))
    };
    let period =
        taizhang_io::export::period_or_this_month(day("from")?, day("to")?).map_err(|e| bad_request(e.to_string()))?;
    let scope = match (params.get("unit"), params.get("region")) {
        (Some(u), _) => Scope::Unit(u.parse().map_err(|e: taizhang_core::NotAReference| bad_request(e.to_string()))?),
        (None, Some(r)) => Scope::Region(r.clone()),
        (None, None) => Scope::All,
    };
    if let Some(problem) = server.state.projector.read(|m| taizhang_io::export::scope_problem(m, &scope)) {
        let named = params.get("unit").map_or(problem, |written| format!("there is no unit {written}"));
        return Err(http_error(StatusCode::NOT_FOUND, Media::Json, Code::NotFound, &named));
    }
    Ok((period, scope))
}

/// Whether `caller` may see a member's name in an export: where they may read the
/// member's personal data (a clerk: members of their own units).
fn may_name(caller: &Principal) -> impl Fn(&taizhang_read::ReadModel, taizhang_core::MemberId) -> bool + '_ {
    |m, member| m.member_unit(member, m.position).is_some_and(|u| caller.reaches(Permission::ReadPersonal, u))
}

/// `GET /backup`: the log as JSON Lines, the form `taizhang restore` reads, up to the
/// head when the request arrived (`X-Log-Position`): a point in the log, taken while the
/// server goes on serving. Streamed a page of 4,096 events at a time, so memory stays
/// flat whatever the log's size, and the store is read as any reader reads it.
#[handler]
async fn backup_log(req: &Request, server: Data<&Arc<Server>>) -> Response {
    if let Err(refused) = backup_caller(req, &server, "/backup").await {
        return refused;
    }
    let store = server.state.store().clone();
    let cursor = taizhang_store::backup::BackupCursor::new(store.head());
    let upto = cursor.upto();
    let pages = backup_pages(store, cursor);
    server.state.metrics.request("/backup", 200);
    Response::builder()
        .content_type("application/jsonl")
        .header("X-Log-Position", upto)
        .body(Body::from_bytes_stream(pages))
}

/// The pages of an online backup (each a read of 4,096 events and their JSON, some tens
/// of milliseconds), made on a thread of its own at a lower scheduling priority: the
/// runtime's workers go on answering everyone else, first. At most two pages wait to
/// be sent, so memory stays flat; the thread stops when the download does.
fn backup_pages(
    store: Arc<taizhang_store::AnyStore>,
    mut cursor: taizhang_store::backup::BackupCursor,
) -> impl futures_util::Stream<Item = std::io::Result<bytes::Bytes>> {
    let (pages, received) = tokio::sync::mpsc::channel::<std::io::Result<bytes::Bytes>>(2);
    let runtime = tokio::runtime::Handle::current();
    let made = std::thread::Builder::new().name("taizhang-backup".into()).spawn(move || {
        crate::lower_priority();
        loop {
            let page = match runtime.block_on(cursor.next_page(store.as_ref())) {
                Ok(Some(lines)) => Ok(bytes::Bytes::from(lines)),
                Ok(None) => return,
                Err(e) => {
                    tracing::error!("online backup stopped: {e}");
                    Err(std::io::Error::other(e.to_string()))
                }
            };
            let failed = page.is_err();
            if pages.blocking_send(page).is_err() || failed {
                return;
            }
        }
    });
    let first = made.err().map(|e| Err(std::io::Error::other(format!("starting the backup: {e}"))));
    let rest = futures_util::stream::unfold(received, |mut received| async move {
        received.recv().await.map(|page| (page, received))
    });
    futures_util::StreamExt::chain(futures_util::stream::iter(first), rest)
}

/// `GET /backup/keys`: the member keys, still wrapped by the master key (which the
/// server never sends), as the keys file of a backup.
#[handler]
async fn backup_keys(req: &Request, server: Data<&Arc<Server>>) -> Response {
    if let Err(refused) = backup_caller(req, &server, "/backup/keys").await {
        return refused;
    }
    let keys = taizhang_store::keys::KeyStore::of(server.state.store().as_ref());
    let exported = keys.export().await.map_err(|e| error::internal(&e));
    let response = match exported {
        Ok(entries) => {
            Response::builder().content_type("application/jsonl").body(taizhang_store::backup::key_lines(&entries))
        }
        Err(e) => error_response(StatusCode::INTERNAL_SERVER_ERROR, Media::Json, e),
    };
    server.state.metrics.request("/backup/keys", response.status().as_u16());
    response
}

#[handler]
async fn metrics(req: &Request, server: Data<&Arc<Server>>) -> Response {
    if let Err(refused) = server.caller(req, Media::Json).await {
        server.state.metrics.request("/metrics", refused.status().as_u16());
        return refused;
    }
    server.state.metrics.request("/metrics", 200);
    Response::builder()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(server.state.metrics.render(&server.state))
}

/// Headers of every public page: nothing runs, nothing is fetched from elsewhere, forms
/// go only to this server, and no other site frames it.
fn guarded(response: poem::ResponseBuilder) -> poem::ResponseBuilder {
    response.header(header::X_CONTENT_TYPE_OPTIONS, "nosniff").header(
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; frame-ancestors 'none'",
    )
}

/// Whether a form post came from one of this server's own pages. A browser says where
/// a request comes from (`Sec-Fetch-Site`, or at least `Origin`), and a post another
/// site's page made is refused, so no page elsewhere can make a visitor's browser send
/// our forms. A client that names no origin is not a browser acting for someone else.
pub(crate) fn same_origin(req: &Request) -> bool {
    if let Some(site) = header_str(req, header::HeaderName::from_static("sec-fetch-site")) {
        return matches!(site, "same-origin" | "none");
    }
    match header_str(req, header::ORIGIN) {
        None => true,
        Some(origin) => {
            let host = origin.split_once("://").map(|(_, host)| host);
            host.is_some() && host == header_str(req, header::HOST)
        }
    }
}

/// Whether `a` and `b` are the same bytes, in a time that does not depend on where they
/// differ (a check code, a form's proof or a CSRF token is not guessed a byte at a time).
pub(crate) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    subtle::ConstantTimeEq::ct_eq(a, b).into()
}

/// Headers of every public answer about a person's own records (a certificate's check,
/// check-in, a correction request): [`guarded`], nothing kept by any cache, and the codes
/// in the address go to no other site.
fn public(response: poem::ResponseBuilder) -> poem::ResponseBuilder {
    guarded(response).header(header::CACHE_CONTROL, "no-store").header(header::REFERRER_POLICY, "no-referrer")
}

/// `GET /certificates/{number}?code=…`: the public check of a certificate, without a
/// token. A number with the wrong code, or none, is answered as a number that does not
/// exist (a number alone lists nothing), and counts as a guess for the address.
/// Browsers get a page; other clients JSON.
#[handler]
async fn certificate_check(
    req: &Request,
    poem::web::Path(number): poem::web::Path<String>,
    server: Data<&Arc<Server>>,
) -> Response {
    let response = check_answer(req, &number, &server).await.unwrap_or_else(|refused| refused);
    server.state.metrics.request("/certificates", response.status().as_u16());
    response
}

/// What the public check shows: what the certificate itself states, its status and
/// whether its lines still read so in the log.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PublicCheck {
    number: String,
    status: &'static str,
    status_text: &'static str,
    /// The holder's name, or null once the member was erased.
    holder: Option<String>,
    issuer: String,
    issued_at: String,
    first: String,
    last: String,
    hours: String,
    /// Of the hours, those the member recorded by checking in and out at the site.
    credit_hours: String,
    outings: Vec<PublicLine>,
    revoked_reason: Option<String>,
    /// The outings whose records no longer read as the certificate states them.
    changed_outings: Vec<String>,
    /// Whether the certificate's lines, read from the log now, still hash to the digest
    /// it records.
    log_digest_matches: bool,
    signing_key: String,
    checked_at: taizhang_store::Position,
}

#[derive(Serialize)]
struct PublicLine {
    date: String,
    span: String,
    place: String,
    category: String,
    hours: String,
    /// Recorded by the member's check-in and check-out (credit hours), not entered by
    /// the unit afterwards.
    credit: bool,
}

async fn check_answer(req: &Request, number: &str, server: &Server) -> Result<Response, Response> {
    let html = header_str(req, header::ACCEPT).is_some_and(|a| a.contains("text/html"));
    let params = params(req, &["code"])?;
    let code = params.get("code").map(|c| taizhang_core::typed_code::normalise(c)).unwrap_or_default();
    let id = taizhang_core::CertificateId::of_code(number.trim());
    let found = server.state.projector.read(|m| {
        let record = m.certificates.get(&id)?.clone();
        let expected = taizhang_credential::check_code(record.issued.signature.value.as_str());
        let matches = same_bytes(expected.as_bytes(), code.as_bytes());
        matches.then(|| {
            let changed = taizhang_read::certificates::changed_lines(m, &record.issued, m.position);
            let status = taizhang_read::certificates::CertificateStatus::of(&record, m.position);
            let unit = m.unit(record.issued.unit, record.issued.as_of).map(|u| u.name.to_string());
            let credited = taizhang_read::certificates::credited_lines(m, &record.issued);
            (record, changed, status, unit, credited, m.position)
        })
    });
    let Some((record, changed, status, unit, credited, position)) = found else {
        if let Some(address) = remote_ip(req) {
            let hold = server.code_limiter.failure(address, Instant::now());
            if !hold.is_zero() {
                let _held = server.state.metrics.held();
                tokio::time::sleep(hold).await;
            }
        }
        let message = "no certificate has this number and check code: check both as printed on the certificate";
        return Err(if html {
            public(Response::builder().status(StatusCode::NOT_FOUND).content_type("text/html; charset=utf-8"))
                .body(check_page(None, message))
        } else {
            http_error(StatusCode::NOT_FOUND, Media::Json, Code::NotFound, message)
        });
    };
    let issued = &record.issued;
    let holder = match server.state.ledger.personal_at(issued.member, issued.personal_version).await {
        Ok(taizhang_app::Personal::Known(p)) => Some(p.name.to_string()),
        Ok(taizhang_app::Personal::Erased) => None,
        Err(e) => return Err(error_response(StatusCode::INTERNAL_SERVER_ERROR, Media::Json, error::app(e))),
    };
    let hours = |minutes: u64| taizhang_credential::certificate::hours(minutes);
    let (status, status_text) = match status {
        taizhang_read::certificates::CertificateStatus::Valid => ("valid", "有效"),
        taizhang_read::certificates::CertificateStatus::Superseded => {
            ("superseded", "已被更正取代：所涉记录已更改，请向出具单位申请重新出具")
        }
        taizhang_read::certificates::CertificateStatus::Revoked => ("revoked", "已撤销"),
    };
    let check = PublicCheck {
        number: issued.number.to_string(),
        status,
        status_text,
        holder,
        issuer: unit.unwrap_or_else(|| issued.unit.to_string()),
        issued_at: issued.signature.created.to_string(),
        first: issued.first.to_string(),
        last: issued.last.to_string(),
        hours: hours(issued.lines.iter().map(|l| l.minutes.get() as u64).sum()),
        credit_hours: hours(
            issued.lines.iter().zip(&credited).filter(|(_, c)| **c).map(|(l, _)| l.minutes.get() as u64).sum(),
        ),
        outings: issued
            .lines
            .iter()
            .zip(&credited)
            .map(|(l, credit)| PublicLine {
                date: l.date.to_string(),
                span: l.span.to_string(),
                place: l.place.to_string(),
                category: l.category.to_string(),
                hours: hours(l.minutes.get() as u64),
                credit: *credit,
            })
            .collect(),
        revoked_reason: record.revoked.as_ref().map(|(_, r)| r.to_string()),
        log_digest_matches: changed.is_empty(),
        changed_outings: changed.iter().map(|o| o.to_string()).collect(),
        signing_key: issued.signature.key.to_string(),
        checked_at: position,
    };
    Ok(if html {
        public(Response::builder().content_type("text/html; charset=utf-8")).body(check_page(Some(&check), ""))
    } else {
        public(Response::builder().content_type(JSON)).body(serde_json::to_vec(&check).expect("a check serialises"))
    })
}

/// The public check as a page, for a phone that scanned the QR code.
fn check_page(check: Option<&PublicCheck>, message: &str) -> String {
    let e = |s: &str| taizhang_io::certificate::html_escape(s);
    let body = match check {
        None => format!(
            "<p class=\"bad\">{}</p><p>未找到与该编号和核验码对应的证明，请核对证明上印的编号与核验码。</p>",
            e(message)
        ),
        Some(c) => {
            let rows = taizhang_io::certificate::service_rows(c.outings.iter().map(|l| {
                let how = taizhang_io::certificate::recorded_how(l.credit).to_owned();
                [l.date.clone(), l.span.clone(), l.place.clone(), l.category.clone(), how, l.hours.clone()]
            }));
            let revoked = c.revoked_reason.as_deref().map(|r| format!("<p>撤销原因：{}</p>", e(r))).unwrap_or_default();
            format!(
                "<p class=\"{status}\">{status_text}</p>{revoked}<dl><dt>证明编号</dt><dd>{number}</dd><dt>持证人</dt><dd>{holder}</dd>\
                 <dt>出具单位</dt><dd>{issuer}</dd><dt>服务期间</dt><dd>{first} 至 {last}</dd><dt>累计时长</dt><dd>{hours} 小时（签到签退记录 {credit} 小时）</dd>\
                 <dt>出具时间</dt><dd>{issued}</dd></dl><div class=\"wrap\" tabindex=\"0\" role=\"region\" aria-label=\"服务记录\"><table><thead>{head}</thead><tbody>{rows}</tbody></table></div>\
                 <p class=\"meta\">核验于日志位置 {at}；签名密钥 {key}</p>",
                status = c.status,
                status_text = e(c.status_text),
                number = e(&c.number),
                holder = c.holder.as_deref().map_or_else(|| "（个人信息已依申请删除）".to_owned(), e),
                issuer = e(&c.issuer),
                first = e(&c.first),
                last = e(&c.last),
                hours = e(&c.hours),
                credit = e(&c.credit_hours),
                head = taizhang_io::certificate::SERVICE_HEAD,
                issued = e(&c.issued_at),
                at = c.checked_at,
                key = e(&c.signing_key),
            )
        }
    };
    format!(
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>志愿服务记录证明核验</title><style>body{{font-family:system-ui,sans-serif;max-width:40em;margin:0 auto;padding:1em;color:#111}}\
         .valid{{color:#0a5d22;font-weight:bold;font-size:1.3em}}.superseded,.revoked,.bad{{color:#8a1c1c;font-weight:bold;font-size:1.2em}}\
         dt{{font-weight:bold}}dd{{margin:0 0 .5em 0}}.wrap{{overflow-x:auto}}table{{border-collapse:collapse;width:100%}}\
         td,th{{border:1px solid #999;padding:.25em .4em;text-align:left}}.n{{text-align:right}}.meta{{font-size:.8em;color:#444;word-break:break-all}}</style></head>\
         <body><main><h1>志愿服务记录证明核验</h1>{body}</main></body></html>"
    )
}

/// `GET /certificates/status/{year}/{revocation|superseded}`: the year's Bitstring
/// Status List credential, signed with the installation's current key, without a
/// token. Made once per log position and key, then served from memory.
#[handler]
async fn certificate_status(
    poem::web::Path((year, purpose)): poem::web::Path<(i32, String)>,
    server: Data<&Arc<Server>>,
) -> Response {
    use taizhang_credential::status::{self, StatusPurpose};
    let response = 'answer: {
        let purpose = match purpose.as_str() {
            "revocation" => StatusPurpose::Revocation,
            "superseded" => StatusPurpose::Superseded,
            other => break 'answer bad_request(format!("{other:?} is not a status list: revocation or superseded")),
        };
        let Some(settings) = server.state.certificates.as_ref() else {
            break 'answer http_error(
                StatusCode::NOT_FOUND,
                Media::Json,
                Code::NotFound,
                "this server issues no certificates",
            );
        };
        let key = match taizhang_store::signing_key::load_or_create(&settings.key_file) {
            Ok(key) => key,
            Err(e) => {
                tracing::error!("certificate signing key: {e}");
                break 'answer http_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    Media::Json,
                    Code::Unavailable,
                    "the signing key cannot be read",
                );
            }
        };
        // Only the years that have certificates, and this one: a list of another year
        // would be signed (and kept) for nothing.
        let this_year = taizhang_core::Timestamp::now().service_date().year();
        if year != this_year && server.state.projector.read(|m| m.year_certificates(year).next().is_none()) {
            break 'answer http_error(
                StatusCode::NOT_FOUND,
                Media::Json,
                Code::NotFound,
                "no certificates were issued that year",
            );
        }
        let position = server.state.projector.position();
        let cache_key = (year, purpose.path(), position, key.public().multibase());
        if let Some(body) = server.status_lists.lock().expect("status list cache").get(&cache_key) {
            break 'answer public(Response::builder().content_type(JSON)).body(body.clone());
        }
        let (set, length) = server.state.projector.read(|m| {
            let set: Vec<u32> = m
                .year_certificates(year)
                .filter(|(_, id)| {
                    m.certificates.get(id).is_some_and(|c| match purpose {
                        StatusPurpose::Revocation => c.revoked.is_some(),
                        StatusPurpose::Superseded => c.superseded.is_some(),
                    })
                })
                .map(|(i, _)| i)
                .collect();
            (set, taizhang_read::certificates::next_index(m, year) as usize)
        });
        let url = format!("{}/certificates/status/{year}/{}", settings.base_url.trim_end_matches('/'), purpose.path());
        let valid_from = taizhang_core::Timestamp::now().to_rfc3339_seconds();
        let unsigned =
            status::list_credential(&url, &key.public().did(), purpose, &valid_from, status::encode_list(set, length));
        let signed = taizhang_credential::sign(unsigned, &key, &valid_from).expect("a status list is unsigned");
        let body = bytes::Bytes::from(serde_json::to_vec(&signed).expect("a credential serialises"));
        let mut cache = server.status_lists.lock().expect("status list cache");
        if cache.len() >= 64 {
            cache.clear();
        }
        cache.insert(cache_key, body.clone());
        public(Response::builder().content_type(JSON)).body(body)
    };
    server.state.metrics.request("/certificates/status", response.status().as_u16());
    response
}

/// `GET /export/certificate?number=…[&format=html]`: a certificate's signed credential
/// (JSON), or its printable page, for whoever may read the holder's personal data.
#[handler]
async fn export_certificate(req: &Request, server: Data<&Arc<Server>>) -> Response {
    let response = certificate_file(req, &server).await.unwrap_or_else(|refused| refused);
    server.state.metrics.request("/export/certificate", response.status().as_u16());
    response
}

async fn certificate_file(req: &Request, server: &Server) -> Result<Response, Response> {
    let caller = server.caller(req, Media::Json).await?;
    permitted(&caller, Permission::ReadPersonal)?;
    let params = params(req, &["number", "format"])?;
    let number = params.get("number").ok_or_else(|| bad_request("number: give the certificate's number".into()))?;
    let html = match params.get("format").map(String::as_str) {
        None | Some("json") => false,
        Some("html") => true,
        Some(other) => return Err(bad_request(format!("format must be json or html, not {other:?}"))),
    };
    let id = taizhang_core::CertificateId::parse_ref(number.trim());
    let issued = taizhang_io::certificate::read(&server.state.ledger, &server.state.projector, id)
        .await
        .map_err(|e| error_response(StatusCode::NOT_FOUND, Media::Json, crate::certificates::certificate_error(e)))?;
    if !caller.reaches(Permission::ReadPersonal, issued.record.issued.unit) {
        return Err(forbidden(&caller, Permission::ReadPersonal));
    }
    let name = format!("certificate-{}.{}", issued.record.issued.number, if html { "html" } else { "json" });
    let builder = Response::builder().header(header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\""));
    Ok(if html {
        builder.content_type("text/html; charset=utf-8").body(taizhang_io::certificate::printable_html(&issued))
    } else {
        let json = serde_json::to_vec_pretty(&issued.document).expect("a credential serialises");
        builder.content_type(JSON).body(json)
    })
}

/// `GET /certificates/keys`: the public keys this installation signs with now and has
/// signed certificates with, without a token: what a verifier pins.
#[handler]
async fn certificate_keys(server: Data<&Arc<Server>>) -> Response {
    let current = server
        .state
        .certificates
        .as_ref()
        .and_then(|s| taizhang_store::signing_key::public(&s.key_file).ok().flatten())
        .map(|k| k.multibase());
    let used: std::collections::BTreeSet<String> =
        server.state.projector.read(|m| m.certificates.values().map(|c| c.issued.signature.key.to_string()).collect());
    let body = serde_json::json!({ "current": current, "signed": used });
    server.state.metrics.request("/certificates/keys", 200);
    public(Response::builder().content_type(JSON)).body(serde_json::to_vec(&body).expect("JSON"))
}

/// `GET /export/certificates?member=…|unit=…[&format=xlsx]`: a member's certificates or
/// a unit's, with their status, as `taizhang certificate list` writes them.
#[handler]
async fn export_certificates(req: &Request, server: Data<&Arc<Server>>) -> Response {
    let response = certificates_answer(req, &server).await.unwrap_or_else(|refused| refused);
    server.state.metrics.request("/export/certificates", response.status().as_u16());
    response
}

async fn certificates_answer(req: &Request, server: &Server) -> Result<Response, Response> {
    let caller = server.caller(req, Media::Json).await?;
    permitted(&caller, Permission::ReadRecords)?;
    let params = params(req, &["member", "unit", "format"])?;
    let xlsx = params.get("format").is_some_and(|f| f == "xlsx");
    let member = params.get("member").map(|m| taizhang_core::MemberId::parse_ref(m.trim()));
    let unit = params.get("unit").map(|u| taizhang_core::UnitId::parse_ref(u.trim()));
    if member.is_none() && unit.is_none() {
        return Err(bad_request("give member or unit".into()));
    }
    let file = server.state.projector.read(|m| taizhang_io::export::certificate_list(m, member, unit, xlsx));
    let bytes =
        file.map_err(|e| error_response(StatusCode::INTERNAL_SERVER_ERROR, Media::Json, error::internal(&e)))?;
    Ok(Response::builder().content_type(sheet_type(xlsx)).body(bytes))
}
