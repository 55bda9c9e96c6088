//! A local fake Spotify (feature `fake`): the accounts service
//! (`/authorize`, `/api/token`) and the Web API routes SpotifyArt uses,
//! answering with the shapes, status codes and error bodies of Spotify's
//! published API reference. It enforces what the real one does (PKCE S256,
//! single-use codes, exact `redirect_uri`, client authentication, scopes,
//! `limit` ≤ 50) and can play a Development Mode app (fields stripped,
//! audio features and batch gets 403) or an Extended Quota one. Tests
//! inject 429s, 5xx, slow answers, malformed JSON, expired and revoked
//! tokens through [`FakeSpotify`]'s methods.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, DurationRound, Utc};
use http::{HeaderMap, Method, Response, StatusCode};
use secrecy::SecretString;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use spotifyart_core::store::OAuthTokens;
use spotifyart_core::{ListeningProfile, TimeRange};
use url::Url;
use warp::Filter;

/// What kind of app the fake pretends the client is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Every new app in 2026: no audio features, batch gets, genres,
    /// popularity or followers; `/v1/me` without email, country, product.
    Development,
    /// An Extended Quota app: full objects.
    Extended,
}

/// A registered app.
#[derive(Clone, Debug)]
pub struct FakeApp {
    /// Client id.
    pub client_id: String,
    /// Client secret (confidential clients).
    pub client_secret: Option<String>,
    /// Registered redirect URIs (matched exactly).
    pub redirect_uris: Vec<String>,
}

/// An injected failure for the next matching request.
#[derive(Clone, Debug)]
pub struct Fault {
    /// Only requests whose path starts with this (e.g. `/v1/me/top`).
    pub path: String,
    /// Only this method, when set.
    pub method: Option<Method>,
    /// What happens.
    pub kind: FaultKind,
}

/// What an injected failure does.
#[derive(Clone, Debug)]
pub enum FaultKind {
    /// Answer with this status (429 carries `Retry-After` when given) and
    /// Spotify's error body.
    Status {
        /// HTTP status.
        status: u16,
        /// `Retry-After` seconds.
        retry_after: Option<u64>,
    },
    /// Wait this long, then answer normally (for client timeouts).
    Delay(Duration),
    /// Answer 200 with a truncated JSON body.
    Malformed,
}

/// A request the fake received (for assertions; headers are not kept).
#[derive(Clone, Debug)]
pub struct Recorded {
    /// Method.
    pub method: Method,
    /// Path.
    pub path: String,
    /// Query string.
    pub query: String,
}

#[derive(Clone, Debug)]
struct ArtistEntry {
    name: String,
    genres: Vec<String>,
    popularity: u8,
}

#[derive(Clone, Debug)]
struct TrackEntry {
    name: String,
    artists: Vec<String>,
    album: String,
    album_id: String,
    release_date: String,
    duration_ms: u32,
    explicit: bool,
    popularity: u8,
    features: Option<spotifyart_core::profile::AudioFeatures>,
}

#[derive(Clone, Debug, Default)]
struct UserEntry {
    id: String,
    account_id: String,
    display_name: String,
    country: String,
    top_artists: HashMap<TimeRange, Vec<String>>,
    top_tracks: HashMap<TimeRange, Vec<String>>,
    /// (track id, played at), newest first.
    recent: Vec<(String, DateTime<Utc>)>,
}

#[derive(Clone, Debug)]
struct PlaylistEntry {
    id: String,
    name: String,
    owner: String,
    uris: Vec<String>,
    snapshot: u32,
}

#[derive(Clone, Debug)]
struct CodeGrant {
    client_id: String,
    redirect_uri: String,
    challenge: Option<String>,
    user: String,
    scopes: String,
    expires: DateTime<Utc>,
}

#[derive(Clone, Debug)]
struct AccessGrant {
    user: String,
    scopes: String,
    expires: DateTime<Utc>,
}

#[derive(Clone, Debug)]
struct RefreshGrant {
    user: String,
    client_id: String,
    scopes: String,
}

#[derive(Debug)]
struct State {
    base: Url,
    mode: Mode,
    apps: Vec<FakeApp>,
    artists: HashMap<String, ArtistEntry>,
    tracks: HashMap<String, TrackEntry>,
    users: Vec<UserEntry>,
    playlists: Vec<PlaylistEntry>,
    approve_as: Option<String>,
    deny: bool,
    codes: HashMap<String, CodeGrant>,
    access: HashMap<String, AccessGrant>,
    refresh: HashMap<String, RefreshGrant>,
    rotate_refresh: bool,
    token_lifetime: i64,
    faults: VecDeque<Fault>,
    requests: Vec<Recorded>,
    counter: u64,
}

