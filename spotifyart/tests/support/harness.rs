//! The hosted API's `warp::test` harness: an in-memory store (that can
//! go down), a manual clock, the fake Spotify, and browsers as cookie jars.

use std::sync::Arc;

use serde_json::Value;
use spotifyart_core::engine::JobSettings;
use spotifyart_core::source::ByProvider;
use spotifyart_core::testing::{ManualClock, OutageStore};
use spotifyart_core::{
    Engine, Error, GenerationContext, GeneratorSet, ImageGenerator, InMemoryStore, ModelInfo,
    PalettePainter, Store,
};
use spotifyart_http::{AppState, Scrobbles, ServerConfig, app};
use spotifyart_scrobbles::fake::lastfm::FakeLastfm;
use spotifyart_scrobbles::fake::listenbrainz::FakeListenBrainz;
use spotifyart_scrobbles::lastfm::{Lastfm, LastfmConfig, LastfmSource};
use spotifyart_scrobbles::listenbrainz::{ListenBrainz, ListenBrainzConfig, ListenBrainzSource};
use spotifyart_spotify::fake::FakeSpotify;
use spotifyart_spotify::{SpotifyAuth, SpotifyConfig, SpotifyPlaylists, SpotifySource};
use warp::http::{Response, StatusCode};
use warp::hyper::body::Bytes;

pub const PUBLIC: &str = "http://127.0.0.1:8080";
pub const REDIRECT: &str = "http://127.0.0.1:8080/auth/spotify/callback";
pub const LASTFM_KEY: &str = "0123456789abcdef0123456789abcdef";
pub const LASTFM_SECRET: &str = "fedcba9876543210fedcba9876543210";

use super::service::{CLIENT_ID, fake_for, profile};

/// A generator that always fails, as a model that cannot load would.
#[derive(Debug)]
pub struct Broken;

impl ImageGenerator for Broken {
    fn models(&self) -> Vec<ModelInfo> {
        let mut m = PalettePainter.models().remove(0);
        m.id = "broken".into();
        vec![m]
    }
    fn generate(
        &self,
        _: &spotifyart_core::ArtRequest,
        _: &GenerationContext,
    ) -> spotifyart_core::Result<spotifyart_core::GeneratedImage> {
        Err(Error::model(
            "the weights are missing: unet/diffusion_pytorch_model.safetensors",
        ))
    }
}

pub struct Harness {
    pub fake: FakeSpotify,
    pub listenbrainz: FakeListenBrainz,
    pub lastfm: FakeLastfm,
    pub state: AppState,
    pub store: Arc<dyn Store>,
    pub outage: Arc<OutageStore<InMemoryStore>>,
    pub clock: Arc<ManualClock>,
    auth: SpotifyAuth,
    config: ServerConfig,
}

pub async fn harness() -> Harness {
    harness_with(|_| {}).await
}

pub async fn harness_with(tweak: impl FnOnce(&mut ServerConfig)) -> Harness {
    let fake = fake_for(PUBLIC).await;
    fake.add_user("third.listener", "Third", &profile("sunny"));
    let listenbrainz = FakeListenBrainz::start().await.unwrap();
    let lastfm = FakeLastfm::start(LASTFM_KEY)
        .await
        .unwrap()
        .with_shared_secret(LASTFM_SECRET);
    let outage = Arc::new(OutageStore::new(InMemoryStore::new()));
    let store: Arc<dyn Store> = outage.clone();
    let auth = SpotifyAuth::new(
        SpotifyConfig::new(CLIENT_ID, REDIRECT)
            .unwrap()
            .with_base_url(fake.url()),
    )
    .unwrap();
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let mut config = ServerConfig::new(PUBLIC.parse().unwrap(), "palette");
    config.models.push("broken".into());
    tweak(&mut config);
    let state = replica_state(&store, &auth, &clock, &config, &listenbrainz, &lastfm);
    Harness {
        fake,
        listenbrainz,
        lastfm,
        state,
        store,
        outage,
        clock,
        auth,
        config,
    }
}

/// One server process's state over `store`: its own engine, caches and
/// in-process limits.
fn replica_state(
    store: &Arc<dyn Store>,
    auth: &SpotifyAuth,
    clock: &Arc<ManualClock>,
    config: &ServerConfig,
    listenbrainz: &FakeListenBrainz,
    lastfm: &FakeLastfm,
) -> AppState {
    let lb =
        ListenBrainz::new(ListenBrainzConfig::with_api_url(listenbrainz.url().clone())).unwrap();
    let mut fm = LastfmConfig::new(LASTFM_KEY)
        .with_api_url(lastfm.url().clone())
        .with_shared_secret(LASTFM_SECRET);
    fm.auth_url = lastfm.auth_url();
    let fm = Lastfm::new(fm).unwrap();
    let sources = ByProvider::new(store.clone())
        .with(
            spotifyart_spotify::PROVIDER,
            Arc::new(SpotifySource::new(auth.clone(), store.clone())),
        )
        .with(
            spotifyart_scrobbles::listenbrainz::PROVIDER,
            Arc::new(ListenBrainzSource::new(lb.clone(), store.clone())),
        )
        .with(
            spotifyart_scrobbles::lastfm::PROVIDER,
            Arc::new(LastfmSource::new(fm.clone(), store.clone())),
        );
    let engine = Engine::builder()
        .store(store.clone())
        .source(Arc::new(sources))
        .playlists(Arc::new(SpotifyPlaylists::new(auth.clone(), store.clone())))
        .generator(Arc::new(
            GeneratorSet::new()
                .with(Arc::new(PalettePainter))
                .with(Arc::new(Broken)),
        ))
        .clock(clock.clone())
        .jobs(JobSettings {
            max_attempts: 1,
            ..JobSettings::default()
        })
        .build();
    AppState::new(Arc::new(engine), Some(auth.clone()), config.clone()).with_scrobbles(Scrobbles {
        listenbrainz: Some(lb),
        lastfm: Some(fm),
    })
}

