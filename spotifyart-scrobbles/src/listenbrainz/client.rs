//! The calls SpotifyArt makes to ListenBrainz, through the shared resilient
//! client with ListenBrainz's rate-limit contract, and the mapping of its
//! answers to the core errors.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use secrecy::ExposeSecret;
use spotifyart_core::profile::{ArtistStat, TrackStat};
use spotifyart_core::source::Play;
use spotifyart_core::{Error, Result, TimeRange};
use spotifyart_upstream::{Policy, Reply, Upstream, parse_json, retry_after};
use url::Url;

use super::config::{ListenBrainzConfig, MAX_ITEMS_PER_GET};
use super::wire;

/// Name in errors and logs.
pub(crate) const SERVICE: &str = "listenbrainz";

/// The most bytes one answer may have: a page of 1000 listens with rich
/// `additional_info` is a few MB.
const MAX_BODY: usize = 16 << 20;

/// The longest name ListenBrainz (MusicBrainz) accounts have, with room.
const MAX_USERNAME_CHARS: usize = 64;

/// The longest user token accepted for checking: ListenBrainz's are UUIDs
/// (36 characters); anything this long is not one.
const MAX_TOKEN_CHARS: usize = 256;

/// Where a user finds (or resets) their token, for error messages.
const SETTINGS_URL: &str = "https://listenbrainz.org/settings/";

/// ListenBrainz's rate limit: 429 with `X-RateLimit-Reset-In` (seconds
/// until the window resets), falling back to `Retry-After`. A reset of 0
/// still waits a second, so a busy server is never hammered in a loop.
pub fn rate_limit_rule(reply: &Reply) -> Option<Option<Duration>> {
    if reply.status != StatusCode::TOO_MANY_REQUESTS {
        return None;
    }
    let reset_in = reply
        .headers
        .get("x-ratelimit-reset-in")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| Duration::from_secs_f64(s.ceil().max(1.0)));
    Some(reset_in.or_else(|| retry_after(&reply.headers)))
}

/// The ListenBrainz statistics range read for each of SpotifyArt's ranges:
/// about a month, half a year, and everything (as exports do). ListenBrainz
/// counts `month` over the last whole calendar month, not the last 30 days
/// (`this_month` would be nearly empty early in a month); the newest plays
/// reach the profile through the listens instead.
pub fn stats_range(range: TimeRange) -> &'static str {
    match range {
        TimeRange::ShortTerm => "month",
        TimeRange::MediumTerm => "half_yearly",
        TimeRange::LongTerm => "all_time",
    }
}

/// Checks a ListenBrainz username before it goes into a URL path:
/// non-empty, at most 64 characters, no `/`, `?`, `#` or control
/// characters. (It is percent-encoded as one path segment anyway; this
/// catches mistakes early with a clear message.)
pub fn validate_username(user: &str) -> Result<()> {
    let problem = if user.trim().is_empty() {
        Some("is empty")
    } else if user.chars().count() > MAX_USERNAME_CHARS {
        Some("is longer than 64 characters")
    } else if user.trim() != user {
        Some("starts or ends with spaces")
    } else if user
        .chars()
        .any(|c| matches!(c, '/' | '?' | '#' | '\\') || c.is_control())
    {
        Some("contains /, ?, #, \\ or a control character")
    } else {
        None
    };
    match problem {
        Some(p) => Err(Error::invalid(format!(
            "ListenBrainz username {user:?} {p}"
        ))),
        None => Ok(()),
    }
}

/// Checks a user token before it is sent: trimmed, non-empty, at most 256
/// characters, one word of visible ASCII (it goes into a header). Errors
/// never show it.
fn check_token(token: &str) -> Result<&str> {
    let token = token.trim();
    let problem = if token.is_empty() {
        Some("is empty")
    } else if token.chars().count() > MAX_TOKEN_CHARS {
        Some("is too long to be one (ListenBrainz tokens are 36 characters)")
    } else if !token.chars().all(|c| c.is_ascii_graphic()) {
        Some("contains spaces, control or non-ASCII characters")
    } else {
        None
    };
    match problem {
        Some(p) => Err(Error::invalid(format!(
            "the ListenBrainz user token {p}; copy it from {SETTINGS_URL}"
        ))),
        None => Ok(token),
    }
}

