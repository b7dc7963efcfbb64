//! Objections from the public during a nomination's listing (公示): each nomination has
//! a page on the notice board (`GET /recognitions/{id}`) with the award, the unit, the
//! reason, how it stands and how many objections were raised and answered; while it is
//! listed, a form (`POST /recognitions/{id}/objections`) takes an objection, recorded
//! as one from the public. Like every objection it must be answered by a reviewer
//! before the nomination is decided; its text is shown to reviewers, not on the board.
//! The guards are the opinion form's: this server's own page, a proof of the day the
//! page was served, a few kilobytes, quotas per address (shared with opinions) and per
//! nomination.

use std::sync::Arc;

use poem::http::StatusCode;
use poem::web::{Data, Path};
use poem::{handler, Body, Request, Response};
use serde::Deserialize;
use taizhang_core::{ObjectionSource, RaiseObjection, RecognitionId, Text, Timestamp};
use taizhang_io::certificate::html_escape as e;
use taizhang_read::recognitions::RecognitionRecord;
use taizhang_read::ReadModel;

use super::board::{award_label, board_page, etag, recognition_state, url_encode, Lang};
use super::opinion_form::{over_quota, proof, proof_holds, read_form, send, today};
use super::page::document;
use super::{params, remote_ip, Server};

/// What the form is for: a form proof names it, so one nomination's proof is no other's.
fn form_name(recognition: RecognitionId) -> String {
    format!("objection:{recognition}")
}

/// Whether the nomination takes objections from the public now: undecided, not
/// revoked, and its listing not over.
fn listed(record: &RecognitionRecord) -> bool {
    record.decision.is_none()
        && record.revoked.is_none()
        && Timestamp::now().service_date() <= record.nominated.listed_until
}

/// `GET /recognitions/{id}`: one nomination and, while it is listed, the objection form.
#[handler]
pub(super) async fn recognition_page(req: &Request, Path(id): Path<String>, server: Data<&Arc<Server>>) -> Response {
    let response = recognition_answer(req, id.trim(), &server).unwrap_or_else(|refused| refused);
    server.state.metrics.request("/recognitions/{id}", response.status().as_u16());
    response
}

#[allow(clippy::result_large_err)]
fn recognition_answer(req: &Request, id: &str, server: &Server) -> Result<Response, Response> {
    let params = params(req, &["lang"])?;
    let lang = Lang::of(&params);
    let recognition = RecognitionId::parse_ref(id);
    // The form's proof is for a day: the validator names the day too.
    let day = today();
    let tag = |position| format!("{}-{day}", etag(position));
    let here = format!("/recognitions/{}", url_encode(id));
    let (main, position) = server.state.projector.read(|m| {
        let record = m.recognitions.get(&recognition).and_then(|r| r.at(m.position));
        (record.map(|r| recognition_main(server, m, &r, id, lang)), m.position)
    });
    let Some(main) = main else {
        let main = format!("<p>{}</p>", lang.say("没有这项提名。", "There is no such nomination."));
        return Ok(board_page(
            StatusCode::NOT_FOUND,
            lang,
            &tag(position),
            lang.say("未找到", "Not found"),
            &here,
            &main,
        ));
    };
    if let Some(unchanged) = super::board::unchanged(req, &tag(position)) {
        return Ok(unchanged);
    }
    let title = lang.say("评星表彰公示", "A nomination listed for objections");
    Ok(board_page(StatusCode::OK, lang, &tag(position), title, &here, &main))
}

/// A nomination's page: what it is, how it stands, and the form while it is listed.
fn recognition_main(server: &Server, m: &ReadModel, r: &RecognitionRecord, id: &str, lang: Lang) -> String {
    let n = &r.nominated;
    let unit = m.unit(n.unit, m.position).map_or_else(|| n.unit.to_string(), |u| u.name.to_string());
    let nominee = match n.nominee {
        taizhang_core::Rated::Unit(_) => lang.say("本单位", "The unit itself"),
        taizhang_core::Rated::Member(_) => lang.say("本单位一名党员", "A member of the unit"),
    };
    let answered = r.objections.iter().filter(|o| o.answer.is_some()).count();
    let lang_q = if lang == Lang::En { "?lang=en" } else { "" };
    let form = if listed(r) {
        format!(
            "<h2 id=\"object\">{heading}</h2>\
             <form method=\"post\" action=\"/recognitions/{id}/objections\">\
             <input type=\"hidden\" name=\"proof\" value=\"{proof}\">{lang_field}\
             <label for=\"text\">{text_label}</label><textarea id=\"text\" name=\"text\" rows=\"4\" maxlength=\"{max}\" required></textarea>\
             <p class=\"note\">{note}</p><div class=\"buttons\"><button>{send}</button></div></form>",
            heading = lang.say("提出异议", "Object to this nomination"),
            id = url_encode(id),
            proof = proof(server, &form_name(n.recognition), today()),
            lang_field = if lang == Lang::En { "<input type=\"hidden\" name=\"lang\" value=\"en\">" } else { "" },
            text_label = lang.say("异议内容（请写明事实）", "Your objection (the facts, please)"),
            max = Text::MAX_CHARS,
            note = lang.say(
                "异议由评审人员逐条核实答复后方可作出表彰决定；异议内容不在公示栏公开。如需了解答复，请拨打单位监督电话。",
                "Every objection is looked into and answered by a reviewer before the nomination is decided; \
                 objections are not shown on the board. To hear the answer, call the unit's supervision line."
            ),
            send = lang.say("提交异议", "Send"),
        )
    } else {
        String::new()
    };
    format!(
        "<h2>{award} · {half}</h2><dl>\
         <dt>{unit_label}</dt><dd><a href=\"/units/{code}{lang_q}#recognitions\">{unit}</a></dd>\
         <dt>{nominee_label}</dt><dd>{nominee}</dd>{reason}\
         <dt>{state_label}</dt><dd>{state}</dd>\
         <dt>{objections_label}</dt><dd>{objections}</dd></dl>{form}\
         <p><a href=\"/recognitions{lang_q}\">{back}</a></p><p class=\"meta\">{as_of} {p}</p>",
        award = e(&award_label(server, n.award.as_str())),
        half = n.half_year,
        unit_label = lang.say("单位", "Unit"),
        code = url_encode(&m.reference(n.unit.0)),
        unit = e(&unit),
        nominee_label = lang.say("表彰对象", "Nominee"),
        reason = n.reason.as_ref().map_or_else(String::new, |reason| format!(
            "<dt>{}</dt><dd>{}</dd>",
            lang.say("推荐理由", "Reason"),
            e(reason.as_str())
        )),
        state_label = lang.say("状态", "Stands"),
        state = e(&recognition_state(lang, r)),
        objections_label = lang.say("异议", "Objections"),
        objections = match lang {
            Lang::Zh => format!("已收到 {} 条，已答复 {answered} 条", r.objections.len()),
            Lang::En => format!("{} raised, {answered} answered", r.objections.len()),
        },
        back = lang.say("返回评星表彰公示", "Back to the recognitions"),
        as_of = lang.say("数据截至日志位置", "As of log position"),
        p = m.position,
    )
}

