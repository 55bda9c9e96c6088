//! The HTTP side: one warp catch-all that records each request (without
//! the key), lets a queued fault answer first, checks the key, then asks
//! the state for the method's answer; `/api/auth/` is the web-auth page.
//! Anything else is a 404.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use warp::Filter;
use warp::http::Response;

use super::state::{self, Answer, State};
use super::{Fault, Recorded};

type Reply = Response<Vec<u8>>;

/// Serves `state` on `listener` until the returned sender fires or drops.
pub(super) fn spawn(
    listener: tokio::net::TcpListener,
    state: Arc<Mutex<State>>,
) -> tokio::sync::oneshot::Sender<()> {
    let routes = warp::path::full()
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .then(move |path: warp::path::FullPath, query: String| {
            let state = state.clone();
            async move { Ok::<Reply, Infallible>(handle(&state, path.as_str(), &query)) }
        });
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(
        warp::serve(routes)
            .incoming(listener)
            .graceful(async {
                let _ = rx.await;
            })
            .run(),
    );
    tx
}

fn handle(state: &Arc<Mutex<State>>, path: &str, query: &str) -> Reply {
    if path.trim_end_matches('/') == "/api/auth" {
        return auth_page(state, path, query);
    }
    if path.trim_end_matches('/') != "/2.0" {
        return Response::builder()
            .status(404)
            .header("content-type", "text/html")
            .body(b"<html><body>Not Found</body></html>".to_vec())
            .expect("response");
    }
    let params: HashMap<String, String> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
    let key_ok = params.get("api_key") == Some(&s.api_key);
    let method = params.get("method").cloned().unwrap_or_default();
    let mut recorded: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .filter(|(k, _)| k != "api_key" && k != "method")
        .collect();
    recorded.sort();
    s.requests.push(Recorded {
        path: path.to_string(),
        method: method.clone(),
        params: recorded,
        key_ok,
    });
    if let Some(fault) = s.take_fault(&method) {
        return fault_reply(fault);
    }
    let answer = if key_ok {
        s.answer(&params)
    } else {
        state::error(
            403,
            10,
            "Invalid API key - You must be granted a valid key by last.fm",
        )
    };
    json_reply(answer)
}

/// `GET /api/auth/?api_key=K&cb=URL`: the user set with `approve_as` is
/// signed in and approves at once, so it redirects (302) to `cb` with
/// `token=T` added, a token that `auth.getSession` accepts once within an
/// hour. `?api_key=K&token=T` (desktop authentication) approves a token
/// from `auth.getToken` and shows a page. Without a valid key, a callback
/// or anyone to approve, an error page (400).
fn auth_page(state: &Arc<Mutex<State>>, path: &str, query: &str) -> Reply {
    let params: HashMap<String, String> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
    let key_ok = params.get("api_key") == Some(&s.api_key);
    let mut recorded: Vec<(String, String)> = params
        .iter()
        .filter(|(k, _)| *k != "api_key")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    recorded.sort();
    s.requests.push(Recorded {
        path: path.to_string(),
        method: String::new(),
        params: recorded,
        key_ok,
    });
    if !key_ok {
        return page(
            400,
            "Invalid API key: this application is not known to Last.fm.",
        );
    }
    let Some(user) = s.approve_as.clone() else {
        return page(
            400,
            "Nobody approved this application (the fake's approve_as is not set).",
        );
    };
    if let Some(token) = params.get("token") {
        return match s.tokens.get_mut(token) {
            Some(t) if !t.spent && t.issued.elapsed() <= state::TOKEN_LIFETIME => {
                t.user = Some(user);
                page(200, "Application authenticated: you can close this page.")
            }
            _ => page(400, "This token is invalid or has expired."),
        };
    }
    let Some(mut back) = params.get("cb").and_then(|cb| url::Url::parse(cb).ok()) else {
        return page(400, "No valid callback URL (cb) was given.");
    };
    let token = s.new_token(Some(user));
    back.query_pairs_mut().append_pair("token", &token);
    Response::builder()
        .status(302)
        .header("location", back.as_str())
        .body(Vec::new())
        .expect("response")
}

fn page(status: u16, text: &str) -> Reply {
    Response::builder()
        .status(status)
        .header("content-type", "text/html; charset=utf-8")
        .body(format!("<html><body><p>{text}</p></body></html>").into_bytes())
        .expect("response")
}

fn json_reply((status, body): Answer) -> Reply {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("access-control-allow-origin", "*")
        .body(serde_json::to_vec(&body).expect("JSON"))
        .expect("response")
}

fn fault_reply(fault: Fault) -> Reply {
    match fault {
        Fault::ServerError(status) => Response::builder()
            .status(status)
            .header("content-type", "text/html")
            .body(b"<html><body>Service Temporarily Unavailable</body></html>".to_vec())
            .expect("response"),
        Fault::Unavailable { code, status } => json_reply(state::error(
            status,
            code,
            "There was a temporary error processing your request. Please try again",
        )),
        Fault::RateLimited { status } => json_reply(state::error(
            status,
            29,
            "Rate Limit Exceeded - Your IP has made too many requests in a short period",
        )),
        Fault::Malformed => Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .body(b"{\"topartists\": {\"artist\": [{\"name\": \"ABBA\", \"playcount\": ".to_vec())
            .expect("response"),
        Fault::Error {
            code,
            status,
            message,
        } => json_reply(state::error(status, code, &message)),
    }
}
