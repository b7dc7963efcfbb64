//! The reviewer console's evaluations (一诺双评) and star boards (星级榜), acting through
//! the schema in process as every console page does:
//!
//! - `GET /console/evaluations[?halfYear=2011H1]`: the evaluation rounds, and the form to
//!   open one.
//! - `GET /console/evaluations/{id}[?unit=CODE&offset=N]`: a round, each member or unit
//!   rated with its ballots by rating, satisfaction and the leaders' score; for those who
//!   review, the forms to enter a ballot or a leaders' review, to upload a CSV of ballots
//!   and to close the round.
//! - `GET /console/boards?policy=…&halfYear=…[&offset=N]`: a star board computed now,
//!   each entry's stars explained, and the form to publish it.
//! - `POST /console/evaluations`, `POST /console/ballots`, `POST /console/reviews`,
//!   `POST /console/evaluations/close`, `POST /console/boards`: the forms.

use std::sync::Arc;

use poem::http::StatusCode;
use poem::web::{Data, Path};
use poem::{handler, Body, Request, Response};
use serde_json::{json, Value};
use taizhang_io::certificate::html_escape as e;

use super::{
    chosen_half_year, csrf_field, data, errors, field, half_year_choice, page, see_other, signed_form, signed_in,
    url_encode,
};
use crate::access::Principal;
use crate::http::{params, Server};

/// Results and board entries a page shows.
const ROWS_PER_PAGE: usize = 50;

/// Whether the caller's role enters ballots, reviews and boards (the schema decides; the
/// page only leaves out forms that would be refused).
fn reviews(found: &Value) -> bool {
    matches!(found["me"]["role"].as_str(), Some("ADMIN" | "REVIEWER"))
}

fn s(v: &Value) -> String {
    e(v.as_str().unwrap_or_default())
}

const ROUNDS: &str = "query($halfYear: String) { me { role }
  evaluations(halfYear: $halfYear) { id name halfYear subject region industry units openedAt closedAt } }";

/// `GET /console/evaluations[?halfYear=…]`.
#[handler]
pub(in crate::http) async fn rounds_page(req: &Request, server: Data<&Arc<Server>>) -> Response {
    let response = match signed_in(&server, req).await {
        Err(refused) => refused,
        Ok(caller) => {
            let params = params(req, &["halfYear"]).unwrap_or_default();
            rounds_view(&server, &caller, chosen_half_year(params.get("halfYear")), StatusCode::OK, None).await
        }
    };
    server.state.metrics.request("/console/evaluations", response.status().as_u16());
    response
}

async fn rounds_view(
    server: &Server,
    caller: &Principal,
    half_year: Option<String>,
    status: StatusCode,
    said: Option<(bool, String)>,
) -> Response {
    const TITLE: &str = "评议 Evaluations";
    let answer = server.execute_as(caller.clone(), ROUNDS, json!({ "halfYear": half_year })).await;
    if let Some(why) = errors(&answer) {
        return page(server, caller, StatusCode::UNPROCESSABLE_ENTITY, TITLE, Some((false, why)), "");
    }
    let found = data(answer);
    let rows: String = found["evaluations"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            let state = match r["closedAt"].as_u64() {
                Some(at) => format!("已结束 closed at {at}"),
                None => "进行中 open".to_owned(),
            };
            format!(
                "<tr><td><a href=\"/console/evaluations/{id}\">{name}</a></td><td>{half}</td><td>{subject}</td>\
                 <td>{scope}</td><td>{state}</td></tr>",
                id = url_encode(r["id"].as_str().unwrap_or_default()),
                name = s(&r["name"]),
                half = s(&r["halfYear"]),
                subject = subject(&r["subject"]),
                scope = scope(r),
            )
        })
        .collect();
    let open = if reviews(&found) {
        format!(
            "<h2 id=\"open\">开始评议 Open an evaluation</h2>\
             <form method=\"post\" action=\"/console/evaluations\">{csrf}\
             <label for=\"name\">名称 Name</label><input id=\"name\" name=\"name\" required maxlength=\"200\" placeholder=\"2011 年上半年窗口单位群众评议\">\
             <label for=\"half\">半年 Half-year</label><input id=\"half\" name=\"halfYear\" required maxlength=\"6\" placeholder=\"2011H1\">\
             <label for=\"subject\">评议对象 Who is rated</label><select id=\"subject\" name=\"subject\">\
             <option value=\"UNITS\">窗口单位 Units</option><option value=\"MEMBERS\">党员 Members</option></select>\
             <label for=\"region\">区域（可不填）Region (optional)</label><input id=\"region\" name=\"region\" maxlength=\"100\">\
             <label for=\"industry\">行业（可不填）Industry (optional)</label><input id=\"industry\" name=\"industry\" maxlength=\"100\">\
             <div class=\"buttons\"><button>开始 Open</button></div></form>",
            csrf = csrf_field(server, caller)
        )
    } else {
        String::new()
    };
    let main = format!(
        "{chosen}<h2>评议 Evaluations</h2><div class=\"wrap\" tabindex=\"0\" role=\"region\" aria-label=\"评议 Evaluations\"><table>\
         <thead><tr><th>名称 Name</th><th>半年 Half-year</th><th>对象 Rates</th><th>范围 Scope</th><th>状态 State</th></tr></thead>\
         <tbody>{rows}</tbody></table></div>{open}\
         <p><a href=\"/console/boards\">星级榜 Star boards</a> · <a href=\"/console/recognitions\">表彰 Recognitions</a></p>",
        chosen = half_year_choice("/console/evaluations", half_year.as_deref()),
    );
    page(server, caller, status, TITLE, said, &main)
}