/// `text` with `secret` cut out, should a server have echoed it.
fn scrub(text: &str, secret: &str) -> String {
    if secret.is_empty() {
        text.to_string()
    } else {
        text.replace(secret, "[token]")
    }
}

/// A ListenBrainz API client; cheap to clone (one connection pool).
#[derive(Clone, Debug)]
pub struct ListenBrainz {
    upstream: Upstream,
    config: Arc<ListenBrainzConfig>,
    /// `Token …`, marked sensitive so no `Debug` of a request shows it.
    authorization: Option<HeaderValue>,
}

impl ListenBrainz {
    /// A client with `config` (checked first; see
    /// [`ListenBrainzConfig::validate`]).
    pub fn new(config: ListenBrainzConfig) -> Result<Self> {
        config.validate()?;
        let upstream = Upstream::new(Policy {
            service: SERVICE,
            display: "ListenBrainz",
            request_timeout: config.request_timeout,
            max_retries: config.max_retries,
            backoff: config.backoff,
            max_rate_limit_wait: config.max_rate_limit_wait,
            rate_limit: rate_limit_rule,
        })?;
        let authorization = match &config.token {
            Some(t) => {
                let mut v = HeaderValue::from_str(&format!("Token {}", t.expose_secret()))
                    .map_err(|_| {
                        Error::invalid("LISTENBRAINZ_TOKEN is not a valid header value")
                    })?;
                v.set_sensitive(true);
                Some(v)
            }
            None => None,
        };
        Ok(Self {
            upstream,
            config: Arc::new(config),
            authorization,
        })
    }

    /// The settings this client uses.
    pub fn config(&self) -> &ListenBrainzConfig {
        &self.config
    }

    /// Whose user token `token` is: ListenBrainz's `GET /1/validate-token`
    /// with `Authorization: Token …`, answering the user's name as
    /// ListenBrainz spells it. Someone who can give a user's token proves
    /// they are that user (the token is on their settings page, behind
    /// their sign-in).
    ///
    /// `InvalidInput` for an empty, spaced or over-long token (before any
    /// request); `Unauthorized` when ListenBrainz does not know the token;
    /// `UpstreamBusy` and `Upstream` as for every other call. The token is
    /// sent to the API's origin only, and is in no error or log line. This
    /// client's own token (`config.token`) is not sent.
    pub async fn validate_token(&self, token: &str) -> Result<String> {
        let token = check_token(token)?;
        let what = "token check";
        let mut authorization = HeaderValue::from_str(&format!("Token {token}")).map_err(|_| {
            Error::invalid("the ListenBrainz user token is not a valid header value")
        })?;
        authorization.set_sensitive(true);
        let url = self.config.endpoint(&["1", "validate-token"]);
        let client = self.upstream.client();
        let build = || {
            client
                .get(url.clone())
                .header(AUTHORIZATION, authorization.clone())
        };
        let reply = self
            .upstream
            .send_capped(what, MAX_BODY, &build)
            .await
            .map_err(|e| scrub_error(e, token))?;
        if reply.status != StatusCode::OK {
            return Err(self.token_check_error(&reply, token));
        }
        let body: wire::ValidateToken =
            parse_json(&reply, self.upstream.policy(), what).map_err(|e| scrub_error(e, token))?;
        match body.user_name.as_deref().map(str::trim) {
            Some(name) if body.valid && !name.is_empty() => {
                tracing::info!(
                    service = SERVICE,
                    user = name,
                    "listenbrainz token names a user"
                );
                Ok(name.to_string())
            }
            _ if body.valid => Err(Error::Upstream {
                service: SERVICE.into(),
                status: Some(200),
                message: format!("{what}: ListenBrainz called the token valid but named no user"),
            }),
            _ => {
                tracing::info!(service = SERVICE, "listenbrainz token not accepted");
                Err(Error::unauthorized(format!(
                    "ListenBrainz did not accept the user token: it belongs to no user (copy \
                     it again from {SETTINGS_URL}; resetting it there makes the old one invalid)"
                )))
            }
        }
    }

