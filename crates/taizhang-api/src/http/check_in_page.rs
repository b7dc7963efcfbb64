//! The public check-in page a member opens on their phone from the site's QR code
//! (`GET /check-in?site=…`, `POST /check-in`), the member's own correction request
//! (`GET /correction`, `POST /correction`), and the poster a clerk prints for the site
//! (`GET /export/check-in?outing=…`, a token that may write the outing's records).
//!
//! The page is a plain form, no script: a phone that scanned the code has the site code
//! filled in, and the member types their number and PIN. Browsers get the page back with
//! the outcome; other clients (`Accept: application/json`) get JSON. Nothing the page
//! says tells a stranger whether a member number exists.

use std::sync::Arc;

use poem::http::{header, StatusCode};
use poem::web::Data;
use poem::{handler, Body, Request, Response};
use serde::{Deserialize, Serialize};
use taizhang_core::{check_in_window, OutingId};
use taizhang_io::certificate::{html_escape as e, qr_svg};

use super::page::layout;
use super::{http_error, params, permitted, public, remote_ip, same_origin, Media, Server};
use crate::access::Permission;
use crate::check_in::{check_in_address, report_presence, Answer, AttemptOutcome};
use crate::error::Code;

/// The largest check-in form body, in bytes (three short fields).
const MAX_FORM_BYTES: usize = 1_024;
/// What a form sent from another site's page is told.
const CROSS_SITE: &str = "send the form from this site's own page";
/// The longest value of a form field, in characters.
const MAX_FIELD_CHARS: usize = 64;

#[derive(Deserialize, Default)]
struct PresenceForm {
    #[serde(default)]
    site: String,
    #[serde(default)]
    member: String,
    #[serde(default)]
    pin: String,
    /// `in` or `out`.
    #[serde(default)]
    action: String,
}

/// What a JSON client gets back.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PresenceAnswer {
    outcome: AttemptOutcome,
    message: String,
    /// When the server recorded it (RFC 3339).
    at: Option<String>,
    /// The hours a check-out credited.
    credited_hours: Option<f64>,
}

fn wants_json(req: &Request) -> bool {
    let accept = req.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
    accept.contains("application/json") && !accept.contains("text/html")
}

/// `GET /check-in?site=…`: the form, the site code filled in from the QR code.
#[handler]
pub(super) async fn check_in_form(req: &Request, server: Data<&Arc<Server>>) -> Response {
    let response = match params(req, &["site"]) {
        Ok(params) => {
            let form = PresenceForm { site: params.get("site").cloned().unwrap_or_default(), ..Default::default() };
            page(StatusCode::OK, &form, None)
        }
        Err(refused) => refused,
    };
    server.state.metrics.request("/check-in", response.status().as_u16());
    response
}

/// `POST /check-in` (a form: `site`, `member`, `pin`, `action` = `in` or `out`).
#[handler]
pub(super) async fn check_in_post(req: &Request, body: Body, server: Data<&Arc<Server>>) -> Response {
    let response = presence_answer(req, body, &server).await;
    server.state.metrics.request("/check-in", response.status().as_u16());
    response
}

