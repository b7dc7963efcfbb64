//! End-to-end tests of the GraphQL API: the real `taizhang serve` on port 0 with a fresh
//! data directory, a real HTTP client and a real WebSocket client.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::{Server, WsClient};

const REGISTER_UNIT: &str = r#"mutation($input: RegisterUnitInput!, $commandId: UUID) {
  registerUnit(input: $input, commandId: $commandId) { receipt { position duplicate commandId } unit { id name industry region } }
}"#;
const REGISTER_MEMBER: &str = r#"mutation($input: RegisterMemberInput!) {
  registerMember(input: $input) { receipt { position } member { id joinedOn personal { name } unit { name } } }
}"#;
const REGISTER_OUTING: &str = r#"mutation($input: RegisterOutingInput!) {
  registerOuting(input: $input) { receipt { position } outing { id version hours participants { hours member { personal { name } } } } }
}"#;

async fn register_unit(server: &Server, name: &str) -> String {
    let data = server
        .ok(REGISTER_UNIT, json!({ "input": { "name": name, "industry": "医疗卫生", "region": "茅箭区" } }))
        .await;
    data["registerUnit"]["unit"]["id"].as_str().unwrap().to_owned()
}

async fn register_member(server: &Server, unit: &str, name: &str) -> String {
    let input =
        json!({ "unit": unit, "joinedOn": "2011-01-01", "personal": { "name": name, "birthDate": "1980-05-04" } });
    let data = server.ok(REGISTER_MEMBER, json!({ "input": input })).await;
    data["registerMember"]["member"]["id"].as_str().unwrap().to_owned()
}

fn outing_input(unit: &str, date: &str, members: &[(&str, &str)]) -> Value {
    json!({
        "unit": unit,
        "details": { "date": date, "start": "08:30", "end": "12:30", "place": "茅箭区武当路社区", "category": "义诊", "beneficiaries": 120 },
        "participants": members.iter().map(|(m, h)| json!({ "member": m, "hours": h })).collect::<Vec<_>>(),
    })
}

#[tokio::test]
async fn clerks_and_reviewers_work_through_the_api() {
    let server = Server::start();
    let unit = register_unit(&server, "十堰市人民医院").await;
    let zhang = register_member(&server, &unit, "张三丰").await;
    let li = register_member(&server, &unit, "李时珍").await;

    // A clerk registers an outing; the answer already shows it, names intact.
    let data = server
        .ok(REGISTER_OUTING, json!({ "input": outing_input(&unit, "2011-06-04", &[(&zhang, "4"), (&li, "3.5")]) }))
        .await;
    let outing = &data["registerOuting"]["outing"];
    assert_eq!(outing["hours"], "7.50");
    assert_eq!(outing["version"], 0);
    assert_eq!(outing["participants"][0]["member"]["personal"]["name"], "张三丰");
    let outing_id = outing["id"].as_str().unwrap().to_owned();
    let registered_at = data["registerOuting"]["receipt"]["position"].as_u64().unwrap();

    // She corrects Li's hours; the earlier record stays in the history.
    let amend = r#"mutation($input: AmendOutingInput!) { amendOuting(input: $input) { receipt { position } outing { version hours history { kind reason } } } }"#;
    let mut input = outing_input(&unit, "2011-06-04", &[(&zhang, "4"), (&li, "2:30")]);
    input["outing"] = json!(outing_id);
    input["reason"] = json!("李时珍提前离开");
    input["expectedVersion"] = json!(0);
    input.as_object_mut().unwrap().remove("unit");
    let data = server.ok(amend, json!({ "input": input })).await;
    let amended = &data["amendOuting"]["outing"];
    assert_eq!(amended["hours"], "6.50");
    assert_eq!(
        amended["history"],
        json!([{ "kind": "REGISTERED", "reason": null }, { "kind": "AMENDED", "reason": "李时珍提前离开" }])
    );

    // A reviewer verifies the version she looked at.
    let verify = r#"mutation($outing: ID!) { verifyOuting(input: { outing: $outing, expectedVersion: 1, note: "核实无误" }) { receipt { position } outing { verified } } }"#;
    let data = server.ok(verify, json!({ "outing": outing_id })).await;
    assert_eq!(data["verifyOuting"]["outing"]["verified"], true);
    let verified_at = data["verifyOuting"]["receipt"]["position"].as_u64().unwrap();

    // The unit ledger, now and as of the registration.
    let ledger = r#"query($unit: ID!, $asOf: AsOfInput, $min: Int) {
      unitLedger(unit: $unit, first: 10, asOf: $asOf, minPosition: $min) {
        totalCount asOfPosition totalRecordedHours totalVerifiedHours
        edges { cursor node { hours runningRecordedHours runningVerifiedHours outing { place verified voided unit { name } history { kind actor { role } } } } }
        pageInfo { hasNextPage hasPreviousPage }
      }
    }"#;
    let now = server.ok(ledger, json!({ "unit": unit, "min": verified_at })).await["unitLedger"].clone();
    assert_eq!(now["totalCount"], 1);
    assert_eq!(now["totalRecordedHours"], "6.50");
    assert_eq!(now["totalVerifiedHours"], "6.50");
    let line = &now["edges"][0]["node"];
    assert_eq!(line["outing"]["place"], "茅箭区武当路社区");
    assert_eq!(line["outing"]["unit"]["name"], "十堰市人民医院");
    assert_eq!(line["outing"]["history"][2], json!({ "kind": "VERIFIED", "actor": { "role": "ADMIN" } }));
    assert_eq!(now["pageInfo"], json!({ "hasNextPage": false, "hasPreviousPage": false }));
    let then =
        server.ok(ledger, json!({ "unit": unit, "asOf": { "position": registered_at } })).await["unitLedger"].clone();
    assert_eq!(then["asOfPosition"], registered_at);
    assert_eq!(then["totalRecordedHours"], "7.50");
    assert_eq!(then["totalVerifiedHours"], "0.00");

    // The member ledger counts the member's own hours.
    let member_ledger =
        r#"query($m: ID!) { memberLedger(member: $m) { totalRecordedHours edges { node { hours } } } }"#;
    let li_ledger = server.ok(member_ledger, json!({ "m": li })).await;
    assert_eq!(li_ledger["memberLedger"]["totalRecordedHours"], "2.50");

    // The report, by unit, for the service month.
    let report = r#"{ report(period: { first: "2011-06-01", last: "2011-06-30" }) { rows { label outings volunteers recordedHours verifiedHours members } } }"#;
    let rows = server.ok(report, json!({})).await["report"]["rows"].clone();
    assert_eq!(
        rows,
        json!([{ "label": "十堰市人民医院", "outings": 1, "volunteers": 2, "recordedHours": "6.50", "verifiedHours": "6.50", "members": 2 }])
    );

    // Eligibility explains itself: one verified outing of the two the gate asks for.
    let eligibility = r#"query($m: ID!) { eligibility(policy: "service-month-default", member: $m, period: { first: "2011-06-01", last: "2011-06-30" }) {
      policy outcome asOfPosition levels { name met criteria { metric required actual met counted { outing hours } } } } }"#;
    let e = server.ok(eligibility, json!({ "m": zhang })).await["eligibility"].clone();
    assert_eq!(e["outcome"], Value::Null);
    let criteria = &e["levels"][0]["criteria"];
    assert_eq!(criteria[0]["metric"], "verified_outings");
    assert_eq!(criteria[0]["actual"], "1.00");
    assert_eq!(criteria[0]["met"], false);
    assert_eq!(criteria[1]["counted"], json!([{ "outing": outing_id, "hours": "4.00" }]));

    // The log, for audit, and the chain over it.
    let events = server.ok(r#"{ events(first: 100) { edges { node { position type stream actor { role } } } } verifyChain { ok events } }"#, json!({})).await;
    let types: Vec<&str> =
        events["events"]["edges"].as_array().unwrap().iter().map(|e| e["node"]["type"].as_str().unwrap()).collect();
    assert_eq!(types.first(), Some(&"UnitRegistered"));
    assert!(types.contains(&"OutingAmended") && types.contains(&"OutingVerified"), "{types:?}");
    assert_eq!(events["verifyChain"], json!({ "ok": true, "events": types.len() }));
    let policies = server.ok("{ policies { name subject } }", json!({})).await;
    assert!(policies["policies"].as_array().unwrap().iter().any(|p| p["name"] == "service-month-default"));
}

#[tokio::test]
async fn a_retried_command_id_returns_the_first_outcome_and_writes_nothing() {
    let server = Server::start();
    let command_id = uuid::Uuid::now_v7().to_string();
    let vars = json!({ "input": { "name": "郧县行政服务中心", "industry": "政务", "region": "郧县" }, "commandId": command_id });
    let first = server.ok(REGISTER_UNIT, vars.clone()).await["registerUnit"].clone();
    let head = server.head().await;
    let again = server.ok(REGISTER_UNIT, vars).await["registerUnit"].clone();
    assert_eq!(again["receipt"]["duplicate"], true);
    assert_eq!(again["receipt"]["position"], first["receipt"]["position"]);
    assert_eq!(again["unit"]["id"], first["unit"]["id"], "the retry names the unit the first attempt created");
    assert_eq!(server.head().await, head);
    let units = server.ok("{ units { totalCount } }", json!({})).await;
    assert_eq!(units["units"]["totalCount"], 1);
}

/// Every error code a client can meet, each with its details, and nothing written.
#[tokio::test]
async fn errors_carry_a_code_the_field_and_the_limit() {
    let server = Server::start();
    let unit = register_unit(&server, "十堰市地税局办税服务厅").await;
    let member = register_member(&server, &unit, "王五").await;
    let head = server.head().await;

    // VALIDATION, naming the field.
    let e =
        server.error(REGISTER_UNIT, json!({ "input": { "name": "  ", "industry": "税务", "region": "张湾区" } })).await;
    assert_eq!(e["extensions"]["code"], "VALIDATION");
    assert_eq!(e["extensions"]["field"], "input.name");
    assert_eq!(e["path"], json!(["registerUnit"]));

    // VALIDATION naming which participant's hours, with the value.
    let other = register_member(&server, &unit, "赵六").await;
    let head_before_outing = server.head().await;
    let bad = outing_input(&unit, "2011-06-05", &[(&member, "2"), (&other, "2.333")]);
    let e = server.error(REGISTER_OUTING, json!({ "input": bad })).await;
    assert_eq!(e["extensions"]["code"], "VALIDATION");
    assert_eq!(e["extensions"]["field"], "input.participants[1].hours");
    assert_eq!(e["extensions"]["value"], "2.333");
    // Each of the outing's fields is named in full when it is wrong.
    for (field, at, value) in [
        ("input.details.start", "details", json!({ "start": "8h" })),
        ("input.details.end", "details", json!({ "end": "07:00" })),
        ("input.details.place", "details", json!({ "place": " " })),
        ("input.details.category", "details", json!({ "category": "" })),
        ("input.participants[0].end", "participant", json!({ "start": "09:00" })),
        ("input.participants[0].start", "participant", json!({ "start": "9", "end": "10:00" })),
        ("input.participants[0].member", "participant", json!({ "member": "" })),
    ] {
        let mut wrong = outing_input(&unit, "2011-06-05", &[(&member, "2")]);
        let target = if at == "details" { &mut wrong["details"] } else { &mut wrong["participants"][0] };
        for (name, v) in value.as_object().unwrap() {
            target[name] = v.clone();
        }
        let e = server.error(REGISTER_OUTING, json!({ "input": wrong })).await;
        assert_eq!((&e["extensions"]["code"], &e["extensions"]["field"]), (&json!("VALIDATION"), &json!(field)), "{e}");
    }

    // VALIDATION of a domain rule, naming the member and the limit.
    let long = outing_input(&unit, "2011-06-05", &[(&member, "5")]);
    let e = server.error(REGISTER_OUTING, json!({ "input": long })).await;
    assert_eq!(e["extensions"]["code"], "VALIDATION");
    assert_eq!(e["extensions"]["member"], member.as_str());
    assert_eq!(e["extensions"]["actual"], "5.00");
    assert_eq!(e["extensions"]["limit"], "4.00");
    assert_eq!(server.head().await, head_before_outing, "refused commands write nothing");

    // NOT_FOUND.
    let ghost = uuid::Uuid::now_v7().to_string();
    let e =
        server.error(REGISTER_OUTING, json!({ "input": outing_input(&ghost, "2011-06-05", &[(&member, "1")]) })).await;
    assert_eq!(e["extensions"]["code"], "NOT_FOUND");
    assert_eq!(e["extensions"]["unit"], ghost.as_str());
    let e = server.error("query($u: ID!) { unitLedger(unit: $u) { totalCount } }", json!({ "u": ghost })).await;
    assert_eq!(e["extensions"]["code"], "NOT_FOUND");

    // CONFLICT: a correction of a version that is no longer the latest.
    let outing =
        server.ok(REGISTER_OUTING, json!({ "input": outing_input(&unit, "2011-06-06", &[(&member, "1")]) })).await;
    let outing = outing["registerOuting"]["outing"]["id"].as_str().unwrap().to_owned();
    let void = r#"mutation($o: ID!, $v: Int) { voidOuting(input: { outing: $o, reason: "重复登记", expectedVersion: $v }) { outing { voided } } }"#;
    let before = server.head().await;
    let e = server.error(void, json!({ "o": outing, "v": 7 })).await;
    assert_eq!(e["extensions"]["code"], "CONFLICT");
    assert_eq!(e["extensions"]["expected"], 7);
    assert_eq!(e["extensions"]["actual"], 0);
    assert_eq!(server.head().await, before);

    // UNAVAILABLE: the read model has not reached the asked position.
    let e = server.error("query($p: Int) { units(minPosition: $p) { totalCount } }", json!({ "p": 1_000_000 })).await;
    assert_eq!(e["extensions"]["code"], "UNAVAILABLE");

    // VALIDATION of a cursor that no list handed out.
    let e = server.error("{ units(after: \"18446744073709551615\") { totalCount } }", json!({})).await;
    assert_eq!(e["extensions"]["code"], "VALIDATION");
    assert_eq!(e["extensions"]["field"], "after");
    let events = server.ok("{ events(after: \"18446744073709551615\") { edges { cursor } } }", json!({})).await;
    assert_eq!(events["events"]["edges"], json!([]));

    // VALIDATION of a token's lifetime, at most ten years (a huge one was a panic).
    let tokens = server.ok("{ tokens { id } }", json!({})).await;
    let create = "mutation($d: Int) { createToken(input: { role: VIEWER, expiresInDays: $d }) { secret } }";
    for days in [0, 3_651, 3_000_000] {
        let e = server.error(create, json!({ "d": days })).await;
        assert_eq!(e["extensions"]["code"], "VALIDATION", "{days} days: {e}");
    }
    assert_eq!(server.ok("{ tokens { id } }", json!({})).await, tokens, "refused tokens are not stored");
    assert!(server.ok(create, json!({ "d": 3_650 })).await["createToken"]["secret"].is_string());

    // BAD_REQUEST: not GraphQL.
    let e = server.error("{ units { ", json!({})).await;
    assert_eq!(e["extensions"]["code"], "BAD_REQUEST");
    assert!(head < server.head().await);
}

#[tokio::test]
async fn each_limit_is_refused_by_name() {
    let server = Server::start();
    // Depth.
    let deep = format!("{{ units {{ edges {{ node {{ {}id{} }} }} }} }}", "parent { ".repeat(12), " }".repeat(12));
    let (status, body) = server.post(&deep, json!({})).await;
    assert_eq!(status, 400);
    assert_eq!(body["errors"][0]["extensions"]["code"], "LIMIT");
    assert_eq!(body["errors"][0]["extensions"]["limit"], "query depth");
    assert_eq!(body["errors"][0]["extensions"]["max"], 13);
    assert!(body.get("data").is_none());

    // Aliases, over the subscription socket too.
    let fields: Vec<String> = (0..31).map(|i| format!("p{i}: position")).collect();
    let subscription = format!("subscription {{ events(fromPosition: 1) {{ {} }} }}", fields.join(" "));
    let mut socket = WsClient::connect(&server, &server.admin).await;
    socket.subscribe("aliases", &subscription, json!({})).await;
    let refused = socket.receive().await;
    let error = if refused["type"] == "error" { &refused["payload"][0] } else { &refused["payload"]["errors"][0] };
    assert_eq!(error["extensions"]["code"], "LIMIT", "{refused}");
    assert_eq!(error["extensions"]["limit"], "aliases", "{refused}");
    let aliased =
        format!("{{ {} }}", (0..31).map(|i| format!("a{i}: head {{ position }}")).collect::<Vec<_>>().join(" "));
    let (status, body) = server.post(&aliased, json!({})).await;
    assert_eq!(status, 400);
    assert_eq!(body["errors"][0]["extensions"]["limit"], "aliases");
    assert_eq!(body["errors"][0]["extensions"]["actual"], 31);

    // Complexity: a list's fields count once per entry asked for.
    let nested = "{ units(first: 100) { edges { node { members(first: 100) { edges { node { id joinedOn } } } } } } }";
    let (status, body) = server.post(nested, json!({})).await;
    assert_eq!(status, 400);
    assert_eq!(body["errors"][0]["extensions"]["limit"], "query complexity", "{body}");
    assert_eq!(body["errors"][0]["extensions"]["max"], 5000);
    let page = "{ units(first: 100) { edges { node { id name region members(first: 5) { totalCount } } } } }";
    assert_eq!(server.post(page, json!({})).await.0, 200, "an ordinary page is well inside the limit");

    // Fragments that expand to millions of fields (23, each spreading the next twice)
    // are refused by name before the engine expands them, over the socket too.
    let doubling = |head: &str, tail: &str, on: &str, field: &str| {
        let mut document = format!("{head} {{ ...F0 }}{tail}");
        for i in 0..23 {
            document.push_str(&format!(" fragment F{i} on {on} {{ {field} ...F{n} ...F{n} }}", n = i + 1));
        }
        document + &format!(" fragment F23 on {on} {{ {field} }}")
    };
    let query = doubling("{ units(first: 1) { edges { node", " } } }", "Unit", "name");
    let (status, body) = server.post(&query, json!({})).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errors"][0]["extensions"]["limit"], "expanded fields", "{body}");
    assert_eq!(body["errors"][0]["extensions"]["max"], 5000);
    assert!(body["errors"][0].get("locations").is_none(), "no place in the document to point at: {body}");
    let subscription = doubling("subscription { events(fromPosition: 1)", " }", "LogEvent", "position");
    socket.subscribe("expanded", &subscription, json!({})).await;
    let refused = socket.answer("expanded").await;
    let error = if refused["type"] == "error" { &refused["payload"][0] } else { &refused["payload"]["errors"][0] };
    assert_eq!(error["extensions"]["limit"], "expanded fields", "{refused}");

    // Reports: at most 1,000 buckets (here 10,436 weeks), refused before any work.
    let weeks = r#"{ report(period: { first: "1900-01-01", last: "2099-12-31" }, bucket: WEEK, groupBy: TOTAL) { asOfPosition } }"#;
    let (status, body) = server.post(weeks, json!({})).await;
    assert_eq!(status, 200, "an execution error, not a request error");
    assert_eq!(body["errors"][0]["extensions"]["code"], "LIMIT", "{body}");
    assert_eq!(body["errors"][0]["extensions"]["limit"], "report buckets", "{body}");
    assert_eq!(body["errors"][0]["extensions"]["max"], 1000);
    let far = r#"{ report(period: { first: "0165-09-06", last: "2000-01-01" }, groupBy: UNIT, bucket: HALF_YEAR) { asOfPosition } }"#;
    let (_, body) = server.post(far, json!({})).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "VALIDATION", "a year mistyped: {body}");
    assert_eq!(body["errors"][0]["extensions"]["field"], "period.first", "{body}");
    let century =
        r#"{ report(period: { first: "1900-01-01", last: "2099-12-31" }, groupBy: TOTAL) { rows { outings } } }"#;
    assert!(server.ok(century, json!({})).await["report"]["rows"].is_array(), "one bucket over any span is fine");

    // Page size.
    let (status, body) = server.post("{ units(first: 101) { totalCount } }", json!({})).await;
    assert_eq!(status, 200, "an execution error, not a request error");
    assert_eq!(body["errors"][0]["extensions"]["code"], "LIMIT");
    assert_eq!(body["errors"][0]["extensions"]["max"], 100);
    assert_eq!(body["errors"][0]["extensions"]["actual"], 101);

    // Body size.
    let big = json!({ "query": format!("{{ head {{ position }} }} #{}", "x".repeat(300 * 1024)) });
    let response = server.http.post(format!("{}/graphql", server.url)).json(&big).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 413);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "LIMIT");
    assert_eq!(body["errors"][0]["extensions"]["limit"], "request body bytes");
    assert_eq!(body["errors"][0]["extensions"]["max"], 262144);
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("262144"), "{body}");
    assert!(body["errors"][0].get("locations").is_none(), "{body}");
}

/// Past the limit of mutations in flight the next is refused at once, 503 with
/// `Retry-After` and `UNAVAILABLE`, having written nothing; sent again with its
/// `commandId` it is applied once. Reads are not limited.
#[tokio::test]
async fn mutations_past_the_limit_in_flight_are_refused_and_safely_retried() {
    let server = Server::start_with_env(&[("TAIZHANG_MAX_MUTATIONS_IN_FLIGHT", "1")]);
    let url = format!("{}/graphql", server.url);
    let send = |i: usize, command: String| {
        let body = json!({ "query": REGISTER_UNIT, "variables": {
            "input": { "name": format!("十堰市第{i}税务所"), "industry": "税务", "region": "张湾区" },
            "commandId": command,
        } });
        let request = server.http.post(&url).json(&body);
        async move {
            let response = request.send().await.unwrap();
            let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
            (response.status().as_u16(), retry_after, response.json::<Value>().await.unwrap())
        }
    };
    let commands: Vec<String> = (0..48).map(|_| uuid::Uuid::now_v7().to_string()).collect();
    let (mut refused, mut applied_before) = (Vec::new(), 0);
    // Rounds of 48 at once over one place: each holds it for its group's fsync, so some
    // of a round are refused; a round with none refused (all applied) is sent again,
    // and answered from the log but for those refused.
    for round in 0..5 {
        applied_before = if round == 0 { 0 } else { 48 };
        let answers =
            futures_util::future::join_all(commands.iter().enumerate().map(|(i, c)| send(i, c.clone()))).await;
        let reads = server.ok("{ units { totalCount } }", json!({})).await;
        assert!(reads["units"]["totalCount"].as_u64().unwrap() <= 48, "reads are answered meanwhile");
        refused.clear();
        for (i, (status, retry_after, body)) in answers.into_iter().enumerate() {
            match status {
                200 => assert!(body["data"]["registerUnit"]["receipt"]["position"].is_u64(), "{body}"),
                503 => {
                    assert_eq!(retry_after.as_deref(), Some("1"));
                    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAVAILABLE", "{body}");
                    assert!(body["errors"][0]["message"].as_str().unwrap().contains("commandId"), "{body}");
                    assert!(body.get("data").is_none(), "{body}");
                    refused.push(i);
                }
                other => panic!("{other}: {body}"),
            }
        }
        if !refused.is_empty() {
            break;
        }
    }
    assert!(!refused.is_empty(), "one place for 48 at once refused none, five times");
    let registered = server.ok("{ units { totalCount } }", json!({})).await;
    let expected = if applied_before == 0 { 48 - refused.len() } else { 48 };
    assert_eq!(registered["units"]["totalCount"], expected, "a refused mutation wrote nothing");
    for i in refused {
        loop {
            let (status, _, body) = send(i, commands[i].clone()).await;
            if status == 200 {
                let duplicate = body["data"]["registerUnit"]["receipt"]["duplicate"].as_bool();
                assert_eq!(duplicate, Some(applied_before > 0), "{body}");
                break;
            }
            assert_eq!(status, 503, "{body}");
        }
    }
    let registered = server.ok("{ units { totalCount } }", json!({})).await;
    assert_eq!(registered["units"]["totalCount"], 48, "each applied once");

    // Over the subscription socket a mutation takes its place the same way.
    let mut socket = WsClient::connect(&server, &server.admin).await;
    let input = json!({ "input": { "name": "十堰市第48税务所", "industry": "税务", "region": "张湾区" } });
    socket.subscribe("register", REGISTER_UNIT, input).await;
    let answer = socket.answer("register").await;
    assert!(answer["payload"]["data"]["registerUnit"]["receipt"]["position"].is_u64(), "{answer}");
    assert_eq!(server.ok("{ units { totalCount } }", json!({})).await["units"]["totalCount"], 49);
}