/// Who a result or a board's entry is of: a member by code with their unit's name, or a
/// unit by name with its code.
fn who(rated: &Value) -> String {
    match rated["memberCode"].as_str() {
        Some(member) => format!("{}<br><span class=\"meta\">{}</span>", e(member), s(&rated["unitName"])),
        None => format!("{}<br><span class=\"meta\">{}</span>", s(&rated["unitName"]), s(&rated["unitCode"])),
    }
}

/// Links to the pages before and after the one at `offset` of `total` rows: `base`
/// then `offset=N` then `kept` (the rest of the query string, escaped for HTML).
fn pager(base: &str, kept: &str, offset: usize, total: usize) -> String {
    let mut pages = Vec::new();
    if offset > 0 {
        let back = offset.saturating_sub(ROWS_PER_PAGE);
        pages.push(format!("<a href=\"{base}offset={back}{kept}\">上一页 Previous page</a>"));
    }
    if offset + ROWS_PER_PAGE < total {
        let next = offset + ROWS_PER_PAGE;
        pages.push(format!("<a href=\"{base}offset={next}{kept}\">下一页 Next page</a>"));
    }
    pages.join(" · ")
}

fn subject(v: &Value) -> &'static str {
    match v.as_str() {
        Some("MEMBERS") => "党员 members",
        _ => "单位 units",
    }
}

/// A round's scope as a line: the whole city, or its region, industry and units.
fn scope(round: &Value) -> String {
    let mut parts = Vec::new();
    if let Some(region) = round["region"].as_str() {
        parts.push(e(region));
    }
    if let Some(industry) = round["industry"].as_str() {
        parts.push(e(industry));
    }
    if let Some(units) = round["units"].as_array() {
        parts.push(format!("{} 个单位 units", units.len()));
    }
    if parts.is_empty() {
        "全市 the city".to_owned()
    } else {
        parts.join(" · ")
    }
}

