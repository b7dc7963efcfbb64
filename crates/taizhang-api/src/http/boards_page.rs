//! The published star boards on the public notice board (星级榜公示), read without a
//! token as the recognitions that rest on them are:
//!
//! - `GET /boards[?halfYear=2011H1]`: the boards published, the latest first;
//! - `GET /boards/{id}[?page=N]`: one board as published — how many reached each number
//!   of stars, then, on a board of units, the units a hundred a page: rank, name (linked
//!   to the unit's page), stars, score. Of a board of members only the counts are
//!   published: a member's stars are on their unit's page, where they consented.
//!
//! What these pages show is what `publishedBoard { standings }` answers without more
//! than the notice board's reach.
//!
//! A published board is computed once at its own position under its own policy, and
//! what these pages show of it is kept for good ([`crate::recognitions::standings`]);
//! the public's requests share one account of the server's heavy work.

use std::sync::Arc;

use poem::http::StatusCode;
use poem::web::{Data, Path};
use poem::{handler, Request, Response};
use taizhang_core::{BoardId, Role};
use taizhang_io::certificate::html_escape as e;

use super::board::{board_page, etag, unchanged, url_encode, Lang};
use super::{params, Server};
use crate::access::Principal;

/// Entries a page shows.
const ENTRIES_PER_PAGE: usize = 100;

/// Whom the heavy work of the public's requests is charged to: one account for all.
fn the_public() -> Principal {
    Principal { token: uuid::Uuid::nil(), role: Role::Viewer, units: Arc::from([]) }
}

/// A policy's title as loaded, else its name as the board recorded it.
fn policy_title<'a>(server: &'a Server, name: &'a str) -> &'a str {
    server.state.policies.get(name).map_or(name, |p| p.title.as_str())
}

/// `GET /boards[?halfYear=…]`.
#[handler]
pub(super) async fn boards_page(req: &Request, server: Data<&Arc<Server>>) -> Response {
    let response = boards_answer(req, &server).unwrap_or_else(|refused| refused);
    server.state.metrics.request("/boards", response.status().as_u16());
    response
}

#[allow(clippy::result_large_err)]
fn boards_answer(req: &Request, server: &Server) -> Result<Response, Response> {
    let params = params(req, &["halfYear", "lang"])?;
    let lang = Lang::of(&params);
    let half_year = params
        .get("halfYear")
        .map(|h| taizhang_core::HalfYear::parse("halfYear", h))
        .transpose()
        .map_err(|e| super::bad_request(e.to_string()))?;
    if let Some(unchanged) = unchanged(req, &etag(server.state.projector.position())) {
        return Ok(unchanged);
    }
    let lang_q = lang.query("?");
    let (items, position) = server.state.projector.read(|m| {
        let mut boards: Vec<_> =
            m.boards.values().filter(|b| half_year.is_none_or(|h| b.published.half_year == h)).collect();
        boards.sort_by_key(|b| std::cmp::Reverse(b.position));
        let items: String = boards
            .iter()
            .map(|b| {
                let p = &b.published;
                let title = policy_title(server, p.policy.as_str());
                format!(
                    "<li><a href=\"/boards/{id}{lang_q}\">{name}</a><br><span class=\"meta\">{half} · {title} · {entries} {listed}</span></li>",
                    id = p.board,
                    name = e(p.name.as_str()),
                    half = p.half_year,
                    title = e(title),
                    entries = p.entries,
                    listed = lang.say("个上榜", "listed"),
                )
            })
            .collect();
        (items, m.position)
    });
    let items = if items.is_empty() {
        format!("<p>{}</p>", lang.say("暂无公布的星级榜。", "No star board published yet."))
    } else {
        format!("<ul class=\"units\">{items}</ul>")
    };
    let main = format!(
        "<p>{intro}</p>{items}<p><a href=\"/recognitions{lang_q}\">{recognitions}</a> · <a href=\"/{lang_q}\">{back}</a></p>\
         <p class=\"meta\">{as_of} {position}</p>",
        intro = lang.say(
            "每半年依据群众评议、领导点评和承诺践诺情况评定星级，公布的星级榜可随时按原样重现。",
            "Every half-year the public's ballots, the leaders' reviews and the commitments kept decide the stars; a published board can be reproduced exactly at any time.",
        ),
        recognitions = lang.say("评星表彰公示", "Recognitions"),
        back = lang.say("返回公示栏", "Back to the notice board"),
        as_of = lang.say("数据截至日志位置", "As of log position"),
    );
    let title = lang.say("星级榜", "Star boards");
    Ok(board_page(StatusCode::OK, lang, &etag(position), title, "/boards", &main))
}

/// `GET /boards/{id}[?page=N]`.
#[handler]
pub(super) async fn published_board_page(
    req: &Request,
    Path(id): Path<String>,
    server: Data<&Arc<Server>>,
) -> Response {
    let response = published_board_answer(req, id.trim(), &server).await.unwrap_or_else(|refused| refused);
    server.state.metrics.request("/boards/{id}", response.status().as_u16());
    response
}

