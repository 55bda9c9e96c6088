//! What the fake knows, behind one mutex shared by [`super::FakeSpotify`]
//! and the server: the registered apps, the catalogue, users, playlists and
//! the grants it has handed out, plus the minting of ids and tokens, so
//! every endpoint reads and changes the same world.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use spotifyart_core::TimeRange;
use url::Url;

use super::{FakeApp, Fault, Mode, Outage, Recorded};

#[derive(Clone, Debug)]
pub(super) struct ArtistEntry {
    pub name: String,
    pub genres: Vec<String>,
    pub popularity: u8,
}

#[derive(Clone, Debug)]
pub(super) struct TrackEntry {
    pub name: String,
    pub artists: Vec<String>,
    pub album: String,
    pub album_id: String,
    pub release_date: String,
    pub duration_ms: u32,
    pub explicit: bool,
    pub popularity: u8,
    pub features: Option<spotifyart_core::profile::AudioFeatures>,
}

#[derive(Clone, Debug, Default)]
pub(super) struct UserEntry {
    pub id: String,
    pub account_id: String,
    pub display_name: String,
    pub country: String,
    pub top_artists: HashMap<TimeRange, Vec<String>>,
    pub top_tracks: HashMap<TimeRange, Vec<String>>,
    /// (track id, played at), newest first.
    pub recent: Vec<(String, DateTime<Utc>)>,
}

#[derive(Clone, Debug)]
pub(super) struct PlaylistEntry {
    pub id: String,
    pub name: String,
    pub owner: String,
    pub uris: Vec<String>,
    pub snapshot: u32,
    /// The JPEG last set as its cover.
    pub cover: Option<Vec<u8>>,
}

#[derive(Clone, Debug)]
pub(super) struct CodeGrant {
    pub client_id: String,
    pub redirect_uri: String,
    pub challenge: Option<String>,
    pub user: String,
    pub scopes: String,
    pub expires: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub(super) struct AccessGrant {
    pub user: String,
    pub scopes: String,
    pub expires: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub(super) struct RefreshGrant {
    pub user: String,
    pub client_id: String,
    pub scopes: String,
}

#[derive(Debug)]
pub(super) struct State {
    pub base: Url,
    pub mode: Mode,
    pub apps: Vec<FakeApp>,
    pub artists: HashMap<String, ArtistEntry>,
    pub tracks: HashMap<String, TrackEntry>,
    pub users: Vec<UserEntry>,
    pub playlists: Vec<PlaylistEntry>,
    pub approve_as: Option<String>,
    pub deny: bool,
    pub codes: HashMap<String, CodeGrant>,
    pub access: HashMap<String, AccessGrant>,
    pub refresh: HashMap<String, RefreshGrant>,
    pub rotate_refresh: bool,
    pub token_lifetime: i64,
    pub faults: VecDeque<Fault>,
    /// Time-bounded faults, dropped once past their deadline.
    pub outages: Vec<Outage>,
    pub requests: Vec<Recorded>,
    pub counter: u64,
    /// Image CDN requests being answered now, and the most at once.
    pub images_in_flight: usize,
    pub peak_images_in_flight: usize,
}

/// Locks the state, carrying on past a test that panicked holding it.
pub(super) fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
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
    /// An empty world serving at `base` with one registered app.
    pub(super) fn new(base: Url, mode: Mode, app: FakeApp) -> Self {
        Self {
            base,
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
            outages: Vec::new(),
            requests: Vec::new(),
            counter: 0,
            images_in_flight: 0,
            peak_images_in_flight: 0,
        }
    }

    pub(super) fn next_token(&mut self, kind: &str) -> String {
        self.counter += 1;
        let mut bytes = [0u8; 24];
        rand::fill(&mut bytes);
        format!("{kind}-{}-{}", self.counter, URL_SAFE_NO_PAD.encode(bytes))
    }

    pub(super) fn issue(
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
}
