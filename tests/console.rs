//! The clerks' and reviewers' consoles over HTTP, with a real client keeping the
//! sign-in's cookie: signing in, the cookie's flags, forms refused without the
//! sign-in's CSRF token or from another site (writing nothing), and what each role may
//! see and do, decided by the GraphQL schema the pages act through. The journeys in a
//! browser are in `console_page.rs`.

mod support;

use serde_json::json;
use support::Server;

/// A client that sends the console cookie the server set when `token` signed in, as a
/// browser keeps it.
async fn signed_in(server: &Server, token: &str) -> reqwest::Client {
    let no_redirect = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let answer = no_redirect
        .post(format!("{}/console/sign-in", server.url))
        .header("sec-fetch-site", "same-origin")
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!((answer.status().as_u16(), &answer.headers()["location"]), (303, &"/console".parse().unwrap()));
    let cookie = answer.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::COOKIE, cookie.parse().unwrap());
    reqwest::Client::builder().default_headers(headers).build().unwrap()
}

/// A form posted from the console's own pages (as a browser tells the server), answered
/// after any redirect: the status, the path of the page answered, and the page.
async fn post_form(client: &reqwest::Client, url: String, form: &[(&str, &str)]) -> (u16, String, String) {
    let sent = client.post(url).header("sec-fetch-site", "same-origin").form(form).send().await.unwrap();
    (sent.status().as_u16(), sent.url().path().to_owned(), sent.text().await.unwrap())
}

async fn get(client: &reqwest::Client, url: String) -> (u16, String) {
    let answer = client.get(url).send().await.unwrap();
    (answer.status().as_u16(), answer.text().await.unwrap())
}

