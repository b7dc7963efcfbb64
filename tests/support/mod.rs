//! The real server, started on port 0 over a fresh data directory, for end-to-end tests.
#![allow(dead_code)] // each test binary uses a part

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub mod browser;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

/// A running server over its own data directory; killed when dropped.
pub struct Server {
    child: Child,
    pub url: String,
    dir: tempfile::TempDir,
    /// A client that sends the admin token with every request.
    pub http: reqwest::Client,
    /// The admin token, created with `taizhang token create` before the server started.
    pub admin: String,
}

/// `taizhang --data <dir>`, with the master key in `<dir>/master.key` unless the options
/// name another: each test's data and key are its own, and go with its directory.
pub fn command(dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_taizhang"));
    command.args(["--data", dir.to_str().unwrap()]).env("TAIZHANG_MASTER_KEY_FILE", dir.join("master.key"));
    command
}

/// Runs `taizhang --data <dir> <options> <args>` to completion and returns its stdout.
pub fn taizhang(dir: &std::path::Path, options: &[&str], args: &[&str]) -> String {
    let output = command(dir).args(options).args(args).output().expect("taizhang runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "taizhang {args:?} failed: {stderr}");
    String::from_utf8(output.stdout).unwrap()
}

/// The address a `taizhang serve` child prints on its first line of output.
pub fn served_url(child: &mut std::process::Child) -> String {
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout piped")).read_line(&mut line).unwrap();
    line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("unexpected: {line:?}")).to_owned()
}

/// A client that sends `token` as its bearer token with every request.
pub fn client_with(token: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::AUTHORIZATION, format!("Bearer {token}").parse().unwrap());
    reqwest::Client::builder().default_headers(headers).build().unwrap()
}

