//! GraphiQL in a real browser: headless Chromium, driven through ChromeDriver's
//! WebDriver API, loads `GET /graphql` from the real server, runs a query and opens the
//! Docs panel. Under CI
//! (`.ci/run` installs Debian's chromium and chromium-driver) a missing browser is a
//! failure; elsewhere the test says it was skipped and why.

mod support;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::Server;

/// The element key of the W3C WebDriver protocol.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

fn installed(program: &str) -> Option<String> {
    let output = Command::new("sh").args(["-c", &format!("command -v {program}")]).output().ok()?;
    output.status.success().then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

struct Driver {
    child: Child,
    url: String,
    http: reqwest::Client,
    session: String,
}

impl Driver {
    async fn start(driver: &str, browser: &str) -> Self {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let url = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let started = Instant::now();
        while http.get(format!("{url}/status")).send().await.is_err() {
            assert!(started.elapsed() < Duration::from_secs(20), "chromedriver did not answer");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let capabilities = json!({ "capabilities": { "alwaysMatch": { "browserName": "chrome", "goog:chromeOptions": {
            "binary": browser,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        } } } });
        let created: Value =
            http.post(format!("{url}/session")).json(&capabilities).send().await.unwrap().json().await.unwrap();
        let session =
            created["value"]["sessionId"].as_str().unwrap_or_else(|| panic!("no session: {created}")).to_owned();
        Self { child, url, http, session }
    }

    async fn command(&self, path: &str, body: Value) -> Value {
        let url = format!("{}/session/{}/{path}", self.url, self.session);
        let answer: Value = self.http.post(url).json(&body).send().await.unwrap().json().await.unwrap();
        answer["value"].clone()
    }

    /// Waits (at most 20 s) for an element matching `css`.
    async fn element(&self, css: &str) -> String {
        let started = Instant::now();
        loop {
            let found = self.command("element", json!({ "using": "css selector", "value": css })).await;
            if let Some(id) = found[ELEMENT].as_str() {
                return id.to_owned();
            }
            assert!(started.elapsed() < Duration::from_secs(20), "no {css} on the page: {found}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Waits (at most 20 s) until `element`'s text holds `wanted`, and returns it; fails
    /// at once on a text holding `refused`.
    async fn text_with(&self, element: &str, wanted: &str, refused: &str) -> String {
        let started = Instant::now();
        loop {
            let text = self.text(element).await;
            assert!(!text.contains(refused), "{text}");
            if text.contains(wanted) {
                return text;
            }
            assert!(started.elapsed() < Duration::from_secs(20), "no {wanted:?} appeared: {text:?}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn text(&self, element: &str) -> String {
        let url = format!("{}/session/{}/element/{element}/text", self.url, self.session);
        let answer: Value = self.http.get(url).send().await.unwrap().json().await.unwrap();
        answer["value"].as_str().unwrap_or_default().to_owned()
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn graphiql_loads_in_a_browser_runs_a_query_and_shows_the_docs() {
    let (Some(driver), Some(browser)) = (installed("chromedriver"), installed("chromium")) else {
        let why = "chromium and chromedriver are not installed (Debian: apt-get install chromium chromium-driver)";
        assert!(std::env::var_os("CI").is_none(), "{why}");
        eprintln!("skipped: {why}");
        return;
    };
    let server = Server::start();
    let register = r#"mutation { registerUnit(input: { name: "十堰市人民医院", industry: "医疗卫生", region: "茅箭区" }) { receipt { position } } }"#;
    server.ok(register, json!({})).await;

    let driver = Driver::start(&driver, &browser).await;
    // The token in the fragment, as `serve --demo` prints the address.
    driver.command("url", json!({ "url": format!("{}/graphql#token={}", server.url, server.admin) })).await;
    // GraphiQL's default query asks for the log head and the units.
    let run = driver.element(".graphiql-execute-button").await;
    driver.command(&format!("element/{run}/click"), json!({})).await;
    let result = driver.element(".result-window").await;
    let text = driver.text_with(&result, "十堰市人民医院", "\"errors\"").await;
    assert!(text.contains("\"totalCount\": 1"), "{text}");

    // The Docs panel: GraphiQL's own schema query (graphql-js's introspection query,
    // 13 fields deep) is answered, so the schema's types and their descriptions show.
    let docs = driver.element("button[aria-label*='Documentation Explorer']").await;
    driver.command(&format!("element/{docs}/click"), json!({})).await;
    let explorer = driver.element(".graphiql-doc-explorer-content").await;
    driver.text_with(&explorer, "Query", "Error fetching schema").await;
    let query = driver.element(".graphiql-doc-explorer-content .graphiql-doc-explorer-type-name").await;
    driver.command(&format!("element/{query}/click"), json!({})).await;
    let explorer = driver.element(".graphiql-doc-explorer-content").await;
    driver.text_with(&explorer, "unitLedger", "Error fetching schema").await;
    let _ = driver.http.delete(format!("{}/session/{}", driver.url, driver.session)).send().await;
}