/// A query text the engine validated before is validated again only where its variables
/// reach (see the server's document cache): every answer must be the one a text never
/// seen before gets. The same text with a trailing space is such a text.
#[tokio::test]
async fn a_document_validated_before_answers_as_a_new_one_whatever_its_variables() {
    let server = Server::start();
    let unit = register_unit(&server, "十堰市人民医院").await;
    register_unit(&server, "十堰市太和医院").await;
    let fresh = |query: &str| format!("{query} ");
    let head = server.head().await;

    // Variables of the wrong shape or type, for a mutation's document validated twice.
    // (The engine refuses some before execution, 400, and finds others as it executes.)
    let valid = json!({ "name": "十堰市中医医院", "industry": "医疗卫生", "region": "茅箭区" });
    for (variables, refused_whole) in [
        (json!({ "input": { "name": 5, "industry": "医疗卫生", "region": "茅箭区" } }), true),
        (json!({ "input": { "name": "十堰市中医医院", "industry": "医疗卫生" } }), true),
        (
            json!({ "input": { "name": "十堰市中医医院", "industry": "医疗卫生", "region": "茅箭区", "floor": 3 } }),
            true,
        ),
        (json!({ "input": "十堰市中医医院" }), false),
        (json!({ "input": valid, "commandId": 7 }), false),
    ] {
        let again = server.post(REGISTER_UNIT, variables.clone()).await;
        assert_eq!(again.0 == 400, refused_whole, "{}", again.1);
        assert!(again.1["errors"][0]["message"].is_string(), "{}", again.1);
        assert_eq!(again, server.post(&fresh(REGISTER_UNIT), variables).await);
    }
    assert_eq!(server.head().await, head, "nothing refused was written");
    let url = format!("{}/graphql", server.url);
    let answer = |body: Value| {
        let request = server.http.post(&url).json(&body);
        async move {
            let response = request.send().await.unwrap();
            (response.status().as_u16(), response.json::<Value>().await.unwrap())
        }
    };
    // A known mutation's text in a body wrong around it (the server reads such a body
    // whole only where the mutation runs) is refused as a text never seen before is.
    for body in [
        json!({ "query": REGISTER_UNIT, "variables": [1] }),
        json!({ "query": REGISTER_UNIT, "variables": { "input": valid }, "extensions": 3 }),
        json!({ "query": REGISTER_UNIT, "variables": { "input": valid }, "operationName": 3 }),
    ] {
        let mut fresh_body = body.clone();
        fresh_body["query"] = json!(fresh(REGISTER_UNIT));
        let refused = answer(body).await;
        assert_eq!(refused.0, 400, "{}", refused.1);
        assert_eq!(refused, answer(fresh_body).await);
    }
    assert_eq!(server.head().await, head, "nothing refused was written");

    // A page size in a variable moves the complexity: within the limit, then over it.
    let pages = "query($n: Int) { units(first: $n) { edges { node { members(first: 100) { totalCount } } } } }";
    for n in [1, 2, 60, 100] {
        let again = server.post(pages, json!({ "n": n })).await;
        assert_eq!(again, server.post(&fresh(pages), json!({ "n": n })).await, "first: {n}");
    }
    let (status, body) = server.post(pages, json!({ "n": 100 })).await;
    assert_eq!((status, &body["errors"][0]["extensions"]["limit"]), (400, &json!("query complexity")), "{body}");

    // A document the engine refused is refused again, and a valid one that names its
    // operation is validated for that operation alone.
    let unknown = "{ units { edges { node { floor } } } }";
    for _ in 0..2 {
        assert_eq!(server.post(unknown, json!({})).await, server.post(&fresh(unknown), json!({})).await);
    }
    let two = "query A($u: ID!) { unit(id: $u) { name } } query B($u: ID!) { unit(id: $u) { name } }";
    let named =
        |operation: &str, u: Value| json!({ "query": two, "operationName": operation, "variables": { "u": u } });
    for (operation, u) in
        [("A", json!(unit)), ("A", json!(unit)), ("B", json!(3)), ("B", json!(unit)), ("A", json!([]))]
    {
        let mut fresh_body = named(operation, u.clone());
        fresh_body["query"] = json!(fresh(two));
        assert_eq!(answer(named(operation, u)).await, answer(fresh_body).await, "operation {operation}");
    }
}

/// The engine hands a mutation's variable to the one root field that reads it instead of
/// copying it (see the vendored engine's notes): a variable read by two root fields, by
/// a directive, through a fragment spread twice or in every payload below the root is
/// still given to every reader, and one read once is given whole.
#[tokio::test]
async fn every_reader_of_a_mutations_variable_gets_its_value() {
    let server = Server::start();
    let payload = "receipt { duplicate commandId } unit { name members(first: $n) { totalCount } }";
    let mutation = format!(
        "mutation($input: RegisterUnitInput!, $other: RegisterUnitInput!, $third: RegisterUnitInput!, \
         $id: UUID, $otherId: UUID, $thirdId: UUID, $all: Boolean!, $n: Int) {{
           first: registerUnit(input: $input, commandId: $id) {{ {payload} }}
           again: registerUnit(input: $input, commandId: $id) @include(if: $all) {{ {payload} }}
           other: registerUnit(input: $other, commandId: $otherId) {{ {payload} }}
           ...Third ...Third
         }}
         fragment Third on Mutation {{ registerUnit(input: $third, commandId: $thirdId) {{ {payload} }} }}"
    );
    let unit = |name: &str| json!({ "name": name, "industry": "医疗卫生", "region": "茅箭区" });
    let ids = ["0190a8c4-3b8e-7000-8000-000000000001", "0190a8c4-3b8e-7000-8000-000000000002"];
    let third_id = "0190a8c4-3b8e-7000-8000-000000000003";
    let variables = json!({
        "input": unit("十堰市人民医院"), "other": unit("十堰市太和医院"), "third": unit("十堰市中医医院"),
        "id": ids[0], "otherId": ids[1], "thirdId": third_id, "all": true, "n": 5,
    });
    // Twice: the first request validates the text, the second takes the validated path.
    for round in 0..2 {
        let (status, body) = server.post(&mutation, variables.clone()).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.get("errors").is_none(), "{body}");
        let data = &body["data"];
        for (alias, name, id, duplicate) in [
            ("first", "十堰市人民医院", ids[0], round > 0),
            ("again", "十堰市人民医院", ids[0], true),
            ("other", "十堰市太和医院", ids[1], round > 0),
        ] {
            assert_eq!(data[alias]["unit"]["name"], name, "{alias}: {body}");
            assert_eq!(data[alias]["receipt"]["commandId"], id, "{alias}: {body}");
            assert_eq!(data[alias]["receipt"]["duplicate"], duplicate, "{alias}: {body}");
            assert_eq!(data[alias]["unit"]["members"]["totalCount"], 0, "{alias}: {body}");
        }
        assert_eq!(data["registerUnit"]["unit"]["name"], "十堰市中医医院", "{body}");
        assert_eq!(data["registerUnit"]["receipt"]["commandId"], third_id, "{body}");
    }
    let registered = server.ok("{ units { totalCount } }", json!({})).await;
    assert_eq!(registered["units"]["totalCount"], 3, "each command applied once");
}