/// A policy directory in `dir` whose ten-star policies list their awards' nominations
/// for no days (the built-ins list them five working days), so that a test decides at
/// once; returns its path.
pub fn quick_award_policies(dir: &std::path::Path) -> String {
    let policies = dir.join("policies");
    std::fs::create_dir_all(&policies).unwrap();
    for name in ["ten-star-unit-default", "ten-star-named-default"] {
        let built_in = format!("{}/crates/taizhang-read/policies/{name}.toml", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(built_in).unwrap().replace("[[awards]]\n", "[[awards]]\nlisting_days = 0\n");
        std::fs::write(policies.join(format!("{name}.toml")), text).unwrap();
    }
    policies.display().to_string()
}

/// On `server` (with [`quick_award_policies`]): unit SY-0001 (十堰市人民医院) rated by one
/// satisfied ballot and a leaders' 95 in an evaluation of 2011H1, the unit board of the
/// half-year published (ten stars held at nine by the quota), and SY-0001 nominated as
/// a satisfied window. Answers the board's id and the recognition's.
pub async fn nominated_window(server: &Server) -> (String, String) {
    let unit = r#"mutation { registerUnit(input: { name: "十堰市人民医院", code: "SY-0001", industry: "医疗卫生", region: "茅箭区" }) { unit { id } } }"#;
    server.ok(unit, json!({})).await;
    let open = r#"mutation { openEvaluation(input: { name: "2011年上半年群众评议", halfYear: "2011H1", subject: UNITS }) { evaluation { id } } }"#;
    let evaluation =
        server.ok(open, json!({})).await["openEvaluation"]["evaluation"]["id"].as_str().unwrap().to_owned();
    let ballot = r#"mutation($e: ID!) { castBallot(input: { evaluation: $e, rated: { unit: "SY-0001" }, voter: CITIZEN, rating: SATISFIED }) { ballot } }"#;
    server.ok(ballot, json!({ "e": evaluation })).await;
    let review = r#"mutation($e: ID!) { reviewAsLeader(input: { evaluation: $e, rated: { unit: "SY-0001" }, score: 95 }) { receipt { position } } }"#;
    server.ok(review, json!({ "e": evaluation })).await;
    let publish = r#"mutation { publishBoard(input: { name: "2011年上半年星级榜", policy: "ten-star-unit-default", halfYear: "2011H1" }) { board { id } } }"#;
    let board = server.ok(publish, json!({})).await["publishBoard"]["board"]["id"].as_str().unwrap().to_owned();
    let nominate = r#"mutation { nominateRecognition(input: { award: "satisfied-window", halfYear: "2011H1", nominee: { unit: "SY-0001" } }) { recognition { id } } }"#;
    let nominated = server.ok(nominate, json!({})).await;
    (board, nominated["nominateRecognition"]["recognition"]["id"].as_str().unwrap().to_owned())
}

impl Server {
    pub fn start() -> Self {
        Self::start_in(tempfile::tempdir().unwrap())
    }

    pub fn start_in(dir: tempfile::TempDir) -> Self {
        Self::start_with(dir, &[])
    }

    /// A server over `dir` with more global options (`--store`, `--master-key-file`…).
    pub fn start_with(dir: tempfile::TempDir, options: &[&str]) -> Self {
        Self::launch(dir, options, &[], None)
    }

    /// A server whose awards are listed for no days ([`quick_award_policies`]).
    pub fn start_with_quick_awards() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let policies = quick_award_policies(dir.path());
        Self::start_with(dir, &["--policy-dir", &policies])
    }

    /// A server with more environment variables (`TAIZHANG_MAX_CONNECTIONS`…).
    pub fn start_with_env(envs: &[(&str, &str)]) -> Self {
        Self::launch(tempfile::tempdir().unwrap(), &[], envs, None)
    }

    /// A server that logs at debug level into `log`.
    pub fn start_logging(dir: tempfile::TempDir, log: std::fs::File) -> Self {
        Self::launch(dir, &[], &[], Some(log))
    }

    fn launch(dir: tempfile::TempDir, options: &[&str], envs: &[(&str, &str)], log: Option<std::fs::File>) -> Self {
        // Offline, against the data directory, as an operator would on a new install.
        let admin =
            taizhang(dir.path(), options, &["token", "create", "--role", "admin", "--name", "tests"]).trim().to_owned();
        let mut child = command(dir.path())
            .args(options)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("RUST_LOG", if log.is_some() { "debug" } else { "warn" })
            .envs(envs.iter().copied())
            .stdout(Stdio::piped())
            .stderr(log.map_or_else(Stdio::inherit, Stdio::from))
            .spawn()
            .expect("taizhang starts");
        let url = served_url(&mut child);
        Self { child, url, dir, http: client_with(&admin), admin }
    }

    /// The server's data directory (its master key and signing key are in it).
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// POSTs a GraphQL request as the admin (Accept: application/graphql-response+json)
    /// and returns the status and the body.
    pub async fn post(&self, query: &str, variables: Value) -> (u16, Value) {
        self.post_with(&self.http, query, variables).await
    }

    /// The same with another client (another token, or none).
    pub async fn post_with(&self, client: &reqwest::Client, query: &str, variables: Value) -> (u16, Value) {
        let response = client
            .post(format!("{}/graphql", self.url))
            .header("accept", "application/graphql-response+json")
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    /// Runs a request that must succeed and returns its `data`.
    pub async fn ok(&self, query: &str, variables: Value) -> Value {
        let (status, body) = self.post(query, variables).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.get("errors").is_none(), "unexpected errors: {body}");
        body["data"].clone()
    }

    /// Runs a request that must fail with one error and returns that error.
    pub async fn error(&self, query: &str, variables: Value) -> Value {
        let (_, body) = self.post(query, variables).await;
        let errors = body["errors"].as_array().unwrap_or_else(|| panic!("expected errors: {body}"));
        assert_eq!(errors.len(), 1, "{body}");
        errors[0].clone()
    }

    /// Creates a token over GraphQL (`units`: a clerk's) and returns its secret.
    pub async fn token(&self, role: &str, units: &[&str], expires_in_days: Option<u32>) -> String {
        let create = "mutation($role: Role!, $units: [ID!]!, $days: Int) { \
            createToken(input: { role: $role, units: $units, expiresInDays: $days }) { secret } }";
        let data = self.ok(create, json!({ "role": role, "units": units, "days": expires_in_days })).await;
        data["createToken"]["secret"].as_str().unwrap().to_owned()
    }

    /// The value of one line of `/metrics` (a metric without labels), read as the admin.
    pub async fn metric(&self, name: &str) -> u64 {
        let text = self.http.get(format!("{}/metrics", self.url)).send().await.unwrap().text().await.unwrap();
        let line = text.lines().find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')));
        line.unwrap_or_else(|| panic!("no {name} in /metrics: {text}")).parse().unwrap()
    }

    pub async fn head(&self) -> u64 {
        self.ok("{ head { position } }", json!({})).await["head"]["position"].as_u64().unwrap()
    }

    /// Stops the server with SIGTERM and returns its exit status.
    pub fn terminate(mut self) -> (std::process::ExitStatus, tempfile::TempDir) {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(status.success());
        let exit = self.child.wait().unwrap();
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap());
        (exit, dir)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A graphql-transport-ws client.
pub struct WsClient {
    socket: tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
}

impl WsClient {
    /// Connects and authenticates with `token`; panics unless acknowledged.
    pub async fn connect(server: &Server, token: &str) -> Self {
        let mut client = Self::open(server, Some(token)).await;
        let ack = client.receive().await;
        assert_eq!(ack["type"], "connection_ack", "{ack}");
        client
    }

    /// Connects and sends `connection_init`, with `token` when given, without waiting.
    pub async fn open(server: &Server, token: Option<&str>) -> Self {
        let mut client = Self::open_silent(server).await;
        let payload = token.map_or(json!({}), |t| json!({ "Authorization": format!("Bearer {t}") }));
        client.send(json!({ "type": "connection_init", "payload": payload })).await;
        client
    }

    /// Connects and sends nothing.
    pub async fn open_silent(server: &Server) -> Self {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut request =
            format!("{}/graphql/ws", server.url.replace("http://", "ws://")).into_client_request().unwrap();
        request.headers_mut().insert("sec-websocket-protocol", "graphql-transport-ws".parse().unwrap());
        let (socket, response) = tokio_tungstenite::connect_async(request).await.unwrap();
        assert_eq!(response.headers()["sec-websocket-protocol"], "graphql-transport-ws");
        Self { socket }
    }

    pub async fn send(&mut self, message: Value) {
        self.socket.send(Message::Text(message.to_string().into())).await.unwrap();
    }

    /// The next message: text as JSON, a close frame as `{"close": code, "reason": …}`.
    pub async fn receive(&mut self) -> Value {
        self.receive_within(Duration::from_secs(10)).await
    }

    /// [`WsClient::receive`], waiting at most `limit`; a connection that ends without a
    /// close frame is `{"close": null, "ended": why}`.
    pub async fn receive_within(&mut self, limit: Duration) -> Value {
        loop {
            let next = tokio::time::timeout(limit, self.socket.next()).await.expect("a message in time");
            let message = match next {
                Some(Ok(message)) => message,
                Some(Err(e)) => return json!({ "close": null, "ended": e.to_string() }),
                None => return json!({ "close": null, "ended": "the stream ended" }),
            };
            match message {
                Message::Text(text) => return serde_json::from_str(&text).unwrap(),
                Message::Close(Some(frame)) => {
                    return json!({ "close": u16::from(frame.code), "reason": frame.reason.to_string() })
                }
                Message::Close(None) => return json!({ "close": null }),
                _ => {}
            }
        }
    }

    pub async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        self.send(json!({ "id": id, "type": "subscribe", "payload": { "query": query, "variables": variables } }))
            .await;
    }

    /// The next message about operation `id` that is not its completion.
    pub async fn answer(&mut self, id: &str) -> Value {
        loop {
            let message = self.receive().await;
            if message.get("close").is_some() || (message["id"] == id && message["type"] != "complete") {
                return message;
            }
        }
    }

    /// The next `next` message's data.
    pub async fn next_data(&mut self) -> Value {
        let message = self.receive().await;
        assert_eq!(message["type"], "next", "{message}");
        assert!(message["payload"].get("errors").is_none(), "{message}");
        message["payload"]["data"].clone()
    }
}

