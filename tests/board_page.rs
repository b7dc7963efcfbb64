//! The public notice board on a phone: headless Chromium at a phone's size, without a
//! token, finds a unit by searching and reads its public commitments (see
//! `support/browser.rs` for when the test is skipped).

mod support;

use serde_json::{json, Value};
use support::Server;

#[tokio::test]
async fn a_citizen_finds_a_unit_on_a_phone_and_reads_its_commitments() {
    let Some(driver) = support::browser::browser().await else { return };
    let server = Server::start();
    let register = r#"mutation($n: String!, $c: String!) { registerUnit(input: { name: $n, code: $c, industry: "医疗卫生", region: "茅箭区" }) { unit { id } } }"#;
    for (name, code) in
        [("十堰市人民医院", "SY-0001"), ("十堰市太和医院", "SY-0002"), ("十堰市税务局茅箭分局", "SY-0003")]
    {
        server.ok(register, json!({ "n": name, "c": code })).await;
    }
    let promise = r#"mutation { makeCommitment(input: { unit: "SY-0002", content: { category: "便民措施", text: "午间和周末延时服务，预约上门", target: "每周延时服务 ≥ 2 次", from: "2011-01-01", until: "2011-06-30" } }) { commitment { id } } }"#;
    server.ok(promise, json!({})).await;

    driver.command("window/rect", json!({ "width": 390, "height": 844 })).await;
    let fits = async || {
        let script = "return document.documentElement.scrollWidth <= window.innerWidth";
        let fits = driver.command("execute/sync", json!({ "script": script, "args": [] })).await;
        assert_eq!(fits, Value::Bool(true), "the page scrolls sideways on a phone");
    };
    driver.command("url", json!({ "url": format!("{}/", server.url) })).await;
    driver.page_text_with("h2", "共 3 个单位", "INTERNAL").await;
    fits().await;
    let search = driver.element("#q").await;
    driver.command(&format!("element/{search}/value"), json!({ "text": "太和" })).await;
    let find = driver.element("form[role='search'] button").await;
    driver.command(&format!("element/{find}/click"), json!({})).await;
    driver.page_text_with("h2", "共 1 个单位", "INTERNAL").await;
    fits().await;
    let unit = driver.element("ul.units a").await;
    driver.command(&format!("element/{unit}/click"), json!({})).await;
    driver.page_text_with("h1", "十堰市太和医院", "INTERNAL").await;
    let listed = driver.page_text_with("ul.units", "午间和周末延时服务", "INTERNAL").await;
    assert!(listed.contains("每周延时服务 ≥ 2 次") && listed.contains("履行中"), "{listed}");
    fits().await;
    let _ = driver.http.delete(format!("{}/session/{}", driver.url, driver.session)).send().await;
}