/// `POST /console/evaluations` (`csrf`, `name`, `halfYear`, `subject`, `region`, `industry`).
#[handler]
pub(in crate::http) async fn open_round(req: &Request, body: Body, server: Data<&Arc<Server>>) -> Response {
    let response = match signed_form(&server, req, body).await {
        Err(refused) => refused,
        Ok((caller, fields)) => {
            let open = "mutation($input: OpenEvaluationInput!) { openEvaluation(input: $input) { evaluation { id } } }";
            let optional = |name: &str| Some(field(&fields, name)).filter(|v| !v.is_empty());
            let variables = json!({ "input": {
                    "name": field(&fields, "name"),
                    "halfYear": field(&fields, "halfYear"),
                    "subject": field(&fields, "subject"),
                    "scope": { "region": optional("region"), "industry": optional("industry") },
                } });
            let answer = server.execute_as(caller.clone(), open, variables).await;
            match errors(&answer) {
                None => {
                    let id = data(answer)["openEvaluation"]["evaluation"]["id"].as_str().unwrap_or_default().to_owned();
                    see_other(&format!("/console/evaluations/{}?done=opened", url_encode(&id)))
                }
                Some(why) => {
                    rounds_view(&server, &caller, None, StatusCode::UNPROCESSABLE_ENTITY, Some((false, why))).await
                }
            }
        }
    };
    server.state.metrics.request("/console/evaluations", response.status().as_u16());
    response
}

const ROUND: &str = "query($id: ID!, $unit: ID, $offset: Int!, $first: Int!) { me { role }
  evaluation(id: $id) { id name halfYear subject region industry units openedAt closedAt }
  evaluationResults(evaluation: $id, unit: $unit, offset: $offset, first: $first) { totalCount
    results { memberCode unitCode unitName ballots satisfied fairlySatisfied dissatisfied dontKnow
      satisfaction leaderScore leaderComment } } }";

/// What a round's page is asked for: the round, the unit its results are narrowed to,
/// and where the page of results starts.
struct RoundAsk<'a> {
    id: &'a str,
    unit: Option<String>,
    offset: usize,
}

/// `GET /console/evaluations/{id}[?unit=CODE&offset=N&done=…]`.
#[handler]
pub(in crate::http) async fn round_page(req: &Request, Path(id): Path<String>, server: Data<&Arc<Server>>) -> Response {
    let response = match signed_in(&server, req).await {
        Err(refused) => refused,
        Ok(caller) => {
            let params = params(req, &["unit", "offset", "done"]).unwrap_or_default();
            let said = match params.get("done").map(String::as_str) {
                Some("opened") => Some((true, "评议已开始 The evaluation is open.".to_owned())),
                Some("ballot") => Some((true, "已录入选票 The ballot is in.".to_owned())),
                Some("review") => Some((true, "已录入领导点评 The leaders' review is in.".to_owned())),
                Some("closed") => Some((true, "评议已结束 The evaluation is closed.".to_owned())),
                _ => None,
            };
            let unit = params.get("unit").map(|u| u.trim().to_owned()).filter(|u| !u.is_empty());
            let offset = params.get("offset").and_then(|o| o.parse().ok()).unwrap_or(0);
            round_view(&server, &caller, RoundAsk { id: id.trim(), unit, offset }, StatusCode::OK, said).await
        }
    };
    server.state.metrics.request("/console/evaluations/{id}", response.status().as_u16());
    response
}

