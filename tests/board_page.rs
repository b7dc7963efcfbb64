//! The public notice board on a phone: headless Chromium at a phone's size, without a
//! token, finds a unit by searching, reads its public commitments and leaves an opinion
//! that shows once the unit accepts it; every public page checked by axe-core for
//! serious accessibility violations (see `support/browser.rs` for when the test is
//! skipped).

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
    let open = r#"mutation { openLookBackRound(input: { name: "2011年上半年回头看", period: { first: "2011-01-01", last: "2011-06-30" } }) { round { id } } }"#;
    let round = server.ok(open, json!({})).await["openLookBackRound"]["round"]["id"].as_str().unwrap().to_owned();

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
    let accessible = async || {
        let violations = driver.serious_accessibility_violations().await;
        assert!(violations.is_empty(), "serious accessibility violations: {violations:#?}");
    };
    accessible().await;

    // The citizen leaves an opinion on the commitment: held until the unit accepts it.
    let choose = |select: &'static str, value: &'static str| {
        let driver = &driver;
        async move {
            let option = driver.element(&format!("select#{select} option[value='{value}']")).await;
            driver.command(&format!("element/{option}/click"), json!({})).await;
        }
    };
    let items = driver.element("select#about option:nth-child(2)").await;
    driver.command(&format!("element/{items}/click"), json!({})).await;
    choose("rating", "satisfied").await;
    let text = driver.element("textarea#text").await;
    driver.command(&format!("element/{text}/value"), json!({ "text": "周末也能办事，方便上班族" })).await;
    let send = driver.element("form[action$='/opinions'] button").await;
    driver.command(&format!("element/{send}/click"), json!({})).await;
    driver.page_text_with("p[role='status']", "感谢您的意见", "页面已过期").await;
    fits().await;
    accessible().await;
    let back = driver.element("main a").await;
    driver.command(&format!("element/{back}/click"), json!({})).await;
    let opinions = driver.page_text_with("h2#opinions + *", "暂无公开的群众意见", "周末也能办事").await;
    assert!(opinions.contains("暂无"), "{opinions}");

    // The unit's clerk accepts it; the page shows it, rated, on the commitment.
    let held = "query($r: ID!) { opinions(round: $r, status: HELD) { opinions { id text } } }";
    let found = server.ok(held, json!({ "r": round })).await;
    assert_eq!(found["opinions"]["opinions"][0]["text"], "周末也能办事，方便上班族", "{found}");
    let id = found["opinions"]["opinions"][0]["id"].as_str().unwrap();
    let clerk = support::client_with(&server.token("CLERK", &["SY-0002"], None).await);
    let accept = "mutation($o: ID!) { reviewOpinion(opinion: $o, accept: true) { opinion { status } } }";
    let (_, accepted) = server.post_with(&clerk, accept, json!({ "o": id })).await;
    assert_eq!(accepted["data"]["reviewOpinion"]["opinion"]["status"], "ACCEPTED", "{accepted}");
    driver.command("refresh", json!({})).await;
    let shown = driver.page_text_with("h2#opinions + ul", "周末也能办事", "INTERNAL").await;
    assert!(shown.contains("满意") && shown.contains("关于承诺：午间和周末延时服务"), "{shown}");
    fits().await;

    // Every other public page a citizen or a volunteer opens, in both languages, and the
    // certificate check's and the console's first pages.
    for path in [
        "/?lang=en",
        "/units/SY-0002?lang=en",
        "/check-in",
        "/correction",
        "/certificates/2011-000001?code=X",
        "/console",
    ] {
        driver.command("url", json!({ "url": format!("{}{path}", server.url) })).await;
        driver.element("h1").await;
        fits().await;
        accessible().await;
    }
    let _ = driver.http.delete(format!("{}/session/{}", driver.url, driver.session)).send().await;
}