    /// The core error for a token check that did not answer 200, never
    /// with the token.
    fn token_check_error(&self, reply: &Reply, token: &str) -> Error {
        let message = serde_json::from_slice::<wire::ApiError>(&reply.body)
            .ok()
            .map(|b| b.error.trim().to_string())
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| {
                reply
                    .status
                    .canonical_reason()
                    .unwrap_or("no message")
                    .to_string()
            });
        let message = self.redact(scrub(&message, token));
        match reply.status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Error::unauthorized(format!(
                "ListenBrainz did not accept the user token ({message}); copy it again from \
                 {SETTINGS_URL}"
            )),
            StatusCode::BAD_REQUEST => {
                Error::invalid(format!("ListenBrainz refused the token check: {message}"))
            }
            StatusCode::NOT_FOUND => Error::Upstream {
                service: SERVICE.into(),
                status: Some(404),
                message: format!(
                    "token check: no such endpoint at {} (is LISTENBRAINZ_API_URL the API's root?)",
                    self.config.api_url
                ),
            },
            status => Error::Upstream {
                service: SERVICE.into(),
                status: Some(status.as_u16()),
                message: format!("token check: {message}"),
            },
        }
    }

    /// Up to `config.max_listens` of `user`'s listens, newest first, read
    /// backwards by `max_ts` a page at a time.
    pub async fn listens(&self, user: &str) -> Result<Vec<Play>> {
        validate_username(user)?;
        let max = self.config.max_listens;
        let page = self.config.page_size.clamp(1, MAX_ITEMS_PER_GET);
        let mut plays = Vec::new();
        let mut max_ts: Option<i64> = None;
        while plays.len() < max {
            let count = page.min(max - plays.len());
            let mut url = self.config.endpoint(&["1", "user", user, "listens"]);
            url.query_pairs_mut()
                .append_pair("count", &count.to_string());
            if let Some(ts) = max_ts {
                url.query_pairs_mut().append_pair("max_ts", &ts.to_string());
            }
            let reply = self.get("listens", user, url).await?;
            let body: wire::ListensBody = self.parse(&reply, "listens")?;
            let listens = body.payload.listens;
            let received = listens.len();
            let oldest = listens.iter().filter_map(|l| l.listened_at).min();
            plays.extend(listens.into_iter().filter_map(play).take(count));
            // A short page is the end of the history; a page that does not
            // go further back would repeat forever.
            match oldest {
                Some(ts) if received >= count && max_ts.is_none_or(|m| ts < m) => max_ts = Some(ts),
                _ => break,
            }
        }
        plays.truncate(max);
        Ok(plays)
    }

    /// `user`'s top artists in `range` by ListenBrainz's statistics (at
    /// most `config.top_n`), with the span they cover; `None` while
    /// ListenBrainz has not calculated them (HTTP 204).
    pub async fn top_artists(
        &self,
        user: &str,
        range: TimeRange,
    ) -> Result<Option<(Vec<ArtistStat>, Option<StatsSpan>)>> {
        let what = format!("top artists ({})", stats_range(range));
        let Some(reply) = self.stats(user, "artists", range, &what).await? else {
            return Ok(None);
        };
        let body: wire::ArtistsBody = self.parse(&reply, &what)?;
        let span = match (body.payload.from_ts, body.payload.to_ts) {
            (Some(from), Some(to)) => time(from).zip(time(to)),
            _ => None,
        };
        let entries: Vec<(String, u64)> = body
            .payload
            .artists
            .into_iter()
            .filter_map(|a| Some((named(a.artist_name)?, a.listen_count)))
            .collect();
        let total: u64 = entries.iter().map(|(_, n)| n).sum();
        let artists = entries
            .into_iter()
            .enumerate()
            .map(|(i, (name, plays))| ArtistStat {
                name,
                rank: i as u32 + 1,
                weight: share(plays, total),
                plays: Some(plays.min(u32::MAX as u64) as u32),
                ..ArtistStat::default()
            })
            .collect();
        Ok(Some((artists, span)))
    }

    /// `user`'s top recordings in `range` by ListenBrainz's statistics (at
    /// most `config.top_n`); `None` while not calculated (HTTP 204).
    pub async fn top_recordings(
        &self,
        user: &str,
        range: TimeRange,
    ) -> Result<Option<Vec<TrackStat>>> {
        let what = format!("top recordings ({})", stats_range(range));
        let Some(reply) = self.stats(user, "recordings", range, &what).await? else {
            return Ok(None);
        };
        let body: wire::RecordingsBody = self.parse(&reply, &what)?;
        let entries: Vec<_> = body
            .payload
            .recordings
            .into_iter()
            .filter_map(|r| {
                Some((
                    named(r.track_name)?,
                    named(r.artist_name)?,
                    named(r.release_name),
                    r.listen_count,
                ))
            })
            .collect();
        let total: u64 = entries.iter().map(|e| e.3).sum();
        Ok(Some(
            entries
                .into_iter()
                .enumerate()
                .map(|(i, (name, artist, album, plays))| TrackStat {
                    name,
                    artists: vec![artist],
                    album,
                    rank: i as u32 + 1,
                    weight: share(plays, total),
                    plays: Some(plays.min(u32::MAX as u64) as u32),
                    ..TrackStat::default()
                })
                .collect(),
        ))
    }

    async fn stats(
        &self,
        user: &str,
        entity: &str,
        range: TimeRange,
        what: &str,
    ) -> Result<Option<Reply>> {
        validate_username(user)?;
        let mut url = self.config.endpoint(&["1", "stats", "user", user, entity]);
        url.query_pairs_mut()
            .append_pair("range", stats_range(range))
            .append_pair(
                "count",
                &self.config.top_n.clamp(1, MAX_ITEMS_PER_GET).to_string(),
            );
        let reply = self.get(what, user, url).await?;
        Ok((reply.status != StatusCode::NO_CONTENT).then_some(reply))
    }

    /// One GET, with the token when there is one and `url` is on the API's
    /// origin; any answer but 200 and 204 becomes the core error.
    async fn get(&self, what: &str, user: &str, url: Url) -> Result<Reply> {
        let authorization = self
            .authorization
            .as_ref()
            .filter(|_| url.origin() == self.config.api_url.origin());
        let client = self.upstream.client();
        let build = || {
            let request = client.get(url.clone());
            match authorization {
                Some(v) => request.header(AUTHORIZATION, v.clone()),
                None => request,
            }
        };
        let reply = self.upstream.send_capped(what, MAX_BODY, &build).await?;
        if matches!(reply.status, StatusCode::OK | StatusCode::NO_CONTENT) {
            Ok(reply)
        } else {
            Err(self.error(&reply, what, user, authorization.is_some()))
        }
    }

    fn parse<T: serde::de::DeserializeOwned>(&self, reply: &Reply, what: &str) -> Result<T> {
        parse_json(reply, self.upstream.policy(), what).map_err(|e| self.redact_error(e))
    }

    /// The core error for a refusal, with ListenBrainz's message (never the
    /// token, even if a server echoed it).
    fn error(&self, reply: &Reply, what: &str, user: &str, sent_token: bool) -> Error {
        let body = serde_json::from_slice::<wire::ApiError>(&reply.body).ok();
        let message = self.redact(
            body.as_ref()
                .map(|b| b.error.trim().to_string())
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| {
                    reply
                        .status
                        .canonical_reason()
                        .unwrap_or("no message")
                        .to_string()
                }),
        );
        match reply.status {
            // ListenBrainz's own 404 names the user; anything else (an
            // HTML page) means the URL is not ListenBrainz's API.
            StatusCode::NOT_FOUND if body.is_some() => {
                Error::not_found(format!("ListenBrainz user {user}"))
            }
            StatusCode::NOT_FOUND => Error::Upstream {
                service: SERVICE.into(),
                status: Some(404),
                message: format!(
                    "{what}: no such endpoint at {} (is LISTENBRAINZ_API_URL the API's root?)",
                    self.config.api_url
                ),
            },
            StatusCode::UNAUTHORIZED if sent_token => Error::unauthorized(format!(
                "ListenBrainz refused the user token (LISTENBRAINZ_TOKEN) when reading {what}: \
                 {message}; check or reset it at https://listenbrainz.org/settings/"
            )),
            StatusCode::UNAUTHORIZED => Error::unauthorized(format!(
                "ListenBrainz asks for a user token to read {user}'s {what} (the listening is \
                 not public): {message}; set LISTENBRAINZ_TOKEN"
            )),
            StatusCode::FORBIDDEN => Error::Forbidden {
                message: format!(
                    "ListenBrainz does not let this app read {user}'s {what}: the profile is \
                     private or hidden ({message})"
                ),
            },
            StatusCode::BAD_REQUEST => {
                Error::invalid(format!("ListenBrainz refused {what}: {message}"))
            }
            status => Error::Upstream {
                service: SERVICE.into(),
                status: Some(status.as_u16()),
                message: format!("{what}: {message}"),
            },
        }
    }

    /// `text` with the token, should a server have echoed it, replaced.
    fn redact(&self, text: String) -> String {
        match &self.config.token {
            Some(t) if !t.expose_secret().is_empty() && text.contains(t.expose_secret()) => {
                text.replace(t.expose_secret(), "[token]")
            }
            _ => text,
        }
    }

    fn redact_error(&self, e: Error) -> Error {
        match e {
            Error::Upstream {
                service,
                status,
                message,
            } => Error::Upstream {
                service,
                status,
                message: self.redact(message),
            },
            other => other,
        }
    }
}

