//! The calls to Last.fm, through the shared resilient client with Last.fm's
//! contract: every method is a GET on one URL with the API key in the
//! query string, errors are `{"error": N, "message": …}` bodies (often with
//! HTTP 200), and a rate limit is error 29, with HTTP 200 or 429 and no
//! `Retry-After`.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use md5::{Digest, Md5};
use secrecy::ExposeSecret;
use serde::de::DeserializeOwned;
use spotifyart_core::profile::{ArtistStat, TrackStat};
use spotifyart_core::source::Play;
use spotifyart_core::{Error, Result, TimeRange};
use spotifyart_upstream::{Policy, Reply, Upstream, parse_json, retry_after};
use url::Url;

use super::config::LastfmConfig;
use super::wire;

/// Name in errors and logs.
pub(crate) const SERVICE: &str = "lastfm";
/// Name in sentences.
const DISPLAY: &str = "Last.fm";

/// Last.fm's most recent tracks per page.
pub const MAX_RECENT_PAGE: usize = 200;
/// Last.fm's most items per page of a top list.
pub const MAX_TOP_PAGE: usize = 1000;

/// "Try again later" errors: 8 (operation failed), 11 (service offline),
/// 16 (temporarily unavailable).
const RETRYABLE: [u32; 3] = [8, 11, 16];
/// Rate limit exceeded.
const RATE_LIMITED: u32 = 29;
/// Invalid authentication token.
const INVALID_TOKEN: u32 = 4;
/// Invalid method signature: the shared secret was not the app's.
const INVALID_SIGNATURE: u32 = 13;
/// The token was not authorised: the user did not approve the app.
const UNAUTHORIZED_TOKEN: u32 = 14;
/// The token expired (after an hour, or once used).
const EXPIRED_TOKEN: u32 = 15;
/// The longest authentication token accepted: Last.fm's are 32 characters.
const MAX_TOKEN_CHARS: usize = 128;
/// Where the shared secret comes from, named in errors.
const SECRET_VARS: &str = "LASTFM_SHARED_SECRET (or LASTFM_SHARED_SECRET_FILE)";
/// Error bodies are a few dozen bytes; larger bodies are answers, not
/// parsed for an error code (a 1000-item top list is hundreds of KB).
const MAX_ERROR_BODY: usize = 4096;

/// Last.fm's period for one of SpotifyArt's ranges: about 4 weeks is
/// `1month`, about 6 months `6month`, and the long range is the whole
/// history (`overall`), as for data exports.
pub fn period(range: TimeRange) -> &'static str {
    match range {
        TimeRange::ShortTerm => "1month",
        TimeRange::MediumTerm => "6month",
        TimeRange::LongTerm => "overall",
    }
}

/// Last.fm's rate-limit contract for [`Upstream`]: HTTP 429, or error 29
/// in the body with any status (Last.fm often sends it with 200). It sends
/// no `Retry-After`; one that is present is honoured, otherwise the
/// policy's backoff is waited.
pub fn rate_limit_rule(reply: &Reply) -> Option<Option<Duration>> {
    let limited = reply.status == reqwest::StatusCode::TOO_MANY_REQUESTS
        || error_body(reply).is_some_and(|e| e.error == RATE_LIMITED);
    limited.then(|| retry_after(&reply.headers))
}

/// Last.fm's error in `reply`, when its body is one.
fn error_body(reply: &Reply) -> Option<wire::ErrorBody> {
    if reply.body.len() > MAX_ERROR_BODY {
        return None;
    }
    serde_json::from_slice::<wire::ErrorBody>(&reply.body).ok()
}

/// Checks a Last.fm username: Last.fm's own are 2 to 15 letters, digits,
/// `-` and `_`; older or odd ones are let through up to 64 characters, as
/// long as they hold no spaces or control characters (it is sent as a
/// query parameter, encoded, so nothing else can break the call).
pub fn validate_username(user: &str) -> Result<&str> {
    let name = user.trim();
    let n = name.chars().count();
    if !(2..=64).contains(&n) || name.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(Error::invalid(format!(
            "{user:?} is not a Last.fm username (2 to 15 letters, digits, '-' or '_')"
        )));
    }
    Ok(name)
}