async fn round_view(
    server: &Server,
    caller: &Principal,
    ask: RoundAsk<'_>,
    status: StatusCode,
    said: Option<(bool, String)>,
) -> Response {
    const TITLE: &str = "评议 Evaluation";
    let variables = json!({ "id": ask.id, "unit": ask.unit, "offset": ask.offset, "first": ROWS_PER_PAGE });
    let answer = server.execute_as(caller.clone(), ROUND, variables).await;
    let trouble = errors(&answer);
    let found = data(answer);
    let round = &found["evaluation"];
    if round.is_null() {
        let (status, message) = match trouble {
            Some(why) => (StatusCode::UNPROCESSABLE_ENTITY, why),
            None => (StatusCode::NOT_FOUND, format!("没有这个评议 There is no evaluation {}", ask.id)),
        };
        return page(server, caller, status, TITLE, Some((false, message)), "");
    }
    // The results need more than the round (reports): the page says why they are missing.
    let said = said.or(trouble.map(|why| (false, why)));
    let of_members = round["subject"].as_str() == Some("MEMBERS");
    let link = url_encode(ask.id);
    let results = &found["evaluationResults"];
    let rows: String = results["results"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            let who = who(r);
            let review = match r["leaderScore"].as_u64() {
                Some(score) => format!("{score}<br><span class=\"meta\">{}</span>", s(&r["leaderComment"])),
                None => "—".to_owned(),
            };
            format!(
                "<tr><td>{who}</td><td class=\"n\">{}<br><span class=\"meta\">{} / {} / {} / {}</span></td>\
                 <td class=\"n\">{}</td><td>{review}</td></tr>",
                r["ballots"],
                r["satisfied"],
                r["fairlySatisfied"],
                r["dissatisfied"],
                r["dontKnow"],
                r["satisfaction"].as_str().map_or_else(|| "—".to_owned(), e),
            )
        })
        .collect();
    let total = results["totalCount"].as_u64().unwrap_or(0) as usize;
    let kept_unit = ask.unit.as_deref().map(|u| format!("&amp;unit={}", url_encode(u))).unwrap_or_default();
    let pages = pager(&format!("/console/evaluations/{link}?"), &kept_unit, ask.offset, total);
    let open = round["closedAt"].is_null();
    let state = match round["closedAt"].as_u64() {
        Some(at) => format!("已结束（日志位置 {at}）closed at log position {at}"),
        None => "进行中 open".to_owned(),
    };
    let forms = if open && reviews(&found) { entry_forms(server, caller, ask.id, of_members) } else { String::new() };
    let main = format!(
        "<dl><dt>名称 Name</dt><dd>{name}</dd><dt>半年 Half-year</dt><dd>{half}</dd><dt>对象 Rates</dt><dd>{subject}</dd>\
         <dt>范围 Scope</dt><dd>{scope}</dd><dt>状态 State</dt><dd>{state}</dd></dl>\
         <form method=\"get\" action=\"/console/evaluations/{link}\"><label for=\"unit\">只看某单位（编号）Only one unit (code)</label>\
         <input id=\"unit\" name=\"unit\" value=\"{unit}\" maxlength=\"64\"><div class=\"buttons\"><button>查看 Show</button></div></form>\
         <h2>结果 Results ({total})</h2><p class=\"note\">满意度 = 满意 100、基本满意 70、不满意 30 的平均，不了解不计。\
         Satisfaction is the mean of 100 (satisfied), 70 (fairly) and 30 (dissatisfied); \"don't know\" is left out.</p>\
         <div class=\"wrap\" tabindex=\"0\" role=\"region\" aria-label=\"结果 Results\"><table><thead><tr><th>{rated}</th>\
         <th class=\"n\">选票 Ballots<br><span class=\"meta\">满意 / 基本满意 / 不满意 / 不了解</span></th>\
         <th class=\"n\">满意度 Satisfaction</th><th>领导点评 Leaders</th></tr></thead>\
         <tbody>{rows}</tbody></table></div><p>{pages}</p>{forms}\
         <p><a href=\"/export/ballots\">下载全部选票 All ballots (CSV)</a> · <a href=\"/console/evaluations\">全部评议 All evaluations</a></p>",
        name = s(&round["name"]),
        half = s(&round["halfYear"]),
        subject = subject(&round["subject"]),
        scope = scope(round),
        unit = e(ask.unit.as_deref().unwrap_or_default()),
        rated = if of_members { "党员 Member" } else { "单位 Unit" },
        pages = pages,
    );
    page(server, caller, status, TITLE, said, &main)
}

