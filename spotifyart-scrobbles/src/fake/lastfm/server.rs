//! The HTTP side: one warp catch-all that records each request (without
//! the key), lets a queued fault answer first, checks the key, then asks
//! the state for the method's answer. Anything but `/2.0/` is a 404.

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
