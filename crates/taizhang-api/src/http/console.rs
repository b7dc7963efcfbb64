//! The consoles for clerks and reviewers (`/console`): signed in with an API token, which
//! the browser keeps in a cookie only this server reads (HttpOnly, SameSite=Strict,
//! Secure when the server's public address is `https`), checked at every request as a
//! bearer token is; besides the consoles, only a GET (the downloads the pages link to)
//! takes it in place of `Authorization`. Every page and every form acts through the
//! GraphQL schema in process ([`Server::execute_as`]), so what a console may show or do
//! is what its token may over GraphQL: the role table stays the one place that decides.
//!
//! - `GET /console`: signing in, or who one is and where to go.
//! - `GET /console/units/{code}`: a unit's ledger with running totals, the outings not
//!   yet verified with a button each (for those who verify), and the form to register
//!   an outing with participants picked from the unit's members (for those who write
//!   the unit's records).
//! - `GET /console/reports`: hours by region, industry or unit for a period, and a
//!   chart of the hours of each week (an inline SVG picture, with its figures as a
//!   table beside it).
//! - `POST /console/members`, `POST /console/transfers`: a member registered with the
//!   unit, or transferred from it to another unit.
//! - `POST /console/summaries`: the unit's weekly summary (一周一小结) submitted, or
//!   revised; the page shows the eight weeks up to the latest outing's.
//! - `GET /console/eligibility`: a member's or a unit's standing under an award policy
//!   for a period, now or as of a log position, with every criterion's required and
//!   actual value and the outings counted or left out, and why.
//! - `/console/evaluations`, `/console/boards`: evaluation rounds and their ballots and
//!   reviews, and star boards computed and published ([`evaluations`]).
//! - `POST /console/import`: a CSV file uploaded, checked row by row as
//!   `POST /import/{kind}` checks it (the same code): every problem in a table by line
//!   and column and nothing written, or every row written.
//! - `POST /console/outings`, `POST /console/verify`, `POST /console/sign-in`,
//!   `POST /console/sign-out`: the forms, each refused without the sign-in's CSRF token
//!   or when another site's page sent it.

use std::sync::Arc;

use poem::http::{header, StatusCode};
use poem::web::{Data, Multipart, Path};
use poem::{handler, Body, Request, Response};
use serde_json::{json, Value};
use taizhang_io::certificate::html_escape as e;

pub(super) mod evaluations;

use super::board::url_encode;
use super::page::layout;
use super::{params, remote_ip, same_origin, ImportOptions, Server, IMPORT_BODY_BYTES};
use crate::access::Principal;

/// The cookie holding the console's token.
const COOKIE: &str = "taizhang_console";
/// The largest console form, in bytes (an outing with a few hundred participants).
const MAX_FORM_BYTES: usize = 64 * 1024;
/// Ledger lines a page shows.
const LINES_PER_PAGE: usize = 50;
/// Members offered as participants (one page of the API's).
const MEMBERS_OFFERED: usize = 100;
/// A clerk's units listed on the console's first page.
const UNITS_LISTED: usize = 20;

/// The token the browser's cookie holds, if any.
pub(super) fn cookie_token(req: &Request) -> Option<&str> {
    let cookies = req.headers().get(header::COOKIE)?.to_str().ok()?;
    cookies.split(';').find_map(|c| c.trim().strip_prefix(COOKIE)?.strip_prefix('=')).filter(|t| !t.is_empty())
}