#[tokio::test]
async fn the_console_signs_in_with_a_token_and_acts_as_the_schema_allows() {
    let server = Server::start();
    let unit = r#"mutation($c: String!) { registerUnit(input: { name: "十堰市人民医院", code: $c, industry: "医疗卫生", region: "茅箭区" }) { unit { id } } }"#;
    server.ok(unit, json!({ "c": "SY-0001" })).await;
    server.ok(unit, json!({ "c": "SY-0002" })).await;
    let member = r#"mutation { registerMember(input: { code: "M-1", unit: "SY-0001", joinedOn: "2011-01-01", personal: { name: "王俊" } }) { member { id } } }"#;
    let member = server.ok(member, json!({})).await["registerMember"]["member"]["id"].as_str().unwrap().to_owned();

    // Not signed in: the sign-in page; a wrong token is refused there.
    let anonymous = reqwest::Client::new();
    let (status, page) = get(&anonymous, format!("{}/console/units/SY-0001", server.url)).await;
    assert_eq!(status, 401);
    assert!(page.contains("action=\"/console/sign-in\"") && !page.contains("王俊"), "{page}");
    let wrong = anonymous
        .post(format!("{}/console/sign-in", server.url))
        .form(&[("token", "tz_not-a-token")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);

    // The cookie a good token sets: the console's only, never readable by a script,
    // never sent from another site.
    let clerk_token = server.token("CLERK", &["SY-0001"], None).await;
    let no_redirect = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let set = no_redirect
        .post(format!("{}/console/sign-in", server.url))
        .form(&[("token", clerk_token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), 303);
    let cookie = set.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("Path=/") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");

    let promise = r#"mutation { makeCommitment(input: { unit: "SY-0001", code: "C-1", content: { category: "内部管理", text: "考勤从严", from: "2011-01-01", until: "2011-06-30", public: false } }) { commitment { id } } }"#;
    server.ok(promise, json!({})).await;

    // The clerk's first page lists their unit; its page offers the unit's members, and
    // lists its commitments, those kept within the unit too.
    let clerk = signed_in(&server, &clerk_token).await;
    let (status, home) = get(&clerk, format!("{}/console", server.url)).await;
    assert_eq!(status, 200);
    assert!(home.contains("/console/units/SY-0001") && home.contains("十堰市人民医院"), "{home}");
    let (status, unit_page) = get(&clerk, format!("{}/console/units/SY-0001", server.url)).await;
    assert_eq!(status, 200, "{unit_page}");
    assert!(unit_page.contains("王俊") && unit_page.contains("action=\"/console/outings\""), "{unit_page}");
    assert!(unit_page.contains("考勤从严") && unit_page.contains("内部 within the unit"), "{unit_page}");
    let csrf = support::form_value(&unit_page, "csrf").unwrap();

    // Forms without the sign-in's CSRF token, or from another site, write nothing.
    let outing = |csrf: &str, unit: &str| {
        vec![
            ("csrf", csrf.to_owned()),
            ("unit", unit.to_owned()),
            ("date", "2011-06-04".to_owned()),
            ("start", "09:00".to_owned()),
            ("end", "11:30".to_owned()),
            ("place", "人民公园".to_owned()),
            ("category", "便民服务".to_owned()),
            ("member", member.clone()),
        ]
    };
    let post = |client: &reqwest::Client, form: Vec<(&'static str, String)>, site: &'static str| {
        let request = client.post(format!("{}/console/outings", server.url)).header("sec-fetch-site", site).form(&form);
        async move {
            let answer = request.send().await.unwrap();
            (answer.status().as_u16(), answer.text().await.unwrap())
        }
    };
    let head = server.head().await;
    let (status, refused) = post(&clerk, outing("", "SY-0001"), "same-origin").await;
    assert_eq!(status, 403, "{refused}");
    assert!(refused.contains("CSRF"), "{refused}");
    assert_eq!(post(&clerk, outing(&csrf, "SY-0001"), "cross-site").await.0, 403);
    let reviewer_token = server.token("REVIEWER", &[], None).await;
    let reviewer = signed_in(&server, &reviewer_token).await;
    assert_eq!(
        post(&reviewer, outing(&csrf, "SY-0001"), "same-origin").await.0,
        403,
        "one sign-in's CSRF token is not another's"
    );
    // The schema decides: a clerk writes for their own unit only.
    let (status, refused) = post(&clerk, outing(&csrf, "SY-0002"), "same-origin").await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(server.head().await, head, "no refused form wrote anything");

    // Registered: the ledger shows it with its running totals.
    let (status, ledger) = post(&clerk, outing(&csrf, "SY-0001"), "same-origin").await;
    assert_eq!(status, 200, "{ledger}");
    assert!(ledger.contains("已登记活动") && ledger.contains("人民公园") && ledger.contains("2.50"), "{ledger}");
    assert!(!ledger.contains("action=\"/console/verify\""), "a clerk does not verify");
    // As of the position before it, the ledger is as it was then, and offers no forms.
    let (status, then) = get(&clerk, format!("{}/console/units/SY-0001?asOf={head}", server.url)).await;
    assert_eq!(status, 200);
    assert!(!then.contains("人民公园") && then.contains(&format!("As of log position {head}")), "{then}");
    assert!(!then.contains("action=\"/console/outings\""), "{then}");

    // A reviewer verifies it as the version shown; the public page's verified hours move.
    let board = async || get(&reqwest::Client::new(), format!("{}/units/SY-0001", server.url)).await.1;
    assert!(board().await.contains("其中经审核 0 小时"));
    let (_, seen) = get(&reviewer, format!("{}/console/units/SY-0001", server.url)).await;
    let reviewer_csrf = support::form_value(&seen, "csrf").unwrap();
    let outing_id = support::form_value(&seen, "outing").unwrap();
    let version = support::form_value(&seen, "version").unwrap();
    let verify = reviewer
        .post(format!("{}/console/verify", server.url))
        .header("sec-fetch-site", "same-origin")
        .form(&[("csrf", reviewer_csrf.as_str()), ("unit", "SY-0001"), ("outing", &outing_id), ("version", &version)])
        .send()
        .await
        .unwrap();
    assert_eq!(verify.status(), 200);
    assert!(verify.text().await.unwrap().contains("已审核 The outing is verified"));
    let after = board().await;
    assert!(after.contains("其中经审核 2.5 小时"), "{after}");

    // The weekly summaries of the weeks up to the outing's, and the form to submit one.
    assert!(ledger.contains("2011-W22") && ledger.contains("未提交"), "{ledger}");
    let summary = vec![
        ("csrf", csrf.clone()),
        ("unit", "SY-0001".to_owned()),
        ("week", "2011-W22".to_owned()),
        ("done", "公园义诊，服务群众40人".to_owned()),
    ];
    let sent = clerk.post(format!("{}/console/summaries", server.url)).header("sec-fetch-site", "same-origin");
    let page = sent.form(&summary).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("已提交每周小结") && page.contains("公园义诊，服务群众40人"), "{page}");

    // A member registered and transferred through the console's forms.
    let send = async |path: &str, form: &[(&str, &str)]| {
        let mut form = form.to_vec();
        form.push(("csrf", &csrf));
        let (status, _, page) = post_form(&clerk, format!("{}{path}", server.url), &form).await;
        (status, page)
    };
    let joined = [("unit", "SY-0001"), ("code", "M-9"), ("name", "李红"), ("joined", "2011-03-01"), ("phone", "")];
    let (status, page) = send("/console/members", &joined).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("已登记党员") && page.contains("李红"), "{page}");
    // Participants beyond the members listed are given by number, in any separator.
    let by_number = [
        ("unit", "SY-0001"),
        ("date", "2011-06-05"),
        ("start", "09:00"),
        ("end", "10:00"),
        ("place", "汽车站"),
        ("category", "便民服务"),
        ("codes", "M-1，M-9"),
    ];
    let (status, page) = send("/console/outings", &by_number).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("汽车站<br><span class=\"meta\">便民服务 · 2 人"), "{page}");
    let bad = [("unit", "SY-0001"), ("code", "M-10"), ("name", "赵"), ("joined", "2011-03-01"), ("national_id", "123")];
    let (status, page) = send("/console/members", &bad).await;
    assert_eq!(status, 422, "a bad identity number is refused with the schema's reason: {page}");
    let members = "{ members(unit: \"SY-0001\") { totalCount } }";
    let before = server.ok(members, json!({})).await["members"]["totalCount"].clone();
    let moved = r#"{ member(id: "M-9") { id } }"#;
    let moved = server.ok(moved, json!({})).await["member"]["id"].as_str().unwrap().to_owned();
    let transfer = [("unit", "SY-0001"), ("member", moved.as_str()), ("to", "SY-0002"), ("effective", "2011-07-01")];
    // A transfer writes for both units: a clerk of one is refused, with the reason.
    let (status, page) = send("/console/transfers", &transfer).await;
    assert_eq!(status, 422, "{page}");
    assert!(page.contains("scoped to other units"), "{page}");
    let admin = signed_in(&server, &server.admin).await;
    let (_, home) = get(&admin, format!("{}/console", server.url)).await;
    let admin_csrf = support::form_value(&home, "csrf").unwrap();
    let mut form = transfer.to_vec();
    form.push(("csrf", &admin_csrf));
    let sent = admin.post(format!("{}/console/transfers", server.url)).header("sec-fetch-site", "same-origin");
    let answer = sent.form(&form).send().await.unwrap();
    assert_eq!(answer.status(), 200);
    assert!(answer.text().await.unwrap().contains("已调出"));
    let unit_of = r#"{ member(id: "M-9") { unit { code } } }"#;
    assert_eq!(server.ok(unit_of, json!({})).await["member"]["unit"]["code"], "SY-0002");
    let after = server.ok(members, json!({})).await["members"]["totalCount"].as_u64();
    assert_eq!(after, before.as_u64().map(|n| n - 1), "the unit has one member fewer");

    // The page's downloads take the cookie (a GET); nothing that writes does.
    let (status, _) = get(&clerk, format!("{}/export/ledger?unit=SY-0001&format=xlsx", server.url)).await;
    assert_eq!(status, 200, "the ledger's workbook");
    let mutation = json!({ "query": "mutation { renameUnit(input: { unit: \"SY-0001\", name: \"改名\" }) { receipt { position } } }" });
    let posted = clerk.post(format!("{}/graphql", server.url)).json(&mutation).send().await.unwrap();
    assert_eq!(posted.status(), 401, "a POST to /graphql does not take the cookie");

    // The reviewer's eligibility page explains the member's standing: each criterion's
    // required and actual value, and the outing that counted.
    let (status, page) = get(
        &reviewer,
        format!(
            "{}/console/eligibility?policy=service-month-default&subject=member&code=M-1&first=2011-06-01&last=2011-06-30",
            server.url
        ),
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("verified_hours") && page.contains("8.00") && page.contains("2.50"), "{page}");
    assert!(page.contains("计入 1 次") && page.contains("2011-06-04"), "{page}");

    // A viewer reads no ledger (the schema's ReadRecords); after the token is revoked the
    // cookie opens nothing.
    let viewer = signed_in(&server, &server.token("VIEWER", &[], None).await).await;
    let (status, page) = get(&viewer, format!("{}/console/units/SY-0001", server.url)).await;
    assert_eq!(status, 403, "{page}");
    assert!(!page.contains("人民公园"), "{page}");
    let tokens = server.ok("{ tokens { id role } }", json!({})).await;
    let clerk_id = tokens["tokens"].as_array().unwrap().iter().find(|t| t["role"] == "CLERK").unwrap()["id"].clone();
    server.ok("mutation($id: UUID!) { revokeToken(id: $id) { id } }", json!({ "id": clerk_id })).await;
    let (status, page) = get(&clerk, format!("{}/console/units/SY-0001", server.url)).await;
    assert_eq!(status, 401);
    assert!(page.contains("action=\"/console/sign-in\"") && !page.contains("人民公园"), "{page}");
}

