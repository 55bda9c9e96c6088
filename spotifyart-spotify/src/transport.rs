//! One HTTP client for every call to Spotify, with the resilience rules in
//! one place: a timeout on every request, 429 `Retry-After` honoured within
//! a budget, 5xx and connection failures retried with jittered backoff
//! (idempotent requests only), an optional cap on the body read (streamed,
//! so an oversized answer is cut off, not buffered), and a `tracing` span
//! per call that never records a header or a body.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::RngExt;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use serde::Deserialize;
use spotifyart_core::{Error, Result};
use tracing::Instrument;

use crate::config::SpotifyConfig;

/// Name used in errors and logs.
pub(crate) const SERVICE: &str = "spotify";

/// A finished exchange: status, headers and the whole body.
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

#[derive(Clone, Debug)]
pub(crate) struct Transport {
    client: reqwest::Client,
    pub config: Arc<SpotifyConfig>,
}

impl Transport {
    pub fn new(config: Arc<SpotifyConfig>) -> Result<Self> {
        crate::install_crypto_provider();
        let client = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .connect_timeout(config.request_timeout.min(Duration::from_secs(5)))
            .user_agent(concat!("spotifyart/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::internal(format!("building the HTTP client: {e}")))?;
        Ok(Self { client, config })
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Sends the request `build` makes, retrying as the rules above say.
    /// `what` names the call in errors and logs (never a token).
    pub async fn send(
        &self,
        what: &str,
        idempotent: bool,
        build: &(dyn Fn() -> reqwest::RequestBuilder + Send + Sync),
    ) -> Result<Reply> {
        self.send_spanned(what, idempotent, None, build).await
    }

    /// Like [`Transport::send`] for an idempotent request whose body may be
    /// at most `max_body` bytes: the body is read chunk by chunk and the
    /// connection dropped once it passes the cap, so a huge or endless
    /// answer costs at most `max_body` bytes of memory. Over the cap is an
    /// error, not retried (the same URL would send the same body).
    pub async fn send_capped(
        &self,
        what: &str,
        max_body: usize,
        build: &(dyn Fn() -> reqwest::RequestBuilder + Send + Sync),
    ) -> Result<Reply> {
        self.send_spanned(what, true, Some(max_body), build).await
    }

    async fn send_spanned(
        &self,
        what: &str,
        idempotent: bool,
        max_body: Option<usize>,
        build: &(dyn Fn() -> reqwest::RequestBuilder + Send + Sync),
    ) -> Result<Reply> {
        let span = tracing::info_span!(
            "spotify.request",
            call = what,
            status = tracing::field::Empty,
            attempts = tracing::field::Empty
        );
        self.send_inner(what, idempotent, max_body, build)
            .instrument(span)
            .await
    }

    async fn send_inner(
        &self,
        what: &str,
        idempotent: bool,
        max_body: Option<usize>,
        build: &(dyn Fn() -> reqwest::RequestBuilder + Send + Sync),
    ) -> Result<Reply> {
        let config = &self.config;
        let started = Instant::now();
        let mut rate_limited_for = Duration::ZERO;
        let mut failures = 0u32;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            tracing::Span::current().record("attempts", attempt);
            let result = match build().send().await {
                Ok(resp) => {
                    let status = resp.status();
                    let headers = resp.headers().clone();
                    match read_body(resp, max_body).await {
                        Ok(Some(body)) => Ok(Reply {
                            status,
                            headers,
                            body,
                        }),
                        Ok(None) => {
                            let limit = max_body.unwrap_or_default();
                            tracing::Span::current().record("status", status.as_u16());
                            tracing::debug!(call = what, limit, "spotify answer over the cap");
                            return Err(Error::Upstream {
                                service: SERVICE.into(),
                                status: Some(status.as_u16()),
                                message: format!("{what}: the answer is over {limit} bytes"),
                            });
                        }
                        Err(e) => Err(e),
                    }
                }
                Err(e) => Err(e),
            };
            match result {
                Ok(reply) if reply.status == StatusCode::TOO_MANY_REQUESTS => {
                    let wait = retry_after(&reply.headers).unwrap_or(config.backoff);
                    if rate_limited_for + wait <= config.max_rate_limit_wait {
                        tracing::warn!(
                            call = what,
                            retry_after_ms = wait.as_millis() as u64,
                            "spotify rate limit; waiting"
                        );
                        tokio::time::sleep(wait).await;
                        rate_limited_for += wait;
                        continue;
                    }
                    tracing::warn!(
                        call = what,
                        retry_after_s = wait.as_secs(),
                        "spotify rate limit; giving up"
                    );
                    return Err(Error::RateLimited {
                        retry_after: Some(wait),
                        message: format!(
                            "Spotify is rate limiting this app ({what}); waited {}s already",
                            rate_limited_for.as_secs()
                        ),
                    });
                }
                Ok(reply)
                    if reply.status.is_server_error()
                        && idempotent
                        && failures < config.max_retries =>
                {
                    failures += 1;
                    let pause = jitter(config.backoff, failures);
                    tracing::warn!(
                        call = what,
                        status = reply.status.as_u16(),
                        retry_in_ms = pause.as_millis() as u64,
                        "spotify server error; retrying"
                    );
                    tokio::time::sleep(pause).await;
                }
                Ok(reply) => {
                    tracing::Span::current().record("status", reply.status.as_u16());
                    tracing::debug!(
                        call = what,
                        status = reply.status.as_u16(),
                        elapsed_ms = started.elapsed().as_millis() as u64,
                        "spotify replied"
                    );
                    return Ok(reply);
                }
                Err(e) if idempotent && failures < config.max_retries => {
                    failures += 1;
                    let pause = jitter(config.backoff, failures);
                    tracing::warn!(call = what, error = %describe(&e, config.request_timeout), retry_in_ms = pause.as_millis() as u64, "spotify unreachable; retrying");
                    tokio::time::sleep(pause).await;
                }
                Err(e) => {
                    let message = format!("{what}: {}", describe(&e, config.request_timeout));
                    tracing::warn!(call = what, error = %message, attempts = attempt, "spotify request failed");
                    return Err(Error::Upstream {
                        service: SERVICE.into(),
                        status: None,
                        message: if attempt > 1 {
                            format!("{message} (after {attempt} attempts)")
                        } else {
                            message
                        },
                    });
                }
            }
        }
    }
}

/// The whole body, or `None` once it passes `max` bytes (read no further).
async fn read_body(
    mut resp: reqwest::Response,
    max: Option<usize>,
) -> std::result::Result<Option<Vec<u8>>, reqwest::Error> {
    let Some(max) = max else {
        return resp.bytes().await.map(|b| Some(b.to_vec()));
    };
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        if body.len() + chunk.len() > max {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body))
}

/// Full jitter: a random pause up to `base * 2^(n-1)`, capped at 10 s.
fn jitter(base: Duration, n: u32) -> Duration {
    let cap = base
        .saturating_mul(1 << (n - 1).min(10))
        .min(Duration::from_secs(10));
    let ms = cap.as_millis() as u64;
    Duration::from_millis(rand::rng().random_range(ms / 2..=ms.max(1)))
}

/// Spotify sends whole seconds; HTTP also allows a date, which we treat as
/// "soon" rather than guessing clocks.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    v.parse::<u64>()
        .ok()
        .map(Duration::from_secs)
        .or(Some(Duration::from_secs(1)))
}

