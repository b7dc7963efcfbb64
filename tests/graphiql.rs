//! GraphiQL in a real browser: headless Chromium, driven through ChromeDriver's
//! WebDriver API, loads `GET /graphql` from the real server, runs a query and opens the
//! Docs panel. Under CI
//! (`.ci/run` installs Debian's chromium and chromium-driver) a missing browser is a
//! failure; elsewhere the test says it was skipped and why.

mod support;

use serde_json::json;
use support::Server;

#[tokio::test]
async fn graphiql_loads_in_a_browser_runs_a_query_and_shows_the_docs() {
    let Some(driver) = support::browser::browser().await else { return };
    let server = Server::start();
    let register = r#"mutation { registerUnit(input: { name: "十堰市人民医院", industry: "医疗卫生", region: "茅箭区" }) { receipt { position } } }"#;
    server.ok(register, json!({})).await;

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