/// What each role gets from the console's pages and forms, written out apart from the
/// code: the pages decide nothing themselves, the schema they act through does (a
/// refused form answers the unit's page with the refusal, `422`, or `403` when the
/// role cannot read the page at all).
#[tokio::test]
async fn the_console_pages_answer_each_role_as_the_role_table_says() {
    let server = Server::start();
    for code in ["SY-0001", "SY-0002"] {
        let unit = r#"mutation($c: String!) { registerUnit(input: { name: "单位", code: $c, industry: "医疗卫生", region: "茅箭区" }) { unit { id } } }"#;
        server.ok(unit, json!({ "c": code })).await;
    }
    let member = r#"mutation { registerMember(input: { code: "M-1", unit: "SY-0001", joinedOn: "2011-01-01", personal: { name: "王俊" } }) { member { id } } }"#;
    let member = server.ok(member, json!({})).await["registerMember"]["member"]["id"].as_str().unwrap().to_owned();
    /// A role's statuses: the unit's page, registering an outing, verifying one, the
    /// reports, a member's eligibility, the evaluations, opening one, a star board.
    struct Expected {
        role: &'static str,
        units: &'static [&'static str],
        statuses: [u16; 8],
    }
    let matrix = [
        Expected { role: "ADMIN", units: &[], statuses: [200, 200, 200, 200, 200, 200, 200, 200] },
        Expected { role: "CLERK", units: &["SY-0001"], statuses: [200, 200, 422, 200, 200, 200, 422, 200] },
        Expected { role: "CLERK", units: &["SY-0002"], statuses: [200, 422, 422, 200, 200, 200, 422, 200] },
        Expected { role: "REVIEWER", units: &[], statuses: [200, 422, 200, 200, 200, 200, 200, 200] },
        Expected { role: "VIEWER", units: &[], statuses: [403, 403, 403, 200, 422, 200, 422, 422] },
    ];
    for (day, Expected { role, units, statuses: [page, register, verify, reports, eligible, rounds, open, board] }) in
        matrix.into_iter().enumerate()
    {
        let client = signed_in(&server, &server.token(role, units, None).await).await;
        let who = format!("{role} {units:?}");
        let (status, seen) = get(&client, format!("{}/console/units/SY-0001", server.url)).await;
        assert_eq!(status, page, "{who}: the unit's page: {seen}");
        let (_, home) = get(&client, format!("{}/console", server.url)).await;
        let csrf = support::form_value(&home, "csrf").unwrap();
        let date = format!("2011-06-{:02}", day + 1);
        let send = async |path: &str, form: &[(&str, &str)]| {
            let mut form = form.to_vec();
            form.push(("csrf", &csrf));
            post_form(&client, format!("{}{path}", server.url), &form).await.0
        };
        let outing = [
            ("unit", "SY-0001"),
            ("date", date.as_str()),
            ("start", "09:00"),
            ("end", "10:00"),
            ("place", "广场"),
            ("category", "便民服务"),
            ("member", member.as_str()),
        ];
        assert_eq!(send("/console/outings", &outing).await, register, "{who}: registering an outing");
        let registered = r#"mutation($d: Date!, $m: ID!) { registerOuting(input: { unit: "SY-0001", details: { date: $d, start: "14:00", end: "15:00", place: "广场", category: "便民服务" }, participants: [{ member: $m }] }) { outing { id version } } }"#;
        let outing = &server.ok(registered, json!({ "d": date, "m": member })).await["registerOuting"]["outing"];
        let (id, version) = (outing["id"].as_str().unwrap(), outing["version"].to_string());
        let verifying = [("unit", "SY-0001"), ("outing", id), ("version", version.as_str())];
        assert_eq!(send("/console/verify", &verifying).await, verify, "{who}: verifying an outing");
        let (status, _) = get(&client, format!("{}/console/reports", server.url)).await;
        assert_eq!(status, reports, "{who}: the reports");
        let explained = "/console/eligibility?policy=service-month-default&subject=member&code=M-1";
        let (status, _) = get(&client, format!("{}{explained}", server.url)).await;
        assert_eq!(status, eligible, "{who}: a member's eligibility");
        let (status, _) = get(&client, format!("{}/console/evaluations", server.url)).await;
        assert_eq!(status, rounds, "{who}: the evaluations");
        let name = format!("{role} {day}");
        let opening = [("name", name.as_str()), ("halfYear", "2011H1"), ("subject", "UNITS")];
        assert_eq!(send("/console/evaluations", &opening).await, open, "{who}: opening an evaluation");
        let (status, _) =
            get(&client, format!("{}/console/boards?policy=ten-star-unit-default&halfYear=2011H1", server.url)).await;
        assert_eq!(status, board, "{who}: a star board");
    }
}

