//! Settings for reading Last.fm: where the API is, the app's API key (and,
//! for proving who someone is, its shared secret and the web-auth page),
//! and how much of a user's listening one profile reads.

use std::fmt;
use std::time::Duration;

use secrecy::SecretString;
use spotifyart_core::{Error, Result};
use url::Url;

/// Last.fm's API root; every method is a query on it.
pub const API_URL: &str = "https://ws.audioscrobbler.com/2.0/";

/// Last.fm's web-authentication page, where a browser is sent to approve
/// the app (<https://www.last.fm/api/webauth>).
pub const AUTH_URL: &str = "https://www.last.fm/api/auth/";

/// Where the API key comes from, named in the error when it is missing.
const KEY_VARS: &str = "LASTFM_API_KEY (or LASTFM_API_KEY_FILE)";

/// How to reach Last.fm and how much to read per profile.
#[derive(Clone)]
pub struct LastfmConfig {
    /// The API root (tests point it at a fake), default [`API_URL`].
    pub api_url: Url,
    /// The app's API key. It travels in the query string, so it is never
    /// logged and never put in an error (`Debug` shows it redacted).
    pub api_key: SecretString,
    /// The app's shared secret, which signs authenticated calls
    /// (`auth.getSession`); only needed to prove who a user is
    /// ([`Lastfm::session_user`](super::Lastfm::session_user)). It never
    /// travels (only the signatures made with it do), is never logged,
    /// and `Debug` shows it redacted.
    pub shared_secret: Option<SecretString>,
    /// Last.fm's web-auth page (default [`AUTH_URL`]), where
    /// [`Lastfm::auth_url`](super::Lastfm::auth_url) sends browsers.
    pub auth_url: Url,
    /// Longest wait for one answer.
    pub request_timeout: Duration,
    /// Retries after a 5xx, a connection failure or Last.fm's "try again"
    /// errors (8, 11, 16).
    pub max_retries: u32,
    /// First backoff after a failure (doubling), and the wait after a rate
    /// limit (error 29), which Last.fm sends without `Retry-After`.
    pub backoff: Duration,
    /// Most time one call waits out rate limits; past it `UpstreamBusy`.
    pub max_rate_limit_wait: Duration,
    /// Artists and tracks per top list (one page; Last.fm serves up to
    /// 1000 per page).
    pub top_n: usize,
    /// Most recent scrobbles read for recent plays and play times, in pages
    /// of 200: the default 1000 is five calls.
    pub max_recent: usize,
    /// Artists whose top tags are read as genres: the most listened to
    /// across the three ranges (one call each).
    pub tagged_artists: usize,
    /// Tag calls in flight at once (Last.fm asks for about 5 calls a
    /// second per client).
    pub tag_concurrency: usize,
    /// Longest body read from one answer.
    pub max_body: usize,
}

impl fmt::Debug for LastfmConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LastfmConfig")
            .field("api_url", &self.api_url.as_str())
            .field("api_key", &"[redacted]")
            .field(
                "shared_secret",
                &self.shared_secret.as_ref().map(|_| "[redacted]"),
            )
            .field("auth_url", &self.auth_url.as_str())
            .field("request_timeout", &self.request_timeout)
            .field("max_retries", &self.max_retries)
            .field("backoff", &self.backoff)
            .field("max_rate_limit_wait", &self.max_rate_limit_wait)
            .field("top_n", &self.top_n)
            .field("max_recent", &self.max_recent)
            .field("tagged_artists", &self.tagged_artists)
            .field("tag_concurrency", &self.tag_concurrency)
            .field("max_body", &self.max_body)
            .finish()
    }
}

