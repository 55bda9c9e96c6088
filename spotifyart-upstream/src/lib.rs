//! # spotifyart-upstream
//!
//! One HTTP client for every call SpotifyArt makes to another service
//! (Spotify's Web API and accounts, ListenBrainz, Last.fm, image CDNs),
//! with the resilience rules in one place: a timeout on every request,
//! rate limits honoured within a budget (each service says how it signals
//! them: [`RateLimitRule`]), 5xx and connection failures retried with
//! jittered backoff (idempotent requests only) within a time budget per
//! call, a host's `Retry-After` remembered by every later call (so a long
//! rate limit is not met again request after request), an optional cap on
//! the body read (streamed, so an oversized answer is cut off, not
//! buffered), and a `tracing` span per call that never records a URL, a
//! header or a body (where keys and tokens travel).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::RngExt;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use spotifyart_core::{Error, Result};
use tracing::Instrument;

/// A finished exchange: status, headers and the whole body.
#[derive(Debug)]
pub struct Reply {
    /// HTTP status.
    pub status: StatusCode,
    /// Response headers.
    pub headers: HeaderMap,
    /// The body (at most the cap, when one was set).
    pub body: Vec<u8>,
}

/// Whether a reply is the service saying "too many requests", and how long
/// it asks to wait (`None` inside: no hint, back off by the policy).
pub type RateLimitRule = fn(&Reply) -> Option<Option<Duration>>;

/// HTTP 429, waiting as `Retry-After` says (the Web API's and most
/// services' contract).
pub fn status_429(reply: &Reply) -> Option<Option<Duration>> {
    (reply.status == StatusCode::TOO_MANY_REQUESTS).then(|| retry_after(&reply.headers))
}

/// How one service is called.
#[derive(Clone, Debug)]
pub struct Policy {
    /// The service in errors and logs, e.g. `spotify`.
    pub service: &'static str,
    /// Its name in sentences, e.g. `Spotify`.
    pub display: &'static str,
    /// Longest wait for one answer.
    pub request_timeout: Duration,
    /// Retries after a 5xx or a connection failure (idempotent calls).
    pub max_retries: u32,
    /// First backoff after a failure; doubles each retry, with full jitter.
    pub backoff: Duration,
    /// Longest total wait on rate limits within one call; past it the call
    /// fails with `UpstreamBusy` carrying the service's retry time.
    pub max_rate_limit_wait: Duration,
    /// Which replies are rate limits.
    pub rate_limit: RateLimitRule,
}

impl Policy {
    /// The defaults for `service` (10 s timeout, 3 retries from 500 ms, a
    /// minute of rate-limit waiting, HTTP 429).
    pub fn new(service: &'static str, display: &'static str) -> Self {
        Self {
            service,
            display,
            request_timeout: Duration::from_secs(10),
            max_retries: 3,
            backoff: Duration::from_millis(500),
            max_rate_limit_wait: Duration::from_secs(60),
            rate_limit: status_429,
        }
    }
}

/// The client; cheap to clone (one connection pool, one memory of the
/// rate limits its hosts asked for).
#[derive(Clone, Debug)]
pub struct Upstream {
    client: reqwest::Client,
    policy: Arc<Policy>,
    /// Longest one call may spend on attempts and the pauses between them
    /// (rate-limit waits aside, which have their own budget).
    max_call_time: Duration,
    /// Until when each host (scheme, host and port) asked not to be called.
    held: Arc<Mutex<HashMap<String, Instant>>>,
}

