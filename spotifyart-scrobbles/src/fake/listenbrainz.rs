//! A local fake ListenBrainz (feature `fake`) serving the routes SpotifyArt
//! reads, with the real API's shapes and rules:
//!
//! - `GET /1/user/{user}/listens?count&max_ts&min_ts`: newest first,
//!   `max_ts`/`min_ts` exclusive, `count` 25 by default and served as at
//!   most 1000 (`MAX_ITEMS_PER_GET`), 400 for a non-number or for
//!   `min_ts >= max_ts`;
//! - `GET /1/stats/user/{user}/{artists,recordings}?range&count&offset`:
//!   counted from the listens in a window ending now (week 7 days, month
//!   30, quarter 91, half_yearly 182, year 365, all_time everything; the
//!   `this_*` ranges like their namesakes) or set explicitly, 204 while
//!   "not calculated", 400 for an unknown range;
//! - `GET /1/validate-token` with `Authorization: Token T` (or, as the
//!   real one still accepts, `?token=T`): 200 `{"valid": true,
//!   "user_name": …}` for a token made by [`FakeListenBrainz::issue_token`],
//!   200 `{"valid": false}` for any other, 400 without a token; it is
//!   answered whatever [`FakeListenBrainz::require_token`] asks of the
//!   other routes;
//! - 404 `{"code": 404, "error": "Cannot find user: X"}` for unknown users
//!   (names match case-insensitively, as ListenBrainz's do);
//! - `X-RateLimit-Limit`, `-Remaining` and `-Reset-In` on every answer,
//!   and 429 once a window set with [`FakeListenBrainz::rate_limit`] is
//!   spent.
//!
//! Tests turn knobs for private profiles (403), a required token (401),
//! injected statuses and malformed bodies; every request is recorded
//! (without header values).

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use url::Url;
use warp::Filter;
use warp::http::{HeaderMap, Method, Response, StatusCode};

type Reply = Response<Vec<u8>>;

/// ListenBrainz's `DEFAULT_ITEMS_PER_GET`.
const DEFAULT_ITEMS: usize = 25;
/// ListenBrainz's `MAX_ITEMS_PER_GET`.
const MAX_ITEMS: usize = 1000;
/// What the headers say when no window is set.
const DEFAULT_LIMIT: u32 = 30;

/// A request the fake received (header values are not kept).
#[derive(Clone, Debug)]
pub struct Recorded {
    /// Method.
    pub method: Method,
    /// Path, as sent (percent-encoded).
    pub path: String,
    /// Query string, as sent.
    pub query: String,
    /// Whether it carried an `Authorization` header.
    pub authorization: bool,
}

/// Which statistics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Entity {
    /// `/artists`.
    Artists,
    /// `/recordings`.
    Recordings,
}

#[derive(Clone, Debug)]
struct Listen {
    ts: i64,
    artist: String,
    track: String,
    release: Option<String>,
}

#[derive(Debug, Default)]
struct User {
    name: String,
    /// Newest first.
    listens: Vec<Listen>,
    stats_pending: bool,
    private: bool,
    /// Statistics set by hand, by entity and range: JSON entries.
    explicit: HashMap<(Entity, String), Vec<Value>>,
}

#[derive(Debug)]
enum Fault {
    Status(u16),
    Malformed,
}

#[derive(Debug)]
struct Window {
    remaining: u32,
    reset_in: Duration,
    /// Set at the first refusal; the window ends `reset_in` after it.
    exhausted_at: Option<Instant>,
}

#[derive(Debug, Default)]
struct State {
    users: Vec<User>,
    token: Option<String>,
    /// User tokens issued, each to a user (lowercased name).
    issued: HashMap<String, String>,
    faults: VecDeque<(String, Fault)>,
    window: Option<Window>,
    requests: Vec<Recorded>,
}

impl State {
    fn user(&self, name: &str) -> Option<&User> {
        self.users
            .iter()
            .find(|u| u.name.to_lowercase() == name.to_lowercase())
    }

    fn user_mut(&mut self, name: &str) -> &mut User {
        let i = self
            .users
            .iter()
            .position(|u| u.name.to_lowercase() == name.to_lowercase())
            .unwrap_or_else(|| {
                self.users.push(User {
                    name: name.to_string(),
                    ..User::default()
                });
                self.users.len() - 1
            });
        &mut self.users[i]
    }
}

