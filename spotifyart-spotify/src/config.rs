//! Settings for one registered Spotify app.

use std::time::Duration;

use secrecy::SecretString;
use spotifyart_core::{Error, Result};
use url::Url;

/// Spotify's accounts service (authorize and token endpoints).
pub const ACCOUNTS_URL: &str = "https://accounts.spotify.com";
/// Spotify's Web API.
pub const API_URL: &str = "https://api.spotify.com";

/// Scopes for reading a user's mood: top items and recent plays, no more.
pub const LISTENING_SCOPES: &[&str] = &["user-top-read", "user-read-recently-played"];
/// Extra scopes the playlist archive job needs; asked for only by callers
/// that run it (`spotifyart login --archive`).
pub const ARCHIVE_SCOPES: &[&str] = &["playlist-read-private", "playlist-modify-private"];
/// Extra scopes setting a playlist's cover needs (`PUT
/// /v1/playlists/{id}/images`): image upload and changing the user's
/// playlists, public or private; asked for only when covers are wanted.
pub const COVER_SCOPES: &[&str] = &[
    "ugc-image-upload",
    "playlist-read-private",
    "playlist-modify-public",
    "playlist-modify-private",
];
/// The most base64 bytes Spotify takes as a cover image (256 KB).
pub const COVER_MAX_BASE64: usize = 256 * 1024;

/// A Spotify app and how to talk to Spotify.
#[derive(Clone, Debug)]
pub struct SpotifyConfig {
    /// The app's client id.
    pub client_id: String,
    /// The client secret for confidential clients (the hosted service);
    /// `None` for public clients (a notebook, the CLI), which rely on PKCE.
    pub client_secret: Option<SecretString>,
    /// Where Spotify sends the browser back; must be registered exactly.
    pub redirect_uri: Url,
    /// Accounts service base URL (tests point it at a fake).
    pub accounts_url: Url,
    /// Web API base URL (tests point it at a fake).
    pub api_url: Url,
    /// Limit on each HTTP request, from connect to the end of the body.
    pub request_timeout: Duration,
    /// Retries after a 5xx or a connection failure (idempotent requests).
    pub max_retries: u32,
    /// First backoff after a failure; doubles each retry, with full jitter.
    pub backoff: Duration,
    /// Most time one call may spend honouring 429 `Retry-After`; beyond it
    /// the call fails with `UpstreamBusy` carrying Spotify's retry time.
    pub max_rate_limit_wait: Duration,
    /// Most time one call may spend on attempts and the pauses between
    /// them (rate-limit waits aside): a Spotify that stops answering costs
    /// a request this, not every retry's full timeout.
    pub max_call_time: Duration,
}

impl SpotifyConfig {
    /// A public client (no secret) against the real Spotify.
    pub fn new(client_id: impl Into<String>, redirect_uri: &str) -> Result<Self> {
        Ok(Self {
            client_id: client_id.into(),
            client_secret: None,
            redirect_uri: parse_url("SPOTIFY_REDIRECT_URI", redirect_uri)?,
            accounts_url: Url::parse(ACCOUNTS_URL).expect("constant URL"),
            api_url: Url::parse(API_URL).expect("constant URL"),
            request_timeout: Duration::from_secs(10),
            max_retries: 3,
            backoff: Duration::from_millis(250),
            max_rate_limit_wait: Duration::from_secs(10),
            max_call_time: Duration::from_secs(15),
        })
    }

    /// Makes this a confidential client.
    pub fn with_secret(mut self, secret: impl Into<String>) -> Self {
        self.client_secret = Some(SecretString::from(secret.into()));
        self
    }

    /// Points both base URLs at `base` (a local fake serves both).
    pub fn with_base_url(mut self, base: &Url) -> Self {
        self.accounts_url = base.clone();
        self.api_url = base.clone();
        self
    }

    /// From `SPOTIFY_CLIENT_ID`, `SPOTIFY_CLIENT_SECRET` (or `_FILE`),
    /// `SPOTIFY_REDIRECT_URI`, `SPOTIFY_ACCOUNTS_URL` and `SPOTIFY_API_URL`.
    /// `default_redirect` is used when `SPOTIFY_REDIRECT_URI` is unset.
    pub fn from_env(default_redirect: Option<&str>) -> Result<Self> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let client_id = var("SPOTIFY_CLIENT_ID").ok_or_else(|| {
            Error::invalid(
                "SPOTIFY_CLIENT_ID is not set: register an app at \
                 https://developer.spotify.com/dashboard and set its client id",
            )
        })?;
        let redirect = var("SPOTIFY_REDIRECT_URI")
            .or_else(|| default_redirect.map(str::to_string))
            .ok_or_else(|| Error::invalid("SPOTIFY_REDIRECT_URI is not set"))?;
        let mut config = Self::new(client_id, &redirect)?;
        if let Some(secret) = spotifyart_core::env_secret("SPOTIFY_CLIENT_SECRET")? {
            config = config.with_secret(secret);
        }
        if let Some(u) = var("SPOTIFY_ACCOUNTS_URL") {
            config.accounts_url = parse_url("SPOTIFY_ACCOUNTS_URL", &u)?;
        }
        if let Some(u) = var("SPOTIFY_API_URL") {
            config.api_url = parse_url("SPOTIFY_API_URL", &u)?;
        }
        Ok(config)
    }

    pub(crate) fn authorize_endpoint(&self) -> Url {
        join(&self.accounts_url, "authorize")
    }

    pub(crate) fn token_endpoint(&self) -> Url {
        join(&self.accounts_url, "api/token")
    }

    pub(crate) fn api(&self, path: &str) -> Url {
        join(&self.api_url, path.trim_start_matches('/'))
    }
}

/// `base` + `path`, keeping any path prefix `base` has (a proxy, a fake
/// mounted under a folder).
fn join(base: &Url, path: &str) -> Url {
    let mut url = base.clone();
    let prefix = url.path().trim_end_matches('/').to_string();
    url.set_path(&format!("{prefix}/{path}"));
    url
}

fn parse_url(name: &str, value: &str) -> Result<Url> {
    spotifyart_upstream::http_url(name, value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_keep_base_paths() {
        let base = Url::parse("http://127.0.0.1:9/fake/").unwrap();
        let c = SpotifyConfig::new("id", "http://127.0.0.1/cb")
            .unwrap()
            .with_base_url(&base);
        assert_eq!(
            c.token_endpoint().as_str(),
            "http://127.0.0.1:9/fake/api/token"
        );
        assert_eq!(c.api("/v1/me").as_str(), "http://127.0.0.1:9/fake/v1/me");
        let real = SpotifyConfig::new("id", "http://127.0.0.1/cb").unwrap();
        assert_eq!(
            real.authorize_endpoint().as_str(),
            "https://accounts.spotify.com/authorize"
        );
    }

    #[test]
    fn bad_urls_are_named() {
        let e = SpotifyConfig::new("id", "not a url").unwrap_err();
        assert!(e.to_string().contains("SPOTIFY_REDIRECT_URI"), "{e}");
        let e = SpotifyConfig::new("id", "ftp://x/cb").unwrap_err();
        assert!(e.to_string().contains("http(s)"), "{e}");
    }
}
