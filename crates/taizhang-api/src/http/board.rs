//! The public notice board (公示栏), without a token: the city's units by region and
//! industry with a search (`GET /`), and a unit's page (`GET /units/{code}`): who it is,
//! its public commitments and what became of them, its weekly summaries and its service
//! figures; links to the check-in and correction pages, and a form for the certificate
//! check (`GET /certificate-check`); the nominations listed for objections and the
//! recognitions decided (`GET /recognitions`, and on each unit's page); the published
//! star boards are in [`super::boards_page`]. Chinese first;
//! `?lang=en` for English; `?asOf=N` for a page as the log stood at position N.
//!
//! Only what the campaign publishes is shown: a member only where they consented to be
//! shown (name and post), no other personal data, no commitment a unit keeps within
//! itself. Each page names the log position it reflects and carries
//! it as its validator (`ETag`), so a repeated request is answered `304` until the log
//! moves.

use std::sync::Arc;

use poem::http::{header, StatusCode};
use poem::web::{Data, Path};
use poem::{handler, Request, Response};
use taizhang_core::{Fulfilment, UnitId};
use taizhang_io::certificate::html_escape as e;
use taizhang_read::ReadModel;
use taizhang_store::Position;

use super::page::document;
use super::{opinion_form, params, Server};

/// Units listed on one page of the board.
const UNITS_PER_PAGE: usize = 100;
/// The longest search, in characters.
const MAX_SEARCH_CHARS: usize = 50;
/// Weekly summaries shown on a unit's page, the latest first.
const SUMMARIES_SHOWN: usize = 8;

/// The language of a page.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Lang {
    Zh,
    En,
}

impl Lang {
    pub(super) fn of(params: &std::collections::BTreeMap<String, String>) -> Self {
        match params.get("lang").map(String::as_str) {
            Some("en") => Lang::En,
            _ => Lang::Zh,
        }
    }

    pub(super) fn tag(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    /// `zh` or `en`, as the language requires.
    pub(super) fn say<'a>(self, zh: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }

    /// What keeps this language on a link whose query string goes on after `separator`
    /// (`?` or `&amp;`): nothing for Chinese.
    pub(super) fn query(self, separator: &str) -> String {
        match self {
            Lang::Zh => String::new(),
            Lang::En => format!("{separator}lang=en"),
        }
    }

    /// The query string that keeps this language on a link (`""` for Chinese).
    fn keep(self) -> &'static str {
        match self {
            Lang::Zh => "",
            Lang::En => "lang=en",
        }
    }
}

/// The position a page asked for with `?asOf=N` (a log position), if it asked.
// The error is the answer itself, returned at once by the route.
#[allow(clippy::result_large_err)]
fn as_of(params: &std::collections::BTreeMap<String, String>) -> Result<Option<Position>, Response> {
    params
        .get("asOf")
        .map(|p| p.trim().parse::<Position>())
        .transpose()
        .map_err(|_| super::bad_request("asOf: a log position (a whole number)".into()))
}

/// The validator of a page reflecting the log at `position`: a page's address names
/// everything else it depends on.
pub(super) fn etag(position: Position) -> String {
    format!("W/\"p{position}\"")
}

/// `304 Not Modified` when the caller holds the page as of the same position.
pub(super) fn unchanged(req: &Request, tag: &str) -> Option<Response> {
    let held = req.headers().get(header::IF_NONE_MATCH)?.to_str().ok()?;
    held.split(',')
        .any(|t| t.trim() == tag)
        .then(|| board_headers(Response::builder(), tag).status(StatusCode::NOT_MODIFIED).finish())
}

/// Headers of a board page: guarded, kept by caches only to be validated again, with
/// its validator.
fn board_headers(response: poem::ResponseBuilder, tag: &str) -> poem::ResponseBuilder {
    super::guarded(response)
        .header(header::ETAG, tag)
        .header(header::CACHE_CONTROL, "no-cache")
        .header(header::REFERRER_POLICY, "same-origin")
}