/// A running fake Spotify on 127.0.0.1; stops when dropped.
#[derive(Debug)]
pub struct FakeSpotify {
    base: Url,
    state: Arc<Mutex<State>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for FakeSpotify {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl FakeSpotify {
    /// Starts a fake on a free port with one app.
    pub async fn start(mode: Mode, app: FakeApp) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let addr = listener.local_addr()?;
        let base = Url::parse(&format!("http://{addr}/")).expect("valid URL");
        let state = Arc::new(Mutex::new(State {
            base: base.clone(),
            mode,
            apps: vec![app],
            artists: HashMap::new(),
            tracks: HashMap::new(),
            users: Vec::new(),
            playlists: Vec::new(),
            approve_as: None,
            deny: false,
            codes: HashMap::new(),
            access: HashMap::new(),
            refresh: HashMap::new(),
            rotate_refresh: false,
            token_lifetime: 3600,
            faults: VecDeque::new(),
            requests: Vec::new(),
            counter: 0,
        }));
        let shared = state.clone();
        let routes = warp::method()
            .and(warp::path::full())
            .and(warp::query::<HashMap<String, String>>())
            .and(warp::header::headers_cloned())
            .and(warp::body::bytes())
            .then(
                move |method: Method,
                      path: warp::path::FullPath,
                      query: HashMap<String, String>,
                      headers: HeaderMap,
                      body: bytes::Bytes| {
                    let state = shared.clone();
                    async move {
                        handle(
                            state,
                            method,
                            path.as_str().to_string(),
                            query,
                            headers,
                            body.to_vec(),
                        )
                        .await
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
        Ok(Self {
            base,
            state,
            shutdown: Some(tx),
        })
    }

    /// The base URL serving both the accounts service and the Web API.
    pub fn url(&self) -> &Url {
        &self.base
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a Spotify user whose listening is `profile` (top lists per range
    /// with their genres, popularity and audio features; recent plays, or
    /// plays made up from the short-term top tracks). Returns the user id.
    pub fn add_user(
        &self,
        user_id: &str,
        display_name: &str,
        profile: &ListeningProfile,
    ) -> String {
        let mut s = self.lock();
        let mut user = UserEntry {
            id: user_id.to_string(),
            account_id: format!("acc-{}", &fake_id(user_id)[..12]),
            display_name: display_name.to_string(),
            country: "SE".into(),
            ..UserEntry::default()
        };
        for range in TimeRange::ALL {
            let mut artist_ids = Vec::new();
            for a in profile.top_artists.get(range) {
                let id = fake_id(&a.name);
                s.artists.entry(id.clone()).or_insert_with(|| ArtistEntry {
                    name: a.name.clone(),
                    genres: a.genres.clone(),
                    popularity: a.popularity.unwrap_or(50),
                });
                artist_ids.push(id);
            }
            let mut track_ids = Vec::new();
            for t in profile.top_tracks.get(range) {
                let id = fake_id(&format!("{}\u{0}{}", t.primary_artist(), t.name));
                let artists: Vec<String> = t
                    .artists
                    .iter()
                    .map(|name| {
                        let aid = fake_id(name);
                        s.artists.entry(aid.clone()).or_insert_with(|| ArtistEntry {
                            name: name.clone(),
                            genres: t.genres.clone(),
                            popularity: 40,
                        });
                        aid
                    })
                    .collect();
                let album = t
                    .album
                    .clone()
                    .unwrap_or_else(|| format!("{} (Single)", t.name));
                s.tracks.entry(id.clone()).or_insert_with(|| TrackEntry {
                    name: t.name.clone(),
                    artists,
                    album_id: fake_id(&album),
                    album,
                    release_date: t
                        .release_date
                        .clone()
                        .unwrap_or_else(|| "2015-06-01".into()),
                    duration_ms: t.duration_ms.unwrap_or(215_000),
                    explicit: t.explicit.unwrap_or(false),
                    popularity: t.popularity.unwrap_or(60),
                    features: t.audio_features,
                });
                track_ids.push(id);
            }
            user.top_artists.insert(range, artist_ids);
            user.top_tracks.insert(range, track_ids);
        }
        // Plays end at the last midnight (UTC), so their times of day, and
        // the behaviour signals read from them, do not depend on when a
        // test runs.
        let now = Utc::now()
            .duration_trunc(chrono::Duration::days(1))
            .unwrap_or_else(|_| Utc::now());
        let short = user
            .top_tracks
            .get(&TimeRange::ShortTerm)
            .cloned()
            .unwrap_or_default();
        let pool = if short.is_empty() {
            user.top_tracks
                .get(&TimeRange::MediumTerm)
                .cloned()
                .unwrap_or_default()
        } else {
            short
        };
        user.recent = (0..if pool.is_empty() { 0 } else { 60 })
            .map(|i| {
                (
                    pool[(i * 7) % pool.len()].clone(),
                    now - chrono::Duration::minutes(37 * i as i64 + 5),
                )
            })
            .collect();
        s.users.push(user);
        user_id.to_string()
    }

    /// Adds `n` made-up tracks by made-up artists to the end of every top
    /// list of `user` (to exercise paging).
    pub fn pad_top_lists(&self, user: &str, n: usize) {
        let mut s = self.lock();
        for i in 0..n {
            let aid = fake_id(&format!("padding artist {i}"));
            s.artists.insert(
                aid.clone(),
                ArtistEntry {
                    name: format!("Padding Artist {i}"),
                    genres: vec!["indie pop".into()],
                    popularity: 10,
                },
            );
            let tid = fake_id(&format!("padding track {i}"));
            s.tracks.insert(
                tid.clone(),
                TrackEntry {
                    name: format!("Padding Song {i}"),
                    artists: vec![aid.clone()],
                    album: format!("Padding Album {i}"),
                    album_id: fake_id(&format!("padding album {i}")),
                    release_date: "2020".into(),
                    duration_ms: 200_000,
                    explicit: false,
                    popularity: 10,
                    features: None,
                },
            );
            if let Some(u) = s.users.iter_mut().find(|u| u.id == user) {
                for range in TimeRange::ALL {
                    u.top_artists.entry(range).or_default().push(aid.clone());
                    u.top_tracks.entry(range).or_default().push(tid.clone());
                }
            }
        }
    }

    /// Switches between Development Mode and Extended Quota answers.
    pub fn set_mode(&self, mode: Mode) {
        self.lock().mode = mode;
    }

    /// Which user `/authorize` signs in (default: the first added).
    pub fn approve_as(&self, user: &str) {
        self.lock().approve_as = Some(user.to_string());
    }

    /// Makes `/authorize` answer as if the user pressed "Cancel".
    pub fn deny_consent(&self, deny: bool) {
        self.lock().deny = deny;
    }

    /// Whether refreshes return a new refresh token (and retire the old).
    pub fn rotate_refresh_tokens(&self, rotate: bool) {
        self.lock().rotate_refresh = rotate;
    }

    /// How long access tokens issued from now on live (default an hour;
    /// under a minute puts them inside clients' refresh margin at once).
    pub fn set_token_lifetime(&self, seconds: i64) {
        self.lock().token_lifetime = seconds;
    }

    /// Queues a failure for the next request matching it.
    pub fn inject(&self, fault: Fault) {
        self.lock().faults.push_back(fault);
    }

    /// Shorthand: the next `times` requests under `path` answer `status`.
    pub fn fail_next(&self, path: &str, status: u16, retry_after: Option<u64>, times: usize) {
        for _ in 0..times {
            self.inject(Fault {
                path: path.into(),
                method: None,
                kind: FaultKind::Status {
                    status,
                    retry_after,
                },
            });
        }
    }

    /// Every access token issued so far is now expired.
    pub fn expire_access_tokens(&self) {
        let past = Utc::now() - chrono::Duration::seconds(1);
        for g in self.lock().access.values_mut() {
            g.expires = past;
        }
    }

    /// The user withdrew the app's access: their tokens stop working.
    pub fn revoke(&self, user: &str) {
        let mut s = self.lock();
        s.refresh.retain(|_, g| g.user != user);
        s.access.retain(|_, g| g.user != user);
    }

    /// Tokens as if `user` had signed in with `scopes` (skips the browser).
    pub fn issue_tokens(&self, user: &str, scopes: &[&str]) -> OAuthTokens {
        let mut s = self.lock();
        let client = s.apps[0].client_id.clone();
        let scopes = scopes.join(" ");
        let (access, refresh, expires) = s.issue(user, &client, &scopes, true);
        OAuthTokens {
            access_token: SecretString::from(access),
            refresh_token: refresh.map(SecretString::from),
            expires_at: expires,
            scopes: scopes.split(' ').map(str::to_string).collect(),
        }
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

    /// Creates a playlist owned by `owner` holding `uris`; returns its id.
    pub fn add_playlist(&self, owner: &str, name: &str, uris: &[String]) -> String {
        let mut s = self.lock();
        s.counter += 1;
        let id = fake_id(&format!("playlist {name} {}", s.counter));
        s.playlists.push(PlaylistEntry {
            id: id.clone(),
            name: name.into(),
            owner: owner.into(),
            uris: uris.to_vec(),
            snapshot: 1,
        });
        id
    }

    /// The URIs in a playlist, in order.
    pub fn playlist_uris(&self, id: &str) -> Option<Vec<String>> {
        self.lock()
            .playlists
            .iter()
            .find(|p| p.id == id)
            .map(|p| p.uris.clone())
    }

    /// A playlist of `owner` by name.
    pub fn playlist_named(&self, owner: &str, name: &str) -> Option<String> {
        self.lock()
            .playlists
            .iter()
            .find(|p| p.owner == owner && p.name == name)
            .map(|p| p.id.clone())
    }

    /// `spotify:track:` URIs of `user`'s top tracks in `range`.
    pub fn track_uris(&self, user: &str, range: TimeRange) -> Vec<String> {
        let s = self.lock();
        s.users
            .iter()
            .find(|u| u.id == user)
            .and_then(|u| u.top_tracks.get(&range))
            .map(|ids| ids.iter().map(|id| format!("spotify:track:{id}")).collect())
            .unwrap_or_default()
    }
}

/// A deterministic 22-character base62 id, like Spotify's.
pub fn fake_id(seed: &str) -> String {
    const B62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let digest = Sha256::digest(seed.as_bytes());
    digest
        .iter()
        .take(22)
        .map(|b| B62[*b as usize % 62] as char)
        .collect()
}

impl State {
    fn next_token(&mut self, kind: &str) -> String {
        self.counter += 1;
        let mut bytes = [0u8; 24];
        rand::fill(&mut bytes);
        format!("{kind}-{}-{}", self.counter, URL_SAFE_NO_PAD.encode(bytes))
    }

    fn issue(
        &mut self,
        user: &str,
        client: &str,
        scopes: &str,
        with_refresh: bool,
    ) -> (String, Option<String>, DateTime<Utc>) {
        let access = self.next_token("BQ");
        let expires = Utc::now() + chrono::Duration::seconds(self.token_lifetime);
        self.access.insert(
            access.clone(),
            AccessGrant {
                user: user.into(),
                scopes: scopes.into(),
                expires,
            },
        );
        let refresh = with_refresh.then(|| {
            let r = self.next_token("AQ");
            self.refresh.insert(
                r.clone(),
                RefreshGrant {
                    user: user.into(),
                    client_id: client.into(),
                    scopes: scopes.into(),
                },
            );
            r
        });
        (access, refresh, expires)
    }

    fn take_fault(&mut self, method: &Method, path: &str) -> Option<FaultKind> {
        let i = self.faults.iter().position(|f| {
            path.starts_with(&f.path) && f.method.as_ref().is_none_or(|m| m == method)
        })?;
        self.faults.remove(i).map(|f| f.kind)
    }
}

type Reply = Response<Vec<u8>>;

fn json_reply(status: StatusCode, body: &Value) -> Reply {
    Response::builder()
        .status(status)
        .header("content-type", "application/json; charset=utf-8")
        .body(serde_json::to_vec(body).expect("JSON"))
        .expect("response")
}

/// The Web API's error shape.
fn api_error(status: u16, message: &str) -> Reply {
    json_reply(
        StatusCode::from_u16(status).expect("status"),
        &json!({ "error": { "status": status, "message": message } }),
    )
}

/// The accounts service's error shape.
fn oauth_error(status: u16, error: &str, description: &str) -> Reply {
    json_reply(
        StatusCode::from_u16(status).expect("status"),
        &json!({ "error": error, "error_description": description }),
    )
}

async fn handle(
    state: Arc<Mutex<State>>,
    method: Method,
    path: String,
    query: HashMap<String, String>,
    headers: HeaderMap,
    body: Vec<u8>,
) -> Result<Reply, Infallible> {
    let fault = {
        let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
        s.requests.push(Recorded {
            method: method.clone(),
            path: path.clone(),
            query: url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(query.iter())
                .finish(),
        });
        s.take_fault(&method, &path)
    };
    match fault {
        Some(FaultKind::Status {
            status,
            retry_after,
        }) => {
            let message = match status {
                429 => "API rate limit exceeded",
                500 => "Server error.",
                502 => "Bad gateway.",
                503 => "Service unavailable",
                _ => "Injected failure",
            };
            let mut reply = api_error(status, message);
            if let Some(s) = retry_after {
                reply
                    .headers_mut()
                    .insert("retry-after", s.to_string().parse().expect("header"));
            }
            return Ok(reply);
        }
        Some(FaultKind::Delay(d)) => tokio::time::sleep(d).await,
        Some(FaultKind::Malformed) => {
            return Ok(Response::builder()
                .status(200)
                .header("content-type", "application/json; charset=utf-8")
                .body(b"{\"items\": [{\"id\": \"abc\", \"name\": ".to_vec())
                .expect("response"));
        }
        None => {}
    }
    let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
    let reply = match (method.as_str(), path.as_str()) {
        ("GET", "/authorize") => authorize(&mut s, &query),
        ("POST", "/api/token") => token(&mut s, &headers, &body),
        _ if path.starts_with("/v1/") => web_api(&mut s, &method, &path, &query, &headers, &body),
        _ => api_error(404, "Service not found"),
    };
    Ok(reply)
}

fn authorize(s: &mut State, q: &HashMap<String, String>) -> Reply {
    let text = |status: u16, msg: &str| {
        Response::builder()
            .status(status)
            .header("content-type", "text/plain; charset=utf-8")
            .body(msg.as_bytes().to_vec())
            .expect("response")
    };
    let Some(app) = q
        .get("client_id")
        .and_then(|id| s.apps.iter().find(|a| &a.client_id == id))
        .cloned()
    else {
        return text(400, "INVALID_CLIENT: Invalid client");
    };
    let Some(redirect) = q
        .get("redirect_uri")
        .filter(|r| app.redirect_uris.contains(r))
        .cloned()
    else {
        return text(400, "INVALID_CLIENT: Invalid redirect URI");
    };
    let mut back = Url::parse(&redirect).expect("registered URIs are URLs");
    let state_param = q.get("state").cloned();
    let mut redirect_with = |pairs: &[(&str, &str)]| {
        {
            let mut qp = back.query_pairs_mut();
            qp.extend_pairs(pairs);
            if let Some(st) = &state_param {
                qp.append_pair("state", st);
            }
        }
        Response::builder()
            .status(302)
            .header("location", back.as_str())
            .body(Vec::new())
            .expect("response")
    };
    if q.get("response_type").map(String::as_str) != Some("code") {
        return redirect_with(&[("error", "unsupported_response_type")]);
    }
    let challenge = q.get("code_challenge").cloned();
    match (
        challenge.as_ref(),
        q.get("code_challenge_method").map(String::as_str),
    ) {
        (Some(_), Some("S256")) => {}
        (Some(_), _) => return redirect_with(&[("error", "invalid_request")]),
        (None, _) if app.client_secret.is_none() => {
            return redirect_with(&[("error", "invalid_request")]);
        }
        (None, _) => {}
    }
    if s.deny {
        return redirect_with(&[("error", "access_denied")]);
    }
    let Some(user) = s
        .approve_as
        .clone()
        .or_else(|| s.users.first().map(|u| u.id.clone()))
    else {
        return text(500, "fake: no users");
    };
    let code = s.next_token("AQC");
    s.codes.insert(
        code.clone(),
        CodeGrant {
            client_id: app.client_id.clone(),
            redirect_uri: redirect.clone(),
            challenge,
            user,
            scopes: q.get("scope").cloned().unwrap_or_default(),
            expires: Utc::now() + chrono::Duration::minutes(10),
        },
    );
    redirect_with(&[("code", &code)])
}

fn token(s: &mut State, headers: &HeaderMap, body: &[u8]) -> Reply {
    let is_form = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return oauth_error(
            400,
            "invalid_request",
            "Content-Type must be application/x-www-form-urlencoded",
        );
    }
    let form: HashMap<String, String> = url::form_urlencoded::parse(body).into_owned().collect();
    // Client authentication: HTTP Basic, or client_id (+ secret) in the body.
    let (client_id, secret) = match headers.get("authorization").and_then(|v| v.to_str().ok()) {
        Some(h) if h.starts_with("Basic ") => {
            let decoded = STANDARD
                .decode(&h[6..])
                .ok()
                .and_then(|b| String::from_utf8(b).ok());
            match decoded.as_deref().and_then(|d| d.split_once(':')) {
                Some((id, secret)) => (
                    url::form_urlencoded::parse(id.as_bytes())
                        .map(|(k, _)| k.into_owned())
                        .next()
                        .unwrap_or_default(),
                    Some(
                        url::form_urlencoded::parse(secret.as_bytes())
                            .map(|(k, _)| k.into_owned())
                            .next()
                            .unwrap_or_default(),
                    ),
                ),
                None => return oauth_error(400, "invalid_client", "Invalid client"),
            }
        }
        _ => (
            form.get("client_id").cloned().unwrap_or_default(),
            form.get("client_secret").cloned(),
        ),
    };
    let Some(app) = s.apps.iter().find(|a| a.client_id == client_id).cloned() else {
        return oauth_error(400, "invalid_client", "Invalid client");
    };
    match (&app.client_secret, &secret) {
        (Some(expected), Some(given)) if expected != given => {
            return oauth_error(400, "invalid_client", "Invalid client secret");
        }
        (None, Some(_)) => return oauth_error(400, "invalid_client", "Invalid client secret"),
        _ => {}
    }
    let authenticated = app.client_secret.is_some() && secret.is_some();
    match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let Some(grant) = form.get("code").and_then(|c| s.codes.remove(c)) else {
                return oauth_error(400, "invalid_grant", "Invalid authorization code");
            };
            if grant.expires < Utc::now() {
                return oauth_error(400, "invalid_grant", "Authorization code expired");
            }
            if grant.client_id != app.client_id {
                return oauth_error(400, "invalid_grant", "Invalid authorization code");
            }
            if form.get("redirect_uri") != Some(&grant.redirect_uri) {
                return oauth_error(400, "invalid_grant", "Invalid redirect URI");
            }
            match (&grant.challenge, form.get("code_verifier")) {
                (Some(challenge), Some(verifier)) => {
                    if URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) != *challenge {
                        return oauth_error(400, "invalid_grant", "code_verifier was incorrect");
                    }
                }
                (Some(_), None) => {
                    return oauth_error(400, "invalid_request", "code_verifier required");
                }
                (None, _) if !authenticated => {
                    return oauth_error(400, "invalid_client", "Invalid client");
                }
                (None, _) => {}
            }
            let (access, refresh, _) = s.issue(&grant.user, &app.client_id, &grant.scopes, true);
            json_reply(
                StatusCode::OK,
                &json!({
                    "access_token": access,
                    "token_type": "Bearer",
                    "scope": grant.scopes,
                    "expires_in": s.token_lifetime,
                    "refresh_token": refresh,
                }),
            )
        }
        Some("refresh_token") => {
            let given = form.get("refresh_token").cloned().unwrap_or_default();
            let Some(grant) = s.refresh.get(&given).cloned() else {
                return oauth_error(400, "invalid_grant", "Refresh token revoked");
            };
            if grant.client_id != app.client_id {
                return oauth_error(400, "invalid_grant", "Invalid refresh token");
            }
            let rotate = s.rotate_refresh;
            if rotate {
                s.refresh.remove(&given);
            }
            let (access, refresh, _) = s.issue(&grant.user, &app.client_id, &grant.scopes, rotate);
            let mut body = json!({
                "access_token": access,
                "token_type": "Bearer",
                "scope": grant.scopes,
                "expires_in": s.token_lifetime,
            });
            if let Some(r) = refresh {
                body["refresh_token"] = json!(r);
            }
            json_reply(StatusCode::OK, &body)
        }
        _ => oauth_error(
            400,
            "unsupported_grant_type",
            "grant_type must be authorization_code or refresh_token",
        ),
    }
}

fn web_api(
    s: &mut State,
    method: &Method,
    path: &str,
    q: &HashMap<String, String>,
    headers: &HeaderMap,
    body: &[u8],
) -> Reply {
    let token = match headers.get("authorization").and_then(|v| v.to_str().ok()) {
        Some(h) if h.starts_with("Bearer ") => h[7..].to_string(),
        _ => return api_error(401, "No token provided"),
    };
    let Some(grant) = s.access.get(&token).cloned() else {
        return api_error(401, "Invalid access token");
    };
    if grant.expires <= Utc::now() {
        return api_error(401, "The access token expired");
    }
    let needs = |scope: &str| -> Option<Reply> {
        (!grant.scopes.split(' ').any(|s| s == scope))
            .then(|| api_error(403, "Insufficient client scope"))
    };
    let Some(user) = s.users.iter().find(|u| u.id == grant.user).cloned() else {
        return api_error(404, "User not found");
    };
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let limit = match q.get("limit").map(|l| l.parse::<usize>()) {
        None => 20,
        Some(Ok(l)) if (1..=50).contains(&l) => l,
        _ => return api_error(400, "Invalid limit"),
    };
    let offset = q
        .get("offset")
        .and_then(|o| o.parse::<usize>().ok())
        .unwrap_or(0);
    let dev = s.mode == Mode::Development;
    match (method.as_str(), segments.as_slice()) {
        ("GET", ["v1", "me"]) => {
            let mut me = json!({
                "display_name": user.display_name,
                "external_urls": { "spotify": format!("https://open.spotify.com/user/{}", user.id) },
                "href": format!("{}v1/users/{}", s.base, user.id),
                "id": user.id,
                "images": [],
                "type": "user",
                "uri": format!("spotify:user:{}", user.id),
            });
            if dev {
                me["account_id"] = json!(user.account_id);
            } else {
                me["country"] = json!(user.country);
                me["email"] = json!(format!("{}@example.com", user.id));
                me["product"] = json!("premium");
                me["explicit_content"] = json!({ "filter_enabled": false, "filter_locked": false });
                me["followers"] = json!({ "href": null, "total": 3 });
            }
            json_reply(StatusCode::OK, &me)
        }
        ("GET", ["v1", "me", "top", kind @ ("artists" | "tracks")]) => {
            if let Some(r) = needs("user-top-read") {
                return r;
            }
            let range = match q
                .get("time_range")
                .map(String::as_str)
                .unwrap_or("medium_term")
            {
                "short_term" => TimeRange::ShortTerm,
                "medium_term" => TimeRange::MediumTerm,
                "long_term" => TimeRange::LongTerm,
                _ => return api_error(400, "Invalid time range"),
            };
            let ids = if *kind == "artists" {
                user.top_artists.get(&range)
            } else {
                user.top_tracks.get(&range)
            };
            let ids = ids.cloned().unwrap_or_default();
            let items: Vec<Value> = ids
                .iter()
                .skip(offset)
                .take(limit)
                .map(|id| {
                    if *kind == "artists" {
                        artist_json(s, id, dev)
                    } else {
                        track_json(s, id, dev)
                    }
                })
                .collect();
            let link = |off: usize| {
                format!(
                    "{}v1/me/top/{kind}?limit={limit}&offset={off}&time_range={}",
                    s.base,
                    range.as_str()
                )
            };
            json_reply(
                StatusCode::OK,
                &json!({
                    "href": link(offset),
                    "items": items,
                    "limit": limit,
                    "next": (offset + limit < ids.len()).then(|| link(offset + limit)),
                    "offset": offset,
                    "previous": (offset > 0).then(|| link(offset.saturating_sub(limit))),
                    "total": ids.len(),
                }),
            )
        }
        ("GET", ["v1", "me", "player", "recently-played"]) => {
            if let Some(r) = needs("user-read-recently-played") {
                return r;
            }
            let before = q.get("before").and_then(|b| b.parse::<i64>().ok());
            let after = q.get("after").and_then(|a| a.parse::<i64>().ok());
            let older: Vec<&(String, DateTime<Utc>)> = user
                .recent
                .iter()
                .filter(|(_, t)| before.is_none_or(|b| t.timestamp_millis() < b))
                .filter(|(_, t)| after.is_none_or(|a| t.timestamp_millis() > a))
                .collect();
            let page: Vec<&&(String, DateTime<Utc>)> = older.iter().take(limit).collect();
            let items: Vec<Value> = page
                .iter()
                .map(|(id, at)| {
                    json!({
                        "track": track_json(s, id, dev),
                        "played_at": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                        "context": null,
                    })
                })
                .collect();
            let oldest = page.last().map(|(_, t)| t.timestamp_millis());
            let newest = page.first().map(|(_, t)| t.timestamp_millis());
            let href = format!("{}v1/me/player/recently-played?limit={limit}", s.base);
            json_reply(
                StatusCode::OK,
                &json!({
                    "href": href,
                    "items": items,
                    "limit": limit,
                    "next": (older.len() > limit).then(|| format!("{href}&before={}", oldest.unwrap_or(0))),
                    "cursors": newest.map(|n| json!({ "after": n.to_string(), "before": oldest.unwrap_or(0).to_string() })),
                }),
            )
        }
        ("GET", ["v1", "artists", id]) => match s.artists.contains_key(*id) {
            true => json_reply(StatusCode::OK, &artist_json(s, id, dev)),
            false => api_error(404, "Resource not found"),
        },
        ("GET", ["v1", "artists"]) if dev => api_error(403, "Forbidden"),
        ("GET", ["v1", "artists"]) => {
            let ids = q.get("ids").cloned().unwrap_or_default();
            let artists: Vec<Value> = ids
                .split(',')
                .map(|id| {
                    if s.artists.contains_key(id) {
                        artist_json(s, id, dev)
                    } else {
                        Value::Null
                    }
                })
                .collect();
            json_reply(StatusCode::OK, &json!({ "artists": artists }))
        }
        ("GET", ["v1", "audio-features", ..]) if dev => api_error(403, "Forbidden"),
        ("GET", ["v1", "audio-features"]) => {
            let ids = q.get("ids").cloned().unwrap_or_default();
            let features: Vec<Value> = ids
                .split(',')
                .map(|id| match s.tracks.get(id).and_then(|t| t.features) {
                    Some(f) => json!({
                        "acousticness": f.acousticness, "danceability": f.danceability,
                        "energy": f.energy, "id": id, "instrumentalness": f.instrumentalness.unwrap_or(0.0),
                        "key": 5, "liveness": 0.1, "loudness": f.loudness.unwrap_or(-7.0),
                        "mode": if f.mode >= 0.5 { 1 } else { 0 }, "speechiness": 0.05,
                        "tempo": f.tempo, "time_signature": 4, "valence": f.valence,
                        "type": "audio_features", "uri": format!("spotify:track:{id}"),
                        "track_href": format!("{}v1/tracks/{id}", s.base),
                        "analysis_url": format!("{}v1/audio-analysis/{id}", s.base),
                        "duration_ms": s.tracks.get(id).map(|t| t.duration_ms),
                    }),
                    None => Value::Null,
                })
                .collect();
            json_reply(StatusCode::OK, &json!({ "audio_features": features }))
        }
        ("GET", ["v1", "me", "playlists"]) => {
            if let Some(r) = needs("playlist-read-private") {
                return r;
            }
            let mine: Vec<&PlaylistEntry> =
                s.playlists.iter().filter(|p| p.owner == user.id).collect();
            let items: Vec<Value> = mine
                .iter()
                .skip(offset)
                .take(limit)
                .map(|p| playlist_json(s, p))
                .collect();
            let link = |off: usize| format!("{}v1/me/playlists?limit={limit}&offset={off}", s.base);
            json_reply(
                StatusCode::OK,
                &json!({
                    "href": link(offset), "items": items, "limit": limit, "offset": offset,
                    "next": (offset + limit < mine.len()).then(|| link(offset + limit)),
                    "previous": null, "total": mine.len(),
                }),
            )
        }
        ("POST", ["v1", "me", "playlists"]) => {
            if let Some(r) = needs("playlist-modify-private") {
                return r;
            }
            let Ok(req) = serde_json::from_slice::<Value>(body) else {
                return api_error(400, "Error parsing JSON.");
            };
            let Some(name) = req
                .get("name")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
            else {
                return api_error(400, "Missing required field: name");
            };
            s.counter += 1;
            let id = fake_id(&format!("playlist {name} {}", s.counter));
            let p = PlaylistEntry {
                id,
                name: name.into(),
                owner: user.id.clone(),
                uris: Vec::new(),
                snapshot: 1,
            };
            let reply = playlist_json(s, &p);
            s.playlists.push(p);
            json_reply(StatusCode::CREATED, &reply)
        }
        ("GET", ["v1", "playlists", id, "items"]) => {
            let Some(p) = s.playlists.iter().find(|p| p.id == *id).cloned() else {
                return api_error(404, "Resource not found");
            };
            let items: Vec<Value> = p
                .uris
                .iter()
                .skip(offset)
                .take(limit)
                .map(|uri| {
                    let tid = uri.rsplit(':').next().unwrap_or_default();
                    let item = if s.tracks.contains_key(tid) { track_json(s, tid, dev) } else { json!({ "uri": uri, "name": "Unknown", "is_local": false, "type": "track" }) };
                    json!({ "added_at": "2026-01-05T10:00:00Z", "added_by": { "id": p.owner }, "is_local": false, "item": item })
                })
                .collect();
            let link = |off: usize| {
                format!(
                    "{}v1/playlists/{id}/items?limit={limit}&offset={off}",
                    s.base
                )
            };
            json_reply(
                StatusCode::OK,
                &json!({
                    "href": link(offset), "items": items, "limit": limit, "offset": offset,
                    "next": (offset + limit < p.uris.len()).then(|| link(offset + limit)),
                    "previous": null, "total": p.uris.len(),
                }),
            )
        }
        ("POST", ["v1", "playlists", id, "items"]) => {
            if let Some(r) = needs("playlist-modify-private") {
                return r;
            }
            let Ok(req) = serde_json::from_slice::<Value>(body) else {
                return api_error(400, "Error parsing JSON.");
            };
            let uris: Vec<String> = req
                .get("uris")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|u| u.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            if uris.is_empty() || uris.len() > 100 {
                return api_error(400, "You can add a maximum of 100 tracks per request.");
            }
            if uris
                .iter()
                .any(|u| !u.starts_with("spotify:track:") && !u.starts_with("spotify:episode:"))
            {
                return api_error(400, "Invalid track uri");
            }
            let Some(p) = s.playlists.iter_mut().find(|p| p.id == *id) else {
                return api_error(404, "Resource not found");
            };
            if p.owner != user.id {
                return api_error(403, "You cannot add tracks to a playlist you don't own.");
            }
            p.uris.extend(uris);
            p.snapshot += 1;
            json_reply(
                StatusCode::CREATED,
                &json!({ "snapshot_id": format!("snap{}", p.snapshot) }),
            )
        }
        ("GET", ["v1", "audio-analysis" | "recommendations", ..]) if dev => {
            api_error(403, "Forbidden")
        }
        _ => api_error(404, "Service not found"),
    }
}

fn image(seed: &str) -> Value {
    json!([{ "url": format!("https://i.scdn.co/image/ab67616d0000b273{}", &fake_id(seed)[..16]), "height": 640, "width": 640 }])
}

fn artist_json(s: &State, id: &str, dev: bool) -> Value {
    let a = &s.artists[id];
    let mut v = json!({
        "external_urls": { "spotify": format!("https://open.spotify.com/artist/{id}") },
        "href": format!("{}v1/artists/{id}", s.base),
        "id": id,
        "images": image(&a.name),
        "name": a.name,
        "type": "artist",
        "uri": format!("spotify:artist:{id}"),
    });
    if !dev {
        v["genres"] = json!(a.genres);
        v["popularity"] = json!(a.popularity);
        v["followers"] = json!({ "href": null, "total": a.popularity as u64 * 12_345 });
    }
    v
}

fn simple_artist(s: &State, id: &str) -> Value {
    let a = &s.artists[id];
    json!({
        "external_urls": { "spotify": format!("https://open.spotify.com/artist/{id}") },
        "href": format!("{}v1/artists/{id}", s.base),
        "id": id, "name": a.name, "type": "artist", "uri": format!("spotify:artist:{id}"),
    })
}

fn track_json(s: &State, id: &str, dev: bool) -> Value {
    let t = &s.tracks[id];
    let artists: Vec<Value> = t.artists.iter().map(|a| simple_artist(s, a)).collect();
    let mut album = json!({
        "album_type": "album",
        "artists": artists.first().cloned().into_iter().collect::<Vec<_>>(),
        "external_urls": { "spotify": format!("https://open.spotify.com/album/{}", t.album_id) },
        "href": format!("{}v1/albums/{}", s.base, t.album_id),
        "id": t.album_id,
        "images": image(&t.album),
        "name": t.album,
        "release_date": t.release_date,
        "release_date_precision": match t.release_date.len() { 4 => "year", 7 => "month", _ => "day" },
        "total_tracks": 12,
        "type": "album",
        "uri": format!("spotify:album:{}", t.album_id),
    });
    let mut v = json!({
        "album": Value::Null,
        "artists": artists,
        "disc_number": 1,
        "duration_ms": t.duration_ms,
        "explicit": t.explicit,
        "external_urls": { "spotify": format!("https://open.spotify.com/track/{id}") },
        "href": format!("{}v1/tracks/{id}", s.base),
        "id": id,
        "is_local": false,
        "name": t.name,
        "preview_url": null,
        "track_number": 1,
        "type": "track",
        "uri": format!("spotify:track:{id}"),
    });
    if !dev {
        album["available_markets"] = json!(["SE", "GB", "US"]);
        v["available_markets"] = json!(["SE", "GB", "US"]);
        v["popularity"] = json!(t.popularity);
        v["external_ids"] = json!({ "isrc": format!("SE{}", &id[..10]) });
    }
    v["album"] = album;
    v
}

fn playlist_json(s: &State, p: &PlaylistEntry) -> Value {
    json!({
        "collaborative": false,
        "description": "",
        "external_urls": { "spotify": format!("https://open.spotify.com/playlist/{}", p.id) },
        "href": format!("{}v1/playlists/{}", s.base, p.id),
        "id": p.id,
        "images": [],
        "name": p.name,
        "owner": { "id": p.owner, "type": "user", "display_name": p.owner },
        "public": false,
        "snapshot_id": format!("snap{}", p.snapshot),
        "items": { "href": format!("{}v1/playlists/{}/items", s.base, p.id), "total": p.uris.len() },
        "type": "playlist",
        "uri": format!("spotify:playlist:{}", p.id),
    })
}