/// `e` with `token` cut out of its message.
fn scrub_error(e: Error, token: &str) -> Error {
    match e {
        Error::Upstream {
            service,
            status,
            message,
        } => Error::Upstream {
            service,
            status,
            message: scrub(&message, token),
        },
        Error::UpstreamBusy {
            service,
            retry_after,
            message,
        } => Error::UpstreamBusy {
            service,
            retry_after,
            message: scrub(&message, token),
        },
        Error::Internal { message } => Error::Internal {
            message: scrub(&message, token),
        },
        other => other,
    }
}

/// When a statistics range starts and ends.
pub type StatsSpan = (DateTime<Utc>, DateTime<Utc>);

fn time(ts: i64) -> Option<DateTime<Utc>> {
    DateTime::<Utc>::from_timestamp(ts, 0)
}

fn named(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

fn share(part: u64, total: u64) -> f32 {
    if total == 0 {
        0.0
    } else {
        (part as f64 / total as f64) as f32
    }
}

/// A listen as a play; `None` for one without a time or names.
fn play(l: wire::Listen) -> Option<Play> {
    let ms_played = l.track_metadata.duration_ms();
    let m = l.track_metadata;
    Some(Play {
        played_at: time(l.listened_at?)?,
        track: named(m.track_name)?,
        artist: named(m.artist_name)?,
        album: named(m.release_name),
        ms_played,
    })
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderMap;

    use super::*;

    fn reply(status: u16, headers: &[(&str, &str)]) -> Reply {
        let mut h = HeaderMap::new();
        for (k, v) in headers {
            h.insert(
                reqwest::header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        Reply {
            status: StatusCode::from_u16(status).unwrap(),
            headers: h,
            body: Vec::new(),
        }
    }

    #[test]
    fn rate_limits_wait_for_the_reset() {
        assert_eq!(rate_limit_rule(&reply(200, &[])), None);
        assert_eq!(
            rate_limit_rule(&reply(429, &[("X-RateLimit-Reset-In", "7")])),
            Some(Some(Duration::from_secs(7)))
        );
        assert_eq!(
            rate_limit_rule(&reply(429, &[("X-RateLimit-Reset-In", "0")])),
            Some(Some(Duration::from_secs(1))),
            "0 still waits a second"
        );
        assert_eq!(
            rate_limit_rule(&reply(429, &[("Retry-After", "3")])),
            Some(Some(Duration::from_secs(3)))
        );
        assert_eq!(rate_limit_rule(&reply(429, &[])), Some(None));
    }

    #[test]
    fn usernames_are_checked() {
        for ok in ["rob", "Ünïcode name", "a.b-c_d"] {
            validate_username(ok).unwrap();
        }
        for bad in ["", " ", "a/b", "a?b", "a#b", "a\nb", &"x".repeat(65)] {
            let e = validate_username(bad).unwrap_err();
            assert_eq!(e.code(), "invalid_input", "{bad:?}: {e}");
        }
    }

    #[test]
    fn tokens_are_checked_without_being_shown() {
        assert_eq!(
            check_token(" 2c6f0a3e-1b7d-4e8a-9f10-5d2b8c4a7e61\n").unwrap(),
            "2c6f0a3e-1b7d-4e8a-9f10-5d2b8c4a7e61"
        );
        for bad in [
            "",
            "  ",
            "secret part",
            "secr\u{7}et",
            "sécret",
            &"s".repeat(257),
        ] {
            let e = check_token(bad).unwrap_err();
            assert_eq!(e.code(), "invalid_input", "{bad:?}: {e}");
            let shown = e.to_string();
            assert!(!shown.contains("secr") && !shown.contains("sss"), "{shown}");
        }
    }

    #[test]
    fn ranges_map_to_listenbrainz_names() {
        let names: Vec<_> = TimeRange::ALL.into_iter().map(stats_range).collect();
        assert_eq!(names, ["month", "half_yearly", "all_time"]);
    }
}
