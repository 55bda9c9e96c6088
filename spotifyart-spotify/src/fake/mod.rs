//! A local fake Spotify (feature `fake`): the accounts service
//! (`/authorize`, `/api/token`) and the Web API routes SpotifyArt uses,
//! answering with the shapes, status codes and error bodies of Spotify's
//! published API reference. It enforces what the real one does (PKCE S256,
//! single-use codes, exact `redirect_uri`, client authentication, scopes,
//! `limit` ≤ 50) and can play a Development Mode app (fields stripped,
//! audio features and batch gets 403) or an Extended Quota one. Album
//! objects carry covers at three sizes on the fake's own image CDN
//! (`/image/...`, Spotify's size prefixes, distinct colours per album).
//! Tests inject 429s, 5xx, slow answers, malformed JSON, wrong content
//! types, oversized bodies, expired and revoked tokens through
//! [`FakeSpotify`]'s methods, once or, as an outage, for a while.
//!
//! This file is the whole public surface: [`FakeSpotify`] and every knob a
//! test turns. Behind it, one module per job:
//!
//! - `server`: the listener, request recording and routing, with `reply`
//!   for the JSON answers and error shape every endpoint builds;
//! - `faults`: injected failures ([`Fault`], and outages that last);
//! - `accounts`: `/authorize` and `/api/token`;
//! - `cdn`: the album covers under `/image/`;
//! - `web_api`: the `/v1` routes, with `objects` for the JSON objects
//!   they answer with;
//! - `state`: what the fake knows (apps, catalogue, users, playlists,
//!   grants) and how it mints ids and tokens;
//! - `catalogue`: turning a [`ListeningProfile`] into a user and the
//!   artists and tracks they listen to.

mod accounts;
mod catalogue;
mod cdn;
mod faults;
mod objects;
mod reply;
mod server;
mod state;
mod web_api;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::Utc;
use secrecy::SecretString;
use spotifyart_core::store::OAuthTokens;
use spotifyart_core::{ListeningProfile, TimeRange};
use url::Url;

pub use cdn::album_colours;
use faults::Outage;
pub use faults::{Fault, FaultKind};
pub use server::Recorded;
pub use state::fake_id;
use state::{PlaylistEntry, State};

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
        let state = Arc::new(Mutex::new(State::new(base.clone(), mode, app)));
        let shutdown = server::spawn(listener, state.clone());
        Ok(Self {
            base,
            state,
            shutdown: Some(shutdown),
        })
    }

    /// The base URL serving both the accounts service and the Web API.
    pub fn url(&self) -> &Url {
        &self.base
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        state::lock(&self.state)
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
        self.lock().add_user(user_id, display_name, profile)
    }

    /// Adds `n` made-up tracks by made-up artists to the end of every top
    /// list of `user` (to exercise paging).
    pub fn pad_top_lists(&self, user: &str, n: usize) {
        self.lock().pad_top_lists(user, n);
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

    /// From now until `lasting` has passed, every request whose path starts
    /// with `path_prefix` meets `kind` (queued one-shot faults still come
    /// first). An incident as Spotify has them: 5xx for a minute, 429 with
    /// an hour's `Retry-After`, or every answer slow, however many requests
    /// arrive meanwhile. `"/"` covers everything, the browser's
    /// `/authorize` page included; `"/v1/"` and `"/api/token"` are what
    /// servers call.
    pub fn outage(&self, path_prefix: &str, kind: FaultKind, lasting: Duration) {
        self.lock().outages.push(Outage {
            path: path_prefix.into(),
            kind,
            until: Instant::now() + lasting,
        });
    }

    /// Ends every outage now (Spotify is back).
    pub fn end_outages(&self) {
        self.lock().outages.clear();
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

    /// The path of album `album_id`'s cover at `side` pixels (640, 300 or
    /// 64) on the fake's CDN, for counting its requests or injecting a
    /// fault on it. An album's id is `fake_id(album name)`.
    pub fn cover_path(album_id: &str, side: u32) -> Option<String> {
        cdn::image_path(album_id, side)
    }

    /// Requests to the image CDN so far, by path.
    pub fn image_requests(&self) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for r in self.lock().requests.iter() {
            if r.path.starts_with("/image/") {
                *counts.entry(r.path.clone()).or_default() += 1;
            }
        }
        counts
    }

    /// The most image CDN requests the fake was answering at once.
    pub fn peak_image_requests(&self) -> usize {
        self.lock().peak_images_in_flight
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
            cover: None,
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

    /// The JPEG last set as playlist `id`'s cover.
    pub fn playlist_cover(&self, id: &str) -> Option<Vec<u8>> {
        self.lock()
            .playlists
            .iter()
            .find(|p| p.id == id)?
            .cover
            .clone()
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