/// Installs rustls' ring crypto provider as the process default, which
/// reqwest (built without a bundled provider) needs before any client is
/// built. Idempotent.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl Upstream {
    /// A client following `policy`.
    pub fn new(policy: Policy) -> Result<Self> {
        install_crypto_provider();
        let client = reqwest::Client::builder()
            .timeout(policy.request_timeout)
            .connect_timeout(policy.request_timeout.min(Duration::from_secs(5)))
            .user_agent(concat!("spotifyart/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::internal(format!("building the HTTP client: {e}")))?;
        Ok(Self {
            client,
            max_call_time: policy.request_timeout.saturating_mul(3) / 2,
            policy: Arc::new(policy),
            held: Arc::default(),
        })
    }

    /// Bounds each call, retries included, to `max_call_time` (default one
    /// and a half request timeouts): a retry starts only while time is
    /// left, and its timeout is cut to what is left. Without the bound a
    /// service that stops answering holds each call for every retry's full
    /// timeout (four times ten seconds by default), past what a user or a
    /// proxy in front waits; with it, one slow answer still gets a retry.
    pub fn with_max_call_time(mut self, max_call_time: Duration) -> Self {
        self.max_call_time = max_call_time;
        self
    }

    /// How long `url`'s host asked not to be called from now, if it did.
    fn hold_left(&self, url: &reqwest::Url) -> Option<Duration> {
        let held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        let until = *held.get(&host_key(url))?;
        until.checked_duration_since(Instant::now())
    }

    /// Remembers that `url`'s host asked not to be called for `wait`.
    fn hold(&self, url: &reqwest::Url, wait: Duration) {
        let until = Instant::now() + wait;
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        held.retain(|_, t| *t > Instant::now());
        let t = held.entry(host_key(url)).or_insert(until);
        *t = (*t).max(until);
    }

    /// The pause before retry `n`, or `None` when the call's time would be
    /// spent before the retry could start.
    fn retry_pause(
        &self,
        n: u32,
        started: Instant,
        rate_limited_for: Duration,
    ) -> Option<Duration> {
        let pause = jitter(self.policy.backoff, n);
        let spent = started.elapsed().saturating_sub(rate_limited_for) + pause;
        (spent < self.max_call_time).then_some(pause)
    }

    /// The underlying client, for building requests.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// How this client calls its service.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Sends the request `build` makes, retrying as the rules above say.
    /// `what` names the call in errors and logs (never a token or key).
    pub async fn send(
        &self,
        what: &str,
        idempotent: bool,
        build: &(dyn Fn() -> reqwest::RequestBuilder + Send + Sync),
    ) -> Result<Reply> {
        self.send_spanned(what, idempotent, None, build).await
    }

    /// Like [`Upstream::send`] for an idempotent request whose body may be
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
            "upstream.request",
            service = self.policy.service,
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
        let config = &*self.policy;
        let service = config.service;
        let started = Instant::now();
        let mut rate_limited_for = Duration::ZERO;
        let mut failures = 0u32;
        let mut attempt = 0u32;
        loop {
            let (client, request) = build().build_split();
            let mut request = match request {
                Ok(r) => r,
                Err(e) => {
                    return Err(Error::internal(format!(
                        "{what}: building the request: {}",
                        describe(&e, config.request_timeout)
                    )));
                }
            };
            let url = request.url().clone();
            // A rate limit this host set, on this call or another: wait it
            // out within the budget, else fail now without calling. Every
            // call meeting the 429 again would prolong it (and cost a
            // round trip to learn nothing).
            if let Some(left) = self.hold_left(&url) {
                if rate_limited_for + left <= config.max_rate_limit_wait {
                    tokio::time::sleep(left).await;
                    rate_limited_for += left;
                    continue;
                }
                tracing::Span::current().record("attempts", attempt);
                tracing::debug!(
                    service,
                    call = what,
                    retry_after_s = left.as_secs(),
                    "rate limited earlier; not calling"
                );
                return Err(Error::UpstreamBusy {
                    service: service.into(),
                    retry_after: Some(left),
                    message: format!(
                        "{} asked this app to wait before calling again ({what}); {}s to go",
                        config.display,
                        left.as_secs()
                    ),
                });
            }
            // What is left of the call's time, rate-limit waits aside.
            let left = self
                .max_call_time
                .saturating_sub(started.elapsed().saturating_sub(rate_limited_for));
            let timeout = config.request_timeout.min(left);
            *request.timeout_mut() = Some(timeout);
            attempt += 1;
            tracing::Span::current().record("attempts", attempt);
            let result = match client.execute(request).await {
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
                            tracing::debug!(service, call = what, limit, "answer over the cap");
                            return Err(Error::Upstream {
                                service: service.into(),
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
                Ok(reply) if let Some(hint) = (config.rate_limit)(&reply) => {
                    let wait = hint.unwrap_or(config.backoff);
                    self.hold(&url, wait);
                    if rate_limited_for + wait <= config.max_rate_limit_wait {
                        tracing::warn!(
                            service,
                            call = what,
                            retry_after_ms = wait.as_millis() as u64,
                            "rate limited; waiting"
                        );
                        tokio::time::sleep(wait).await;
                        rate_limited_for += wait;
                        continue;
                    }
                    tracing::warn!(
                        service,
                        call = what,
                        retry_after_s = wait.as_secs(),
                        "rate limited; giving up"
                    );
                    return Err(Error::UpstreamBusy {
                        service: service.into(),
                        retry_after: Some(wait),
                        message: format!(
                            "{} is rate limiting this app ({what}); waited {}s already",
                            config.display,
                            rate_limited_for.as_secs()
                        ),
                    });
                }
                Ok(reply)
                    if reply.status.is_server_error()
                        && idempotent
                        && failures < config.max_retries
                        && let Some(pause) =
                            self.retry_pause(failures + 1, started, rate_limited_for) =>
                {
                    failures += 1;
                    tracing::warn!(
                        service,
                        call = what,
                        status = reply.status.as_u16(),
                        retry_in_ms = pause.as_millis() as u64,
                        "server error; retrying"
                    );
                    tokio::time::sleep(pause).await;
                }
                Ok(reply) => {
                    tracing::Span::current().record("status", reply.status.as_u16());
                    tracing::debug!(
                        service,
                        call = what,
                        status = reply.status.as_u16(),
                        elapsed_ms = started.elapsed().as_millis() as u64,
                        "replied"
                    );
                    return Ok(reply);
                }
                Err(e)
                    if idempotent
                        && failures < config.max_retries
                        && let Some(pause) =
                            self.retry_pause(failures + 1, started, rate_limited_for) =>
                {
                    failures += 1;
                    tracing::warn!(service, call = what, error = %describe(&e, timeout), retry_in_ms = pause.as_millis() as u64, "unreachable; retrying");
                    tokio::time::sleep(pause).await;
                }
                Err(e) => {
                    let message = format!("{what}: {}", describe(&e, timeout));
                    tracing::warn!(service, call = what, error = %message, attempts = attempt, "request failed");
                    return Err(Error::Upstream {
                        service: service.into(),
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

/// The part of a URL a rate limit belongs to: scheme, host and port.
fn host_key(url: &reqwest::Url) -> String {
    url.origin().ascii_serialization()
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

/// `Retry-After` in whole seconds; HTTP also allows a date, which we treat as
/// "soon" rather than guessing clocks.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    v.parse::<u64>()
        .ok()
        .map(Duration::from_secs)
        .or(Some(Duration::from_secs(1)))
}

/// A reqwest error without its URL's query and without any header.
pub fn describe(e: &reqwest::Error, timeout: Duration) -> String {
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

/// `value` as an http(s) URL, or an error naming where it came from
/// (`name`: an environment variable or argument). Every service's base URL
/// is read with this, so tests can point each at a fake.
pub fn http_url(name: &str, value: &str) -> Result<reqwest::Url> {
    let url = reqwest::Url::parse(value)
        .map_err(|e| Error::invalid(format!("{name} is not a URL ({e}): {value:?}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Error::invalid(format!(
            "{name} must be an http(s) URL, not {value:?}"
        )));
    }
    Ok(url)
}

/// Parses a success body as `T`, naming the call and where the JSON broke.
pub fn parse_json<T: serde::de::DeserializeOwned>(
    reply: &Reply,
    policy: &Policy,
    what: &str,
) -> Result<T> {
    let mut de = serde_json::Deserializer::from_slice(&reply.body);
    T::deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v))
        .map_err(|e| Error::Upstream {
            service: policy.service.into(),
            status: Some(reply.status.as_u16()),
            message: format!(
                "{what}: malformed JSON from {} at line {} column {}: {e}",
                policy.display,
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
    fn rate_limits_are_held_per_host_by_every_clone() {
        let upstream = Upstream::new(Policy::new("test", "Test")).unwrap();
        let url = |u: &str| reqwest::Url::parse(u).unwrap();
        let hour = Duration::from_secs(3600);
        upstream.hold(&url("https://api.example/v1/me"), hour);
        let clone = upstream.clone();
        let left = clone
            .hold_left(&url("https://api.example/v1/other"))
            .unwrap();
        assert!(left > Duration::from_secs(3590) && left <= hour, "{left:?}");
        // Another host (the accounts service, an image CDN) is not held.
        assert_eq!(
            clone.hold_left(&url("https://accounts.example/token")),
            None
        );
        assert_eq!(clone.hold_left(&url("https://api.example:8443/v1")), None);
        // A shorter hint never shortens a longer hold.
        clone.hold(&url("https://api.example/v1/me"), Duration::from_secs(1));
        assert!(upstream.hold_left(&url("https://api.example/")).unwrap() > left / 2);
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
}