/// A running fake ListenBrainz on 127.0.0.1; stops when dropped.
#[derive(Debug)]
pub struct FakeListenBrainz {
    base: Url,
    state: Arc<Mutex<State>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for FakeListenBrainz {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl FakeListenBrainz {
    /// Starts a fake on a free port, with no users.
    pub async fn start() -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let base = Url::parse(&format!("http://{}/", listener.local_addr()?)).expect("URL");
        let state = Arc::new(Mutex::new(State::default()));
        let shutdown = spawn(listener, state.clone());
        Ok(Self {
            base,
            state,
            shutdown: Some(shutdown),
        })
    }

    /// The API root (for `ListenBrainzConfig::api_url`).
    pub fn url(&self) -> &Url {
        &self.base
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// Adds (or replaces the listens of) user `name` with `listens` as
    /// `(unix time, artist, track, release)`; an empty release is none.
    pub fn add_user<S: Into<String>>(&self, name: &str, listens: Vec<(i64, S, S, S)>) {
        let mut listens: Vec<Listen> = listens
            .into_iter()
            .map(|(ts, artist, track, release)| {
                let release: String = release.into();
                Listen {
                    ts,
                    artist: artist.into(),
                    track: track.into(),
                    release: (!release.is_empty()).then_some(release),
                }
            })
            .collect();
        listens.sort_by_key(|l| std::cmp::Reverse(l.ts));
        self.lock().user_mut(name).listens = listens;
    }

    /// Sets `user`'s statistics of `entity` in `range` by hand, as
    /// `(name, artist, release, listen count)` (artists use the name only).
    pub fn set_stats(
        &self,
        user: &str,
        entity: Entity,
        range: &str,
        entries: &[(&str, &str, &str, u64)],
    ) {
        let entries = entries
            .iter()
            .map(|(name, artist, release, n)| stat_entry(entity, name, artist, release, *n))
            .collect();
        self.lock()
            .user_mut(user)
            .explicit
            .insert((entity, range.to_string()), entries);
    }

    /// Whether `user`'s statistics answer 204 ("not calculated yet").
    pub fn stats_pending(&self, user: &str, pending: bool) {
        self.lock().user_mut(user).stats_pending = pending;
    }

    /// Whether `user`'s profile is private (403 for everything of theirs).
    pub fn private(&self, user: &str, private: bool) {
        self.lock().user_mut(user).private = private;
    }

    /// From now on every request needs `Authorization: Token {token}`
    /// (401 otherwise); `None` lifts it.
    pub fn require_token(&self, token: Option<&str>) {
        self.lock().token = token.map(str::to_string);
    }

    /// A new user token of `user` (created without listens if unknown),
    /// as ListenBrainz shows on its settings page: random-looking (a
    /// UUID), valid for `/1/validate-token` until revoked. Any token not
    /// issued here is invalid.
    pub fn issue_token(&self, user: &str) -> String {
        let token = random_uuid();
        let mut s = self.lock();
        let name = s.user_mut(user).name.to_lowercase();
        s.issued.insert(token.clone(), name);
        token
    }

    /// Makes `token` invalid, as resetting it on the settings page does.
    pub fn revoke_token(&self, token: &str) {
        self.lock().issued.remove(token);
    }

    /// The next `times` requests under `path_prefix` answer `status` with
    /// ListenBrainz's error body.
    pub fn fail_next(&self, path_prefix: &str, status: u16, times: usize) {
        let mut s = self.lock();
        for _ in 0..times {
            s.faults
                .push_back((path_prefix.to_string(), Fault::Status(status)));
        }
    }

    /// The next request under `path_prefix` answers 200 with a truncated
    /// JSON body.
    pub fn malformed_next(&self, path_prefix: &str) {
        self.lock()
            .faults
            .push_back((path_prefix.to_string(), Fault::Malformed));
    }

    /// A rate-limit window: `remaining` more requests are served, then
    /// every request answers 429 until `reset_in_secs` after the first
    /// refusal; after that requests are served again.
    pub fn rate_limit(&self, remaining: u32, reset_in_secs: u64) {
        self.lock().window = Some(Window {
            remaining,
            reset_in: Duration::from_secs(reset_in_secs),
            exhausted_at: None,
        });
    }

    /// Requests received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.lock().requests.clone()
    }

    /// How many requests went to paths starting with `prefix`.
    pub fn count(&self, prefix: &str) -> usize {
        self.lock()
            .requests
            .iter()
            .filter(|r| r.path.starts_with(prefix))
            .count()
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

fn spawn(
    listener: tokio::net::TcpListener,
    state: Arc<Mutex<State>>,
) -> tokio::sync::oneshot::Sender<()> {
    let routes = warp::method()
        .and(warp::path::full())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(warp::header::headers_cloned())
        .then(
            move |method: Method, path: warp::path::FullPath, query: String, headers: HeaderMap| {
                let state = state.clone();
                async move {
                    Ok::<_, Infallible>(handle(
                        &state,
                        method,
                        path.as_str().to_string(),
                        query,
                        &headers,
                    ))
                }
            },
        );
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(
        warp::serve(routes)
            .incoming(listener)
            .graceful(async {
                let _ = rx.await;
            })
            .run(),
    );
    tx
}

fn handle(
    state: &Mutex<State>,
    method: Method,
    path: String,
    query: String,
    headers: &HeaderMap,
) -> Reply {
    let mut s = lock(state);
    s.requests.push(Recorded {
        method: method.clone(),
        path: path.clone(),
        query: query.clone(),
        authorization: headers.contains_key(warp::http::header::AUTHORIZATION),
    });
    let (limited, limit_headers) = rate_limit(&mut s);
    let mut reply = if limited {
        error(429, "Too many requests. Please wait before trying again.")
    } else {
        answer(&mut s, &method, &path, &query, headers)
    };
    for (name, value) in limit_headers {
        reply
            .headers_mut()
            .insert(name, value.parse().expect("header value"));
    }
    reply
}

/// Counts the request against the window: whether it is refused, and the
/// X-RateLimit headers to send.
fn rate_limit(s: &mut State) -> (bool, [(&'static str, String); 3]) {
    let headers = |limit: u32, remaining: u32, reset_in: u64| {
        [
            ("x-ratelimit-limit", limit.to_string()),
            ("x-ratelimit-remaining", remaining.to_string()),
            ("x-ratelimit-reset-in", reset_in.to_string()),
        ]
    };
    let Some(w) = &mut s.window else {
        return (false, headers(DEFAULT_LIMIT, DEFAULT_LIMIT, 10));
    };
    if let Some(at) = w.exhausted_at {
        let left = w.reset_in.saturating_sub(at.elapsed());
        if left.is_zero() {
            s.window = None;
            return (false, headers(DEFAULT_LIMIT, DEFAULT_LIMIT - 1, 10));
        }
        let secs = left.as_secs_f64().ceil() as u64;
        return (true, headers(DEFAULT_LIMIT, 0, secs.max(1)));
    }
    if w.remaining == 0 {
        w.exhausted_at = Some(Instant::now());
        return (true, headers(DEFAULT_LIMIT, 0, w.reset_in.as_secs().max(1)));
    }
    w.remaining -= 1;
    let secs = w.reset_in.as_secs().max(1);
    (false, headers(DEFAULT_LIMIT, w.remaining, secs))
}

fn answer(s: &mut State, method: &Method, path: &str, query: &str, headers: &HeaderMap) -> Reply {
    if let Some(i) = s
        .faults
        .iter()
        .position(|(p, _)| path.starts_with(p.as_str()))
    {
        let (_, fault) = s.faults.remove(i).expect("present");
        return match fault {
            Fault::Status(status) => error(status, "Injected failure"),
            Fault::Malformed => Response::builder()
                .status(200)
                .header("content-type", "application/json")
                .body(b"{\"payload\": {\"listens\": [{\"listened_at\": ".to_vec())
                .expect("response"),
        };
    }
    if path.trim_end_matches('/') == "/1/validate-token" {
        return validate_token(s, method, query, headers);
    }
    if let Some(token) = &s.token {
        let sent = headers
            .get(warp::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        match sent {
            None => return error(401, "You need to provide an Authorization header."),
            Some(v) if v.strip_prefix("Token ") != Some(token.as_str()) => {
                return error(401, "Invalid authorization token.");
            }
            Some(_) => {}
        }
    }
    if method != Method::GET {
        return error(405, "The method is not allowed for the requested URL.");
    }
    let params: HashMap<String, String> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let segments: Vec<String> = path
        .trim_start_matches('/')
        .split('/')
        .map(percent_decode)
        .collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let (name, route) = match segments.as_slice() {
        ["1", "user", name, "listens"] => (*name, Route::Listens),
        ["1", "stats", "user", name, "artists"] => (*name, Route::Stats(Entity::Artists)),
        ["1", "stats", "user", name, "recordings"] => (*name, Route::Stats(Entity::Recordings)),
        // Flask's own 404: a page, not ListenBrainz's JSON.
        _ => {
            return Response::builder()
                .status(404)
                .header("content-type", "text/html")
                .body(b"<h1>Not Found</h1>".to_vec())
                .expect("response");
        }
    };
    let Some(user) = s.user(name) else {
        return error(404, &format!("Cannot find user: {name}"));
    };
    if user.private {
        return error(403, "This user's listening is private.");
    }
    let result = match route {
        Route::Listens => listens(user, name, &params),
        Route::Stats(entity) => stats(user, name, entity, &params),
    };
    result.unwrap_or_else(|message| error(400, &message))
}

/// `GET /1/validate-token`, as ListenBrainz answers it: the token from
/// `Authorization: Token T` (the word after the first space), else from
/// `?token=`; an unknown token is HTTP 200 with `"valid": false`.
fn validate_token(s: &State, method: &Method, query: &str, headers: &HeaderMap) -> Reply {
    if method != Method::GET {
        return error(405, "The method is not allowed for the requested URL.");
    }
    let from_header = headers
        .get(warp::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(' ').nth(1))
        .map(str::to_string);
    let token = from_header.or_else(|| {
        url::form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == "token")
            .map(|(_, v)| v.into_owned())
    });
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return error(400, "You need to provide an Authorization token.");
    };
    match s.issued.get(&token).and_then(|name| s.user(name)) {
        Some(user) => json_reply(
            200,
            &json!({"code": 200, "message": "Token valid.", "valid": true, "user_name": user.name}),
        ),
        None => json_reply(
            200,
            &json!({"code": 200, "message": "Token invalid.", "valid": false}),
        ),
    }
}

/// A random UUID (v4 layout), as ListenBrainz's tokens are.
fn random_uuid() -> String {
    let bits = super::random_u128() & !(0xf000u128 << 64) & !(0xcu128 << 60);
    let bits = bits | (0x4000u128 << 64) | (0x8u128 << 60);
    let hex = format!("{bits:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

enum Route {
    Listens,
    Stats(Entity),
}

/// A non-negative integer parameter, or ListenBrainz's 400 message.
fn param(params: &HashMap<String, String>, name: &str) -> Result<Option<i64>, String> {
    match params.get(name) {
        None => Ok(None),
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .map(Some)
            .ok_or_else(|| format!("'{name}' should be a non-negative integer")),
    }
}

fn listens(user: &User, name: &str, params: &HashMap<String, String>) -> Result<Reply, String> {
    let count = param(params, "count")?.map_or(DEFAULT_ITEMS, |n| n as usize);
    let count = count.min(MAX_ITEMS);
    let max_ts = param(params, "max_ts")?;
    let min_ts = param(params, "min_ts")?;
    if let (Some(min), Some(max)) = (min_ts, max_ts)
        && min >= max
    {
        return Err("min_ts should be less than max_ts".into());
    }
    let window = user
        .listens
        .iter()
        .filter(|l| max_ts.is_none_or(|m| l.ts < m) && min_ts.is_none_or(|m| l.ts > m));
    let mut page: Vec<&Listen> = if min_ts.is_some() && max_ts.is_none() {
        // The listens just after min_ts, still sent newest first.
        let mut v: Vec<&Listen> = window.collect();
        let skip = v.len().saturating_sub(count);
        v.drain(..skip);
        v
    } else {
        window.take(count).collect()
    };
    page.sort_by_key(|l| std::cmp::Reverse(l.ts));
    let listens: Vec<Value> = page
        .iter()
        .map(|l| {
            json!({
                "inserted_at": l.ts + 5,
                "listened_at": l.ts,
                "recording_msid": format!("00000000-0000-4000-8000-{:012x}", l.ts.unsigned_abs() % (1 << 48)),
                "user_name": user.name,
                "track_metadata": {
                    "artist_name": l.artist,
                    "track_name": l.track,
                    "release_name": l.release,
                    "additional_info": {
                        "duration_ms": 180_000 + (l.track.len() as u64 % 10) * 6_000,
                        "submission_client": "fake-listenbrainz",
                    },
                },
            })
        })
        .collect();
    Ok(json_reply(
        200,
        &json!({"payload": {
            "user_id": name,
            "count": listens.len(),
            "listens": listens,
            "latest_listen_ts": user.listens.first().map_or(0, |l| l.ts),
            "oldest_listen_ts": user.listens.last().map_or(0, |l| l.ts),
        }}),
    ))
}

fn stats(
    user: &User,
    name: &str,
    entity: Entity,
    params: &HashMap<String, String>,
) -> Result<Reply, String> {
    let range = params.get("range").map_or("all_time", String::as_str);
    let days = match range {
        "week" | "this_week" => Some(7),
        "month" | "this_month" => Some(30),
        "quarter" => Some(91),
        "half_yearly" => Some(182),
        "year" | "this_year" => Some(365),
        "all_time" => None,
        other => return Err(format!("Invalid range: {other}")),
    };
    let count = param(params, "count")?.map_or(DEFAULT_ITEMS, |n| n as usize);
    let count = count.min(MAX_ITEMS);
    let offset = param(params, "offset")?.unwrap_or(0) as usize;
    if user.stats_pending {
        return Ok(Response::builder()
            .status(204)
            .body(Vec::new())
            .expect("response"));
    }
    let now = chrono::Utc::now().timestamp();
    let from = days.map_or(i64::MIN, |d| now - d * 86_400);
    let entries = match user.explicit.get(&(entity, range.to_string())) {
        Some(e) => e.clone(),
        None => counted(user, entity, from),
    };
    let total = entries.len();
    let listed: Vec<Value> = entries.into_iter().skip(offset).take(count).collect();
    let (key, total_key) = match entity {
        Entity::Artists => ("artists", "total_artist_count"),
        Entity::Recordings => ("recordings", "total_recording_count"),
    };
    let in_range = user.listens.iter().filter(|l| l.ts >= from);
    Ok(json_reply(
        200,
        &json!({"payload": {
            "user_id": name,
            key: listed,
            "count": listed.len(),
            total_key: total,
            "offset": offset,
            "range": range,
            "from_ts": in_range.clone().map(|l| l.ts).min().unwrap_or(now),
            "to_ts": in_range.map(|l| l.ts).max().unwrap_or(now),
            "last_updated": now,
        }}),
    ))
}

/// Statistics counted from the listens since `from`: most listened first,
/// ties by name.
fn counted(user: &User, entity: Entity, from: i64) -> Vec<Value> {
    let mut counts: HashMap<(String, String, String), u64> = HashMap::new();
    for l in user.listens.iter().filter(|l| l.ts >= from) {
        let key = match entity {
            Entity::Artists => (l.artist.clone(), String::new(), String::new()),
            Entity::Recordings => (
                l.track.clone(),
                l.artist.clone(),
                l.release.clone().unwrap_or_default(),
            ),
        };
        *counts.entry(key).or_default() += 1;
    }
    let mut counts: Vec<_> = counts.into_iter().collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    counts
        .into_iter()
        .map(|((name, artist, release), n)| stat_entry(entity, &name, &artist, &release, n))
        .collect()
}

fn stat_entry(entity: Entity, name: &str, artist: &str, release: &str, n: u64) -> Value {
    match entity {
        Entity::Artists => json!({
            "artist_mbids": [],
            "artist_name": name,
            "listen_count": n,
        }),
        Entity::Recordings => {
            let mut v = json!({
                "artist_mbids": [],
                "artist_name": artist,
                "listen_count": n,
                "track_name": name,
            });
            if !release.is_empty() {
                v["release_name"] = json!(release);
            }
            v
        }
    }
}

fn json_reply(status: u16, body: &Value) -> Reply {
    Response::builder()
        .status(StatusCode::from_u16(status).expect("status"))
        .header("content-type", "application/json")
        .body(serde_json::to_vec(body).expect("JSON"))
        .expect("response")
}

/// ListenBrainz's error shape.
fn error(status: u16, message: &str) -> Reply {
    json_reply(status, &json!({"code": status, "error": message}))
}

/// Percent-decodes one path segment (invalid escapes are kept as sent).
fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
