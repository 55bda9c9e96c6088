//! A local fake Last.fm (feature `fake`): one endpoint, `GET /2.0/?method=…`
//! like the real one, serving the methods SpotifyArt reads with the real
//! API's shapes and rules: the API key checked (error 10, HTTP 403),
//! unknown users (error 6), hidden listening (error 17), numbers as
//! strings, a list of one item sent as that item, `page`/`limit` paging
//! with `@attr.totalPages`, `limit` capped as Last.fm caps it (1000 for top
//! lists, 200 for recent tracks), and the track playing now on top of the
//! recent tracks without a date.
//!
//! - `user.getTopArtists`, `user.getTopTracks` (`period` `7day`, `1month`,
//!   `3month`, `6month`, `12month`, `overall`): counted from the user's
//!   scrobbles in the period before now;
//! - `user.getRecentTracks` (`limit`, `page`, `from`, `to`);
//! - `artist.getTopTags`: the tags set with [`FakeLastfm::artist_tags`];
//!   an artist with no tags who was scrobbled has none, any other is
//!   error 6.
//!
//! - web authentication (<https://www.last.fm/api/webauth>):
//!   `GET /api/auth/?api_key&cb` on the same origin ([`FakeLastfm::auth_url`])
//!   answers at once with a 302 to `cb` plus `token=T` for the user set with
//!   [`FakeLastfm::approve_as`] (400 without one, or without a valid key
//!   or callback); `auth.getSession` checks the `api_sig` (error 13, with
//!   the secret of [`FakeLastfm::with_shared_secret`]) and the token (4
//!   unknown, 14 not approved, 15 used before, expired after an hour or
//!   by [`FakeLastfm::expire_tokens`]) and answers `{"session": {"name",
//!   "key", "subscriber": 0}}`; `auth.getToken` gives a token nobody
//!   approved (for error 14), which `/api/auth/?api_key&token` approves.
//!
//! Tests queue failures ([`Fault`]: 5xx, error 11/16, error 29 with HTTP
//! 200 or 429, malformed JSON, any error) per method and read what was
//! asked ([`FakeLastfm::requests`], never with the key).

mod server;
mod state;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use url::Url;

use state::{Scrobble, State, User};

/// An injected failure for the next request of one method.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// This HTTP status (a 5xx) with an HTML page, as a proxy in front of
    /// Last.fm sends.
    ServerError(u16),
    /// Error 11 (service offline) or 16 (temporarily unavailable) with
    /// this HTTP status.
    Unavailable {
        /// 11 or 16.
        code: u32,
        /// HTTP status (Last.fm sends 200 as often as a 5xx).
        status: u16,
    },
    /// Error 29, rate limit exceeded, with HTTP 200 or 429 (no
    /// `Retry-After`, as Last.fm sends it).
    RateLimited {
        /// HTTP status.
        status: u16,
    },
    /// HTTP 200 with a truncated JSON body.
    Malformed,
    /// Any Last.fm error.
    Error {
        /// Last.fm's error code.
        code: u32,
        /// HTTP status.
        status: u16,
        /// Its message.
        message: String,
    },
}

/// A request the fake received, without the API key.
#[derive(Clone, Debug)]
pub struct Recorded {
    /// The path asked for: `/2.0/` for the API, `/api/auth/` for the
    /// web-auth page.
    pub path: String,
    /// The `method` parameter (empty on the web-auth page) (e.g. `user.getRecentTracks`).
    pub method: String,
    /// The other parameters, `api_key` left out.
    pub params: Vec<(String, String)>,
    /// Whether the request carried the right key.
    pub key_ok: bool,
}

