//! A whole sign-in, refresh, 429 and 5xx with every log line captured at
//! TRACE: no code, verifier, token or client secret may appear. Alone in its
//! own test binary with a process-wide subscriber, so tracing's per-callsite
//! interest cache cannot be primed by other tests' threads.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use secrecy::{ExposeSecret, SecretString};
use spotifyart_core::MusicSource;
use spotifyart_spotify::fake::Mode;
use spotifyart_spotify::{SourceOptions, SpotifySource};
use support::*;

async fn code_for(auth: &spotifyart_spotify::SpotifyAuth) -> (String, SecretString) {
    let request = auth.authorize(&listening());
    let back = location(&consent(&request.url).await);
    let code = auth.code_from_callback(&back, &request.state).unwrap();
    (code, request.pkce_verifier)
}

/// A writer that keeps everything logged.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn no_token_code_or_secret_reaches_the_logs() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let fake = fake(Mode::Extended, Some(SECRET)).await;
    fake.rotate_refresh_tokens(true);
    let auth = auth(&fake, Some(SECRET));
    let (code, verifier) = code_for(&auth).await;
    let tokens = auth.exchange(&code, &verifier).await.unwrap();
    let (store, user) = signed_in(&fake, "sunny.listener", &listening()).await;
    store.put_tokens(user, "spotify", &tokens).await.unwrap();
    fake.expire_access_tokens();
    fake.fail_next("/v1/me/top", 503, None, 1);
    fake.fail_next("/v1/me/player", 429, Some(1), 1);
    let source =
        SpotifySource::new(auth.clone(), store.clone()).with_options(SourceOptions::default());
    source.profile(user).await.unwrap();
    let refreshed = store.tokens(user, "spotify").await.unwrap();

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("spotify access token refreshed"),
        "the flow was logged:\n{logs}"
    );
    assert!(logs.contains("rate limit"), "{logs}");
    let secrets = [
        code.clone(),
        verifier.expose_secret().to_string(),
        tokens.access_token.expose_secret().to_string(),
        tokens
            .refresh_token
            .as_ref()
            .unwrap()
            .expose_secret()
            .to_string(),
        refreshed.access_token.expose_secret().to_string(),
        refreshed
            .refresh_token
            .as_ref()
            .unwrap()
            .expose_secret()
            .to_string(),
        SECRET.to_string(),
    ];
    for s in secrets {
        assert!(!logs.contains(&s), "a secret leaked into the logs");
    }
    // Nor the Basic credentials header value.
    use base64::Engine as _;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{SECRET}"));
    assert!(!logs.contains(&basic));
}