/// The sign-in's CSRF token: a MAC under the installation's key of the signed-in token's
/// id, so a form of one sign-in is no other's and no other site can know it.
fn csrf(server: &Server, caller: &Principal) -> String {
    let proof = server.state.ledger.master_key().form_proof(&format!("console:{}", caller.token), 0);
    proof.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `fields` carry the sign-in's CSRF token.
fn csrf_holds(server: &Server, caller: &Principal, fields: &[(String, String)]) -> bool {
    let given = fields.iter().find(|(name, _)| name == "csrf").map_or("", |(_, v)| v.as_str());
    super::same_bytes(given.as_bytes(), csrf(server, caller).as_bytes())
}

fn csrf_field(server: &Server, caller: &Principal) -> String {
    format!("<input type=\"hidden\" name=\"csrf\" value=\"{}\">", csrf(server, caller))
}

/// A console page: the document with a line naming who is signed in and a way out.
fn page(
    server: &Server,
    caller: &Principal,
    status: StatusCode,
    title: &str,
    said: Option<(bool, String)>,
    main: &str,
) -> Response {
    let units = if caller.units.is_empty() { String::new() } else { format!(" · {} units", caller.units.len()) };
    let nav = format!(
        "<nav class=\"top\" aria-label=\"控制台\"><a href=\"/console\">控制台首页 Console</a>\
         <span class=\"meta\">{role}{units}</span>\
         <form method=\"post\" action=\"/console/sign-out\">{csrf}<button class=\"out\">退出 Sign out</button></form></nav>",
        role = caller.role,
        csrf = csrf_field(server, caller),
    );
    layout(status, title, title, said, &format!("{nav}{main}"))
}

fn sign_in_page(status: StatusCode, said: Option<(bool, String)>) -> Response {
    let main = "<form method=\"post\" action=\"/console/sign-in\">\
        <label for=\"token\">API 令牌 API token</label>\
        <input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"current-password\" required maxlength=\"200\">\
        <p class=\"note\">令牌由系统管理员发放（taizhang token create）。登录后保存在本浏览器中，关闭浏览器即失效。\
        The token comes from an admin (<code>taizhang token create</code>); it is kept in this browser until it closes.</p>\
        <div class=\"buttons\"><button>登录 Sign in</button></div></form>";
    layout(status, "工作台登录 Console sign-in", "工作台登录 Console sign-in", said, main)
}

/// The caller the cookie names, checked as a bearer token is; otherwise the sign-in page.
// The error is the answer itself, returned at once by the route.
#[allow(clippy::result_large_err)]
async fn signed_in(server: &Server, req: &Request) -> Result<Principal, Response> {
    let Some(token) = cookie_token(req) else { return Err(sign_in_page(StatusCode::UNAUTHORIZED, None)) };
    server.authenticate(Some(token), remote_ip(req)).await.map_err(|failure| {
        let said = match failure {
            super::AuthFailure::Unauthenticated(why) => why,
            super::AuthFailure::Internal(e) => e.message,
        };
        forget(sign_in_page(StatusCode::UNAUTHORIZED, Some((false, said))))
    })
}

/// On to `to` after a form succeeded (`303`: the browser asks it with a GET).
fn see_other(to: &str) -> Response {
    Response::builder().status(StatusCode::SEE_OTHER).header(header::LOCATION, to).finish()
}

/// `response` with the cookie cleared.
fn forget(mut response: Response) -> Response {
    let clear = format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    response.headers_mut().insert(header::SET_COOKIE, clear.parse().expect("a cookie"));
    response
}

/// A form posted to the console: its fields in order (a field may repeat), once the
/// post is known to come from the sign-in's own page.
async fn form(
    server: &Server,
    caller: &Principal,
    req: &Request,
    body: Body,
) -> Result<Vec<(String, String)>, Response> {
    let refuse = |message: &str| {
        page(server, caller, StatusCode::FORBIDDEN, "拒绝 Refused", Some((false, message.to_owned())), "")
    };
    if !same_origin(req) {
        return Err(refuse("这个表单只能从本站页面提交。This form is sent from this site's own pages only."));
    }
    let bytes = body.into_bytes_limit(MAX_FORM_BYTES).await.map_err(|_| refuse("the form is too large"))?;
    let fields: Vec<(String, String)> =
        serde_urlencoded::from_bytes(&bytes).map_err(|_| refuse("the form could not be read"))?;
    if !csrf_holds(server, caller, &fields) {
        return Err(refuse(
            "表单已失效，请刷新页面后重试。The form has no valid CSRF token: reload the page and send it again.",
        ));
    }
    Ok(fields)
}

/// The signed-in caller and the fields of the form they posted (see [`form`]); else
/// the answer refusing it.
#[allow(clippy::result_large_err)]
async fn signed_form(
    server: &Server,
    req: &Request,
    body: Body,
) -> Result<(Principal, Vec<(String, String)>), Response> {
    let caller = signed_in(server, req).await?;
    let fields = form(server, &caller, req, body).await?;
    Ok((caller, fields))
}

/// The form choosing a half-year on a page of `action` (`2011H1`, or empty for all).
fn half_year_choice(action: &str, chosen: Option<&str>) -> String {
    format!(
        "<form method=\"get\" action=\"{action}\"><label for=\"halfYear\">半年 Half-year</label>\
         <input id=\"halfYear\" name=\"halfYear\" value=\"{}\" placeholder=\"2011H1\" maxlength=\"6\">\
         <div class=\"buttons\"><button>查看 Show</button></div></form>",
        e(chosen.unwrap_or_default())
    )
}

/// A half-year asked for in a query string, trimmed; none when empty.
fn chosen_half_year(asked: Option<&String>) -> Option<String> {
    asked.map(|h| h.trim().to_owned()).filter(|h| !h.is_empty())
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> &'a str {
    fields.iter().find(|(n, _)| n == name).map_or("", |(_, v)| v.trim())
}

/// The errors of a GraphQL response, for a page; `None` when there were none.
fn errors(response: &async_graphql::Response) -> Option<String> {
    (!response.errors.is_empty())
        .then(|| response.errors.iter().map(|e| e.message.as_str()).collect::<Vec<_>>().join("; "))
}

fn data(response: async_graphql::Response) -> Value {
    response.data.into_json().unwrap_or(Value::Null)
}

/// `GET /console`.
#[handler]
pub(super) async fn home(req: &Request, server: Data<&Arc<Server>>) -> Response {
    let response = match signed_in(&server, req).await {
        Err(refused) => refused,
        Ok(caller) => {
            let units = if caller.units.is_empty() {
                String::new()
            } else {
                // One aliased field per unit (a clerk has a few), as many as the
                // request limits allow.
                let shown: Vec<String> = caller.units.iter().take(UNITS_LISTED).map(ToString::to_string).collect();
                let fields: String =
                    (0..shown.len()).map(|i| format!("u{i}: unit(id: $u{i}) {{ id code name }} ")).collect();
                let declared: Vec<String> = (0..shown.len()).map(|i| format!("$u{i}: ID!")).collect();
                let query = format!("query({}) {{ {fields}}}", declared.join(", "));
                let variables: serde_json::Map<String, Value> =
                    shown.iter().enumerate().map(|(i, id)| (format!("u{i}"), json!(id))).collect();
                let found = data(server.execute_as(caller.clone(), &query, Value::Object(variables)).await);
                let listed: String = (0..shown.len())
                    .map(|i| &found[format!("u{i}")])
                    .filter(|u| !u.is_null())
                    .map(|u| {
                        let code = u["code"].as_str().or(u["id"].as_str()).unwrap_or_default();
                        format!(
                            "<li><a href=\"/console/units/{}\">{}</a> <span class=\"meta\">{}</span></li>",
                            url_encode(code),
                            e(u["name"].as_str().unwrap_or_default()),
                            e(code)
                        )
                    })
                    .collect();
                format!("<h2>本单位 Your units</h2><ul class=\"units\">{listed}</ul>")
            };
            let main = format!(
                "{units}<h2>查看单位台账 A unit's ledger</h2><form method=\"get\" action=\"/console/unit\">\
                 <label for=\"code\">单位编号 Unit code</label><input id=\"code\" name=\"code\" required maxlength=\"64\">\
                 <div class=\"buttons\"><button>打开 Open</button></div></form>\
                 <p><a href=\"/console/reports\">报表与每周图表 Reports and hours by week</a></p>\
                 <p><a href=\"/console/eligibility\">评选资格审查 Award eligibility, explained</a></p>\
                 <p><a href=\"/console/evaluations\">评议与选票 Evaluations and ballots</a></p>\
                 <p><a href=\"/console/boards\">星级榜 Star boards</a></p>\
                 <p><a href=\"/console/recognitions\">表彰 Published boards and recognitions</a></p>\
                 <p class=\"meta\"><a href=\"/\">公示栏 Notice board</a> · <a href=\"/graphql\">GraphiQL</a></p>"
            );
            page(&server, &caller, StatusCode::OK, "工作台 Console", None, &main)
        }
    };
    server.state.metrics.request("/console", response.status().as_u16());
    response
}

/// `GET /console/unit?code=…`: the home page's unit form, sent on to the unit's page.
#[handler]
pub(super) async fn unit_form(req: &Request) -> Response {
    let code = params(req, &["code"]).ok().and_then(|p| p.get("code").map(|c| c.trim().to_owned())).unwrap_or_default();
    let to = if code.is_empty() { "/console".to_owned() } else { format!("/console/units/{}", url_encode(&code)) };
    see_other(&to)
}

/// `POST /console/sign-in` (a form: `token`).
#[handler]
pub(super) async fn sign_in(req: &Request, body: Body, server: Data<&Arc<Server>>) -> Response {
    let response = sign_in_answer(req, body, &server).await;
    server.state.metrics.request("/console/sign-in", response.status().as_u16());
    response
}

async fn sign_in_answer(req: &Request, body: Body, server: &Server) -> Response {
    if !same_origin(req) {
        return sign_in_page(StatusCode::FORBIDDEN, Some((false, "sign in from this site's own page".into())));
    }
    let Ok(bytes) = body.into_bytes_limit(1024).await else {
        return sign_in_page(StatusCode::BAD_REQUEST, Some((false, "the form is too large".into())));
    };
    let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes).unwrap_or_default();
    let token = field(&fields, "token");
    match server.authenticate(Some(token), remote_ip(req)).await {
        Ok(_) => {
            let secure = server.state.certificates.as_ref().is_some_and(|c| c.base_url.starts_with("https://"));
            let cookie =
                format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict{}", if secure { "; Secure" } else { "" });
            Response::builder()
                .status(StatusCode::SEE_OTHER)
                .header(header::LOCATION, "/console")
                .header(header::SET_COOKIE, cookie)
                .header(header::CACHE_CONTROL, "no-store")
                .finish()
        }
        Err(super::AuthFailure::Unauthenticated(why)) => sign_in_page(StatusCode::UNAUTHORIZED, Some((false, why))),
        Err(super::AuthFailure::Internal(e)) => sign_in_page(StatusCode::SERVICE_UNAVAILABLE, Some((false, e.message))),
    }
}

/// `POST /console/sign-out`.
#[handler]
pub(super) async fn sign_out(req: &Request, body: Body, server: Data<&Arc<Server>>) -> Response {
    let response = match signed_form(&server, req, body).await {
        Err(refused) => refused,
        Ok(_) => forget(sign_in_page(StatusCode::OK, Some((true, "已退出 Signed out".into())))),
    };
    server.state.metrics.request("/console/sign-out", response.status().as_u16());
    response
}

/// `GET /console/units/{code}?after=…&done=…`.
#[handler]
pub(super) async fn unit_page(req: &Request, Path(code): Path<String>, server: Data<&Arc<Server>>) -> Response {
    let response = match signed_in(&server, req).await {
        Err(refused) => refused,
        Ok(caller) => {
            let params = params(req, &["after", "done", "asOf"]).unwrap_or_default();
            let said = match params.get("done").map(String::as_str) {
                Some("outing") => Some((true, "已登记活动 The outing is registered.".to_owned())),
                Some("verified") => Some((true, "已审核 The outing is verified.".to_owned())),
                Some("member") => Some((true, "已登记党员 The member is registered.".to_owned())),
                Some("transferred") => Some((true, "已调出 The member is transferred.".to_owned())),
                Some("summary") => Some((true, "已提交每周小结 The weekly summary is in.".to_owned())),
                _ => None,
            };
            let as_of = params.get("asOf").and_then(|p| p.trim().parse::<u64>().ok());
            unit_view(&server, &caller, code.trim(), params.get("after").map(String::as_str), as_of, said).await
        }
    };
    server.state.metrics.request("/console/units", response.status().as_u16());
    response
}

const UNIT_VIEW: &str = "query($unit: ID!, $first: Int!, $after: String, $asOf: AsOfInput) {
  me { role }
  unit(id: $unit) { id code name region industry }
  commitments(unit: $unit, includeWithdrawn: true, asOf: $asOf) {
    code category text from until public withdrawalReason assessment { fulfilment } }
  unitLedger(unit: $unit, first: $first, after: $after, asOf: $asOf) {
    totalCount totalRecordedHours totalVerifiedHours totalCreditHours asOfPosition
    pageInfo { hasNextPage endCursor }
    nodes { hours runningRecordedHours runningVerifiedHours
      outing { id code date start end place category verified voided version participants { memberId } } } } }";