/// A reqwest error without its URL's query and without any header.
fn describe(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        format!("no answer within {:.1}s", timeout.as_secs_f32())
    } else if e.is_connect() {
        "could not connect".to_string()
    } else if e.is_body() || e.is_decode() {
        "the connection broke while reading the answer".to_string()
    } else {
        let mut e = e.to_string();
        if let Some(i) = e.find(" for url") {
            e.truncate(i);
        }
        e
    }
}

/// The Web API's error body: `{"error": {"status": 403, "message": "..."}}`.
#[derive(Deserialize)]
struct ApiErrorBody {
    error: ApiErrorDetail,
}

#[derive(Deserialize)]
struct ApiErrorDetail {
    #[serde(default)]
    message: String,
}

/// Maps a non-success Web API reply to the core error, keeping Spotify's
/// message (it never echoes a token).
pub(crate) fn api_error(reply: &Reply, what: &str) -> Error {
    let message = serde_json::from_slice::<ApiErrorBody>(&reply.body)
        .map(|b| b.error.message)
        .ok()
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| {
            reply
                .status
                .canonical_reason()
                .unwrap_or("no message")
                .to_string()
        });
    match reply.status {
        StatusCode::UNAUTHORIZED => Error::unauthorized(format!(
            "Spotify rejected the access token ({what}): {message}"
        )),
        StatusCode::FORBIDDEN => Error::Forbidden {
            message: format!("Spotify refused {what}: {message}"),
        },
        StatusCode::NOT_FOUND => Error::not_found(format!("Spotify {what}")),
        StatusCode::BAD_REQUEST => Error::invalid(format!("Spotify refused {what}: {message}")),
        status => Error::Upstream {
            service: SERVICE.into(),
            status: Some(status.as_u16()),
            message: format!("{what}: {message}"),
        },
    }
}

/// Parses a success body, naming the call and where the JSON broke.
pub(crate) fn parse<T: serde::de::DeserializeOwned>(reply: &Reply, what: &str) -> Result<T> {
    let mut de = serde_json::Deserializer::from_slice(&reply.body);
    T::deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v))
        .map_err(|e| Error::Upstream {
            service: SERVICE.into(),
            status: Some(reply.status.as_u16()),
            message: format!(
                "{what}: malformed JSON from Spotify at line {} column {}: {e}",
                e.line(),
                e.column()
            ),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_grows_and_is_capped() {
        let base = Duration::from_millis(100);
        for _ in 0..100 {
            let first = jitter(base, 1);
            assert!(first >= Duration::from_millis(50) && first <= base);
            assert!(jitter(base, 30) <= Duration::from_secs(10));
        }
    }

    #[test]
    fn retry_after_reads_seconds() {
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert(RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        h.insert(
            RETRY_AFTER,
            "Wed, 21 Oct 2026 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), Some(Duration::from_secs(1)));
    }

    #[test]
    fn api_errors_map_to_core_errors() {
        let reply = |status: u16, body: &str| Reply {
            status: StatusCode::from_u16(status).unwrap(),
            headers: HeaderMap::new(),
            body: body.as_bytes().to_vec(),
        };
        let e = api_error(
            &reply(403, r#"{"error":{"status":403,"message":"Forbidden"}}"#),
            "audio features",
        );
        assert_eq!(e.code(), "forbidden");
        assert!(e.to_string().contains("audio features"), "{e}");
        assert_eq!(api_error(&reply(401, ""), "me").code(), "unauthorized");
        let e = api_error(&reply(502, "<html>"), "top tracks");
        assert_eq!(e.code(), "upstream_failed");
        assert!(e.to_string().contains("502"), "{e}");
        let e = parse::<serde_json::Value>(&reply(200, "{\"a\": [1,\n 2,"), "me").unwrap_err();
        assert!(e.to_string().contains("line 2"), "{e}");
    }
}