async fn presence_answer(req: &Request, body: Body, server: &Server) -> Response {
    let json = wants_json(req);
    let bad = |message: &str| match json {
        true => http_error(StatusCode::BAD_REQUEST, Media::Json, Code::BadRequest, message),
        false => page(StatusCode::BAD_REQUEST, &PresenceForm::default(), Some((false, message.to_owned()))),
    };
    if !same_origin(req) {
        return bad(CROSS_SITE);
    }
    let bytes = match body.into_bytes_limit(MAX_FORM_BYTES).await {
        Ok(bytes) => bytes,
        Err(_) => return bad("the form is larger than a check-in form can be"),
    };
    let Ok(form) = serde_urlencoded::from_bytes::<PresenceForm>(&bytes) else {
        return bad("send the form as application/x-www-form-urlencoded: site, member, pin, action");
    };
    let fields = [&form.site, &form.member, &form.pin];
    if fields.iter().any(|f| f.trim().is_empty() || f.chars().count() > MAX_FIELD_CHARS) {
        return bad("fill in the site code, your member number and your PIN");
    }
    let leaving = match form.action.as_str() {
        "in" => false,
        "out" => true,
        _ => return bad("action is \"in\" or \"out\""),
    };
    let answer = report_presence(&server.state, &form.site, &form.member, &form.pin, leaving, remote_ip(req)).await;
    let (status, outcome, message, at, credited) = match answer {
        Answer::Done { outcome, credited, at } => {
            let hours = credited.map(|p| taizhang_io::export::hours(p.minutes.get() as u64));
            let said = match (leaving, hours) {
                (false, _) => format!("签到成功 Checked in at {}", clock(at)),
                (true, Some(h)) => format!("签退成功，记录服务 {h} 小时 Checked out at {}: {h} h recorded", clock(at)),
                (true, None) => format!("签退成功，未满一分钟，不计时长 Checked out at {}: no hours", clock(at)),
            };
            (StatusCode::OK, outcome, said, Some(at.to_rfc3339_seconds()), hours)
        }
        Answer::Refused { outcome, message, hold } => {
            if !hold.is_zero() {
                let _held = server.state.metrics.held();
                tokio::time::sleep(hold).await;
            }
            let status = match outcome {
                AttemptOutcome::Refused => StatusCode::FORBIDDEN,
                AttemptOutcome::Locked => StatusCode::TOO_MANY_REQUESTS,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            };
            (status, outcome, message, None, None)
        }
        Answer::Failed(e) => {
            return super::error_response(StatusCode::SERVICE_UNAVAILABLE, Media::Json, crate::error::app(e))
        }
    };
    let response = if json {
        let answer = PresenceAnswer { outcome, message, at, credited_hours: credited };
        public(Response::builder().status(status).content_type(super::JSON))
            .body(serde_json::to_vec(&answer).expect("an answer serialises"))
    } else {
        let kept = PresenceForm { pin: String::new(), action: String::new(), ..form };
        let said = match outcome {
            AttemptOutcome::CheckedIn | AttemptOutcome::CheckedOut => message,
            refused => format!("{}. {message}", in_chinese(refused)),
        };
        page(status, &kept, Some((status == StatusCode::OK, said)))
    };
    match outcome {
        AttemptOutcome::Locked => {
            let mut response = response;
            let wait = crate::check_in::LOCKOUT.as_secs().to_string();
            response.headers_mut().insert(header::RETRY_AFTER, wait.parse().expect("digits"));
            response
        }
        _ => response,
    }
}

/// What a refusal means, for the page's first language.
fn in_chinese(outcome: AttemptOutcome) -> &'static str {
    match outcome {
        AttemptOutcome::Refused => "签到码、志愿者编号或签到密码有误",
        AttemptOutcome::Locked => "错误次数过多，请稍后再试或联系本单位管理员",
        AttemptOutcome::OutsideWindow => "不在签到时间内",
        AttemptOutcome::Repeated => "已签到（签退）过，或尚未签到",
        AttemptOutcome::Invalid | AttemptOutcome::CheckedIn | AttemptOutcome::CheckedOut => {
            "无法记录，请联系本单位管理员"
        }
    }
}

/// `hh:mm:ss`, China Standard Time.
fn clock(at: taizhang_core::Timestamp) -> String {
    let local = at.to_datetime().to_offset(time::macros::offset!(+8));
    format!("{:02}:{:02}:{:02}", local.hour(), local.minute(), local.second())
}