/// A unit's console page, its ledger as of `as_of` (a log position) when given; `said`
/// the outcome of the last form. The forms are offered on the page of the log's head
/// only.
async fn unit_view(
    server: &Server,
    caller: &Principal,
    code: &str,
    after: Option<&str>,
    as_of: Option<u64>,
    said: Option<(bool, String)>,
) -> Response {
    let as_of_input = as_of.map(|p| json!({ "position": p }));
    let variables = json!({ "unit": code, "first": LINES_PER_PAGE, "after": after, "asOf": as_of_input });
    let answer = server.execute_as(caller.clone(), UNIT_VIEW, variables).await;
    let trouble = errors(&answer);
    let found = data(answer);
    if found["unit"].is_null() {
        let (status, message) = match trouble {
            Some(why) => (StatusCode::FORBIDDEN, why),
            None => (StatusCode::NOT_FOUND, format!("没有这个单位 There is no unit {code}")),
        };
        return page(server, caller, status, "单位台账 Ledger", Some((false, message)), "");
    }
    let unit = &found["unit"];
    let ledger = &found["unitLedger"];
    let now = as_of.is_none();
    let verifies = now && matches!(found["me"]["role"].as_str(), Some("ADMIN" | "REVIEWER"));
    let writes = now && matches!(found["me"]["role"].as_str(), Some("ADMIN" | "CLERK"));
    let s = |v: &Value| e(v.as_str().unwrap_or_default());
    let rows: String = ledger["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|line| {
            let o = &line["outing"];
            let status = match (o["voided"].as_bool(), o["verified"].as_bool()) {
                (Some(true), _) => "已作废 voided".to_owned(),
                (_, Some(true)) => "已审核 verified".to_owned(),
                _ if verifies => format!(
                    "<form method=\"post\" action=\"/console/verify\">{csrf}\
                     <input type=\"hidden\" name=\"outing\" value=\"{id}\"><input type=\"hidden\" name=\"version\" value=\"{version}\">\
                     <input type=\"hidden\" name=\"unit\" value=\"{unit}\"><button>审核 Verify</button></form>",
                    csrf = csrf_field(server, caller),
                    id = s(&o["id"]),
                    version = o["version"],
                    unit = e(code),
                ),
                _ => "待审核 to verify".to_owned(),
            };
            format!(
                "<tr><td>{date}<br><span class=\"meta\">{start}–{end}</span></td><td>{place}<br><span class=\"meta\">{category} · {people} 人</span></td>\
                 <td class=\"n\">{hours}</td><td class=\"n\">{recorded}</td><td class=\"n\">{verified}</td><td>{status}</td></tr>",
                date = s(&o["date"]),
                start = s(&o["start"]),
                end = s(&o["end"]),
                place = s(&o["place"]),
                category = s(&o["category"]),
                people = o["participants"].as_array().map_or(0, Vec::len),
                hours = s(&line["hours"]),
                recorded = s(&line["runningRecordedHours"]),
                verified = s(&line["runningVerifiedHours"]),
            )
        })
        .collect();
    let next = match (ledger["pageInfo"]["hasNextPage"].as_bool(), ledger["pageInfo"]["endCursor"].as_str()) {
        (Some(true), Some(cursor)) => {
            let kept = as_of.map(|p| format!("&amp;asOf={p}")).unwrap_or_default();
            format!(
                "<p><a href=\"/console/units/{}?after={}{kept}\">下一页 Next page</a></p>",
                url_encode(code),
                url_encode(cursor)
            )
        }
        _ => String::new(),
    };
    let commitments: String = found["commitments"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            let state = match (c["withdrawalReason"].is_string(), c["assessment"]["fulfilment"].as_str()) {
                (true, _) => "已撤回 withdrawn",
                (_, Some("KEPT")) => "已兑现 kept",
                (_, Some("PARTLY_KEPT")) => "部分兑现 partly kept",
                (_, Some(_)) => "未兑现 not kept",
                (_, None) => "履行中 in progress",
            };
            let shown = if c["public"].as_bool() == Some(true) { "公开 public" } else { "内部 within the unit" };
            format!(
                "<li><strong>{}</strong>：{}<br><span class=\"meta\">{} · {} – {} · {shown} · {state}</span></li>",
                s(&c["category"]),
                s(&c["text"]),
                s(&c["code"]),
                s(&c["from"]),
                s(&c["until"]),
            )
        })
        .collect();
    let commitments = if commitments.is_empty() {
        "<p>暂无承诺 No commitments.</p>".to_owned()
    } else {
        format!("<ul class=\"units\">{commitments}</ul>")
    };
    let summaries = summaries_section(server, caller, code, as_of, writes).await;
    let register = if writes {
        // Asked apart from the ledger: together they would pass the request's complexity.
        let members = "query($unit: ID!, $first: Int!) { unit(id: $unit) { members(first: $first) { totalCount nodes { id code erased personal { name } } } } }";
        let answer =
            server.execute_as(caller.clone(), members, json!({ "unit": code, "first": MEMBERS_OFFERED })).await;
        let trouble = errors(&answer).map(|why| format!("<p class=\"bad\">{}</p>", e(&why))).unwrap_or_default();
        let listed = data(answer);
        let current: Vec<&Value> = listed["unit"]["members"]["nodes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|m| m["erased"].as_bool() != Some(true))
            .collect();
        // The transfer's member is typed (a code) or picked from the members listed.
        let choices: String = current
            .iter()
            .map(|m| {
                let name = m["personal"]["name"].as_str().or(m["code"].as_str()).unwrap_or_default();
                format!("<option value=\"{}\">{}</option>", s(&m["code"]), e(name))
            })
            .collect();
        let total = listed["unit"]["members"]["totalCount"].as_u64().unwrap_or(0);
        let more = if total as usize > MEMBERS_OFFERED {
            format!(
                "<p class=\"note\">列出前 {MEMBERS_OFFERED} 名，共 {total} 名；其他党员请填编号。\
                 The first {MEMBERS_OFFERED} of {total} members are listed; give the others by number.</p>"
            )
        } else {
            String::new()
        };
        let offered: String = current
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let name = m["personal"]["name"].as_str().or(m["code"].as_str()).unwrap_or_default();
                format!(
                    "<li><input type=\"checkbox\" id=\"m{i}\" name=\"member\" value=\"{}\"> <label for=\"m{i}\" class=\"inline\">{} <span class=\"meta\">{}</span></label></li>",
                    s(&m["id"]),
                    e(name),
                    s(&m["code"]),
                )
            })
            .collect();
        format!(
            "<h2 id=\"register\">登记志愿服务活动 Register an outing</h2>\
             <form method=\"post\" action=\"/console/outings\">{csrf}<input type=\"hidden\" name=\"unit\" value=\"{unit}\">\
             <label for=\"date\">日期 Date</label><input id=\"date\" name=\"date\" type=\"date\" required>\
             <label for=\"start\">开始 Start</label><input id=\"start\" name=\"start\" type=\"time\" required>\
             <label for=\"end\">结束 End</label><input id=\"end\" name=\"end\" type=\"time\" required>\
             <label for=\"place\">地点 Place</label><input id=\"place\" name=\"place\" required maxlength=\"500\">\
             <label for=\"category\">类别 Category</label><input id=\"category\" name=\"category\" required maxlength=\"500\" placeholder=\"便民服务\">\
             <label for=\"description\">内容 What was done</label><textarea id=\"description\" name=\"description\" rows=\"2\" maxlength=\"500\"></textarea>\
             <fieldset><legend>参加人员（本单位党员）Participants</legend>{trouble}<ul class=\"picks\">{offered}</ul>{more}\
             <label for=\"codes\">按编号添加（逗号或空格分隔）More by number (commas or spaces between)</label>\
             <input id=\"codes\" name=\"codes\" maxlength=\"4000\" autocomplete=\"off\"></fieldset>\
             <div class=\"buttons\"><button>登记 Register</button></div></form>\
             <h2 id=\"members\">登记党员 Register a member</h2>\
             <form method=\"post\" action=\"/console/members\">{csrf}<input type=\"hidden\" name=\"unit\" value=\"{unit}\">\
             <label for=\"member-code\">编号 Member number</label><input id=\"member-code\" name=\"code\" required maxlength=\"64\">\
             <label for=\"member-name\">姓名 Name</label><input id=\"member-name\" name=\"name\" required maxlength=\"50\" autocomplete=\"off\">\
             <label for=\"joined\">入党或加入日期 Joined on</label><input id=\"joined\" name=\"joined\" type=\"date\" required>\
             <label for=\"member-phone\">电话（可不填）Phone (optional)</label><input id=\"member-phone\" name=\"phone\" type=\"tel\" maxlength=\"24\" autocomplete=\"off\">\
             <label for=\"national-id\">身份证号（可不填）Identity number (optional)</label><input id=\"national-id\" name=\"national_id\" maxlength=\"18\" autocomplete=\"off\">\
             <p class=\"note\">个人信息加密保存。Personal data is sealed at rest.</p>\
             <div class=\"buttons\"><button>登记 Register</button></div></form>\
             <h2 id=\"transfer\">党员调出 Transfer a member</h2>\
             <form method=\"post\" action=\"/console/transfers\">{csrf}<input type=\"hidden\" name=\"unit\" value=\"{unit}\">\
             <label for=\"transferred\">党员编号 Member number</label><input id=\"transferred\" name=\"member\" list=\"unit-members\" required maxlength=\"64\" autocomplete=\"off\">\
             <datalist id=\"unit-members\">{choices}</datalist>\
             <label for=\"to\">调入单位编号 To the unit (code)</label><input id=\"to\" name=\"to\" required maxlength=\"64\">\
             <label for=\"effective\">生效日期 Effective</label><input id=\"effective\" name=\"effective\" type=\"date\" required>\
             <div class=\"buttons\"><button>调出 Transfer</button></div></form>",
            csrf = csrf_field(server, caller),
            unit = e(code),
        )
    } else {
        String::new()
    };
    let kinds: &[(&str, &str)] = match (writes, verifies) {
        (true, true) => &[
            ("outings", "活动 Outings"),
            ("members", "党员 Members"),
            ("commitments", "承诺 Commitments"),
            ("verifications", "审核 Verifications"),
        ],
        (true, false) => {
            &[("outings", "活动 Outings"), ("members", "党员 Members"), ("commitments", "承诺 Commitments")]
        }
        (false, true) => &[("verifications", "审核 Verifications")],
        (false, false) => &[],
    };
    let upload = if kinds.is_empty() {
        String::new()
    } else {
        let options: String =
            kinds.iter().map(|(value, label)| format!("<option value=\"{value}\">{label}</option>")).collect();
        format!(
            "<h2 id=\"import\">导入表格 Import a CSV file</h2>\
             <form method=\"post\" action=\"/console/import\" enctype=\"multipart/form-data\">{csrf}\
             <input type=\"hidden\" name=\"unit\" value=\"{unit}\">\
             <label for=\"kind\">内容 What the file holds</label><select id=\"kind\" name=\"kind\">{options}</select>\
             <label for=\"file\">文件（CSV，UTF-8 或 GBK）File (CSV, UTF-8 or GBK)</label><input id=\"file\" name=\"file\" type=\"file\" accept=\".csv,text/csv\" required>\
             <label for=\"encoding\">编码 Encoding</label><select id=\"encoding\" name=\"encoding\"><option value=\"utf-8\">UTF-8</option><option value=\"gbk\">GBK (Excel 中文版)</option></select>\
             <p class=\"note\">先逐行检查：有任何错误则一行也不写入，并列出每个错误。Every row is checked first: with any problem nothing is written, and each problem is listed.</p>\
             <div class=\"buttons\"><button>上传 Upload</button></div></form>",
            csrf = csrf_field(server, caller),
            unit = e(code),
        )
    };
    let main = format!(
        "<p class=\"meta\">{region} · {industry} · <a href=\"/units/{link}\">公示页 Public page</a></p>\
         <h2>台账 Ledger</h2><p>共 {count} 次活动；记录 {recorded} 小时，其中审核 {verified} 小时，签到 {credit} 小时。\
         {count} outings; {recorded} h recorded, {verified} h verified, {credit} h from check-in.</p>\
         <div class=\"wrap\" tabindex=\"0\" role=\"region\" aria-label=\"台账 Ledger\"><table><thead><tr><th>日期 Date</th><th>地点 Place</th><th class=\"n\">小时 Hours</th>\
         <th class=\"n\">累计 Running</th><th class=\"n\">累计审核 Verified</th><th>状态 Status</th></tr></thead><tbody>{rows}</tbody></table></div>\
         {next}<h2>承诺 Commitments</h2>{commitments}{summaries}<form method=\"get\" action=\"/console/units/{link}\">\
         <label for=\"asOf\">查看某一日志位置时的台账 The ledger as of a log position</label>\
         <input id=\"asOf\" name=\"asOf\" inputmode=\"numeric\" value=\"{as_of}\" maxlength=\"20\">\
         <div class=\"buttons\"><button>查看 Show</button></div></form>\
         {register}{upload}<h2>下载 Downloads</h2><ul>\
         <li><a href=\"/export/ledger?unit={link}&amp;format=xlsx\">台账 The ledger (XLSX)</a></li>\
         <li><a href=\"/export/commitments?unit={link}&amp;format=xlsx\">承诺事项公示表 The public commitments (XLSX)</a></li></ul>\
         <p class=\"meta\">日志位置 As of log position {position}</p>",
        as_of = as_of.map(|p| p.to_string()).unwrap_or_default(),
        region = s(&unit["region"]),
        industry = s(&unit["industry"]),
        link = url_encode(code),
        count = ledger["totalCount"],
        recorded = s(&ledger["totalRecordedHours"]),
        verified = s(&ledger["totalVerifiedHours"]),
        credit = s(&ledger["totalCreditHours"]),
        position = ledger["asOfPosition"],
    );
    let title = format!("{} 台账", unit["name"].as_str().unwrap_or_default());
    page(server, caller, StatusCode::OK, &e(&title), said, &main)
}