/// The forms of an open round: a ballot, a leaders' review, a CSV of ballots, closing.
fn entry_forms(server: &Server, caller: &Principal, id: &str, of_members: bool) -> String {
    let csrf = csrf_field(server, caller);
    let id = e(id);
    let (rated_label, rated_name) =
        if of_members { ("党员编号 Member number", "member") } else { ("单位编号 Unit code", "unit") };
    let rated = |prefix: &str| {
        format!(
            "<input type=\"hidden\" name=\"evaluation\" value=\"{id}\">\
             <label for=\"{prefix}-rated\">{rated_label}</label><input id=\"{prefix}-rated\" name=\"{rated_name}\" required maxlength=\"64\">"
        )
    };
    format!(
        "<h2 id=\"ballot\">录入选票 Enter a ballot</h2>\
         <form method=\"post\" action=\"/console/ballots\">{csrf}{ballot_rated}\
         <label for=\"voter\">投票人 Who voted</label><select id=\"voter\" name=\"voter\">\
         <option value=\"CITIZEN\">群众 A citizen</option><option value=\"SUPERVISOR\">群众监督员 A public supervisor</option>\
         <option value=\"ASSESSOR\">行风评议员 A conduct assessor</option></select>\
         <label for=\"rating\">评价 Rating</label><select id=\"rating\" name=\"rating\">\
         <option value=\"SATISFIED\">满意 Satisfied</option><option value=\"FAIRLY_SATISFIED\">基本满意 Fairly satisfied</option>\
         <option value=\"DISSATISFIED\">不满意 Dissatisfied</option><option value=\"\">不了解 Don't know</option></select>\
         <label for=\"scores\">分项评分（可不填）Scores (optional)</label>\
         <input id=\"scores\" name=\"scores\" maxlength=\"500\" placeholder=\"服务态度:90;办事效率:85\">\
         <label for=\"ballot-comment\">意见（可不填）Comment (optional)</label>\
         <textarea id=\"ballot-comment\" name=\"comment\" rows=\"2\" maxlength=\"2000\"></textarea>\
         <div class=\"buttons\"><button>录入 Enter</button></div></form>\
         <h2 id=\"review\">领导点评 The leaders' review</h2>\
         <form method=\"post\" action=\"/console/reviews\">{csrf}{review_rated}\
         <label for=\"score\">得分（0–100）Score (0–100)</label><input id=\"score\" name=\"score\" required inputmode=\"numeric\" maxlength=\"3\">\
         <label for=\"review-comment\">点评 Comment</label><textarea id=\"review-comment\" name=\"comment\" rows=\"2\" maxlength=\"2000\"></textarea>\
         <div class=\"buttons\"><button>录入 Enter</button></div></form>\
         <h2 id=\"import\">导入选票 Import ballots (CSV)</h2>\
         <form method=\"post\" action=\"/console/import\" enctype=\"multipart/form-data\">{csrf}\
         <input type=\"hidden\" name=\"kind\" value=\"ballots\"><input type=\"hidden\" name=\"back\" value=\"/console/evaluations/{id}\">\
         <label for=\"file\">文件（CSV，UTF-8 或 GBK）File (CSV, UTF-8 or GBK)</label><input id=\"file\" name=\"file\" type=\"file\" accept=\".csv,text/csv\" required>\
         <label for=\"encoding\">编码 Encoding</label><select id=\"encoding\" name=\"encoding\"><option value=\"utf-8\">UTF-8</option><option value=\"gbk\">GBK (Excel 中文版)</option></select>\
         <p class=\"note\">每行一票，列：评议、单位或党员、投票人、评价、分项、意见；先逐行检查，有错则一行也不写入。\
         One ballot a row (evaluation, unit or member, voter, rating, scores, comment); every row is checked first, and with any problem nothing is written.</p>\
         <div class=\"buttons\"><button>上传 Upload</button></div></form>\
         <h2 id=\"close\">结束评议 Close the evaluation</h2>\
         <form method=\"post\" action=\"/console/evaluations/close\">{csrf}<input type=\"hidden\" name=\"evaluation\" value=\"{id}\">\
         <p class=\"note\">结束后不再接受选票和点评，结果以此为准。Once closed, no ballot or review is taken: what counts is frozen.</p>\
         <div class=\"buttons\"><button class=\"out\">结束 Close</button></div></form>",
        ballot_rated = rated("ballot"),
        review_rated = rated("review"),
    )
}

/// The one rated, from a form's `member` or `unit` field.
fn rated(fields: &[(String, String)]) -> Value {
    match field(fields, "member") {
        "" => json!({ "unit": field(fields, "unit") }),
        member => json!({ "member": member }),
    }
}

/// Per-criterion scores as a form writes them, read as the CSV of ballots reads them.
fn scores(text: &str) -> Result<Vec<Value>, String> {
    let scores = taizhang_io::import::parse_scores("scores", text).map_err(|e| e.to_string())?;
    Ok(scores.iter().map(|s| json!({ "criterion": s.criterion.as_str(), "score": s.score.get() })).collect())
}