/// The status codes and media types the GraphQL over HTTP specification asks for.
#[tokio::test]
async fn http_follows_the_graphql_over_http_specification() {
    let server = Server::start();
    let url = format!("{}/graphql", server.url);
    let http = &server.http;
    let post = |accept: &'static str, body: &'static str| {
        http.post(&url).header("content-type", "application/json").header("accept", accept).body(body).send()
    };

    // Negotiation: the new media type when asked, legacy JSON otherwise.
    let r = post("application/graphql-response+json", r#"{"query":"{ head { position } }"}"#).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/graphql-response+json; charset=utf-8");
    let r = post("application/json", r#"{"query":"{ head { position } }"}"#).await.unwrap();
    assert_eq!(r.headers()["content-type"], "application/json; charset=utf-8");
    let r = http
        .post(&url)
        .header("content-type", "application/json")
        .body(r#"{"query":"{ head { position } }"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "application/json; charset=utf-8", "no Accept means application/json");
    let r = post("text/csv", r#"{"query":"{ head { position } }"}"#).await.unwrap();
    assert_eq!(r.status(), 406);

    // Parse and validation failures: 400 and no data with the new type, 200 with legacy.
    for body in [r#"{"query":"{ head { "}"#, r#"{"query":"{ nothing }"}"#] {
        let r = post("application/graphql-response+json", body).await.unwrap();
        assert_eq!(r.status(), 400, "{body}");
        let json: Value = r.json().await.unwrap();
        assert!(json.get("data").is_none() && json["errors"].is_array(), "{json}");
        let r = post("application/json", body).await.unwrap();
        assert_eq!(r.status(), 200, "{body}");
        let json: Value = r.json().await.unwrap();
        assert!(json.get("data").is_none() && json["errors"].is_array(), "{json}");
    }

    // A field error during execution is a 200 with data.
    let r = post("application/graphql-response+json", r#"{"query":"{ unit(id: \"\") { name } head { position } }"}"#)
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let json: Value = r.json().await.unwrap();
    assert_eq!(json["data"]["unit"], Value::Null);
    assert_eq!(json["errors"][0]["path"], json!(["unit"]));

    // Malformed requests are 4xx under either media type.
    for (body, why) in [
        ("not json", "body is not JSON"),
        ("[1]", "body is not an object"),
        (r#"{"variables":{}}"#, "no query"),
        (r#"{"query":7}"#, "query is not a string"),
        (r#"{"query":"{ head { position } }","variables":[1]}"#, "variables are not an object"),
        (r#"{"query":"{ head { position } }","operationName":3}"#, "operationName is not a string"),
    ] {
        for accept in ["application/json", "application/graphql-response+json"] {
            let r = post(accept, body).await.unwrap();
            assert_eq!(r.status(), 400, "{why} ({accept})");
            let json: Value = r.json().await.unwrap();
            assert_eq!(json["errors"][0]["extensions"]["code"], "BAD_REQUEST", "{why}");
        }
    }
    let r = http.post(&url).header("content-type", "text/plain").body("{ head { position } }").send().await.unwrap();
    assert_eq!(r.status(), 415);

    // GET: queries yes, mutations no; other methods no.
    let r = http.get(&url).query(&[("query", "{ head { position } }")]).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["data"]["head"]["position"], 0);
    let mutation = r#"mutation { renameUnit(input: { unit: "x", name: "y" }) { receipt { position } } }"#;
    let r = http.get(&url).query(&[("query", mutation)]).send().await.unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()["allow"], "POST");
    let named = "query Q { head { position } } mutation M { renameUnit(input: { unit: \"x\", name: \"y\" }) { receipt { position } } }";
    let r = http.get(&url).query(&[("query", named), ("operationName", "Q")]).send().await.unwrap();
    assert_eq!(r.status(), 200, "the query of a document that also holds a mutation");
    let r = http.get(&url).query(&[("query", named), ("operationName", "M")]).send().await.unwrap();
    assert_eq!(r.status(), 405);
    let r = http.put(&url).body("{}").send().await.unwrap();
    assert_eq!(r.status(), 405);

    // GraphiQL for browsers.
    let r = http.get(&url).header("accept", "text/html,application/xhtml+xml").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(r.text().await.unwrap().contains("graphiql"));
    assert_eq!(server.head().await, 0, "nothing was written");
}

#[tokio::test]
async fn subscriptions_deliver_every_event_in_order_across_a_reconnect() {
    let server = Server::start();
    let unit = register_unit(&server, "十堰市民政局").await;
    let other_unit = register_unit(&server, "十堰移动公司").await;
    let member = register_member(&server, &unit, "陈七").await;

    let events = "subscription($from: Int) { events(fromPosition: $from) { position type stream } }";
    let mut client = WsClient::connect(&server, &server.admin).await;
    client.subscribe("all", events, json!({ "from": 1 })).await;
    let ledger = "subscription($unit: ID!) { unitLedger(unit: $unit) { position type outing { hours voided } } }";
    let mut ledger_client = WsClient::connect(&server, &server.admin).await;
    ledger_client.subscribe("ledger", ledger, json!({ "unit": unit })).await;

    // Catch-up from position 1, then live.
    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(client.next_data().await["events"]["position"].as_u64().unwrap());
    }
    let outing =
        server.ok(REGISTER_OUTING, json!({ "input": outing_input(&unit, "2011-06-07", &[(&member, "2")]) })).await;
    let outing = outing["registerOuting"]["outing"]["id"].as_str().unwrap().to_owned();
    register_unit(&server, "郧西县人民医院").await;
    let change = ledger_client.next_data().await["unitLedger"].clone();
    assert_eq!(change["type"], "OutingRegistered");
    assert_eq!(change["outing"]["hours"], "2.00");

    let head = server.head().await;
    while *seen.last().unwrap() < head {
        seen.push(client.next_data().await["events"]["position"].as_u64().unwrap());
    }
    drop(client);

    // Disconnected: the log moves on.
    let void =
        r#"mutation($o: ID!) { voidOuting(input: { outing: $o, reason: "活动取消" }) { receipt { position } } }"#;
    server.ok(void, json!({ "o": outing })).await;
    register_member(&server, &other_unit, "周八").await;
    let change = ledger_client.next_data().await["unitLedger"].clone();
    assert_eq!(change["type"], "OutingVoided");
    assert_eq!(change["outing"]["voided"], true);

    // Reconnect from the position after the last one seen: nothing missed, nothing twice.
    let mut client = WsClient::connect(&server, &server.admin).await;
    client.subscribe("again", events, json!({ "from": seen.last().unwrap() + 1 })).await;
    let head = server.head().await;
    while *seen.last().unwrap() < head {
        seen.push(client.next_data().await["events"]["position"].as_u64().unwrap());
    }
    assert_eq!(seen, (1..=head).collect::<Vec<_>>());

    // A unit filter sees only that unit's events.
    let mut filtered = WsClient::connect(&server, &server.admin).await;
    filtered
        .subscribe(
            "unit",
            "subscription($u: ID!) { events(fromPosition: 1, unit: $u) { stream } }",
            json!({ "u": other_unit }),
        )
        .await;
    let first = filtered.next_data().await;
    assert_eq!(first["events"]["stream"], format!("unit-{other_unit}"));
    let second = filtered.next_data().await;
    assert!(second["events"]["stream"].as_str().unwrap().starts_with("member-"), "{second}");
}

#[tokio::test]
async fn health_metrics_and_a_graceful_stop_that_keeps_everything() {
    let server = Server::start();
    let unit = register_unit(&server, "丹江口市国税局").await;
    let health: Value = server.http.get(format!("{}/healthz", server.url)).send().await.unwrap().json().await.unwrap();
    assert_eq!(health, json!({ "status": "ok", "store": "sled", "head": 1, "projected": 1, "lag": 0 }));
    let metrics = server.http.get(format!("{}/metrics", server.url)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("taizhang_commands_total 1"), "{metrics}");
    assert!(metrics.contains("taizhang_projection_lag_events 0"), "{metrics}");
    assert!(metrics.contains(r#"taizhang_http_requests_total{route="/graphql",status="200"} 1"#), "{metrics}");
    assert!(metrics.contains("taizhang_graphql_request_duration_seconds_count 1"), "{metrics}");

    let (status, dir) = server.terminate();
    assert!(status.success(), "SIGTERM stops the server cleanly: {status:?}");
    let server = Server::start_in(dir);
    let data = server.ok("query($u: ID!) { unit(id: $u) { name } }", json!({ "u": unit })).await;
    assert_eq!(data["unit"]["name"], "丹江口市国税局");
}

/// Connections are bounded: past the bound a new one is closed at once while those
/// open are served; a connection that sends nothing is closed by the idle timeout
/// (4 s here), and a quiet subscription, pinged by the server, is not.
#[tokio::test]
async fn connections_are_bounded_in_number_and_in_idle_time() {
    use tokio::io::AsyncReadExt;
    let server = Server::start_with_env(&[("TAIZHANG_MAX_CONNECTIONS", "8"), ("TAIZHANG_IDLE_TIMEOUT", "4")]);
    let address = server.url.strip_prefix("http://").unwrap().to_owned();
    let mut socket = WsClient::connect(&server, &server.admin).await;
    socket.subscribe("quiet", "subscription { events { position } }", json!({})).await;
    // The socket is one; six silent connections, and the admin's client is the eighth.
    assert_eq!(server.head().await, 0);
    let mut silent = Vec::new();
    for _ in 0..6 {
        silent.push(tokio::net::TcpStream::connect(&address).await.unwrap());
    }
    let opened = std::time::Instant::now();
    // The ninth is closed at once (its request fails, it does not hang)...
    let fresh = reqwest::Client::new();
    let refused = fresh.get(format!("{}/healthz", server.url)).timeout(Duration::from_secs(10)).send().await;
    assert!(refused.is_err_and(|e| !e.is_timeout()), "a connection past the bound was served or hung");
    // ...while the open ones are served, and one more fits once one closes.
    assert_eq!(server.head().await, 0);
    drop(silent.pop());
    let mut answered = None;
    for _ in 0..100 {
        // The server notices the close when it reads; retry until it has.
        if let Ok(r) = fresh.get(format!("{}/healthz", server.url)).send().await {
            answered = Some(r.status().as_u16());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(answered, Some(200));

    // Silent connections are closed by the idle timeout; the quiet subscription is not.
    let mut byte = [0u8; 1];
    let read = tokio::time::timeout(Duration::from_secs(30), silent[0].read(&mut byte)).await;
    assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "the silent connection was not closed: {read:?}");
    assert!(opened.elapsed() >= Duration::from_secs(3), "closed after {:?}, before the idle timeout", opened.elapsed());
    // Twice the timeout later (the socket pinged meanwhile), on a new connection: the
    // admin's pooled one was idle too.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let unit = r#"mutation { registerUnit(input: { name: "十堰市人民医院", industry: "医疗卫生", region: "茅箭区" }) { receipt { position } } }"#;
    let (status, body) = server.post_with(&support::client_with(&server.admin), unit, json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(socket.next_data().await["events"]["position"], 1, "the quiet subscription still delivers");
}

/// A query or mutation runs at most the server's deadline (1 s here): one waiting for a
/// log position that never comes is cut there with `LIMIT`, and the server goes on.
#[tokio::test]
async fn a_request_past_its_deadline_is_dropped_with_a_limit_error() {
    let server = Server::start_with_env(&[("TAIZHANG_REQUEST_DEADLINE", "1")]);
    // Without the deadline it would wait 5 s, then answer UNAVAILABLE.
    let (status, body) = server.post("{ units(minPosition: 1000000) { totalCount } }", json!({})).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "LIMIT", "{body}");
    assert_eq!(body["errors"][0]["extensions"]["limit"], "request seconds", "{body}");
    assert_eq!(body["errors"][0]["extensions"]["max"], 1);
    assert_eq!(server.head().await, 0);

    // The same over the socket, which stays open for the next operation.
    let mut socket = WsClient::connect(&server, &server.admin).await;
    let started = std::time::Instant::now();
    socket.subscribe("slow", "{ units(minPosition: 1000000) { totalCount } }", json!({})).await;
    let answer = socket.answer("slow").await;
    assert!(started.elapsed() < Duration::from_secs(4), "cut at the deadline, not at the 5 s wait");
    assert_eq!(answer["payload"]["errors"][0]["extensions"]["limit"], "request seconds", "{answer}");
    socket.subscribe("next", "{ head { position } }", json!({})).await;
    assert_eq!(socket.answer("next").await["payload"]["data"]["head"]["position"], 0);
}

/// The contents of every file under `dir`, with their paths.
fn files_under(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let (mut files, mut dirs) = (Vec::new(), vec![dir.to_path_buf()]);
    while let Some(d) = dirs.pop() {
        for path in std::fs::read_dir(&d).unwrap().map(|e| e.unwrap().path()) {
            if path.is_dir() {
                dirs.push(path);
            } else {
                files.push((path.clone(), std::fs::read(&path).unwrap()));
            }
        }
    }
    files
}

/// Every wrapped key of `subject` (a member's id, or an opinion's for its citizen) found
/// in the files under `dir`: each window of the files that the master key opens as
/// that subject's key.
fn keys_of_subject_in_files(dir: &std::path::Path, master: &taizhang_store::keys::MasterKey, subject: &str) -> usize {
    const WRAPPED: usize = 1 + 24 + 32 + 16; // version, nonce, key, tag
    let subject = taizhang_core::DataSubject(subject.parse().unwrap());
    let opens = |window: &[u8]| window[0] == 1 && master.unwrap(subject, window).is_ok();
    files_under(dir).iter().map(|(_, bytes)| bytes.windows(WRAPPED).filter(|w| opens(w)).count()).sum()
}

/// Erasure reaches the disk: with the master key in hand, no file under the data
/// directory holds anything that opens as the erased member's key (before the erasure,
/// the same search finds it), and their name is nowhere in clear.
#[tokio::test]
async fn an_erased_members_key_is_in_no_file_of_the_data_directory() {
    let server = Server::start();
    let unit = register_unit(&server, "十堰市太和医院").await;
    let member = register_member(&server, &unit, "欧阳明远").await;
    let kept = register_member(&server, &unit, "司马静").await;
    let (_, dir) = server.terminate();
    let master = taizhang_store::keys::MasterKey::load_or_create(&dir.path().join("master.key"), false).unwrap();
    assert_eq!(keys_of_subject_in_files(dir.path(), &master, &member), 1, "the search finds a key that is there");

    let server = Server::start_in(dir);
    server
        .ok("mutation($m: ID!) { eraseMember(input: { member: $m }) { receipt { position } } }", json!({ "m": member }))
        .await;
    let data =
        server.ok("query($m: ID!) { member(id: $m) { erased personal { name } } }", json!({ "m": member })).await;
    assert_eq!(data["member"], json!({ "erased": true, "personal": null }));
    let data = server.ok("query($m: ID!) { member(id: $m) { personal { name } } }", json!({ "m": kept })).await;
    assert_eq!(data["member"]["personal"]["name"], "司马静", "the others' keys are whole");
    let (_, dir) = server.terminate();

    assert_eq!(keys_of_subject_in_files(dir.path(), &master, &member), 0);
    assert_eq!(keys_of_subject_in_files(dir.path(), &master, &kept), 1);
    let name = "欧阳明远".as_bytes();
    for (path, bytes) in files_under(dir.path()) {
        assert!(!bytes.windows(name.len()).any(|w| w == name), "{}", path.display());
    }
}

/// A field error nulls the failed field, and a non-null field's null goes up to the
/// nearest nullable ancestor, or to `data` (the specification's "errors and
/// non-nullability"); one error per failed field.
#[tokio::test]
async fn field_errors_null_their_nearest_nullable_ancestor() {
    let server = Server::start();
    let unit = register_unit(&server, "十堰市东风医院").await;
    let body = |query: &'static str| {
        let server = &server;
        let unit = unit.clone();
        async move { server.post(query, json!({ "u": unit })).await.1 }
    };

    // A nullable root field fails: it is null beside the others.
    let answer = body(r#"query { head { position } member(id: "") { id } }"#).await;
    assert_eq!(answer["data"]["member"], Value::Null, "{answer}");
    assert!(answer["data"]["head"]["position"].as_u64().is_some(), "{answer}");
    assert_eq!(answer["errors"][0]["path"], json!(["member"]));

    // A non-null field inside a nullable one: the nullable one is null.
    let answer =
        body("query($u: ID!) { head { position } unit(id: $u) { name members(first: 1000) { totalCount } } }").await;
    assert_eq!(answer["data"]["unit"], Value::Null, "{answer}");
    assert!(answer["data"]["head"]["position"].as_u64().is_some(), "{answer}");
    assert_eq!(answer["errors"][0]["path"], json!(["unit", "members"]));
    assert_eq!(answer["errors"].as_array().unwrap().len(), 1);

    // Non-null all the way up (through a list of non-null items): `data` is null.
    let answer = body("query { head { position } units(first: 1000) { totalCount } }").await;
    assert_eq!(answer["data"], Value::Null, "{answer}");
    let answer = body(
        "query { head { position } units(first: 2) { edges { node { name members(first: 1000) { totalCount } } } } }",
    )
    .await;
    assert_eq!(answer["data"], Value::Null, "{answer}");
    assert_eq!(answer["errors"][0]["path"], json!(["units", "edges", 0, "node", "members"]));

    // The same over the socket.
    let mut socket = WsClient::connect(&server, &server.admin).await;
    let query = "query($u: ID!) { head { position } unit(id: $u) { name members(first: 1000) { totalCount } } }";
    socket.subscribe("q", query, json!({ "u": unit })).await;
    let answer = socket.answer("q").await;
    assert_eq!(answer["payload"]["data"]["unit"], Value::Null, "{answer}");
    assert!(answer["payload"]["data"]["head"]["position"].as_u64().is_some(), "{answer}");
}

/// GraphQL's `Int` is 32 bits: a position, version or count beyond 2³¹ − 1 (or below 0)
/// is refused, as a literal or as a variable, never read as a 64-bit number.
#[tokio::test]
async fn int_arguments_are_32_bit() {
    let server = Server::start();
    for query in [
        "{ units(first: 1, minPosition: 2147483648) { totalCount } }",
        "{ units(first: 1, minPosition: -1) { totalCount } }",
        "{ units(first: 1, asOf: { position: 4294967296 }) { totalCount } }",
    ] {
        let error = server.error(query, json!({})).await;
        assert!(error["message"].as_str().unwrap().contains("Only integers from 0 to 2147483647"), "{query}: {error}");
    }
    let error = server
        .error("query($p: Int) { units(first: 1, minPosition: $p) { totalCount } }", json!({ "p": 2147483648u64 }))
        .await;
    assert!(error["message"].as_str().unwrap().contains("Only integers from 0 to 2147483647"), "{error}");
    let ok = server.ok("{ units(first: 1, minPosition: 0) { totalCount } }", json!({})).await;
    assert!(ok["units"]["totalCount"].as_u64().is_some());
}

/// A command id already used for a verification of one outing, sent with the
/// verification of another, is a `CONFLICT` naming the id: the second outing stays
/// unverified and nothing is written. The same command again is a duplicate.
#[tokio::test]
async fn a_command_id_reused_for_another_outing_is_a_conflict() {
    let server = Server::start();
    let unit = register_unit(&server, "十堰市国税局办税服务厅").await;
    let member = register_member(&server, &unit, "赵志敬").await;
    let register = |date: &'static str| {
        let (server, unit, member) = (&server, unit.clone(), member.clone());
        async move {
            let data =
                server.ok(REGISTER_OUTING, json!({ "input": outing_input(&unit, date, &[(&member, "2")]) })).await;
            data["registerOuting"]["outing"]["id"].as_str().unwrap().to_owned()
        }
    };
    let (a, b) = (register("2011-06-02").await, register("2011-06-03").await);
    let verify = r#"mutation($outing: ID!, $id: UUID) { verifyOuting(input: { outing: $outing }, commandId: $id) {
        receipt { position duplicate } outing { verified } } }"#;
    let id = "0193c5a4-7a3e-7000-8000-00000000c0de";
    server.ok(verify, json!({ "outing": a, "id": id })).await;
    let head = server.head().await;

    let refused = server.error(verify, json!({ "outing": b, "id": id })).await;
    assert_eq!(refused["extensions"]["code"], "CONFLICT", "{refused}");
    assert_eq!(refused["extensions"]["commandId"], id, "{refused}");
    assert_eq!(server.head().await, head, "nothing written");
    let outing = server.ok("query($o: ID!) { outing(id: $o) { verified } }", json!({ "o": b })).await;
    assert_eq!(outing["outing"]["verified"], false);

    let again = server.ok(verify, json!({ "outing": a, "id": id })).await;
    assert_eq!(again["verifyOuting"]["receipt"]["duplicate"], true);
}

/// The award list of a region in GraphQL: paged through, it holds every member of the
/// region's units once, each with the outcome `eligibility` gives that member, at one
/// log position; filtered by outcome or level it holds exactly the members that match;
/// a level the policy lacks is refused with the levels it has, an unknown policy as not
/// found.
#[tokio::test]
async fn the_award_list_pages_and_filters_every_member_of_a_scope() {
    let dir = tempfile::tempdir().unwrap();
    support::taizhang(dir.path(), &[], &["demo", "--scale", "0.05"]);
    let server = Server::start_in(dir);
    let list = r#"query($after: String, $filter: AwardFilterInput, $p: Int) {
      awardList(policy: "service-month-default", period: { first: "2011-06-01", last: "2011-06-30" },
                scope: { region: "张湾区" }, filter: $filter, first: 100, after: $after, asOf: { position: $p }) {
        totalCount pageInfo { hasNextPage endCursor }
        edges { node { member { id unit { region } } eligibility { outcome asOfPosition levels { criteria { actual } } } } }
      }
    }"#;
    let head = server.head().await;
    let all_of = |filter: Value| {
        let server = &server;
        async move {
            let (mut entries, mut after, mut total) = (Vec::new(), Value::Null, None);
            loop {
                let variables = json!({ "after": after, "filter": filter, "p": head });
                let page = server.ok(list, variables).await["awardList"].clone();
                total = total.or(page["totalCount"].as_u64());
                entries.extend(page["edges"].as_array().unwrap().iter().map(|e| e["node"].clone()));
                if page["pageInfo"]["hasNextPage"] != true {
                    break;
                }
                after = page["pageInfo"]["endCursor"].clone();
            }
            assert_eq!(total, Some(entries.len() as u64), "totalCount counts the whole list");
            entries
        }
    };
    let everyone = all_of(Value::Null).await;
    assert!(everyone.len() > 100, "more than a page: {}", everyone.len());
    let mut ids: Vec<&str> = everyone.iter().map(|e| e["member"]["id"].as_str().unwrap()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), everyone.len(), "each member once");
    for entry in &everyone {
        assert_eq!(entry["member"]["unit"]["region"], "张湾区");
        assert_eq!(entry["eligibility"]["asOfPosition"], head, "one position for the whole list");
    }

    // Each entry is what `eligibility` answers for that member.
    let one = r#"query($m: ID!) { eligibility(policy: "service-month-default", member: $m, period: { first: "2011-06-01", last: "2011-06-30" }) { outcome levels { criteria { actual } } } }"#;
    for entry in everyone.iter().step_by(17) {
        let alone = server.ok(one, json!({ "m": entry["member"]["id"] })).await["eligibility"].clone();
        assert_eq!(alone["outcome"], entry["eligibility"]["outcome"], "{entry}");
        assert_eq!(alone["levels"], entry["eligibility"]["levels"], "{entry}");
    }

    let met = |e: &&Value| !e["eligibility"]["outcome"].is_null();
    let awarded: Vec<&Value> = everyone.iter().filter(met).collect();
    assert!(!awarded.is_empty() && awarded.len() < everyone.len(), "{} of {}", awarded.len(), everyone.len());
    let ids_of = |entries: &[Value]| entries.iter().map(|e| e["member"]["id"].clone()).collect::<Vec<_>>();
    let expected: Vec<Value> = awarded.iter().map(|e| e["member"]["id"].clone()).collect();
    assert_eq!(ids_of(&all_of(json!({ "met": true })).await), expected);
    assert_eq!(ids_of(&all_of(json!({ "level": "post-pioneer" })).await), expected);
    let not_met = all_of(json!({ "met": false })).await;
    assert_eq!(not_met.len() + awarded.len(), everyone.len());
    assert!(not_met.iter().all(|e| e["eligibility"]["outcome"].is_null()));

    let wrong_level = server.error(list, json!({ "filter": { "level": "gold" }, "p": head })).await;
    assert_eq!(wrong_level["extensions"]["code"], "VALIDATION", "{wrong_level}");
    assert!(wrong_level["message"].as_str().unwrap().contains("post-pioneer"), "{wrong_level}");
    let unknown =
        r#"{ awardList(policy: "no-such", period: { first: "2011-06-01", last: "2011-06-30" }) { totalCount } }"#;
    let refused = server.error(unknown, json!({})).await;
    assert_eq!(refused["extensions"]["code"], "NOT_FOUND", "{refused}");
}

/// A reviewer verifies many outings at once: each on its own, so the one changed since
/// she looked is refused with CONFLICT and the rest are verified; sending the same
/// request again writes nothing more; a malformed list writes nothing at all.
#[tokio::test]
async fn a_reviewer_verifies_many_outings_at_once() {
    let server = Server::start();
    let unit = register_unit(&server, "十堰市人民医院").await;
    let zhang = register_member(&server, &unit, "张三丰").await;
    let mut outings = Vec::new();
    for date in ["2011-06-04", "2011-06-11", "2011-06-18"] {
        let data = server.ok(REGISTER_OUTING, json!({ "input": outing_input(&unit, date, &[(&zhang, "4")]) })).await;
        outings.push(data["registerOuting"]["outing"]["id"].as_str().unwrap().to_owned());
    }
    // The second outing is amended after the reviewer looked at version 0.
    let amend = r#"mutation($input: AmendOutingInput!) { amendOuting(input: $input) { receipt { position } } }"#;
    let mut input = outing_input(&unit, "2011-06-11", &[(&zhang, "3")]);
    input["outing"] = json!(outings[1]);
    input["reason"] = json!("提前结束");
    input.as_object_mut().unwrap().remove("unit");
    server.ok(amend, json!({ "input": input })).await;

    let bulk = r#"mutation($input: VerifyOutingsInput!, $id: UUID) { verifyOutings(input: $input, commandId: $id) {
      verified refused results { outing receipt { duplicate } refused { code message } } } }"#;
    let looked_at: Vec<Value> = outings.iter().map(|o| json!({ "outing": o, "expectedVersion": 0 })).collect();
    let input = json!({ "outings": looked_at, "note": "核实无误" });
    let id = "0190f0b4-0000-7000-8000-000000000001";
    let first = server.ok(bulk, json!({ "input": input, "id": id })).await["verifyOutings"].clone();
    assert_eq!((first["verified"].as_u64(), first["refused"].as_u64()), (Some(2), Some(1)), "{first}");
    let results = first["results"].as_array().unwrap();
    assert_eq!(results.iter().map(|r| r["outing"].as_str().unwrap()).collect::<Vec<_>>(), outings);
    assert_eq!(results[0]["receipt"]["duplicate"], false);
    assert_eq!(results[1]["refused"]["code"], "CONFLICT", "{first}");
    assert!(results[1]["receipt"].is_null());
    assert_eq!(results[2]["receipt"]["duplicate"], false);

    let verified = r#"query($o: ID!) { outing(id: $o) { verified version } }"#;
    let states: Vec<Value> =
        futures_util::future::join_all(outings.iter().map(|o| server.ok(verified, json!({ "o": o }))))
            .await
            .into_iter()
            .map(|d| d["outing"]["verified"].clone())
            .collect();
    assert_eq!(states, [true, false, true]);

    // The same request again: the verified two are answered from the log.
    let head = server.head().await;
    let again = server.ok(bulk, json!({ "input": input, "id": id })).await["verifyOutings"].clone();
    assert_eq!(again["results"][0]["receipt"]["duplicate"], true, "{again}");
    assert_eq!(again["results"][2]["receipt"]["duplicate"], true, "{again}");
    assert_eq!(server.head().await, head, "a retry writes nothing");

    // An outing named twice, or a list over the limit: refused whole, nothing written.
    let twice = json!({ "outings": [{ "outing": outings[1] }, { "outing": outings[1] }] });
    let refused = server.error(bulk, json!({ "input": twice })).await;
    assert_eq!(refused["extensions"]["code"], "VALIDATION", "{refused}");
    assert!(refused["message"].as_str().unwrap().starts_with("input.outings[1].outing"), "{refused}");
    let many: Vec<Value> = (0..1_001).map(|_| json!({ "outing": outings[1] })).collect();
    let refused = server.error(bulk, json!({ "input": { "outings": many } })).await;
    assert_eq!(refused["extensions"]["code"], "LIMIT", "{refused}");
    assert_eq!(server.head().await, head);
    assert_eq!(server.ok(verified, json!({ "o": outings[1] })).await["outing"]["verified"], false);
}

/// Corrections: a member's personal data and a unit's industry change by new events
/// with their reason; reads after them show the new values, reads as of before them the
/// old, and the records' first events stay in the log.
#[tokio::test]
async fn personal_data_and_industry_are_corrected_with_a_reason() {
    let server = Server::start();
    let unit = register_unit(&server, "十堰市人民医院").await;
    let member = register_member(&server, &unit, "张三风").await;
    let before = server.head().await;

    let correct = r#"mutation($m: ID!) { correctPersonalData(input: { member: $m, personal: { name: "张三丰", phone: "13907190000" }, reason: "姓名录入有误" }) {
      receipt { position } member { personal { name phone birthDate } } } }"#;
    let data = server.ok(correct, json!({ "m": member })).await["correctPersonalData"].clone();
    assert_eq!(data["member"]["personal"], json!({ "name": "张三丰", "phone": "13907190000", "birthDate": null }));
    let read = r#"query($m: ID!) { member(id: $m) { personal { name } } }"#;
    assert_eq!(server.ok(read, json!({ "m": member })).await["member"]["personal"]["name"], "张三丰");

    let reclassify = r#"mutation($u: ID!, $i: String!) { reclassifyUnit(input: { unit: $u, industry: $i, reason: "行业登记有误" }) { unit { industry } } }"#;
    let data = server.ok(reclassify, json!({ "u": unit, "i": "卫生健康" })).await;
    assert_eq!(data["reclassifyUnit"]["unit"]["industry"], "卫生健康");
    let as_of = r#"query($u: ID!, $p: Int) { unit(id: $u, asOf: { position: $p }) { industry } }"#;
    assert_eq!(server.ok(as_of, json!({ "u": unit, "p": before })).await["unit"]["industry"], "医疗卫生");
    // The same industry again is no change, and says so.
    let same = server.error(reclassify, json!({ "u": unit, "i": "卫生健康" })).await;
    assert_eq!(same["extensions"]["code"], "VALIDATION", "{same}");

    // The log keeps both: the registrations and the corrections with their reasons.
    let events = r#"{ events(first: 20) { edges { node { type payload } } } }"#;
    let data = server.ok(events, json!({})).await;
    let nodes: Vec<&Value> = data["events"]["edges"].as_array().unwrap().iter().map(|e| &e["node"]).collect();
    let types: Vec<&str> = nodes.iter().map(|n| n["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["UnitRegistered", "MemberRegistered", "PersonalDataCorrected", "UnitReclassified"]);
    assert_eq!(nodes[2]["payload"]["reason"], "姓名录入有误");
    assert!(!nodes[2]["payload"].to_string().contains("张三丰"), "sealed: {}", nodes[2]["payload"]);

    // Erased, the corrected data is gone with the rest.
    let erase = r#"mutation($m: ID!) { eraseMember(input: { member: $m }) { receipt { position } } }"#;
    server.ok(erase, json!({ "m": member })).await;
    assert_eq!(server.ok(read, json!({ "m": member })).await["member"]["personal"], Value::Null);
    let refused = server.error(correct, json!({ "m": member })).await;
    assert_eq!(refused["extensions"]["code"], "VALIDATION", "{refused}");
    assert!(refused["message"].as_str().unwrap().contains("is erased"), "{refused}");
}

/// One participant corrected without restating the outing: their hours changed, a
/// member added, one removed; each an amendment in the outing's history, the others'
/// hours untouched; a version that is no longer the outing's is refused.
#[tokio::test]
async fn one_participant_is_corrected_and_the_rest_stands() {
    let server = Server::start();
    let unit = register_unit(&server, "十堰市人民医院").await;
    let zhang = register_member(&server, &unit, "张三丰").await;
    let li = register_member(&server, &unit, "李时珍").await;
    let wang = register_member(&server, &unit, "王俊").await;
    let data = server
        .ok(REGISTER_OUTING, json!({ "input": outing_input(&unit, "2011-06-04", &[(&zhang, "4"), (&li, "3.5")]) }))
        .await;
    let outing = data["registerOuting"]["outing"]["id"].as_str().unwrap().to_owned();
    let amend = r#"mutation($input: AmendParticipationInput!) { amendParticipation(input: $input) {
      outing { version hours participants { hours member { id } } history { kind reason } } } }"#;
    let hours_of = |o: &Value| {
        let mut listed: Vec<(String, String)> = o["participants"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p["member"]["id"].as_str().unwrap().to_owned(), p["hours"].as_str().unwrap().to_owned()))
            .collect();
        listed.sort();
        listed
    };
    let sorted = |mut v: Vec<(String, String)>| {
        v.sort();
        v
    };

    let input =
        json!({ "outing": outing, "participant": { "member": li, "hours": "2:30" }, "reason": "李时珍提前离开" });
    let o = server.ok(amend, json!({ "input": input })).await["amendParticipation"]["outing"].clone();
    assert_eq!(hours_of(&o), sorted(vec![(zhang.clone(), "4.00".into()), (li.clone(), "2.50".into())]));
    assert_eq!(o["version"], 1);

    let input = json!({ "outing": outing, "participant": { "member": wang, "hours": "1" }, "reason": "补登王俊", "expectedVersion": 1 });
    let o = server.ok(amend, json!({ "input": input })).await["amendParticipation"]["outing"].clone();
    assert_eq!(hours_of(&o).len(), 3);

    let input =
        json!({ "outing": outing, "participant": { "member": zhang }, "remove": true, "reason": "张三丰未到场" });
    let o = server.ok(amend, json!({ "input": input })).await["amendParticipation"]["outing"].clone();
    assert_eq!(hours_of(&o), sorted(vec![(li.clone(), "2.50".into()), (wang.clone(), "1.00".into())]));
    assert_eq!(o["hours"], "3.50");
    let reasons: Vec<&str> = o["history"].as_array().unwrap().iter().filter_map(|h| h["reason"].as_str()).collect();
    assert_eq!(reasons, ["李时珍提前离开", "补登王俊", "张三丰未到场"]);

    let head = server.head().await;
    let stale = json!({ "outing": outing, "participant": { "member": li, "hours": "2" }, "reason": "再改", "expectedVersion": 1 });
    let refused = server.error(amend, json!({ "input": stale })).await;
    assert_eq!(refused["extensions"]["code"], "CONFLICT", "{refused}");
    let absent = json!({ "outing": outing, "participant": { "member": zhang }, "remove": true, "reason": "再删" });
    let refused = server.error(amend, json!({ "input": absent })).await;
    assert_eq!(refused["extensions"]["code"], "VALIDATION", "{refused}");
    assert_eq!(server.head().await, head, "nothing written");
}