/// Last.fm's `api_sig` for a call with `params`: the hex MD5 of every
/// parameter but `format` and `callback` (and `api_sig` itself), sorted by
/// name, each as its name then its value, followed by the shared secret
/// (<https://www.last.fm/api/authspec>, section 8). `params` include
/// `method` and `api_key`.
pub fn api_signature(params: &[(&str, &str)], shared_secret: &str) -> String {
    let mut signed: Vec<&(&str, &str)> = params
        .iter()
        .filter(|(k, _)| !matches!(*k, "format" | "callback" | "api_sig"))
        .collect();
    signed.sort_by(|a, b| a.0.cmp(b.0).then_with(|| a.1.cmp(b.1)));
    let mut md5 = Md5::new();
    for (k, v) in signed {
        md5.update(k.as_bytes());
        md5.update(v.as_bytes());
    }
    md5.update(shared_secret.as_bytes());
    md5.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks a web-auth token before it is sent: trimmed, non-empty, at most
/// 128 characters of visible ASCII. Errors never show it.
fn check_token(token: &str) -> Result<&str> {
    let token = token.trim();
    if token.is_empty()
        || token.chars().count() > MAX_TOKEN_CHARS
        || !token.chars().all(|c| c.is_ascii_graphic())
    {
        return Err(Error::invalid(
            "the Last.fm authentication token is empty, too long or not one word of ASCII \
             (it is the `token` Last.fm adds to the callback URL)",
        ));
    }
    Ok(token)
}

/// Recent scrobbles of a user, newest first.
#[derive(Clone, Debug, Default)]
pub struct Scrobbles {
    /// The plays read (never the track playing now, which is not a play yet).
    pub plays: Vec<Play>,
    /// How many scrobbles the user has in all, as Last.fm counts them.
    pub total: u64,
}

/// Whom Last.fm's "not found" (error 6) is about.
#[derive(Clone, Copy)]
enum Subject<'a> {
    User(&'a str),
    Artist(&'a str),
    /// A web-auth token being exchanged for a session.
    Token,
}

/// A Last.fm API client for one app key; cheap to clone (one connection
/// pool, shared settings).
#[derive(Clone, Debug)]
pub struct Lastfm {
    upstream: Upstream,
    config: Arc<LastfmConfig>,
}

impl Lastfm {
    /// A client with `config`'s key and limits.
    pub fn new(config: LastfmConfig) -> Result<Self> {
        let upstream = Upstream::new(Policy {
            service: SERVICE,
            display: DISPLAY,
            request_timeout: config.request_timeout,
            max_retries: config.max_retries,
            backoff: config.backoff,
            max_rate_limit_wait: config.max_rate_limit_wait,
            rate_limit: rate_limit_rule,
        })?;
        Ok(Self {
            upstream,
            config: Arc::new(config),
        })
    }

    /// The settings this client was built with.
    pub fn config(&self) -> &LastfmConfig {
        &self.config
    }

    /// The page of Last.fm's web authentication to send a browser to:
    /// `{auth_url}?api_key=KEY&cb=CALLBACK`. Once the user signs in there
    /// and approves the app, Last.fm sends the browser to `callback` with
    /// `token=…` added; [`Lastfm::session_user`] turns that token into the
    /// user's name. The API key is public here by design (it is the app's
    /// id), but the URL is still never logged.
    pub fn auth_url(&self, callback: &Url) -> Url {
        let mut url = self.config.auth_url.clone();
        url.query_pairs_mut()
            .append_pair("api_key", self.config.api_key.expose_secret())
            .append_pair("cb", callback.as_str());
        url
    }

    /// Who approved this app on Last.fm's web-auth page: `auth.getSession`
    /// with the `token` Last.fm added to the callback URL, signed with the
    /// shared secret, answers the user's name. Only the user themselves
    /// can approve (they sign in on last.fm), so the name is proven. The
    /// session key that comes with it is dropped: SpotifyArt reads public
    /// listening and needs no access to the account.
    ///
    /// Errors: `NotSupported` without a shared secret (naming
    /// `LASTFM_SHARED_SECRET`); `InvalidInput` for an empty or odd token,
    /// before any request; `Unauthorized` when Last.fm refuses the token
    /// (4 unknown, 14 not approved, 15 expired or already used: a token
    /// works once); `Upstream` saying the shared secret was refused (13)
    /// or the key was (10, 26). Neither the token nor the secret is in an
    /// error or a log line.
    pub async fn session_user(&self, token: &str) -> Result<String> {
        if self.config.shared_secret.is_none() {
            return Err(Error::NotSupported {
                message: format!(
                    "proving a Last.fm user's identity needs the app's shared secret: set \
                     {SECRET_VARS} to the one shown with the API key at \
                     https://www.last.fm/api/accounts"
                ),
            });
        }
        let token = check_token(token)?;
        let reply: wire::SessionReply = self
            .call(
                "auth.getSession",
                &[
                    ("method", "auth.getSession".into()),
                    ("token", token.into()),
                ],
                Subject::Token,
                true,
            )
            .await
            .map_err(|e| scrub_with(e, &|m| m.replace(token, "[token]")))?;
        let name = reply.session.name.trim().to_string();
        if name.is_empty() {
            return Err(Error::Upstream {
                service: SERVICE.into(),
                status: Some(200),
                message: "auth.getSession: Last.fm answered a session without a user name".into(),
            });
        }
        tracing::info!(service = SERVICE, user = %name, "Last.fm user proven by web auth");
        Ok(name)
    }

    /// The first page (up to `limit`, at most 1000) of one of `user`'s top
    /// lists for `range`: `method` is `user.getTopArtists` or
    /// `user.getTopTracks`.
    async fn top_page<T: DeserializeOwned>(
        &self,
        method: &str,
        user: &str,
        range: TimeRange,
        limit: usize,
    ) -> Result<T> {
        let user = validate_username(user)?;
        self.get(
            method,
            &[
                ("method", method.into()),
                ("user", user.into()),
                ("period", period(range).into()),
                ("limit", limit.clamp(1, MAX_TOP_PAGE).to_string()),
                ("page", "1".into()),
            ],
            Subject::User(user),
        )
        .await
    }

    /// `user`'s top artists in `range`, most played first (up to `limit`,
    /// at most 1000), with their play counts as `plays` and, until the
    /// profile is normalised, as `weight`.
    pub async fn top_artists(
        &self,
        user: &str,
        range: TimeRange,
        limit: usize,
    ) -> Result<Vec<ArtistStat>> {
        let reply: wire::TopArtistsReply = self
            .top_page("user.getTopArtists", user, range, limit)
            .await?;
        Ok(reply
            .topartists
            .artist
            .into_iter()
            .filter(|a| !a.name.trim().is_empty())
            .take(limit)
            .enumerate()
            .map(|(i, a)| ArtistStat {
                name: a.name,
                rank: i as u32 + 1,
                weight: a.playcount as f32,
                plays: Some(a.playcount.min(u32::MAX as u64) as u32),
                ..ArtistStat::default()
            })
            .collect())
    }

    /// `user`'s top tracks in `range`, like [`Lastfm::top_artists`].
    pub async fn top_tracks(
        &self,
        user: &str,
        range: TimeRange,
        limit: usize,
    ) -> Result<Vec<TrackStat>> {
        let reply: wire::TopTracksReply = self
            .top_page("user.getTopTracks", user, range, limit)
            .await?;
        Ok(reply
            .toptracks
            .track
            .into_iter()
            .filter(|t| !t.name.trim().is_empty())
            .take(limit)
            .enumerate()
            .map(|(i, t)| TrackStat {
                name: t.name,
                artists: Some(t.artist.0)
                    .filter(|a| !a.trim().is_empty())
                    .into_iter()
                    .collect(),
                rank: i as u32 + 1,
                weight: t.playcount as f32,
                plays: Some(t.playcount.min(u32::MAX as u64) as u32),
                duration_ms: (t.duration > 0)
                    .then(|| (t.duration.saturating_mul(1000)).min(u32::MAX as u64) as u32),
                ..TrackStat::default()
            })
            .collect())
    }

    /// `user`'s most recent scrobbles, up to `max`, read in pages of 200
    /// (so `max` bounds the calls too). The track playing now is left out;
    /// a scrobble seen twice (new ones shift the pages while reading) is
    /// kept once.
    pub async fn recent_plays(&self, user: &str, max: usize) -> Result<Scrobbles> {
        let user = validate_username(user)?;
        let limit = max.clamp(1, MAX_RECENT_PAGE);
        let mut out = Scrobbles::default();
        let mut seen = std::collections::HashSet::new();
        let mut page = 1u64;
        while out.plays.len() < max {
            let reply: wire::RecentTracksReply = self
                .get(
                    "user.getRecentTracks",
                    &[
                        ("method", "user.getRecentTracks".into()),
                        ("user", user.into()),
                        ("limit", limit.to_string()),
                        ("page", page.to_string()),
                    ],
                    Subject::User(user),
                )
                .await?;
            let recent = reply.recenttracks;
            out.total = recent.attr.total;
            let mut dated = 0;
            for t in recent.track {
                let Some(date) = t.date else { continue };
                dated += 1;
                let (artist, track) = (t.artist.0, t.name);
                if artist.trim().is_empty() || track.trim().is_empty() {
                    continue;
                }
                let Some(played_at) = DateTime::<Utc>::from_timestamp(date.uts as i64, 0) else {
                    continue;
                };
                if !seen.insert((date.uts, artist.clone(), track.clone())) {
                    continue;
                }
                out.plays.push(Play {
                    played_at,
                    track,
                    artist,
                    album: Some(t.album.0).filter(|a| !a.trim().is_empty()),
                    ms_played: None,
                });
            }
            if dated == 0 || page >= recent.attr.total_pages {
                break;
            }
            page += 1;
        }
        out.plays.truncate(max);
        Ok(out)
    }

    /// `artist`'s top tags with their weights (the top one 100), as Last.fm
    /// listeners gave them; an artist Last.fm does not know is `NotFound`.
    pub async fn artist_tags(&self, artist: &str) -> Result<Vec<(String, u64)>> {
        let reply: wire::TopTagsReply = self
            .get(
                "artist.getTopTags",
                &[
                    ("method", "artist.getTopTags".into()),
                    ("artist", artist.into()),
                    ("autocorrect", "1".into()),
                ],
                Subject::Artist(artist),
            )
            .await?;
        Ok(reply
            .toptags
            .tag
            .into_iter()
            .map(|t| (t.name, t.count))
            .collect())
    }

    /// One GET of `params` plus the key and `format=json`, retried on
    /// Last.fm's "try again" errors when they come without a 5xx (a 5xx was
    /// retried by the transport already), parsed as `T`.
    async fn get<T: DeserializeOwned>(
        &self,
        what: &str,
        params: &[(&str, String)],
        subject: Subject<'_>,
    ) -> Result<T> {
        self.call(what, params, subject, false).await
    }

    /// [`Lastfm::get`], signed with `api_sig` when `signed` (the shared
    /// secret must be set).
    async fn call<T: DeserializeOwned>(
        &self,
        what: &str,
        params: &[(&str, String)],
        subject: Subject<'_>,
        signed: bool,
    ) -> Result<T> {
        let config = &*self.config;
        let mut query: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        query.push(("api_key", config.api_key.expose_secret()));
        let signature = match (&config.shared_secret, signed) {
            (Some(secret), true) => Some(api_signature(&query, secret.expose_secret())),
            (None, true) => return Err(Error::internal("a signed Last.fm call without a secret")),
            (_, false) => None,
        };
        if let Some(sig) = &signature {
            query.push(("api_sig", sig));
        }
        query.push(("format", "json"));
        let query = &query;
        let build = || {
            self.upstream
                .client()
                .get(config.api_url.clone())
                .query(query)
        };
        let mut retries = 0u32;
        loop {
            let reply = self
                .upstream
                .send_capped(what, config.max_body, &build)
                .await
                .map_err(|e| self.scrub(e))?;
            let Some(err) = error_body(&reply) else {
                if reply.status.is_success() {
                    return parse_json(&reply, self.upstream.policy(), what);
                }
                return Err(Error::Upstream {
                    service: SERVICE.into(),
                    status: Some(reply.status.as_u16()),
                    message: format!(
                        "{what}: {}",
                        reply.status.canonical_reason().unwrap_or("no message")
                    ),
                });
            };
            if RETRYABLE.contains(&err.error)
                && !reply.status.is_server_error()
                && retries < config.max_retries
            {
                retries += 1;
                let pause = config
                    .backoff
                    .saturating_mul(1 << (retries - 1).min(10))
                    .min(Duration::from_secs(10));
                tracing::warn!(
                    service = SERVICE,
                    call = what,
                    error = err.error,
                    retry_in_ms = pause.as_millis() as u64,
                    "Last.fm temporarily unavailable; retrying"
                );
                tokio::time::sleep(pause).await;
                continue;
            }
            let e = self.map_error(&err, &reply, what, subject);
            tracing::debug!(
                service = SERVICE,
                call = what,
                error = err.error,
                code = e.code(),
                "Last.fm error"
            );
            return Err(e);
        }
    }

    /// Last.fm's error as the core error, never with the key.
    fn map_error(
        &self,
        err: &wire::ErrorBody,
        reply: &Reply,
        what: &str,
        subject: Subject<'_>,
    ) -> Error {
        let message = self.scrub_text(&err.message);
        let code = err.error;
        let status = Some(reply.status.as_u16());
        match (code, subject) {
            (6, Subject::User(user)) => Error::not_found(format!("Last.fm user {user}")),
            (6, Subject::Artist(artist)) => Error::not_found(format!("Last.fm artist {artist}")),
            (17, Subject::User(user)) => Error::Forbidden {
                message: format!(
                    "Last.fm user {user} keeps their listening private ({what} answered \
                     \"{message}\"); it can be read once they turn off \"Hide recent \
                     listening information\" in Last.fm's privacy settings"
                ),
            },
            (INVALID_TOKEN, Subject::Token) => Error::unauthorized(
                "Last.fm did not accept the authentication token: it is not one Last.fm gave \
                 out; start the Last.fm sign-in again",
            ),
            (UNAUTHORIZED_TOKEN, Subject::Token) => Error::unauthorized(
                "Last.fm says the user has not approved this app (the token was not \
                 authorised); they must press \"Yes, allow access\" on Last.fm's page",
            ),
            (EXPIRED_TOKEN, Subject::Token) => Error::unauthorized(
                "the Last.fm authentication token has expired or was already used (each works \
                 once, within an hour); start the Last.fm sign-in again",
            ),
            (INVALID_SIGNATURE, _) => Error::Upstream {
                service: SERVICE.into(),
                status,
                message: format!(
                    "Last.fm refused the shared secret ({what}: error {code}, invalid method \
                     signature); check {SECRET_VARS}: it must be the secret of the app whose \
                     API key is LASTFM_API_KEY"
                ),
            },
            (10 | 26, _) => Error::Upstream {
                service: SERVICE.into(),
                status,
                message: format!(
                    "Last.fm refused the API key ({what}: error {code}, {message}); \
                     check LASTFM_API_KEY"
                ),
            },
            (RATE_LIMITED, _) => Error::UpstreamBusy {
                service: SERVICE.into(),
                retry_after: retry_after(&reply.headers),
                message: format!("Last.fm is rate limiting this app ({what})"),
            },
            (c, _) if RETRYABLE.contains(&c) => Error::Upstream {
                service: SERVICE.into(),
                status,
                message: format!(
                    "{what}: Last.fm is temporarily unavailable (error {c}, {message})"
                ),
            },
            (c, _) => Error::Upstream {
                service: SERVICE.into(),
                status,
                message: format!("{what}: Last.fm error {c}, {message}"),
            },
        }
    }

    /// `text` with the key and the shared secret cut out, should a service
    /// or a library ever echo the URL it was sent to.
    fn scrub_text(&self, text: &str) -> String {
        let mut text = text.to_string();
        let key = self.config.api_key.expose_secret();
        if !key.is_empty() {
            text = text.replace(key, "[api key]");
        }
        if let Some(secret) = &self.config.shared_secret {
            let secret = secret.expose_secret();
            if !secret.is_empty() {
                text = text.replace(secret, "[shared secret]");
            }
        }
        text
    }

    /// An error with the key cut out of its message (see `scrub_text`).
    fn scrub(&self, e: Error) -> Error {
        scrub_with(e, &|m| self.scrub_text(m))
    }
}

/// `e` with `scrub` applied to its message (the variants a transport or
/// Last.fm's answer can fill).
fn scrub_with(e: Error, scrub: &dyn Fn(&str) -> String) -> Error {
    match e {
        Error::Upstream {
            service,
            status,
            message,
        } => Error::Upstream {
            service,
            status,
            message: scrub(&message),
        },
        Error::UpstreamBusy {
            service,
            retry_after,
            message,
        } => Error::UpstreamBusy {
            service,
            retry_after,
            message: scrub(&message),
        },
        Error::Internal { message } => Error::Internal {
            message: scrub(&message),
        },
        Error::Unauthorized { message } => Error::Unauthorized {
            message: scrub(&message),
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use reqwest::StatusCode;
    use reqwest::header::HeaderMap;

    use super::*;

    fn reply(status: u16, body: &str) -> Reply {
        Reply {
            status: StatusCode::from_u16(status).unwrap(),
            headers: HeaderMap::new(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn rate_limits_are_429_or_error_29() {
        let limited = r#"{"error":29,"message":"Rate Limit Exceded"}"#;
        assert_eq!(rate_limit_rule(&reply(200, limited)), Some(None));
        assert_eq!(rate_limit_rule(&reply(429, limited)), Some(None));
        assert_eq!(rate_limit_rule(&reply(429, "")), Some(None));
        let mut with_hint = reply(429, "");
        with_hint
            .headers
            .insert("retry-after", "3".parse().unwrap());
        assert_eq!(
            rate_limit_rule(&with_hint),
            Some(Some(Duration::from_secs(3)))
        );
        assert_eq!(rate_limit_rule(&reply(200, r#"{"error":16}"#)), None);
        assert_eq!(rate_limit_rule(&reply(200, r#"{"topartists":{}}"#)), None);
    }

    #[test]
    fn usernames() {
        assert_eq!(validate_username(" rj ").unwrap(), "rj");
        assert!(validate_username("a").is_err());
        assert!(validate_username("has space").is_err());
        assert!(validate_username("bell\u{7}").is_err());
        assert!(validate_username(&"x".repeat(65)).is_err());
        assert!(validate_username(&"x".repeat(64)).is_ok());
    }

    #[test]
    fn signatures_are_md5_of_sorted_pairs_and_the_secret() {
        // md5("api_keyKEYmethodauth.getSessiontokenTOKSECRET"), computed
        // with Python's hashlib: format and callback are not signed.
        let sig = api_signature(
            &[
                ("method", "auth.getSession"),
                ("token", "TOK"),
                ("api_key", "KEY"),
                ("format", "json"),
                ("callback", "cb"),
            ],
            "SECRET",
        );
        assert_eq!(sig, "0bf279e021f3a81b4553dd7e76cf72ad");
    }

    #[test]
    fn tokens_are_checked_without_being_shown() {
        assert_eq!(check_token(" 0a1b2c3d\n").unwrap(), "0a1b2c3d");
        for bad in ["", " ", "secret part", "sécret", &"s".repeat(129)] {
            let e = check_token(bad).unwrap_err();
            assert_eq!(e.code(), "invalid_input");
            assert!(!e.to_string().contains("secr"), "{e}");
        }
    }

    #[test]
    fn periods() {
        assert_eq!(period(TimeRange::ShortTerm), "1month");
        assert_eq!(period(TimeRange::MediumTerm), "6month");
        assert_eq!(period(TimeRange::LongTerm), "overall");
    }
}