/// Runs a round's form (`mutation` with the variables `build` makes of its fields) and
/// answers it: back to the round's page, or the page again with the refusal.
async fn round_form(
    server: &Server,
    req: &Request,
    body: Body,
    done: &str,
    mutation: &str,
    build: impl FnOnce(&[(String, String)]) -> Result<Value, String>,
) -> Response {
    let (caller, fields) = match signed_form(server, req, body).await {
        Err(refused) => return refused,
        Ok(signed) => signed,
    };
    let id = field(&fields, "evaluation").to_owned();
    let refused = match build(&fields) {
        Err(why) => why,
        Ok(variables) => match errors(&server.execute_as(caller.clone(), mutation, variables).await) {
            None => return see_other(&format!("/console/evaluations/{}?done={done}", url_encode(&id))),
            Some(why) => why,
        },
    };
    let ask = RoundAsk { id: &id, unit: None, offset: 0 };
    let mut response = round_view(server, &caller, ask, StatusCode::OK, Some((false, refused))).await;
    if response.status() == StatusCode::OK {
        response.set_status(StatusCode::UNPROCESSABLE_ENTITY);
    }
    response
}

/// `POST /console/ballots` (`csrf`, `evaluation`, `unit` or `member`, `voter`, `rating`,
/// `scores`, `comment`).
#[handler]
pub(in crate::http) async fn cast_ballot(req: &Request, body: Body, server: Data<&Arc<Server>>) -> Response {
    let cast = "mutation($input: CastBallotInput!) { castBallot(input: $input) { ballot } }";
    let response = round_form(&server, req, body, "ballot", cast, |fields| {
        let optional = |name: &str| Some(field(fields, name)).filter(|v| !v.is_empty());
        Ok(json!({ "input": {
            "evaluation": field(fields, "evaluation"),
            "rated": rated(fields),
            "voter": field(fields, "voter"),
            "rating": optional("rating"),
            "scores": scores(field(fields, "scores"))?,
            "comment": optional("comment"),
        } }))
    })
    .await;
    server.state.metrics.request("/console/ballots", response.status().as_u16());
    response
}

/// `POST /console/reviews` (`csrf`, `evaluation`, `unit` or `member`, `score`, `comment`).
#[handler]
pub(in crate::http) async fn record_review(req: &Request, body: Body, server: Data<&Arc<Server>>) -> Response {
    let review = "mutation($input: ReviewAsLeaderInput!) { reviewAsLeader(input: $input) { receipt { position } } }";
    let response = round_form(&server, req, body, "review", review, |fields| {
        let score: i64 = field(fields, "score")
            .parse()
            .map_err(|_| "得分是 0 到 100 的整数 The score is a whole number from 0 to 100".to_owned())?;
        let comment = Some(field(fields, "comment")).filter(|v| !v.is_empty());
        Ok(json!({ "input": {
            "evaluation": field(fields, "evaluation"),
            "rated": rated(fields),
            "score": score,
            "comment": comment,
        } }))
    })
    .await;
    server.state.metrics.request("/console/reviews", response.status().as_u16());
    response
}

/// `POST /console/evaluations/close` (`csrf`, `evaluation`).
#[handler]
pub(in crate::http) async fn close_round(req: &Request, body: Body, server: Data<&Arc<Server>>) -> Response {
    let close = "mutation($id: ID!) { closeEvaluation(evaluation: $id) { receipt { position } } }";
    let response =
        round_form(&server, req, body, "closed", close, |fields| Ok(json!({ "id": field(fields, "evaluation") })))
            .await;
    server.state.metrics.request("/console/evaluations/close", response.status().as_u16());
    response
}

const BOARD: &str = "query($policy: String!, $halfYear: String!, $offset: Int!, $first: Int!) { me { role }
  starBoard(policy: $policy, halfYear: $halfYear, offset: $offset, first: $first) {
    policy policyVersion halfYear asOfPosition totalCount
    entries { rank stars previousStars change heldByQuota score memberCode unitCode unitName
      eligibility { levels { label met criteria { metric required actual met } } } } } }";