#[derive(Deserialize, Default)]
struct ObjectionForm {
    #[serde(default)]
    proof: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    lang: String,
}

/// `POST /recognitions/{id}/objections`: an objection from the public to a listed
/// nomination.
#[handler]
pub(super) async fn objection_post(
    req: &Request,
    Path(id): Path<String>,
    body: Body,
    server: Data<&Arc<Server>>,
) -> Response {
    let response = objection_answer(req, id.trim(), body, &server).await;
    server.state.metrics.request("/recognitions/objections", response.status().as_u16());
    response
}

async fn objection_answer(req: &Request, id: &str, body: Body, server: &Server) -> Response {
    let said = |status: StatusCode, lang: Lang, good: bool, message: &str| {
        let back = format!(
            "<p><a href=\"/recognitions/{}{}\">{}</a></p>",
            url_encode(id),
            if lang == Lang::En { "?lang=en" } else { "" },
            lang.say("返回公示页", "Back to the nomination")
        );
        let title = lang.say("提出异议", "Object to a nomination");
        document(status, lang.tag(), title, title, Some((good, message.to_owned())), &back)
    };
    let form: ObjectionForm = match read_form(req, body).await {
        Ok(form) => form,
        Err((status, zh, en)) => {
            let lang = if req.uri().query().is_some_and(|q| q.contains("lang=en")) { Lang::En } else { Lang::Zh };
            return said(status, lang, false, lang.say(zh, en));
        }
    };
    let lang = if form.lang == "en" { Lang::En } else { Lang::Zh };
    let refuse = |status: StatusCode, zh: &str, en: &str| said(status, lang, false, lang.say(zh, en));
    let recognition = RecognitionId::parse_ref(id);
    if !proof_holds(server, &form_name(recognition), &form.proof) {
        return refuse(
            StatusCode::FORBIDDEN,
            "页面已过期，请刷新公示页后重新提交。",
            "The page has expired: reload the nomination's page and send the form again.",
        );
    }
    // Checked before a quota is taken: a mistake does not use up the citizen's hour.
    let text = match Text::parse("text", &form.text) {
        Ok(text) => text,
        Err(e) => return refuse(StatusCode::UNPROCESSABLE_ENTITY, "请填写异议内容（不超过500字）。", &e.to_string()),
    };
    let listed = server.state.projector.read(|m| m.recognitions.get(&recognition).is_some_and(listed));
    if !listed {
        return refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            "该提名已不在公示期内。",
            "This nomination is no longer listed for objections.",
        );
    }
    let address = remote_ip(req);
    let quotas = &server.state.opinion_quotas;
    if let Err(wait) = quotas.take(address, &quotas.recognitions, recognition) {
        let words =
            ("提交过于频繁，请稍后再试。", "Too many objections from here or to this nomination: try again later.");
        return over_quota(refuse(StatusCode::TOO_MANY_REQUESTS, words.0, words.1), wait);
    }
    let command = RaiseObjection { recognition, from: ObjectionSource::Public, text };
    match send(server, command.into()).await {
        Ok(()) => said(
            StatusCode::OK,
            lang,
            true,
            lang.say(
                "异议已收到，将在作出表彰决定前核实答复。",
                "Your objection is recorded; it will be looked into and answered before the nomination is decided.",
            ),
        ),
        Err((status, message)) => {
            quotas.give_back(address, &quotas.recognitions, recognition);
            let unavailable =
                lang.say("暂时无法保存，请稍后再试。", "Your objection could not be saved just now: try again later.");
            said(status, lang, false, message.as_deref().unwrap_or(unavailable))
        }
    }
}