/// A browser: its cookies.
#[derive(Clone, Debug, Default)]
pub struct Browser {
    pub cookies: Vec<(String, String)>,
}

impl Browser {
    pub fn header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
    pub fn get(&self, name: &str) -> Option<String> {
        self.cookies
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }
    pub fn absorb(&mut self, resp: &Response<Bytes>) {
        for c in resp.headers().get_all("set-cookie") {
            let c = c.to_str().unwrap();
            let (pair, attrs) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = pair.split_once('=').unwrap();
            self.cookies.retain(|(name, _)| name != k);
            if !attrs.contains("Max-Age=0") {
                self.cookies.push((k.to_string(), v.to_string()));
            }
        }
    }
    pub fn request(&self, method: &str, path: &str) -> warp::test::RequestBuilder {
        let mut r = warp::test::request()
            .method(method)
            .path(path)
            .remote_addr(([10, 0, 0, 1], 5555).into());
        if !self.cookies.is_empty() {
            r = r.header("cookie", self.header());
        }
        if method != "GET" {
            if let Some(csrf) = self.get("sa_csrf") {
                r = r.header("x-csrf-token", csrf);
            }
            r = r.header("origin", PUBLIC);
        }
        r
    }
}

impl Harness {
    /// A second server on the same store (another replica).
    pub fn replica(&self) -> AppState {
        replica_state(
            &self.store,
            &self.auth,
            &self.clock,
            &self.config,
            &self.listenbrainz,
            &self.lastfm,
        )
    }

    /// Sends to another server's state.
    pub async fn send_to(&self, to: &AppState, req: warp::test::RequestBuilder) -> Response<Bytes> {
        req.reply(&app(to.clone())).await
    }

    pub async fn send(&self, req: warp::test::RequestBuilder) -> Response<Bytes> {
        req.reply(&app(self.state.clone())).await
    }

    pub async fn get(&self, b: &Browser, path: &str) -> Response<Bytes> {
        self.send(b.request("GET", path)).await
    }

    pub async fn post(&self, b: &Browser, path: &str, body: Option<Value>) -> Response<Bytes> {
        let mut r = b.request("POST", path);
        if let Some(body) = body {
            r = r
                .header("content-type", "application/json")
                .body(body.to_string());
        } else {
            r = r.header("content-length", "0");
        }
        self.send(r).await
    }

    /// Sends `body` as JSON with `method` (PUT, DELETE, …).
    pub async fn send_json(
        &self,
        b: &Browser,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Response<Bytes> {
        let mut r = b.request(method, path);
        if let Some(body) = body {
            r = r
                .header("content-type", "application/json")
                .body(body.to_string());
        } else {
            r = r.header("content-length", "0");
        }
        self.send(r).await
    }

    /// Starts a sign-in; returns the browser (with its sign-in cookie) and
    /// where Spotify sends it back after consent.
    pub async fn start_sign_in(&self, spotify_user: &str, next: &str) -> (Browser, String) {
        let mut b = Browser::default();
        let resp = self
            .get(&b, &format!("/auth/spotify/login?next={next}"))
            .await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER, "{resp:?}");
        b.absorb(&resp);
        assert!(b.get("sa_oauth").is_some());
        let to_spotify = location(&resp);
        assert!(
            to_spotify.contains("code_challenge_method=S256"),
            "{to_spotify}"
        );
        self.fake.approve_as(spotify_user);
        let consent = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .get(&to_spotify)
            .send()
            .await
            .unwrap();
        let back = consent
            .headers()
            .get("location")
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        assert!(back.starts_with(REDIRECT), "{back}");
        let path = back.strip_prefix(PUBLIC).unwrap().to_string();
        (b, path)
    }

    pub async fn sign_in(&self, spotify_user: &str) -> Browser {
        let (mut b, callback) = self.start_sign_in(spotify_user, "/discover").await;
        let resp = self.get(&b, &callback).await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&resp), "/discover");
        b.absorb(&resp);
        assert!(b.get("sa_session").is_some(), "{resp:?}");
        assert!(b.get("sa_oauth").is_none(), "the sign-in cookie is cleared");
        b
    }

    /// Runs one queued job in this process.
    pub async fn work(&self) -> spotifyart_core::store::Job {
        self.state
            .engine()
            .run_next_job("test-worker")
            .await
            .unwrap()
            .expect("a job to run")
    }
}

pub fn location(resp: &Response<Bytes>) -> String {
    resp.headers()["location"].to_str().unwrap().to_string()
}

pub fn body(resp: &Response<Bytes>) -> Value {
    serde_json::from_slice(resp.body())
        .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", resp.body()))
}

pub fn error_code(resp: &Response<Bytes>) -> String {
    body(resp)["error"]["code"].as_str().unwrap().to_string()
}
