//! Browser sessions and the cookies that carry them.
//!
//! - `sa_session`: an opaque random token (HttpOnly, SameSite=Lax, Secure
//!   on https); the store keeps only its SHA-256, with idle and absolute
//!   expiry.
//! - `sa_csrf`: derived from the session token, readable by the page's
//!   script, which echoes it in `X-CSRF-Token` on every state-changing
//!   request; a cross-site form cannot read it, so cannot forge that header.
//! - `sa_oauth`: the sign-in in progress: its OAuth `state` only (the PKCE
//!   verifier waits in the store under the state's hash, so the callback
//!   may reach any server, once), sent only to `/auth/spotify/`, for ten
//!   minutes, cleared by the callback.

use std::time::Duration;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use spotifyart_core::UserId;
use spotifyart_core::store::{NewSession, OpaqueToken, TokenHash};

use super::ServerConfig;

/// Session cookie name.
pub const SESSION_COOKIE: &str = "sa_session";
/// CSRF cookie name.
pub const CSRF_COOKIE: &str = "sa_csrf";
/// Sign-in-in-progress cookie name.
pub const OAUTH_COOKIE: &str = "sa_oauth";
/// The header a state-changing request repeats the CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// How long a sign-in may take.
pub const OAUTH_TTL: Duration = Duration::from_secs(600);

/// A signed-in request.
#[derive(Clone, Debug)]
pub struct Authed {
    /// Who.
    pub user: UserId,
    /// Their session's hash (for rotation and logout).
    pub session: TokenHash,
    /// When the session ends regardless of use (kept across rotation).
    pub absolute_expires_at: DateTime<Utc>,
}

/// The CSRF token that goes with a session token.
pub fn csrf_token(session_token: &str) -> String {
    let digest = Sha256::new()
        .chain_update(b"spotifyart csrf v1\0")
        .chain_update(session_token.as_bytes())
        .finalize();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
}

/// Whether `presented` is the CSRF token of `session_token`, compared as
/// hashes so the comparison's timing says nothing about the token.
pub fn csrf_matches(session_token: &str, presented: &str) -> bool {
    same_secret(&csrf_token(session_token), presented)
}

/// Whether two secrets are equal, compared as hashes so the comparison's
/// timing says nothing about either.
pub fn same_secret(a: &str, b: &str) -> bool {
    Sha256::digest(a.as_bytes()) == Sha256::digest(b.as_bytes())
}

/// A new session for `user`: the token for the cookie and the row to
/// store.
pub fn new_session(
    config: &ServerConfig,
    user: UserId,
    now: DateTime<Utc>,
) -> (OpaqueToken, NewSession) {
    let token = OpaqueToken::generate();
    let session = NewSession {
        hash: token.hash(),
        user,
        created_at: now,
        idle_expires_at: now + chrono_dur(config.session_idle),
        absolute_expires_at: now + chrono_dur(config.session_absolute),
    };
    (token, session)
}