/// A board page: the document, its validator and the language switch.
pub(super) fn board_page(
    status: StatusCode,
    lang: Lang,
    tag: &str,
    title: &str,
    switch_to: &str,
    main: &str,
) -> Response {
    let other = match lang {
        Lang::Zh => format!(
            "<a href=\"{switch_to}{}lang=en\" lang=\"en\">English</a>",
            if switch_to.contains('?') { "&amp;" } else { "?" }
        ),
        Lang::En => format!("<a href=\"{switch_to}\" lang=\"zh-CN\">中文</a>"),
    };
    let home = lang.say("公示栏首页", "Notice board");
    let nav = format!(
        "<nav class=\"top\" aria-label=\"{nav}\"><a href=\"/{q}\">{home}</a>{other}</nav>",
        nav = lang.say("导航", "Navigation"),
        q = if lang == Lang::En { "?lang=en" } else { "" },
    );
    let mut response = document(status, lang.tag(), title, title, None, &format!("{nav}{main}"));
    for (name, value) in board_headers(Response::builder(), tag).finish().headers() {
        response.headers_mut().insert(name.clone(), value.clone());
    }
    response
}

/// `GET /?q=…&region=…&industry=…&page=N`: the units, by region then name.
#[handler]
pub(super) async fn board(req: &Request, server: Data<&Arc<Server>>) -> Response {
    let response = board_answer(req, &server).unwrap_or_else(|refused| refused);
    server.state.metrics.request("/", response.status().as_u16());
    response
}

