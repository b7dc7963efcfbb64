//! The public's opinions on the notice board (留言评议): while a look-back round covering
//! a unit is open, the unit's page carries a form (`POST /units/{code}/opinions`) to
//! leave an opinion on the unit or one of its public commitments, with a rating and,
//! if the citizen wishes, a name and phone (sealed under the opinion's own key). What
//! is left is held: it counts in the round and shows on the page only once the unit's
//! clerk or a reviewer accepts it (`reviewOpinion`).
//!
//! Guards, each refusing before anything is written: the post must come from this
//! server's own page (a browser names where a form was sent from), carry the proof a
//! page of the last day was served with, stay within a few kilobytes, and keep within
//! the quotas per address and per unit.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use poem::http::{header, StatusCode};
use poem::web::{Data, Path};
use poem::{handler, Body, Request, Response};
use serde::Deserialize;
use taizhang_core::{
    Actor, Channel, CommitmentId, OpinionAbout, OpinionId, PersonalData, Rating, RecognitionId, RecordOpinion, RoundId,
    SubmitOpinion, Text, UnitId,
};
use taizhang_io::certificate::html_escape as e;
use taizhang_read::ReadModel;
use taizhang_store::Position;

use super::board::{url_encode, Lang};
use super::page::document;
use super::{remote_ip, same_origin, Server};
use crate::limiter::Quota;

/// The largest opinion form body, in bytes (500 Chinese characters percent-encoded,
/// and the short fields).
const MAX_FORM_BYTES: usize = 8 * 1024;
/// The longest name a citizen may leave, in characters.
const MAX_NAME_CHARS: usize = 50;
/// Opinions shown on a unit's page, the latest first.
pub(super) const OPINIONS_SHOWN: usize = 10;

/// How many opinions and objections the notice board takes in an hour: per address
/// (the two forms together), per unit and per nomination.
pub(crate) struct OpinionQuotas {
    addresses: Quota<IpAddr>,
    units: Quota<UnitId>,
    pub(super) recognitions: Quota<RecognitionId>,
}

impl Default for OpinionQuotas {
    fn default() -> Self {
        const HOUR: Duration = Duration::from_secs(3600);
        Self { addresses: Quota::new(5, HOUR), units: Quota::new(60, HOUR), recognitions: Quota::new(10, HOUR) }
    }
}

impl OpinionQuotas {
    /// Takes one from the address's quota and one from `quota`'s for `key`, or neither;
    /// the error is how long to wait.
    pub(super) fn take<K: Copy + Eq + std::hash::Hash>(
        &self,
        address: Option<IpAddr>,
        quota: &Quota<K>,
        key: K,
    ) -> Result<(), Duration> {
        let now = Instant::now();
        if let Some(address) = address {
            self.addresses.take(address, now)?;
        }
        quota.take(key, now).inspect_err(|_| {
            if let Some(address) = address {
                self.addresses.give_back(address);
            }
        })
    }

    /// Gives back what [`OpinionQuotas::take`] took, when nothing was written.
    pub(super) fn give_back<K: Copy + Eq + std::hash::Hash>(&self, address: Option<IpAddr>, quota: &Quota<K>, key: K) {
        quota.give_back(key);
        if let Some(address) = address {
            self.addresses.give_back(address);
        }
    }
}

/// What the form is for: a form proof names it, so one unit's proof is no other's.
fn form_name(unit: UnitId) -> String {
    format!("opinion:{unit}")
}

/// A public form refused: the status and the words in Chinese and in English.
pub(super) type Refusal = (StatusCode, &'static str, &'static str);

/// A public form's body, read once it passed the guards every public form has: sent
/// from this server's own page, at most [`MAX_FORM_BYTES`], readable.
pub(super) async fn read_form<T: serde::de::DeserializeOwned>(req: &Request, body: Body) -> Result<T, Refusal> {
    if !same_origin(req) {
        return Err((
            StatusCode::FORBIDDEN,
            "请在公示栏的页面上提交。",
            "Send the form from its page on the notice board.",
        ));
    }
    let Ok(bytes) = body.into_bytes_limit(MAX_FORM_BYTES).await else {
        return Err((StatusCode::PAYLOAD_TOO_LARGE, "内容过长。", "The form is too long."));
    };
    serde_urlencoded::from_bytes::<T>(&bytes)
        .map_err(|_| (StatusCode::BAD_REQUEST, "表单有误。", "The form could not be read."))
}

