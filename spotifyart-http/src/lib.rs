//! The hosted service as a warp library: pages, Spotify sign-in, the JSON
//! API, health, metrics and the OpenAPI document. The `spotifyart` binary
//! mounts it ([`serve`]) next to the painting workers
//! (`spotifyart_core::engine::spawn_workers`), which paint what the API
//! queues.
//!
//! Laid out as warp's own examples: [`filters`] says which requests reach
//! which [`handlers`], [`wire`] holds the wire types, and one
//! [`error::recover`] turns every failure into a status and the JSON error
//! body. [`app`] wraps it all with the request id, security headers, the
//! access log line and the metrics.

pub mod error;
pub mod filters;
pub mod handlers;
pub mod openapi;
pub mod wire;

mod art;
mod covers;
#[cfg(test)]
mod fuzz;
mod invitees;
mod limits;
mod listen;
mod metrics;
mod pages;
mod scrobbles;
mod session;

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use spotifyart_core::Engine;
use spotifyart_core::limit::RateLimiter;
use spotifyart_spotify::SpotifyAuth;
use url::Url;
use warp::Filter;
use warp::http::{HeaderValue, header};
use warp::reply::Response;

pub use limits::Limits;
pub use listen::{Peer, serve_on};
pub use metrics::Metrics;

/// How the service behaves; see `spotifyart serve --help`.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// The origin browsers use: CORS, redirects, invite links, cookie
    /// `Secure`.
    pub public_url: Url,
    /// Client address from X-Forwarded-For (behind a proxy only).
    pub trust_proxy: bool,
    /// Rate limits on (off only for load tests).
    pub rate_limits: bool,
    /// A session unused this long ends.
    pub session_idle: Duration,
    /// A session ends this long after sign-in whatever its use.
    pub session_absolute: Duration,
    /// Invites are unusable after this.
    pub invite_ttl: Duration,
    /// Model used when a request names none.
    pub default_model: String,
    /// Models requests may name (the default included).
    pub models: Vec<String>,
    /// A stored mood younger than this is served without asking Spotify.
    pub mood_max_age: Duration,
    /// Rate limits shared by every replica (Redis); `None` counts in this
    /// process.
    pub shared_limits: Option<Arc<dyn RateLimiter>>,
    /// How the connections are served.
    pub connections: ConnectionLimits,
}

/// Bounds on client connections: each protects the server from clients
/// that hold connections without using them (docs/deploy.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// A request's headers must arrive within this of the connection
    /// opening or the previous response (slow-header clients).
    pub header_timeout: Duration,
    /// A kept-alive connection idle this long after a response is closed.
    pub idle_timeout: Duration,
    /// Connections served at once; more wait in the listen backlog.
    pub max_connections: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(5),
            max_connections: 1024,
        }
    }
}

impl ServerConfig {
    /// Defaults for `public_url` and `default_model`.
    pub fn new(public_url: Url, default_model: &str) -> Self {
        Self {
            public_url,
            trust_proxy: false,
            rate_limits: true,
            session_idle: Duration::from_secs(3 * 24 * 3600),
            session_absolute: Duration::from_secs(30 * 24 * 3600),
            invite_ttl: Duration::from_secs(7 * 24 * 3600),
            default_model: default_model.to_string(),
            models: vec![default_model.to_string()],
            mood_max_age: Duration::from_secs(3600),
            shared_limits: None,
            connections: ConnectionLimits::default(),
        }
    }

    /// The public origin as browsers send it in `Origin` (no trailing
    /// slash, no path).
    pub fn origin(&self) -> String {
        self.public_url.origin().ascii_serialization()
    }

    /// Whether cookies must be `Secure`.
    pub fn secure_cookies(&self) -> bool {
        self.public_url.scheme() == "https"
    }

    /// An absolute URL on the public origin.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.origin(), path)
    }
}

/// Everything a handler needs; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Arc<Engine>,
    auth: Option<SpotifyAuth>,
    config: ServerConfig,
    limits: Limits,
    metrics: Metrics,
    art_cache: art::ArtCache,
    scrobbles: Scrobbles,
}

/// The listening services whose users can be invited by username (each
/// `None` when not configured).
#[derive(Clone, Debug, Default)]
pub struct Scrobbles {
    /// ListenBrainz (public data; always available unless misconfigured).
    pub listenbrainz: Option<spotifyart_scrobbles::listenbrainz::ListenBrainz>,
    /// Last.fm (needs an API key).
    pub lastfm: Option<spotifyart_scrobbles::lastfm::Lastfm>,
}

impl fmt::Debug for AppState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppState")
            .field("engine", &self.inner.engine)
            .field("config", &self.inner.config)
            .field("spotify", &self.inner.auth.is_some())
            .finish()
    }
}