// The error is the answer itself, returned at once by the route.
#[allow(clippy::result_large_err)]
fn board_answer(req: &Request, server: &Server) -> Result<Response, Response> {
    let params = params(req, &["q", "region", "industry", "page", "lang", "asOf"])?;
    let lang = Lang::of(&params);
    let asked = as_of(&params)?;
    let text = |name: &str| params.get(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    let (q, region, industry) = (text("q"), text("region"), text("industry"));
    if [&q, &region, &industry].iter().any(|v| v.as_ref().is_some_and(|v| v.chars().count() > MAX_SEARCH_CHARS)) {
        return Err(super::bad_request(format!("a search is at most {MAX_SEARCH_CHARS} characters")));
    }
    let page: usize =
        params.get("page").map_or(Ok(1), |p| p.parse()).map_err(|_| super::bad_request("page: a number".into()))?;
    let page = page.max(1);
    let head = server.state.projector.position();
    let tag = etag(asked.map_or(head, |a| a.min(head)));
    if let Some(unchanged) = unchanged(req, &tag) {
        return Ok(unchanged);
    }
    let (listed, total, regions, industries, position) = server.state.projector.read(|m| {
        // The model may have moved since the validator was taken: the page states, and
        // is tagged with, the position it was read at.
        let p = asked.map_or(m.position, |a| a.min(m.position));
        // One pass over the units, borrowing: only the page's hundred are copied out.
        let (mut regions, mut industries) = (std::collections::BTreeSet::new(), std::collections::BTreeSet::new());
        let mut units: Vec<(&str, &str, &str, UnitId)> = Vec::new();
        for (id, unit) in m.units.keys().filter_map(|id| Some((*id, m.unit(*id, p)?))) {
            regions.insert(unit.region.as_str());
            industries.insert(unit.industry.as_str());
            let (region_of, industry_of) = (unit.region.as_str(), unit.industry.as_str());
            if region.as_deref().is_some_and(|r| r != region_of)
                || industry.as_deref().is_some_and(|i| i != industry_of)
            {
                continue;
            }
            let found = q.as_deref().is_none_or(|q| {
                unit.name.as_str().contains(q) || m.code(id.0, p).is_some_and(|c| c.as_str().contains(q))
            });
            if found {
                units.push((region_of, unit.name.as_str(), industry_of, id));
            }
        }
        units.sort_unstable();
        let total = units.len();
        let listed: Vec<(String, String, String, String)> = units
            .into_iter()
            .skip((page - 1).saturating_mul(UNITS_PER_PAGE))
            .take(UNITS_PER_PAGE)
            .map(|(region, name, industry, id)| {
                (region.to_owned(), name.to_owned(), industry.to_owned(), m.reference(id.0))
            })
            .collect();
        let regions: Vec<String> = regions.into_iter().map(str::to_owned).collect();
        let industries: Vec<String> = industries.into_iter().map(str::to_owned).collect();
        (listed, total, regions, industries, p)
    });
    let keep = |extra: &str| {
        let mut parts: Vec<String> = Vec::new();
        for (name, value) in [("q", &q), ("region", &region), ("industry", &industry)] {
            if let Some(v) = value {
                parts.push(format!("{name}={}", url_encode(v)));
            }
        }
        if !lang.keep().is_empty() {
            parts.push(lang.keep().to_owned());
        }
        if let Some(a) = asked {
            parts.push(format!("asOf={a}"));
        }
        if !extra.is_empty() {
            parts.push(extra.to_owned());
        }
        if parts.is_empty() {
            "/".to_owned()
        } else {
            format!("/?{}", parts.join("&amp;"))
        }
    };
    let options = |all: &str, values: &[String], chosen: &Option<String>| {
        let mut html = format!("<option value=\"\">{}</option>", e(all));
        for v in values {
            let selected = if chosen.as_deref() == Some(v.as_str()) { " selected" } else { "" };
            html.push_str(&format!("<option{selected}>{}</option>", e(v)));
        }
        html
    };
    let items: String = listed
        .iter()
        .map(|(region, name, industry, code)| {
            let mut query: Vec<String> = Vec::new();
            if lang == Lang::En {
                query.push("lang=en".to_owned());
            }
            if let Some(a) = asked {
                query.push(format!("asOf={a}"));
            }
            let query = if query.is_empty() { String::new() } else { format!("?{}", query.join("&amp;")) };
            let link = format!("/units/{}{query}", url_encode(code));
            format!(
                "<li><a href=\"{link}\">{}</a><br><span class=\"meta\">{} · {}</span></li>",
                e(name),
                e(region),
                e(industry)
            )
        })
        .collect();
    let pages = total.div_ceil(UNITS_PER_PAGE).max(1);
    let mut paging = String::new();
    if page > 1 {
        paging.push_str(&format!(
            "<a href=\"{}\">{}</a> ",
            keep(&format!("page={}", page - 1)),
            lang.say("上一页", "Previous")
        ));
    }
    if page < pages {
        paging.push_str(&format!(
            "<a href=\"{}\">{}</a>",
            keep(&format!("page={}", page + 1)),
            lang.say("下一页", "Next")
        ));
    }
    let main = format!(
        "<p>{intro}</p><form method=\"get\" action=\"/\" role=\"search\">\
         <label for=\"q\">{search}</label><input id=\"q\" name=\"q\" value=\"{q}\" maxlength=\"{max}\">\
         <label for=\"region\">{region_label}</label><select id=\"region\" name=\"region\">{region_options}</select>\
         <label for=\"industry\">{industry_label}</label><select id=\"industry\" name=\"industry\">{industry_options}</select>\
         {lang_field}{as_of_field}<div class=\"buttons\"><button>{find}</button></div></form>\
         <h2>{found}</h2><ul class=\"units\">{items}</ul><p>{paging}</p>\
         <h2>{services}</h2><ul><li><a href=\"/boards{lang_q}\">{star_boards}</a></li><li><a href=\"/recognitions{lang_q}\">{recognitions}</a></li>\
         <li><a href=\"/check-in{lang_q}\">{check_in}</a></li><li><a href=\"/correction\">{correction}</a></li></ul>\
         <h2 id=\"certificate\">{certificate}</h2><form method=\"get\" action=\"/certificate-check\">\
         <label for=\"number\">{number_label}</label><input id=\"number\" name=\"number\" required maxlength=\"20\" placeholder=\"2011-000001\">\
         <label for=\"code\">{code_label}</label><input id=\"code\" name=\"code\" required maxlength=\"20\" autocomplete=\"off\">\
         <div class=\"buttons\"><button>{check}</button></div></form><p class=\"meta\">{as_of} {position}</p>",
        star_boards = lang.say("星级榜", "Star boards"),
        intro = lang.say(
            "十堰市窗口单位党员服务公示：单位职责、公开承诺、回头看与服务时长，欢迎群众监督。",
            "Shiyan's service windows in public: their duties, public commitments, look-backs and service hours, for the public to supervise.",
        ),
        search = lang.say("单位名称或编号", "Unit name or code"),
        q = e(q.as_deref().unwrap_or("")),
        max = MAX_SEARCH_CHARS,
        region_label = lang.say("县（市、区）", "County or district"),
        region_options = options(lang.say("全部", "All"), &regions, &region),
        industry_label = lang.say("行业", "Industry"),
        industry_options = options(lang.say("全部", "All"), &industries, &industry),
        lang_field = if lang == Lang::En { "<input type=\"hidden\" name=\"lang\" value=\"en\">" } else { "" },
        as_of_field = asked.map(|a| format!("<input type=\"hidden\" name=\"asOf\" value=\"{a}\">")).unwrap_or_default(),
        find = lang.say("查找", "Find"),
        found = match lang {
            Lang::Zh => format!("共 {total} 个单位（第 {page} / {pages} 页）"),
            Lang::En => format!("{total} units (page {page} of {pages})"),
        },
        services = lang.say("便民服务", "Services"),
        lang_q = if lang == Lang::En { "?lang=en" } else { "" },
        check_in = lang.say("志愿服务签到签退", "Volunteer check-in and check-out"),
        recognitions = lang.say("评星表彰公示", "Recognitions and their public listing"),
        correction = lang.say("申请更正服务记录", "Ask for a correction of your record"),
        certificate = lang.say("核验志愿服务记录证明", "Check a service certificate"),
        number_label = lang.say("证明编号", "Certificate number"),
        code_label = lang.say("核验码", "Check code"),
        check = lang.say("核验", "Check"),
        as_of = lang.say("数据截至日志位置", "As of log position"),
    );
    let title = lang.say("十堰市窗口单位公示栏", "Shiyan service windows: notice board");
    Ok(board_page(StatusCode::OK, lang, &etag(position), title, &keep(""), &main))
}

/// Percent-encodes a value for a link's query or path.
pub(super) fn url_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `GET /certificate-check?number=…&code=…`: the board's certificate form, sent on to
/// the certificate's public check (`303 See Other`).
#[handler]
pub(super) async fn certificate_form(req: &Request, server: Data<&Arc<Server>>) -> Response {
    let response = match params(req, &["number", "code"]) {
        Ok(params) => {
            let field = |name: &str| params.get(name).map(|v| v.trim().to_owned()).unwrap_or_default();
            let (number, code) = (field("number"), field("code"));
            if number.is_empty() || number.chars().count() > 20 || code.chars().count() > 20 {
                super::bad_request("give the certificate's number and check code as printed on it".into())
            } else {
                let to = format!("/certificates/{}?code={}", url_encode(&number), url_encode(&code));
                Response::builder().status(StatusCode::SEE_OTHER).header(header::LOCATION, to).finish()
            }
        }
        Err(refused) => refused,
    };
    server.state.metrics.request("/certificate-check", response.status().as_u16());
    response
}

/// `GET /units/{code}`: a unit's public page.
/// Recognitions listed on one page.
const RECOGNITIONS_PER_PAGE: usize = 100;

/// `GET /recognitions[?halfYear=2011H1][&page=N]`: the public listing (公示) of the
/// nominations and the recognitions decided (表彰名单), in the order nominated: the unit
/// and the award; a member as one of their unit's (names are on the unit's page, where
/// the member consented to be shown).
#[handler]
pub(super) async fn recognitions_page(req: &Request, server: Data<&Arc<Server>>) -> Response {
    let response = recognitions_answer(req, &server).unwrap_or_else(|refused| refused);
    server.state.metrics.request("/recognitions", response.status().as_u16());
    response
}

#[allow(clippy::result_large_err)]
fn recognitions_answer(req: &Request, server: &Server) -> Result<Response, Response> {
    let params = params(req, &["halfYear", "page", "lang", "asOf"])?;
    let lang = Lang::of(&params);
    let asked = as_of(&params)?;
    let half_year = params
        .get("halfYear")
        .map(|h| taizhang_core::HalfYear::parse("halfYear", h))
        .transpose()
        .map_err(|e| super::bad_request(e.to_string()))?;
    let page: usize =
        params.get("page").map_or(Ok(1), |p| p.parse()).map_err(|_| super::bad_request("page: a number".into()))?;
    let page = page.max(1);
    let head = server.state.projector.position();
    if let Some(unchanged) = unchanged(req, &etag(asked.map_or(head, |a| a.min(head)))) {
        return Ok(unchanged);
    }
    let (items, total, position) = server.state.projector.read(|m| {
        let p = asked.map_or(m.position, |a| a.min(m.position));
        let mut records: Vec<_> = m
            .recognitions
            .values()
            .filter(|r| half_year.is_none_or(|h| r.nominated.half_year == h))
            .filter_map(|r| r.at(p))
            .collect();
        records.sort_by_key(|r| r.position);
        let total = records.len();
        let items: String = records
            .iter()
            .skip((page - 1).saturating_mul(RECOGNITIONS_PER_PAGE))
            .take(RECOGNITIONS_PER_PAGE)
            .map(|r| {
                let n = &r.nominated;
                let unit = m.unit(n.unit, p).map_or_else(|| n.unit.to_string(), |u| u.name.to_string());
                let who = match n.nominee {
                    taizhang_core::Rated::Unit(_) => String::new(),
                    taizhang_core::Rated::Member(_) => lang.say(" · 党员", " · a member").to_owned(),
                };
                let lang_q = if lang == Lang::En { "?lang=en" } else { "" };
                format!(
                    "<li><a href=\"/recognitions/{}{lang_q}\"><strong>{}</strong></a> {} · \
                     <a href=\"/units/{}{lang_q}#recognitions\">{}</a>{who}<br>\
                     <span class=\"meta\">{}</span></li>",
                    n.recognition,
                    e(&award_label(server, n.award.as_str())),
                    n.half_year,
                    url_encode(&m.reference(n.unit.0)),
                    e(&unit),
                    e(&recognition_state(lang, r))
                )
            })
            .collect();
        (items, total, p)
    });
    let pages = total.div_ceil(RECOGNITIONS_PER_PAGE).max(1);
    let link = |n: usize, lang: Lang| {
        let mut parts = vec![format!("page={n}")];
        if let Some(h) = half_year {
            parts.push(format!("halfYear={h}"));
        }
        if lang == Lang::En {
            parts.push("lang=en".to_owned());
        }
        if let Some(a) = asked {
            parts.push(format!("asOf={a}"));
        }
        format!("/recognitions?{}", parts.join("&amp;"))
    };
    let mut paging = String::new();
    if page > 1 {
        paging.push_str(&format!("<a href=\"{}\">{}</a> ", link(page - 1, lang), lang.say("上一页", "Previous")));
    }
    if page < pages {
        paging.push_str(&format!("<a href=\"{}\">{}</a>", link(page + 1, lang), lang.say("下一页", "Next")));
    }
    let items = if items.is_empty() {
        format!("<p>{}</p>", lang.say("暂无评星表彰。", "No recognitions yet."))
    } else {
        format!("<ul class=\"units\">{items}</ul>")
    };
    let main = format!(
        "<p>{intro}</p><h2>{found}</h2>{items}<p>{paging}</p>\
         <p><a href=\"/boards{lang_q}\">{star_boards}</a> · <a href=\"/{lang_q}\">{back}</a></p>\
         <p class=\"meta\">{as_of} {position}</p>",
        intro = lang.say(
            "评星表彰对象在决定前公示，公示期内可在各项提名的公示页提出异议，或向监督电话反映；决定以公布的星级榜为依据。",
            "Nominations are listed for objections before they are decided: object on a nomination's page, or call \
             the supervision line. Each decision rests on a published star board.",
        ),
        found = match lang {
            Lang::Zh => format!("共 {total} 项（第 {page} / {pages} 页）"),
            Lang::En => format!("{total} nominations (page {page} of {pages})"),
        },
        lang_q = if lang == Lang::En { "?lang=en" } else { "" },
        back = lang.say("返回公示栏", "Back to the notice board"),
        star_boards = lang.say("公布的星级榜", "The published star boards"),
        as_of = lang.say("数据截至日志位置", "As of log position"),
    );
    // The language switch adds its own `lang`.
    let here = link(page, Lang::Zh);
    let title = lang.say("评星表彰公示", "Recognitions and their public listing");
    Ok(board_page(StatusCode::OK, lang, &etag(position), title, &here, &main))
}

#[handler]
pub(super) async fn unit_page(req: &Request, Path(code): Path<String>, server: Data<&Arc<Server>>) -> Response {
    let response = unit_answer(req, &code, &server).await.unwrap_or_else(|refused| refused);
    server.state.metrics.request("/units", response.status().as_u16());
    response
}

#[allow(clippy::result_large_err)]
async fn unit_answer(req: &Request, code: &str, server: &Server) -> Result<Response, Response> {
    let params = params(req, &["lang", "asOf"])?;
    let lang = Lang::of(&params);
    let asked = as_of(&params)?;
    let code = code.trim();
    let unit = UnitId::parse_ref(code);
    // The page's opinion form carries a proof of the day it was served: the validator
    // names the day too, so a page kept by a cache is served again the next day.
    let day = opinion_form::today();
    let tag = |position: Position| format!("W/\"p{position}-{day}\"");
    let head = server.state.projector.position();
    let shown_at = asked.map_or(head, |a| a.min(head));
    if let Some(unchanged) = unchanged(req, &tag(shown_at)) {
        return Ok(unchanged);
    }
    // The members' cards first: their names are opened with their keys, outside the
    // model's lock; the page is then read as of the same position.
    let cards = crate::members::public_members(&server.state, unit, shown_at).await.map_err(|e| {
        super::error_response(StatusCode::SERVICE_UNAVAILABLE, super::Media::Json, crate::error::app(e))
    })?;
    let page = Page { code, lang, at: shown_at, at_head: asked.is_none(), cards: &cards };
    let Some(main) = server.state.projector.read(|m| unit_main(server, m, unit, &page)) else {
        let main = format!("<p>{}</p>", lang.say("没有这个单位。", "There is no such unit."));
        let tag = tag(server.state.projector.position());
        return Ok(board_page(StatusCode::NOT_FOUND, lang, &tag, lang.say("未找到", "Not found"), "/", &main));
    };
    let (title, main, read_at) = main;
    let here = match asked {
        Some(a) => format!("/units/{}?asOf={a}", url_encode(code)),
        None => format!("/units/{}", url_encode(code)),
    };
    Ok(board_page(StatusCode::OK, lang, &tag(read_at), &title, &here, &main))
}

/// What a unit's page is asked to show.
struct Page<'a> {
    code: &'a str,
    lang: Lang,
    /// The log position the page shows.
    at: Position,
    /// Not asked for an earlier position: the page takes opinions.
    at_head: bool,
    /// The members shown, as they consented.
    cards: &'a [crate::members::PublicMember],
}