/// The reviewer's page of boards and nominations: a nomination waiting for a decision
/// is decided from it on a published board, through the schema; a clerk sees the list
/// and is refused the decision, which writes nothing.
#[tokio::test]
async fn a_reviewer_decides_a_recognition_in_the_console() {
    let server = Server::start_with_quick_awards();
    support::nominated_window(&server).await;

    let decide = async |client: &reqwest::Client| {
        let (_, listed) = get(client, format!("{}/console/recognitions", server.url)).await;
        assert!(listed.contains("群众满意窗口") && listed.contains("2011年上半年星级榜"), "{listed}");
        let field = |name: &str| support::form_value(&listed, name).unwrap();
        // The board is the first (here the only) choice of the form's list.
        let board = listed.split("name=\"board\"><option value=\"").nth(1).and_then(|rest| rest.split('"').next());
        let board = board.unwrap_or_else(|| panic!("no board to choose: {listed}")).to_owned();
        let (csrf, recognition) = (field("csrf"), field("recognition"));
        let form = [("csrf", csrf.as_str()), ("recognition", recognition.as_str()), ("board", board.as_str())];
        let (status, _, page) = post_form(client, format!("{}/console/recognitions/decide", server.url), &form).await;
        (status, page)
    };
    let clerk = signed_in(&server, &server.token("CLERK", &["SY-0001"], None).await).await;
    let head = server.head().await;
    let (status, refused) = decide(&clerk).await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(server.head().await, head, "a clerk's decision writes nothing");
    let reviewer = signed_in(&server, &server.token("REVIEWER", &[], None).await).await;
    let (status, decided) = decide(&reviewer).await;
    assert_eq!(status, 200, "{decided}");
    assert!(
        decided.contains("已决定。Decided.") && decided.contains("已表彰 decided: 9 星 stars（需 needs 9）"),
        "{decided}"
    );
}