/// Recognitions on the notice board: a nomination listed for objections (公示), then
/// decided, on the listing page and on the unit's page, read without a token; on a
/// phone, without sideways scrolling or serious accessibility violations.
#[tokio::test]
async fn recognitions_are_listed_and_shown_on_the_units_page() {
    let server = Server::start_with_quick_awards();
    let (board, id) = support::nominated_window(&server).await;

    let public = reqwest::Client::new();
    let page = |path: &'static str| {
        let (public, url) = (public.clone(), format!("{}{path}", server.url));
        async move { public.get(url).send().await.unwrap().text().await.unwrap() }
    };
    let listed = page("/recognitions").await;
    assert!(listed.contains("群众满意窗口") && listed.contains("十堰市人民医院"), "{listed}");
    assert!(listed.contains("公示中，至"), "{listed}");
    let decide =
        "mutation($r: ID!, $b: ID!) { decideRecognition(recognition: $r, board: $b) { recognition { status } } }";
    server.ok(decide, json!({ "r": id, "b": board })).await;
    let unit = page("/units/SY-0001").await;
    assert!(unit.contains("评星表彰") && unit.contains("已表彰（星级榜 9 星）"), "{unit}");
    assert!(page("/recognitions?lang=en").await.contains("recognised (9 stars on the board)"));

    // The published board, as published: listed, then shown with how many reached
    // each number of stars and its entries; validated like every board page.
    let boards = page("/boards").await;
    assert!(boards.contains(&format!("href=\"/boards/{board}\"")) && boards.contains("2011年上半年星级榜"), "{boards}");
    let board_path = format!("/boards/{board}");
    let shown = public.get(format!("{}{board_path}", server.url)).send().await.unwrap();
    let tag = shown.headers()["etag"].to_str().unwrap().to_owned();
    let shown = shown.text().await.unwrap();
    assert!(shown.contains("<a href=\"/units/SY-0001\">十堰市人民医院</a>"), "{shown}");
    assert!(
        shown.contains(
            "<tr><td class=\"n\">1</td><td><a href=\"/units/SY-0001\">十堰市人民医院</a></td><td class=\"n\">9</td>"
        ),
        "{shown}"
    );
    assert!(shown.contains("<tr><td class=\"n\">9</td><td class=\"n\">1</td></tr>"), "one unit at nine stars: {shown}");
    // What the page shows is what GraphQL answers within the notice board's reach.
    let standings = "query($b: ID!) { publishedBoard(id: $b) { standings { starCounts { stars count } units { rank stars unitCode unitName } } } }";
    let answered = server.ok(standings, json!({ "b": board })).await;
    assert_eq!(
        answered["publishedBoard"]["standings"],
        json!({ "starCounts": [{ "stars": 9, "count": 1 }],
                "units": [{ "rank": 1, "stars": 9, "unitCode": "SY-0001", "unitName": "十堰市人民医院" }] })
    );
    let again = public.get(format!("{}{board_path}", server.url)).header("if-none-match", &tag).send().await.unwrap();
    assert_eq!(again.status(), 304);
    // Of a board of members, the counts alone: no member is named or placed.
    let member = r#"mutation { registerMember(input: { code: "M-77", unit: "SY-0001", joinedOn: "2011-01-01", personal: { name: "王俊" } }) { member { id } } }"#;
    server.ok(member, json!({})).await;
    let publish = r#"mutation { publishBoard(input: { name: "2011年上半年党员星级榜", policy: "ten-star-named-default", halfYear: "2011H1" }) { board { id } } }"#;
    let members_board = server.ok(publish, json!({})).await["publishBoard"]["board"]["id"].as_str().unwrap().to_owned();
    let shown =
        public.get(format!("{}/boards/{members_board}", server.url)).send().await.unwrap().text().await.unwrap();
    assert!(shown.contains("<tr><td class=\"n\">0</td><td class=\"n\">1</td></tr>"), "one member at no star: {shown}");
    assert!(shown.contains("党员星级按人数公布") && !shown.contains("M-77") && !shown.contains("王俊"), "{shown}");
    assert!(!shown.contains("<th>单位</th>"), "no places on a board of members: {shown}");
    let missing = public.get(format!("{}/boards/{}", server.url, uuid::Uuid::nil())).send().await.unwrap();
    assert_eq!(missing.status(), 404);

    let Some(driver) = support::browser::browser().await else { return };
    driver.command("window/rect", json!({ "width": 390, "height": 844 })).await;
    let board_en = format!("{board_path}?lang=en");
    for path in ["/recognitions", "/units/SY-0001", "/recognitions?lang=en", "/boards", &board_path, &board_en] {
        driver.command("url", json!({ "url": format!("{}{path}", server.url) })).await;
        driver.element("h1").await;
        driver.assert_fits_and_is_accessible(path).await;
    }
    let _ = driver.http.delete(format!("{}/session/{}", driver.url, driver.session)).send().await;
}

