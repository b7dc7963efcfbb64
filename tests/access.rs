//! Who may do what, against the real server: every query field, mutation and guarded
//! object field of the role table, under every role and under no, an expired and a
//! revoked token; a clerk's writes for another unit; subscriptions; the hold on bad
//! tokens; and tokens kept out of logs, errors and the event log.

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::{client_with, taizhang, Server, WsClient};
use taizhang_api::access::RULES;
use taizhang_core::Role;

/// What each role may do, as the README's role table promises it, written out here
/// rather than read from the table the server enforces (`taizhang_api::access::RULES`),
/// so that a grant changed there fails this test: through the server's answers where
/// the grant can be reached, and through the role table it prints (`taizhang schema
/// --roles`) everywhere. Per field: the fields a request for it passes through first (a
/// guarded object field is reached through a query field), then the grant to an
/// admin, a clerk, a reviewer and a viewer: `Y` yes, `O` for the clerk's own units
/// only, `N` no.
const MATRIX: &[(&str, &[&str], [Grant; 4])] = &[
    ("Query.unit", &[], [Y, Y, Y, Y]),
    ("Query.units", &[], [Y, Y, Y, Y]),
    ("Query.policies", &[], [Y, Y, Y, Y]),
    ("Query.head", &[], [Y, Y, Y, Y]),
    ("Query.me", &[], [Y, Y, Y, Y]),
    ("Query.report", &[], [Y, Y, Y, Y]),
    ("GET /export/reports", &[], [Y, Y, Y, Y]),
    ("GET /export/round", &[], [Y, Y, Y, Y]),
    ("GET /export/ledger", &[], [Y, Y, Y, N]),
    ("GET /export/eligibility", &[], [Y, Y, Y, N]),
    ("GET /export/units", &[], [Y, Y, Y, Y]),
    ("GET /export/members", &[], [Y, O, Y, N]),
    ("GET /export/outings", &[], [Y, Y, Y, N]),
    ("GET /export/commitments", &[], [Y, Y, Y, N]),
    ("GET /export/verifications", &[], [Y, N, Y, N]),
    ("Query.member", &[], [Y, Y, Y, N]),
    ("Query.members", &[], [Y, Y, Y, N]),
    ("Query.outing", &[], [Y, Y, Y, N]),
    ("Query.commitment", &[], [Y, Y, Y, Y]),
    ("Query.commitments", &[], [Y, Y, Y, Y]),
    ("Query.commitmentCategories", &[], [Y, Y, Y, Y]),
    ("Query.weeklySummary", &[], [Y, Y, Y, Y]),
    ("Query.missingWeeklySummaries", &[], [Y, Y, Y, N]),
    ("Query.lookBackRound", &[], [Y, Y, Y, Y]),
    ("Query.lookBackRounds", &[], [Y, Y, Y, Y]),
    ("Query.opinion", &[], [Y, Y, Y, Y]),
    ("Query.opinions", &[], [Y, Y, Y, Y]),
    ("Query.roundReport", &[], [Y, Y, Y, Y]),
    ("Query.evaluation", &[], [Y, Y, Y, Y]),
    ("Query.evaluations", &[], [Y, Y, Y, Y]),
    ("Query.evaluationResults", &[], [Y, Y, Y, Y]),
    ("Query.certificate", &[], [Y, Y, Y, N]),
    ("Query.certificates", &[], [Y, Y, Y, N]),
    ("Certificate.document", &["Query.certificate"], [Y, O, Y, N]),
    ("Certificate.checkCode", &["Query.certificate"], [Y, O, Y, N]),
    ("GET /export/certificate", &[], [Y, O, Y, N]),
    ("GET /export/certificates", &[], [Y, Y, Y, N]),
    ("Query.checkIn", &[], [Y, Y, Y, N]),
    ("Query.checkIns", &[], [Y, Y, Y, N]),
    ("Mutation.openCheckIn", &[], [Y, O, N, N]),
    ("Mutation.setCheckInPin", &[], [Y, O, N, N]),
    ("Mutation.setCheckInPins", &[], [Y, O, N, N]),
    ("Mutation.setPublicCard", &[], [Y, O, N, N]),
    ("Query.publicMembers", &[], [Y, Y, Y, Y]),
    ("GET /export/check-in", &[], [Y, O, N, N]),
    ("Query.correctionRequests", &[], [Y, Y, Y, N]),
    ("Mutation.requestCorrection", &[], [Y, O, N, N]),
    ("Mutation.answerCorrectionRequest", &[], [Y, O, N, N]),
    ("Mutation.issueCertificate", &[], [Y, N, Y, N]),
    ("Mutation.revokeCertificate", &[], [Y, N, Y, N]),
    ("Query.unitLedger", &[], [Y, Y, Y, N]),
    ("Query.memberLedger", &[], [Y, Y, Y, N]),
    ("Query.eligibility", &[], [Y, Y, Y, N]),
    ("Query.awardList", &[], [Y, Y, Y, N]),
    ("Query.starBoard", &[], [Y, Y, Y, N]),
    ("Query.ballots", &[], [Y, Y, Y, N]),
    ("Query.publishedBoards", &[], [Y, Y, Y, Y]),
    ("Query.publishedBoard", &[], [Y, Y, Y, Y]),
    ("PublishedBoard.reproduction", &["Query.publishedBoard"], [Y, Y, Y, N]),
    ("PublishedBoard.standings", &["Query.publishedBoard"], [Y, Y, Y, Y]),
    ("Query.recognitions", &[], [Y, Y, Y, Y]),
    ("Query.recognition", &[], [Y, Y, Y, Y]),
    ("Recognition.objections", &["Query.recognition"], [Y, Y, Y, N]),
    ("Mutation.publishBoard", &[], [Y, N, Y, N]),
    ("Mutation.nominateRecognition", &[], [Y, O, Y, N]),
    ("Mutation.raiseObjection", &[], [Y, N, Y, N]),
    ("Mutation.answerObjection", &[], [Y, N, Y, N]),
    ("Mutation.decideRecognition", &[], [Y, N, Y, N]),
    ("Mutation.revokeRecognition", &[], [Y, N, N, N]),
    ("Query.events", &[], [Y, N, Y, N]),
    ("Query.verifyChain", &[], [Y, N, Y, N]),
    ("Query.tokens", &[], [Y, N, N, N]),
    ("Unit.members", &["Query.unit"], [Y, Y, Y, N]),
    ("Member.personal", &["Query.member"], [Y, O, Y, N]),
    ("Opinion.citizen", &["Query.opinion"], [Y, O, Y, N]),
    ("Mutation.registerUnit", &[], [Y, N, N, N]),
    ("Mutation.renameUnit", &[], [Y, N, N, N]),
    ("Mutation.reclassifyUnit", &[], [Y, N, N, N]),
    ("Mutation.moveUnit", &[], [Y, N, N, N]),
    ("Mutation.registerMember", &[], [Y, O, N, N]),
    ("Mutation.correctPersonalData", &[], [Y, O, N, N]),
    ("Mutation.transferMember", &[], [Y, O, N, N]),
    ("Mutation.eraseMember", &[], [Y, N, N, N]),
    ("Mutation.registerOuting", &[], [Y, O, N, N]),
    ("Mutation.amendOuting", &[], [Y, O, N, N]),
    ("Mutation.amendParticipation", &[], [Y, O, N, N]),
    ("Mutation.voidOuting", &[], [Y, O, N, N]),
    ("Mutation.verifyOuting", &[], [Y, N, Y, N]),
    ("Mutation.makeCommitment", &[], [Y, O, N, N]),
    ("Mutation.renewCommitment", &[], [Y, O, N, N]),
    ("Mutation.amendCommitment", &[], [Y, O, N, N]),
    ("Mutation.withdrawCommitment", &[], [Y, O, N, N]),
    ("Mutation.assessCommitment", &[], [Y, N, Y, N]),
    ("Mutation.submitWeeklySummary", &[], [Y, O, N, N]),
    ("Mutation.commentOnWeeklySummary", &[], [Y, N, Y, N]),
    ("Mutation.openLookBackRound", &[], [Y, N, Y, N]),
    ("Mutation.closeLookBackRound", &[], [Y, N, Y, N]),
    ("Mutation.openEvaluation", &[], [Y, N, Y, N]),
    ("Mutation.closeEvaluation", &[], [Y, N, Y, N]),
    ("Mutation.castBallot", &[], [Y, N, Y, N]),
    ("Mutation.reviewAsLeader", &[], [Y, N, Y, N]),
    ("Mutation.recordOpinion", &[], [Y, O, Y, N]),
    ("Mutation.reviewOpinion", &[], [Y, O, Y, N]),
    ("Mutation.eraseCitizen", &[], [Y, N, N, N]),
    ("Mutation.verifyOutings", &[], [Y, N, Y, N]),
    ("Mutation.recordEvaluation", &[], [Y, N, Y, N]),
    ("Mutation.createToken", &[], [Y, N, N, N]),
    ("Mutation.revokeToken", &[], [Y, N, N, N]),
    ("Subscription.events", &[], [Y, N, Y, N]),
    ("GET /backup", &[], [Y, N, N, N]),
    ("POST /import/units", &[], [Y, N, N, N]),
    ("POST /import/members", &[], [Y, O, N, N]),
    ("POST /import/outings", &[], [Y, O, N, N]),
    ("POST /import/commitments", &[], [Y, O, N, N]),
    ("POST /import/verifications", &[], [Y, N, Y, N]),
    ("POST /import/ballots", &[], [Y, N, Y, N]),
    ("GET /export/ballots", &[], [Y, Y, Y, N]),
    ("GET /export/board", &[], [Y, Y, Y, N]),
    ("GET /export/recognitions", &[], [Y, Y, Y, Y]),
    ("GET /backup/keys", &[], [Y, N, N, N]),
    ("Subscription.unitLedger", &[], [Y, Y, Y, N]),
    ("Subscription.recognitionChanges", &[], [Y, Y, Y, Y]),
];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Grant {
    Y,
    /// Only for the clerk's own units (elsewhere FORBIDDEN, naming the unit).
    O,
    N,
}