#[allow(clippy::result_large_err)]
async fn published_board_answer(req: &Request, id: &str, server: &Server) -> Result<Response, Response> {
    let params = params(req, &["page", "lang"])?;
    let lang = Lang::of(&params);
    let page: usize =
        params.get("page").map_or(Ok(1), |p| p.parse()).map_err(|_| super::bad_request("page: a number".into()))?;
    let page = page.max(1);
    let head = server.state.projector.position();
    let not_found = || {
        let main = format!("<p>{}</p>", lang.say("没有这个星级榜。", "There is no such star board."));
        board_page(StatusCode::NOT_FOUND, lang, &etag(head), lang.say("未找到", "Not found"), "/boards", &main)
    };
    let Ok(id) = id.parse::<uuid::Uuid>().map(BoardId) else { return Err(not_found()) };
    if let Some(unchanged) = unchanged(req, &etag(head)) {
        return Ok(unchanged);
    }
    let Some(record) = server.state.projector.read(|m| m.boards.get(&id).cloned()) else { return Err(not_found()) };
    let standings = crate::recognitions::standings(&server.state, &the_public(), &record.published)
        .await
        .map_err(|e| super::error_response(StatusCode::SERVICE_UNAVAILABLE, super::Media::Json, e))?;
    let published = &record.published;
    let at = published.as_of;
    // Units are listed by place; of members, the counts alone are published (a member's
    // stars are on their unit's page where they consented to be shown).
    let of_units = !standings.units.is_empty() || standings.star_counts.is_empty();
    let total = standings.units.len();
    let pages = total.div_ceil(ENTRIES_PER_PAGE).max(1);
    let lang_q = lang.query("&amp;");
    let (rows, position) = server.state.projector.read(|m| {
        let rows: String = standings
            .units
            .iter()
            .skip((page - 1).saturating_mul(ENTRIES_PER_PAGE))
            .take(ENTRIES_PER_PAGE)
            .map(|place| {
                let u = place.unit;
                let name = m.unit(u, at).map_or_else(|| u.to_string(), |v| v.name.to_string());
                let score = place.score.map(|(n, d)| taizhang_read::evaluations::show_fraction(n, d));
                format!(
                    "<tr><td class=\"n\">{}</td><td><a href=\"/units/{}{}\">{}</a></td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                    place.rank,
                    url_encode(&m.reference(u.0)),
                    lang.query("?"),
                    e(&name),
                    place.stars,
                    score.unwrap_or_default()
                )
            })
            .collect();
        (rows, m.position)
    });
    let spread: String = standings
        .star_counts
        .iter()
        .map(|c| format!("<tr><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>", c.stars, c.count))
        .collect();
    let link = |n: usize| format!("/boards/{}?page={n}{lang_q}", published.board);
    let mut paging = Vec::new();
    if page > 1 {
        paging.push(format!("<a href=\"{}\">{}</a>", link(page - 1), lang.say("上一页", "Previous")));
    }
    if page < pages {
        paging.push(format!("<a href=\"{}\">{}</a>", link(page + 1), lang.say("下一页", "Next")));
    }
    let main = format!(
        "<dl><dt>{half_l}</dt><dd>{half}</dd><dt>{policy_l}</dt><dd>{policy} v{version}</dd>\
         <dt>{at_l}</dt><dd>{at}</dd><dt>{digest_l}</dt><dd class=\"meta\">{digest}</dd></dl>\
         <h2>{spread_h}</h2><div class=\"wrap\" tabindex=\"0\" role=\"region\" aria-label=\"{spread_h}\"><table>\
         <thead><tr><th class=\"n\">{stars_l}</th><th class=\"n\">{count_l}</th></tr></thead><tbody>{spread}</tbody></table></div>\
         {entries}\
         <p><a href=\"/boards{back_q}\">{all}</a> · <a href=\"/recognitions{back_q}\">{recognitions}</a></p>\
         <p class=\"meta\">{as_of} {position}</p>",
        half_l = lang.say("半年", "Half-year"),
        half = published.half_year,
        policy_l = lang.say("评定办法", "Policy"),
        policy = e(policy_title(server, published.policy.as_str())),
        version = published.policy_version,
        at_l = lang.say("依据日志位置", "Computed at log position"),
        digest_l = lang.say("榜单摘要", "Board digest"),
        digest = e(published.digest.as_str()),
        spread_h = lang.say("各星级人数", "How many reached each number of stars"),
        stars_l = lang.say("星级", "Stars"),
        count_l = lang.say("数量", "Count"),
        entries = if of_units {
            let heading = match lang {
                Lang::Zh => format!("榜单（共 {total} 个单位，第 {page} / {pages} 页）"),
                Lang::En => format!("The board ({total} units, page {page} of {pages})"),
            };
            format!(
                "<h2>{heading}</h2><div class=\"wrap\" tabindex=\"0\" role=\"region\" aria-label=\"{heading}\"><table>\
                 <thead><tr><th class=\"n\">{rank}</th><th>{unit}</th><th class=\"n\">{stars}</th><th class=\"n\">{score}</th></tr></thead>\
                 <tbody>{rows}</tbody></table></div><p>{paging}</p>",
                rank = lang.say("名次", "Rank"),
                unit = lang.say("单位", "Unit"),
                stars = lang.say("星级", "Stars"),
                score = lang.say("得分", "Score"),
                paging = paging.join(" · "),
            )
        } else {
            format!(
                "<p>{}</p>",
                lang.say(
                    "党员星级按人数公布；本人同意公开的党员，其星级见所在单位的公示页。",
                    "Of members, the counts are published; a member who consented to be shown has their stars on their unit's page.",
                )
            )
        },
        back_q = lang.query("?"),
        all = lang.say("全部星级榜", "All star boards"),
        recognitions = lang.say("评星表彰公示", "Recognitions"),
        as_of = lang.say("数据截至日志位置", "As of log position"),
    );
    let here = format!("/boards/{}?page={page}", published.board);
    Ok(board_page(StatusCode::OK, lang, &etag(position), &e(published.name.as_str()), &here, &main))
}
