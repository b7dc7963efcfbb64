//! The `certificate` scenario: a member with 200 verified outings in a year; the time to
//! issue a certificate covering all of them (read, sign, decide against every outing,
//! append durably), against a single durable command in the same run; how many such
//! certificates a verifier checks offline per second on one core; and the public check
//! over HTTP (no token), against `/healthz` through the same server and client.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use taizhang_api::{ApiState, CertificateSettings, Limits};
use taizhang_app::{CommandContext, Ledger};
use taizhang_core::*;
use taizhang_io::certificate::{self as issuing, IssueRequest};
use taizhang_read::policy::PolicySet;
use taizhang_read::Projector;
use taizhang_store::{AnyStore, EventStore, SledStore};

use crate::{median, rate, report};

const OUTINGS: usize = 200;
const ISSUES: usize = 30;

pub(crate) async fn certificate(dir: &Path) -> Result<()> {
    let text = |s: &str| Text::parse("t", s).expect("a bench text");
    let store = Arc::new(AnyStore::Sled(Arc::new(SledStore::open(&dir.join("log"))?)));
    let ledger = Arc::new(Ledger::open(store.clone(), &dir.join("master.key")).await?);
    let unit = UnitId::of_code("SY-0001");
    let member = MemberId::of_code("SY-0001-01");
    let ctx = || CommandContext::new(Actor::OPERATOR);
    let mut commands: Vec<(CommandContext, Command)> = vec![
        (
            ctx(),
            RegisterUnit {
                unit,
                name: text("十堰市人民医院"),
                industry: text("医疗卫生"),
                region: text("茅箭区"),
                parent: None,
                code: Some(text("SY-0001")),
            }
            .into(),
        ),
        (
            ctx(),
            RegisterMember {
                member,
                unit,
                joined_on: time::macros::date!(2010 - 01 - 01),
                personal: PersonalData { name: text("王俊"), national_id: None, phone: None, birth_date: None },
                code: Some(text("SY-0001-01")),
            }
            .into(),
        ),
    ];
    let span = TimeRange::new("span", ClockTime::parse("t", "09:00")?, ClockTime::parse("t", "11:00")?)?;
    let first = time::macros::date!(2011 - 01 - 01);
    for i in 0..OUTINGS {
        let outing = OutingId::new();
        let details = OutingDetails {
            date: first + time::Duration::days(i as i64),
            span,
            place: text("武当路社区"),
            category: text(["义诊", "政策宣传", "环境整治"][i % 3]),
            description: None,
            beneficiaries: 20,
        };
        let participants = vec![ParticipationInput { member, span: None, minutes: None }];
        commands.push((ctx(), RegisterOuting { outing, unit, details, participants, code: None }.into()));
        commands.push((ctx(), VerifyOuting { outing, note: None, expected_version: None }.into()));
    }
    ledger.run_in_order(commands, |_| {}).await?;
    let projector = Projector::open(store.clone(), None).await?;
    let follower = tokio::spawn(projector.clone().run());
    let request = IssueRequest {
        member,
        unit,
        period: Period::new(first, time::macros::date!(2011 - 12 - 31))?,
        person_in_charge: text("王主任"),
        contact: text("0719-8888888"),
        base_url: text("https://taizhang.example"),
    };
    let key_file = dir.join("signing.key");

    // Alternating: one certificate, then one durable single-event command.
    let (mut issue_ms, mut command_ms) = (Vec::new(), Vec::new());
    let mut last = None;
    for i in 0..ISSUES {
        let start = Instant::now();
        let (id, _) = issuing::issue(&ledger, &projector, ctx(), &key_file, &request).await?;
        issue_ms.push(start.elapsed().as_secs_f64() * 1e3);
        last = Some(id);
        let rename = RenameUnit { unit, name: text(&format!("十堰市人民医院{i}")) };
        let start = Instant::now();
        ledger.execute(ctx(), rename.into()).await?;
        command_ms.push(start.elapsed().as_secs_f64() * 1e3);
    }
    projector.wait_for(store.head(), Duration::from_secs(10)).await?;
    let issued = issuing::read(&ledger, &projector, last.expect("certificates were issued")).await?;
    assert_eq!(issued.record.issued.lines.len(), OUTINGS, "every outing covered");
    report("certificate", median(issue_ms), "ms", Some(median(command_ms)));

    // Offline verification of the 200-line credential, one core.
    let document = serde_json::Value::Object(issued.document);
    let key = taizhang_credential::PublicKey::parse(issued.record.issued.signature.key.as_str())?;
    let start = Instant::now();
    let mut checked = 0;
    while start.elapsed() < Duration::from_secs(2) {
        taizhang_credential::verify(&document, Some(&key))?;
        checked += 1;
    }
    report("certificate verify", rate(checked, start.elapsed()), "per s", None);

    // The public check over HTTP (no token), against /healthz through the same stack.
    let check = issuing::check_address(&issued.record.issued);
    let path = check.trim_start_matches("https://taizhang.example").to_owned();
    let mut state = ApiState::new(ledger, projector, PolicySet::built_in())?;
    state.certificates = Some(CertificateSettings { key_file, base_url: "https://taizhang.example".into() });
    let state = Arc::new(state);
    let limits = Limits::default();
    let schema = taizhang_api::schema(state.clone(), &limits);
    let address = crate::http::serve(taizhang_api::http::routes(schema, state, limits)).await?;
    crate::http::on_client_runtime(async move {
        let client = Arc::new(crate::client::Client::new(address, "")?);
        let (mut checks, mut health) = (Vec::new(), Vec::new());
        let get = |path: String| {
            move |client: Arc<crate::client::Client>| {
                let path = path.clone();
                async move { client.get(&path).await.map(drop) }
            }
        };
        for _ in 0..3 {
            checks.push(crate::client::closed_loops(&client, get(path.clone())).await?.per_second);
            health.push(crate::client::closed_loops(&client, get("/healthz".into())).await?.per_second);
        }
        report("certificate public check", median(checks), "per s", Some(median(health)));
        Ok(())
    })
    .await?;
    follower.abort();
    Ok(())
}
