//! The web page: one HTML shell for `/`, `/discover` and `/match/{invite}`
//! (the script shows the right view), a stylesheet, a script and an icon,
//! compiled into the binary so `serve` needs no files and no build step.

use bytes::Bytes;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::{HeaderValue, header};
use warp::reply::Response;

const INDEX: &str = include_str!("assets/index.html");
const SCRIPT: &str = include_str!("assets/app.js");
const STYLE: &str = include_str!("assets/app.css");
const ICON: &str = include_str!("assets/icon.svg");

fn asset(body: &'static str, content_type: &'static str, cache: &'static str) -> Response {
    let mut r = Response::new(Bytes::from_static(body.as_bytes()).into());
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    r
}

fn page() -> Response {
    asset(INDEX, "text/html; charset=utf-8", "no-cache")
}

/// The page routes.
pub fn routes() -> BoxedFilter<(Response,)> {
    let get = warp::get().or(warp::head()).unify();
    let index = warp::path::end().map(page);
    let discover = warp::path!("discover").map(page);
    let invite = warp::path!("match" / String).map(|_invite: String| page());
    let statics = warp::path!("static" / String).and_then(|file: String| async move {
        let cache = "public, max-age=3600";
        match file.as_str() {
            "app.js" => Ok(asset(SCRIPT, "text/javascript; charset=utf-8", cache)),
            "app.css" => Ok(asset(STYLE, "text/css; charset=utf-8", cache)),
            "icon.svg" => Ok(asset(ICON, "image/svg+xml", cache)),
            _ => Err(warp::reject::not_found()),
        }
    });
    get.and(
        index
            .or(discover)
            .unify()
            .or(invite)
            .unify()
            .or(statics)
            .unify(),
    )
    .boxed()
}
