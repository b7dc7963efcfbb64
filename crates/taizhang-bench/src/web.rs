//! The `web` scenario: the public notice board over the sample campaign (scale 1: 5,800
//! units). A unit's page (`GET /units/SY-0001`) in requests per second against the same
//! data asked as one GraphQL query (the unit, its commitments, its eight latest weekly
//! summaries, its service totals, the members it shows and the public's opinions),
//! through the same server and client, in alternating rounds; a repeated request
//! answered from its validator (`304`) against the page itself, and the floor under it
//! (`/healthz`) against the `304`; and the page's weight. Each also as the servers' CPU
//! per request (the client's thread left out), where a `304`'s saving is not diluted by
//! the client's own cost per request. The same for the board's first page (the city's
//! 5,800 units sorted by county and name, the first hundred shown), the costliest page.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{ensure, Result};
use bytes::Bytes;
use taizhang_api::{ApiState, Limits};
use taizhang_core::Role;
use taizhang_read::policy::PolicySet;
use taizhang_read::Projector;
use taizhang_store::tokens::NewToken;
use taizhang_store::{AnyStore, EventStore, SledStore};

use crate::client::{Client, Loops};
use crate::{median, report};

const PAGE: &str = "/units/SY-0001";
const BOARD: &str = "/";
/// A request that does nothing (`/healthz`): what any answer costs through the same HTTP
/// stack and client, the floor under a `304`.
const FLOOR: &str = "/healthz";

/// The page's data as a GraphQL client would ask for it (the summaries of the campaign's
/// last eight weeks, as the page shows them; the members shown; the opinions of the
/// campaign's `round`, ten as the page shows).
fn same_data_query(round: &str) -> String {
    let weeks: String = (19..=26)
        .map(|w| format!("w{w}: weeklySummary(unit: \"SY-0001\", week: \"2011-W{w}\") {{ week done }} "))
        .collect();
    format!(
        "{{ unit(id: \"SY-0001\") {{ name industry region code parent {{ name }} }} \
         commitments(unit: \"SY-0001\") {{ category text target from until public }} {weeks}\
         publicMembers(unit: \"SY-0001\") {{ name post }} \
         opinions(round: \"{round}\", unit: \"SY-0001\", first: 10) {{ opinions {{ text rating commitment }} }} \
         report(period: {{ first: \"1900-01-01\", last: \"2099-12-31\" }}, scope: {{ unit: \"SY-0001\" }}) \
         {{ rows {{ outings recordedHours verifiedHours }} }} }}"
    )
}

pub(crate) async fn web(dir: &Path) -> Result<()> {
    let store = Arc::new(SledStore::open(&dir.join("demo"))?);
    let store = Arc::new(AnyStore::Sled(store));
    let ledger = Arc::new(taizhang_app::Ledger::open(store.clone(), &dir.join("master.key")).await?);
    taizhang_app::demo::load(&ledger, taizhang_app::demo::plan(1.0, 2011), |_| {}).await?;
    let projector = Projector::open(store.clone(), None).await?;
    tokio::spawn(projector.clone().run());
    projector.wait_for(store.head(), Duration::from_secs(60)).await?;
    let round = projector.read(|m| m.rounds.keys().next().map(ToString::to_string)).unwrap_or_default();
    let state = Arc::new(ApiState::new(ledger, projector, PolicySet::built_in())?);
    let new = NewToken { name: "bench".into(), role: Role::Reviewer, units: vec![], lifetime: None };
    let token = state.tokens.create(store.as_ref(), new, time::OffsetDateTime::now_utc()).await?.secret;
    let limits = Limits::default();
    let schema = taizhang_api::schema(state.clone(), &limits);
    let address = crate::http::serve(taizhang_api::http::routes(schema, state, limits)).await?;
    let token = token.expose().to_owned();
    crate::http::on_client_runtime(async move {
        let client = Arc::new(Client::new(address, &token)?);
        let weight = client.get(PAGE).await?;
        let body = Bytes::from(serde_json::json!({ "query": same_data_query(&round) }).to_string());
        client.post(body.clone()).await?;
        let board_weight = client.get(BOARD).await?;
        let (tag, board_tag) = (client.etag(PAGE).await?, client.etag(BOARD).await?);
        let (mut pages, mut queries, mut validated) = (Runs::default(), Runs::default(), Runs::default());
        let (mut boards, mut boards_validated, mut floors) = (Runs::default(), Runs::default(), Runs::default());
        for _ in 0..3 {
            floors.push(closed_loops(&client, Ask::Page(FLOOR)).await?);
            pages.push(closed_loops(&client, Ask::Page(PAGE)).await?);
            queries.push(closed_loops(&client, Ask::Query(body.clone())).await?);
            validated.push(closed_loops(&client, Ask::Validated(PAGE, tag.clone())).await?);
            boards.push(closed_loops(&client, Ask::Page(BOARD)).await?);
            boards_validated.push(closed_loops(&client, Ask::Validated(BOARD, board_tag.clone())).await?);
        }
        report("web.page bytes", weight as f64, "bytes", None);
        report("web.board bytes", board_weight as f64, "bytes", None);
        let (page, board) = (pages.rate(), boards.rate());
        report("web.not modified", validated.rate(), "per s", Some(page));
        report("web.floor", floors.rate(), "per s", Some(validated.rate()));
        report("web.board", board, "per s", None);
        report("web.board not modified", boards_validated.rate(), "per s", Some(board));
        // What each answer cost the server, the client's thread left out: the client's
        // work per request (the same for a 304 and a page of 4 KB) dilutes the rates
        // above, not these.
        report("web.server_cpu.page", pages.server_us(), "core-µs", None);
        report("web.server_cpu.not modified", validated.server_us(), "core-µs", Some(pages.server_us()));
        report("web.server_cpu.floor", floors.server_us(), "core-µs", Some(validated.server_us()));
        report("web.server_cpu.board", boards.server_us(), "core-µs", None);
        report("web.server_cpu.board not modified", boards_validated.server_us(), "core-µs", Some(boards.server_us()));
        report("web.not modified speed-up (server)", pages.server_us() / validated.server_us().max(1e-9), "×", None);
        report("web", page, "per s", Some(queries.rate()));
        Ok(())
    })
    .await
}

/// What one request of a closed loop asks.
#[derive(Clone)]
enum Ask {
    Page(&'static str),
    Query(Bytes),
    /// The page again, holding its validator: a 304.
    Validated(&'static str, String),
}

/// The rounds of one kind of request: their medians.
#[derive(Default)]
struct Runs(Vec<Loops>);

impl Runs {
    fn push(&mut self, loops: Loops) {
        self.0.push(loops);
    }

    fn rate(&self) -> f64 {
        median(self.0.iter().map(|l| l.per_second).collect())
    }

    /// The servers' CPU per request, in core-µs.
    fn server_us(&self) -> f64 {
        median(self.0.iter().map(|l| l.server_cpu_per_request.as_secs_f64() * 1e6).collect())
    }
}

/// Closed loops asking `ask`.
async fn closed_loops(client: &Arc<Client>, ask: Ask) -> Result<Loops> {
    crate::client::closed_loops(client, move |client: Arc<Client>| {
        let ask = ask.clone();
        async move {
            match ask {
                Ask::Page(path) => client.get(path).await.map(drop),
                Ask::Query(body) => client.post(body).await.map(drop),
                Ask::Validated(path, tag) => {
                    ensure!(client.get_unchanged(path, &tag).await?, "not a 304");
                    Ok(())
                }
            }
        }
    })
    .await
}