/// A unit's page as `page` asks: its title, its content and the position read; `None`
/// for a unit the log does not hold then.
fn unit_main(server: &Server, m: &ReadModel, unit: UnitId, page: &Page<'_>) -> Option<(String, String, Position)> {
    let (code, lang) = (page.code, page.lang);
    let p = page.at.min(m.position);
    let info = m.unit(unit, p)?;
    let parent = info.parent.and_then(|id| m.unit(id, p)).map(|u| u.name.to_string());
    let status = |fulfilment: Option<Fulfilment>, withdrawn: bool| match (withdrawn, fulfilment) {
        (true, _) => lang.say("已撤回", "withdrawn"),
        (_, Some(Fulfilment::Kept)) => lang.say("已兑现", "kept"),
        (_, Some(Fulfilment::PartlyKept)) => lang.say("部分兑现", "partly kept"),
        (_, Some(Fulfilment::NotKept)) => lang.say("未兑现", "not kept"),
        (_, None) => lang.say("履行中", "in progress"),
    };
    let commitments: String = m
        .unit_commitments(unit)
        .iter()
        .filter_map(|id| m.commitments.get(id)?.at(p))
        .filter(|v| v.content.public)
        .map(|v| {
            let c = &v.content;
            let target = c.target.as_ref().map(|t| format!("（{}）", e(t.as_str()))).unwrap_or_default();
            let state = status(v.assessment.as_ref().map(|a| a.fulfilment), v.withdrawn.is_some());
            format!(
                "<li><strong>{}</strong>：{}{target}<br><span class=\"meta\">{} – {} · {state}</span></li>",
                e(c.category.as_str()),
                e(c.text.as_str()),
                c.from,
                c.until,
            )
        })
        .collect();
    let commitments = if commitments.is_empty() {
        format!("<p>{}</p>", lang.say("暂无公开承诺。", "No public commitments yet."))
    } else {
        format!("<ul class=\"units\">{commitments}</ul>")
    };
    let mut summaries: Vec<_> =
        m.unit_summaries(unit).filter_map(|h| h.at(p).map(|(_, t)| (h.week, t.clone()))).collect();
    summaries.sort_by_key(|(week, _)| std::cmp::Reverse((week.year, week.week)));
    let summaries: String = summaries
        .iter()
        .take(SUMMARIES_SHOWN)
        .map(|(week, text)| format!("<li><strong>{week}</strong> {}</li>", e(text.done.as_str())))
        .collect();
    let summaries = if summaries.is_empty() {
        format!("<p>{}</p>", lang.say("暂无每周小结。", "No weekly summaries yet."))
    } else {
        format!("<ul>{summaries}</ul>")
    };
    let (mut outings, mut minutes, mut verified) = (0u64, 0u64, 0u64);
    for number in m.unit_outings(unit) {
        let Some(view) = m.outing_by_number(*number, p) else { continue };
        if view.voided {
            continue;
        }
        outings += 1;
        minutes += view.total_minutes();
        if view.verified {
            verified += view.total_minutes();
        }
    }
    let hours = |minutes: u64| taizhang_io::export::hours(minutes);
    let figures = match lang {
        Lang::Zh => format!(
            "志愿服务活动 {outings} 次，记录服务时长 {} 小时，其中经审核 {} 小时。",
            hours(minutes),
            hours(verified)
        ),
        Lang::En => format!(
            "{outings} volunteer outings, {} hours recorded, {} of them verified.",
            hours(minutes),
            hours(verified)
        ),
    };
    let parent = parent
        .map(|p| format!("<dt>{}</dt><dd>{}</dd>", lang.say("上级单位", "Parent unit"), e(&p)))
        .unwrap_or_default();
    let main = format!(
        "<dl><dt>{industry_label}</dt><dd>{industry}</dd><dt>{region_label}</dt><dd>{region}</dd>{parent}\
         <dt>{code_label}</dt><dd>{code}</dd></dl>\
         <h2>{commitments_heading}</h2>{commitments}{members}<h2>{figures_heading}</h2><p>{figures}</p>\
         <h2>{summaries_heading}</h2>{summaries}{recognitions}{opinions}<p class=\"meta\">{as_of} {p}</p>",
        recognitions = recognitions_section(server, m, unit, page, p),
        opinions = opinion_form::section(server, m, unit, code, lang, p, page.at_head),
        members = members_section(m, unit, page, p),
        industry_label = lang.say("行业", "Industry"),
        industry = e(info.industry.as_str()),
        region_label = lang.say("县（市、区）", "County or district"),
        region = e(info.region.as_str()),
        code_label = lang.say("单位编号", "Unit code"),
        code = e(&m.reference(unit.0)),
        commitments_heading = lang.say("公开承诺", "Public commitments"),
        figures_heading = lang.say("志愿服务", "Volunteer service"),
        summaries_heading = lang.say("每周小结", "Weekly summaries"),
        as_of = lang.say("数据截至日志位置", "As of log position"),
    );
    Some((e(info.name.as_str()), main, p))
}

