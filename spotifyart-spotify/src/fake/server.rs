//! The HTTP plumbing: one warp catch-all on a bound listener that records
//! each request, lets a queued fault answer first, then routes by path to
//! the accounts service or the Web API. Routing by hand, not with warp
//! filters, keeps Spotify's own 404 and error bodies for every path.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use http::{HeaderMap, Method};
use warp::Filter;

use super::faults::FaultKind;
use super::reply::{Reply, api_error};
use super::state::{self, State};
use super::{accounts, cdn, faults, web_api};

/// A request the fake received (for assertions; header values are not
/// kept).
#[derive(Clone, Debug)]
pub struct Recorded {
    /// Method.
    pub method: Method,
    /// Path.
    pub path: String,
    /// Query string.
    pub query: String,
    /// Whether it carried an `Authorization` header (so tests can check
    /// that no token goes where it should not, e.g. to the image CDN).
    pub authorization: bool,
}

/// Counts an image request in flight until dropped (for the peak tests
/// read through `FakeSpotify::peak_image_requests`).
struct InFlight(Arc<Mutex<State>>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut s = state::lock(&self.0);
        s.images_in_flight = s.images_in_flight.saturating_sub(1);
    }
}

/// Serves `state` on `listener` in a background task until the returned
/// sender fires or is dropped.
pub(super) fn spawn(
    listener: tokio::net::TcpListener,
    state: Arc<Mutex<State>>,
) -> tokio::sync::oneshot::Sender<()> {
    let routes = warp::method()
        .and(warp::path::full())
        .and(warp::query::<HashMap<String, String>>())
        .and(warp::header::headers_cloned())
        .and(warp::body::bytes())
        .then(
            move |method: Method,
                  path: warp::path::FullPath,
                  query: HashMap<String, String>,
                  headers: HeaderMap,
                  body: bytes::Bytes| {
                let state = state.clone();
                async move {
                    handle(
                        state,
                        method,
                        path.as_str().to_string(),
                        query,
                        headers,
                        body.to_vec(),
                    )
                    .await
                }
            },
        );
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

async fn handle(
    state: Arc<Mutex<State>>,
    method: Method,
    path: String,
    query: HashMap<String, String>,
    headers: HeaderMap,
    body: Vec<u8>,
) -> Result<Reply, Infallible> {
    let image = method == Method::GET && path.starts_with("/image/");
    let (fault, _in_flight) = {
        let mut s = state::lock(&state);
        s.requests.push(Recorded {
            method: method.clone(),
            path: path.clone(),
            query: url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(query.iter())
                .finish(),
            authorization: headers.contains_key(http::header::AUTHORIZATION),
        });
        let in_flight = image.then(|| {
            s.images_in_flight += 1;
            s.peak_images_in_flight = s.peak_images_in_flight.max(s.images_in_flight);
            InFlight(state.clone())
        });
        (s.take_fault(&method, &path), in_flight)
    };
    let mut alteration = None;
    match fault {
        Some(f @ (FaultKind::ContentType(_) | FaultKind::Oversized(_))) => alteration = Some(f),
        Some(fault) => {
            if let Some(reply) = faults::act(fault).await {
                return Ok(reply);
            }
        }
        None => {}
    }
    let mut reply = if image {
        // The CDN: no token, and the JPEG is encoded outside the lock.
        let album = cdn::parse(&path).filter(|(_, id)| {
            state::lock(&state)
                .tracks
                .values()
                .any(|t| t.album_id == *id)
        });
        match album {
            Some((side, id)) => cdn::cover(id, side),
            None => cdn::not_found(),
        }
    } else {
        let mut s = state::lock(&state);
        match (method.as_str(), path.as_str()) {
            ("GET", "/authorize") => accounts::authorize(&mut s, &query),
            ("POST", "/api/token") => accounts::token(&mut s, &headers, &body),
            _ if path.starts_with("/v1/") => {
                web_api::handle(&mut s, &method, &path, &query, &headers, &body)
            }
            _ => api_error(404, "Service not found"),
        }
    };
    if let Some(f) = alteration {
        faults::alter(&f, &mut reply);
    }
    Ok(reply)
}
