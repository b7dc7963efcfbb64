//! The consoles in a browser: headless Chromium at a phone's size. A clerk signs in with
//! their token, registers an outing with a participant picked from the unit's members
//! and sees it in the ledger, uploads a CSV file with a bad row and sees the problem
//! in a table with nothing written; a reviewer verifies the outing, the unit's public
//! page shows the verified hours, and the reports show them by region and by week. Each page fits the screen and has no serious
//! accessibility violation (see `support/browser.rs` for when the test is skipped).

mod support;

use serde_json::{json, Value};
use support::Server;

#[tokio::test]
async fn a_clerk_registers_and_imports_and_a_reviewer_verifies_on_a_phone() {
    let Some(driver) = support::browser::browser().await else { return };
    let server = Server::start();
    let unit = r#"mutation { registerUnit(input: { name: "十堰市太和医院", code: "SY-0002", industry: "医疗卫生", region: "茅箭区" }) { unit { id } } }"#;
    server.ok(unit, json!({})).await;
    let member = r#"mutation { registerMember(input: { code: "M-1", unit: "SY-0002", joinedOn: "2011-01-01", personal: { name: "王俊" } }) { member { id } } }"#;
    server.ok(member, json!({})).await;
    let clerk = server.token("CLERK", &["SY-0002"], None).await;
    let reviewer = server.token("REVIEWER", &[], None).await;

    driver.command("window/rect", json!({ "width": 390, "height": 844 })).await;
    let checked = async || {
        let script = "return document.documentElement.scrollWidth <= window.innerWidth";
        let fits = driver.command("execute/sync", json!({ "script": script, "args": [] })).await;
        assert_eq!(fits, Value::Bool(true), "the page scrolls sideways on a phone");
        let violations = driver.serious_accessibility_violations().await;
        assert!(violations.is_empty(), "serious accessibility violations: {violations:#?}");
    };
    let type_into = async |css: &str, text: &str| {
        let field = driver.element(css).await;
        driver.command(&format!("element/{field}/value"), json!({ "text": text })).await;
    };
    let click = async |css: &str| {
        let element = driver.element(css).await;
        driver.command(&format!("element/{element}/click"), json!({})).await;
    };
    let sign_in = async |token: &str| {
        driver.command("url", json!({ "url": format!("{}/console", server.url) })).await;
        type_into("#token", token).await;
        click("form[action='/console/sign-in'] button").await;
    };

    // The clerk signs in and opens their unit.
    sign_in(&clerk).await;
    driver.page_text_with("ul.units", "十堰市太和医院", "INTERNAL").await;
    checked().await;
    click("ul.units a").await;
    driver.page_text_with("h1", "十堰市太和医院 台账", "INTERNAL").await;
    checked().await;

    // Registers an outing: the date and times set as a date picker would set them.
    let set = "document.getElementById('date').value = '2011-06-04';\
               document.getElementById('start').value = '09:00';\
               document.getElementById('end').value = '11:30';";
    driver.command("execute/sync", json!({ "script": set, "args": [] })).await;
    type_into("#place", "人民公园").await;
    type_into("#category", "便民服务").await;
    click("ul.picks input[type='checkbox']").await;
    click("form[action='/console/outings'] button").await;
    driver.page_text_with("p[role='status']", "已登记活动", "INTERNAL").await;
    let ledger = driver.page_text_with("table", "人民公园", "INTERNAL").await;
    assert!(ledger.contains("2.50") && ledger.contains("待审核"), "{ledger}");
    checked().await;

    // Uploads members with a bad row: the problem is shown, nothing is written.
    let head = server.head().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("members.csv");
    std::fs::write(&file, "id,unit,joined_on,name\nM-2,SY-0002,2011-01-01,李红\nM-3,SY-0002,2011-13-01,张强\n")
        .unwrap();
    click("select#kind option[value='members']").await;
    type_into("#file", file.to_str().unwrap()).await;
    click("form[action='/console/import'] button").await;
    driver.page_text_with("p[role='status']", "未写入任何记录", "INTERNAL").await;
    let problems = driver.page_text_with("table", "joined_on", "INTERNAL").await;
    assert!(problems.contains('3'), "the problem names the file's line 3: {problems}");
    checked().await;
    assert_eq!(server.head().await, head, "a file with a bad row writes nothing");

    // The reviewer verifies the outing; the public page's verified hours move.
    driver.command("url", json!({ "url": format!("{}/units/SY-0002", server.url) })).await;
    driver.page_text_with("main", "其中经审核 0 小时", "INTERNAL").await;
    driver.command("url", json!({ "url": format!("{}/console", server.url) })).await;
    click("form[action='/console/sign-out'] button").await;
    driver.page_text_with("p[role='status']", "已退出", "INTERNAL").await;
    sign_in(&reviewer).await;
    type_into("#code", "SY-0002").await;
    click("form[action='/console/unit'] button").await;
    click("form[action='/console/verify'] button").await;
    driver.page_text_with("p[role='status']", "已审核", "INTERNAL").await;
    checked().await;
    driver.command("url", json!({ "url": format!("{}/units/SY-0002", server.url) })).await;
    driver.page_text_with("main", "其中经审核 2.5 小时", "INTERNAL").await;

    // The reviewer's reports: the half-year of the latest outing at first, by region, and
    // the weeks as a picture.
    driver.command("url", json!({ "url": format!("{}/console", server.url) })).await;
    click("a[href='/console/reports']").await;
    let table = driver.page_text_with("div[aria-label='分组统计 By group'] table", "茅箭区", "INTERNAL").await;
    assert!(table.contains("2.50"), "{table}");
    let bars = "return document.querySelectorAll('svg rect').length";
    let bars = driver.command("execute/sync", json!({ "script": bars, "args": [] })).await;
    // 2011-01-01 is a Saturday: the half-year touches 27 Monday-to-Sunday weeks.
    assert_eq!(bars, json!(2 * 27), "a recorded and a verified bar for each week");
    checked().await;
    let _ = driver.http.delete(format!("{}/session/{}", driver.url, driver.session)).send().await;
}