/// A reviewer's half-year in the console: an evaluation opened, a ballot and a leaders'
/// review entered, a CSV of ballots uploaded, the round closed; the star board computed
/// with each entry's stars explained, and published. A ballot the schema refuses (a
/// score out of range) and a clerk opening an evaluation answer the page with the
/// refusal and write nothing.
#[tokio::test]
async fn a_reviewer_runs_an_evaluation_and_publishes_its_board_in_the_console() {
    let server = Server::start();
    for (code, name) in [("SY-0001", "十堰市人民医院"), ("SY-0002", "茅箭区政务服务中心")] {
        let unit = r#"mutation($c: String!, $n: String!) { registerUnit(input: { name: $n, code: $c, industry: "医疗卫生", region: "茅箭区" }) { unit { id } } }"#;
        server.ok(unit, json!({ "c": code, "n": name })).await;
    }
    let post = async |client: &reqwest::Client, path: &str, form: &[(&str, &str)]| {
        post_form(client, format!("{}{path}", server.url), form).await
    };

    // A clerk sees no form to open one, and is refused when sending it anyway.
    let clerk = signed_in(&server, &server.token("CLERK", &["SY-0001"], None).await).await;
    let (status, listed) = get(&clerk, format!("{}/console/evaluations", server.url)).await;
    assert_eq!(status, 200, "{listed}");
    assert!(!listed.contains("name=\"subject\""), "{listed}");
    let csrf = support::form_value(&listed, "csrf").unwrap();
    let opening = [("csrf", csrf.as_str()), ("name", "上半年评议"), ("halfYear", "2011H1"), ("subject", "UNITS")];
    let head = server.head().await;
    let (status, _, refused) = post(&clerk, "/console/evaluations", &opening).await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(server.head().await, head, "a clerk's evaluation writes nothing");

    let reviewer = signed_in(&server, &server.token("REVIEWER", &[], None).await).await;
    let (_, listed) = get(&reviewer, format!("{}/console/evaluations", server.url)).await;
    let csrf = support::form_value(&listed, "csrf").unwrap();
    let opening =
        [("csrf", csrf.as_str()), ("name", "2011年上半年群众评议"), ("halfYear", "2011H1"), ("subject", "UNITS")];
    let (status, path, opened) = post(&reviewer, "/console/evaluations", &opening).await;
    assert_eq!(status, 200, "{opened}");
    assert!(opened.contains("评议已开始 The evaluation is open.") && opened.contains("进行中 open"), "{opened}");
    let id = path.strip_prefix("/console/evaluations/").unwrap().to_owned();

    let ballot = |scores: &'static str| {
        let form = [
            ("csrf", csrf.as_str()),
            ("evaluation", id.as_str()),
            ("unit", "SY-0001"),
            ("voter", "SUPERVISOR"),
            ("rating", "SATISFIED"),
            ("scores", scores),
            ("comment", "窗口服务热情"),
        ];
        let reviewer = &reviewer;
        async move { post(reviewer, "/console/ballots", &form).await }
    };
    let (status, _, entered) = ballot("服务态度:90；办事效率:85").await;
    assert_eq!(status, 200, "{entered}");
    assert!(entered.contains("已录入选票 The ballot is in."), "{entered}");

    // A score above 100, a score without its criterion: each answered with the
    // refusal, and nothing written.
    let head = server.head().await;
    let (status, _, refused) = ballot("服务态度:120").await;
    assert_eq!(status, 422, "{refused}");
    assert!(refused.contains("class=\"bad\"") && refused.contains("120 is not a score from 0 to 100"), "{refused}");
    let (status, _, refused) = ballot("服务态度 90").await;
    assert_eq!(status, 422, "{refused}");
    assert!(refused.contains("criterion:score"), "{refused}");
    assert_eq!(server.head().await, head, "refused ballots write nothing");

    let review =
        [("csrf", csrf.as_str()), ("evaluation", id.as_str()), ("unit", "SY-0001"), ("score", "95"), ("comment", "好")];
    let (status, _, reviewed) = post(&reviewer, "/console/reviews", &review).await;
    assert_eq!(status, 200, "{reviewed}");

    // Ballots in bulk: the upload returns to the evaluation's page.
    let csv = format!(
        "编号,评议,单位,党员,评议人,评价,分项评分,意见\nB-1,{id},SY-0002,,群众,基本满意,,\nB-2,{id},SY-0002,,群众,不满意,,排队太久\n"
    );
    // The body a browser sends for the form (multipart/form-data), written out.
    let boundary = "----taizhang-test-boundary";
    let mut upload = String::new();
    let back = format!("/console/evaluations/{id}");
    for (name, value) in [("csrf", csrf.as_str()), ("kind", "ballots"), ("back", back.as_str()), ("encoding", "utf-8")]
    {
        upload += &format!("--{boundary}\r\ncontent-disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n");
    }
    upload += &format!(
        "--{boundary}\r\ncontent-disposition: form-data; name=\"file\"; filename=\"ballots.csv\"\r\n\
         content-type: text/csv\r\n\r\n{csv}\r\n--{boundary}--\r\n"
    );
    let sent = reviewer
        .post(format!("{}/console/import", server.url))
        .header("sec-fetch-site", "same-origin")
        .header("content-type", format!("multipart/form-data; boundary={boundary}"))
        .body(upload)
        .send()
        .await
        .unwrap();
    let (status, imported) = (sent.status().as_u16(), sent.text().await.unwrap());
    assert_eq!(status, 200, "{imported}");
    assert!(
        imported.contains("已导入 2 行") && imported.contains(&format!("href=\"/console/evaluations/{id}\"")),
        "{imported}"
    );

    let (_, results) = get(&reviewer, format!("{}/console/evaluations/{id}", server.url)).await;
    // SY-0001: one ballot, satisfied (100), the leaders' 95; SY-0002: 70 and 30, so 50.
    let row = |code: &str| {
        let start = results.find(&format!("{code}</span>")).unwrap_or_else(|| panic!("no row of {code}: {results}"));
        results[start..].split("</tr>").next().unwrap().to_owned()
    };
    assert!(row("SY-0001").contains("<td class=\"n\">100.00</td>") && row("SY-0001").contains("95<br>"), "{results}");
    assert!(
        row("SY-0002").contains("<td class=\"n\">50.00</td>") && row("SY-0002").contains("0 / 1 / 1 / 0"),
        "{results}"
    );
    assert!(results.contains("十堰市人民医院") && results.contains("茅箭区政务服务中心"), "{results}");

    let closing = [("csrf", csrf.as_str()), ("evaluation", id.as_str())];
    let (status, _, closed) = post(&reviewer, "/console/evaluations/close", &closing).await;
    assert_eq!(status, 200, "{closed}");
    assert!(
        closed.contains("评议已结束 The evaluation is closed.") && !closed.contains("action=\"/console/ballots\""),
        "{closed}"
    );

    // The board, explained entry by entry, then published.
    let (status, board) =
        get(&reviewer, format!("{}/console/boards?policy=ten-star-unit-default&halfYear=2011H1", server.url)).await;
    assert_eq!(status, 200, "{board}");
    assert!(board.contains("十堰市人民医院") && board.contains("<details><summary>"), "{board}");
    let publishing = [
        ("csrf", csrf.as_str()),
        ("name", "2011年上半年星级榜"),
        ("policy", "ten-star-unit-default"),
        ("halfYear", "2011H1"),
    ];
    let head = server.head().await;
    let (status, _, published) = post(&reviewer, "/console/boards", &publishing).await;
    assert_eq!(status, 200, "{published}");
    assert!(published.contains("星级榜已发布") && published.contains("2011年上半年星级榜"), "{published}");
    assert!(server.head().await > head);
    let boards = r#"{ publishedBoards(halfYear: "2011H1") { name entryCount } }"#;
    let listed = server.ok(boards, json!({})).await;
    assert_eq!(listed["publishedBoards"], json!([{ "name": "2011年上半年星级榜", "entryCount": 2 }]));
}