use Grant::{N, O, Y};

/// The roles in the order of the matrix's columns.
const ROLES: [Role; 4] = [Role::Admin, Role::Clerk, Role::Reviewer, Role::Viewer];

fn grant(field: &str, role: Role) -> Grant {
    let (_, _, grants) =
        MATRIX.iter().find(|(f, _, _)| *f == field).unwrap_or_else(|| panic!("{field} is not in MATRIX"));
    grants[ROLES.iter().position(|r| *r == role).expect("an API role")]
}

/// What a request for `field`, on the caller's own unit, answers `role`: `None` when it
/// is answered, or the field where it is refused FORBIDDEN.
fn refused_at(field: &str, role: Role) -> Option<&'static str> {
    let (name, through, _) = MATRIX.iter().find(|(f, _, _)| *f == field).unwrap();
    let denied = through.iter().chain(std::iter::once(name)).find(|f| grant(f, role) == N);
    denied.map(|f| f.split_once('.').map_or(*f, |(_, name)| name))
}

/// The records the requests work on: `own` and `second` are the clerk's units,
/// `other` is not.
struct World {
    server: Server,
    own: String,
    second: String,
    other: String,
}

const PROMISE: &str = r#"{ category: "办结时限", text: "即办件当场办结", from: "2011-01-01", until: "2011-06-30" }"#;

const OUTING_DETAILS: &str =
    r#"{ date: "2011-06-10", start: "09:00", end: "11:00", place: "十堰市五堰街道", category: "便民服务" }"#;