/// The check-in page: the form, and the outcome of the last attempt when there is one
/// (`true` when it succeeded).
fn page(status: StatusCode, form: &PresenceForm, said: Option<(bool, String)>) -> Response {
    let main = format!(
        "<form method=\"post\" action=\"/check-in\">\
         <label for=\"site\">现场签到码 Site code</label>\
         <input id=\"site\" name=\"site\" value=\"{site}\" required maxlength=\"{max}\" autocomplete=\"off\" autocapitalize=\"characters\">\
         <label for=\"member\">志愿者编号 Member number</label>\
         <input id=\"member\" name=\"member\" value=\"{member}\" required maxlength=\"{max}\" autocomplete=\"username\">\
         <label for=\"pin\">签到密码 PIN</label>\
         <input id=\"pin\" name=\"pin\" type=\"password\" inputmode=\"numeric\" required maxlength=\"{max}\" autocomplete=\"current-password\">\
         <div class=\"buttons\"><button name=\"action\" value=\"in\">签到 Check in</button>\
         <button class=\"out\" name=\"action\" value=\"out\">签退 Check out</button></div></form>\
         <p class=\"note\">签到后方开始计时，签退时结束；忘记签退不计时长，请联系本单位管理员。\
         Hours count from check-in to check-out; without a check-out, ask your unit's clerk.</p>\
         <p class=\"note\"><a href=\"/correction\">记录有误？申请更正 Ask for a correction of your record</a></p>",
        site = e(&form.site),
        member = e(&form.member),
        max = MAX_FIELD_CHARS,
    );
    let heading = "志愿服务签到 / 签退<br><small>Volunteer check-in / check-out</small>";
    layout(status, "志愿服务签到 Check-in", heading, said, &main)
}

/// What a member sends to ask for a correction of their record.
#[derive(Deserialize, Default)]
struct CorrectionForm {
    #[serde(default)]
    member: String,
    #[serde(default)]
    pin: String,
    /// The outing's code, if the request is about one.
    #[serde(default)]
    outing: String,
    #[serde(default)]
    text: String,
}

/// The longest correction request, in characters (a text of the log's own limit).
const MAX_REQUEST_CHARS: usize = taizhang_core::Text::MAX_CHARS;

fn correction_page(status: StatusCode, form: &CorrectionForm, said: Option<(bool, String)>) -> Response {
    let main = format!(
        "<form method=\"post\" action=\"/correction\">\
         <label for=\"member\">志愿者编号 Member number</label>\
         <input id=\"member\" name=\"member\" value=\"{member}\" required maxlength=\"{max}\" autocomplete=\"username\">\
         <label for=\"pin\">签到密码 PIN</label>\
         <input id=\"pin\" name=\"pin\" type=\"password\" inputmode=\"numeric\" required maxlength=\"{max}\" autocomplete=\"current-password\">\
         <label for=\"outing\">活动编号（可不填） Outing code (optional)</label>\
         <input id=\"outing\" name=\"outing\" value=\"{outing}\" maxlength=\"{max}\">\
         <label for=\"text\">哪里有误 What is wrong</label>\
         <textarea id=\"text\" name=\"text\" rows=\"4\" required maxlength=\"{text_max}\">{text}</textarea>\
         <div class=\"buttons\"><button>提交 Send</button></div></form>\
         <p class=\"note\">本单位将在 {days} 日内核实并答复。Your unit checks and answers within {days} days.</p>",
        member = e(&form.member),
        outing = e(&form.outing),
        text = e(&form.text),
        max = MAX_FIELD_CHARS,
        text_max = MAX_REQUEST_CHARS,
        days = taizhang_core::CORRECTION_ANSWER_DAYS,
    );
    let heading = "申请更正服务记录<br><small>Ask for a correction of your record</small>";
    layout(status, "申请更正 Correction", heading, said, &main)
}

/// `GET /correction`: the form.
#[handler]
pub(super) async fn correction_form(server: Data<&Arc<Server>>) -> Response {
    let response = correction_page(StatusCode::OK, &CorrectionForm::default(), None);
    server.state.metrics.request("/correction", response.status().as_u16());
    response
}

/// `POST /correction` (a form: `member`, `pin`, `outing` (optional), `text`): the
/// member's own request, proved by their check-in PIN.
#[handler]
pub(super) async fn correction_post(req: &Request, body: Body, server: Data<&Arc<Server>>) -> Response {
    let response = correction_answer(req, body, &server).await;
    server.state.metrics.request("/correction", response.status().as_u16());
    response
}

