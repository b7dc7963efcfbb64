//! What every public page shares: the document around its content, one style sheet
//! for phones first (no script, no external resource: the pages' Content-Security-Policy
//! allows neither), and the outcome line of a form.

use poem::http::StatusCode;
use poem::Response;
use taizhang_io::certificate::html_escape as e;

use super::public;

/// The style of every public page: readable on a phone, nothing wider than the screen.
const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:48em;margin:0 auto;padding:1em;color:#111;line-height:1.5}\
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.5em}label{display:block;margin:.8em 0 .2em;font-weight:bold}\
input,textarea,select{box-sizing:border-box;width:100%;font-size:1.1em;padding:.4em;border:1px solid #666;border-radius:4px}\
.buttons{display:flex;gap:.8em;margin-top:1.2em}button{flex:1;font-size:1.1em;padding:.6em;border:0;border-radius:4px;\
color:#fff;background:#0b57a4}button.out{background:#7a3d00}.good{color:#0a5d22;font-weight:bold}\
.bad{color:#8a1c1c;font-weight:bold}.note{font-size:.85em;color:#444}a{color:#0b57a4}\
.wrap{overflow-x:auto}table{border-collapse:collapse;width:100%}td,th{border:1px solid #999;padding:.25em .4em;text-align:left}\
.n{text-align:right}ul.units{list-style:none;padding:0}ul.units li{padding:.4em 0;border-bottom:1px solid #ddd}\
.meta{font-size:.85em;color:#444;word-break:break-word}nav.top{display:flex;justify-content:space-between;gap:1em;flex-wrap:wrap}\
dl{display:grid;grid-template-columns:auto 1fr;gap:.2em 1em}dt{font-weight:bold}dd{margin:0}\
fieldset{border:1px solid #999;border-radius:4px;margin-top:1em}ul.picks{list-style:none;padding:0;margin:0}\
ul.picks li{display:flex;gap:.5em;align-items:center;padding:.2em 0}ul.picks input{width:auto}\
label.inline{display:inline;margin:0;font-weight:normal}td form button{padding:.3em .6em;font-size:1em}";

/// A page: `heading`, the outcome of the last form sent when there is one (`true` when
/// it succeeded), then `main`; in `lang` (`zh-CN` or `en`).
pub(super) fn layout(
    status: StatusCode,
    title: &str,
    heading: &str,
    said: Option<(bool, String)>,
    main: &str,
) -> Response {
    document(status, "zh-CN", title, heading, said, main)
}

/// [`layout`] in a language of the caller's choice.
pub(super) fn document(
    status: StatusCode,
    lang: &str,
    title: &str,
    heading: &str,
    said: Option<(bool, String)>,
    main: &str,
) -> Response {
    let said = said.map_or_else(String::new, |(good, message)| {
        let class = if good { "good" } else { "bad" };
        format!("<p class=\"{class}\" role=\"status\">{}</p>", e(&message))
    });
    let body = format!(
        "<!doctype html><html lang=\"{lang}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{title}</title>\
         <style>{STYLE}</style></head><body><main><h1>{heading}</h1>{said}{main}</main></body></html>"
    );
    public(Response::builder().status(status).content_type("text/html; charset=utf-8")).body(body)
}