/// A clerk's own codes stay: a unit, member and outing registered with one show it and
/// are found by it wherever an id is asked; units and members are searched by name,
/// code, region and industry, in code order (a member's name only by those who may read
/// it); registering the same code again is a conflict, not a second record.
#[tokio::test]
async fn records_keep_their_codes_and_are_found_by_them() {
    let server = Server::start();
    let register = r#"mutation { registerUnit(input: { code: "SY-0001", name: "十堰市人民医院", industry: "医疗卫生", region: "茅箭区" }) { unit { id code } } }"#;
    let unit = server.ok(register, json!({})).await["registerUnit"]["unit"].clone();
    assert_eq!(unit["code"], "SY-0001");
    let member = r#"mutation { registerMember(input: { code: "M-7", unit: "SY-0001", joinedOn: "2011-01-01", personal: { name: "王俊" } }) { member { id code unit { code } } } }"#;
    let member = server.ok(member, json!({})).await["registerMember"]["member"].clone();
    assert_eq!((member["code"].as_str(), member["unit"]["code"].as_str()), (Some("M-7"), Some("SY-0001")));
    let mut input = outing_input("SY-0001", "2011-06-04", &[("M-7", "2")]);
    input["code"] = json!("O-2011-06-04");
    let registered = server.ok(REGISTER_OUTING, json!({ "input": input })).await;
    let outing_id = registered["registerOuting"]["outing"]["id"].clone();

    let by_code = r#"{ unit(id: "SY-0001") { id name code } member(id: "M-7") { id code } outing(id: "O-2011-06-04") { id code hours } }"#;
    let found = server.ok(by_code, json!({})).await;
    assert_eq!(found["unit"]["id"], unit["id"]);
    assert_eq!(found["member"]["id"], member["id"]);
    assert_eq!((found["outing"]["id"].clone(), found["outing"]["hours"].clone()), (outing_id, json!("2.00")));
    let ledger = r#"{ unitLedger(unit: "SY-0001") { edges { node { outing { code } } } } }"#;
    assert_eq!(server.ok(ledger, json!({})).await["unitLedger"]["edges"][0]["node"]["outing"]["code"], "O-2011-06-04");

    // Found by a part of the name or code, by region, by industry.
    let more = r#"mutation($c: String!, $n: String!, $r: String!) { registerUnit(input: { code: $c, name: $n, industry: "税务", region: $r }) { unit { id } } }"#;
    server.ok(more, json!({ "c": "SY-0003", "n": "十堰市税务局", "r": "张湾区" })).await;
    server.ok(more, json!({ "c": "SY-0002", "n": "茅箭区税务局", "r": "茅箭区" })).await;
    let search = r#"query($s: String, $r: String, $i: String) { units(search: $s, region: $r, industry: $i) { totalCount edges { node { code } } } }"#;
    let codes_of = |found: &Value| -> Vec<String> {
        found["units"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["code"].as_str().unwrap().to_owned())
            .collect()
    };
    for (variables, expected) in [
        (json!({}), vec!["SY-0001", "SY-0002", "SY-0003"]),
        (json!({ "s": "税务" }), vec!["SY-0002", "SY-0003"]),
        (json!({ "s": "sy-0001" }), vec!["SY-0001"]),
        (json!({ "r": "茅箭区" }), vec!["SY-0001", "SY-0002"]),
        (json!({ "s": "税务", "r": "茅箭区" }), vec!["SY-0002"]),
        (json!({ "i": "医疗卫生" }), vec!["SY-0001"]),
        (json!({ "s": "没有" }), vec![]),
    ] {
        assert_eq!(codes_of(&server.ok(search, variables.clone()).await), expected, "{variables}");
    }

    let again = server.error(register, json!({})).await;
    assert_eq!(again["extensions"]["code"], "CONFLICT", "{again}");
    let unknown = server.ok(r#"{ unit(id: "SY-9999") { name } }"#, json!({})).await;
    assert_eq!(unknown["unit"], Value::Null);

    // Members found by a part of the code or of the name, by their unit's code, region
    // or industry; a name only by those who may read it.
    let join = r#"mutation($c: String!, $u: ID!, $n: String!) { registerMember(input: { code: $c, unit: $u, joinedOn: "2011-01-01", personal: { name: $n } }) { receipt { position } } }"#;
    server.ok(join, json!({ "c": "M-8", "u": "SY-0001", "n": "王俊杰" })).await;
    server.ok(join, json!({ "c": "T-1", "u": "SY-0003", "n": "王芳" })).await;
    server.ok(join, json!({ "c": "T-2", "u": "SY-0002", "n": "李娜" })).await;
    let members = r#"query($s: String, $u: ID, $r: String, $i: String) { members(search: $s, unit: $u, region: $r, industry: $i) { totalCount edges { node { code } } } }"#;
    let codes_of = |found: &Value| -> Vec<String> {
        let edges = found["members"]["edges"].as_array().unwrap();
        edges.iter().map(|e| e["node"]["code"].as_str().unwrap().to_owned()).collect()
    };
    for (variables, expected) in [
        (json!({}), vec!["M-7", "M-8", "T-1", "T-2"]),
        (json!({ "s": "王" }), vec!["M-7", "M-8", "T-1"]),
        (json!({ "s": "王俊" }), vec!["M-7", "M-8"]),
        (json!({ "s": "t-" }), vec!["T-1", "T-2"]),
        (json!({ "s": "王", "r": "茅箭区" }), vec!["M-7", "M-8"]),
        (json!({ "i": "税务" }), vec!["T-1", "T-2"]),
        (json!({ "u": "SY-0002" }), vec!["T-2"]),
    ] {
        assert_eq!(codes_of(&server.ok(members, variables.clone()).await), expected, "{variables}");
    }
    let clerk = server.token("CLERK", &["SY-0001"], None).await;
    let (_, as_clerk) = server.post_with(&support::client_with(&clerk), members, json!({ "s": "王" })).await;
    assert_eq!(codes_of(&as_clerk["data"]), ["M-7", "M-8"], "another unit's names are not searched: {as_clerk}");
    let (_, by_code) = server.post_with(&support::client_with(&clerk), members, json!({ "s": "T-1" })).await;
    assert_eq!(codes_of(&by_code["data"]), ["T-1"], "codes are: {by_code}");
}

/// A backup while the server serves: the log up to the head when asked, and the
/// wrapped keys, taken through the running server by `taizhang --server`, while a
/// clerk goes on writing and reading; the backup restores into a fresh directory with
/// its chain intact and its personal data readable with the master key; the server
/// verifies its chain for `verify`. A viewer may not take a backup.
#[tokio::test]
async fn a_backup_is_taken_while_the_server_serves() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_owned();
    support::taizhang(&data, &[], &["demo", "--scale", "0.02"]);
    let server = Server::start_in(dir);
    let elsewhere = tempfile::tempdir().unwrap();
    let (log, keys) = (elsewhere.path().join("log.jsonl"), elsewhere.path().join("keys.jsonl"));

    // Writes and reads go on meanwhile.
    let unit = register_unit(&server, "十堰市人民医院").await;
    let busy = async {
        let mut served = 0;
        for i in 0..40 {
            register_member(&server, &unit, &format!("志愿者{i}")).await;
            server.ok("{ units(first: 5) { totalCount } }", json!({})).await;
            served += 2;
        }
        served
    };
    let backup = {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_taizhang"));
        command.args(["--server", &server.url, "--token", &server.admin, "export", "-o"]);
        command.args([log.to_str().unwrap(), "--keys", keys.to_str().unwrap()]);
        tokio::task::spawn_blocking(move || command.output().unwrap())
    };
    let (served, backup) = tokio::join!(busy, backup);
    let backup = backup.unwrap();
    let said = String::from_utf8_lossy(&backup.stderr);
    assert!(backup.status.success(), "{said}");
    assert_eq!(served, 80);
    let events = std::fs::read_to_string(&log).unwrap().lines().count() as u64;
    assert!(said.contains(&format!("backed up {events} events")), "{said}");
    assert!(events > 1_000 && events <= server.head().await, "{events}");

    // Restored elsewhere: the same chain up to the backup's position, names readable.
    let fresh = elsewhere.path().join("restored");
    let master = ["--master-key-file", data.join("master.key").to_str().unwrap()].map(str::to_owned);
    let run = |args: &[&str]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_taizhang"))
            .args(["--data", fresh.to_str().unwrap()])
            .args(&master)
            .args(args)
            .output()
            .unwrap();
        assert!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).unwrap()
    };
    run(&["restore", log.to_str().unwrap(), "--keys", keys.to_str().unwrap()]);
    assert!(run(&["verify"]).starts_with(&format!("ok: {events} events")));
    let members = elsewhere.path().join("members.csv");
    run(&["export", "members", "-o", members.to_str().unwrap()]);
    assert!(std::fs::read_to_string(&members).unwrap().lines().count() > 100, "names opened with the keys");

    // The server verifies its own chain for `taizhang --server … verify`.
    let verified = std::process::Command::new(env!("CARGO_BIN_EXE_taizhang"))
        .args(["--server", &server.url, "--token", &server.admin, "verify"])
        .output()
        .unwrap();
    assert!(verified.status.success(), "{}", String::from_utf8_lossy(&verified.stderr));
    let said = String::from_utf8(verified.stdout).unwrap();
    assert!(said.starts_with(&format!("ok: {} events, head hash ", server.head().await)), "{said}");

    let viewer = support::client_with(&server.token("VIEWER", &[], None).await);
    let refused = viewer.get(format!("{}/backup", server.url)).send().await.unwrap();
    assert_eq!(refused.status(), 403);
    let anonymous = reqwest::get(format!("{}/backup/keys", server.url)).await.unwrap();
    assert_eq!(anonymous.status(), 401);
}

/// An import while the server serves, through `taizhang --server`: a file with a
/// problem is refused at its line and column and writes nothing; the mended file is
/// written as the token's holder, a clerk, for their own unit only.
#[tokio::test]
async fn an_import_goes_through_the_running_server() {
    let server = Server::start();
    let register = r#"mutation { registerUnit(input: { code: "SY-0001", name: "十堰市人民医院", industry: "医疗卫生", region: "茅箭区" }) { unit { id } } }"#;
    server.ok(register, json!({})).await;
    let other = r#"mutation { registerUnit(input: { code: "SY-0002", name: "十堰市税务局", industry: "税务", region: "张湾区" }) { unit { id } } }"#;
    server.ok(other, json!({})).await;
    let clerk = server.token("CLERK", &["SY-0001"], None).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("members.csv");
    let import = |token: &str| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_taizhang"))
            .args(["--server", &server.url, "--token", token, "import", "members", file.to_str().unwrap()])
            .output()
            .unwrap();
        (output.status.success(), String::from_utf8_lossy(&output.stderr).into_owned())
    };

    let head = server.head().await;
    std::fs::write(&file, "编号,单位,加入日期,姓名\r\nM-1,SY-0001,2011/1/5,王俊\r\nM-2,SY-0002,2011-01-05,李娜\r\n")
        .unwrap();
    let (ok, said) = import(&clerk);
    assert!(!ok, "{said}");
    assert!(said.contains("members.csv:3:2: unit: unit SY-0002 is not one of this token's units"), "{said}");
    assert_eq!(server.head().await, head, "nothing written");

    std::fs::write(&file, "编号,单位,加入日期,姓名\r\nM-1,SY-0001,2011/1/5,王俊\r\nM-2,SY-0001,2011-01-05,李娜\r\n")
        .unwrap();
    let (ok, said) = import(&clerk);
    assert!(ok, "{said}");
    assert!(said.contains("2 members written, 0 already in the log"), "{said}");
    let written = server.ok(r#"{ member(id: "M-2") { code personal { name } } }"#, json!({})).await;
    assert_eq!(written["member"], json!({ "code": "M-2", "personal": { "name": "李娜" } }));
    let events =
        server.ok("{ events(first: 2, after: \"2\") { edges { node { type actor { role } } } } }", json!({})).await;
    for edge in events["events"]["edges"].as_array().unwrap() {
        assert_eq!(edge["node"], json!({ "type": "MemberRegistered", "actor": { "role": "CLERK" } }), "{events}");
    }
    let (ok, said) = import(&clerk);
    assert!(ok && said.contains("0 members written, 2 already in the log"), "{said}");

    // A corrected name, imported again with a reason: shown first, written on --yes, as
    // a correction by the clerk.
    std::fs::write(&file, "编号,单位,加入日期,姓名\r\nM-1,SY-0001,2011/1/5,王俊\r\nM-2,SY-0001,2011-01-05,李娜娜\r\n")
        .unwrap();
    let (ok, said) = import(&clerk);
    assert!(!ok && said.contains("members.csv:3:1: id: ") && said.contains("--amend REASON"), "{said}");
    let amend = |extra: &[&str]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_taizhang"))
            .args(["--server", &server.url, "--token", &clerk, "import", "members", file.to_str().unwrap()])
            .args(["--amend", "姓名有误"])
            .args(extra)
            .output()
            .unwrap();
        (output.status.success(), String::from_utf8_lossy(&output.stderr).into_owned())
    };
    let head = server.head().await;
    let (ok, said) = amend(&[]);
    assert!(
        ok && said.contains("members.csv:3: M-2: name 李娜 → 李娜娜") && said.contains("nothing was written"),
        "{said}"
    );
    assert_eq!(server.head().await, head, "a preview writes nothing");
    let (ok, said) = amend(&["--yes"]);
    assert!(ok && said.contains("0 members written, 1 correction(s) written, 1 already in the log"), "{said}");
    let corrected = server.ok(r#"{ member(id: "M-2") { personal { name } } }"#, json!({})).await;
    assert_eq!(corrected["member"]["personal"]["name"], "李娜娜");
    let query = format!("{{ events(first: 1, after: \"{head}\") {{ edges {{ node {{ type actor {{ role }} }} }} }} }}");
    let last = server.ok(&query, json!({})).await;
    assert_eq!(
        last["events"]["edges"][0]["node"],
        json!({ "type": "PersonalDataCorrected", "actor": { "role": "CLERK" } })
    );
}

/// The month's report and a unit's ledger while the server serves: `taizhang --server
/// … export reports|ledger` gives the same bytes as the export from the data directory
/// once the server has stopped; a region the log does not know is named, not answered
/// with an empty report; a clerk gets another unit's ledger, and the award list, with
/// no name outside their own unit.
#[tokio::test]
async fn reports_are_exported_while_the_server_serves() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_owned();
    support::taizhang(&data, &[], &["demo", "--scale", "0.02"]);
    let server = Server::start_in(dir);
    let out = tempfile::tempdir().unwrap();
    let month = ["export", "reports", "--from", "2011-06-01", "--to", "2011-06-30"];
    let online = |extra: &[&str], file: &str| {
        let path = out.path().join(file);
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_taizhang"))
            .args(["--server", &server.url, "--token", &server.admin])
            .args(month)
            .args(extra)
            .args(["-o", path.to_str().unwrap()])
            .output()
            .unwrap();
        (output.status.success(), String::from_utf8_lossy(&output.stderr).into_owned(), path)
    };
    let (ok, said, by_region) = online(&["--by", "region"], "online.csv");
    assert!(ok, "{said}");
    let (ok, said, workbook) = online(&["--format", "xlsx"], "online.xlsx");
    assert!(ok, "{said}");
    assert!(std::fs::read(&workbook).unwrap().starts_with(b"PK"), "an XLSX file");
    let (ok, said, _) = online(&["--region", "武汉市"], "none.csv");
    assert!(!ok && said.contains("no unit is in the region \"武汉市\""), "{said}");
    let (ok, said, _) = online(&["--unit", "SY-9999"], "none.csv");
    assert!(!ok && said.contains("there is no unit SY-9999"), "{said}");

    // A unit's ledger: the admin's names every participant; a clerk of another unit
    // gets the same ledger with participants by code, no name.
    let ledger_of = |token: &str, file: &str| {
        let path = out.path().join(file);
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_taizhang"))
            .args(["--server", &server.url, "--token", token, "export", "ledger", "--unit", "SY-0001"])
            .args(["-o", path.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        std::fs::read_to_string(path).unwrap()
    };
    let named = ledger_of(&server.admin, "ledger.csv");
    let clerk = server.token("CLERK", &["SY-0002"], None).await;
    let coded = ledger_of(&clerk, "coded.csv");
    let who =
        |csv: &str| -> Vec<String> { csv.lines().skip(1).map(|l| l.split(',').nth(7).unwrap().to_owned()).collect() };
    assert_eq!(who(&named).len(), who(&coded).len());
    assert!(who(&coded).iter().all(|w| w.split('、').all(|p| p.starts_with("SY-0001-"))), "{coded}");
    assert!(who(&named).iter().all(|w| !w.contains("SY-")), "{named}");

    // The award list of a region: the admin's names every member; a clerk of another
    // unit's has the same rows and levels, with no name outside their own unit.
    let award_of = |token: &str, file: &str| {
        let path = out.path().join(file);
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_taizhang"))
            .args(["--server", &server.url, "--token", token, "export", "eligibility"])
            .args(["--policy", "service-month-default", "--from", "2011-06-01", "--to", "2011-06-30"])
            .args(["-o", path.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        std::fs::read_to_string(path).unwrap()
    };
    let (everyone, for_clerk) = (award_of(&server.admin, "award.csv"), award_of(&clerk, "award-clerk.csv"));
    let column = |csv: &str, i: usize| -> Vec<String> {
        csv.lines().skip(1).map(|l| l.split(',').nth(i).unwrap().to_owned()).collect()
    };
    assert!(column(&everyone, 4).iter().all(|name| !name.is_empty()), "names: {everyone}");
    assert_eq!(column(&everyone, 5), column(&for_clerk, 5), "the same levels");
    for (unit, name) in column(&for_clerk, 0).iter().zip(column(&for_clerk, 4)) {
        assert_eq!(name.is_empty(), unit != "SY-0002", "{unit} {name}");
    }

    let (_, dir) = server.terminate();
    let offline = out.path().join("offline.csv");
    support::taizhang(dir.path(), &[], &[&month[..], &["--by", "region", "-o", offline.to_str().unwrap()]].concat());
    let (online, offline) = (std::fs::read(&by_region).unwrap(), std::fs::read(&offline).unwrap());
    assert!(String::from_utf8_lossy(&online).lines().count() > 3);
    assert_eq!(String::from_utf8_lossy(&online), String::from_utf8_lossy(&offline), "the same report");
    let offline_ledger = out.path().join("offline-ledger.csv");
    support::taizhang(
        dir.path(),
        &[],
        &["export", "ledger", "--unit", "SY-0001", "-o", offline_ledger.to_str().unwrap()],
    );
    assert_eq!(named, std::fs::read_to_string(&offline_ledger).unwrap(), "the same ledger");
    let offline_award = out.path().join("offline-award.csv");
    let award =
        ["export", "eligibility", "--policy", "service-month-default", "--from", "2011-06-01", "--to", "2011-06-30"];
    support::taizhang(dir.path(), &[], &[&award[..], &["-o", offline_award.to_str().unwrap()]].concat());
    assert_eq!(everyone, std::fs::read_to_string(&offline_award).unwrap(), "the same award list");
}

/// The records in the import's layout while the server serves: `taizhang --server …
/// export units|members|outings|verifications` gives the bytes the export from the data
/// directory gives once the server has stopped; a clerk's member list holds their own
/// unit's members only; a viewer, who may not read personal data, gets none.
#[tokio::test]
async fn records_are_exported_while_the_server_serves() {
    let dir = tempfile::tempdir().unwrap();
    support::taizhang(dir.path(), &[], &["demo", "--scale", "0.01"]);
    let server = Server::start_in(dir);
    let out = tempfile::tempdir().unwrap();
    let export = |token: &str, kind: &str| {
        let path = out.path().join(format!("{kind}-{}.csv", &token[..8]));
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_taizhang"))
            .args(["--server", &server.url, "--token", token, "export", kind, "-o", path.to_str().unwrap()])
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&output.stderr).into_owned();
        output.status.success().then(|| std::fs::read_to_string(&path).unwrap()).ok_or(said)
    };
    const KINDS: [&str; 4] = ["units", "members", "outings", "verifications"];
    let mut online = Vec::new();
    for kind in KINDS {
        let file = export(&server.admin, kind).unwrap();
        assert!(file.lines().count() > 10, "{kind}: {file}");
        online.push(file);
    }
    let clerk = server.token("CLERK", &["SY-0002"], None).await;
    let own = export(&clerk, "members").unwrap();
    let units: Vec<&str> = own.lines().skip(1).map(|l| l.split(',').nth(1).unwrap()).collect();
    assert!(!units.is_empty() && units.iter().all(|u| *u == "SY-0002"), "{own}");
    let viewer = server.token("VIEWER", &[], None).await;
    let refused = export(&viewer, "members").unwrap_err();
    assert!(
        refused.contains("403") && refused.contains("a viewer token has no access to members' personal data"),
        "{refused}"
    );
    assert!(export(&viewer, "units").is_ok(), "the directory is everyone's");

    let (_, dir) = server.terminate();
    for (kind, online) in KINDS.iter().zip(online) {
        let path = out.path().join(format!("offline-{kind}.csv"));
        support::taizhang(dir.path(), &[], &["export", kind, "-o", path.to_str().unwrap()]);
        assert_eq!(online, std::fs::read_to_string(&path).unwrap(), "the same {kind}");
    }
}

/// Tokens managed through the running server by `taizhang --server … token`: created
/// (the secret printed once, working at once), listed with their status, revoked (the
/// secret refused from the next request on).
#[tokio::test]
async fn tokens_are_managed_through_the_running_server() {
    let server = Server::start();
    let unit = register_unit(&server, "十堰市人民医院").await;
    let run = |args: &[&str]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_taizhang"))
            .args(["--server", &server.url, "--token", &server.admin, "token"])
            .args(args)
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&output.stderr).into_owned();
        (output.status.success(), String::from_utf8(output.stdout).unwrap(), said)
    };
    let (ok, secret, said) = run(&["create", "--role", "clerk", "--unit", &unit, "--expires", "30d", "--name", "王俊"]);
    assert!(ok, "{said}");
    let clerk = support::client_with(secret.trim());
    let (_, me) = server.post_with(&clerk, "{ me { role units } }", json!({})).await;
    assert_eq!(me["data"]["me"], json!({ "role": "CLERK", "units": [unit] }), "{me}");
    let id = said.split_whitespace().nth(3).unwrap().trim_end_matches([',', ';']).to_owned();

    let (ok, listed, said) = run(&["list"]);
    assert!(ok, "{said}");
    let row = listed.lines().find(|l| l.starts_with(&id)).unwrap_or_else(|| panic!("{id} in {listed}"));
    assert!(row.contains("clerk") && row.contains("active") && row.contains("王俊"), "{row}");

    let (ok, _, said) = run(&["revoke", &id]);
    assert!(ok, "{said}");
    let (status, _) = server.post_with(&clerk, "{ me { role } }", json!({})).await;
    assert_eq!(status, 401);
    let (ok, _, said) = run(&["create", "--role", "viewer", "--expires", "12h"]);
    assert!(!ok && said.contains("in days"), "{said}");
}

const COMMITMENT_FIELDS: &str = "id code text target version public amendmentReason withdrawalReason \
    assessment { fulfilment evidence } renews renewedBy memberId";

/// A public commitment through its whole life over GraphQL: a clerk makes and amends
/// it, a reviewer assesses it, the clerk renews and withdraws it; the chain of promises
/// reads both ways, as of any position. Each refusal has its code and writes nothing.
#[tokio::test]
async fn a_commitment_is_made_amended_assessed_renewed_and_withdrawn() {
    let server = Server::start();
    let unit = register_unit(&server, "十堰市人民医院").await;
    let other = register_unit(&server, "十堰市民政局").await;
    let member = register_member(&server, &unit, "张三丰").await;
    let clerk = support::client_with(&server.token("CLERK", &[&unit], None).await);
    let reviewer = support::client_with(&server.token("REVIEWER", &[], None).await);
    let promise = |text: &str| json!({ "category": "办结时限", "text": text, "target": "≤ 3 个工作日", "from": "2011-01-01", "until": "2011-06-30" });
    let payload =
        |mutation: &str| format!("{mutation} {{ receipt {{ position }} commitment {{ {COMMITMENT_FIELDS} }} }} }}");
    let as_clerk = async |client: &reqwest::Client, query: &str, variables: Value| {
        let (status, body) = server.post_with(client, query, variables).await;
        assert_eq!(status, 200, "{body}");
        body
    };

    let make = payload("mutation($input: MakeCommitmentInput!) { makeCommitment(input: $input)");
    let body = as_clerk(
        &clerk,
        &make,
        json!({ "input": { "unit": unit, "code": "CN-01", "member": member, "content": promise("即办件当场办结") } }),
    )
    .await;
    let made = &body["data"]["makeCommitment"]["commitment"];
    let first = made["id"].as_str().unwrap().to_owned();
    assert_eq!(
        (made["code"].as_str(), made["version"].as_u64(), made["public"].as_bool()),
        (Some("CN-01"), Some(0), Some(true))
    );
    assert_eq!(made["memberId"], member.as_str());
    let made_at = body["data"]["makeCommitment"]["receipt"]["position"].as_u64().unwrap();

    let amend = payload("mutation($input: AmendCommitmentInput!) { amendCommitment(input: $input)");
    let body = as_clerk(&clerk, &amend, json!({ "input": { "commitment": "CN-01", "content": promise("即办件当场办结，承诺件限时办结"), "reason": "表述不清" } })).await;
    let amended = &body["data"]["amendCommitment"]["commitment"];
    assert_eq!((amended["version"].as_u64(), amended["amendmentReason"].as_str()), (Some(1), Some("表述不清")));

    // Assessing is a reviewer's act: the clerk is refused, and nothing is written.
    let assess = payload("mutation($input: AssessCommitmentInput!) { assessCommitment(input: $input)");
    let finding = json!({ "input": { "commitment": first, "fulfilment": "PARTLY_KEPT", "evidence": "群众意见 12 条，满意 10 条" } });
    let head = server.head().await;
    let body = as_clerk(&clerk, &assess, finding.clone()).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "FORBIDDEN", "{body}");
    assert_eq!(server.head().await, head, "a refused command writes nothing");
    let body = as_clerk(&reviewer, &assess, finding).await;
    assert_eq!(body["data"]["assessCommitment"]["commitment"]["assessment"]["fulfilment"], "PARTLY_KEPT", "{body}");

    // An assessed commitment is renewed, not amended.
    let head = server.head().await;
    let body = as_clerk(
        &clerk,
        &amend,
        json!({ "input": { "commitment": first, "content": promise("再改"), "reason": "再改" } }),
    )
    .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "VALIDATION", "{body}");
    assert_eq!(body["errors"][0]["extensions"]["commitment"], first.as_str());
    assert_eq!(server.head().await, head);

    // The renewal: of the unit's own item only.
    let renew = payload("mutation($input: RenewCommitmentInput!) { renewCommitment(input: $input)");
    let theirs =
        server.ok(&make, json!({ "input": { "unit": other, "content": promise("低保审批 10 个工作日") } })).await;
    let theirs = theirs["makeCommitment"]["commitment"]["id"].as_str().unwrap().to_owned();
    let head = server.head().await;
    let e = server
        .error(&renew, json!({ "input": { "unit": unit, "renews": [theirs], "content": promise("再承诺") } }))
        .await;
    assert_eq!(
        (e["extensions"]["code"].as_str(), e["extensions"]["unit"].as_str()),
        (Some("VALIDATION"), Some(other.as_str()))
    );
    let e =
        server.error(&renew, json!({ "input": { "unit": unit, "renews": [], "content": promise("再承诺") } })).await;
    assert_eq!(e["extensions"]["field"], "input.renews");
    assert_eq!(server.head().await, head);
    let body = as_clerk(
        &clerk,
        &renew,
        json!({ "input": { "unit": unit, "renews": [first], "content": promise("即办件当场办结，网上预约") } }),
    )
    .await;
    let renewal = body["data"]["renewCommitment"]["commitment"]["id"].as_str().unwrap().to_owned();
    assert_eq!(body["data"]["renewCommitment"]["commitment"]["renews"], json!([first]));

    let withdraw = payload("mutation($input: WithdrawCommitmentInput!) { withdrawCommitment(input: $input)");
    let body =
        as_clerk(&clerk, &withdraw, json!({ "input": { "commitment": first, "reason": "已由新承诺取代" } })).await;
    assert_eq!(body["data"]["withdrawCommitment"]["commitment"]["withdrawalReason"], "已由新承诺取代");

    // A withdrawn item is not assessed again; the clerk of another unit cannot touch it.
    let head = server.head().await;
    let body = as_clerk(
        &reviewer,
        &assess,
        json!({ "input": { "commitment": first, "fulfilment": "KEPT", "evidence": "复查" } }),
    )
    .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "VALIDATION", "{body}");
    let stranger = support::client_with(&server.token("CLERK", &[&other], None).await);
    let body = as_clerk(&stranger, &withdraw, json!({ "input": { "commitment": renewal, "reason": "误操作" } })).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "FORBIDDEN", "{body}");
    assert_eq!(server.head().await, head);

    // The list, the chain both ways, and the first version as of where it was made.
    let list = format!(
        "query($u: ID!, $all: Boolean!) {{ commitments(unit: $u, includeWithdrawn: $all) {{ {COMMITMENT_FIELDS} }} }}"
    );
    let standing = server.ok(&list, json!({ "u": unit, "all": false })).await;
    assert_eq!(standing["commitments"].as_array().unwrap().len(), 1);
    let all = server.ok(&list, json!({ "u": unit, "all": true })).await;
    let all = all["commitments"].as_array().unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!((all[0]["renewedBy"].clone(), all[0]["version"].as_u64()), (json!([renewal]), Some(3)));
    let one = format!(
        "query($c: ID!, $p: Int!) {{ commitment(id: $c, asOf: {{ position: $p }}) {{ {COMMITMENT_FIELDS} }} }}"
    );
    let then = server.ok(&one, json!({ "c": first, "p": made_at })).await;
    assert_eq!(then["commitment"]["text"], "即办件当场办结");
    assert_eq!(
        (then["commitment"]["renewedBy"].clone(), then["commitment"]["assessment"].clone()),
        (json!([]), Value::Null)
    );
}