/// Answers a console form: on success back to the unit's page (`303`), otherwise the
/// unit's page again with the refusal.
async fn after_form(
    server: &Server,
    caller: &Principal,
    unit: &str,
    done: &str,
    answer: async_graphql::Response,
) -> Response {
    match errors(&answer) {
        None => see_other(&format!("/console/units/{}?done={done}", url_encode(unit))),
        Some(why) => {
            let mut response = unit_view(server, caller, unit, None, None, Some((false, why))).await;
            if response.status() == StatusCode::OK {
                response.set_status(StatusCode::UNPROCESSABLE_ENTITY);
            }
            response
        }
    }
}

/// `POST /console/outings`: registers an outing, each participant for its whole span.
#[handler]
pub(super) async fn register_outing(req: &Request, body: Body, server: Data<&Arc<Server>>) -> Response {
    let register = "mutation($input: RegisterOutingInput!) { registerOuting(input: $input) { receipt { position } } }";
    let response = run_form(&server, req, body, "outing", register, |fields| {
        // Those ticked, then those given by number (a unit's members beyond the list).
        let typed = field(fields, "codes").split([',', '，', '、', ' ', '\n', '\t']).filter(|c| !c.trim().is_empty());
        let ticked = fields.iter().filter(|(n, _)| n == "member").map(|(_, m)| m.as_str());
        let participants: Vec<Value> = ticked.chain(typed.map(str::trim)).map(|m| json!({ "member": m })).collect();
        let description = Some(field(fields, "description")).filter(|d| !d.is_empty());
        json!({ "input": {
            "unit": field(fields, "unit"),
            "details": {
                "date": field(fields, "date"),
                "start": field(fields, "start"),
                "end": field(fields, "end"),
                "place": field(fields, "place"),
                "category": field(fields, "category"),
                "description": description,
            },
            "participants": participants,
        } })
    })
    .await;
    server.state.metrics.request("/console/outings", response.status().as_u16());
    response
}

/// `POST /console/verify`: verifies an outing as the version the page showed.
#[handler]
pub(super) async fn verify(req: &Request, body: Body, server: Data<&Arc<Server>>) -> Response {
    let verify = "mutation($input: VerifyOutingInput!) { verifyOuting(input: $input) { receipt { position } } }";
    let response = run_form(&server, req, body, "verified", verify, |fields| {
        let version: Option<u32> = field(fields, "version").parse().ok();
        json!({ "input": { "outing": field(fields, "outing"), "expectedVersion": version } })
    })
    .await;
    server.state.metrics.request("/console/verify", response.status().as_u16());
    response
}

/// `POST /console/import` (multipart: `csrf`, `unit`, `kind`, `encoding`, `file`).
#[handler]
pub(super) async fn import(req: &Request, multipart: Multipart, server: Data<&Arc<Server>>) -> Response {
    let response = match signed_in(&server, req).await {
        Err(refused) => refused,
        Ok(caller) => import_answer(&server, &caller, req, multipart).await,
    };
    server.state.metrics.request("/console/import", response.status().as_u16());
    response
}

