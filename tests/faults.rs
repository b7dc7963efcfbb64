//! Faults of the storage engine, on the real server: the disk refuses a write (the
//! file-size limit is reached; `prlimit`, with SIGXFSZ ignored so that the write fails
//! instead of killing the process). Every request is answered or its connection ends,
//! none hangs; `/healthz` turns 503; the process exits with code 75 to be restarted;
//! the store opens again with every acknowledged write.

mod support;

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::{client_with, served_url, taizhang};

/// How long any one request may take before the test calls it hung: the store counts
/// as stalled after 20 s, the server exits 5 s later.
const ANSWER_WITHIN: Duration = Duration::from_secs(60);

/// Registers units with names that do not compress until the store refuses; returns the
/// names acknowledged.
async fn write_until_refused(url: String, token: String, writer: usize) -> Vec<String> {
    let client = client_with(&token);
    let register = "mutation($n: String!) { registerUnit(input: { name: $n, industry: \"医疗卫生\", region: \"茅箭区\" }) { receipt { position } } }";
    let mut acknowledged = Vec::new();
    for i in 0.. {
        let noise: String = (0..11).map(|_| uuid::Uuid::new_v4().simple().to_string()).collect();
        let name = format!("单位{writer}-{i}-{noise}");
        let sent = Instant::now();
        let request =
            client.post(format!("{url}/graphql")).json(&json!({ "query": register, "variables": { "n": name } }));
        let answer = request.timeout(ANSWER_WITHIN).send().await;
        let body: Value = match answer {
            Ok(response) => match response.json().await {
                Ok(body) => body,
                Err(e) => {
                    assert!(!e.is_timeout(), "a write hung for {:?}", sent.elapsed());
                    break; // the process exited while answering
                }
            },
            Err(e) => {
                assert!(!e.is_timeout(), "a write hung for {:?}", sent.elapsed());
                break; // the process exited
            }
        };
        match body["errors"][0]["extensions"]["code"].as_str() {
            None => acknowledged.push(name),
            // The write that failed, then the refusals while the server stops.
            Some("INTERNAL" | "UNAVAILABLE") => break,
            Some(other) => panic!("unexpected {other}: {body}"),
        }
    }
    acknowledged
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_write_makes_the_server_unhealthy_then_it_exits_and_the_store_reopens() {
    for round in 0..3 {
        let dir = tempfile::tempdir().unwrap();
        let admin = taizhang(dir.path(), &[], &["token", "create", "--role", "admin"]).trim().to_owned();
        let mut child = Command::new("sh")
            .args(["-c", "trap '' XFSZ; exec prlimit --fsize=1048576 -- \"$0\" \"$@\""])
            .arg(env!("CARGO_BIN_EXE_taizhang"))
            .args(["--data", dir.path().to_str().unwrap(), "serve", "--listen", "127.0.0.1:0"])
            .env("TAIZHANG_MASTER_KEY_FILE", dir.path().join("master.key"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("sh and prlimit run");
        let url = served_url(&mut child);

        let writers: Vec<_> =
            (0..4).map(|w| tokio::spawn(write_until_refused(url.clone(), admin.clone(), w))).collect();
        let mut acknowledged = BTreeSet::new();
        for writer in writers {
            acknowledged.extend(writer.await.unwrap());
        }
        assert!(acknowledged.len() > 100, "round {round}: only {} writes before the refusal", acknowledged.len());

        // Unhealthy (if still up), then gone with the restart code.
        if let Ok(response) = reqwest::get(format!("{url}/healthz")).await {
            assert_eq!(response.status().as_u16(), 503, "round {round}");
            let health: Value = response.json().await.unwrap();
            assert!(["poisoned", "stalled"].contains(&health["status"].as_str().unwrap()), "round {round}: {health}");
        }
        let stopping = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            assert!(stopping.elapsed() < ANSWER_WITHIN, "round {round}: the server did not exit");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(status.code(), Some(75), "round {round}");

        // Without the limit the store opens, whole, with every acknowledged write.
        let verified = taizhang(dir.path(), &[], &["verify"]);
        assert!(verified.starts_with("ok: "), "round {round}: {verified}");
        let units = taizhang(dir.path(), &[], &["export", "units"]);
        let missing: Vec<_> = acknowledged.iter().filter(|name| !units.contains(name.as_str())).collect();
        assert!(missing.is_empty(), "round {round}: acknowledged and lost: {missing:?}");
    }
}
