//! The calls to Last.fm, through the shared resilient client with Last.fm's
//! contract: every method is a GET on one URL with the API key in the
//! query string, errors are `{"error": N, "message": …}` bodies (often with
//! HTTP 200), and a rate limit is error 29, with HTTP 200 or 429 and no
//! `Retry-After`.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;
use serde::de::DeserializeOwned;
use spotifyart_core::profile::{ArtistStat, TrackStat};
use spotifyart_core::source::Play;
use spotifyart_core::{Error, Result, TimeRange};
use spotifyart_upstream::{Policy, Reply, Upstream, parse_json, retry_after};

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

    /// `user`'s top artists in `range`, most played first (up to `limit`,
    /// at most 1000), with their play counts as `plays` and, until the
    /// profile is normalised, as `weight`.
    pub async fn top_artists(
        &self,
        user: &str,
        range: TimeRange,
        limit: usize,
    ) -> Result<Vec<ArtistStat>> {
        let user = validate_username(user)?;
        let reply: wire::TopArtistsReply = self
            .get(
                "user.getTopArtists",
                &[
                    ("method", "user.getTopArtists".into()),
                    ("user", user.into()),
                    ("period", period(range).into()),
                    ("limit", limit.clamp(1, MAX_TOP_PAGE).to_string()),
                    ("page", "1".into()),
                ],
                Subject::User(user),
            )
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
        let user = validate_username(user)?;
        let reply: wire::TopTracksReply = self
            .get(
                "user.getTopTracks",
                &[
                    ("method", "user.getTopTracks".into()),
                    ("user", user.into()),
                    ("period", period(range).into()),
                    ("limit", limit.clamp(1, MAX_TOP_PAGE).to_string()),
                    ("page", "1".into()),
                ],
                Subject::User(user),
            )
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
        let config = &*self.config;
        let build = || {
            self.upstream
                .client()
                .get(config.api_url.clone())
                .query(params)
                .query(&[
                    ("api_key", config.api_key.expose_secret()),
                    ("format", "json"),
                ])
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
            (10 | 26, _) => Error::Upstream {
                service: SERVICE.into(),
                status,
                message: format!(
                    "Last.fm refused the API key ({what}: error {code}, {message}); \
                     check LASTFM_API_KEY"
                ),
            },
            (RATE_LIMITED, _) => Error::RateLimited {
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

    /// `text` with the key cut out, should a service or a library ever echo
    /// the URL it was sent to.
    fn scrub_text(&self, text: &str) -> String {
        let key = self.config.api_key.expose_secret();
        if key.is_empty() {
            text.to_string()
        } else {
            text.replace(key, "[api key]")
        }
    }

    /// An error with the key cut out of its message (see `scrub_text`).
    fn scrub(&self, e: Error) -> Error {
        match e {
            Error::Upstream {
                service,
                status,
                message,
            } => Error::Upstream {
                service,
                status,
                message: self.scrub_text(&message),
            },
            Error::RateLimited {
                retry_after,
                message,
            } => Error::RateLimited {
                retry_after,
                message: self.scrub_text(&message),
            },
            Error::Internal { message } => Error::Internal {
                message: self.scrub_text(&message),
            },
            other => other,
        }
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
    fn periods() {
        assert_eq!(period(TimeRange::ShortTerm), "1month");
        assert_eq!(period(TimeRange::MediumTerm), "6month");
        assert_eq!(period(TimeRange::LongTerm), "overall");
    }
}