/// `response` (a 429) told to come back after `wait`.
pub(super) fn over_quota(mut response: Response, wait: Duration) -> Response {
    let wait = wait.as_secs().max(1).to_string();
    response.headers_mut().insert(header::RETRY_AFTER, wait.parse().expect("digits"));
    response
}

/// Days since the epoch now: a page's form proof is for a day, and its validator names
/// the day, so a page kept by a cache never holds a proof too old to post.
pub(super) fn today() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() / 86_400)
}

/// The proof a page served on `day` gives the form named `form`.
pub(super) fn proof(server: &Server, form: &str, day: u64) -> String {
    let bytes = server.state.ledger.master_key().form_proof(form, day);
    format!("{day}-{}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// Whether `given` is the proof of a page served today or yesterday for the form named
/// `form`.
pub(super) fn proof_holds(server: &Server, form: &str, given: &str) -> bool {
    let today = today();
    let Some(day) = given.split_once('-').and_then(|(day, _)| day.parse::<u64>().ok()) else { return false };
    (day == today || day + 1 == today) && super::same_bytes(proof(server, form, day).as_bytes(), given.as_bytes())
}

/// The open round covering `unit` that was opened last, if any.
fn open_round(m: &ReadModel, unit: UnitId) -> Option<RoundId> {
    let info = m.unit(unit, m.position)?;
    m.rounds
        .iter()
        .filter(|(_, r)| r.closed_at.is_none() && r.scope.covers(unit, &info.region, &info.industry))
        .max_by_key(|(_, r)| r.opened_at)
        .map(|(id, _)| *id)
}

fn rating_label(rating: Rating, lang: Lang) -> &'static str {
    match rating {
        Rating::Satisfied => lang.say("满意", "satisfied"),
        Rating::FairlySatisfied => lang.say("基本满意", "fairly satisfied"),
        Rating::Dissatisfied => lang.say("不满意", "dissatisfied"),
    }
}

/// A unit's page's part on the public's opinions as of `p`: those that counted then, the
/// latest first, and, on a page not asked for an earlier position (`at_head`), the
/// form while a round covering the unit is open.
pub(super) fn section(
    server: &Server,
    m: &ReadModel,
    unit: UnitId,
    code: &str,
    lang: Lang,
    p: Position,
    at_head: bool,
) -> String {
    let shown: String = m
        .unit_opinions(unit)
        .rev()
        .filter(|(_, o)| o.counts_at(p))
        .take(OPINIONS_SHOWN)
        .map(|(_, o)| {
            let rating = o.rating.map(|r| format!("<strong>{}</strong> ", rating_label(r, lang))).unwrap_or_default();
            let about = o
                .commitment
                .and_then(|c| m.commitments.get(&c)?.at(p))
                .filter(|c| c.content.public)
                .map(|c| {
                    format!(
                        "<br><span class=\"meta\">{}{}</span>",
                        lang.say("关于承诺：", "On: "),
                        e(c.content.text.as_str())
                    )
                })
                .unwrap_or_default();
            format!("<li>{rating}{}{about}</li>", e(o.text.as_str()))
        })
        .collect();
    let shown = if shown.is_empty() {
        format!("<p>{}</p>", lang.say("暂无公开的群众意见。", "No opinions shown yet."))
    } else {
        format!("<ul class=\"units\">{shown}</ul>")
    };
    let form = match open_round(m, unit).filter(|_| at_head) {
        None if !at_head => String::new(),
        None => format!(
            "<p>{}</p>",
            lang.say(
                "回头看评议期间可在此留言；其他时间请拨打监督电话。",
                "Opinions are taken here while a look-back round is open; at other times, call the supervision line."
            )
        ),
        Some(round) => {
            let name = m.rounds.get(&round).map(|r| r.name.to_string()).unwrap_or_default();
            let items: String = m
                .unit_commitments(unit)
                .iter()
                .filter_map(|id| Some((*id, m.commitments.get(id)?.at(p)?)))
                .filter(|(_, v)| v.content.public && v.withdrawn.is_none())
                .map(|(id, v)| {
                    format!("<option value=\"{}\">{}</option>", e(&m.reference(id.0)), e(v.content.text.as_str()))
                })
                .collect();
            let rating = |value: &str, label: &str| format!("<option value=\"{value}\">{}</option>", e(label));
            format!(
                "<form method=\"post\" action=\"/units/{code}/opinions\">\
                 <p class=\"meta\">{round_label}{round}</p>\
                 <input type=\"hidden\" name=\"proof\" value=\"{proof}\">{lang_field}\
                 <label for=\"about\">{about_label}</label><select id=\"about\" name=\"about\">\
                 <option value=\"\">{whole_unit}</option>{items}</select>\
                 <label for=\"rating\">{rating_label}</label><select id=\"rating\" name=\"rating\">{none}{satisfied}{fairly}{dissatisfied}</select>\
                 <label for=\"text\">{text_label}</label><textarea id=\"text\" name=\"text\" rows=\"4\" maxlength=\"{max}\" required></textarea>\
                 <label for=\"name\">{name_label}</label><input id=\"name\" name=\"name\" maxlength=\"{max_name}\" autocomplete=\"name\">\
                 <label for=\"phone\">{phone_label}</label><input id=\"phone\" name=\"phone\" type=\"tel\" maxlength=\"24\" autocomplete=\"tel\">\
                 <p class=\"note\">{privacy}</p><div class=\"buttons\"><button>{send}</button></div></form>",
                code = url_encode(code),
                round_label = lang.say("评议活动：", "Round: "),
                round = e(&name),
                proof = proof(server, &form_name(unit), today()),
                lang_field = if lang == Lang::En { "<input type=\"hidden\" name=\"lang\" value=\"en\">" } else { "" },
                about_label = lang.say("评议对象", "About"),
                whole_unit = lang.say("本单位", "The unit as a whole"),
                rating_label = lang.say("满意度（可不选）", "How satisfied are you (optional)"),
                none = rating("", lang.say("不评价", "No rating")),
                satisfied = rating("satisfied", rating_label(Rating::Satisfied, lang)),
                fairly = rating("fairly", rating_label(Rating::FairlySatisfied, lang)),
                dissatisfied = rating("dissatisfied", rating_label(Rating::Dissatisfied, lang)),
                text_label = lang.say("意见或建议", "Your opinion"),
                max = Text::MAX_CHARS,
                name_label = lang.say("姓名（可不填）", "Name (optional)"),
                max_name = MAX_NAME_CHARS,
                phone_label = lang.say("联系电话（可不填）", "Phone (optional)"),
                privacy = lang.say(
                    "意见经单位审核后公示；姓名和电话加密保存，仅用于回访，不予公开。",
                    "Opinions are shown once the unit has reviewed them. A name and phone are kept sealed, \
                     only for calling you back, and never shown."
                ),
                send = lang.say("提交意见", "Send"),
            )
        }
    };
    let leave = if form.is_empty() {
        String::new()
    } else {
        format!("<h3>{}</h3>", lang.say("我要留言", "Leave an opinion"))
    };
    format!("<h2 id=\"opinions\">{}</h2>{shown}{leave}{form}", lang.say("群众评议", "The public's opinions"))
}

#[derive(Deserialize, Default)]
struct OpinionForm {
    #[serde(default)]
    proof: String,
    /// Empty for the unit as a whole, or a commitment's code.
    #[serde(default)]
    about: String,
    /// Empty, `satisfied`, `fairly` or `dissatisfied`.
    #[serde(default)]
    rating: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    lang: String,
}

/// `POST /units/{code}/opinions`: an opinion left on the notice board, held for review.
#[handler]
pub(super) async fn opinion_post(
    req: &Request,
    Path(code): Path<String>,
    body: Body,
    server: Data<&Arc<Server>>,
) -> Response {
    let response = opinion_answer(req, code.trim(), body, &server).await;
    server.state.metrics.request("/units/opinions", response.status().as_u16());
    response
}

async fn opinion_answer(req: &Request, code: &str, body: Body, server: &Server) -> Response {
    let lang_asked = req.uri().query().is_some_and(|q| q.contains("lang=en"));
    let said = |status: StatusCode, lang: Lang, good: bool, message: String| {
        let back = format!(
            "<p><a href=\"/units/{}{}#opinions\">{}</a></p>",
            url_encode(code),
            if lang == Lang::En { "?lang=en" } else { "" },
            lang.say("返回单位公示页", "Back to the unit's page")
        );
        let title = lang.say("群众评议", "Leave an opinion");
        document(status, lang.tag(), title, title, Some((good, message)), &back)
    };
    let form: OpinionForm = match read_form(req, body).await {
        Ok(form) => form,
        Err((status, zh, en)) => {
            let lang = if lang_asked { Lang::En } else { Lang::Zh };
            return said(status, lang, false, lang.say(zh, en).to_owned());
        }
    };
    let lang = if form.lang == "en" { Lang::En } else { Lang::Zh };
    let refuse = |status: StatusCode, zh: &str, en: &str| said(status, lang, false, lang.say(zh, en).to_owned());
    let unit = UnitId::parse_ref(code);
    if !proof_holds(server, &form_name(unit), &form.proof) {
        return refuse(
            StatusCode::FORBIDDEN,
            "页面已过期，请刷新单位页面后重新提交。",
            "The page has expired: reload the unit's page and send the form again.",
        );
    }
    // Checked before a quota is taken: a mistake does not use up the citizen's hour.
    let text = match Text::parse("text", &form.text) {
        Ok(text) => text,
        Err(e) => return refuse(StatusCode::UNPROCESSABLE_ENTITY, "请填写意见（不超过500字）。", &e.to_string()),
    };
    let rating = match form.rating.as_str() {
        "" => None,
        "satisfied" => Some(Rating::Satisfied),
        "fairly" => Some(Rating::FairlySatisfied),
        "dissatisfied" => Some(Rating::Dissatisfied),
        _ => return refuse(StatusCode::UNPROCESSABLE_ENTITY, "满意度选项有误。", "Choose a rating from the list."),
    };
    let citizen = match (form.name.trim(), form.phone.trim()) {
        ("", "") => None,
        ("", _) => {
            return refuse(StatusCode::UNPROCESSABLE_ENTITY, "留电话时请同时留姓名。", "Leave a name with the phone.")
        }
        (name, _) if name.chars().count() > MAX_NAME_CHARS => {
            return refuse(StatusCode::UNPROCESSABLE_ENTITY, "姓名过长。", "The name is too long.")
        }
        (name, phone) => {
            let personal = Text::parse("name", name).map(|name| PersonalData {
                name,
                national_id: None,
                phone: (!phone.is_empty()).then(|| phone.to_owned()),
                birth_date: None,
            });
            match personal.and_then(|p| p.validate().map(|()| p)) {
                Ok(personal) => Some(personal),
                Err(e) => return refuse(StatusCode::UNPROCESSABLE_ENTITY, "姓名或电话有误。", &e.to_string()),
            }
        }
    };
    let found = server.state.projector.read(|m| {
        let about = match form.about.trim() {
            "" => OpinionAbout::Unit(unit),
            item => {
                let id = CommitmentId::parse_ref(item);
                let public = m.commitments.get(&id).and_then(|c| c.at(m.position)).is_some_and(|c| c.content.public);
                public.then_some(OpinionAbout::Commitment(id))?
            }
        };
        Some((open_round(m, unit)?, about))
    });
    let Some((round, about)) = found else {
        return refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            "该单位当前没有进行中的评议活动，或所选承诺不存在。",
            "This unit has no open look-back round now, or the commitment chosen does not exist.",
        );
    };
    let address = remote_ip(req);
    let quotas = &server.state.opinion_quotas;
    if let Err(wait) = quotas.take(address, &quotas.units, unit) {
        let words = ("提交过于频繁，请稍后再试。", "Too many opinions from here or for this unit: try again later.");
        return over_quota(refuse(StatusCode::TOO_MANY_REQUESTS, words.0, words.1), wait);
    }
    let opinion =
        RecordOpinion { opinion: OpinionId::new(), round, about, text, rating, channel: Channel::Web, citizen };
    let command = SubmitOpinion(opinion);
    match send(server, command.into()).await {
        Ok(()) => said(
            StatusCode::OK,
            lang,
            true,
            lang.say(
                "感谢您的意见！经单位审核后将在公示栏公示。",
                "Thank you. Your opinion is shown on the board once the unit has reviewed it.",
            )
            .to_owned(),
        ),
        Err((status, message)) => {
            quotas.give_back(address, &quotas.units, unit);
            let unavailable =
                lang.say("暂时无法保存，请稍后再试。", "Your opinion could not be saved just now: try again later.");
            said(status, lang, false, message.unwrap_or_else(|| unavailable.to_owned()))
        }
    }
}

/// Sends `command` as the public's and waits, as after a mutation, until the read model
/// holds it. Refused: the status and the domain's words, or none when the store failed.
pub(super) async fn send(server: &Server, command: taizhang_core::Command) -> Result<(), (StatusCode, Option<String>)> {
    let context = taizhang_app::CommandContext::new(Actor::PUBLIC);
    match server.state.ledger.execute(context, command).await {
        Ok(outcome) => {
            server.state.metrics.command_applied(&outcome);
            let _ = server.state.projector.wait_for(outcome.last_position, crate::READ_YOUR_WRITES_WAIT).await;
            Ok(())
        }
        Err(taizhang_app::AppError::Domain(e)) => Err((StatusCode::UNPROCESSABLE_ENTITY, Some(e.to_string()))),
        Err(_) => Err((StatusCode::SERVICE_UNAVAILABLE, None)),
    }
}
