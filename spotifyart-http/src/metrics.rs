//! `/metrics`: request counts and latencies by route template (never by
//! raw path, whose ids would make a series per artwork), and art requests
//! by outcome, in the OpenMetrics text format.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use warp::http::Method;

// Every label value is one of a fixed set (`&'static str`), so no client
// can add series: methods, routes and outcomes are named by us.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

type Latency = Family<RouteLabels, Histogram, fn() -> Histogram>;

/// The registry and the metrics in it.
#[derive(Clone, Debug)]
pub struct Metrics {
    registry: Arc<Registry>,
    requests: Family<RequestLabels, Counter>,
    latency: Latency,
    art: Family<OutcomeLabels, Counter>,
    rate_limit_fallbacks: Counter,
}

fn latency_histogram() -> Histogram {
    // 0.5 ms to ~16 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("spotifyart");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency: Latency = Family::new_with_constructor(latency_histogram);
        let art = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by method, route and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route",
            latency.clone(),
        );
        registry.register(
            "art_requests",
            "Art requests: cached (already painted) or queued",
            art.clone(),
        );
        let rate_limit_fallbacks = Counter::default();
        registry.register(
            "rate_limit_fallbacks",
            "Rate-limit checks the shared limiter (Redis) could not answer, counted by this process",
            rate_limit_fallbacks.clone(),
        );
        Self {
            registry: Arc::new(registry),
            requests,
            latency,
            art,
            rate_limit_fallbacks,
        }
    }

    /// Records one request (`method` from `method_label`, `route` from
    /// `route_label`: both from fixed sets).
    pub fn observe(
        &self,
        method: &'static str,
        route: &'static str,
        status: u16,
        elapsed: Duration,
    ) {
        // Statuses come from our own responses; clamp anyway so the label
        // set stays bounded whatever a handler does.
        let status = if (100..600).contains(&status) {
            status
        } else {
            0
        };
        self.requests
            .get_or_create(&RequestLabels {
                method,
                route,
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels { route })
            .observe(elapsed.as_secs_f64());
    }

    /// Records an art request's outcome.
    pub fn art(&self, outcome: &'static str) {
        self.art.get_or_create(&OutcomeLabels { outcome }).inc();
    }

    /// The counter of rate-limit checks that fell back to this process.
    pub fn rate_limit_fallbacks(&self) -> Counter {
        self.rate_limit_fallbacks.clone()
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!(error = %e, "cannot encode metrics");
        }
        out
    }
}

/// The request method as a label: the standard methods by name, anything
/// else (HTTP allows any token, up to the header size) as `other`.
pub fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

/// The route template a request matched, for labels and logs.
pub fn route_label(path: &str) -> &'static str {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segments.as_slice() {
        [""] => "/",
        ["discover"] => "/discover",
        ["match", _] => "/match/{invite}",
        ["static", _] => "/static/{file}",
        ["healthz"] => "/healthz",
        ["readyz"] => "/readyz",
        ["metrics"] => "/metrics",
        ["auth", "spotify", "login"] => "/auth/spotify/login",
        ["auth", "spotify", "callback"] => "/auth/spotify/callback",
        ["auth", "refresh"] => "/auth/refresh",
        ["auth", "listenbrainz"] => "/auth/listenbrainz",
        ["auth", "lastfm", "login"] => "/auth/lastfm/login",
        ["auth", "lastfm", "callback"] => "/auth/lastfm/callback",
        ["auth", "logout"] => "/auth/logout",
        ["api", "v1", rest @ ..] => match rest {
            ["openapi.json"] => "/api/v1/openapi.json",
            ["me"] => "/api/v1/me",
            ["music", "mood"] => "/api/v1/music/mood",
            ["matches"] => "/api/v1/matches",
            ["matches", _] => "/api/v1/matches/{id}",
            ["matches", _, "accept"] => "/api/v1/matches/{invite}/accept",
            ["ai", "art"] => "/api/v1/ai/art",
            ["jobs", _] => "/api/v1/jobs/{id}",
            ["art", id] if id.ends_with(".png") => "/api/v1/art/{id}.png",
            ["art", _] => "/api/v1/art/{id}",
            ["gallery"] => "/api/v1/gallery",
            ["playlists"] => "/api/v1/playlists",
            ["playlists", _, "cover"] => "/api/v1/playlists/{id}/cover",
            ["schedules"] => "/api/v1/schedules",
            ["schedules", _] => "/api/v1/schedules/{id}",
            ["invites", _] => "/api/v1/invites/{invite}",
            _ => "/api/v1/other",
        },
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_labelled_by_template() {
        assert_eq!(route_label("/"), "/");
        assert_eq!(route_label("/api/v1/art/0193.png"), "/api/v1/art/{id}.png");
        assert_eq!(
            route_label("/api/v1/matches/abc/accept"),
            "/api/v1/matches/{invite}/accept"
        );
        assert_eq!(
            route_label("/api/v1/playlists/37i9dQZF1DX/cover"),
            "/api/v1/playlists/{id}/cover"
        );
        assert_eq!(route_label("/wp-admin/x.php"), "other");
        let m = Metrics::new();
        m.observe("GET", "/healthz", 200, Duration::from_millis(3));
        m.art("cached");
        let text = m.render();
        assert!(
            text.contains(
                "spotifyart_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 1"
            ),
            "{text}"
        );
        assert!(text.contains("spotifyart_art_requests_total{outcome=\"cached\"} 1"));
    }

    #[test]
    fn methods_are_labelled_from_a_fixed_set() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::DELETE), "DELETE");
        let made_up = Method::from_bytes("X".repeat(8000).as_bytes()).unwrap();
        assert_eq!(method_label(&made_up), "other");
        assert_eq!(method_label(&Method::from_bytes(b"get").unwrap()), "other");
    }
}