async fn import_answer(server: &Server, caller: &Principal, req: &Request, mut multipart: Multipart) -> Response {
    let refuse =
        |status: StatusCode, message: String| page(server, caller, status, "导入 Import", Some((false, message)), "");
    if !same_origin(req) {
        return refuse(
            StatusCode::FORBIDDEN,
            "这个表单只能从本站页面提交。This form is sent from this site's own pages only.".into(),
        );
    }
    let (mut fields, mut file) = (Vec::new(), None);
    loop {
        match multipart.next_field().await {
            Ok(None) => break,
            Ok(Some(part)) => {
                let name = part.name().unwrap_or_default().to_owned();
                // The file may be large (it is bounded as the import route bounds it); the
                // other fields are short.
                let limit = if name == "file" { IMPORT_BODY_BYTES } else { 1024 };
                let mut bytes = Vec::new();
                let mut reader = part.into_async_read();
                let read = tokio::io::AsyncReadExt::read_to_end(
                    &mut tokio::io::AsyncReadExt::take(&mut reader, limit as u64 + 1),
                    &mut bytes,
                )
                .await;
                if read.is_err() || bytes.len() > limit {
                    return refuse(StatusCode::PAYLOAD_TOO_LARGE, format!("{name}: larger than {limit} bytes"));
                }
                match name.as_str() {
                    "file" => file = Some(bytes),
                    _ => fields.push((name, String::from_utf8_lossy(&bytes).into_owned())),
                }
            }
            Err(_) => return refuse(StatusCode::BAD_REQUEST, "the upload could not be read".into()),
        }
    }
    if !csrf_holds(server, caller, &fields) {
        return refuse(
            StatusCode::FORBIDDEN,
            "表单已失效，请刷新页面后重试。The form has no valid CSRF token: reload the page and send it again.".into(),
        );
    }
    let unit = field(&fields, "unit").to_owned();
    let Ok(kind) = field(&fields, "kind").parse::<taizhang_io::Kind>() else {
        return refuse(StatusCode::BAD_REQUEST, "choose what the file holds".into());
    };
    let Ok(encoding) = field(&fields, "encoding").parse() else {
        return refuse(StatusCode::BAD_REQUEST, "choose the file's encoding".into());
    };
    let Some(file) = file.filter(|f| !f.is_empty()) else {
        return refuse(StatusCode::BAD_REQUEST, "选择要上传的文件 Choose a file to upload".into());
    };
    let options = ImportOptions { encoding, ..ImportOptions::default() };
    let (status, answer) = match server.import(caller, kind, file, options).await {
        Ok(done) => done,
        Err(refused) => {
            let why = String::from_utf8_lossy(&refused.into_body().into_bytes().await.unwrap_or_default()).into_owned();
            return refuse(StatusCode::FORBIDDEN, why);
        }
    };
    // Back where the form was: a console page this server names (a unit's ledger, or
    // the page the form says, when it is one of the console's own).
    let back = match field(&fields, "back") {
        to if to.starts_with("/console/") && !to.contains("//") => {
            format!("<p><a href=\"{}\">返回 Back</a></p>", e(to))
        }
        _ => format!("<p><a href=\"/console/units/{}\">返回台账 Back to the ledger</a></p>", url_encode(&unit)),
    };
    if answer.problems.is_empty() {
        let said = format!(
            "已导入 {} 行，写入 {} 条记录（{} 行此前已导入）。{} rows: {} records written, {} already in the log.",
            answer.rows,
            answer.written,
            answer.already_in_the_log,
            answer.rows,
            answer.written,
            answer.already_in_the_log
        );
        return page(server, caller, status, "导入 Import", Some((true, said)), &back);
    }
    let rows: String = answer
        .problems
        .iter()
        .map(|p| {
            format!(
                "<tr><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td><td>{}</td></tr>",
                p.line,
                p.column,
                e(p.header.unwrap_or("")),
                e(&p.message)
            )
        })
        .collect();
    let said = format!(
        "文件有 {} 处问题，未写入任何记录；改正后重新上传。{} problems: nothing was written. Correct the file and upload it again.",
        answer.problems.len(),
        answer.problems.len()
    );
    let table = format!(
        "<div class=\"wrap\" tabindex=\"0\" role=\"region\" aria-label=\"问题 Problems\"><table><caption>问题 Problems</caption><thead><tr><th class=\"n\">行 Line</th><th class=\"n\">列 Column</th>\
         <th>表头 Header</th><th>问题 Problem</th></tr></thead><tbody>{rows}</tbody></table></div>{back}"
    );
    page(server, caller, status, "导入 Import", Some((false, said)), &table)
}

const REPORT: &str = "query($period: PeriodInput!, $scope: ScopeInput!, $by: GroupBy!) {
  groups: report(period: $period, scope: $scope, groupBy: $by) { asOfPosition
    rows { label outings volunteers recordedHours verifiedHours creditHours participationRatePercent } }
  weeks: report(period: $period, scope: $scope, groupBy: TOTAL, bucket: WEEK) {
    rows { first recordedHours verifiedHours } } }";

/// `GET /console/reports?first=…&last=…&by=region|industry|unit|total&region=…&industry=…`.
#[handler]
pub(super) async fn reports(req: &Request, server: Data<&Arc<Server>>) -> Response {
    let response = match signed_in(&server, req).await {
        Err(refused) => refused,
        Ok(caller) => {
            let params = params(req, &["first", "last", "by", "region", "industry"]).unwrap_or_default();
            report_view(&server, &caller, &params).await
        }
    };
    server.state.metrics.request("/console/reports", response.status().as_u16());
    response
}

/// The day of the latest outing registered (today before any): where the console's
/// reports and weekly summaries start, so that they show the campaign's own time.
fn latest_service_day(server: &Server) -> time::Date {
    let latest = server.state.projector.read(|m| {
        let number = u32::try_from(m.outings.len()).ok()?.checked_sub(1)?;
        m.outing_by_number(number, m.position).map(|o| o.date())
    });
    latest.unwrap_or_else(|| taizhang_core::Timestamp::now().service_date())
}

/// The half-year of the latest outing registered: what a report is first shown for.
fn default_period(server: &Server) -> (time::Date, time::Date) {
    let day = latest_service_day(server);
    let (first, last) = if day.month() as u8 <= 6 { ((1, 1), (6, 30)) } else { ((7, 1), (12, 31)) };
    let date = |(m, d): (u8, u8)| {
        time::Date::from_calendar_date(day.year(), time::Month::try_from(m).expect("a month"), d).expect("a date")
    };
    (date(first), date(last))
}

