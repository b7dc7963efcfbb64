//! A real browser for end-to-end tests: headless Chromium driven through ChromeDriver's
//! W3C WebDriver API. Under CI (`.ci/run` installs Debian's chromium and
//! chromium-driver) a missing browser is a failure; elsewhere a test says it was skipped
//! and why.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// The element key of the W3C WebDriver protocol.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub fn installed(program: &str) -> Option<String> {
    let output = Command::new("sh").args(["-c", &format!("command -v {program}")]).output().ok()?;
    output.status.success().then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

pub struct Driver {
    child: Child,
    pub url: String,
    pub http: reqwest::Client,
    pub session: String,
}

impl Driver {
    pub async fn start(driver: &str, browser: &str) -> Self {
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

    pub async fn command(&self, path: &str, body: Value) -> Value {
        let url = format!("{}/session/{}/{path}", self.url, self.session);
        let answer: Value = self.http.post(url).json(&body).send().await.unwrap().json().await.unwrap();
        answer["value"].clone()
    }

    /// Waits (at most 20 s) for an element matching `css`.
    pub async fn element(&self, css: &str) -> String {
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
    pub async fn text_with(&self, element: &str, wanted: &str, refused: &str) -> String {
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

    /// Waits (at most 20 s) until an element matching `css` holds `wanted`, finding it
    /// again each time (a page that is being replaced by the next one still matches),
    /// and returns its text; fails at once on a text holding `refused`.
    pub async fn page_text_with(&self, css: &str, wanted: &str, refused: &str) -> String {
        let started = Instant::now();
        loop {
            let text = self.text(&self.element(css).await).await;
            assert!(!text.contains(refused), "{text}");
            if text.contains(wanted) {
                return text;
            }
            assert!(started.elapsed() < Duration::from_secs(20), "no {wanted:?} appeared in {css}: {text:?}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// A WebDriver GET `path` under the session (an element's property, say).
    pub async fn get(&self, path: &str) -> Value {
        let url = format!("{}/session/{}/{path}", self.url, self.session);
        let answer: Value = self.http.get(url).send().await.unwrap().json().await.unwrap();
        answer["value"].clone()
    }

    /// The accessibility violations of the page shown, serious or critical, found by
    /// axe-core (vendored in `tests/vendor/axe-core`) run in the page: each as its rule,
    /// impact and the elements it found. The pages allow no script of their own; a
    /// script WebDriver runs is the browser's, not the page's.
    pub async fn serious_accessibility_violations(&self) -> Vec<String> {
        const AXE: &str = include_str!("../vendor/axe-core/axe.min.js");
        let script = format!(
            "{AXE}\nconst done = arguments[arguments.length - 1];\
             axe.run(document, {{ resultTypes: ['violations'] }}).then(r => done(r.violations\
             .filter(v => v.impact === 'serious' || v.impact === 'critical')\
             .map(v => v.id + ' (' + v.impact + '): ' + v.nodes.map(n => n.target.join(' ')).join(', '))))\
             .catch(e => done(['axe failed: ' + e]));"
        );
        let found = self.command("execute/async", json!({ "script": script, "args": [] })).await;
        let found = found.as_array().unwrap_or_else(|| panic!("axe did not run: {found}"));
        found.iter().map(|v| v.as_str().unwrap_or_default().to_owned()).collect()
    }

    /// Asserts that the page shown, `what`, neither scrolls sideways in the window (a
    /// phone's, where the test set one) nor has a serious accessibility violation.
    pub async fn assert_fits_and_is_accessible(&self, what: &str) {
        let script = "return document.documentElement.scrollWidth <= window.innerWidth";
        let fits = self.command("execute/sync", json!({ "script": script, "args": [] })).await;
        assert_eq!(fits, Value::Bool(true), "{what} scrolls sideways");
        let violations = self.serious_accessibility_violations().await;
        assert!(violations.is_empty(), "{what}: serious accessibility violations: {violations:#?}");
    }

    pub async fn text(&self, element: &str) -> String {
        self.get(&format!("element/{element}/text")).await.as_str().unwrap_or_default().to_owned()
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// ChromeDriver and Chromium, started; `None` (the test returns) when they are not
/// installed outside CI.
pub async fn browser() -> Option<Driver> {
    let (Some(driver), Some(browser)) = (installed("chromedriver"), installed("chromium")) else {
        let why = "chromium and chromedriver are not installed (Debian: apt-get install chromium chromium-driver)";
        assert!(std::env::var_os("CI").is_none(), "{why}");
        eprintln!("skipped: {why}");
        return None;
    };
    Some(Driver::start(&driver, &browser).await)
}