const TEN_STAR_POLICIES: &str = "{ policies { name title subject } }";

/// `GET /console/boards?policy=…&halfYear=…[&offset=N]`.
#[handler]
pub(in crate::http) async fn boards_page(req: &Request, server: Data<&Arc<Server>>) -> Response {
    let response = match signed_in(&server, req).await {
        Err(refused) => refused,
        Ok(caller) => {
            let params = params(req, &["policy", "halfYear", "offset"]).unwrap_or_default();
            let text = |name: &str| params.get(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
            let offset = params.get("offset").and_then(|o| o.parse().ok()).unwrap_or(0);
            let ask = BoardAsk { policy: text("policy"), half_year: text("halfYear"), offset };
            board_view(&server, &caller, ask, StatusCode::OK, None).await
        }
    };
    server.state.metrics.request("/console/boards", response.status().as_u16());
    response
}

/// What a board's page is asked for.
struct BoardAsk {
    policy: Option<String>,
    half_year: Option<String>,
    offset: usize,
}

async fn board_view(
    server: &Server,
    caller: &Principal,
    ask: BoardAsk,
    status: StatusCode,
    said: Option<(bool, String)>,
) -> Response {
    const TITLE: &str = "星级榜 Star boards";
    let policies = data(server.execute_as(caller.clone(), TEN_STAR_POLICIES, json!({})).await);
    let options: String = policies["policies"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            let name = p["name"].as_str().unwrap_or_default();
            let chosen = if ask.policy.as_deref() == Some(name) { " selected" } else { "" };
            format!("<option value=\"{}\"{chosen}>{} ({})</option>", e(name), s(&p["title"]), e(name))
        })
        .collect();
    let chooser = format!(
        "<form method=\"get\" action=\"/console/boards\"><label for=\"policy\">十星级政策 Ten-star policy</label>\
         <select id=\"policy\" name=\"policy\">{options}</select>\
         <label for=\"halfYear\">半年 Half-year</label><input id=\"halfYear\" name=\"halfYear\" value=\"{half}\" required placeholder=\"2011H1\" maxlength=\"6\">\
         <div class=\"buttons\"><button>计算 Compute</button></div></form>",
        half = e(ask.half_year.as_deref().unwrap_or_default()),
    );
    let (Some(policy), Some(half_year)) = (ask.policy.as_deref(), ask.half_year.as_deref()) else {
        return page(server, caller, status, TITLE, said, &chooser);
    };
    let variables = json!({ "policy": policy, "halfYear": half_year, "offset": ask.offset, "first": ROWS_PER_PAGE });
    let answer = server.execute_as(caller.clone(), BOARD, variables).await;
    if let Some(why) = errors(&answer) {
        return page(server, caller, StatusCode::UNPROCESSABLE_ENTITY, TITLE, Some((false, why)), &chooser);
    }
    let found = data(answer);
    let board = &found["starBoard"];
    let rows: String = board["entries"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|entry| {
            let who = who(entry);
            let change = entry["change"].as_i64().unwrap_or(0);
            let quota = if entry["heldByQuota"].as_bool() == Some(true) { " · 名额所限 held by the quota" } else { "" };
            format!(
                "<tr><td class=\"n\">{rank}</td><td>{who}</td><td class=\"n\">{stars}</td><td class=\"n\">{change:+}</td>\
                 <td class=\"n\">{score}</td><td>{explained}{quota}</td></tr>",
                rank = entry["rank"],
                stars = entry["stars"],
                score = entry["score"].as_str().map_or_else(|| "—".to_owned(), e),
                explained = explanation(&entry["eligibility"]),
            )
        })
        .collect();
    let total = board["totalCount"].as_u64().unwrap_or(0) as usize;
    let kept = format!("policy={}&amp;halfYear={}", url_encode(policy), url_encode(half_year));
    let pages = pager("/console/boards?", &format!("&amp;{kept}"), ask.offset, total);
    let publish = if reviews(&found) {
        format!(
            "<h2 id=\"publish\">发布星级榜 Publish this board</h2>\
             <form method=\"post\" action=\"/console/boards\">{csrf}\
             <input type=\"hidden\" name=\"policy\" value=\"{policy}\"><input type=\"hidden\" name=\"halfYear\" value=\"{half}\">\
             <label for=\"board-name\">名称 Name</label><input id=\"board-name\" name=\"name\" required maxlength=\"200\" placeholder=\"{half} 星级榜\">\
             <p class=\"note\">发布时记下日志位置和政策摘要，日后可原样重现，更正会显示为差异。\
             Publishing records the log position and the policy's digest: the board can be reproduced exactly later, and later corrections show as differences.</p>\
             <div class=\"buttons\"><button>发布 Publish</button></div></form>",
            csrf = csrf_field(server, caller),
            policy = e(policy),
            half = e(half_year),
        )
    } else {
        String::new()
    };
    let main = format!(
        "{chooser}<h2>{policy} · {half} ({total})</h2>\
         <div class=\"wrap\" tabindex=\"0\" role=\"region\" aria-label=\"星级榜 Star board\"><table><thead><tr>\
         <th class=\"n\">名次 Rank</th><th>{rated}</th><th class=\"n\">星 Stars</th><th class=\"n\">较上半年 Change</th>\
         <th class=\"n\">得分 Score</th><th>依据 Why</th></tr></thead><tbody>{rows}</tbody></table></div>\
         <p>{pages}</p>{publish}<p class=\"meta\">日志位置 As of log position {position} · 政策版本 policy version {version}</p>",
        policy = s(&board["policy"]),
        half = e(half_year),
        rated = if board["entries"][0]["memberCode"].is_string() { "党员 Member" } else { "单位 Unit" },
        pages = pages,
        position = board["asOfPosition"],
        version = board["policyVersion"],
    );
    page(server, caller, status, TITLE, said, &main)
}

