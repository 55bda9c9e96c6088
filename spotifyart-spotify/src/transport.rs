//! Every call to Spotify goes through the shared resilient client
//! (`spotifyart-upstream`: timeouts, 429 `Retry-After` within a budget and
//! remembered past it, retried 5xx within a time per call, body caps,
//! spans without secrets) with Spotify's settings;
//! here are Spotify's error body and its mapping to the core errors.

use std::sync::Arc;

use reqwest::StatusCode;
use serde::Deserialize;
use spotifyart_core::{Error, Result};
use spotifyart_upstream::{Policy, Upstream, status_429};

pub(crate) use spotifyart_upstream::Reply;

use crate::config::SpotifyConfig;

/// Name used in errors and logs.
pub(crate) const SERVICE: &str = "spotify";

/// The shared upstream client with Spotify's settings, and the settings.
#[derive(Clone, Debug)]
pub(crate) struct Transport {
    upstream: Upstream,
    pub config: Arc<SpotifyConfig>,
}

impl Transport {
    pub fn new(config: Arc<SpotifyConfig>) -> Result<Self> {
        let upstream = Upstream::new(Policy {
            service: SERVICE,
            display: "Spotify",
            request_timeout: config.request_timeout,
            max_retries: config.max_retries,
            backoff: config.backoff,
            max_rate_limit_wait: config.max_rate_limit_wait,
            rate_limit: status_429,
        })?
        .with_max_call_time(config.max_call_time);
        Ok(Self { upstream, config })
    }

    pub fn client(&self) -> &reqwest::Client {
        self.upstream.client()
    }

    /// See [`Upstream::send`].
    pub async fn send(
        &self,
        what: &str,
        idempotent: bool,
        build: &(dyn Fn() -> reqwest::RequestBuilder + Send + Sync),
    ) -> Result<Reply> {
        self.upstream.send(what, idempotent, build).await
    }

    /// See [`Upstream::send_capped`].
    pub async fn send_capped(
        &self,
        what: &str,
        max_body: usize,
        build: &(dyn Fn() -> reqwest::RequestBuilder + Send + Sync),
    ) -> Result<Reply> {
        self.upstream.send_capped(what, max_body, build).await
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
    spotifyart_upstream::parse_json(reply, &SPOTIFY_PARSE, what)
}

/// What parse errors name.
static SPOTIFY_PARSE: std::sync::LazyLock<Policy> =
    std::sync::LazyLock::new(|| Policy::new(SERVICE, "Spotify"));

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderMap;

    use super::*;

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