/// How a recognition stands, in words: listed for objections until a day, recognised
/// (with the stars its board gave), or revoked.
pub(super) fn recognition_state(lang: Lang, r: &taizhang_read::recognitions::RecognitionRecord) -> String {
    match (&r.decision, &r.revoked) {
        (_, Some(_)) => lang.say("已撤销", "revoked").to_owned(),
        (Some(d), None) => {
            let stars = d.evidence.outcome.as_ref().map_or("0", |o| o.as_str());
            match lang {
                Lang::Zh => format!("已表彰（星级榜 {stars} 星）"),
                Lang::En => format!("recognised ({stars} stars on the board)"),
            }
        }
        (None, None) => match lang {
            Lang::Zh => format!("公示中，至 {} 止", r.nominated.listed_until),
            Lang::En => format!("listed for objections until {}", r.nominated.listed_until),
        },
    }
}

/// The award's label (岗位先锋 …), else its name.
pub(super) fn award_label(server: &Server, award: &str) -> String {
    server.state.policies.award(award).ok().and_then(|(_, a)| a.label.clone()).unwrap_or_else(|| award.to_owned())
}

/// A unit's recognitions and its members' (公示 and 表彰): the unit's by award, a member
/// by name where they consented to be shown, else counted; nothing when there are none.
fn recognitions_section(server: &Server, m: &ReadModel, unit: UnitId, page: &Page<'_>, p: Position) -> String {
    let lang = page.lang;
    let mut records: Vec<_> =
        m.recognitions.values().filter(|r| r.nominated.unit == unit).filter_map(|r| r.at(p)).collect();
    if records.is_empty() {
        return String::new();
    }
    records.sort_by_key(|r| r.position);
    let items: String = records
        .iter()
        .map(|r| {
            let n = &r.nominated;
            let who = match n.nominee {
                taizhang_core::Rated::Unit(_) => lang.say("本单位", "This unit").to_owned(),
                taizhang_core::Rated::Member(member) => {
                    let card = page.cards.iter().find(|c| taizhang_core::MemberId::parse_ref(c.id.as_str()) == member);
                    card.map_or_else(
                        || lang.say("本单位一名党员", "A member of this unit").to_owned(),
                        |c| c.name.clone(),
                    )
                }
            };
            format!(
                "<li><strong>{}</strong> {} · {}<br><span class=\"meta\">{}</span></li>",
                e(&award_label(server, n.award.as_str())),
                n.half_year,
                e(&who),
                e(&recognition_state(lang, r))
            )
        })
        .collect();
    format!(
        "<h2 id=\"recognitions\">{}</h2><ul class=\"units\">{items}</ul>",
        lang.say("评星表彰", "Stars and recognitions")
    )
}