impl Recorded {
    /// The value of parameter `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A running fake Last.fm on 127.0.0.1; stops when dropped.
#[derive(Debug)]
pub struct FakeLastfm {
    url: Url,
    state: Arc<Mutex<State>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for FakeLastfm {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl FakeLastfm {
    /// Starts a fake on a free port that accepts `api_key`.
    pub async fn start(api_key: &str) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let addr = listener.local_addr()?;
        let url = Url::parse(&format!("http://{addr}/2.0/")).expect("valid URL");
        let state = Arc::new(Mutex::new(State::new(api_key)));
        let shutdown = server::spawn(listener, state.clone());
        Ok(Self {
            url,
            state,
            shutdown: Some(shutdown),
        })
    }

    /// The API root (`http://127.0.0.1:PORT/2.0/`), for
    /// `LastfmConfig::api_url`.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The web-auth page (`http://127.0.0.1:PORT/api/auth/`), for
    /// `LastfmConfig::auth_url`.
    pub fn auth_url(&self) -> Url {
        self.url.join("/api/auth/").expect("valid URL")
    }

    /// The same fake, whose signed methods (`auth.getSession`) need
    /// signatures made with `secret`. Without one, every signature is
    /// wrong (error 13).
    pub fn with_shared_secret(self, secret: &str) -> Self {
        self.lock().shared_secret = Some(secret.to_string());
        self
    }

    /// Who is signed in on the web-auth page and approves the app at once
    /// (`None`: nobody, and the page answers 400). The name need not be a
    /// user added with scrobbles; one that is comes back spelt as added.
    pub fn approve_as(&self, user: Option<&str>) {
        self.lock().approve_as = user.map(str::to_string);
    }

    /// Every token given out so far expires (error 15), as an hour passing
    /// would.
    pub fn expire_tokens(&self) {
        for t in self.lock().tokens.values_mut() {
            t.spent = true;
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds (or replaces) user `name` with `scrobbles`, each `(unix time,
    /// artist, track, album)`; an empty album is none. Top lists are
    /// counted from them per period; the newest one's track is playing now
    /// (see [`FakeLastfm::now_playing`]). Names are matched ignoring case,
    /// as Last.fm does.
    pub fn add_user(&self, name: &str, scrobbles: Vec<(i64, &str, &str, &str)>) {
        let mut scrobbles: Vec<Scrobble> = scrobbles
            .into_iter()
            .map(|(ts, artist, track, album)| Scrobble {
                ts,
                artist: artist.into(),
                track: track.into(),
                album: album.into(),
            })
            .collect();
        scrobbles.sort_by_key(|s| std::cmp::Reverse(s.ts));
        let now_playing = scrobbles.first().cloned();
        self.lock().users.insert(
            name.to_lowercase(),
            User {
                name: name.into(),
                scrobbles,
                now_playing,
                private: false,
                hide_recent: false,
            },
        );
    }

    /// What `user` is playing now, `(artist, track, album)`, or nothing.
    pub fn now_playing(&self, user: &str, track: Option<(&str, &str, &str)>) {
        if let Some(u) = self.lock().users.get_mut(&user.to_lowercase()) {
            u.now_playing = track.map(|(artist, track, album)| Scrobble {
                ts: 0,
                artist: artist.into(),
                track: track.into(),
                album: album.into(),
            });
        }
    }

    /// Sets `artist`'s top tags, `(tag, count)`, in any order.
    pub fn artist_tags(&self, artist: &str, tags: &[(&str, u64)]) {
        self.lock().tags.insert(
            artist.to_lowercase(),
            tags.iter().map(|(t, c)| (t.to_string(), *c)).collect(),
        );
    }

    /// Whether `user` hides all their listening: every `user.*` method
    /// answers error 17 ("Login: User required to be logged in").
    pub fn private(&self, user: &str, private: bool) {
        if let Some(u) = self.lock().users.get_mut(&user.to_lowercase()) {
            u.private = private;
        }
    }

    /// Whether `user` hides only their recent listening (Last.fm's "Hide
    /// recent listening information"): `user.getRecentTracks` answers
    /// error 17, the top lists still answer.
    pub fn hide_recent(&self, user: &str, hide: bool) {
        if let Some(u) = self.lock().users.get_mut(&user.to_lowercase()) {
            u.hide_recent = hide;
        }
    }

    /// The next `times` requests of `method` (e.g. `user.getTopArtists`;
    /// `""` for any) fail with `fault`.
    pub fn fail_next(&self, method: &str, fault: Fault, times: usize) {
        let mut s = self.lock();
        for _ in 0..times {
            s.faults.push_back((method.to_lowercase(), fault.clone()));
        }
    }

    /// Drops every queued fault.
    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    /// Requests received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.lock().requests.clone()
    }

    /// How many requests went to `path` (e.g. `/api/auth/`).
    pub fn count_path(&self, path: &str) -> usize {
        self.lock()
            .requests
            .iter()
            .filter(|r| r.path == path)
            .count()
    }

    /// How many requests asked for `method` (ignoring case).
    pub fn count(&self, method: &str) -> usize {
        self.lock()
            .requests
            .iter()
            .filter(|r| r.method.eq_ignore_ascii_case(method))
            .count()
    }
}