/// A citizen objects to a nomination during its listing (公示) on the notice board,
/// without a token: from the nomination's page, linked from the listing. The objection
/// reaches the reviewers as one from the public, to be answered before a decision; a
/// form that is empty, expired or sent from another site is refused and writes nothing;
/// an address sends at most five an hour.
#[tokio::test]
async fn a_citizen_objects_to_a_listed_nomination_from_its_page() {
    let server = Server::start();
    let (_, id) = support::nominated_window(&server).await;
    let public = reqwest::Client::new();
    let get = |path: String| {
        let (public, url) = (public.clone(), format!("{}{path}", server.url));
        async move { public.get(url).send().await.unwrap().text().await.unwrap() }
    };
    let listed = get("/recognitions".into()).await;
    assert!(listed.contains(&format!("href=\"/recognitions/{id}\"")), "{listed}");
    let page = get(format!("/recognitions/{id}")).await;
    assert!(page.contains("群众满意窗口") && page.contains("十堰市人民医院") && page.contains("公示中，至"), "{page}");
    assert!(page.contains("已收到 0 条，已答复 0 条") && page.contains("提出异议"), "{page}");
    let proof =
        page.split("name=\"proof\" value=\"").nth(1).and_then(|rest| rest.split('"').next()).unwrap().to_owned();

    let post = |fields: Vec<(&'static str, String)>, origin: Option<&'static str>| {
        let mut request = public.post(format!("{}/recognitions/{id}/objections", server.url)).form(&fields);
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        async move {
            let response = request.send().await.unwrap();
            (response.status().as_u16(), response.headers().get("retry-after").cloned(), response.text().await.unwrap())
        }
    };
    let head = "{ head { position } }";
    let before = server.ok(head, json!({})).await;
    let text = || ("text", "该窗口午间常无人值守，与推荐材料不符".to_owned());
    let (status, _, said) = post(vec![("proof", proof.clone()), ("text", " ".into())], None).await;
    assert_eq!(status, 422, "{said}");
    let (status, _, said) = post(vec![("proof", "20000-00".into()), text()], None).await;
    assert!(status == 403 && said.contains("页面已过期"), "{status} {said}");
    let (status, _, said) = post(vec![("proof", proof.clone()), text()], Some("https://elsewhere.example")).await;
    assert!(status == 403 && said.contains("请在公示栏的页面上提交"), "{status} {said}");
    assert_eq!(server.ok(head, json!({})).await, before, "a refused objection writes nothing");

    let (status, _, said) = post(vec![("proof", proof.clone()), text()], None).await;
    assert!(status == 200 && said.contains("异议已收到"), "{status} {said}");
    let read = "query($r: ID!) { recognition(id: $r) { unansweredObjections objections { number from text upheld } } }";
    let found = server.ok(read, json!({ "r": id })).await;
    assert_eq!(
        found["recognition"],
        json!({ "unansweredObjections": 1, "objections": [
            { "number": 1, "from": "PUBLIC", "text": "该窗口午间常无人值守，与推荐材料不符", "upheld": null }] })
    );
    let page = get(format!("/recognitions/{id}?lang=en")).await;
    assert!(page.contains("1 raised, 0 answered") && !page.contains("午间常无人值守"), "not shown: {page}");

    // Five an hour from one address: the sixth waits.
    for _ in 0..4 {
        let (status, _, said) = post(vec![("proof", proof.clone()), text()], None).await;
        assert_eq!(status, 200, "{said}");
    }
    let (status, retry, said) = post(vec![("proof", proof.clone()), text()], None).await;
    assert!(status == 429 && retry.is_some() && said.contains("提交过于频繁"), "{status} {said}");
    assert_eq!(server.ok(read, json!({ "r": id })).await["recognition"]["unansweredObjections"], 5);

    // The page, with its form, on a phone: no sideways scrolling, no serious
    // accessibility violation, in both languages.
    let Some(driver) = support::browser::browser().await else { return };
    driver.command("window/rect", json!({ "width": 390, "height": 844 })).await;
    for path in [format!("/recognitions/{id}"), format!("/recognitions/{id}?lang=en")] {
        driver.command("url", json!({ "url": format!("{}{path}", server.url) })).await;
        driver.element("form[action$='/objections'] textarea").await;
        driver.assert_fits_and_is_accessible(&path).await;
    }
    let _ = driver.http.delete(format!("{}/session/{}", driver.url, driver.session)).send().await;
}