/// The members shown on a unit's page, as they consented (亮身份): name, post and the
/// public commitments they made; nothing when none consented.
fn members_section(m: &ReadModel, unit: UnitId, page: &Page<'_>, p: Position) -> String {
    if page.cards.is_empty() {
        return String::new();
    }
    let lang = page.lang;
    let cards: String = page
        .cards
        .iter()
        .map(|card| {
            let member = taizhang_core::MemberId::parse_ref(card.id.as_str());
            let promised: String = m
                .unit_commitments(unit)
                .iter()
                .filter_map(|id| m.commitments.get(id).filter(|c| c.member == Some(member))?.at(p))
                .filter(|v| v.content.public && v.withdrawn.is_none())
                .map(|v| {
                    format!(
                        "<br><span class=\"meta\">{}{}</span>",
                        lang.say("承诺：", "Promise: "),
                        e(v.content.text.as_str())
                    )
                })
                .collect();
            let post = card.post.as_deref().map(|post| format!(" · {}", e(post))).unwrap_or_default();
            format!("<li><strong>{}</strong>{post}{promised}</li>", e(&card.name))
        })
        .collect();
    format!(
        "<h2 id=\"members\">{}</h2><ul class=\"units\">{cards}</ul>",
        lang.say("党员亮身份", "Party members on duty")
    )
}