async fn correction_answer(req: &Request, body: Body, server: &Server) -> Response {
    let json = wants_json(req);
    let answer = |status: StatusCode, form: &CorrectionForm, good: bool, message: String| {
        if json {
            let code = if good { "REQUESTED" } else { "REFUSED" };
            let body = serde_json::json!({ "outcome": code, "message": message });
            public(Response::builder().status(status).content_type(super::JSON)).body(body.to_string())
        } else {
            let kept = CorrectionForm {
                member: form.member.clone(),
                pin: String::new(),
                outing: form.outing.clone(),
                text: form.text.clone(),
            };
            correction_page(status, &kept, Some((good, message)))
        }
    };
    if !same_origin(req) {
        return answer(StatusCode::FORBIDDEN, &CorrectionForm::default(), false, CROSS_SITE.to_owned());
    }
    let bytes = match body.into_bytes_limit(MAX_FORM_BYTES * 4).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return answer(StatusCode::BAD_REQUEST, &CorrectionForm::default(), false, "the form is too large".into())
        }
    };
    let Ok(form) = serde_urlencoded::from_bytes::<CorrectionForm>(&bytes) else {
        let message = "send the form as application/x-www-form-urlencoded: member, pin, outing, text".to_owned();
        return answer(StatusCode::BAD_REQUEST, &CorrectionForm::default(), false, message);
    };
    let short = [&form.member, &form.pin];
    if short.iter().any(|f| f.trim().is_empty() || f.chars().count() > MAX_FIELD_CHARS)
        || form.outing.chars().count() > MAX_FIELD_CHARS
    {
        return answer(StatusCode::BAD_REQUEST, &form, false, "fill in your member number and your PIN".into());
    }
    let text = match taizhang_core::Text::parse("text", &form.text) {
        Ok(text) => text,
        Err(e) => return answer(StatusCode::UNPROCESSABLE_ENTITY, &form, false, e.to_string()),
    };
    let outing: Option<OutingId> = match form.outing.trim() {
        "" => None,
        typed => match typed.parse() {
            Ok(outing) => Some(outing),
            Err(_) => return answer(StatusCode::UNPROCESSABLE_ENTITY, &form, false, "not an outing code".into()),
        },
    };
    let now = std::time::Instant::now();
    let member: Option<taizhang_core::MemberId> = form.member.trim().parse().ok();
    // Only a member who exists is counted against: invented numbers would push real
    // ones out of the count.
    let member = member.filter(|id| server.state.projector.read(|m| m.members.contains_key(id)));
    let address = remote_ip(req);
    let state = &server.state;
    let refused = async |message: String, member| {
        let hold = state.check_in.correction_refused(member, address, now);
        if !hold.is_zero() {
            let _held = state.metrics.held();
            tokio::time::sleep(hold).await;
        }
        answer(StatusCode::FORBIDDEN, &form, false, message)
    };
    let wrong = "志愿者编号或签到密码有误. The member number or PIN is not right".to_owned();
    let Some(member) = member else { return refused(wrong, None).await };
    if state.check_in.correction_locked(member, now) {
        let message = "错误次数过多，请稍后再试或联系本单位管理员. Too many wrong attempts: try again later";
        return answer(StatusCode::TOO_MANY_REQUESTS, &form, false, message.into());
    }
    let command = taizhang_core::RequestCorrection {
        correction: taizhang_core::CorrectionId::new(),
        member,
        outing,
        text,
        pin: Some(state.ledger.master_key().pin_digest(member, &form.pin)),
    };
    let context = taizhang_app::CommandContext::new(taizhang_core::Actor::VOLUNTEER);
    match state.ledger.execute(context, command.into()).await {
        Ok(outcome) => {
            state.metrics.command_applied(&outcome);
            state.check_in.correction_made(member);
            // As after a mutation: the answer comes once the read model holds the request.
            let _ = state.projector.wait_for(outcome.last_position, crate::READ_YOUR_WRITES_WAIT).await;
            let message = format!(
                "已提交，本单位将在 {days} 日内答复 Sent: your unit answers within {days} days",
                days = taizhang_core::CORRECTION_ANSWER_DAYS
            );
            answer(StatusCode::OK, &CorrectionForm::default(), true, message)
        }
        Err(taizhang_app::AppError::Domain(taizhang_core::DomainError::CheckInRefused)) => {
            refused(wrong, Some(member)).await
        }
        Err(taizhang_app::AppError::Domain(e)) => answer(StatusCode::UNPROCESSABLE_ENTITY, &form, false, e.to_string()),
        Err(e) => super::error_response(StatusCode::SERVICE_UNAVAILABLE, Media::Json, crate::error::app(e)),
    }
}

