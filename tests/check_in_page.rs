//! The check-in page on a phone: headless Chromium at a phone's size opens the address
//! the site's QR code carries, and a member checks in and out with their number and PIN,
//! as they would at an outing (see `support/browser.rs` for when the test is skipped).

mod support;

use serde_json::{json, Value};
use support::Server;

#[tokio::test]
async fn a_member_checks_in_and_out_on_a_phone() {
    let Some(driver) = support::browser::browser().await else { return };
    let server = Server::start();
    let register = r#"mutation { registerUnit(input: { name: "十堰市人民医院", industry: "医疗卫生", region: "茅箭区" }) { unit { id } } }"#;
    let unit = server.ok(register, json!({})).await["registerUnit"]["unit"]["id"].as_str().unwrap().to_owned();
    let member = r#"mutation($u: ID!) { registerMember(input: { unit: $u, code: "SY-001", joinedOn: "2011-01-01", personal: { name: "王俊" } }) { member { id } } }"#;
    let member =
        server.ok(member, json!({ "u": unit })).await["registerMember"]["member"]["id"].as_str().unwrap().to_owned();
    let pin = server.ok("mutation($m: ID!) { setCheckInPin(member: $m) { pin } }", json!({ "m": member })).await
        ["setCheckInPin"]["pin"]
        .as_str()
        .unwrap()
        .to_owned();
    // Under way for up to 50 minutes; an arrival within the hour's grace is credited
    // from the start.
    let (today, now) = support::service_now_past_midnight().await;
    let details = json!({ "date": today.to_string(), "start": support::clock(now.saturating_sub(50)),
        "end": support::clock((now + 60).min(1440)), "place": "武当路社区", "category": "义诊" });
    let open = "mutation($i: OpenCheckInInput!) { openCheckIn(input: $i) { checkIn { address siteCode } } }";
    let opened = server.ok(open, json!({ "i": { "unit": unit, "details": details, "lateGraceMinutes": 60 } })).await;
    let address = opened["openCheckIn"]["checkIn"]["address"].as_str().unwrap().to_owned();
    let code = opened["openCheckIn"]["checkIn"]["siteCode"].as_str().unwrap().to_owned();

    // A phone's viewport (390 × 844 CSS pixels), scanning the QR code.
    driver.command("window/rect", json!({ "width": 390, "height": 844 })).await;
    driver.command("url", json!({ "url": address })).await;
    let site = driver.element("#site").await;
    let value = driver.get(&format!("element/{site}/property/value")).await;
    assert_eq!(value, Value::from(code.as_str()), "the QR code's address fills in the site code");

    // Types the member number and a PIN (into emptied fields) and presses a button;
    // answers the outcome line of the page that comes back, which must fit the phone.
    let report = async |action: &str, pin: &str, wanted: &str| {
        for (field, text) in [("#member", "SY-001"), ("#pin", pin)] {
            let input = driver.element(field).await;
            driver.command(&format!("element/{input}/clear"), json!({})).await;
            driver.command(&format!("element/{input}/value"), json!({ "text": text })).await;
        }
        let button = driver.element(&format!("button[value='{action}']")).await;
        driver.command(&format!("element/{button}/click"), json!({})).await;
        let said = driver.page_text_with("p[role='status']", wanted, "INTERNAL").await;
        let fits = "return document.documentElement.scrollWidth <= window.innerWidth";
        let fits = driver.command("execute/sync", json!({ "script": fits, "args": [] })).await;
        assert_eq!(fits, Value::Bool(true), "the page scrolls sideways on a phone");
        said
    };

    // A mistyped PIN is refused without saying which field was wrong; the page keeps
    // the site code for the next try.
    report("in", "000000", "not right").await;
    let site = driver.element("#site").await;
    assert_eq!(driver.get(&format!("element/{site}/property/value")).await, Value::from(code.as_str()));
    report("in", &pin, "签到成功").await;
    report("in", &pin, "already").await;
    let said = report("out", &pin, "签退成功").await;
    assert!(said.contains("小时"), "{said}");

    // The check-out recorded the member's credit hours.
    let ledger = "query($m: ID!) { memberLedger(member: $m) { totalCreditHours totalRecordedHours } }";
    let totals = server.ok(ledger, json!({ "m": member })).await["memberLedger"].clone();
    assert_eq!(totals["totalCreditHours"], totals["totalRecordedHours"]);
    assert_ne!(totals["totalCreditHours"], "0.00", "{totals}");
    let _ = driver.http.delete(format!("{}/session/{}", driver.url, driver.session)).send().await;
}