async fn report_view(
    server: &Server,
    caller: &Principal,
    params: &std::collections::BTreeMap<String, String>,
) -> Response {
    let (default_first, default_last) = default_period(server);
    let text = |name: &str| params.get(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    let first = text("first").unwrap_or_else(|| default_first.to_string());
    let last = text("last").unwrap_or_else(|| default_last.to_string());
    let by = match text("by").as_deref() {
        Some("industry") => "INDUSTRY",
        Some("unit") => "UNIT",
        Some("total") => "TOTAL",
        _ => "REGION",
    };
    let (region, industry) = (text("region"), text("industry"));
    let variables = json!({
        "period": { "first": first, "last": last },
        "scope": { "region": region, "industry": industry },
        "by": by,
    });
    let answer = server.execute_as(caller.clone(), REPORT, variables).await;
    let trouble = errors(&answer);
    let found = data(answer);
    let s = |v: &Value| e(v.as_str().unwrap_or_default());
    let chosen = |value: &str| if by.eq_ignore_ascii_case(value) { " selected" } else { "" };
    let form = format!(
        "<form method=\"get\" action=\"/console/reports\">\
         <label for=\"first\">自 From</label><input id=\"first\" name=\"first\" type=\"date\" value=\"{first}\" required>\
         <label for=\"last\">至 To</label><input id=\"last\" name=\"last\" type=\"date\" value=\"{last}\" required>\
         <label for=\"by\">分组 Group by</label><select id=\"by\" name=\"by\">\
         <option value=\"region\"{r}>县（市、区）Region</option><option value=\"industry\"{i}>行业 Industry</option>\
         <option value=\"unit\"{u}>单位 Unit</option><option value=\"total\"{t}>合计 Total</option></select>\
         <label for=\"region\">只看县（市、区）Only a region</label><input id=\"region\" name=\"region\" value=\"{region}\" maxlength=\"50\">\
         <label for=\"industry\">只看行业 Only an industry</label><input id=\"industry\" name=\"industry\" value=\"{industry}\" maxlength=\"50\">\
         <div class=\"buttons\"><button>查询 Show</button></div></form>",
        first = e(&first),
        last = e(&last),
        r = chosen("region"),
        i = chosen("industry"),
        u = chosen("unit"),
        t = chosen("total"),
        region = e(region.as_deref().unwrap_or("")),
        industry = e(industry.as_deref().unwrap_or("")),
    );
    if let Some(why) = trouble {
        return page(server, caller, StatusCode::UNPROCESSABLE_ENTITY, "报表 Reports", Some((false, why)), &form);
    }
    let rows: String = found["groups"]["rows"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|row| {
            let rate = row["participationRatePercent"].as_f64().map_or_else(|| "–".to_owned(), |p| format!("{p:.1}%"));
            format!(
                "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{rate}</td></tr>",
                s(&row["label"]),
                row["outings"],
                row["volunteers"],
                s(&row["recordedHours"]),
                s(&row["verifiedHours"]),
                s(&row["creditHours"]),
            )
        })
        .collect();
    let weeks: Vec<(String, f64, f64)> = found["weeks"]["rows"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|row| {
            let hours = |v: &Value| v.as_str().and_then(|h| h.parse::<f64>().ok()).unwrap_or(0.0);
            (
                row["first"].as_str().unwrap_or_default().to_owned(),
                hours(&row["recordedHours"]),
                hours(&row["verifiedHours"]),
            )
        })
        .collect();
    let main = format!(
        "{form}<h2>每周服务时长 Hours by week</h2>{chart}\
         <h2>分组统计 By group</h2><div class=\"wrap\" tabindex=\"0\" role=\"region\" aria-label=\"分组统计 By group\"><table>\
         <thead><tr><th>分组 Group</th><th class=\"n\">活动 Outings</th><th class=\"n\">人数 Volunteers</th><th class=\"n\">记录 Recorded h</th>\
         <th class=\"n\">审核 Verified h</th><th class=\"n\">签到 Credit h</th><th class=\"n\">参与率 Participation</th></tr></thead><tbody>{rows}</tbody></table></div>\
         <p class=\"meta\">日志位置 As of log position {position}</p>",
        chart = week_chart(&weeks),
        position = found["groups"]["asOfPosition"],
    );
    page(server, caller, StatusCode::OK, "报表 Reports", None, &main)
}

/// The hours of each week as bars (recorded, and verified beside them) in an inline SVG,
/// with the same figures in a table for those who do not see the picture.
fn week_chart(weeks: &[(String, f64, f64)]) -> String {
    if weeks.is_empty() {
        return "<p>这段时间没有服务记录。No service in the period.</p>".to_owned();
    }
    // The picture's size and margins, in its own units (it scales to the screen).
    const WIDTH: f64 = 600.0;
    const HEIGHT: f64 = 220.0;
    const TOP: f64 = 10.0;
    const BOTTOM: f64 = 30.0;
    const LEFT: f64 = 44.0;
    let most = weeks.iter().map(|(_, recorded, _)| *recorded).fold(0.0_f64, f64::max).max(1.0);
    let slot = (WIDTH - LEFT) / weeks.len() as f64;
    let bar = (slot * 0.4).max(1.0);
    let scale = |hours: f64| (HEIGHT - TOP - BOTTOM) * hours / most;
    let mut svg = format!(
        "<svg viewBox=\"0 0 {WIDTH} {HEIGHT}\" width=\"100%\" role=\"img\" aria-labelledby=\"chart-title\" style=\"max-width:100%;height:auto\">\
         <title id=\"chart-title\">每周服务时长：记录（蓝）与审核（绿） Hours by week: recorded (blue) and verified (green)</title>\
         <line x1=\"{LEFT}\" y1=\"{base}\" x2=\"{WIDTH}\" y2=\"{base}\" stroke=\"#666\"/>\
         <text x=\"{tick}\" y=\"{top}\" font-size=\"11\" text-anchor=\"end\">{most:.0}</text>\
         <text x=\"{tick}\" y=\"{base}\" font-size=\"11\" text-anchor=\"end\">0</text>",
        base = HEIGHT - BOTTOM,
        tick = LEFT - 4.0,
        top = TOP + 10.0,
    );
    for (i, (first, recorded, verified)) in weeks.iter().enumerate() {
        let x = LEFT + slot * i as f64 + slot * 0.1;
        for (offset, hours, colour) in [(0.0, *recorded, "#0b57a4"), (bar, *verified, "#0a5d22")] {
            let h = scale(hours);
            svg.push_str(&format!(
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{bar:.1}\" height=\"{h:.1}\" fill=\"{colour}\"/>",
                x + offset,
                HEIGHT - BOTTOM - h
            ));
        }
        // A date under every fourth week, so that the labels do not overlap.
        if i % 4 == 0 {
            svg.push_str(&format!(
                "<text x=\"{x:.1}\" y=\"{:.1}\" font-size=\"11\">{}</text>",
                HEIGHT - BOTTOM + 16.0,
                e(first.get(5..).unwrap_or(first))
            ));
        }
    }
    svg.push_str("</svg>");
    let rows: String = weeks
        .iter()
        .map(|(first, recorded, verified)| {
            format!(
                "<tr><td>{}</td><td class=\"n\">{recorded:.2}</td><td class=\"n\">{verified:.2}</td></tr>",
                e(first)
            )
        })
        .collect();
    format!(
        "{svg}<p class=\"meta\"><span style=\"color:#0b57a4\">■</span> 记录 recorded · <span style=\"color:#0a5d22\">■</span> 审核 verified</p>\
         <details><summary>每周数字 The figures</summary><div class=\"wrap\" tabindex=\"0\" role=\"region\" aria-label=\"每周数字 The figures\"><table>\
         <thead><tr><th>周起 Week of</th><th class=\"n\">记录 Recorded h</th><th class=\"n\">审核 Verified h</th></tr></thead>\
         <tbody>{rows}</tbody></table></div></details>"
    )
}

/// Answers a console form that runs `mutation` with `variables`, for `unit`'s page.
async fn run_form(
    server: &Server,
    req: &Request,
    body: Body,
    done: &str,
    mutation: &str,
    variables: impl FnOnce(&[(String, String)]) -> Value,
) -> Response {
    match signed_form(server, req, body).await {
        Err(refused) => refused,
        Ok((caller, fields)) => {
            let unit = field(&fields, "unit").to_owned();
            let answer = server.execute_as(caller.clone(), mutation, variables(&fields)).await;
            after_form(server, &caller, &unit, done, answer).await
        }
    }
}

/// `POST /console/members`: registers a member with the unit.
#[handler]
pub(super) async fn register_member(req: &Request, body: Body, server: Data<&Arc<Server>>) -> Response {
    let register = "mutation($input: RegisterMemberInput!) { registerMember(input: $input) { receipt { position } } }";
    let response = run_form(&server, req, body, "member", register, |fields| {
        let optional = |name: &str| Some(field(fields, name)).filter(|v| !v.is_empty());
        json!({ "input": {
            "code": field(fields, "code"),
            "unit": field(fields, "unit"),
            "joinedOn": field(fields, "joined"),
            "personal": { "name": field(fields, "name"), "phone": optional("phone"), "nationalId": optional("national_id") },
        } })
    })
    .await;
    server.state.metrics.request("/console/members", response.status().as_u16());
    response
}

/// `POST /console/transfers`: transfers a member from the unit to another.
#[handler]
pub(super) async fn transfer_member(req: &Request, body: Body, server: Data<&Arc<Server>>) -> Response {
    let transfer = "mutation($input: TransferMemberInput!) { transferMember(input: $input) { receipt { position } } }";
    let response = run_form(&server, req, body, "transferred", transfer, |fields| {
        json!({ "input": {
            "member": field(fields, "member"),
            "to": field(fields, "to"),
            "effective": field(fields, "effective"),
        } })
    })
    .await;
    server.state.metrics.request("/console/transfers", response.status().as_u16());
    response
}

const ELIGIBILITY: &str = "query($policy: String!, $member: ID, $unit: ID, $period: PeriodInput!, $asOf: AsOfInput) {
  eligibility(policy: $policy, member: $member, unit: $unit, period: $period, asOf: $asOf) {
    policy policyVersion asOfPosition outcome
    levels { name label met criteria { metric required actual met
      counted { outing date hours position } excluded { outing date reason } } } } }";

/// Counted and excluded outings listed under a criterion, at most.
const OUTINGS_LISTED: usize = 20;

/// `GET /console/eligibility?policy=…&subject=member|unit&code=…&first=…&last=…&asOf=…`.
#[handler]
pub(super) async fn eligibility(req: &Request, server: Data<&Arc<Server>>) -> Response {
    let response = match signed_in(&server, req).await {
        Err(refused) => refused,
        Ok(caller) => {
            let params = params(req, &["policy", "subject", "code", "first", "last", "asOf"]).unwrap_or_default();
            eligibility_view(&server, &caller, &params).await
        }
    };
    server.state.metrics.request("/console/eligibility", response.status().as_u16());
    response
}