impl World {
    async fn unit(&self, name: &str) -> String {
        let register = r#"mutation($name: String!) { registerUnit(input: { name: $name, industry: "医疗卫生", region: "茅箭区" }) { unit { id } } }"#;
        self.server.ok(register, json!({ "name": name })).await["registerUnit"]["unit"]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn member(&self, unit: &str) -> String {
        let register = r#"mutation($unit: ID!) { registerMember(input: { unit: $unit, joinedOn: "2011-01-01", personal: { name: "王俊", phone: "0719-8888888" } }) { member { id } } }"#;
        self.server.ok(register, json!({ "unit": unit })).await["registerMember"]["member"]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// An outing of `unit` with a member of its own; returns (outing, member).
    async fn outing(&self, unit: &str) -> (String, String) {
        let member = self.member(unit).await;
        let register = format!(
            r#"mutation($unit: ID!, $m: ID!) {{ registerOuting(input: {{ unit: $unit, details: {OUTING_DETAILS}, participants: [{{ member: $m }}] }}) {{ outing {{ id }} }} }}"#
        );
        let data = self.server.ok(&register, json!({ "unit": unit, "m": member })).await;
        (data["registerOuting"]["outing"]["id"].as_str().unwrap().to_owned(), member)
    }

    /// A verified outing of `unit` with a member of its own; returns (outing, member).
    async fn verified(&self, unit: &str) -> (String, String) {
        let (outing, member) = self.outing(unit).await;
        let verify = "mutation($o: ID!) { verifyOuting(input: { outing: $o }) { receipt { position } } }";
        self.server.ok(verify, json!({ "o": outing })).await;
        (outing, member)
    }

    /// A certificate of a member of `unit`, issued by the admin; returns its number.
    async fn certificate(&self, unit: &str) -> String {
        let member = self.verified(unit).await.1;
        let issue = r#"mutation($u: ID!, $m: ID!) { issueCertificate(input: { member: $m, unit: $u, first: "2011-06-01", last: "2011-06-30", personInCharge: "王主任", contact: "0719-8888888" }) { certificate { number } } }"#;
        self.server.ok(issue, json!({ "u": unit, "m": member })).await["issueCertificate"]["certificate"]["number"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// An outing of `unit` with check-in open, opened by the admin; returns its id.
    async fn check_in(&self, unit: &str) -> String {
        let open = format!(
            r#"mutation($u: ID!) {{ openCheckIn(input: {{ unit: $u, details: {OUTING_DETAILS} }}) {{ checkIn {{ outing }} }} }}"#
        );
        self.server.ok(&open, json!({ "u": unit })).await["openCheckIn"]["checkIn"]["outing"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// A correction request of a member of `unit`, recorded by the admin; returns its id.
    async fn correction(&self, unit: &str) -> String {
        let ask =
            r#"mutation($m: ID!) { requestCorrection(input: { member: $m, text: "时长有误" }) { request { id } } }"#;
        self.server.ok(ask, json!({ "m": self.member(unit).await })).await["requestCorrection"]["request"]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// A commitment of `unit`, made by the admin.
    async fn commitment(&self, unit: &str) -> String {
        let make = format!(
            r#"mutation($unit: ID!) {{ makeCommitment(input: {{ unit: $unit, content: {PROMISE} }}) {{ commitment {{ id }} }} }}"#
        );
        self.server.ok(&make, json!({ "unit": unit })).await["makeCommitment"]["commitment"]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// An open look-back round over `unit`, opened by the admin.
    async fn round(&self, unit: &str) -> String {
        let open = r#"mutation($u: ID!) { openLookBackRound(input: { name: "回头看", period: { first: "2011-01-01", last: "2011-06-30" }, scope: { units: [$u] } }) { round { id } } }"#;
        self.server.ok(open, json!({ "u": unit })).await["openLookBackRound"]["round"]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// An open evaluation of the units, over `unit`, opened by the admin.
    async fn evaluation(&self, unit: &str) -> String {
        let open = r#"mutation($u: ID!) { openEvaluation(input: { name: "群众评议", halfYear: "2011H1", subject: UNITS, scope: { units: [$u] } }) { evaluation { id } } }"#;
        self.server.ok(open, json!({ "u": unit })).await["openEvaluation"]["evaluation"]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// A star board of the members, published by the admin.
    async fn board(&self) -> String {
        let publish = r#"mutation { publishBoard(input: { name: "星级榜", policy: "ten-star-named-default", halfYear: "2011H1" }) { board { id } } }"#;
        self.server.ok(publish, json!({})).await["publishBoard"]["board"]["id"].as_str().unwrap().to_owned()
    }

    /// A fresh member of `unit` nominated by the admin as a post pioneer; with
    /// `objection`, one raised against it.
    async fn nomination(&self, unit: &str, objection: bool) -> String {
        let nominate = r#"mutation($m: ID!) { nominateRecognition(input: { award: "post-pioneer", halfYear: "2011H1", nominee: { member: $m } }) { recognition { id } } }"#;
        let member = self.member(unit).await;
        let id = self.server.ok(nominate, json!({ "m": member })).await["nominateRecognition"]["recognition"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        if objection {
            let object = r#"mutation($r: ID!) { raiseObjection(recognition: $r, from: REVIEWER, text: "有异议") { receipt { position } } }"#;
            self.server.ok(object, json!({ "r": id })).await;
        }
        id
    }

    /// An opinion about `unit` with a citizen's name, in a fresh round over it, recorded
    /// by the admin.
    async fn opinion(&self, unit: &str) -> String {
        let record = r#"mutation($r: ID!, $u: ID!) { recordOpinion(input: { round: $r, unit: $u, text: "办事很快", channel: TELEPHONE, citizen: { name: "李女士" } }) { opinion { id } } }"#;
        let round = self.round(unit).await;
        self.server.ok(record, json!({ "r": round, "u": unit })).await["recordOpinion"]["opinion"]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// An opinion about `unit` left on the notice board, held, in a fresh round over it;
    /// each from an address of its own, as the board takes only a few an hour from one.
    async fn held_opinion(&self, unit: &str) -> String {
        static SENT: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(1);
        let round = self.round(unit).await;
        let from = [127, 0, 2, SENT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)];
        let (status, page) = support::leave_opinion(&self.server.url, unit, from, &[("text", "窗口人少")]).await;
        assert_eq!(status, 200, "{page}");
        let held = "query($r: ID!) { opinions(round: $r) { opinions { id } } }";
        self.server.ok(held, json!({ "r": round })).await["opinions"]["opinions"][0]["id"].as_str().unwrap().to_owned()
    }

    /// The request of an HTTP `route` ("GET /backup", "POST /import/members"), an
    /// import's file of fresh records of the clerk's own unit.
    async fn http_request(&self, client: &reqwest::Client, route: &str) -> reqwest::RequestBuilder {
        let (method, path) = route.split_once(' ').unwrap();
        let url = format!("{}{path}", self.server.url);
        match method {
            "GET" if path == "/export/ledger" => client.get(format!("{url}?unit={}", self.own)),
            "GET" if path == "/export/eligibility" => client.get(format!("{url}?policy=star-volunteer")),
            "GET" if path == "/export/certificate" => {
                client.get(format!("{url}?number={}", self.certificate(&self.own).await))
            }
            "GET" if path == "/export/certificates" => client.get(format!("{url}?unit={}", self.own)),
            "GET" if path == "/export/check-in" => {
                client.get(format!("{url}?outing={}", self.check_in(&self.own).await))
            }
            "GET" if path == "/export/round" => client.get(format!("{url}?round={}", self.round(&self.own).await)),
            "GET" if path == "/export/board" => client.get(format!("{url}?board={}", self.board().await)),
            "GET" => client.get(url),
            _ => client.post(url).body(self.import_file(route, &self.own).await),
        }
    }

    /// A CSV file for the import `route`, of fresh records of `unit`.
    async fn import_file(&self, route: &str, unit: &str) -> String {
        let code = uuid::Uuid::new_v4().simple().to_string();
        match route {
            "POST /import/units" => format!("id,name,industry,region\nU{code},导入单位,医疗卫生,茅箭区\n"),
            "POST /import/members" => format!("id,unit,joined_on,name\nM{code},{unit},2011-01-01,导入党员\n"),
            "POST /import/outings" => {
                let member = self.member(unit).await;
                format!("outing,unit,date,start,end,place,category,member\nO{code},{unit},2011-06-04,08:00,10:00,社区,义诊,{member}\n")
            }
            "POST /import/verifications" => format!("outing\n{}\n", self.outing(unit).await.0),
            "POST /import/ballots" => {
                let evaluation = self.evaluation(unit).await;
                format!("id,evaluation,unit,voter,rating\nB{code},{evaluation},{unit},群众,满意\n")
            }
            "POST /import/commitments" => {
                format!(
                    "id,unit,category,text,from,until\nC{code},{unit},办结时限,即办件当场办结,2011-01-01,2011-06-30\n"
                )
            }
            other => panic!("no file for {other}"),
        }
    }

    /// A request exercising `field` on the records of `unit` (fresh ones for the
    /// mutations, made by the admin), as (document, variables).
    async fn request(&self, field: &str, unit: &str) -> (String, Value) {
        let period = r#"{ first: "2011-01-01", last: "2011-12-31" }"#;
        let simple = |q: &str| (q.to_owned(), json!({}));
        match field {
            "Query.unit" => ("query($u: ID!) { unit(id: $u) { name } }".into(), json!({ "u": unit })),
            "Query.units" => simple("{ units(first: 5) { totalCount } }"),
            "Query.members" => simple("{ members(first: 5) { totalCount } }"),
            "Query.policies" => simple("{ policies { name } }"),
            "Query.head" => simple("{ head { position } }"),
            "Query.me" => simple("{ me { role units } }"),
            "Query.report" => (format!("{{ report(period: {period}) {{ rows {{ label outings }} }} }}"), json!({})),
            "Query.member" => {
                ("query($m: ID!) { member(id: $m) { joinedOn } }".into(), json!({ "m": self.member(unit).await }))
            }
            "Query.outing" => {
                ("query($o: ID!) { outing(id: $o) { hours } }".into(), json!({ "o": self.outing(unit).await.0 }))
            }
            "Query.commitment" => (
                "query($c: ID!) { commitment(id: $c) { text } }".into(),
                json!({ "c": self.commitment(unit).await }),
            ),
            "Query.commitments" => {
                ("query($u: ID!) { commitments(unit: $u) { text } }".into(), json!({ "u": unit }))
            }
            "Query.commitmentCategories" => simple("{ commitmentCategories }"),
            "Query.weeklySummary" => (
                r#"query($u: ID!) { weeklySummary(unit: $u, week: "2011-W23") { done } }"#.into(),
                json!({ "u": unit }),
            ),
            "Query.missingWeeklySummaries" => simple(r#"{ missingWeeklySummaries(week: "2011-W23") { totalCount } }"#),
            "Query.lookBackRound" => (
                "query($r: ID!) { lookBackRound(id: $r) { name } }".into(),
                json!({ "r": self.round(unit).await }),
            ),
            "Query.lookBackRounds" => simple("{ lookBackRounds { name } }"),
            "Query.opinion" => {
                ("query($o: ID!) { opinion(id: $o) { text } }".into(), json!({ "o": self.opinion(unit).await }))
            }
            "Opinion.citizen" => (
                "query($o: ID!) { opinion(id: $o) { citizen { name } } }".into(),
                json!({ "o": self.opinion(unit).await }),
            ),
            "Query.opinions" => (
                "query($r: ID!) { opinions(round: $r) { totalCount } }".into(),
                json!({ "r": self.round(unit).await }),
            ),
            "Query.roundReport" => (
                "query($r: ID!) { roundReport(round: $r) { total { due } } }".into(),
                json!({ "r": self.round(unit).await }),
            ),
            "Query.evaluation" => (
                "query($e: ID!) { evaluation(id: $e) { name } }".into(),
                json!({ "e": self.evaluation(unit).await }),
            ),
            "Query.starBoard" => simple(r#"{ starBoard(policy: "ten-star-unit-default", halfYear: "2011H1") { totalCount } }"#),
            "Query.ballots" => (
                "query($e: ID!, $u: ID!) { ballots(evaluation: $e, rated: { unit: $u }) { totalCount } }".into(),
                json!({ "e": self.evaluation(unit).await, "u": unit }),
            ),
            "Query.evaluations" => simple(r#"{ evaluations(halfYear: "2011H1") { name } }"#),
            "Query.publishedBoards" => simple(r#"{ publishedBoards(halfYear: "2011H1") { id } }"#),
            "Query.publishedBoard" => {
                ("query($b: ID!) { publishedBoard(id: $b) { digest } }".into(), json!({ "b": self.board().await }))
            }
            "PublishedBoard.standings" => (
                "query($b: ID!) { publishedBoard(id: $b) { standings(first: 1) { starCounts { count } } } }".into(),
                json!({ "b": self.board().await }),
            ),
            "PublishedBoard.reproduction" => (
                "query($b: ID!) { publishedBoard(id: $b) { reproduction(first: 1) { reproduced } } }".into(),
                json!({ "b": self.board().await }),
            ),
            "Query.recognitions" => simple(r#"{ recognitions(halfYear: "2011H1") { totalCount } }"#),
            "Query.recognition" => (
                "query($r: ID!) { recognition(id: $r) { status } }".into(),
                json!({ "r": self.nomination(unit, false).await }),
            ),
            "Recognition.objections" => (
                "query($r: ID!) { recognition(id: $r) { objections { text } } }".into(),
                json!({ "r": self.nomination(unit, true).await }),
            ),
            "Mutation.publishBoard" => simple(
                r#"mutation { publishBoard(input: { name: "星级榜", policy: "ten-star-unit-default", halfYear: "2011H1" }) { receipt { position } } }"#,
            ),
            "Mutation.nominateRecognition" => (
                r#"mutation($m: ID!) { nominateRecognition(input: { award: "post-pioneer", halfYear: "2011H1", nominee: { member: $m } }) { receipt { position } } }"#.into(),
                json!({ "m": self.member(unit).await }),
            ),
            "Mutation.raiseObjection" => (
                r#"mutation($r: ID!) { raiseObjection(recognition: $r, from: PUBLIC, text: "有投诉") { receipt { position } } }"#.into(),
                json!({ "r": self.nomination(unit, false).await }),
            ),
            "Mutation.answerObjection" => (
                r#"mutation($r: ID!) { answerObjection(recognition: $r, objection: 1, upheld: false, answer: "不属实") { receipt { position } } }"#.into(),
                json!({ "r": self.nomination(unit, true).await }),
            ),
            "Mutation.decideRecognition" => {
                let recognition = self.nomination(unit, false).await;
                (
                    r#"mutation($r: ID!, $b: ID!) { decideRecognition(recognition: $r, board: $b, exception: "抗洪抢险") { receipt { position } } }"#.into(),
                    json!({ "r": recognition, "b": self.board().await }),
                )
            }
            "Mutation.revokeRecognition" => (
                r#"mutation($r: ID!) { revokeRecognition(recognition: $r, reason: "材料不实") { receipt { position } } }"#.into(),
                json!({ "r": self.nomination(unit, false).await }),
            ),
            "Query.evaluationResults" => (
                "query($e: ID!) { evaluationResults(evaluation: $e) { totalCount } }".into(),
                json!({ "e": self.evaluation(unit).await }),
            ),
            "Mutation.openEvaluation" => simple(
                r#"mutation { openEvaluation(input: { name: "群众评议", halfYear: "2011H1", subject: MEMBERS }) { receipt { position } } }"#,
            ),
            "Mutation.closeEvaluation" => (
                "mutation($e: ID!) { closeEvaluation(evaluation: $e) { receipt { position } } }".into(),
                json!({ "e": self.evaluation(unit).await }),
            ),
            "Mutation.castBallot" => (
                "mutation($e: ID!, $u: ID!) { castBallot(input: { evaluation: $e, rated: { unit: $u }, voter: CITIZEN, rating: SATISFIED }) { receipt { position } } }".into(),
                json!({ "e": self.evaluation(unit).await, "u": unit }),
            ),
            "Mutation.reviewAsLeader" => (
                "mutation($e: ID!, $u: ID!) { reviewAsLeader(input: { evaluation: $e, rated: { unit: $u }, score: 90 }) { receipt { position } } }".into(),
                json!({ "e": self.evaluation(unit).await, "u": unit }),
            ),
            "Mutation.recordOpinion" => (
                r#"mutation($r: ID!, $u: ID!) { recordOpinion(input: { round: $r, unit: $u, text: "好", channel: WEB }) { receipt { position } } }"#.into(),
                json!({ "r": self.round(unit).await, "u": unit }),
            ),
            "Mutation.reviewOpinion" => (
                "mutation($o: ID!) { reviewOpinion(opinion: $o, accept: true) { receipt { position } } }".into(),
                json!({ "o": self.held_opinion(unit).await }),
            ),
            "Mutation.eraseCitizen" => (
                "mutation($o: ID!) { eraseCitizen(opinion: $o) { receipt { position } } }".into(),
                json!({ "o": self.opinion(unit).await }),
            ),
            "Mutation.openLookBackRound" => simple(
                r#"mutation { openLookBackRound(input: { name: "回头看", period: { first: "2011-01-01", last: "2011-06-30" } }) { receipt { position } } }"#,
            ),
            "Mutation.closeLookBackRound" => (
                "mutation($r: ID!) { closeLookBackRound(round: $r) { receipt { position } } }".into(),
                json!({ "r": self.round(unit).await }),
            ),
            "Mutation.submitWeeklySummary" => (
                r#"mutation($u: ID!) { submitWeeklySummary(input: { unit: $u, week: "2011-W23", done: "义诊两次" }) { receipt { position } } }"#.into(),
                json!({ "u": unit }),
            ),
            "Mutation.commentOnWeeklySummary" => {
                let submit = r#"mutation($u: ID!) { submitWeeklySummary(input: { unit: $u, week: "2011-W24", done: "走访社区" }) { receipt { position } } }"#;
                self.server.ok(submit, json!({ "u": unit })).await;
                (
                    r#"mutation($u: ID!) { commentOnWeeklySummary(input: { unit: $u, week: "2011-W24", comment: "很好" }) { receipt { position } } }"#.into(),
                    json!({ "u": unit }),
                )
            }
            "Mutation.makeCommitment" => (
                format!(
                    "mutation($u: ID!) {{ makeCommitment(input: {{ unit: $u, content: {PROMISE} }}) {{ receipt {{ position }} }} }}"
                ),
                json!({ "u": unit }),
            ),
            "Mutation.renewCommitment" => (
                format!(
                    "mutation($u: ID!, $c: ID!) {{ renewCommitment(input: {{ unit: $u, renews: [$c], content: {PROMISE} }}) {{ receipt {{ position }} }} }}"
                ),
                json!({ "u": unit, "c": self.commitment(unit).await }),
            ),
            "Mutation.amendCommitment" => (
                format!(
                    r#"mutation($c: ID!) {{ amendCommitment(input: {{ commitment: $c, content: {PROMISE}, reason: "表述不清" }}) {{ receipt {{ position }} }} }}"#
                ),
                json!({ "c": self.commitment(unit).await }),
            ),
            "Mutation.withdrawCommitment" => (
                r#"mutation($c: ID!) { withdrawCommitment(input: { commitment: $c, reason: "职能调整" }) { receipt { position } } }"#.into(),
                json!({ "c": self.commitment(unit).await }),
            ),
            "Mutation.assessCommitment" => (
                r#"mutation($c: ID!) { assessCommitment(input: { commitment: $c, fulfilment: KEPT, evidence: "群众满意" }) { receipt { position } } }"#.into(),
                json!({ "c": self.commitment(unit).await }),
            ),
            "Query.unitLedger" => {
                ("query($u: ID!) { unitLedger(unit: $u, first: 5) { totalCount } }".into(), json!({ "u": unit }))
            }
            "Query.memberLedger" => (
                "query($m: ID!) { memberLedger(member: $m) { totalCount } }".into(),
                json!({ "m": self.outing(unit).await.1 }),
            ),
            "Query.eligibility" => (
                format!(
                    r#"query($m: ID!) {{ eligibility(policy: "star-volunteer", member: $m, period: {period}) {{ __typename }} }}"#
                ),
                json!({ "m": self.outing(unit).await.1 }),
            ),
            "Query.awardList" => (
                format!(r#"{{ awardList(policy: "star-volunteer", period: {period}) {{ totalCount }} }}"#),
                json!({}),
            ),
            "Query.events" => simple("{ events(first: 3) { edges { node { position actor { role } } } } }"),
            "Query.verifyChain" => simple("{ verifyChain { ok } }"),
            "Query.tokens" => simple("{ tokens { id role } }"),
            "Unit.members" => {
                ("query($u: ID!) { unit(id: $u) { members(first: 5) { totalCount } } }".into(), json!({ "u": unit }))
            }
            "Query.certificate" => (
                "query($n: String!) { certificate(number: $n) { status } }".into(),
                json!({ "n": self.certificate(unit).await }),
            ),
            "Query.certificates" => {
                ("query($u: ID!) { certificates(unit: $u) { number } }".into(), json!({ "u": unit }))
            }
            "Certificate.document" => (
                "query($n: String!) { certificate(number: $n) { document } }".into(),
                json!({ "n": self.certificate(unit).await }),
            ),
            "Certificate.checkCode" => (
                "query($n: String!) { certificate(number: $n) { checkCode } }".into(),
                json!({ "n": self.certificate(unit).await }),
            ),
            "Mutation.issueCertificate" => (
                r#"mutation($u: ID!, $m: ID!) { issueCertificate(input: { member: $m, unit: $u, first: "2011-06-01", last: "2011-06-30", personInCharge: "王主任", contact: "0719-8888888" }) { receipt { position } } }"#.into(),
                json!({ "u": unit, "m": self.verified(unit).await.1 }),
            ),
            "Query.checkIn" => (
                "query($o: ID!) { checkIn(outing: $o) { presences { member } } }".into(),
                json!({ "o": self.check_in(unit).await }),
            ),
            "Mutation.openCheckIn" => (
                format!(r#"mutation($u: ID!) {{ openCheckIn(input: {{ unit: $u, details: {OUTING_DETAILS} }}) {{ receipt {{ position }} }} }}"#),
                json!({ "u": unit }),
            ),
            "Mutation.setPublicCard" => (
                "mutation($m: ID!) { setPublicCard(member: $m, shown: true, post: \"窗口受理员\") { receipt { position } } }"
                    .into(),
                json!({ "m": self.member(unit).await }),
            ),
            "Query.publicMembers" => {
                ("query($u: ID!) { publicMembers(unit: $u) { name } }".into(), json!({ "u": unit }))
            }
            "Mutation.setCheckInPins" => (
                "mutation($m: ID!) { setCheckInPins(members: [$m]) { set } }".into(),
                json!({ "m": self.member(unit).await }),
            ),
            "Mutation.setCheckInPin" => (
                "mutation($m: ID!) { setCheckInPin(member: $m) { receipt { position } } }".into(),
                json!({ "m": self.member(unit).await }),
            ),
            "Query.checkIns" => (
                "query($u: ID!) { checkIns(unit: $u, missedOnly: true) { outing missedCheckOuts } }".into(),
                json!({ "u": unit }),
            ),
            "Query.correctionRequests" => (
                "query($u: ID!) { correctionRequests(unit: $u) { id state } }".into(),
                json!({ "u": unit }),
            ),
            "Mutation.requestCorrection" => (
                r#"mutation($m: ID!) { requestCorrection(input: { member: $m, text: "时长有误" }) { receipt { position } } }"#.into(),
                json!({ "m": self.member(unit).await }),
            ),
            "Mutation.answerCorrectionRequest" => (
                r#"mutation($r: ID!) { answerCorrectionRequest(input: { request: $r, accepted: false, reason: "经核实无误" }) { receipt { position } } }"#.into(),
                json!({ "r": self.correction(unit).await }),
            ),
            "Mutation.revokeCertificate" => (
                r#"mutation($n: String!) { revokeCertificate(number: $n, reason: "记录有误") { receipt { position } } }"#.into(),
                json!({ "n": self.certificate(unit).await }),
            ),
            "Member.personal" => (
                "query($m: ID!) { member(id: $m) { personal { name phone } } }".into(),
                json!({ "m": self.member(unit).await }),
            ),
            "Mutation.registerUnit" => simple(
                r#"mutation { registerUnit(input: { name: "郧阳区税务局", industry: "税务", region: "郧阳区" }) { receipt { position } } }"#,
            ),
            "Mutation.renameUnit" => (
                r#"mutation($u: ID!) { renameUnit(input: { unit: $u, name: "十堰市太和医院" }) { receipt { position } } }"#.into(),
                json!({ "u": self.unit("改名前").await }),
            ),
            "Mutation.reclassifyUnit" => (
                r#"mutation($u: ID!) { reclassifyUnit(input: { unit: $u, industry: "交通运输", reason: "登记有误" }) { receipt { position } } }"#.into(),
                json!({ "u": self.unit("改行业前").await }),
            ),
            "Mutation.correctPersonalData" => (
                r#"mutation($m: ID!) { correctPersonalData(input: { member: $m, personal: { name: "李娜娜" }, reason: "姓名有误" }) { receipt { position } } }"#.into(),
                json!({ "m": self.member(unit).await }),
            ),
            "Mutation.moveUnit" => (
                r#"mutation($u: ID!) { moveUnit(input: { unit: $u, region: "张湾区" }) { receipt { position } } }"#.into(),
                json!({ "u": self.unit("搬迁前").await }),
            ),
            "Mutation.registerMember" => (
                r#"mutation($u: ID!) { registerMember(input: { unit: $u, joinedOn: "2011-02-01", personal: { name: "李娜" } }) { receipt { position } } }"#.into(),
                json!({ "u": unit }),
            ),
            // Between two units of the clerk's scope (for the admin and the others too).
            "Mutation.transferMember" => (
                r#"mutation($m: ID!, $to: ID!) { transferMember(input: { member: $m, to: $to, effective: "2011-06-20" }) { receipt { position } } }"#.into(),
                json!({ "m": self.member(unit).await, "to": if unit == self.other { &self.own } else { &self.second } }),
            ),
            "Mutation.eraseMember" => (
                "mutation($m: ID!) { eraseMember(input: { member: $m }) { receipt { position } } }".into(),
                json!({ "m": self.member(unit).await }),
            ),
            "Mutation.registerOuting" => (
                format!(
                    "mutation($u: ID!, $m: ID!) {{ registerOuting(input: {{ unit: $u, details: {OUTING_DETAILS}, participants: [{{ member: $m }}] }}) {{ receipt {{ position }} }} }}"
                ),
                json!({ "u": unit, "m": self.member(unit).await }),
            ),
            "Mutation.amendParticipation" => {
                let (outing, member) = self.outing(unit).await;
                (
                    r#"mutation($o: ID!, $m: ID!) { amendParticipation(input: { outing: $o, participant: { member: $m, hours: "1.5" }, reason: "提前离开" }) { receipt { position } } }"#.into(),
                    json!({ "o": outing, "m": member }),
                )
            }
            "Mutation.amendOuting" => {
                let (outing, member) = self.outing(unit).await;
                (
                    format!(
                        r#"mutation($o: ID!, $m: ID!) {{ amendOuting(input: {{ outing: $o, details: {OUTING_DETAILS}, participants: [{{ member: $m, hours: "1.5" }}], reason: "提前离开" }}) {{ receipt {{ position }} }} }}"#
                    ),
                    json!({ "o": outing, "m": member }),
                )
            }
            "Mutation.voidOuting" => (
                r#"mutation($o: ID!) { voidOuting(input: { outing: $o, reason: "活动取消" }) { receipt { position } } }"#.into(),
                json!({ "o": self.outing(unit).await.0 }),
            ),
            "Mutation.verifyOutings" => (
                "mutation($o: ID!) { verifyOutings(input: { outings: [{ outing: $o }] }) { verified } }".into(),
                json!({ "o": self.outing(unit).await.0 }),
            ),
            "Mutation.verifyOuting" => (
                "mutation($o: ID!) { verifyOuting(input: { outing: $o }) { receipt { position } } }".into(),
                json!({ "o": self.outing(unit).await.0 }),
            ),
            "Mutation.recordEvaluation" => (
                r#"mutation($m: ID!) { recordEvaluation(input: { member: $m, halfYear: "2011H1", publicScore: 90, leaderScore: 85 }) { receipt { position } } }"#.into(),
                json!({ "m": self.member(unit).await }),
            ),
            "Mutation.createToken" => simple("mutation { createToken(input: { role: VIEWER }) { token { id } } }"),
            "Mutation.revokeToken" => {
                let token = self.server.ok("mutation { createToken(input: { role: VIEWER }) { token { id } } }", json!({})).await;
                ("mutation($id: UUID!) { revokeToken(id: $id) { active } }".into(), json!({ "id": token["createToken"]["token"]["id"] }))
            }
            other => panic!("no request for {other}"),
        }
    }
}

/// The error codes of a response.
fn codes(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| e["extensions"]["code"].as_str().unwrap_or("").to_owned())
        .collect()
}

async fn world() -> (World, Vec<(Role, reqwest::Client)>, Vec<(&'static str, reqwest::Client)>) {
    // An expired token: made offline, as an operator would, before the server starts.
    let dir = tempfile::tempdir().unwrap();
    let expired = taizhang(dir.path(), &[], &["token", "create", "--role", "reviewer", "--expires", "1s"]);
    // Its expiry is a second after the command's clock read, which comes before the
    // command returns (however slowly the command line starts on a busy machine).
    let made = Instant::now();
    let policies = support::quick_award_policies(dir.path());
    let server = Server::start_with(dir, &["--policy-dir", &policies]);
    let mut w = World { server, own: String::new(), second: String::new(), other: String::new() };
    w.own = w.unit("十堰市人民医院").await;
    w.second = w.unit("十堰市太和医院").await;
    w.other = w.unit("十堰市税务局").await;
    let s = &w.server;
    let roles = vec![
        (Role::Admin, s.http.clone()),
        (Role::Clerk, client_with(&s.token("CLERK", &[&w.own, &w.second], Some(30)).await)),
        (Role::Reviewer, client_with(&s.token("REVIEWER", &[], None).await)),
        (Role::Viewer, client_with(&s.token("VIEWER", &[], None).await)),
    ];
    let revoked = s.token("ADMIN", &[], None).await;
    let me = s.post_with(&client_with(&revoked), "{ me { token } }", json!({})).await.1;
    s.ok("mutation($id: UUID!) { revokeToken(id: $id) { active } }", json!({ "id": me["data"]["me"]["token"] })).await;
    // Past its expiry.
    tokio::time::sleep(Duration::from_millis(1500).saturating_sub(made.elapsed())).await;
    let refused = vec![
        ("no token", reqwest::Client::new()),
        ("an expired token", client_with(expired.trim())),
        ("a revoked token", client_with(&revoked)),
    ];
    (w, roles, refused)
}

#[tokio::test]
async fn every_field_answers_each_role_as_the_role_table_says() {
    let (w, roles, refused) = world().await;

    // The matrix covers the role table's fields, and the table every root field of the
    // schema: a new field cannot go untested.
    let tabled: BTreeSet<&str> = RULES.iter().flat_map(|r| r.fields.iter().copied()).collect();
    let cased: BTreeSet<&str> = MATRIX.iter().map(|(f, _, _)| *f).collect();
    assert_eq!(cased, tabled, "the matrix lists exactly the fields of the role table");
    let roots = "{ __schema { queryType { fields { name } } mutationType { fields { name } } subscriptionType { fields { name } } } }";
    let schema = w.server.ok(roots, json!({})).await;
    for (kind, key) in [("Query", "queryType"), ("Mutation", "mutationType"), ("Subscription", "subscriptionType")] {
        for field in schema["__schema"][key]["fields"].as_array().unwrap() {
            let name = format!("{kind}.{}", field["name"].as_str().unwrap());
            assert!(tabled.contains(name.as_str()), "{name} is in no rule of the role table");
        }
    }

    // The HTTP routes (backup, exports, imports of a file for the clerk's own unit): 200
    // for a role granted them (wholly or for own units), 403 with FORBIDDEN for the
    // others, 401 without a valid token.
    let http = |f: &&(&str, &[&str], [Grant; 4])| f.0.starts_with("GET ") || f.0.starts_with("POST ");
    for (route, _, _) in MATRIX.iter().filter(http) {
        for (role, client) in &roles {
            let answer = w.http_request(client, route).await.send().await.unwrap();
            let status = answer.status().as_u16();
            let body = answer.text().await.unwrap();
            match refused_at(route, *role) {
                None => assert_eq!(status, 200, "{route} as {role}: {body}"),
                Some(_) => assert!(status == 403 && body.contains("FORBIDDEN"), "{route} as {role}: {status} {body}"),
            }
        }
        for (who, client) in &refused {
            let status = w.http_request(client, route).await.send().await.unwrap().status().as_u16();
            assert_eq!(status, 401, "{route} with {who}");
        }
    }

    let graphql = |f: &&(&str, &[&str], [Grant; 4])| {
        !f.0.starts_with("Subscription.") && !f.0.starts_with("GET ") && !f.0.starts_with("POST ")
    };
    for (field, _, _) in MATRIX.iter().filter(graphql) {
        for (role, client) in &roles {
            let (query, variables) = w.request(field, &w.own).await;
            let before = w.server.head().await;
            let (status, body) = w.server.post_with(client, &query, variables).await;
            let what = format!("{field} as {role}: {body}");
            assert_eq!(status, 200, "{what}");
            match refused_at(field, *role) {
                None => assert!(codes(&body).is_empty(), "{what}"),
                Some(at) => {
                    assert_eq!(codes(&body), ["FORBIDDEN"], "{what}");
                    let path = body["errors"][0]["path"].as_array().unwrap();
                    assert_eq!(path.last().unwrap(), at, "{what}");
                    assert_eq!(w.server.head().await, before, "{what}: a refused request changed the log");
                }
            }
        }
        for (who, client) in &refused {
            let (query, variables) = w.request(field, &w.own).await;
            let before = w.server.head().await;
            let (status, body) = w.server.post_with(client, &query, variables).await;
            assert_eq!((status, codes(&body)), (401, vec!["UNAUTHENTICATED".to_owned()]), "{field} with {who}: {body}");
            assert!(body.get("data").is_none(), "{body}");
            assert_eq!(w.server.head().await, before, "{field} with {who} changed the log");
        }
    }
}

/// The role table the command line prints (and the README holds) says what the matrix
/// says, cell by cell: this reaches the grants no request can (a viewer reaches no
/// member, so the grant of `Member.personal` to viewers shows only here).
#[test]
fn the_printed_role_table_grants_what_the_matrix_says() {
    let dir = tempfile::tempdir().unwrap();
    let table = taizhang(dir.path(), &[], &["schema", "--roles"]);
    let mut seen = BTreeSet::new();
    for row in table.lines().skip(2) {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let (grants, fields) = (&cells[2..6], cells[6]);
        for field in fields.split(", ").map(|f| f.trim_matches('`')) {
            let expected: Vec<&str> = ROLES
                .iter()
                .map(|role| match grant(field, *role) {
                    Y => "yes",
                    O => "own units",
                    N => "—",
                })
                .collect();
            assert_eq!(grants, expected, "{field}: admin, clerk, reviewer, viewer in the printed table:\n{row}");
            seen.insert(field.to_owned());
        }
    }
    let listed: BTreeSet<String> = MATRIX.iter().map(|(f, _, _)| (*f).to_owned()).collect();
    assert_eq!(seen, listed, "the printed table lists the matrix's fields:\n{table}");
}

#[tokio::test]
async fn a_clerk_writes_and_reads_personal_data_only_for_their_units() {
    let (w, roles, _) = world().await;
    let clerk = &roles.iter().find(|(r, _)| *r == Role::Clerk).unwrap().1;
    let writes = MATRIX.iter().filter(|(f, _, _)| f.starts_with("Mutation.") && grant(f, Role::Clerk) == O);
    for (field, _, _) in writes {
        let (query, variables) = w.request(field, &w.other).await;
        let before = w.server.head().await;
        let (_, body) = w.server.post_with(clerk, &query, variables).await;
        assert_eq!(codes(&body), ["FORBIDDEN"], "{field} for another unit: {body}");
        assert_eq!(body["errors"][0]["extensions"]["unit"], w.other.as_str(), "{body}");
        assert_eq!(w.server.head().await, before, "{field} for another unit changed the log");
    }
    // Members of the other unit: records yes, personal data no.
    let (query, variables) = w.request("Member.personal", &w.other).await;
    let (_, body) = w.server.post_with(clerk, &query, variables.clone()).await;
    assert_eq!(codes(&body), ["FORBIDDEN"], "{body}");
    assert_eq!(body["errors"][0]["path"], json!(["member", "personal"]));
    assert!(!body.to_string().contains("王俊"), "{body}");
    let (_, body) = w.server.post(&query, variables).await;
    assert_eq!(body["data"]["member"]["personal"]["name"], "王俊", "the admin reads it: {body}");

    // The clerk's own write records who made it.
    let me = w.server.post_with(clerk, "{ me { token role units } }", json!({})).await.1;
    assert_eq!(me["data"]["me"]["role"], "CLERK");
    assert_eq!(me["data"]["me"]["units"].as_array().unwrap().len(), 2);
    let register = r#"mutation($u: ID!) { registerMember(input: { unit: $u, joinedOn: "2011-02-01", personal: { name: "李娜" } }) { member { id } } }"#;
    let (_, body) = w.server.post_with(clerk, register, json!({ "u": w.own })).await;
    let stream = format!("member-{}", body["data"]["registerMember"]["member"]["id"].as_str().unwrap());
    let events = "query($s: String!) { events(stream: $s) { edges { node { actor { role token } } } } }";
    let log = w.server.ok(events, json!({ "s": stream })).await;
    let actor = &log["events"]["edges"][0]["node"]["actor"];
    assert_eq!(actor["role"], "CLERK");
    assert_eq!(actor["token"], me["data"]["me"]["token"]);
}

#[tokio::test]
async fn subscriptions_authenticate_in_their_init_message() {
    let (w, _, _) = world().await;
    let s = &w.server;
    let mut refused = WsClient::open(s, None).await;
    let closed = refused.receive().await;
    assert_eq!(closed["close"], 1002, "{closed}");
    assert!(closed["reason"].as_str().unwrap().starts_with("UNAUTHENTICATED"), "{closed}");

    w.outing(&w.own).await; // a line for the ledger subscription to deliver
    w.nomination(&w.own, false).await; // and a nomination for the recognitions'
    let secrets = [
        (Role::Admin, s.admin.clone()),
        (Role::Clerk, s.token("CLERK", &[&w.own], None).await),
        (Role::Reviewer, s.token("REVIEWER", &[], None).await),
        (Role::Viewer, s.token("VIEWER", &[], None).await),
    ];
    for (role, secret) in secrets {
        let subscriptions = [
            ("Subscription.events", "subscription { events(fromPosition: 1) { position } }"),
            ("Subscription.unitLedger", "subscription($u: ID!) { unitLedger(unit: $u, fromPosition: 1) { position } }"),
            ("Subscription.recognitionChanges", "subscription { recognitionChanges(fromPosition: 1) { position } }"),
        ];
        for (field, query) in subscriptions {
            let mut client = WsClient::connect(s, &secret).await;
            client.subscribe("1", query, json!({ "u": w.own })).await;
            let first = client.receive().await;
            let errors = if first["payload"].is_array() { &first["payload"] } else { &first["payload"]["errors"] };
            let code = errors[0]["extensions"]["code"].clone();
            match refused_at(field, role) {
                None => assert_eq!(
                    (first["type"].as_str(), code),
                    (Some("next"), Value::Null),
                    "{field} as {role}: {first}"
                ),
                Some(at) => {
                    assert_eq!(code, "FORBIDDEN", "{field} as {role}: {first}");
                    assert_eq!(errors[0]["path"].as_array().unwrap().last().unwrap(), at, "{field} as {role}: {first}");
                }
            }
        }
    }
    let tested = MATRIX.iter().filter(|(f, _, _)| f.starts_with("Subscription.")).count();
    assert_eq!(tested, 3, "every subscription of the matrix is tried above");
}

/// A clerk's reach to personal data is decided on the member's unit at the position
/// asked and now: an `asOf` before a transfer out of the clerk's unit opens nothing,
/// nor does an age (from the sealed birth date) through an eligibility policy.
#[tokio::test]
async fn a_clerk_reads_no_personal_data_of_members_gone_to_other_units() {
    let policies = concat!(env!("CARGO_MANIFEST_DIR"), "/crates/taizhang-read/tests/policies");
    let server = Server::start_with(tempfile::tempdir().unwrap(), &["--policy-dir", policies]);
    let unit = |name: &str| {
        let register = r#"mutation($n: String!) { registerUnit(input: { name: $n, industry: "医疗卫生", region: "茅箭区" }) { unit { id } } }"#;
        let server = &server;
        let name = name.to_owned();
        async move {
            server.ok(register, json!({ "n": name })).await["registerUnit"]["unit"]["id"].as_str().unwrap().to_owned()
        }
    };
    let (own, other) = (unit("十堰市人民医院").await, unit("十堰市税务局").await);
    let register = r#"mutation($u: ID!) { registerMember(input: { unit: $u, joinedOn: "2011-01-01", personal: { name: "王俊", birthDate: "2004-05-04" } }) { member { id } receipt { position } } }"#;
    let registered = server.ok(register, json!({ "u": own })).await;
    let member = registered["registerMember"]["member"]["id"].as_str().unwrap().to_owned();
    let before_transfer = registered["registerMember"]["receipt"]["position"].clone();
    let clerk = client_with(&server.token("CLERK", &[&own], None).await);
    let personal = r#"query($m: ID!, $p: Int) { member(id: $m, asOf: { position: $p }) { personal { name } } }"#;
    let eligible = r#"query($m: ID!, $p: Int) { eligibility(policy: "pvsa", member: $m, period: { first: "2011-01-01", last: "2011-12-31" }, asOf: { position: $p }) { outcome } }"#;
    // The award list of the unit asks every member's age: the same reach, member by member.
    let listed = r#"query($p: Int) { awardList(policy: "pvsa", period: { first: "2011-01-01", last: "2011-12-31" }, asOf: { position: $p }) { totalCount edges { node { eligibility { outcome } } } } }"#;
    for query in [personal, eligible, listed] {
        let (_, body) = server.post_with(&clerk, query, json!({ "m": member, "p": before_transfer })).await;
        assert!(codes(&body).is_empty(), "the member of the clerk's unit: {body}");
    }

    let transfer = r#"mutation($m: ID!, $to: ID!) { transferMember(input: { member: $m, to: $to, effective: "2011-06-20" }) { receipt { position } } }"#;
    server.ok(transfer, json!({ "m": member, "to": other })).await;
    for query in [personal, eligible, listed] {
        for position in [before_transfer.clone(), Value::Null] {
            let (_, body) = server.post_with(&clerk, query, json!({ "m": member, "p": position })).await;
            assert_eq!(codes(&body), ["FORBIDDEN"], "as of {position}: {body}");
            assert!(!body.to_string().contains("王俊"), "{body}");
        }
    }
    // The award list file of a policy that reads ages: the clerk's own unit only.
    let award = |query: String| {
        let clerk = &clerk;
        let url = format!("{}/export/eligibility?policy=pvsa&from=2011-01-01&to=2011-12-31{query}", server.url);
        async move { clerk.get(url).send().await.unwrap().status().as_u16() }
    };
    assert_eq!(award(String::new()).await, 403, "the whole city's ages");
    assert_eq!(award(format!("&unit={own}")).await, 200, "their own unit's");
    assert_eq!(award(format!("&unit={other}")).await, 403, "another unit's");

    // Policies without an age say nothing personal: the clerk may still ask those.
    let star = r#"query($m: ID!) { eligibility(policy: "star-volunteer", member: $m, period: { first: "2011-01-01", last: "2011-12-31" }) { outcome } }"#;
    let (_, body) = server.post_with(&clerk, star, json!({ "m": member })).await;
    assert!(codes(&body).is_empty(), "{body}");
}

/// The error code of a socket's answer to an operation (an `error` or a `next` message).
fn socket_code(answer: &Value) -> Value {
    let errors = if answer["payload"].is_array() { &answer["payload"] } else { &answer["payload"]["errors"] };
    errors[0]["extensions"]["code"].clone()
}

/// A socket authenticates once, but its token is looked up again before every operation
/// and while it is open: a revoked clerk's socket writes nothing more and is closed.
#[tokio::test]
async fn a_socket_stops_serving_a_revoked_token() {
    let server = Server::start();
    let register = r#"mutation { registerUnit(input: { name: "十堰市人民医院", industry: "医疗卫生", region: "茅箭区" }) { unit { id } } }"#;
    let unit = server.ok(register, json!({})).await["registerUnit"]["unit"]["id"].as_str().unwrap().to_owned();
    let clerk = server.token("CLERK", &[&unit], None).await;
    let mut socket = WsClient::connect(&server, &clerk).await;
    socket.subscribe("me", "{ me { token role } }", json!({})).await;
    let me = socket.answer("me").await;
    assert_eq!(me["payload"]["data"]["me"]["role"], "CLERK", "{me}");
    let token_id = me["payload"]["data"]["me"]["token"].clone();
    socket.subscribe("events", "subscription { events { position } }", json!({})).await;

    server.ok("mutation($id: UUID!) { revokeToken(id: $id) { active } }", json!({ "id": token_id })).await;
    let before = server.head().await;
    let member = r#"mutation($u: ID!) { registerMember(input: { unit: $u, joinedOn: "2011-01-01", personal: { name: "王俊" } }) { receipt { position } } }"#;
    socket.subscribe("write", member, json!({ "u": unit })).await;
    let refused = socket.answer("write").await;
    assert_eq!(socket_code(&refused), "UNAUTHENTICATED", "{refused}");
    assert_eq!(server.head().await, before, "a revoked token's socket wrote");
    // Closed at the next look at the token (every 5 s), its subscription with it.
    let closed = socket.answer("none").await;
    assert_eq!(closed["close"], 4403, "{closed}");
    assert!(closed["reason"].as_str().unwrap().contains("revoked"), "{closed}");
}

/// A socket whose token expires is closed at the expiry, and an expired admin token
/// mints nothing over a socket.
#[tokio::test]
async fn a_socket_closes_when_its_token_expires() {
    let dir = tempfile::tempdir().unwrap();
    let made = Instant::now();
    let expiring = taizhang(dir.path(), &[], &["token", "create", "--role", "admin", "--expires", "8s"]);
    let server = Server::start_in(dir);
    let mut socket = WsClient::connect(&server, expiring.trim()).await;
    assert!(
        made.elapsed() < Duration::from_secs(8),
        "the server took {:?} to start; the token expired",
        made.elapsed()
    );
    socket.subscribe("events", "subscription { events { position } }", json!({})).await;
    let closed = socket.receive_within(Duration::from_secs(20)).await;
    assert_eq!(closed["close"], 4403, "{closed}");
    assert!(closed["reason"].as_str().unwrap().contains("expired"), "{closed}");
    assert!(made.elapsed() >= Duration::from_secs(8), "closed at {:?}, before the expiry", made.elapsed());
    let mut again = WsClient::open(&server, Some(expiring.trim())).await;
    assert_eq!(again.receive().await["close"], 1002);
    assert_eq!(server.ok("{ tokens { id } }", json!({})).await["tokens"].as_array().unwrap().len(), 2);
}

/// A socket that never sends `connection_init` is closed (4408), and a message longer
/// than a request body is not read.
#[tokio::test]
async fn sockets_are_bounded_in_time_before_init_and_in_message_size() {
    let server = Server::start();
    let mut silent = WsClient::open_silent(&server).await;
    let closed = silent.receive_within(Duration::from_secs(20)).await;
    assert_eq!(closed["close"], 4408, "{closed}");

    let mut socket = WsClient::connect(&server, &server.admin).await;
    let register = r#"mutation { registerUnit(input: { name: "十堰市人民医院", industry: "医疗卫生", region: "茅箭区" }) { receipt { position } } }"#;
    socket.subscribe("big", &format!("{register} #{}", "x".repeat(300 * 1024)), json!({})).await;
    let ended = socket.receive().await;
    assert!(ended.get("close").is_some(), "{ended}");
    assert_eq!(server.head().await, 0, "the oversized message ran");
}

#[tokio::test]
async fn guessing_is_held_back_while_good_tokens_go_through() {
    const HELD: &str = "taizhang_auth_refusals_held";
    let server = Server::start();
    let forged = format!("tz_{}_{}", uuid::Uuid::now_v7().simple(), "0".repeat(64));
    let guesser = client_with(&forged);
    // The first guesses are answered at once, then each is held longer than the last
    // (100 ms for the sixth, doubling to 800 ms for the ninth): none is held after its
    // answer.
    for _ in 0..9 {
        let (status, body) = server.post_with(&guesser, "{ head { position } }", json!({})).await;
        assert_eq!((status, codes(&body)), (401, vec!["UNAUTHENTICATED".to_owned()]));
        assert!(body["errors"][0]["message"].as_str().unwrap().contains("not known"), "{body}");
        assert_eq!(server.metric(HELD).await, 0);
    }
    let url = server.url.clone();
    let held = tokio::spawn(async move {
        let sent = Instant::now();
        let request = guesser.post(format!("{url}/graphql")).json(&json!({ "query": "{ head { position } }" }));
        let status = request.send().await.unwrap().status();
        (status, sent.elapsed())
    });
    // The tenth guess is held for 1.6 s: once the server says it holds it, the admin's
    // request is answered, and the guess is still held after that answer.
    while server.metric(HELD).await == 0 {
        tokio::task::yield_now().await;
    }
    server.head().await;
    assert_eq!(server.metric(HELD).await, 1, "a good request waited for the held guess");
    let (status, took) = held.await.unwrap();
    assert_eq!(status, 401);
    assert!(took >= Duration::from_millis(1600), "the tenth guess was answered after {took:?}, not held 1.6 s");
    assert_eq!(server.metric(HELD).await, 0);
}

#[tokio::test]
async fn tokens_never_reach_logs_errors_or_the_event_log() {
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("server.log");
    let data = tempfile::tempdir().unwrap();
    let server = Server::start_logging(data, std::fs::File::create(&log_path).unwrap());
    let mut secrets = vec![server.admin.clone()];
    let unit = server
        .ok(r#"mutation { registerUnit(input: { name: "十堰市人民医院", industry: "医疗卫生", region: "茅箭区" }) { unit { id } } }"#, json!({}))
        .await["registerUnit"]["unit"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let clerk = server.token("CLERK", &[&unit], None).await;
    secrets.push(clerk.clone());
    let register = r#"mutation($u: ID!) { registerMember(input: { unit: $u, joinedOn: "2011-01-01", personal: { name: "王俊" } }) { receipt { position } } }"#;
    let (_, answer) = server.post_with(&client_with(&clerk), register, json!({ "u": unit })).await;
    let mut answers = vec![answer];
    // A wrong secret for a real id, a malformed token, a revoked one, a socket.
    let wrong = format!("{}{}", &clerk[..clerk.len() - 4], "abcd");
    answers.push(server.post_with(&client_with(&wrong), "{ me { role } }", json!({})).await.1);
    answers.push(server.post_with(&client_with("tz_not-a-token"), "{ me { role } }", json!({})).await.1);
    let revoked = server.token("VIEWER", &[], None).await;
    secrets.push(revoked.clone());
    let id =
        server.post_with(&client_with(&revoked), "{ me { token } }", json!({})).await.1["data"]["me"]["token"].clone();
    answers.push(server.ok("mutation($id: UUID!) { revokeToken(id: $id) { id } }", json!({ "id": id })).await);
    answers.push(server.post_with(&client_with(&revoked), "{ me { role } }", json!({})).await.1);
    let mut socket = WsClient::open(&server, Some(&wrong)).await;
    answers.push(socket.receive().await);
    WsClient::connect(&server, &clerk).await;
    answers.push(
        server
            .ok(
                "{ events(first: 100) { edges { node { actor { role token } payload } } } tokens { id name } }",
                json!({}),
            )
            .await,
    );
    let (status, data) = server.terminate();
    assert!(status.success());

    let exported = taizhang(data.path(), &[], &["export"]);
    let listed = taizhang(data.path(), &[], &["token", "list"]);
    let logged = std::fs::read_to_string(&log_path).unwrap();
    assert!(logged.contains("graphql request"), "the server logged at debug level: {logged}");
    for secret in secrets.iter().chain([&wrong]) {
        let part = secret.rsplit('_').next().unwrap();
        for (place, text) in [("the server log", &logged), ("the event log", &exported), ("token list", &listed)] {
            assert!(!text.contains(part), "a token's secret appears in {place}");
        }
        for answer in &answers {
            assert!(!answer.to_string().contains(part), "a token's secret appears in an answer: {answer}");
        }
    }
}