/// A unit's weekly summary: submitted by its clerk beside the week's figures from the
/// ledger, revised, commented by a reviewer; the units still missing one, by region.
#[tokio::test]
async fn a_weekly_summary_is_submitted_revised_commented_and_missed() {
    let server = Server::start();
    let unit = register_unit(&server, "十堰市人民医院").await;
    let late = register_unit(&server, "十堰市太和医院").await;
    let member = register_member(&server, &unit, "张三丰").await;
    server.ok(REGISTER_OUTING, json!({ "input": outing_input(&unit, "2011-06-08", &[(&member, "3")]) })).await;
    let clerk = support::client_with(&server.token("CLERK", &[&unit], None).await);
    let reviewer = support::client_with(&server.token("REVIEWER", &[], None).await);
    let submit = "mutation($input: SubmitWeeklySummaryInput!) { submitWeeklySummary(input: $input) { summary { \
        week done learnt revisions figures { outings volunteers recordedHours } comments { comment actor { role } } } } }";
    let comment = "mutation($input: CommentOnWeeklySummaryInput!) { commentOnWeeklySummary(input: $input) { summary { comments { comment } } } }";
    let missing = "query($region: String) { missingWeeklySummaries(week: \"2011-W23\", region: $region) { totalCount units { name } } }";
    let post = async |client: &reqwest::Client, query: &str, variables: Value| {
        server.post_with(client, query, variables).await.1
    };

    let before = server.ok(missing, json!({ "region": "茅箭区" })).await;
    assert_eq!(before["missingWeeklySummaries"]["totalCount"], 2);
    let week = json!({ "unit": unit, "week": "2011-W23", "done": "义诊一次，服务 120 人" });
    let body = post(&clerk, submit, json!({ "input": week })).await;
    let summary = &body["data"]["submitWeeklySummary"]["summary"];
    assert_eq!(summary["figures"], json!({ "outings": 1, "volunteers": 1, "recordedHours": "3.00" }), "{body}");
    let revised =
        json!({ "unit": unit, "week": "2011-w23", "done": "义诊一次，服务 120 人", "learnt": "提前公示效果好" });
    let body = post(&clerk, submit, json!({ "input": revised })).await;
    let summary = &body["data"]["submitWeeklySummary"]["summary"];
    assert_eq!((summary["week"].as_str(), summary["revisions"].as_u64()), (Some("2011-W23"), Some(1)), "{body}");

    // Commenting is a reviewer's act; a week not yet begun cannot be summarised; a
    // week that does not exist is named as such. None of them writes anything.
    let head = server.head().await;
    let remark = json!({ "input": { "unit": unit, "week": "2011-W23", "comment": "很好，继续保持" } });
    assert_eq!(post(&clerk, comment, remark.clone()).await["errors"][0]["extensions"]["code"], "FORBIDDEN");
    let future = json!({ "unit": unit, "week": "2099-W01", "done": "计划" });
    let e = post(&clerk, submit, json!({ "input": future })).await;
    assert_eq!(e["errors"][0]["extensions"]["field"], "week", "{e}");
    let e = post(&clerk, submit, json!({ "input": { "unit": unit, "week": "2011-W54", "done": "无" } })).await;
    assert_eq!(e["errors"][0]["extensions"]["field"], "input.week", "{e}");
    let e = post(&reviewer, comment, json!({ "input": { "unit": late, "week": "2011-W23", "comment": "?" } })).await;
    assert_eq!(e["errors"][0]["extensions"]["code"], "NOT_FOUND", "{e}");
    assert_eq!(server.head().await, head);
    let body = post(&reviewer, comment, remark).await;
    assert_eq!(body["data"]["commentOnWeeklySummary"]["summary"]["comments"], json!([{ "comment": "很好，继续保持" }]));

    let after = server.ok(missing, json!({ "region": "茅箭区" })).await;
    assert_eq!(after["missingWeeklySummaries"], json!({ "totalCount": 1, "units": [{ "name": "十堰市太和医院" }] }));
    let elsewhere = server.ok(missing, json!({ "region": "张湾区" })).await;
    assert_eq!(elsewhere["missingWeeklySummaries"]["totalCount"], 0);

    // Beside this week's summary: the commitments assessed this week (recorded today).
    let make = r#"mutation($u: ID!) { makeCommitment(input: { unit: $u, content: { category: "办结时限", text: "即办件当场办结", from: "2011-01-01", until: "2011-06-30" } }) { commitment { id } } }"#;
    let made = server.ok(make, json!({ "u": unit })).await;
    let assess = "mutation($c: ID!) { assessCommitment(input: { commitment: $c, fulfilment: KEPT, evidence: \"群众满意\" }) { receipt { recordedAt } } }";
    let assessed = server.ok(assess, json!({ "c": made["makeCommitment"]["commitment"]["id"] })).await;
    // The week the finding was recorded in (China Standard Time), from its receipt.
    let recorded_at = assessed["assessCommitment"]["receipt"]["recordedAt"].as_str().unwrap();
    let recorded_at = time::OffsetDateTime::parse(recorded_at, &time::format_description::well_known::Rfc3339).unwrap();
    let (year, week, _) = recorded_at.to_offset(time::macros::offset!(+8)).to_iso_week_date();
    let this_week = json!({ "unit": unit, "week": format!("{year}-W{week:02}"), "done": "回头看" });
    let body = server
        .ok(&submit.replace("recordedHours }", "recordedHours commitmentsAssessed }"), json!({ "input": this_week }))
        .await;
    assert_eq!(body["submitWeeklySummary"]["summary"]["figures"]["commitmentsAssessed"], 1, "{body}");
    let june = "query($u: ID!) { weeklySummary(unit: $u, week: \"2011-W23\") { figures { commitmentsAssessed } } }";
    assert_eq!(server.ok(june, json!({ "u": unit })).await["weeklySummary"]["figures"]["commitmentsAssessed"], 0);
}

/// A look-back round: opened by a reviewer over some units, read as of any position,
/// closed once; a clerk may not open one, a closed round is not closed again, a round
/// naming an unknown unit or two scopes is refused, none of them writing anything.
#[tokio::test]
async fn a_look_back_round_is_opened_and_closed_by_a_reviewer() {
    let server = Server::start();
    let unit = register_unit(&server, "十堰市人民医院").await;
    let clerk = support::client_with(&server.token("CLERK", &[&unit], None).await);
    let reviewer = support::client_with(&server.token("REVIEWER", &[], None).await);
    let open = "mutation($input: OpenLookBackRoundInput!) { openLookBackRound(input: $input) { receipt { position } \
        round { id name first last units region closedAt } } }";
    let close = "mutation($r: ID!) { closeLookBackRound(round: $r) { round { closedAt } } }";
    let input = |scope: Value| json!({ "input": { "name": "2011年上半年回头看", "period": { "first": "2011-01-01", "last": "2011-06-30" }, "scope": scope } });
    let post = async |client: &reqwest::Client, query: &str, variables: Value| {
        server.post_with(client, query, variables).await.1
    };

    let head = server.head().await;
    let e = post(&clerk, open, input(json!({ "units": [unit] }))).await;
    assert_eq!(e["errors"][0]["extensions"]["code"], "FORBIDDEN", "{e}");
    let ghost = uuid::Uuid::now_v7().to_string();
    let e = post(&reviewer, open, input(json!({ "units": [ghost] }))).await;
    assert_eq!(
        (e["errors"][0]["extensions"]["code"].as_str(), e["errors"][0]["extensions"]["unit"].as_str()),
        (Some("NOT_FOUND"), Some(ghost.as_str())),
        "{e}"
    );
    let e = post(&reviewer, open, input(json!({ "units": [unit], "region": "茅箭区" }))).await;
    assert_eq!(e["errors"][0]["extensions"]["field"], "input.scope", "{e}");
    assert_eq!(server.head().await, head, "refusals write nothing");

    let body = post(&reviewer, open, input(json!({ "units": [unit] }))).await;
    let round = &body["data"]["openLookBackRound"]["round"];
    assert_eq!(
        (round["units"].clone(), round["first"].as_str(), round["closedAt"].clone()),
        (json!([unit]), Some("2011-01-01"), Value::Null),
        "{body}"
    );
    let id = round["id"].as_str().unwrap().to_owned();
    let opened_at = body["data"]["openLookBackRound"]["receipt"]["position"].as_u64().unwrap();
    let body = post(&reviewer, open, input(json!({ "region": "茅箭区" }))).await;
    assert_eq!(body["data"]["openLookBackRound"]["round"]["region"], "茅箭区", "{body}");

    let body = post(&reviewer, close, json!({ "r": id })).await;
    assert!(body["data"]["closeLookBackRound"]["round"]["closedAt"].as_u64().is_some(), "{body}");
    let head = server.head().await;
    let e = post(&reviewer, close, json!({ "r": id })).await;
    assert_eq!(
        (e["errors"][0]["extensions"]["code"].as_str(), e["errors"][0]["extensions"]["round"].as_str()),
        (Some("VALIDATION"), Some(id.as_str())),
        "{e}"
    );
    assert_eq!(server.head().await, head);

    let rounds = server.ok("{ lookBackRounds { name region closedAt } }", json!({})).await;
    assert_eq!(rounds["lookBackRounds"].as_array().unwrap().len(), 2);
    assert_eq!(rounds["lookBackRounds"][0]["region"], "茅箭区", "the most recent first");
    let then = server
        .ok(
            "query($r: ID!, $p: Int!) { lookBackRound(id: $r, asOf: { position: $p }) { closedAt } }",
            json!({ "r": id, "p": opened_at }),
        )
        .await;
    assert_eq!(then["lookBackRound"]["closedAt"], Value::Null, "open as of where it was opened");
}

/// One whole round through the server: items made, a round opened over a region, the
/// public's opinions recorded (a citizen's name sealed under the opinion's own key),
/// items assessed and renewed, the report by unit and in total; then the citizen
/// erased: their name reads null, their key is in no file of the data directory, their
/// name nowhere in clear, and the chain still verifies. Refusals write nothing.
#[tokio::test]
async fn a_round_gathers_opinions_assesses_renews_and_reports() {
    let server = Server::start();
    let unit = register_unit(&server, "十堰市人民医院").await;
    let quiet = register_unit(&server, "十堰市太和医院").await;
    let elsewhere = server
        .ok(REGISTER_UNIT, json!({ "input": { "name": "张湾区税务大厅", "industry": "税务", "region": "张湾区" } }))
        .await["registerUnit"]["unit"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let make = r#"mutation($u: ID!, $t: String!) { makeCommitment(input: { unit: $u, content: { category: "办结时限", text: $t, from: "2011-01-01", until: "2011-06-30" } }) { commitment { id } } }"#;
    let item = async |u: &str, t: &str| {
        server.ok(make, json!({ "u": u, "t": t })).await["makeCommitment"]["commitment"]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (kept, broken) = (item(&unit, "即办件当场办结").await, item(&unit, "窗口不空岗").await);
    item(&quiet, "预约挂号").await;
    item(&elsewhere, "一次告知").await;
    let open = r#"mutation { openLookBackRound(input: { name: "2011年上半年回头看", period: { first: "2011-01-01", last: "2011-06-30" }, scope: { region: "茅箭区" } }) { round { id } } }"#;
    let round = server.ok(open, json!({})).await["openLookBackRound"]["round"]["id"].as_str().unwrap().to_owned();

    let clerk = support::client_with(&server.token("CLERK", &[&unit], None).await);
    let reviewer = support::client_with(&server.token("REVIEWER", &[], None).await);
    let viewer = support::client_with(&server.token("VIEWER", &[], None).await);
    let record = "mutation($input: RecordOpinionInput!) { recordOpinion(input: $input) { opinion { id unit commitment rating channel citizenGiven citizen { name phone } } } }";
    let post = async |client: &reqwest::Client, query: &str, variables: Value| {
        server.post_with(client, query, variables).await.1
    };
    let opinion = |about: Value, rating: &str| {
        let mut input = json!({ "round": round, "text": "办事很快", "rating": rating, "channel": "TELEPHONE" });
        input.as_object_mut().unwrap().extend(about.as_object().unwrap().clone());
        input
    };

    // Refused, writing nothing: a unit outside the round, another unit's clerk, a
    // viewer, both subjects at once, an identity number for a citizen.
    let head = server.head().await;
    let e = post(&reviewer, record, json!({ "input": opinion(json!({ "unit": elsewhere }), "SATISFIED") })).await;
    assert_eq!(
        (e["errors"][0]["extensions"]["code"].as_str(), e["errors"][0]["extensions"]["unit"].as_str()),
        (Some("VALIDATION"), Some(elsewhere.as_str())),
        "{e}"
    );
    let e = post(&clerk, record, json!({ "input": opinion(json!({ "unit": quiet }), "SATISFIED") })).await;
    assert_eq!(e["errors"][0]["extensions"]["code"], "FORBIDDEN", "{e}");
    let e = post(&viewer, record, json!({ "input": opinion(json!({ "unit": unit }), "SATISFIED") })).await;
    assert_eq!(e["errors"][0]["extensions"]["code"], "FORBIDDEN", "{e}");
    let e =
        post(&reviewer, record, json!({ "input": opinion(json!({ "unit": unit, "commitment": kept }), "SATISFIED") }))
            .await;
    assert_eq!(e["errors"][0]["extensions"]["field"], "input", "{e}");
    let bad_phone = opinion(json!({ "unit": unit, "citizen": { "name": "李女士", "phone": "call me" } }), "SATISFIED");
    let e = post(&clerk, record, json!({ "input": bad_phone })).await;
    assert_eq!(e["errors"][0]["extensions"]["field"], "phone", "{e}");
    assert_eq!(server.head().await, head, "refusals write nothing");

    // The clerk records a call about an item, with the caller's name and phone.
    let call =
        opinion(json!({ "commitment": kept, "citizen": { "name": "欧阳丽华", "phone": "0719-8888888" } }), "SATISFIED");
    let body = post(&clerk, record, json!({ "input": call })).await;
    let recorded = &body["data"]["recordOpinion"]["opinion"];
    assert_eq!(
        (recorded["unit"].as_str(), recorded["commitment"].as_str(), recorded["citizen"].clone()),
        (Some(unit.as_str()), Some(kept.as_str()), json!({ "name": "欧阳丽华", "phone": "0719-8888888" })),
        "{body}"
    );
    let named = recorded["id"].as_str().unwrap().to_owned();
    post(&reviewer, record, json!({ "input": opinion(json!({ "commitment": broken }), "DISSATISFIED") })).await;
    post(&reviewer, record, json!({ "input": opinion(json!({ "unit": quiet }), "FAIRLY_SATISFIED") })).await;

    // The items are assessed; the broken one renewed.
    let assess = "mutation($c: ID!, $f: Fulfilment!) { assessCommitment(input: { commitment: $c, fulfilment: $f, evidence: \"群众意见\" }) { receipt { position } } }";
    server.ok(assess, json!({ "c": kept, "f": "KEPT" })).await;
    server.ok(assess, json!({ "c": broken, "f": "NOT_KEPT" })).await;
    let renew = r#"mutation($u: ID!, $r: ID!) { renewCommitment(input: { unit: $u, renews: [$r], content: { category: "岗位承诺", text: "窗口不空岗，离岗有人替", from: "2011-07-01", until: "2011-12-31" } }) { commitment { id } } }"#;
    server.ok(renew, json!({ "u": unit, "r": broken })).await;

    let report = "query($r: ID!, $g: GroupBy!) { roundReport(round: $r, groupBy: $g) { rows { label units unitsLookedBack due assessed kept notKept keptPercent newItems renewals opinions satisfied fairlySatisfied dissatisfied } total { units due opinions } notLookedBackCount notLookedBack { name } } }";
    let by_unit = server.ok(report, json!({ "r": round, "g": "UNIT" })).await;
    let rows = by_unit["roundReport"]["rows"].as_array().unwrap();
    let row = |name: &str| rows.iter().find(|r| r["label"] == name).unwrap().clone();
    assert_eq!(
        row("十堰市人民医院"),
        json!({ "label": "十堰市人民医院", "units": 1, "unitsLookedBack": 1, "due": 2, "assessed": 2, "kept": 1,
                "notKept": 1, "keptPercent": 50.0, "newItems": 1, "renewals": 1, "opinions": 2, "satisfied": 1,
                "fairlySatisfied": 0, "dissatisfied": 1 })
    );
    assert_eq!((row("十堰市太和医院")["due"].as_u64(), row("十堰市太和医院")["opinions"].as_u64()), (Some(1), Some(1)));
    assert_eq!(rows.len(), 2, "the tax hall is in another region: {rows:?}");
    assert_eq!(by_unit["roundReport"]["total"], json!({ "units": 2, "due": 3, "opinions": 3 }));
    assert_eq!(by_unit["roundReport"]["notLookedBackCount"], 1);
    assert_eq!(by_unit["roundReport"]["notLookedBack"], json!([{ "name": "十堰市太和医院" }]));
    let listed = "query($r: ID!, $u: ID) { opinions(round: $r, unit: $u) { totalCount opinions { text rating channel citizenGiven } } }";
    let all = post(&reviewer, listed, json!({ "r": round })).await;
    assert_eq!(all["data"]["opinions"]["totalCount"], 3, "{all}");
    let quiet_only = post(&clerk, listed, json!({ "r": round, "u": quiet })).await;
    assert_eq!(
        quiet_only["data"]["opinions"],
        json!({ "totalCount": 1, "opinions": [{ "text": "办事很快", "rating": "FAIRLY_SATISFIED", "channel": "TELEPHONE", "citizenGiven": false }] })
    );
    let one =
        post(&clerk, "query($o: ID!) { opinion(id: $o) { citizenGiven citizen { name } } }", json!({ "o": named }))
            .await;
    assert_eq!(one["data"]["opinion"], json!({ "citizenGiven": true, "citizen": { "name": "欧阳丽华" } }), "{one}");
    // The opinions that count are published (the notice board shows them); the citizens
    // who left them are not.
    let seen = post(&viewer, "query($r: ID!) { opinions(round: $r) { totalCount } }", json!({ "r": round })).await;
    assert_eq!(seen["data"]["opinions"]["totalCount"], 3, "{seen}");
    let e = post(&viewer, "query($o: ID!) { opinion(id: $o) { citizen { name } } }", json!({ "o": named })).await;
    assert_eq!(e["errors"][0]["extensions"]["code"], "FORBIDDEN", "a viewer reads no citizen: {e}");
    let summary = post(&viewer, report, json!({ "r": round, "g": "TOTAL" })).await;
    assert_eq!(summary["data"]["roundReport"]["total"]["due"], 3, "{summary}");

    // The same report and the hospital's public list for spreadsheets, while serving; a
    // unit asked of the CSV of every unit's commitments is refused, not ignored.
    let get = async |path: String| {
        let response = reviewer.get(format!("{}{path}", server.url)).send().await.unwrap();
        (response.status().as_u16(), response.bytes().await.unwrap())
    };
    let (status, csv) = get(format!("/export/round?round={round}&by=unit")).await;
    let csv = String::from_utf8(csv.to_vec()).unwrap();
    assert_eq!(status, 200, "{csv}");
    let row = format!("\n{unit},十堰市人民医院,1,1,2,2,1,0,1,50.00,1,1,2,1,0,1,0\n");
    assert!(csv.contains(&row), "{csv}");
    let (status, xlsx) = get(format!("/export/commitments?unit={unit}&format=xlsx")).await;
    assert_eq!((status, &xlsx[..2]), (200, b"PK".as_slice()));
    let (status, refused) = get(format!("/export/commitments?unit={unit}")).await;
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&refused));

    // The citizen is erased: an administrator's act. (Before, the search finds their key.)
    let (_, dir) = server.terminate();
    let master = taizhang_store::keys::MasterKey::load_or_create(&dir.path().join("master.key"), false).unwrap();
    assert_eq!(keys_of_subject_in_files(dir.path(), &master, &named), 1, "the search finds a key that is there");
    let server = Server::start_in(dir);
    let reviewer = support::client_with(&server.token("REVIEWER", &[], None).await);
    let erase = "mutation($o: ID!) { eraseCitizen(opinion: $o) { opinion { citizenErased citizen { name } } } }";
    let e = server.post_with(&reviewer, erase, json!({ "o": named })).await.1;
    assert_eq!(e["errors"][0]["extensions"]["code"], "FORBIDDEN", "{e}");
    let erased = server.ok(erase, json!({ "o": named })).await;
    assert_eq!(erased["eraseCitizen"]["opinion"], json!({ "citizenErased": true, "citizen": null }));
    let head = server.head().await;
    let again = server.post(erase, json!({ "o": named })).await.1;
    assert_eq!(again["errors"][0]["extensions"]["code"], "VALIDATION", "{again}");
    assert_eq!(server.head().await, head);
    let chain = server.ok("{ verifyChain { ok } }", json!({})).await;
    assert_eq!(chain["verifyChain"]["ok"], true);
    let (_, dir) = server.terminate();
    assert_eq!(keys_of_subject_in_files(dir.path(), &master, &named), 0);
    let name = "欧阳丽华".as_bytes();
    for (path, bytes) in files_under(dir.path()) {
        assert!(!bytes.windows(name.len()).any(|w| w == name), "{}", path.display());
    }
}