/// `GET /export/check-in?outing=…`: the poster for the site, with the code in large
/// letters, its QR code and the window; for those who may write the outing's records.
#[handler]
pub(super) async fn check_in_poster(req: &Request, server: Data<&Arc<Server>>) -> Response {
    let response = poster(req, &server).await.unwrap_or_else(|refused| refused);
    server.state.metrics.request("/export/check-in", response.status().as_u16());
    response
}

// The error is the answer itself, returned at once by the route.
#[allow(clippy::result_large_err)]
async fn poster(req: &Request, server: &Server) -> Result<Response, Response> {
    let caller = server.caller(req, Media::Json).await?;
    permitted(&caller, Permission::WriteRecords)?;
    let params = params(req, &["outing"])?;
    let outing: OutingId = params
        .get("outing")
        .ok_or_else(|| super::bad_request("give the outing: ?outing=<code or id>".to_owned()))?
        .parse()
        .map_err(|_| super::bad_request("outing: not an outing code or id".to_owned()))?;
    let found = server.state.projector.read(|m| {
        let view = m.outing(outing, m.position)?;
        let (code, rules) = m.check_ins.get(&outing)?.opening(m.position)?;
        let unit = m.unit(view.unit, m.position).map(|u| u.name.to_string()).unwrap_or_default();
        Some((view.unit, unit, view.details(), code.to_owned(), rules))
    });
    let Some((unit, unit_name, details, code, rules)) = found else {
        return Err(http_error(
            StatusCode::NOT_FOUND,
            Media::Json,
            Code::NotFound,
            &format!("outing {outing} has no check-in open"),
        ));
    };
    if !caller.reaches(Permission::WriteRecords, unit) {
        return Err(super::forbidden(&caller, Permission::WriteRecords));
    }
    let address = check_in_address(&server.state.public_url(), &code);
    let (opens, _, closes) = check_in_window(&details, &rules);
    let body = format!(
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>签到码 {code}</title>\
         <style>body{{font-family:system-ui,sans-serif;text-align:center;margin:2em}}.code{{font-size:4em;letter-spacing:.2em;\
         font-family:ui-monospace,monospace;font-weight:bold}}@page{{size:A4;margin:15mm}}</style></head><body>\
         <h1>{unit} 志愿服务签到</h1><p>{date} {span} · {place} · {category}</p>{qr}\
         <p>扫码或打开 {address_text} 输入签到码</p><p class=\"code\">{code}</p>\
         <p>签到开放：{opens} 至 {closes}（北京时间）</p><p>请输入本人志愿者编号与签到密码；签到、签退各一次。</p></body></html>",
        unit = e(&unit_name),
        date = details.date,
        span = details.span,
        place = e(details.place.as_str()),
        category = e(details.category.as_str()),
        qr = qr_svg(&address, 320, "签到二维码"),
        address_text = e(&check_in_address(&server.state.public_url(), "")),
        opens = clock_date(opens),
        closes = clock_date(closes),
    );
    Ok(Response::builder()
        .content_type("text/html; charset=utf-8")
        .header(header::CACHE_CONTROL, "no-store")
        .header(
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        )
        .body(body))
}

/// `YYYY-MM-DD hh:mm`, China Standard Time.
fn clock_date(at: taizhang_core::Timestamp) -> String {
    let local = at.to_datetime().to_offset(time::macros::offset!(+8));
    format!("{} {:02}:{:02}", local.date(), local.hour(), local.minute())
}