/// Today in China Standard Time (where the units are), and the minute of its day now.
pub fn service_now() -> (time::Date, u16) {
    let now = time::OffsetDateTime::now_utc().to_offset(time::macros::offset!(+8));
    (now.date(), now.hour() as u16 * 60 + now.minute() as u16)
}

/// [`service_now`], at least a minute into the day: a test of an outing under way
/// needs one that began before now.
pub async fn service_now_past_midnight() -> (time::Date, u16) {
    if service_now().1 == 0 {
        tokio::time::sleep(Duration::from_secs(61)).await;
    }
    service_now()
}

/// `hh:mm` of a minute of the day.
pub fn clock(minutes: u16) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// The value of the form field `name` on an HTML page (`name="…" value="…"`).
pub fn form_value(page: &str, name: &str) -> Option<String> {
    let at = page.find(&format!("name=\"{name}\" value=\""))? + name.len() + 15;
    Some(page[at..at + page[at..].find('"')?].to_owned())
}

/// Leaves an opinion on `unit`'s page as a citizen's browser at `from` (a loopback
/// address: the notice board counts opinions per address) does: the page's form with
/// its proof, `fields` besides, posted from the same origin. Answers the status and the
/// page.
pub async fn leave_opinion(url: &str, unit: &str, from: [u8; 4], fields: &[(&str, &str)]) -> (u16, String) {
    let public = reqwest::Client::builder().local_address(std::net::IpAddr::from(from)).build().unwrap();
    let page = public.get(format!("{url}/units/{unit}")).send().await.unwrap().text().await.unwrap();
    let proof = form_value(&page, "proof").unwrap_or_else(|| panic!("no opinion form on the page: {page}"));
    let mut form = vec![("proof", proof.as_str())];
    form.extend_from_slice(fields);
    let sent = public
        .post(format!("{url}/units/{unit}/opinions"))
        .header("sec-fetch-site", "same-origin")
        .form(&form)
        .send()
        .await
        .unwrap();
    (sent.status().as_u16(), sent.text().await.unwrap())
}
