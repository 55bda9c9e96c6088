//! Shared set-up: a fake Spotify with two listeners and a client for it.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use spotifyart_core::store::NewAccount;
use spotifyart_core::{InMemoryStore, ListeningProfile, Store, UserId};
use spotifyart_spotify::fake::{FakeApp, FakeSpotify, Mode};
use spotifyart_spotify::{LISTENING_SCOPES, SpotifyAuth, SpotifyConfig};

pub const CLIENT_ID: &str = "fake-client-id";
pub const SECRET: &str = "fake-client-secret-3b9a";
pub const REDIRECT: &str = "http://127.0.0.1:8080/auth/spotify/callback";

pub fn profile(name: &str) -> ListeningProfile {
    let path = format!(
        "{}/../examples/profiles/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    ListeningProfile::from_json(&std::fs::read_to_string(path).unwrap()).unwrap()
}

pub async fn fake(mode: Mode, secret: Option<&str>) -> FakeSpotify {
    let fake = FakeSpotify::start(
        mode,
        FakeApp {
            client_id: CLIENT_ID.into(),
            client_secret: secret.map(str::to_string),
            redirect_uris: vec![REDIRECT.into()],
        },
    )
    .await
    .unwrap();
    fake.add_user(
        "sunny.listener",
        "Sunny \"Sol\" O'Brien 🌞",
        &profile("sunny"),
    );
    fake.add_user("midnight.listener", "Midnight", &profile("midnight"));
    fake
}

/// Fast retries so failure tests take milliseconds.
pub fn config(fake: &FakeSpotify, secret: Option<&str>) -> SpotifyConfig {
    let mut c = SpotifyConfig::new(CLIENT_ID, REDIRECT)
        .unwrap()
        .with_base_url(fake.url());
    if let Some(s) = secret {
        c = c.with_secret(s);
    }
    c.request_timeout = Duration::from_millis(800);
    c.backoff = Duration::from_millis(10);
    c.max_rate_limit_wait = Duration::from_secs(3);
    c
}

pub fn auth(fake: &FakeSpotify, secret: Option<&str>) -> SpotifyAuth {
    SpotifyAuth::new(config(fake, secret)).unwrap()
}

/// A store holding a user with tokens the fake issued for `spotify_user`.
pub async fn signed_in(
    fake: &FakeSpotify,
    spotify_user: &str,
    scopes: &[&str],
) -> (Arc<dyn Store>, UserId) {
    let store: Arc<dyn Store> = Arc::new(InMemoryStore::new());
    let user = add_user(&store, fake, spotify_user, scopes).await;
    (store, user)
}

pub async fn add_user(
    store: &Arc<dyn Store>,
    fake: &FakeSpotify,
    spotify_user: &str,
    scopes: &[&str],
) -> UserId {
    let user = store
        .upsert_account(
            &NewAccount {
                provider: "spotify".into(),
                account_id: spotify_user.into(),
                display_name: None,
                scopes: scopes.iter().map(|s| s.to_string()).collect(),
            },
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    store
        .put_tokens(user.id, "spotify", &fake.issue_tokens(spotify_user, scopes))
        .await
        .unwrap();
    user.id
}

pub fn listening() -> Vec<&'static str> {
    LISTENING_SCOPES.to_vec()
}

/// Follows `/authorize` like a browser whose user clicks "Agree", and
/// returns where Spotify sends it back.
pub async fn consent(url: &url::Url) -> reqwest::Response {
    spotifyart_spotify::install_crypto_provider();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(url.clone())
        .send()
        .await
        .unwrap()
}

pub fn location(resp: &reqwest::Response) -> String {
    resp.headers()
        .get("location")
        .expect("a redirect")
        .to_str()
        .unwrap()
        .to_string()
}