async fn eligibility_view(
    server: &Server,
    caller: &Principal,
    params: &std::collections::BTreeMap<String, String>,
) -> Response {
    let text = |name: &str| params.get(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    let (default_first, default_last) = default_period(server);
    let first = text("first").unwrap_or_else(|| default_first.to_string());
    let last = text("last").unwrap_or_else(|| default_last.to_string());
    let (policy, code, as_of) = (text("policy"), text("code"), text("asOf"));
    let of_unit = text("subject").as_deref() == Some("unit");
    let policies = data(server.execute_as(caller.clone(), "{ policies { name title subject } }", json!({})).await);
    let options: String = policies["policies"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            let name = p["name"].as_str().unwrap_or_default();
            let chosen = if policy.as_deref() == Some(name) { " selected" } else { "" };
            format!(
                "<option value=\"{}\"{chosen}>{} ({})</option>",
                e(name),
                e(p["title"].as_str().unwrap_or(name)),
                e(p["subject"].as_str().unwrap_or_default())
            )
        })
        .collect();
    let form = format!(
        "<form method=\"get\" action=\"/console/eligibility\">\
         <label for=\"policy\">评选办法 Policy</label><select id=\"policy\" name=\"policy\">{options}</select>\
         <label for=\"subject\">对象 Who</label><select id=\"subject\" name=\"subject\">\
         <option value=\"member\"{m}>党员 A member</option><option value=\"unit\"{u}>单位 A unit</option></select>\
         <label for=\"code\">编号 Code</label><input id=\"code\" name=\"code\" value=\"{code}\" required maxlength=\"64\">\
         <label for=\"first\">自 From</label><input id=\"first\" name=\"first\" type=\"date\" value=\"{first}\" required>\
         <label for=\"last\">至 To</label><input id=\"last\" name=\"last\" type=\"date\" value=\"{last}\" required>\
         <label for=\"asOf\">日志位置（可不填）As of a log position (optional)</label><input id=\"asOf\" name=\"asOf\" inputmode=\"numeric\" value=\"{as_of}\" maxlength=\"20\">\
         <div class=\"buttons\"><button>审查 Explain</button></div></form>",
        m = if of_unit { "" } else { " selected" },
        u = if of_unit { " selected" } else { "" },
        code = e(code.as_deref().unwrap_or("")),
        first = e(&first),
        last = e(&last),
        as_of = e(as_of.as_deref().unwrap_or("")),
    );
    let (Some(policy), Some(code)) = (policy, code) else {
        return page(server, caller, StatusCode::OK, "评选资格 Eligibility", None, &form);
    };
    let position = as_of.as_deref().and_then(|p| p.parse::<u64>().ok()).map(|p| json!({ "position": p }));
    let variables = json!({
        "policy": policy,
        "member": (!of_unit).then_some(&code),
        "unit": of_unit.then_some(&code),
        "period": { "first": first, "last": last },
        "asOf": position,
    });
    let answer = server.execute_as(caller.clone(), ELIGIBILITY, variables).await;
    if let Some(why) = errors(&answer) {
        return page(
            server,
            caller,
            StatusCode::UNPROCESSABLE_ENTITY,
            "评选资格 Eligibility",
            Some((false, why)),
            &form,
        );
    }
    let found = data(answer);
    let found = &found["eligibility"];
    let s = |v: &Value| e(v.as_str().unwrap_or_default());
    let mark = |met: &Value| if met.as_bool() == Some(true) { "✔ 达到 met" } else { "✘ 未达到 not met" };
    let levels: String = found["levels"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|level| {
            let criteria: String = level["criteria"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| {
                    let counted = c["counted"].as_array().map_or(&[][..], Vec::as_slice);
                    let excluded = c["excluded"].as_array().map_or(&[][..], Vec::as_slice);
                    let counted_list: String = counted
                        .iter()
                        .take(OUTINGS_LISTED)
                        .map(|o| format!("<li>{} · {} h · <span class=\"meta\">{}</span></li>", s(&o["date"]), s(&o["hours"]), s(&o["outing"])))
                        .collect();
                    let excluded_list: String = excluded
                        .iter()
                        .take(OUTINGS_LISTED)
                        .map(|o| format!("<li>{} · {} <span class=\"meta\">{}</span></li>", s(&o["date"]), s(&o["reason"]), s(&o["outing"])))
                        .collect();
                    format!(
                        "<tr><td>{metric}</td><td class=\"n\">{required}</td><td class=\"n\">{actual}</td><td>{met}</td></tr>\
                         <tr><td colspan=\"4\"><details><summary>计入 {nc} 次，未计入 {ne} 次 {nc} outings counted, {ne} left out</summary>\
                         <ul>{counted_list}</ul><ul>{excluded_list}</ul></details></td></tr>",
                        metric = s(&c["metric"]),
                        required = s(&c["required"]),
                        actual = s(&c["actual"]),
                        met = mark(&c["met"]),
                        nc = counted.len(),
                        ne = excluded.len(),
                    )
                })
                .collect();
            format!(
                "<h3>{label} <span class=\"meta\">{met}</span></h3><div class=\"wrap\" tabindex=\"0\" role=\"region\" aria-label=\"{label}\"><table>\
                 <thead><tr><th>条件 Criterion</th><th class=\"n\">要求 Required</th><th class=\"n\">实际 Actual</th><th>结果 Result</th></tr></thead>\
                 <tbody>{criteria}</tbody></table></div>",
                label = e(level["label"].as_str().or(level["name"].as_str()).unwrap_or_default()),
                met = mark(&level["met"]),
            )
        })
        .collect();
    let outcome = found["outcome"]
        .as_str()
        .map_or_else(|| "未达到任何等次 No level met".to_owned(), |o| format!("达到 Met: {}", e(o)));
    let main = format!(
        "{form}<h2>{code}：{outcome}</h2><p class=\"meta\">{policy} v{version} · {first} – {last} · 日志位置 As of log position {position}</p>{levels}",
        code = e(&code),
        policy = s(&found["policy"]),
        version = found["policyVersion"],
        position = found["asOfPosition"],
    );
    page(server, caller, StatusCode::OK, "评选资格 Eligibility", None, &main)
}

/// Weeks of summaries a unit's console page shows.
const WEEKS_SHOWN: i64 = 8;

/// The unit's weekly summaries of the eight weeks up to the latest outing's (each week
/// asked for by name, as the API reads them), and for those who write the unit's
/// records, the form to submit or revise one.
async fn summaries_section(
    server: &Server,
    caller: &Principal,
    code: &str,
    as_of: Option<u64>,
    writes: bool,
) -> String {
    let latest = latest_service_day(server);
    let weeks: Vec<String> = (0..WEEKS_SHOWN)
        .map(|back| {
            let day = latest - time::Duration::weeks(back);
            let (year, week, _) = day.to_iso_week_date();
            format!("{year}-W{week:02}")
        })
        .collect();
    let fields: String = (0..weeks.len())
        .map(|i| format!("w{i}: weeklySummary(unit: $unit, week: $w{i}, asOf: $asOf) {{ week done revisions }} "))
        .collect();
    let declared: Vec<String> = (0..weeks.len()).map(|i| format!("$w{i}: String!")).collect();
    let query = format!("query($unit: ID!, $asOf: AsOfInput, {}) {{ {fields}}}", declared.join(", "));
    let mut variables = serde_json::Map::new();
    variables.insert("unit".into(), json!(code));
    variables.insert("asOf".into(), json!(as_of.map(|p| json!({ "position": p }))));
    for (i, week) in weeks.iter().enumerate() {
        variables.insert(format!("w{i}"), json!(week));
    }
    let found = data(server.execute_as(caller.clone(), &query, Value::Object(variables)).await);
    let listed: String = weeks
        .iter()
        .enumerate()
        .map(|(i, week)| {
            let summary = &found[format!("w{i}")];
            match summary["done"].as_str() {
                Some(done) => format!("<li><strong>{}</strong> {}</li>", e(week), e(done)),
                None => format!("<li><strong>{}</strong> <span class=\"bad\">未提交 missing</span></li>", e(week)),
            }
        })
        .collect();
    let form = if writes {
        format!(
            "<form method=\"post\" action=\"/console/summaries\">{csrf}<input type=\"hidden\" name=\"unit\" value=\"{unit}\">\
             <label for=\"week\">周 Week</label><input id=\"week\" name=\"week\" value=\"{week}\" required maxlength=\"8\" placeholder=\"2011-W23\">\
             <label for=\"done\">本周做了什么 What was done</label><textarea id=\"done\" name=\"done\" rows=\"3\" required maxlength=\"500\"></textarea>\
             <label for=\"learnt\">体会 What was learnt</label><textarea id=\"learnt\" name=\"learnt\" rows=\"2\" maxlength=\"500\"></textarea>\
             <label for=\"plan\">下周打算 What comes next</label><textarea id=\"plan\" name=\"next\" rows=\"2\" maxlength=\"500\"></textarea>\
             <div class=\"buttons\"><button>提交 Submit</button></div></form>",
            csrf = csrf_field(server, caller),
            unit = e(code),
            week = e(&weeks[0]),
        )
    } else {
        String::new()
    };
    format!("<h2 id=\"summaries\">每周小结 Weekly summaries</h2><ul>{listed}</ul>{form}")
}