impl LastfmConfig {
    /// The real Last.fm with `api_key` and the default limits.
    pub fn new(api_key: impl Into<String>) -> Self {
        Self {
            api_url: Url::parse(API_URL).expect("constant URL"),
            api_key: SecretString::from(api_key.into()),
            shared_secret: None,
            auth_url: Url::parse(AUTH_URL).expect("constant URL"),
            request_timeout: Duration::from_secs(10),
            max_retries: 3,
            backoff: Duration::from_secs(1),
            max_rate_limit_wait: Duration::from_secs(20),
            top_n: 50,
            max_recent: 1000,
            tagged_artists: 20,
            tag_concurrency: 4,
            max_body: 4 << 20,
        }
    }

    /// The same settings against another API root (a fake, a proxy).
    pub fn with_api_url(mut self, api_url: Url) -> Self {
        self.api_url = api_url;
        self
    }

    /// With the app's shared secret, for [`Lastfm::session_user`](super::Lastfm::session_user).
    pub fn with_shared_secret(mut self, secret: impl Into<String>) -> Self {
        self.shared_secret = Some(SecretString::from(secret.into()));
        self
    }

    /// With another web-auth page (a fake's).
    pub fn with_auth_url(mut self, auth_url: Url) -> Self {
        self.auth_url = auth_url;
        self
    }

    /// From `LASTFM_API_KEY` (or the file `LASTFM_API_KEY_FILE` names),
    /// `LASTFM_API_URL` (default [`API_URL`]), `LASTFM_SHARED_SECRET` (or
    /// `LASTFM_SHARED_SECRET_FILE`; optional, needed only to prove who a
    /// user is) and `LASTFM_AUTH_URL` (default [`AUTH_URL`]). A missing key
    /// is an error naming both variables and where a key is made.
    pub fn from_env() -> Result<Self> {
        let key = spotifyart_core::env_secret("LASTFM_API_KEY")?.ok_or_else(|| {
            Error::invalid(format!(
                "{KEY_VARS} is not set: create a Last.fm API account at \
                 https://www.last.fm/api/account/create and set its API key"
            ))
        })?;
        let mut config = Self::new(key);
        if let Some(u) = std::env::var("LASTFM_API_URL")
            .ok()
            .filter(|v| !v.trim().is_empty())
        {
            config.api_url = parse_url("LASTFM_API_URL", u.trim())?;
        }
        if let Some(secret) = spotifyart_core::env_secret("LASTFM_SHARED_SECRET")? {
            config = config.with_shared_secret(secret);
        }
        if let Some(u) = std::env::var("LASTFM_AUTH_URL")
            .ok()
            .filter(|v| !v.trim().is_empty())
        {
            config.auth_url = parse_url("LASTFM_AUTH_URL", u.trim())?;
        }
        Ok(config)
    }
}

/// An http(s) URL, or an error naming the variable.
fn parse_url(name: &str, value: &str) -> Result<Url> {
    spotifyart_upstream::http_url(name, value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_key_and_the_secret() {
        let c = LastfmConfig::new("0123456789abcdef0123456789abcdef");
        let shown = format!("{c:?}");
        assert!(!shown.contains("0123456789abcdef"), "{shown}");
        assert!(shown.contains("ws.audioscrobbler.com"), "{shown}");
        assert!(shown.contains("shared_secret: None"), "{shown}");
        assert!(shown.contains("https://www.last.fm/api/auth/"), "{shown}");
        let c = c.with_shared_secret("fedcba9876543210fedcba9876543210");
        let shown = format!("{c:?}");
        assert!(!shown.contains("fedcba9876543210"), "{shown}");
        assert!(
            shown.contains("shared_secret: Some(\"[redacted]\")"),
            "{shown}"
        );
    }

    #[test]
    fn urls_are_checked() {
        assert!(parse_url("LASTFM_API_URL", "http://127.0.0.1:9/2.0/").is_ok());
        let e = parse_url("LASTFM_API_URL", "ftp://x/").unwrap_err();
        assert!(e.to_string().contains("http(s)"), "{e}");
        let e = parse_url("LASTFM_API_URL", "not a url").unwrap_err();
        assert!(e.to_string().contains("LASTFM_API_URL"), "{e}");
    }
}