/// A certificate from issue to revocation, as a reviewer, the holder and a third party
/// meet it: issued for the verified outings only, verified offline with the published
/// key, checked publicly with its code and nothing else, superseded when a covered
/// outing is amended, revoked, and still verifying after the key is rotated.
#[tokio::test]
async fn a_certificate_is_issued_checked_publicly_superseded_and_revoked() {
    let server = Server::start();
    let unit = register_unit(&server, "十堰市人民医院").await;
    let member = register_member(&server, &unit, "王俊").await;
    let other = register_member(&server, &unit, "李丽").await;
    let outing = async |date: &str, members: &[(&str, &str)]| {
        let data = server.ok(REGISTER_OUTING, json!({ "input": outing_input(&unit, date, members) })).await;
        data["registerOuting"]["outing"]["id"].as_str().unwrap().to_owned()
    };
    let first = outing("2011-06-10", &[(&member, "3"), (&other, "2")]).await;
    let second = outing("2011-06-12", &[(&member, "4")]).await;
    outing("2011-06-14", &[(&member, "1")]).await; // never verified: not certified
    let verify = r#"mutation($o: ID!) { verifyOuting(input: { outing: $o }) { outing { verified } } }"#;
    for o in [&first, &second] {
        server.ok(verify, json!({ "o": o })).await;
    }
    let issue = r#"mutation($input: IssueCertificateInput!) { issueCertificate(input: $input) {
        certificate { number status hours lines { date hours } checkCode document signingKey } } }"#;
    let input = |m: &str, first: &str, last: &str| json!({ "input": { "member": m, "unit": unit, "first": first, "last": last, "personInCharge": "王主任", "contact": "0719-8888888" } });

    // Refused, writing nothing: a clerk, a period without verified service.
    let head = server.head().await;
    let clerk = support::client_with(&server.token("CLERK", &[&unit], None).await);
    let (_, e) = server.post_with(&clerk, issue, input(&member, "2011-06-01", "2011-06-30")).await;
    assert_eq!(e["errors"][0]["extensions"]["code"], "FORBIDDEN", "{e}");
    let e = server.error(issue, input(&member, "2011-07-01", "2011-07-31")).await;
    assert_eq!(e["extensions"]["code"], "VALIDATION", "{e}");
    assert_eq!(server.head().await, head, "refusals write nothing");

    let data = server.ok(issue, input(&member, "2011-06-01", "2011-06-30")).await;
    let certificate = &data["issueCertificate"]["certificate"];
    assert_eq!((certificate["status"].as_str(), certificate["hours"].as_f64()), (Some("VALID"), Some(7.0)));
    assert_eq!(
        certificate["lines"],
        json!([{ "date": "2011-06-10", "hours": 3.0 }, { "date": "2011-06-12", "hours": 4.0 }])
    );
    let number = certificate["number"].as_str().unwrap().to_owned();
    let code = certificate["checkCode"].as_str().unwrap().to_owned();
    let document: Value = serde_json::from_str(certificate["document"].as_str().unwrap()).unwrap();
    assert_eq!(document["type"], json!(["VerifiableCredential", "OpenBadgeCredential"]));
    assert_eq!(document["credentialSubject"]["identifier"][0]["identityHash"], "王俊");
    assert!(!document.to_string().contains("1980-05-04"), "no birth date or identity number: {document}");

    // The holder's credential is personal data: another unit's clerk reads neither it nor
    // its code, by GraphQL or as a file; the unit's own clerk does.
    let elsewhere = register_unit(&server, "十堰市太和医院").await;
    let stranger = support::client_with(&server.token("CLERK", &[&elsewhere], None).await);
    let personal = "query($n: String!) { certificate(number: $n) { document checkCode } }";
    let (_, e) = server.post_with(&stranger, personal, json!({ "n": number })).await;
    assert_eq!(e["errors"][0]["extensions"]["code"], "FORBIDDEN", "{e}");
    let file = async |client: &reqwest::Client| {
        let url = format!("{}/export/certificate", server.url);
        client.get(url).query(&[("number", number.as_str())]).send().await.unwrap().status().as_u16()
    };
    assert_eq!((file(&stranger).await, file(&clerk).await), (403, 200));
    let (_, own) = server.post_with(&clerk, personal, json!({ "n": number })).await;
    assert_eq!(own["data"]["certificate"]["checkCode"], code.as_str(), "{own}");

    // Offline, with only the public key the server publishes.
    let public = reqwest::Client::new();
    let keys: Value =
        public.get(format!("{}/certificates/keys", server.url)).send().await.unwrap().json().await.unwrap();
    let key = keys["current"].as_str().unwrap().to_owned();
    assert_eq!(certificate["signingKey"], key.as_str());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("certificate.json");
    std::fs::write(&file, serde_json::to_vec_pretty(&document).unwrap()).unwrap();
    let verify_file = |key: &str| {
        support::command(dir.path())
            .args(["certificate", "verify", file.to_str().unwrap(), "--key", key])
            .output()
            .unwrap()
    };
    assert!(verify_file(&key).status.success());
    let mut changed = std::fs::read_to_string(&file).unwrap();
    changed = changed.replacen("\"value\": \"7\"", "\"value\": \"8\"", 1);
    assert!(changed.contains("\"value\": \"8\""), "one byte changed: the hours");
    std::fs::write(&file, &changed).unwrap();
    let refused = verify_file(&key);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("changed after signing"), "{refused:?}");

    // The public check: no token; the number alone, or a wrong code, finds nothing.
    let check = async |code: &str| {
        let response =
            public.get(format!("{}/certificates/{number}", server.url)).query(&[("code", code)]).send().await.unwrap();
        (response.status().as_u16(), response.json::<Value>().await.unwrap())
    };
    let (status, body) = check(&code).await;
    assert_eq!(
        (status, body["status"].as_str(), body["holder"].as_str()),
        (200, Some("valid"), Some("王俊")),
        "{body}"
    );
    let mut shown: Vec<&str> = body.as_object().unwrap().keys().map(String::as_str).collect();
    shown.sort_unstable();
    assert_eq!(
        shown,
        [
            "changedOutings",
            "checkedAt",
            "creditHours",
            "first",
            "holder",
            "hours",
            "issuedAt",
            "issuer",
            "last",
            "logDigestMatches",
            "number",
            "outings",
            "revokedReason",
            "signingKey",
            "status",
            "statusText"
        ],
        "what the certificate shows, and its status: nothing else"
    );
    assert_eq!(check(&code.to_lowercase()).await.0, 200, "typed in lower case");
    assert_eq!(check("0000000000").await.0, 404);
    assert_eq!(check("").await.0, 404);

    // A covered outing amended: superseded, with the outing named, and in the list.
    let amend = r#"mutation($input: AmendOutingInput!) { amendOuting(input: $input) { outing { version } } }"#;
    let mut amended = outing_input(&unit, "2011-06-10", &[(&member, "2"), (&other, "2")]);
    amended["outing"] = json!(first);
    amended["reason"] = json!("王俊提前离开");
    amended.as_object_mut().unwrap().remove("unit");
    server.ok(amend, json!({ "input": amended })).await;
    let (_, body) = check(&code).await;
    assert_eq!((body["status"].as_str(), body["logDigestMatches"].as_bool()), (Some("superseded"), Some(false)));
    assert_eq!(body["changedOutings"], json!([first]));
    let list = |purpose: &str| {
        let url = format!("{}/certificates/status/2026/{purpose}", server.url);
        let public = public.clone();
        async move { public.get(url).send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let index: u32 = document["credentialStatus"][0]["statusListIndex"].as_str().unwrap().parse().unwrap();
    let superseded = list("superseded").await;
    taizhang_credential::verify(&superseded, Some(&taizhang_credential::PublicKey::parse(&key).unwrap())).unwrap();
    let encoded = superseded["credentialSubject"]["encodedList"].as_str().unwrap();
    assert!(taizhang_credential::status::bit(encoded, index).unwrap());
    assert_eq!(
        public.get(format!("{}/certificates/status/1999/revocation", server.url)).send().await.unwrap().status(),
        404
    );
    let revoked = list("revocation").await;
    assert!(!taizhang_credential::status::bit(revoked["credentialSubject"]["encodedList"].as_str().unwrap(), index)
        .unwrap());

    // Revoked by a reviewer, with the reason; a second revocation is refused.
    let revoke = r#"mutation($n: String!) { revokeCertificate(number: $n, reason: "记录有误") { certificate { status revokedReason } } }"#;
    let data = server.ok(revoke, json!({ "n": number })).await;
    assert_eq!(data["revokeCertificate"]["certificate"], json!({ "status": "REVOKED", "revokedReason": "记录有误" }));
    assert_eq!(server.error(revoke, json!({ "n": number })).await["extensions"]["code"], "VALIDATION");
    assert_eq!(check(&code).await.1["status"], "revoked");
    let listed = server
        .http
        .get(format!("{}/export/certificates", server.url))
        .query(&[("unit", unit.as_str())])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let row = listed.lines().nth(1).unwrap_or_default();
    assert!(row.starts_with(&format!("{number},revoked,")) && row.ends_with(",记录有误"), "{listed}");
    assert!(row.contains(",2011-06-01,2011-06-30,2,7.00,0.00,"), "{row}");
    let revoked = list("revocation").await;
    assert!(
        taizhang_credential::status::bit(revoked["credentialSubject"]["encodedList"].as_str().unwrap(), index).unwrap()
    );

    // The key rotated while serving: a new certificate is signed with the new key, the
    // first still verifies with the old one.
    let rotated = support::taizhang(server.dir(), &[], &["certificate", "key", "--rotate"]).trim().to_owned();
    assert_ne!(rotated, key);
    let data = server.ok(issue, input(&member, "2011-06-11", "2011-06-13")).await;
    assert_eq!(data["issueCertificate"]["certificate"]["signingKey"], rotated.as_str());
    std::fs::write(&file, serde_json::to_vec(&document).unwrap()).unwrap();
    assert!(verify_file(&key).status.success(), "signed by a retired key, it still verifies");
    assert!(!verify_file(&rotated).status.success(), "and not as the new key's");
    let keys: Value =
        public.get(format!("{}/certificates/keys", server.url)).send().await.unwrap().json().await.unwrap();
    assert_eq!((keys["current"].as_str(), keys["signed"].as_array().unwrap().len()), (Some(rotated.as_str()), 2));

    // The holder erased: the public check still answers, without a name; the credential
    // can no longer be made here; a copy handed out still verifies.
    let erase = "mutation($m: ID!) { eraseMember(input: { member: $m }) { receipt { position } } }";
    server.ok(erase, json!({ "m": member })).await;
    let (status, body) = check(&code).await;
    assert_eq!((status, body["holder"].clone(), body["status"].as_str()), (200, Value::Null, Some("revoked")));
    let e = server.error("query($n: String!) { certificate(number: $n) { document } }", json!({ "n": number })).await;
    assert_eq!(e["extensions"]["code"], "VALIDATION", "{e}");
    assert!(e["message"].as_str().unwrap().contains("erased"), "{e}");
    assert!(verify_file(&key).status.success());
}

/// Guesses at one member's PIN in the check-in test: past the lock.
const GUESSES: u64 = 7;

#[tokio::test]
async fn members_check_in_and_out_at_the_site_and_their_credit_hours_count_apart() {
    let server = Server::start();
    let unit = register_unit(&server, "十堰市人民医院").await;
    let coded = async |code: &str, name: &str| {
        let input = json!({ "unit": unit, "code": code, "joinedOn": "2011-01-01", "personal": { "name": name } });
        server.ok(REGISTER_MEMBER, json!({ "input": input })).await["registerMember"]["member"]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (wang, li, zhao) =
        (coded("SY-001", "王俊").await, coded("SY-002", "李丽").await, coded("SY-003", "赵敏").await);
    let clerk = support::client_with(&server.token("CLERK", &[&unit], None).await);
    let as_clerk = async |query: &str, variables: Value| {
        let (status, body) = server.post_with(&clerk, query, variables).await;
        assert!(body["errors"].is_null(), "{status}: {body}");
        body["data"].clone()
    };
    let set_pin = "mutation($m: ID!) { setCheckInPin(member: $m) { pin } }";
    let pin_of =
        async |m: &str| as_clerk(set_pin, json!({ "m": m })).await["setCheckInPin"]["pin"].as_str().unwrap().to_owned();
    let (wang_pin, zhao_pin) = (pin_of(&wang).await, pin_of(&zhao).await);
    assert!(wang_pin.len() == 6 && wang_pin.chars().all(|c| c.is_ascii_digit()), "{wang_pin}");

    // An outing under way: it began up to 50 minutes ago, and a late arrival within the
    // hour's grace is credited from its start.
    let (today, now) = support::service_now_past_midnight().await;
    let start = now.saturating_sub(50);
    let open = r#"mutation($input: OpenCheckInInput!) { openCheckIn(input: $input) {
        checkIn { outing siteCode address opensAt closesAt lateGraceMinutes } } }"#;
    let details = |date: time::Date, start: u16, end: u16| json!({ "date": date.to_string(), "start": support::clock(start), "end": support::clock(end), "place": "武当路社区", "category": "义诊" });
    let input = json!({ "unit": unit, "details": details(today, start, (now + 60).min(1440)), "lateGraceMinutes": 60 });
    let opened = as_clerk(open, json!({ "input": input })).await["openCheckIn"]["checkIn"].clone();
    let (outing, code) =
        (opened["outing"].as_str().unwrap().to_owned(), opened["siteCode"].as_str().unwrap().to_owned());
    assert_eq!(code.len(), 6);
    assert!(opened["address"].as_str().unwrap().ends_with(&format!("/check-in?site={code}")), "{opened}");

    // The page the QR code opens, without a token, has the code filled in.
    let public = reqwest::Client::new();
    let page = public.get(format!("{}/check-in", server.url)).query(&[("site", &code)]).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("default-src 'none'") && csp.contains("form-action 'self'"), "{csp}");
    assert!(page.text().await.unwrap().contains(&format!("value=\"{code}\"")));

    let report_presence = async |site: &str, member: &str, pin: &str, action: &str| {
        let form = [("site", site), ("member", member), ("pin", pin), ("action", action)];
        let answer = public
            .post(format!("{}/check-in", server.url))
            .header("accept", "application/json")
            .form(&form)
            .send()
            .await
            .unwrap();
        let status = answer.status().as_u16();
        (status, answer.json::<Value>().await.unwrap())
    };

    // A wrong PIN, a member without a PIN, an unknown number and a wrong code get one
    // answer, and write nothing.
    let head = server.head().await;
    let wrong = [("SY-001", "000000"), ("SY-002", "123456"), ("SY-999", "123456")];
    let mut refusals = Vec::new();
    for (member, pin) in wrong {
        refusals.push(report_presence(&code, member, pin, "in").await);
    }
    refusals.push(report_presence("ZZZZZZ", "SY-001", &wang_pin, "in").await);
    for (status, body) in &refusals {
        assert_eq!((*status, body["outcome"].as_str()), (403, Some("REFUSED")), "{body}");
        assert_eq!(body["message"], refusals[0].1["message"]);
    }
    assert_eq!(server.head().await, head, "refusals write nothing");

    // Checked in as typed off the poster (lower case), once; then out, credited from the
    // outing's start (arrived within the grace) to now.
    let (status, body) = report_presence(&code.to_lowercase(), "SY-001", &wang_pin, "in").await;
    assert_eq!((status, body["outcome"].as_str()), (200, Some("CHECKED_IN")), "{body}");
    let (status, body) = report_presence(&code, "SY-001", &wang_pin, "in").await;
    assert_eq!((status, body["outcome"].as_str()), (422, Some("REPEATED")), "{body}");
    let (status, body) = report_presence(&code, "SY-001", &wang_pin, "out").await;
    assert_eq!((status, body["outcome"].as_str()), (200, Some("CHECKED_OUT")), "{body}");
    let left = support::service_now().1;
    let credited = body["creditedHours"].as_f64().unwrap();
    assert!((credited * 60.0 - f64::from(left - start)).abs() <= 1.0, "{credited} h from {start} to {left}");

    // Li's hours are typed in by the clerk: honour hours.
    let honour = json!({ "unit": unit, "details": details(today, 0, 1), "participants": [{ "member": li }] });
    let (_, body) = server.post_with(&clerk, REGISTER_OUTING, json!({ "input": honour })).await;
    assert!(body["errors"].is_null(), "{body}");
    let report = r#"query($d: Date!) { report(period: { first: $d, last: $d }) { rows { recordedHours creditHours honourHours } } }"#;
    let rows = server.ok(report, json!({ "d": today.to_string() })).await["report"]["rows"].clone();
    let credit = format!("{credited:.2}");
    // The answer's hours are rounded to two places (a hundredth of an hour is under a
    // minute, so the minutes come back whole); the day's total is Wang's minutes and
    // Li's one, rounded once.
    let credited_minutes = (credited * 60.0).round();
    let recorded = format!("{:.2}", (credited_minutes + 1.0) / 60.0);
    assert_eq!(rows, json!([{ "recordedHours": recorded, "creditHours": credit, "honourHours": "0.02" }]));
    let ledger = r#"query($m: ID!) { memberLedger(member: $m) { totalCreditHours edges { node { creditHours honourHours } } } }"#;
    let wang_ledger = server.ok(ledger, json!({ "m": wang })).await["memberLedger"].clone();
    assert_eq!(wang_ledger["totalCreditHours"], credit.as_str());
    assert_eq!(wang_ledger["edges"][0]["node"]["honourHours"], "0.00");

    // A certificate of Wang's service says which hours were credit hours, in GraphQL
    // and in the public check.
    server
        .ok(
            "mutation($o: ID!) { verifyOuting(input: { outing: $o }) { receipt { position } } }",
            json!({ "o": outing }),
        )
        .await;
    let issue = r#"mutation($input: IssueCertificateInput!) { issueCertificate(input: $input) {
        certificate { number checkCode lines { credit } } } }"#;
    let input = json!({ "member": wang, "unit": unit, "first": today.to_string(), "last": today.to_string(), "personInCharge": "王主任", "contact": "0719-8888888" });
    let issued = server.ok(issue, json!({ "input": input })).await["issueCertificate"]["certificate"].clone();
    assert_eq!(issued["lines"], json!([{ "credit": true }]));
    let checked: Value = public
        .get(format!("{}/certificates/{}", server.url, issued["number"].as_str().unwrap()))
        .query(&[("code", issued["checkCode"].as_str().unwrap())])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (&checked["outings"][0]["credit"], checked["creditHours"].as_str().unwrap()),
        (&json!(true), checked["hours"].as_str().unwrap()),
        "{checked}"
    );

    // A code outside its window: yesterday's outing closed long ago.
    let yesterday = today.previous_day().unwrap();
    let input = json!({ "unit": unit, "details": details(yesterday, 540, 600) });
    let closed = as_clerk(open, json!({ "input": input })).await["openCheckIn"]["checkIn"]["siteCode"].clone();
    let (status, body) = report_presence(closed.as_str().unwrap(), "SY-003", &zhao_pin, "in").await;
    assert_eq!((status, body["outcome"].as_str()), (422, Some("OUTSIDE_WINDOW")), "{body}");

    // Guessing Zhao's PIN locks the number at the outing after five refusals: from then
    // on even the right PIN is refused there until the lock ends (the clerk sees why),
    // while another member with the right PIN is served.
    for guess in 0..GUESSES {
        let (status, _) = report_presence(&code, "SY-003", &format!("{guess:06}"), "in").await;
        assert!(status == 403 || status == 429, "{status}");
    }
    let (status, body) = report_presence(&code, "SY-003", &zhao_pin, "in").await;
    assert_eq!((status, body["outcome"].as_str()), (429, Some("LOCKED")), "{body}");
    let chen = coded("SY-004", "陈静").await;
    let chen_pin = pin_of(&chen).await;
    // One more guess from this address is held back for seconds before its refusal;
    // while it waits, Chen's check-in from the same address is answered at once.
    let held = {
        let (url, code) = (server.url.clone(), code.clone());
        tokio::spawn(async move {
            let form = [("site", code.as_str()), ("member", "SY-002"), ("pin", "999999"), ("action", "in")];
            reqwest::Client::new().post(format!("{url}/check-in")).form(&form).send().await.map(|r| r.status())
        })
    };
    let started = std::time::Instant::now();
    while server.metric("taizhang_auth_refusals_held").await == 0 {
        assert!(started.elapsed() < std::time::Duration::from_secs(10), "the guess was not held");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let (status, body) = report_presence(&code, "SY-004", &chen_pin, "in").await;
    assert_eq!((status, body["outcome"].as_str()), (200, Some("CHECKED_IN")), "{body}");
    assert_eq!(server.metric("taizhang_auth_refusals_held").await, 1, "the guess is still held");
    assert!(!held.is_finished());

    // The clerk sees who is there, what they were credited, and every attempt; a clerk of
    // another unit sees no code and no attempts.
    let view = r#"query($o: ID!) { checkIn(outing: $o) { siteCode presences { member creditedHours missedCheckOut }
        attempts { counts { outcome count } recent { outcome } } } }"#;
    let seen = as_clerk(view, json!({ "o": outing })).await["checkIn"].clone();
    assert_eq!(seen["siteCode"], code.as_str());
    let presences = seen["presences"].as_array().unwrap();
    assert_eq!(presences.len(), 2, "{seen}");
    let counts: std::collections::BTreeMap<String, u64> = seen["attempts"]["counts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["outcome"].as_str().unwrap().to_owned(), c["count"].as_u64().unwrap()))
        .collect();
    assert_eq!(counts["CHECKED_IN"], 2);
    assert_eq!(counts["CHECKED_OUT"], 1);
    assert_eq!(counts["LOCKED"], 1 + GUESSES - 5);
    assert_eq!(counts["REFUSED"], 3 + 5 + 1, "the wrong-code attempt names no outing: {counts:?}");
    // The unit's check-ins, the latest first; none has a missed check-out (the outing
    // under way is still open for check-out).
    let list =
        "query($u: ID!, $missed: Boolean!) { checkIns(unit: $u, missedOnly: $missed) { outing missedCheckOuts } }";
    let listed = as_clerk(list, json!({ "u": unit, "missed": false })).await["checkIns"].clone();
    let outings: Vec<&str> = listed.as_array().unwrap().iter().map(|c| c["outing"].as_str().unwrap()).collect();
    assert_eq!(outings.len(), 2, "{listed}");
    assert!(outings.contains(&outing.as_str()));
    assert_eq!(as_clerk(list, json!({ "u": unit, "missed": true })).await["checkIns"], json!([]));
    let elsewhere = register_unit(&server, "十堰市太和医院").await;
    let stranger = support::client_with(&server.token("CLERK", &[&elsewhere], None).await);
    let (_, body) = server.post_with(&stranger, view, json!({ "o": outing })).await;
    assert_eq!(
        (&body["data"]["checkIn"]["siteCode"], &body["data"]["checkIn"]["attempts"]),
        (&Value::Null, &Value::Null)
    );
}

