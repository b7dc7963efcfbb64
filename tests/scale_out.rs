//! Two servers over one PostgreSQL log: clerks on both register outings for the same
//! members at the same time. Cross-stream rules hold (no member over 24 h a day, no
//! overlapping outings), each server reads the other's writes with `minPosition`, and
//! both end with byte-identical projections. The PostgreSQL server is
//! `TAIZHANG_TEST_POSTGRES` (default: the local one); under CI an unreachable server
//! fails the test, elsewhere it is skipped with the reason.

mod support;

use std::collections::BTreeMap;

use serde_json::{json, Value};
use support::Server;
use taizhang_store::conformance::{postgres_url, test_pg_store};

const REGISTER_OUTING: &str =
    "mutation($input: RegisterOutingInput!) { registerOuting(input: $input) { receipt { position } } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_share_one_log_and_keep_every_rule() {
    // The schema is created here and dropped when the test ends; the servers share it.
    let Some((store, schema)) = test_pg_store().await else { return };
    drop(store);
    let keys = tempfile::tempdir().unwrap();
    let master = keys.path().join("master.key");
    let url = postgres_url();
    let options = ["--store", &url, "--pg-schema", &schema.0, "--master-key-file", master.to_str().unwrap()];
    let a = Server::start_with(tempfile::tempdir().unwrap(), &options);
    let b = Server::start_with(tempfile::tempdir().unwrap(), &options);

    // A unit on server a, its members on server b (their keys in the shared table).
    let unit = a
        .ok(
            r#"mutation { registerUnit(input: { name: "十堰市太和医院", industry: "医疗卫生", region: "茅箭区" }) { unit { id } } }"#,
            json!({}),
        )
        .await["registerUnit"]["unit"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut members = Vec::new();
    for name in ["甲", "乙", "丙", "丁"] {
        let input = json!({ "unit": unit, "joinedOn": "2011-01-01", "personal": { "name": format!("志愿者{name}") } });
        let data = b.ok("mutation($input: RegisterMemberInput!) { registerMember(input: $input) { member { id personal { name } } } }", json!({ "input": input })).await;
        assert_eq!(data["registerMember"]["member"]["personal"]["name"], format!("志愿者{name}"));
        members.push(data["registerMember"]["member"]["id"].as_str().unwrap().to_owned());
    }

    // Four clerks, two per server, race for the same members' time on one day: spans of
    // five hours at overlapping starts, two members each. Many must be refused.
    let mut clerks = Vec::new();
    for (clerk, server) in [&a, &b, &a, &b].into_iter().enumerate() {
        let (url, http, unit, members) = (server.url.clone(), server.http.clone(), unit.clone(), members.clone());
        clerks.push(tokio::spawn(async move {
            let mut accepted = 0;
            for i in 0..12usize {
                let start = (clerk * 5 + i * 7) % 19;
                let pair = [&members[(clerk + i) % 4], &members[(clerk + i + 1) % 4]];
                let input = json!({
                    "unit": unit,
                    "details": { "date": "2011-06-12", "start": format!("{start:02}:00"), "end": format!("{:02}:00", start + 5),
                                 "place": "十堰市人民广场", "category": "义诊" },
                    "participants": pair.iter().map(|m| json!({ "member": m })).collect::<Vec<_>>(),
                });
                let body = json!({ "query": REGISTER_OUTING, "variables": { "input": input } });
                let answer: Value = http.post(format!("{url}/graphql")).json(&body).send().await.unwrap().json().await.unwrap();
                match answer["errors"][0]["extensions"]["code"].as_str() {
                    None => accepted += 1,
                    Some("VALIDATION") => {}
                    Some(other) => panic!("unexpected {other}: {answer}"),
                }
            }
            accepted
        }));
    }
    let mut accepted = 0;
    for clerk in clerks {
        accepted += clerk.await.unwrap();
    }
    assert!(accepted > 0 && accepted < 48, "some outings fit, most cannot: {accepted} of 48 accepted");

    // Both servers reach the same head; each reads everything through its own model.
    let head = a.head().await.max(b.head().await);
    let ledger = "query($m: ID!, $p: Int) { memberLedger(member: $m, first: 100, minPosition: $p) {
        totalCount edges { node { minutes outing { date start end voided } } } } }";
    for member in &members {
        let on_a = a.ok(ledger, json!({ "m": member, "p": head })).await;
        let on_b = b.ok(ledger, json!({ "m": member, "p": head })).await;
        assert_eq!(on_a, on_b, "both servers show the same ledger");
        let mut days: BTreeMap<String, Vec<(u64, u64, u64)>> = BTreeMap::new();
        for edge in on_a["memberLedger"]["edges"].as_array().unwrap() {
            let node = &edge["node"];
            let outing = &node["outing"];
            let clock = |t: &Value| -> u64 {
                let (h, m) = t.as_str().unwrap().split_once(':').unwrap();
                h.parse::<u64>().unwrap() * 60 + m.parse::<u64>().unwrap()
            };
            let span = (clock(&outing["start"]), clock(&outing["end"]), node["minutes"].as_u64().unwrap());
            days.entry(outing["date"].as_str().unwrap().to_owned()).or_default().push(span);
        }
        for (day, mut spans) in days {
            let total: u64 = spans.iter().map(|s| s.2).sum();
            assert!(total <= 24 * 60, "{member} serves {total} minutes on {day}");
            spans.sort();
            for pair in spans.windows(2) {
                assert!(pair[0].1 <= pair[1].0, "{member} has overlapping outings on {day}: {spans:?}");
            }
        }
    }

    // Stopped cleanly, each server checkpoints its model: the two are byte-identical.
    let (status_a, dir_a) = a.terminate();
    let (status_b, dir_b) = b.terminate();
    assert!(status_a.success() && status_b.success());
    let checkpoint_a = std::fs::read(dir_a.path().join("read-model.ckpt")).unwrap();
    let checkpoint_b = std::fs::read(dir_b.path().join("read-model.ckpt")).unwrap();
    assert!(checkpoint_a == checkpoint_b, "the two servers' projections differ");
}
