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

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: String,
}

type Latency = Family<RouteLabels, Histogram, fn() -> Histogram>;

/// The registry and the metrics in it.
#[derive(Clone, Debug)]
pub struct Metrics {
    registry: Arc<Registry>,
    requests: Family<RequestLabels, Counter>,
    latency: Latency,
    art: Family<OutcomeLabels, Counter>,
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
        Self {
            registry: Arc::new(registry),
            requests,
            latency,
            art,
        }
    }

    /// Records one request.
    pub fn observe(&self, method: &Method, route: &str, status: u16, elapsed: Duration) {
        self.requests
            .get_or_create(&RequestLabels {
                method: method.as_str().to_string(),
                route: route.to_string(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                route: route.to_string(),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// Records an art request's outcome.
    pub fn art(&self, outcome: &str) {
        self.art
            .get_or_create(&OutcomeLabels {
                outcome: outcome.to_string(),
            })
            .inc();
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
        let get = Method::GET;
        assert_eq!(route_label("/"), "/");
        assert_eq!(route_label("/api/v1/art/0193.png"), "/api/v1/art/{id}.png");
        assert_eq!(
            route_label("/api/v1/matches/abc/accept"),
            "/api/v1/matches/{invite}/accept"
        );
        assert_eq!(route_label("/wp-admin/x.php"), "other");
        let m = Metrics::new();
        m.observe(&get, "/healthz", 200, Duration::from_millis(3));
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
}