#[tokio::test]
async fn a_member_asks_for_a_correction_and_the_unit_answers_it_after_correcting() {
    let server = Server::start();
    let unit = register_unit(&server, "十堰市人民医院").await;
    let input = json!({ "unit": unit, "code": "SY-001", "joinedOn": "2011-01-01", "personal": { "name": "王俊" } });
    let member = server.ok(REGISTER_MEMBER, json!({ "input": input })).await["registerMember"]["member"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let outing = server
        .ok(REGISTER_OUTING, json!({ "input": outing_input(&unit, "2011-06-10", &[(&member, "2")]) }))
        .await["registerOuting"]["outing"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let clerk = support::client_with(&server.token("CLERK", &[&unit], None).await);
    let as_clerk = async |query: &str, variables: Value| server.post_with(&clerk, query, variables).await.1;
    let pin = as_clerk("mutation($m: ID!) { setCheckInPin(member: $m) { pin } }", json!({ "m": member })).await;
    let pin = pin["data"]["setCheckInPin"]["pin"].as_str().unwrap().to_owned();

    // The member's own request, on the public page, proved by their PIN.
    let public = reqwest::Client::new();
    let ask = async |pin: &str| {
        let form =
            [("member", "SY-001"), ("pin", pin), ("outing", outing.as_str()), ("text", "我服务了三小时，记录为两小时")];
        let answer = public
            .post(format!("{}/correction", server.url))
            .header("accept", "application/json")
            .form(&form)
            .send()
            .await
            .unwrap();
        (answer.status().as_u16(), answer.json::<Value>().await.unwrap())
    };
    let head = server.head().await;
    let (status, body) = ask("000000").await;
    assert_eq!((status, body["outcome"].as_str()), (403, Some("REFUSED")), "{body}");
    assert_eq!(server.head().await, head, "a refused request writes nothing");
    let (status, body) = ask(&pin).await;
    assert_eq!((status, body["outcome"].as_str()), (200, Some("REQUESTED")), "{body}");
    let page = public.get(format!("{}/correction", server.url)).send().await.unwrap();
    assert_eq!(page.status(), 200);

    // The clerk sees it open, due in fifteen days, sent by the member themselves.
    let list = r#"query($u: ID!) { correctionRequests(unit: $u, openOnly: true) { id outing text state overdue due requestedBy { role } } }"#;
    let open = as_clerk(list, json!({ "u": unit })).await["data"]["correctionRequests"].clone();
    assert_eq!(open.as_array().unwrap().len(), 1, "{open}");
    let request = open[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        (&open[0]["state"], &open[0]["overdue"], &open[0]["requestedBy"]["role"]),
        (&json!("OPEN"), &json!(false), &json!("VOLUNTEER"))
    );
    assert_eq!(open[0]["outing"], outing.as_str());

    // Accepted only once the record has been corrected by an amendment of its own.
    let answer = r#"mutation($r: ID!, $a: Boolean!) { answerCorrectionRequest(input: { request: $r, accepted: $a, reason: "已核实，按实际时长更正" }) { request { state answerReason answeredBy { role } } } }"#;
    let early = as_clerk(answer, json!({ "r": request, "a": true })).await;
    assert_eq!(early["errors"][0]["extensions"]["code"], "VALIDATION", "{early}");
    let amend = r#"mutation($o: ID!, $m: ID!) { amendParticipation(input: { outing: $o, participant: { member: $m, hours: "3" }, reason: "依本人申请更正" }) { outing { hours } } }"#;
    let amended = as_clerk(amend, json!({ "o": outing, "m": member })).await;
    assert_eq!(amended["data"]["amendParticipation"]["outing"]["hours"], "3.00", "{amended}");
    let accepted = as_clerk(answer, json!({ "r": request, "a": true })).await;
    let answered = &accepted["data"]["answerCorrectionRequest"]["request"];
    assert_eq!(
        (&answered["state"], &answered["answeredBy"]["role"]),
        (&json!("ACCEPTED"), &json!("CLERK")),
        "{accepted}"
    );
    let twice = as_clerk(answer, json!({ "r": request, "a": false })).await;
    assert_eq!(twice["errors"][0]["extensions"]["code"], "VALIDATION", "{twice}");
    let open = as_clerk(list, json!({ "u": unit })).await["data"]["correctionRequests"].clone();
    assert_eq!(open, json!([]));
    // Reviewers list every unit's overdue requests; none is past its day yet.
    let overdue = server.ok("{ correctionRequests(overdueOnly: true) { id } }", json!({})).await;
    assert_eq!(overdue["correctionRequests"], json!([]));
}

#[tokio::test]
async fn a_crowd_checks_in_at_one_site_at_once() {
    const CROWD: usize = 100;
    let server = Server::start();
    let unit = register_unit(&server, "十堰市人民医院").await;
    for i in 0..CROWD {
        let input = json!({ "unit": unit, "code": format!("SY-{i:03}"), "joinedOn": "2011-01-01", "personal": { "name": "志愿者" } });
        server.ok(REGISTER_MEMBER, json!({ "input": input })).await;
    }
    // Every member of the unit gets a PIN in one request; sent again with the same
    // command id, the same PINs.
    let pins =
        "mutation($u: ID!, $c: UUID!) { setCheckInPins(unit: $u, commandId: $c) { set refused results { code pin } } }";
    let command = uuid::Uuid::now_v7();
    let set = server.ok(pins, json!({ "u": unit, "c": command })).await["setCheckInPins"].clone();
    assert_eq!((set["set"].as_u64(), set["refused"].as_u64()), (Some(CROWD as u64), Some(0)));
    assert_eq!(server.ok(pins, json!({ "u": unit, "c": command })).await["setCheckInPins"], set, "a retry");
    let members: Vec<(String, String)> = set["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["code"].as_str().unwrap().to_owned(), r["pin"].as_str().unwrap().to_owned()))
        .collect();
    let (today, now) = support::service_now_past_midnight().await;
    let details = json!({ "date": today.to_string(), "start": support::clock(now.saturating_sub(30)),
        "end": support::clock((now + 60).min(1440)), "place": "武当路社区", "category": "义诊" });
    let open = "mutation($i: OpenCheckInInput!) { openCheckIn(input: $i) { checkIn { outing siteCode } } }";
    let opened =
        server.ok(open, json!({ "i": { "unit": unit, "details": details } })).await["openCheckIn"]["checkIn"].clone();
    let code = opened["siteCode"].as_str().unwrap().to_owned();

    // Everyone scans the poster at nine: one outing's stream takes every check-in.
    let crowd = members.into_iter().map(|(member, pin)| {
        let (url, code) = (server.url.clone(), code.clone());
        tokio::spawn(async move {
            let form = [("site", code.as_str()), ("member", member.as_str()), ("pin", pin.as_str()), ("action", "in")];
            let answer = reqwest::Client::new()
                .post(format!("{url}/check-in"))
                .header("accept", "application/json")
                .form(&form)
                .send()
                .await
                .unwrap();
            (answer.status().as_u16(), answer.text().await.unwrap())
        })
    });
    for answer in futures_util::future::join_all(crowd).await {
        let (status, body) = answer.unwrap();
        assert_eq!(status, 200, "{body}");
    }
    let view = "query($o: ID!) { checkIn(outing: $o) { presences { member } } }";
    let seen = server.ok(view, json!({ "o": opened["outing"] })).await;
    assert_eq!(seen["checkIn"]["presences"].as_array().unwrap().len(), CROWD);
}

#[tokio::test]
async fn the_public_notice_board_lists_units_and_shows_their_public_commitments() {
    let server = Server::start();
    let register = r#"mutation($n: String!, $c: String!, $r: String!) { registerUnit(input: { name: $n, code: $c, industry: "医疗卫生", region: $r }) { unit { id } } }"#;
    server.ok(register, json!({ "n": "十堰市人民医院<b>", "c": "SY-0001", "r": "茅箭区" })).await;
    server.ok(register, json!({ "n": "郧西县供电所", "c": "SY-0002", "r": "郧西县" })).await;
    let promise = r#"mutation($t: String!, $p: Boolean!) { makeCommitment(input: { unit: "SY-0001", content: { category: "办结时限", text: $t, from: "2011-01-01", until: "2011-06-30", public: $p } }) { commitment { id } } }"#;
    server.ok(promise, json!({ "t": "即办件当场办结", "p": true })).await;
    server.ok(promise, json!({ "t": "内部考勤从严", "p": false })).await;

    // No token: the board, searched and filtered.
    let public = reqwest::Client::new();
    let get = async |path: &str| {
        let answer = public.get(format!("{}{path}", server.url)).send().await.unwrap();
        let (status, tag) =
            (answer.status().as_u16(), answer.headers().get("etag").map(|t| t.to_str().unwrap().to_owned()));
        (status, tag, answer.text().await.unwrap())
    };
    let (status, _, board) = get("/").await;
    assert_eq!(status, 200);
    assert!(board.contains("共 2 个单位") && board.contains("/units/SY-0001"), "{board}");
    assert!(board.contains("十堰市人民医院&lt;b&gt;") && !board.contains("医院<b>"), "names are escaped");
    assert_eq!(get("/?page=18446744073709551615").await.0, 200, "a page past the end is empty");
    assert_eq!(get("/?page=x").await.0, 400);
    let (_, _, found) = get("/?q=%E4%BE%9B%E7%94%B5").await; // 供电
    assert!(found.contains("/units/SY-0002") && !found.contains("/units/SY-0001"), "{found}");
    let (_, _, filtered) = get("/?region=%E8%8C%85%E7%AE%AD%E5%8C%BA&lang=en").await; // 茅箭区
    assert!(filtered.contains("1 units") && filtered.contains("/units/SY-0001?lang=en"), "{filtered}");

    // The board's certificate form goes on to the certificate's public check.
    assert!(board.contains("action=\"/certificate-check\""));
    let no_redirect = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let sent = no_redirect
        .get(format!("{}/certificate-check?number=+2011-000001+&code=ab+c", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 303);
    assert_eq!(sent.headers()["location"], "/certificates/2011-000001?code=ab%20c");

    // A unit's page: its public commitments only.
    let (status, tag, page) = get("/units/SY-0001").await;
    assert_eq!(status, 200);
    assert!(page.contains("即办件当场办结") && page.contains("履行中"), "{page}");
    assert!(!page.contains("内部考勤从严"), "a commitment kept within the unit is not shown");
    assert_eq!(get("/units/SY-9999").await.0, 404);
    // GraphQL publishes the same to every role: a viewer reads the public commitment, not
    // the one kept within the unit; the admin reads both.
    let viewer = support::client_with(&server.token("VIEWER", &[], None).await);
    let list = r#"{ commitments(unit: "SY-0001") { text } }"#;
    let (_, seen) = server.post_with(&viewer, list, json!({})).await;
    assert_eq!(seen["data"]["commitments"], json!([{ "text": "即办件当场办结" }]), "{seen}");
    assert_eq!(server.ok(list, json!({})).await["commitments"].as_array().unwrap().len(), 2);

    // Its validator: the same page again is a 304 until the log moves.
    let tag = tag.unwrap();
    let again = |tag: String| {
        let public = public.clone();
        let url = format!("{}/units/SY-0001", server.url);
        async move { public.get(url).header("if-none-match", tag).send().await.unwrap().status().as_u16() }
    };
    assert_eq!(again(tag.clone()).await, 304);
    server.ok(promise, json!({ "t": "首问负责", "p": true })).await;
    assert_eq!(again(tag).await, 200, "a write moves the log and the page");
}

/// The address a test's citizen posts from.
const LOOPBACK: [u8; 4] = [127, 0, 0, 1];

#[tokio::test]
async fn an_opinion_left_on_the_board_counts_and_shows_only_once_the_unit_accepts_it() {
    let server = Server::start();
    let register = r#"mutation($c: String!) { registerUnit(input: { name: "十堰市政务服务中心", code: $c, industry: "政务服务", region: "茅箭区" }) { unit { id } } }"#;
    server.ok(register, json!({ "c": "SY-0001" })).await;
    server.ok(register, json!({ "c": "SY-0002" })).await;
    let promise = r#"mutation { makeCommitment(input: { unit: "SY-0001", code: "C-1", content: { category: "办结时限", text: "即办件当场办结", from: "2011-01-01", until: "2011-06-30", public: true } }) { commitment { id } } }"#;
    server.ok(promise, json!({})).await;
    let public = reqwest::Client::new();
    let page = async || public.get(format!("{}/units/SY-0001", server.url)).send().await.unwrap().text().await.unwrap();
    assert!(page().await.contains("回头看评议期间可在此留言"), "no form without an open round");
    let open = r#"mutation { openLookBackRound(input: { name: "2011年上半年回头看", period: { first: "2011-01-01", last: "2011-06-30" }, scope: { units: ["SY-0001"] } }) { round { id } } }"#;
    let round = server.ok(open, json!({})).await["openLookBackRound"]["round"]["id"].as_str().unwrap().to_owned();
    let shown = page().await;
    assert!(shown.contains("action=\"/units/SY-0001/opinions\"") && shown.contains("2011年上半年回头看"), "{shown}");

    // Refused, writing nothing: no proof, another site's page, an empty text, a bad
    // phone, another unit's proof.
    let head = server.head().await;
    let post = |form: Vec<(&'static str, String)>, site: &'static str| {
        let (public, url) = (public.clone(), format!("{}/units/SY-0001/opinions", server.url));
        async move {
            let sent = public.post(url).header("sec-fetch-site", site).form(&form).send().await.unwrap();
            (sent.status().as_u16(), sent.text().await.unwrap())
        }
    };
    let proof = support::form_value(&shown, "proof").unwrap();
    let (status, said) = post(vec![("text", "好".into())], "same-origin").await;
    assert_eq!(status, 403, "{said}");
    assert!(said.contains("页面已过期"), "{said}");
    assert_eq!(post(vec![("proof", proof.clone()), ("text", "好".into())], "cross-site").await.0, 403);
    let origin = public
        .post(format!("{}/units/SY-0001/opinions", server.url))
        .header("origin", "https://elsewhere.example")
        .form(&[("proof", proof.as_str()), ("text", "好")])
        .send()
        .await
        .unwrap();
    assert_eq!(origin.status(), 403, "an Origin of another site is refused too");
    assert_eq!(post(vec![("proof", proof.clone()), ("text", "  ".into())], "same-origin").await.0, 422);
    let bad_phone = vec![("proof", proof.clone()), ("text", "好".into()), ("name", "李".into()), ("phone", "x".into())];
    assert_eq!(post(bad_phone, "same-origin").await.0, 422);
    let elsewhere = public
        .post(format!("{}/units/SY-0002/opinions", server.url))
        .form(&[("proof", proof.as_str()), ("text", "好")])
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), 403, "one unit's proof is not another's");
    assert_eq!(server.head().await, head, "no refusal wrote anything");

    // Left on the board about the commitment, with a name and phone: held.
    let (status, said) = support::leave_opinion(
        &server.url,
        "SY-0001",
        LOOPBACK,
        &[
            ("about", "C-1"),
            ("rating", "dissatisfied"),
            ("text", "窗口排队太久<script>"),
            ("name", "王先生"),
            ("phone", "13800000000"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{said}");
    assert!(said.contains("经单位审核后将在公示栏公示"), "{said}");
    assert!(!page().await.contains("窗口排队太久"), "a held opinion is not shown");
    let viewer = support::client_with(&server.token("VIEWER", &[], None).await);
    let opinions = "query($r: ID!, $s: OpinionStatus) { opinions(round: $r, status: $s) { totalCount opinions { id text status rating channel } } }";
    let (_, seen) = server.post_with(&viewer, opinions, json!({ "r": round })).await;
    assert_eq!(seen["data"]["opinions"]["totalCount"], 0, "a viewer does not see a held opinion: {seen}");
    let clerk = support::client_with(&server.token("CLERK", &["SY-0001"], None).await);
    let (_, held) = server.post_with(&clerk, opinions, json!({ "r": round, "s": "HELD" })).await;
    let opinion = &held["data"]["opinions"]["opinions"][0];
    assert_eq!(
        (&opinion["text"], &opinion["status"], &opinion["rating"], &opinion["channel"]),
        (&json!("窗口排队太久<script>"), &json!("HELD"), &json!("DISSATISFIED"), &json!("WEB")),
        "{held}"
    );
    let id = opinion["id"].as_str().unwrap().to_owned();
    let citizen = "query($o: ID!) { opinion(id: $o) { citizen { name phone } } }";
    let (_, read) = server.post_with(&clerk, citizen, json!({ "o": id })).await;
    assert_eq!(read["data"]["opinion"]["citizen"], json!({ "name": "王先生", "phone": "13800000000" }), "{read}");
    let report = "query($r: ID!) { roundReport(round: $r) { total { opinions dissatisfied } } }";
    assert_eq!(server.ok(report, json!({ "r": round })).await["roundReport"]["total"]["opinions"], 0);

    // Another unit's clerk may not review it; a decline needs a reason; the unit's
    // clerk accepts it.
    let review = "mutation($o: ID!, $a: Boolean!, $why: String) { reviewOpinion(opinion: $o, accept: $a, reason: $why) { opinion { status declinedBecause } } }";
    let other = support::client_with(&server.token("CLERK", &["SY-0002"], None).await);
    let (_, refused) = server.post_with(&other, review, json!({ "o": id, "a": true })).await;
    assert_eq!(refused["errors"][0]["extensions"]["code"], "FORBIDDEN", "{refused}");
    let (_, refused) = server.post_with(&clerk, review, json!({ "o": id, "a": false })).await;
    assert_eq!(refused["errors"][0]["extensions"]["code"], "VALIDATION", "{refused}");
    let before_acceptance = server.head().await;
    let (_, accepted) = server.post_with(&clerk, review, json!({ "o": id, "a": true })).await;
    assert_eq!(accepted["data"]["reviewOpinion"]["opinion"], json!({ "status": "ACCEPTED", "declinedBecause": null }));
    let (_, again) = server.post_with(&clerk, review, json!({ "o": id, "a": false, "why": "重复" })).await;
    assert_eq!(again["errors"][0]["extensions"]["code"], "VALIDATION", "reviewed once only: {again}");

    // Accepted, it counts and shows, escaped, with its commitment and without the name.
    let total = &server.ok(report, json!({ "r": round })).await["roundReport"]["total"];
    assert_eq!((total["opinions"].as_u64(), total["dissatisfied"].as_u64()), (Some(1), Some(1)));
    let shown = page().await;
    assert!(shown.contains("窗口排队太久&lt;script&gt;") && shown.contains("关于承诺：即办件当场办结"), "{shown}");
    assert!(!shown.contains("王先生") && !shown.contains("13800000000"), "the citizen is never shown");
    // As of a position before the acceptance, the page shows what counted then, and no
    // form (a past page takes no opinions).
    let past = format!("{}/units/SY-0001?asOf={before_acceptance}", server.url);
    let then = public.get(past).send().await.unwrap().text().await.unwrap();
    assert!(!then.contains("窗口排队太久") && then.contains("即办件当场办结"), "{then}");
    assert!(
        !then.contains("action=\"/units/SY-0001/opinions\"") && then.contains(&format!("日志位置 {before_acceptance}"))
    );
    let bad = public.get(format!("{}/units/SY-0001?asOf=yesterday", server.url)).send().await.unwrap();
    assert_eq!(bad.status(), 400);
    let (_, seen) = server.post_with(&viewer, opinions, json!({ "r": round })).await;
    assert_eq!(seen["data"]["opinions"]["totalCount"], 1, "{seen}");

    // Declined, an opinion keeps its reason and nothing about the citizen who left it.
    let (status, _) = support::leave_opinion(
        &server.url,
        "SY-0001",
        [127, 0, 0, 2],
        &[("text", "买卖发票找我"), ("name", "张三"), ("phone", "13900000000")],
    )
    .await;
    assert_eq!(status, 200);
    let (_, held) = server.post_with(&clerk, opinions, json!({ "r": round, "s": "HELD" })).await;
    let spam = held["data"]["opinions"]["opinions"][0]["id"].as_str().unwrap().to_owned();
    let (_, declined) = server.post_with(&clerk, review, json!({ "o": spam, "a": false, "why": "广告" })).await;
    assert_eq!(
        declined["data"]["reviewOpinion"]["opinion"],
        json!({ "status": "DECLINED", "declinedBecause": "广告" })
    );
    let gone = "query($o: ID!) { opinion(id: $o) { citizenGiven citizenErased citizen { name } } }";
    let (_, read) = server.post_with(&clerk, gone, json!({ "o": spam })).await;
    assert_eq!(read["data"]["opinion"], json!({ "citizenGiven": true, "citizenErased": true, "citizen": null }));

    // Spam is held by the quota: five an hour from one address, the sixth refused with
    // a time to wait, and nothing written for it.
    for n in 0..4 {
        let (status, said) =
            support::leave_opinion(&server.url, "SY-0001", LOOPBACK, &[("text", &format!("意见{n}"))]).await;
        assert_eq!(status, 200, "{said}");
    }
    let head = server.head().await;
    let (status, said) = support::leave_opinion(&server.url, "SY-0001", LOOPBACK, &[("text", "还有")]).await;
    assert_eq!(status, 429, "{said}");
    assert!(said.contains("提交过于频繁"), "{said}");
    assert_eq!(server.head().await, head);
    let (_, held) = server.post_with(&clerk, opinions, json!({ "r": round, "s": "HELD" })).await;
    assert_eq!(held["data"]["opinions"]["totalCount"], 4, "{held}");
}

#[tokio::test]
async fn a_member_is_shown_on_the_board_only_with_consent_and_never_after_erasure() {
    let server = Server::start();
    let unit = r#"mutation { registerUnit(input: { name: "十堰市政务服务中心", code: "SY-0001", industry: "政务服务", region: "茅箭区" }) { unit { id } } }"#;
    server.ok(unit, json!({})).await;
    let member = r#"mutation($c: String!, $n: String!) { registerMember(input: { code: $c, unit: "SY-0001", joinedOn: "2011-01-01", personal: { name: $n, phone: "13800000000" } }) { member { id } } }"#;
    server.ok(member, json!({ "c": "M-1", "n": "王俊" })).await;
    server.ok(member, json!({ "c": "M-2", "n": "李红" })).await;
    let promise = r#"mutation { makeCommitment(input: { unit: "SY-0001", member: "M-1", content: { category: "服务态度", text: "微笑服务，一次告知", from: "2011-01-01", until: "2011-06-30" } }) { commitment { id } } }"#;
    server.ok(promise, json!({})).await;
    let public = reqwest::Client::new();
    let page = async || public.get(format!("{}/units/SY-0001", server.url)).send().await.unwrap().text().await.unwrap();
    assert!(!page().await.contains("王俊"), "no card without consent");

    // The clerk records the member's consent and post; a viewer reads the same card.
    let clerk = support::client_with(&server.token("CLERK", &["SY-0001"], None).await);
    let card = "mutation($m: ID!, $s: Boolean!, $p: String) { setPublicCard(member: $m, shown: $s, post: $p) { receipt { position } } }";
    let (_, set) = server.post_with(&clerk, card, json!({ "m": "M-1", "s": true, "p": "窗口受理员" })).await;
    let shown_at = set["data"]["setPublicCard"]["receipt"]["position"].as_u64().unwrap();
    let shown = page().await;
    assert!(shown.contains("王俊") && shown.contains("窗口受理员") && shown.contains("微笑服务，一次告知"), "{shown}");
    assert!(!shown.contains("李红") && !shown.contains("13800000000"), "nothing else personal: {shown}");
    let viewer = support::client_with(&server.token("VIEWER", &[], None).await);
    let cards = r#"query($a: AsOfInput) { publicMembers(unit: "SY-0001", asOf: $a) { code name post } }"#;
    let (_, read) = server.post_with(&viewer, cards, json!({})).await;
    assert_eq!(read["data"]["publicMembers"], json!([{ "code": "M-1", "name": "王俊", "post": "窗口受理员" }]));

    // Taken down when consent is withdrawn; the page as of before still shows it.
    server.post_with(&clerk, card, json!({ "m": "M-1", "s": false })).await;
    assert!(!page().await.contains("王俊"));
    let then = public.get(format!("{}/units/SY-0001?asOf={shown_at}", server.url)).send().await.unwrap();
    assert!(then.text().await.unwrap().contains("王俊"));

    // Shown again, then erased: gone from the page, now and as of any position.
    server.post_with(&clerk, card, json!({ "m": "M-1", "s": true })).await;
    assert!(page().await.contains("王俊"));
    server.ok(r#"mutation { eraseMember(input: { member: "M-1" }) { receipt { position } } }"#, json!({})).await;
    assert!(!page().await.contains("王俊"));
    let then = public.get(format!("{}/units/SY-0001?asOf={shown_at}", server.url)).send().await.unwrap();
    assert!(!then.text().await.unwrap().contains("王俊"), "an erased name opens at no position");
    let (_, read) = server.post_with(&viewer, cards, json!({ "a": { "position": shown_at } })).await;
    assert_eq!(read["data"]["publicMembers"], json!([]), "{read}");
    let (_, refused) = server.post_with(&clerk, card, json!({ "m": "M-1", "s": true })).await;
    assert_eq!(refused["errors"][0]["extensions"]["code"], "VALIDATION", "an erased member has no card: {refused}");
}

const CAST_BALLOT: &str = r#"mutation($e: ID!, $u: ID!, $rating: Rating) {
  castBallot(input: { evaluation: $e, rated: { unit: $u }, voter: CITIZEN, rating: $rating, scores: [{ criterion: "服务态度", score: 90 }] }) { receipt { position } ballot }
}"#;
const RESULTS: &str = r#"query($e: ID!, $at: Int) {
  evaluationResults(evaluation: $e, asOf: { position: $at }) { totalCount results { unit member ballots satisfied fairlySatisfied dissatisfied dontKnow satisfaction leaderScore leaderComment } }
}"#;

#[tokio::test]
async fn a_half_year_evaluation_takes_ballots_and_reviews_while_open_and_reads_as_of_any_position() {
    let server = Server::start();
    let unit = register_unit(&server, "十堰市人民医院").await;
    let outside = register_unit(&server, "十堰市国税局").await;
    let open = r#"mutation($u: ID!) { openEvaluation(input: { name: "2011年上半年群众评议", halfYear: "2011H1", subject: UNITS, scope: { units: [$u] } }) { evaluation { id halfYear subject units closedAt } } }"#;
    let opened = server.ok(open, json!({ "u": unit })).await["openEvaluation"]["evaluation"].clone();
    assert_eq!((opened["halfYear"].as_str(), opened["subject"].as_str()), (Some("2011H1"), Some("UNITS")));
    assert_eq!(opened["units"], json!([unit]));
    let evaluation = opened["id"].as_str().unwrap().to_owned();

    // Satisfied, fairly satisfied, dissatisfied and "don't know": satisfaction is
    // (100 + 70 + 30) / 3 = 66.67, the fourth ballot left out of it.
    let cast = |rating: Value| server.ok(CAST_BALLOT, json!({ "e": evaluation, "u": unit, "rating": rating }));
    let first = cast(json!("SATISFIED")).await["castBallot"]["receipt"]["position"].as_u64().unwrap();
    for rating in [json!("FAIRLY_SATISFIED"), json!("DISSATISFIED"), Value::Null] {
        cast(rating).await;
    }
    let review = r#"mutation($e: ID!, $u: ID!, $score: Int!, $comment: String) { reviewAsLeader(input: { evaluation: $e, rated: { unit: $u }, score: $score, comment: $comment }) { receipt { position } } }"#;
    server.ok(review, json!({ "e": evaluation, "u": unit, "score": 85, "comment": "服务规范" })).await;
    server.ok(review, json!({ "e": evaluation, "u": unit, "score": 90, "comment": "服务规范，效率高" })).await;

    let page = server.ok(RESULTS, json!({ "e": evaluation, "at": null })).await["evaluationResults"].clone();
    assert_eq!(page["totalCount"], 1);
    let result = &page["results"][0];
    assert_eq!(result["unit"], unit.as_str());
    assert_eq!(result["member"], Value::Null);
    assert_eq!(
        [
            &result["ballots"],
            &result["satisfied"],
            &result["fairlySatisfied"],
            &result["dissatisfied"],
            &result["dontKnow"]
        ],
        [&json!(4), &json!(1), &json!(1), &json!(1), &json!(1)]
    );
    assert_eq!(result["satisfaction"], "66.67");
    assert_eq!(
        (result["leaderScore"].as_u64(), result["leaderComment"].as_str()),
        (Some(90), Some("服务规范，效率高"))
    );
    // As of the first ballot: one satisfied ballot, no review yet.
    let then =
        server.ok(RESULTS, json!({ "e": evaluation, "at": first })).await["evaluationResults"]["results"][0].clone();
    assert_eq!((then["ballots"].as_u64(), then["satisfaction"].as_str()), (Some(1), Some("100.00")));
    assert_eq!(then["leaderScore"], Value::Null);

    // The ballots themselves, anonymous, with their scores, in the order cast.
    let cast = r#"query($e: ID!, $u: ID!) { ballots(evaluation: $e, rated: { unit: $u }, first: 2) { totalCount ballots { voter rating scores { criterion score } comment } } }"#;
    let page = server.ok(cast, json!({ "e": evaluation, "u": unit })).await["ballots"].clone();
    assert_eq!(page["totalCount"], 4);
    assert_eq!(
        page["ballots"][0],
        json!({ "voter": "CITIZEN", "rating": "SATISFIED", "scores": [{ "criterion": "服务态度", "score": 90 }], "comment": null })
    );
    assert_eq!(page["ballots"][1]["rating"], "FAIRLY_SATISFIED");

    // Refused, each leaving the log as it was: a unit outside the scope, a score out of
    // range, two rated at once, a criterion scored twice; then anything after the close.
    let head = server.head().await;
    let e = server.error(CAST_BALLOT, json!({ "e": evaluation, "u": outside, "rating": "SATISFIED" })).await;
    assert_eq!(
        (e["extensions"]["code"].as_str(), e["extensions"]["evaluation"].as_str()),
        (Some("VALIDATION"), Some(evaluation.as_str()))
    );
    let e = server.error(review, json!({ "e": evaluation, "u": unit, "score": 101 })).await;
    assert_eq!(e["extensions"]["field"], "input.score");
    let both = r#"mutation($e: ID!, $u: ID!) { castBallot(input: { evaluation: $e, rated: { unit: $u, member: $u }, voter: SUPERVISOR }) { ballot } }"#;
    let e = server.error(both, json!({ "e": evaluation, "u": unit })).await;
    assert_eq!(e["extensions"]["field"], "input.rated");
    let twice = r#"mutation($e: ID!, $u: ID!) { castBallot(input: { evaluation: $e, rated: { unit: $u }, voter: ASSESSOR, scores: [{ criterion: "效率", score: 90 }, { criterion: "效率", score: 80 }] }) { ballot } }"#;
    let e = server.error(twice, json!({ "e": evaluation, "u": unit })).await;
    assert_eq!(e["extensions"]["field"], "scores");
    assert_eq!(server.head().await, head);

    let close = "mutation($e: ID!) { closeEvaluation(evaluation: $e) { evaluation { closedAt } } }";
    let closed = server.ok(close, json!({ "e": evaluation })).await;
    assert!(closed["closeEvaluation"]["evaluation"]["closedAt"].as_u64().is_some());
    let head = server.head().await;
    let e = server.error(CAST_BALLOT, json!({ "e": evaluation, "u": unit, "rating": "SATISFIED" })).await;
    assert_eq!(e["extensions"]["code"], "VALIDATION");
    assert!(e["message"].as_str().unwrap().contains("is closed"), "{e}");
    server.error(close, json!({ "e": evaluation })).await;
    assert_eq!(server.head().await, head, "a closed evaluation takes nothing more");
    let listed = server.ok(r#"{ evaluations(halfYear: "2011H1") { id closedAt } }"#, json!({})).await;
    assert_eq!(listed["evaluations"][0]["id"], evaluation.as_str());

    // The units' star board: 0.6 × 66.67 + 0.4 × 90 = 76.00, six stars by the bands of
    // ten-star-unit-default; the unit without a ballot is not rated. The explanation
    // names each band with its required and actual score.
    let board = r#"query($at: Int) { starBoard(policy: "ten-star-unit-default", halfYear: "2011H1", asOf: { position: $at }) {
        asOfPosition totalCount entries { rank stars previousStars change unit score heldByQuota
        eligibility { outcome levels { name met criteria { metric required actual } } caps { name met } vetoes { name met } } } } }"#;
    let board = server.ok(board, json!({ "at": null })).await["starBoard"].clone();
    assert_eq!(board["totalCount"], 2);
    let first = &board["entries"][0];
    assert_eq!(
        (first["unit"].as_str(), first["rank"].as_u64(), first["stars"].as_u64()),
        (Some(unit.as_str()), Some(1), Some(6))
    );
    assert_eq!((first["score"].as_str(), first["change"].as_i64()), (Some("76.00"), Some(6)));
    assert_eq!(first["eligibility"]["outcome"], "6");
    let band = &first["eligibility"]["levels"][5];
    assert_eq!((band["met"].as_bool(), band["criteria"][0]["required"].as_str()), (Some(true), Some("≥ 75.00")));
    assert_eq!(first["eligibility"]["caps"][0]["met"], false);
    let second = &board["entries"][1];
    assert_eq!(
        (second["unit"].as_str(), second["stars"].as_u64(), second["score"].as_str()),
        (Some(outside.as_str()), Some(0), None)
    );
    let e = server
        .error(r#"{ starBoard(policy: "star-volunteer-pvsa", halfYear: "2011H1") { totalCount } }"#, json!({}))
        .await;
    assert_eq!(e["extensions"]["code"], "NOT_FOUND");
}

const PUBLISH_BOARD: &str = r#"mutation { publishBoard(input: { name: "2011年上半年窗口单位星级榜", policy: "ten-star-unit-default", halfYear: "2011H1" }) {
  board { id halfYear policy policyVersion policyDigest asOfPosition entryCount digest publishedAt } } }"#;
const REPRODUCTION: &str = r#"query($b: ID!) { publishedBoard(id: $b) { digest reproduction { digest reproduced differenceCount
  differences { unit publishedStars currentStars } currentPosition entries { unit rank stars } } } }"#;
