//! Injected failures: the 429s, 5xx, slow and malformed answers a test
//! queues so the client's retries, timeouts and error paths meet them.
//! A fault is taken before the request is routed, so it works on every
//! path, the accounts service's included. Besides one-shot faults, an
//! [`Outage`] meets every matching request until its deadline: the shape
//! of a real incident (a minute of 5xx, an hour of 429), which a queue of
//! one-shot faults cannot play without knowing how many requests will come.

use std::time::{Duration, Instant};

use http::{Method, Response};

use super::reply::{Reply, api_error};
use super::state::State;

/// An injected failure for the next matching request.
#[derive(Clone, Debug)]
pub struct Fault {
    /// Only requests whose path starts with this (e.g. `/v1/me/top`).
    pub path: String,
    /// Only this method, when set.
    pub method: Option<Method>,
    /// What happens.
    pub kind: FaultKind,
}

/// What an injected failure does.
#[derive(Clone, Debug)]
pub enum FaultKind {
    /// Answer with this status (429 carries `Retry-After` when given) and
    /// Spotify's error body.
    Status {
        /// HTTP status.
        status: u16,
        /// `Retry-After` seconds.
        retry_after: Option<u64>,
    },
    /// Wait this long, then answer normally (for client timeouts).
    Delay(Duration),
    /// Answer 200 with a truncated JSON body.
    Malformed,
    /// Answer normally, but with this `Content-Type` (an image CDN that
    /// sends HTML, say).
    ContentType(String),
    /// Answer normally, with the body padded with zeros to this many
    /// bytes: a cover still decodes (decoders stop at its end marker), so
    /// only a cap on the body skips it.
    Oversized(usize),
}

/// A fault that meets every request under `path` until `until`.
#[derive(Clone, Debug)]
pub(super) struct Outage {
    pub path: String,
    pub kind: FaultKind,
    pub until: Instant,
}

/// Applies a fault that changes the normal answer rather than replacing it.
pub(super) fn alter(fault: &FaultKind, reply: &mut Reply) {
    match fault {
        FaultKind::ContentType(t) => {
            reply.headers_mut().insert(
                http::header::CONTENT_TYPE,
                t.parse().expect("a valid content type"),
            );
        }
        FaultKind::Oversized(len) => {
            let body = reply.body_mut();
            if body.len() < *len {
                body.resize(*len, 0);
            }
        }
        _ => {}
    }
}

impl State {
    /// The fault the request meets: the first queued one-shot fault
    /// matching it (removed), else the first outage under way on its path.
    /// One-shot faults come first so a test can still script a single
    /// answer in the middle of an outage.
    pub(super) fn take_fault(&mut self, method: &Method, path: &str) -> Option<FaultKind> {
        let queued = self.faults.iter().position(|f| {
            path.starts_with(&f.path) && f.method.as_ref().is_none_or(|m| m == method)
        });
        if let Some(i) = queued {
            return self.faults.remove(i).map(|f| f.kind);
        }
        let now = Instant::now();
        self.outages.retain(|o| o.until > now);
        self.outages
            .iter()
            .find(|o| path.starts_with(&o.path))
            .map(|o| o.kind.clone())
    }
}

/// Acts out a fault: the answer to send instead of the real one, or `None`
/// (after any delay) to answer normally. `ContentType` and `Oversized`
/// change the normal answer ([`alter`]).
pub(super) async fn act(fault: FaultKind) -> Option<Reply> {
    match fault {
        FaultKind::ContentType(_) | FaultKind::Oversized(_) => None,
        FaultKind::Status {
            status,
            retry_after,
        } => {
            let message = match status {
                429 => "API rate limit exceeded",
                500 => "Server error.",
                502 => "Bad gateway.",
                503 => "Service unavailable",
                _ => "Injected failure",
            };
            let mut reply = api_error(status, message);
            if let Some(s) = retry_after {
                reply
                    .headers_mut()
                    .insert("retry-after", s.to_string().parse().expect("header"));
            }
            Some(reply)
        }
        FaultKind::Delay(d) => {
            tokio::time::sleep(d).await;
            None
        }
        FaultKind::Malformed => Some(
            Response::builder()
                .status(200)
                .header("content-type", "application/json; charset=utf-8")
                .body(b"{\"items\": [{\"id\": \"abc\", \"name\": ".to_vec())
                .expect("response"),
        ),
    }
}
