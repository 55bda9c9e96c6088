//! How to reach ListenBrainz and how much to read per profile.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use spotifyart_core::{Error, Result};
use url::Url;

/// ListenBrainz's API root.
pub const API_URL: &str = "https://api.listenbrainz.org/";

/// The most items ListenBrainz returns per GET (`MAX_ITEMS_PER_GET`): a
/// larger `count` is served as this many.
pub const MAX_ITEMS_PER_GET: usize = 1000;

/// Settings of the ListenBrainz client. `Debug` shows the token as
/// redacted (it is a [`SecretString`]).
#[derive(Clone, Debug)]
pub struct ListenBrainzConfig {
    /// API root (tests point it at a fake); a path prefix is kept.
    pub api_url: Url,
    /// A user token, sent as `Authorization: Token …` to the API origin
    /// only. Public listening needs none; a token raises the rate limit.
    pub token: Option<SecretString>,
    /// Limit on each request, from connect to the end of the body.
    pub request_timeout: Duration,
    /// Retries after a 5xx or a connection failure.
    pub max_retries: u32,
    /// First backoff after a failure; doubles each retry, with full jitter.
    pub backoff: Duration,
    /// Most time one call may spend waiting out 429s; past it the call
    /// fails with `UpstreamBusy` carrying ListenBrainz's reset time.
    pub max_rate_limit_wait: Duration,
    /// Artists and recordings per statistics range (at most
    /// [`MAX_ITEMS_PER_GET`]).
    pub top_n: usize,
    /// Recent plays kept on the profile.
    pub recent_n: usize,
    /// Most listens read per profile, newest first: the recent plays and
    /// behaviour, and the top lists while statistics are not calculated.
    pub max_listens: usize,
    /// Listens per request (at most [`MAX_ITEMS_PER_GET`]).
    pub page_size: usize,
}

impl Default for ListenBrainzConfig {
    fn default() -> Self {
        Self {
            api_url: Url::parse(API_URL).expect("constant URL"),
            token: None,
            request_timeout: Duration::from_secs(10),
            max_retries: 3,
            backoff: Duration::from_millis(250),
            max_rate_limit_wait: Duration::from_secs(20),
            top_n: 50,
            recent_n: 50,
            // Two pages: enough plays for the hours of day and repeats,
            // few enough to stay far inside the rate limit.
            max_listens: 2 * MAX_ITEMS_PER_GET,
            page_size: MAX_ITEMS_PER_GET,
        }
    }
}

impl ListenBrainzConfig {
    /// The defaults against `api_url` (a fake, a mirror).
    pub fn with_api_url(api_url: Url) -> Self {
        Self {
            api_url,
            ..Self::default()
        }
    }

    /// With a user token.
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(SecretString::from(token.into()));
        self
    }

    /// From `LISTENBRAINZ_API_URL` (default [`API_URL`]) and
    /// `LISTENBRAINZ_TOKEN` or `LISTENBRAINZ_TOKEN_FILE` (optional).
    pub fn from_env() -> Result<Self> {
        let mut config = Self::default();
        if let Some(u) = std::env::var("LISTENBRAINZ_API_URL")
            .ok()
            .filter(|v| !v.trim().is_empty())
        {
            config.api_url = parse_url("LISTENBRAINZ_API_URL", u.trim())?;
        }
        if let Some(token) = spotifyart_core::env_secret("LISTENBRAINZ_TOKEN")? {
            config = config.with_token(token);
        }
        config.validate()?;
        Ok(config)
    }

    /// Checks what would otherwise fail on the first request; errors never
    /// show the token.
    pub fn validate(&self) -> Result<()> {
        if !matches!(self.api_url.scheme(), "http" | "https") {
            return Err(Error::invalid(format!(
                "the ListenBrainz API URL must be http(s), not {}",
                self.api_url
            )));
        }
        if let Some(t) = &self.token {
            let t = t.expose_secret();
            if t.is_empty() || t.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(Error::invalid(
                    "LISTENBRAINZ_TOKEN must be one word without spaces or control characters \
                     (copy it from https://listenbrainz.org/settings/)",
                ));
            }
        }
        for (name, v) in [("top_n", self.top_n), ("page_size", self.page_size)] {
            if v == 0 || v > MAX_ITEMS_PER_GET {
                return Err(Error::invalid(format!(
                    "ListenBrainz {name} must be 1..={MAX_ITEMS_PER_GET}, not {v}"
                )));
            }
        }
        Ok(())
    }

    /// `api_url` + `segments`, each percent-encoded as one path segment,
    /// keeping any path prefix `api_url` has.
    pub(crate) fn endpoint(&self, segments: &[&str]) -> Url {
        let mut url = self.api_url.clone();
        url.set_query(None);
        url.set_fragment(None);
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }
}

fn parse_url(name: &str, value: &str) -> Result<Url> {
    spotifyart_upstream::http_url(name, value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_encode_names_and_keep_prefixes() {
        let c = ListenBrainzConfig::default();
        assert_eq!(
            c.endpoint(&["1", "user", "a b/c?", "listens"]).as_str(),
            "https://api.listenbrainz.org/1/user/a%20b%2Fc%3F/listens"
        );
        let c = ListenBrainzConfig::with_api_url(Url::parse("http://127.0.0.1:9/lb").unwrap());
        assert_eq!(
            c.endpoint(&["1", "stats"]).as_str(),
            "http://127.0.0.1:9/lb/1/stats"
        );
        let c = ListenBrainzConfig::with_api_url(Url::parse("http://127.0.0.1:9/lb/").unwrap());
        assert_eq!(
            c.endpoint(&["1", "stats"]).as_str(),
            "http://127.0.0.1:9/lb/1/stats"
        );
    }

    #[test]
    fn debug_and_errors_hide_the_token() {
        let c = ListenBrainzConfig::default().with_token("s3cr3t-token");
        assert!(!format!("{c:?}").contains("s3cr3t"));
        let c = ListenBrainzConfig::default().with_token("s3cr3t token");
        let e = c.validate().unwrap_err().to_string();
        assert!(
            e.contains("LISTENBRAINZ_TOKEN") && !e.contains("s3cr3t"),
            "{e}"
        );
        let e = parse_url("LISTENBRAINZ_API_URL", "ftp://x").unwrap_err();
        assert!(e.to_string().contains("http(s)"), "{e}");
    }
}