impl AppState {
    /// State for `engine` (whose music source reads signed-in users' Spotify
    /// data) and `auth` (the Spotify app; `None` disables sign-in).
    pub fn new(engine: Arc<Engine>, auth: Option<SpotifyAuth>, config: ServerConfig) -> Self {
        let metrics = Metrics::new();
        let limits = Limits::new(
            config.rate_limits,
            config.shared_limits.clone(),
            metrics.rate_limit_fallbacks(),
        );
        Self {
            inner: Arc::new(Inner {
                engine,
                auth,
                config,
                limits,
                metrics,
                art_cache: art::ArtCache::new(64 << 20),
                scrobbles: Scrobbles::default(),
            }),
        }
    }

    /// With users of these services invitable by name.
    pub fn with_scrobbles(mut self, scrobbles: Scrobbles) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.scrobbles = scrobbles;
        }
        self
    }

    pub(crate) fn scrobbles(&self) -> &Scrobbles {
        &self.inner.scrobbles
    }

    /// The engine.
    pub fn engine(&self) -> &Arc<Engine> {
        &self.inner.engine
    }

    /// The configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.inner.config
    }

    pub(crate) fn auth(&self) -> Option<&SpotifyAuth> {
        self.inner.auth.as_ref()
    }

    pub(crate) fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    pub(crate) fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    pub(crate) fn art_cache(&self) -> &art::ArtCache {
        &self.inner.art_cache
    }
}

/// What [`app`] knows about a request before routing it.
#[derive(Clone, Debug)]
struct RequestStart {
    id: String,
    started: Instant,
    /// From a fixed set ([`metrics::method_label`]): clients choose methods.
    method: &'static str,
    route: &'static str,
}

/// The whole service: routes, then the one `recover`, wrapped so every
/// response (errors included) gets a request id, the security headers, an
/// access log line and its metrics.
pub fn app(
    state: AppState,
) -> impl Filter<Extract = (Response,), Error = Infallible> + Clone + Send + Sync + 'static {
    let routes = filters::routes(state.clone()).recover(error::recover);
    warp::any()
        .and(warp::method())
        .and(warp::path::full())
        .and(filters::header_text("x-request-id"))
        .map(
            |method: warp::http::Method, path: warp::path::FullPath, incoming: Option<String>| {
                RequestStart {
                    id: incoming
                        .filter(|id| {
                            (8..=64).contains(&id.len())
                                && id
                                    .bytes()
                                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                        })
                        .unwrap_or_else(request_id),
                    started: Instant::now(),
                    method: metrics::method_label(&method),
                    route: metrics::route_label(path.as_str()),
                }
            },
        )
        .and(routes)
        .map(move |start: RequestStart, reply| finish(&state, start, reply))
}

/// A new request id: a UUIDv7 (time-ordered, so logs sort by it) whose
/// random part comes from the thread's generator rather than a `getrandom`
/// system call per request.
fn request_id() -> String {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let random: [u8; 10] = rand::random();
    uuid::Builder::from_unix_timestamp_millis(millis, &random)
        .into_uuid()
        .simple()
        .to_string()
}

fn finish(state: &AppState, start: RequestStart, reply: impl warp::Reply) -> Response {
    let mut response = reply.into_response();
    let status = response.status();
    let (method, route) = (start.method, start.route);
    let elapsed = start.started.elapsed();
    state
        .metrics()
        .observe(method, route, status.as_u16(), elapsed);
    let detail = response
        .extensions_mut()
        .remove::<error::Detail>()
        .map(|d| d.0);
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&start.id) {
        headers.insert("x-request-id", v);
    }
    security_headers(headers);
    let latency_ms = elapsed.as_secs_f64() * 1e3;
    if status.is_server_error() {
        tracing::error!(
            request_id = %start.id, method, route, status = status.as_u16(),
            latency_ms, error = detail.as_deref().unwrap_or(""), "request failed"
        );
    } else {
        tracing::info!(
            request_id = %start.id, method, route, status = status.as_u16(),
            latency_ms, "request"
        );
    }
    response
}

/// The Content-Security-Policy: scripts, styles and everything else from
/// this origin only; no inline script; never framed.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data: blob: https://i.scdn.co; connect-src 'self'; object-src 'none'; \
    base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

fn security_headers(headers: &mut warp::http::HeaderMap) {
    let fixed = [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "strict-origin-when-cross-origin"),
        (
            header::HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
        (
            header::HeaderName::from_static("permissions-policy"),
            "camera=(), microphone=(), geolocation=()",
        ),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
}

/// Serves `app(state)` on `addr` until `shutdown` resolves, then finishes
/// the requests in flight.
pub async fn serve(
    state: AppState,
    addr: SocketAddr,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    serve_on(state, listener, shutdown).await
}