const NOMINATE: &str = r#"mutation($award: String!, $u: ID, $m: ID) { nominateRecognition(input: { award: $award, halfYear: "2011H1", nominee: { unit: $u, member: $m }, reason: "服务群众" }) {
  recognition { id award awardLabel status listedUntil unit objectionCount unansweredObjections } } }"#;
const DECIDE: &str = r#"mutation($r: ID!, $b: ID!, $why: String) { decideRecognition(recognition: $r, board: $b, exception: $why) {
  recognition { status decision { board asOfPosition policyDigest required outcome score holds exception criteria { part metric required actual met } } } } }"#;

#[tokio::test]
async fn recognitions_are_listed_objected_to_and_decided_on_a_published_board_that_reproduces() {
    let server = Server::start_with_quick_awards();
    let (good, poor) = (register_unit(&server, "十堰市人民医院").await, register_unit(&server, "十堰市国税局").await);
    let open = r#"mutation { openEvaluation(input: { name: "2011年上半年群众评议", halfYear: "2011H1", subject: UNITS }) { evaluation { id } } }"#;
    let evaluation =
        server.ok(open, json!({})).await["openEvaluation"]["evaluation"]["id"].as_str().unwrap().to_owned();
    for _ in 0..4 {
        server.ok(CAST_BALLOT, json!({ "e": evaluation, "u": good, "rating": "SATISFIED" })).await;
    }
    server.ok(CAST_BALLOT, json!({ "e": evaluation, "u": poor, "rating": "DISSATISFIED" })).await;
    let review = r#"mutation($e: ID!, $u: ID!, $score: Int!) { reviewAsLeader(input: { evaluation: $e, rated: { unit: $u }, score: $score }) { receipt { position } } }"#;
    server.ok(review, json!({ "e": evaluation, "u": good, "score": 95 })).await;
    server.ok(review, json!({ "e": evaluation, "u": poor, "score": 70 })).await;

    // Published: 0.6 × 100 + 0.4 × 95 = 98, ten stars held at nine by the quota (a tenth
    // of two units keeps none); 0.6 × 30 + 0.4 × 70 = 46, none.
    let reviewer = support::client_with(&server.token("REVIEWER", &[], None).await);
    let (_, published) = server.post_with(&reviewer, PUBLISH_BOARD, json!({})).await;
    let board = published["data"]["publishBoard"]["board"].clone();
    assert_eq!((board["entryCount"].as_u64(), board["policy"].as_str()), (Some(2), Some("ten-star-unit-default")));
    assert_eq!(board["policyDigest"].as_str().unwrap().len(), 64);
    let board_id = board["id"].as_str().unwrap().to_owned();

    // Later ballots change the board as the log stands; the published one is computed
    // again exactly, and the difference is shown.
    for _ in 0..10 {
        server.ok(CAST_BALLOT, json!({ "e": evaluation, "u": good, "rating": "DISSATISFIED" })).await;
    }
    let again = server.ok(REPRODUCTION, json!({ "b": board_id })).await["publishedBoard"].clone();
    let reproduction = &again["reproduction"];
    assert_eq!((reproduction["reproduced"].as_bool(), &reproduction["digest"]), (Some(true), &again["digest"]));
    assert_eq!(reproduction["entries"][0], json!({ "unit": good, "rank": 1, "stars": 9 }));
    assert_eq!(reproduction["differenceCount"], 1);
    assert_eq!(reproduction["differences"][0], json!({ "unit": good, "publishedStars": 9, "currentStars": 0 }));
    let close = "mutation($e: ID!) { closeEvaluation(evaluation: $e) { evaluation { closedAt } } }";
    server.ok(close, json!({ "e": evaluation })).await;

    // A subscriber to the recognitions sees the board published, from the start.
    let mut socket = support::WsClient::connect(&server, &server.admin).await;
    let watch = r#"subscription { recognitionChanges(halfYear: "2011H1", fromPosition: 1) { position type board { id } recognition { status } } }"#;
    socket.subscribe("r", watch, json!({})).await;
    let first = socket.next_data().await["recognitionChanges"].clone();
    assert_eq!((first["type"].as_str(), &first["board"]["id"]), (Some("BoardPublished"), &board["id"]), "{first}");

    // A clerk nominates for their own unit only, and decides nothing.
    let clerk = support::client_with(&server.token("CLERK", &[&good], None).await);
    let head = server.head().await;
    let (_, refused) = server.post_with(&clerk, NOMINATE, json!({ "award": "satisfied-window", "u": poor })).await;
    assert_eq!(refused["errors"][0]["extensions"]["code"], "FORBIDDEN", "{refused}");
    let e = server.error(NOMINATE, json!({ "award": "satisfied-window", "m": good })).await;
    assert!(e["message"].as_str().unwrap().contains("is given to a unit"), "{e}");
    let e = server.error(NOMINATE, json!({ "award": "best-window", "u": good })).await;
    assert!(e["message"].as_str().unwrap().contains("known awards: "), "{e}");
    assert_eq!(server.head().await, head, "refused nominations write nothing");
    let (_, nominated) = server.post_with(&clerk, NOMINATE, json!({ "award": "satisfied-window", "u": good })).await;
    let recognition = nominated["data"]["nominateRecognition"]["recognition"].clone();
    assert_eq!(
        (recognition["status"].as_str(), recognition["awardLabel"].as_str()),
        (Some("NOMINATED"), Some("群众满意窗口"))
    );
    let id = recognition["id"].as_str().unwrap().to_owned();
    let change = socket.next_data().await["recognitionChanges"].clone();
    assert_eq!(
        (change["type"].as_str(), change["recognition"]["status"].as_str()),
        (Some("RecognitionNominated"), Some("NOMINATED"))
    );
    let (_, refused) = server.post_with(&clerk, DECIDE, json!({ "r": id, "b": board_id })).await;
    assert_eq!(refused["errors"][0]["extensions"]["code"], "FORBIDDEN", "{refused}");

    // An objection must be answered first; then the decision rests on the board.
    let object = r#"mutation($r: ID!) { raiseObjection(recognition: $r, from: PUBLIC, text: "窗口午间无人值守") { recognition { unansweredObjections } } }"#;
    assert_eq!(server.ok(object, json!({ "r": id })).await["raiseObjection"]["recognition"]["unansweredObjections"], 1);
    let head = server.head().await;
    let e = server.error(DECIDE, json!({ "r": id, "b": board_id })).await;
    assert!(e["message"].as_str().unwrap().contains("1 objection(s) not yet answered"), "{e}");
    assert_eq!(server.head().await, head);
    let answer = r#"mutation($r: ID!) { answerObjection(recognition: $r, objection: 1, upheld: false, answer: "经核实已整改") { recognition { unansweredObjections } } }"#;
    server.ok(answer, json!({ "r": id })).await;
    let (_, decided) = server.post_with(&reviewer, DECIDE, json!({ "r": id, "b": board_id })).await;
    let decided = decided["data"]["decideRecognition"]["recognition"].clone();
    assert_eq!(decided["status"], "DECIDED");
    let decision = &decided["decision"];
    assert_eq!((decision["holds"].as_bool(), decision["outcome"].as_str()), (Some(true), Some("9")));
    assert_eq!((decision["required"].as_str(), decision["score"].as_str()), (Some("9"), Some("98.00")));
    assert_eq!(decision["asOfPosition"], board["asOfPosition"]);
    assert_eq!(decision["policyDigest"], board["policyDigest"]);
    assert_eq!(
        decision["criteria"][0],
        json!({ "part": "9", "metric": "weighted_score", "required": "≥ 90.00", "actual": "98.00", "met": true })
    );

    // Evidence that does not hold: refused, unless decided as an exception with a reason.
    let poor_id = server.ok(NOMINATE, json!({ "award": "model-window", "u": poor })).await["nominateRecognition"]
        ["recognition"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let head = server.head().await;
    let e = server.error(DECIDE, json!({ "r": poor_id, "b": board_id })).await;
    assert!(e["message"].as_str().unwrap().contains("the board awards nothing; the award needs 10"), "{e}");
    assert_eq!(server.head().await, head, "a decision without evidence writes nothing");
    let exception = server.ok(DECIDE, json!({ "r": poor_id, "b": board_id, "why": "抗洪抢险中表现突出" })).await;
    let decision = &exception["decideRecognition"]["recognition"]["decision"];
    assert_eq!(
        (decision["holds"].as_bool(), decision["exception"].as_str()),
        (Some(false), Some("抗洪抢险中表现突出"))
    );

    // The board and the recognitions list as workbooks, read back.
    let sheet = |bytes: Vec<u8>| -> Vec<Vec<String>> {
        use calamine::Reader;
        let mut book = calamine::Xlsx::new(std::io::Cursor::new(bytes)).unwrap();
        let range = book.worksheet_range_at(0).unwrap().unwrap();
        range.rows().map(|r| r.iter().map(|c| c.to_string()).collect()).collect()
    };
    let download = |path: String| {
        let http = &server.http;
        let url = format!("{}{path}", server.url);
        async move { http.get(url).send().await.unwrap().bytes().await.unwrap().to_vec() }
    };
    let rows = sheet(download(format!("/export/board?board={board_id}")).await);
    assert_eq!(rows[5][..2], ["榜单摘要 board digest".to_owned(), board["digest"].as_str().unwrap().to_owned()]);
    assert_eq!(rows[7][0], "名次 rank");
    assert_eq!(rows[8][..5], ["1", good.as_str(), "十堰市人民医院", "", "9"].map(String::from));
    assert_eq!((rows[8][5].as_str(), rows[8][6].as_str()), ("98.00", "是"), "held at nine by the quota");
    let rows = sheet(download("/export/recognitions?halfYear=2011H1".into()).await);
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!(
        rows[1][..4],
        ["群众满意窗口 satisfied-window", "2011H1", good.as_str(), "十堰市人民医院"].map(String::from)
    );
    assert_eq!((rows[1][6].as_str(), rows[1][8].as_str(), rows[1][9].as_str()), ("已表彰 decided", "9", "9"));
    assert_eq!((rows[2][0].as_str(), rows[2][10].as_str()), ("党员示范窗口 model-window", "抗洪抢险中表现突出"));

    // The public list (a viewer's), without the objections' text; revoked by an admin
    // only, with the reason.
    let viewer = support::client_with(&server.token("VIEWER", &[], None).await);
    let list =
        r#"{ recognitions(halfYear: "2011H1", status: DECIDED) { totalCount recognitions { award unit status } } }"#;
    let (_, listed) = server.post_with(&viewer, list, json!({})).await;
    assert_eq!(listed["data"]["recognitions"]["totalCount"], 2, "{listed}");
    let (_, hidden) =
        server.post_with(&viewer, r#"{ recognitions { recognitions { objections { text } } } }"#, json!({})).await;
    assert_eq!(hidden["errors"][0]["extensions"]["code"], "FORBIDDEN", "{hidden}");
    let revoke = r#"mutation($r: ID!) { revokeRecognition(recognition: $r, reason: "材料不实") { recognition { status revocationReason } } }"#;
    let (_, refused) = server.post_with(&reviewer, revoke, json!({ "r": poor_id })).await;
    assert_eq!(refused["errors"][0]["extensions"]["code"], "FORBIDDEN", "{refused}");
    let revoked = server.ok(revoke, json!({ "r": poor_id })).await["revokeRecognition"]["recognition"].clone();
    assert_eq!(revoked, json!({ "status": "REVOKED", "revocationReason": "材料不实" }));

    // The command line checks every decision left: its evidence is given again, and the
    // ballots cast after the board weakened it.
    let (_, dir) = server.terminate();
    let report = support::taizhang(dir.path(), &[], &["verify", "--recognitions"]);
    let lines: Vec<&str> = report.lines().collect();
    assert_eq!(lines.len(), 2, "{report}");
    assert!(lines[0].starts_with(&id) && lines[0].contains("satisfied-window 2011H1"), "{report}");
    assert!(
        lines[0].contains("evidence given again; weakened: the board now awards nothing, the award needs 9"),
        "{report}"
    );
    assert!(
        lines[1].starts_with("ok: 1 decided recognitions, every one's evidence given again; 1 weakened"),
        "{report}"
    );
}