/// An entry's stars explained: each level met or missed, with its criteria's required
/// and actual values, folded under a summary.
fn explanation(eligibility: &Value) -> String {
    let levels = eligibility["levels"].as_array().map(Vec::as_slice).unwrap_or_default();
    let met = levels.iter().filter(|l| l["met"].as_bool() == Some(true)).count();
    let lines: String = levels
        .iter()
        .map(|level| {
            let criteria: Vec<String> = level["criteria"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| {
                    let mark = if c["met"].as_bool() == Some(true) { "✓" } else { "✗" };
                    format!("{mark} {} {} / {}", s(&c["metric"]), s(&c["actual"]), s(&c["required"]))
                })
                .collect();
            let mark = if level["met"].as_bool() == Some(true) { "✓" } else { "✗" };
            format!("<li>{mark} {}：{}</li>", s(&level["label"]), criteria.join("；"))
        })
        .collect();
    format!("<details><summary>{met}/{} 项 met</summary><ul>{lines}</ul></details>", levels.len())
}

/// `POST /console/boards` (`csrf`, `name`, `policy`, `halfYear`): publishes the board as
/// the log stands, then shows the recognitions page, where it is listed.
#[handler]
pub(in crate::http) async fn publish_board(req: &Request, body: Body, server: Data<&Arc<Server>>) -> Response {
    let response = match signed_form(&server, req, body).await {
        Err(refused) => refused,
        Ok((caller, fields)) => {
            let publish =
                "mutation($input: PublishBoardInput!) { publishBoard(input: $input) { receipt { position } } }";
            let (policy, half_year) = (field(&fields, "policy"), field(&fields, "halfYear"));
            let variables =
                json!({ "input": { "name": field(&fields, "name"), "policy": policy, "halfYear": half_year } });
            let answer = server.execute_as(caller.clone(), publish, variables).await;
            match errors(&answer) {
                None => see_other(&format!("/console/recognitions?halfYear={}&done=published", url_encode(half_year))),
                Some(why) => {
                    let ask =
                        BoardAsk { policy: Some(policy.to_owned()), half_year: Some(half_year.to_owned()), offset: 0 };
                    board_view(&server, &caller, ask, StatusCode::UNPROCESSABLE_ENTITY, Some((false, why))).await
                }
            }
        }
    };
    server.state.metrics.request("/console/boards", response.status().as_u16());
    response
}