pub(crate) fn chrono_dur(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// `Set-Cookie` values that sign a browser in with `token`.
pub fn session_cookies(config: &ServerConfig, token: &OpaqueToken) -> [String; 2] {
    let age = config.session_absolute.as_secs();
    [
        cookie(
            config,
            SESSION_COOKIE,
            token.expose(),
            "/",
            age,
            true,
            "Lax",
        ),
        cookie(
            config,
            CSRF_COOKIE,
            &csrf_token(token.expose()),
            "/",
            age,
            false,
            "Strict",
        ),
    ]
}

/// `Set-Cookie` values that sign a browser out.
pub fn clear_session_cookies(config: &ServerConfig) -> [String; 2] {
    [
        cookie(config, SESSION_COOKIE, "", "/", 0, true, "Lax"),
        cookie(config, CSRF_COOKIE, "", "/", 0, false, "Strict"),
    ]
}

/// The sign-in-in-progress cookie: only the OAuth `state`, which binds the
/// sign-in to this browser; the PKCE verifier and the page to return to
/// wait in the store under the state's hash.
pub fn oauth_cookie(config: &ServerConfig, state: &str) -> String {
    cookie(
        config,
        OAUTH_COOKIE,
        state,
        "/auth/spotify/",
        OAUTH_TTL.as_secs(),
        true,
        "Lax",
    )
}

/// Clears the sign-in cookie.
pub fn clear_oauth_cookie(config: &ServerConfig) -> String {
    cookie(config, OAUTH_COOKIE, "", "/auth/spotify/", 0, true, "Lax")
}

/// The cookie binding a Last.fm sign-in to the browser that started it:
/// it holds the invite being accepted (Last.fm's web authentication has
/// no `state` of its own).
pub const LASTFM_COOKIE: &str = "sa_lastfm";

/// Sets the Last.fm sign-in cookie to `invite`.
pub fn lastfm_cookie(config: &ServerConfig, invite: &str) -> String {
    cookie(
        config,
        LASTFM_COOKIE,
        invite,
        "/auth/lastfm/",
        OAUTH_TTL.as_secs(),
        true,
        "Lax",
    )
}

/// Clears the Last.fm sign-in cookie.
pub fn clear_lastfm_cookie(config: &ServerConfig) -> String {
    cookie(config, LASTFM_COOKIE, "", "/auth/lastfm/", 0, true, "Lax")
}

/// The `state` in a sign-in cookie, when it has the shape of one this
/// server set (16 to 128 URL-safe characters); anything else is treated
/// as no cookie, without being kept or looked up.
pub fn oauth_state(cookie: &str) -> Option<&str> {
    let ok = (16..=128).contains(&cookie.len())
        && cookie
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    ok.then_some(cookie)
}

/// `next` if it is a path on this site (not `//host` or a URL), else
/// `/discover`: sign-in never redirects elsewhere.
pub fn local_path(next: &str) -> String {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && next.len() <= 512
        && next.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        next.to_string()
    } else {
        "/discover".to_string()
    }
}

fn cookie(
    config: &ServerConfig,
    name: &str,
    value: &str,
    path: &str,
    max_age: u64,
    http_only: bool,
    same_site: &str,
) -> String {
    let mut c = format!("{name}={value}; Path={path}; Max-Age={max_age}; SameSite={same_site}");
    if http_only {
        c.push_str("; HttpOnly");
    }
    if config.secure_cookies() {
        c.push_str("; Secure");
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csrf_tokens_are_bound_to_the_session() {
        let a = OpaqueToken::generate();
        let b = OpaqueToken::generate();
        assert!(csrf_matches(a.expose(), &csrf_token(a.expose())));
        assert!(!csrf_matches(a.expose(), &csrf_token(b.expose())));
        assert!(!csrf_matches(a.expose(), ""));
        assert!(!csrf_matches(a.expose(), a.expose()));
    }

    #[test]
    fn cookies_are_http_only_and_secure_on_https() {
        let http = ServerConfig::new("http://127.0.0.1:8080".parse().unwrap(), "tiny");
        let https = ServerConfig::new("https://art.example".parse().unwrap(), "tiny");
        let t = OpaqueToken::generate();
        let [s, c] = session_cookies(&http, &t);
        assert!(s.contains("HttpOnly") && s.contains("SameSite=Lax") && !s.contains("Secure"));
        assert!(!c.contains("HttpOnly") && c.contains("SameSite=Strict"));
        let [s, _] = session_cookies(&https, &t);
        assert!(s.ends_with("; Secure"));
        let c = oauth_cookie(&http, "a-state_of-22-chars-ok");
        let value = c.split(';').next().unwrap().split_once('=').unwrap().1;
        assert_eq!(oauth_state(value), Some("a-state_of-22-chars-ok"));
        assert!(c.contains("Path=/auth/spotify/") && c.contains("HttpOnly"));
    }

    #[test]
    fn only_state_shaped_sign_in_cookies_are_read() {
        assert_eq!(oauth_state("short"), None);
        assert_eq!(oauth_state(&"a".repeat(129)), None);
        assert_eq!(oauth_state(&"a".repeat(60_000)), None);
        assert_eq!(oauth_state("state.with.dots.and.more"), None);
        assert_eq!(
            oauth_state("0123456789abcdefXYZ_-"),
            Some("0123456789abcdefXYZ_-")
        );
    }

    #[test]
    fn sign_in_returns_only_to_local_pages() {
        assert_eq!(local_path("/match/abc"), "/match/abc");
        for evil in [
            "//evil.example",
            "https://evil.example",
            "/\\\\evil",
            "evil",
            "/a b",
        ] {
            assert_eq!(local_path(evil), "/discover", "{evil}");
        }
    }
}