/// `POST /console/summaries`: submits (or revises) the unit's summary of a week.
#[handler]
pub(super) async fn submit_summary(req: &Request, body: Body, server: Data<&Arc<Server>>) -> Response {
    let submit =
        "mutation($input: SubmitWeeklySummaryInput!) { submitWeeklySummary(input: $input) { receipt { position } } }";
    let response = run_form(&server, req, body, "summary", submit, |fields| {
        let optional = |name: &str| Some(field(fields, name)).filter(|v| !v.is_empty());
        json!({ "input": {
            "unit": field(fields, "unit"),
            "week": field(fields, "week"),
            "done": field(fields, "done"),
            "learnt": optional("learnt"),
            "next": optional("next"),
        } })
    })
    .await;
    server.state.metrics.request("/console/summaries", response.status().as_u16());
    response
}

const RECOGNITIONS: &str = "query($halfYear: String) {
  publishedBoards(halfYear: $halfYear) { id name halfYear policy asOfPosition entryCount }
  recognitions(halfYear: $halfYear, first: 200) { totalCount recognitions { id award awardLabel policy halfYear
    member memberCode unit unitCode unitName status listedUntil unansweredObjections
    decision { board outcome required holds exception } } } }";

/// `GET /console/recognitions[?halfYear=2011H1]`: the published boards and the
/// nominations, the first 200, each with its status; those waiting for a decision with
/// a form to decide them on a board of their policy and half-year (an exception with
/// its reason where the evidence does not hold). The schema decides who may see and do
/// what: a clerk sees the list, and is refused a decision.
#[handler]
pub(super) async fn recognitions(req: &Request, server: Data<&Arc<Server>>) -> Response {
    let response = match signed_in(&server, req).await {
        Err(refused) => refused,
        Ok(caller) => {
            let params = params(req, &["halfYear", "done"]).unwrap_or_default();
            let said = match params.get("done").map(String::as_str) {
                Some("published") => Some((true, "星级榜已发布。The board is published.".to_owned())),
                Some(_) => Some((true, "已决定。Decided.".to_owned())),
                None => None,
            };
            recognitions_view(&server, &caller, chosen_half_year(params.get("halfYear")), StatusCode::OK, said).await
        }
    };
    server.state.metrics.request("/console/recognitions", response.status().as_u16());
    response
}

async fn recognitions_view(
    server: &Server,
    caller: &Principal,
    half_year: Option<String>,
    status: StatusCode,
    said: Option<(bool, String)>,
) -> Response {
    let answer = server.execute_as(caller.clone(), RECOGNITIONS, json!({ "halfYear": half_year })).await;
    if let Some(why) = errors(&answer) {
        return page(server, caller, StatusCode::UNPROCESSABLE_ENTITY, "评星表彰 Recognitions", Some((false, why)), "");
    }
    let found = data(answer);
    let boards = found["publishedBoards"].as_array().cloned().unwrap_or_default();
    let board_rows: String = boards
        .iter()
        .map(|b| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                e(b["name"].as_str().unwrap_or_default()),
                e(b["halfYear"].as_str().unwrap_or_default()),
                e(b["policy"].as_str().unwrap_or_default()),
                b["entryCount"],
                b["asOfPosition"],
            )
        })
        .collect();
    let csrf = csrf_field(server, caller);
    let rows: String = found["recognitions"]["recognitions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            let who = r["memberCode"].as_str().map_or_else(|| "本单位 the unit".to_owned(), |m| format!("党员 member {m}"));
            let state = match (r["status"].as_str(), &r["decision"]) {
                (Some("DECIDED"), d) => format!(
                    "已表彰 decided: {} 星 stars（需 needs {}）{}",
                    e(d["outcome"].as_str().unwrap_or("0")),
                    e(d["required"].as_str().unwrap_or_default()),
                    d["exception"].as_str().map(|x| format!(" · 例外 exception: {}", e(x))).unwrap_or_default()
                ),
                (Some("REVOKED"), _) => "已撤销 revoked".to_owned(),
                _ => {
                    let fitting: String = boards
                        .iter()
                        .filter(|b| b["policy"] == r["policy"] && b["halfYear"] == r["halfYear"])
                        .map(|b| format!("<option value=\"{}\">{}</option>", e(b["id"].as_str().unwrap_or_default()), e(b["name"].as_str().unwrap_or_default())))
                        .collect();
                    let id = e(r["id"].as_str().unwrap_or_default());
                    let form = if fitting.is_empty() {
                        "<span class=\"meta\">先发布该政策的星级榜 publish a board of its policy first</span>".to_owned()
                    } else {
                        format!(
                            "<form method=\"post\" action=\"/console/recognitions/decide\">{csrf}\
                             <input type=\"hidden\" name=\"recognition\" value=\"{id}\">\
                             <label for=\"board-{id}\">星级榜 Board</label><select id=\"board-{id}\" name=\"board\">{fitting}</select>\
                             <label for=\"exception-{id}\">例外理由（依据不足时） Exception, where the evidence falls short</label>\
                             <input id=\"exception-{id}\" name=\"exception\" maxlength=\"500\">\
                             <div class=\"buttons\"><button>决定 Decide</button></div></form>"
                        )
                    };
                    format!(
                        "公示至 listed until {} · 未答复异议 unanswered objections {}{form}",
                        e(r["listedUntil"].as_str().unwrap_or_default()),
                        r["unansweredObjections"]
                    )
                }
            };
            format!(
                "<li><strong>{}</strong> {} · <a href=\"/console/units/{}\">{}</a> · {}<br><span class=\"meta\">{}</span></li>",
                e(r["awardLabel"].as_str().or(r["award"].as_str()).unwrap_or_default()),
                e(r["halfYear"].as_str().unwrap_or_default()),
                url_encode(r["unitCode"].as_str().unwrap_or_default()),
                e(r["unitName"].as_str().or(r["unitCode"].as_str()).unwrap_or_default()),
                e(&who),
                state
            )
        })
        .collect();
    let main = format!(
        "{chosen}<h2>已发布的星级榜 Published boards</h2><div class=\"scroll\"><table><thead><tr><th>名称 Name</th>\
         <th>半年 Half-year</th><th>政策 Policy</th><th class=\"n\">条目 Entries</th><th class=\"n\">位置 Position</th></tr></thead>\
         <tbody>{board_rows}</tbody></table></div>\
         <h2>提名与表彰 Nominations ({total})</h2><ul class=\"units\">{rows}</ul>",
        chosen = half_year_choice("/console/recognitions", half_year.as_deref()),
        total = found["recognitions"]["totalCount"],
    );
    page(server, caller, status, "评星表彰 Recognitions", said, &main)
}

/// `POST /console/recognitions/decide` (`csrf`, `recognition`, `board`, `exception`).
#[handler]
pub(super) async fn decide(req: &Request, body: Body, server: Data<&Arc<Server>>) -> Response {
    let response = match signed_form(&server, req, body).await {
        Err(refused) => refused,
        Ok((caller, fields)) => {
            let decide = "mutation($r: ID!, $b: ID!, $x: String) { decideRecognition(recognition: $r, board: $b, exception: $x) { receipt { position } } }";
            let exception = Some(field(&fields, "exception")).filter(|x| !x.is_empty());
            let variables = json!({ "r": field(&fields, "recognition"), "b": field(&fields, "board"), "x": exception });
            let answer = server.execute_as(caller.clone(), decide, variables).await;
            match errors(&answer) {
                None => see_other("/console/recognitions?done=decided"),
                Some(why) => {
                    recognitions_view(&server, &caller, None, StatusCode::UNPROCESSABLE_ENTITY, Some((false, why)))
                        .await
                }
            }
        }
    };
    server.state.metrics.request("/console/recognitions/decide", response.status().as_u16());
    response
}
