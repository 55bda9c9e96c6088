//! Sign-in, refresh and revocation against the fake Spotify.

mod support;

use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use spotifyart_core::{Error, MusicSource};
use spotifyart_spotify::fake::Mode;
use spotifyart_spotify::{MemoryTokens, SpotifySource, TokenCache, UserApi};
use support::*;

/// The browser leg: authorize, consent, callback; returns the code.
async fn code_for(auth: &spotifyart_spotify::SpotifyAuth) -> (String, SecretString) {
    let request = auth.authorize(&listening());
    let resp = consent(&request.url).await;
    assert_eq!(resp.status(), 302);
    let back = location(&resp);
    assert!(back.starts_with(REDIRECT), "{back}");
    let code = auth.code_from_callback(&back, &request.state).unwrap();
    (code, request.pkce_verifier)
}

#[tokio::test]
async fn public_client_signs_in_with_pkce() {
    let fake = fake(Mode::Development, None).await;
    let auth = auth(&fake, None);
    let (code, verifier) = code_for(&auth).await;
    let tokens = auth.exchange(&code, &verifier).await.unwrap();
    assert!(tokens.refresh_token.is_some());
    assert_eq!(tokens.scopes, listening());
    assert!(tokens.expires_at > chrono::Utc::now() + chrono::Duration::minutes(59));

    let api = UserApi::new(auth.clone(), Arc::new(MemoryTokens::new(tokens)));
    let me = api.me().await.unwrap();
    assert_eq!(me.display_name.as_deref(), Some("Sunny \"Sol\" O'Brien 🌞"));
    assert!(
        me.account_id.is_some(),
        "Development Mode /v1/me carries account_id"
    );
    assert_eq!(me.country, None, "and no country");
    let account = spotifyart_spotify::new_account(
        &me,
        &listening()
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>(),
    );
    assert_eq!(account.account_id, me.account_id.unwrap());

    // A code is single-use.
    let e = auth.exchange(&code, &verifier).await.unwrap_err();
    assert_eq!(e.code(), "unauthorized", "{e}");
}

#[tokio::test]
async fn confidential_client_signs_in_and_wrong_secret_is_refused() {
    let fake = fake(Mode::Development, Some(SECRET)).await;
    let auth = auth(&fake, Some(SECRET));
    let (code, verifier) = code_for(&auth).await;
    auth.exchange(&code, &verifier).await.unwrap();

    let wrong = support::auth(&fake, Some("not-the-secret"));
    let (code, verifier) = code_for(&wrong).await;
    let e = wrong.exchange(&code, &verifier).await.unwrap_err();
    assert_eq!(e.code(), "unauthorized");
    assert!(e.to_string().contains("SPOTIFY_CLIENT_SECRET"), "{e}");
}

#[tokio::test]
async fn pkce_verifier_and_redirect_uri_are_enforced() {
    let fake = fake(Mode::Development, None).await;
    let auth = auth(&fake, None);
    let (code, _) = code_for(&auth).await;
    let forged = SecretString::from("a".repeat(64));
    let e = auth.exchange(&code, &forged).await.unwrap_err();
    assert_eq!(e.code(), "unauthorized");
    assert!(e.to_string().contains("PKCE"), "{e}");

    // An unregistered redirect URI never gets a code.
    let mut config = config(&fake, None);
    config.redirect_uri = "http://127.0.0.1:9999/elsewhere".parse().unwrap();
    let other = spotifyart_spotify::SpotifyAuth::new(config).unwrap();
    let resp = consent(&other.authorize(&listening()).url).await;
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("Invalid redirect URI"));
}

#[tokio::test]
async fn declined_consent_and_forged_state_are_refused() {
    let fake = fake(Mode::Development, None).await;
    let auth = auth(&fake, None);
    fake.deny_consent(true);
    let request = auth.authorize(&listening());
    let back = location(&consent(&request.url).await);
    let e = auth.code_from_callback(&back, &request.state).unwrap_err();
    assert!(e.to_string().contains("access_denied"), "{e}");
    fake.deny_consent(false);
    let request = auth.authorize(&listening());
    let back = location(&consent(&request.url).await);
    let other = auth.authorize(&listening());
    let e = auth.code_from_callback(&back, &other.state).unwrap_err();
    assert_eq!(e.code(), "unauthorized");
}

#[tokio::test]
async fn refresh_keeps_the_refresh_token_when_not_rotated() {
    let fake = fake(Mode::Development, None).await;
    let auth = auth(&fake, None);
    let tokens = fake.issue_tokens("sunny.listener", &listening());
    let fresh = auth.refresh(&tokens).await.unwrap();
    assert_ne!(
        fresh.access_token.expose_secret(),
        tokens.access_token.expose_secret()
    );
    assert_eq!(
        fresh.refresh_token.as_ref().unwrap().expose_secret(),
        tokens.refresh_token.as_ref().unwrap().expose_secret()
    );
    assert_eq!(fresh.scopes, tokens.scopes);
    // The kept refresh token still works.
    auth.refresh(&fresh).await.unwrap();
}

#[tokio::test]
async fn refresh_keeps_the_newest_refresh_token_when_rotated() {
    let fake = fake(Mode::Development, None).await;
    fake.rotate_refresh_tokens(true);
    let auth = auth(&fake, None);
    let (store, user) = signed_in(&fake, "sunny.listener", &listening()).await;
    let old = store.tokens(user, "spotify").await.unwrap();
    fake.expire_access_tokens();
    let api = SpotifySource::new(auth.clone(), store.clone()).api(user);
    api.me().await.unwrap();
    let new = store.tokens(user, "spotify").await.unwrap();
    assert_ne!(
        new.refresh_token.as_ref().unwrap().expose_secret(),
        old.refresh_token.as_ref().unwrap().expose_secret(),
        "the rotated refresh token is stored"
    );
    // The retired one is refused; the stored one works.
    let e = auth.refresh(&old).await.unwrap_err();
    assert_eq!(e.code(), "revoked");
    auth.refresh(&new).await.unwrap();
}

#[tokio::test]
async fn expired_access_token_is_refreshed_once_and_retried() {
    let fake = fake(Mode::Development, None).await;
    let auth = auth(&fake, None);
    let (store, user) = signed_in(&fake, "sunny.listener", &listening()).await;
    fake.expire_access_tokens();
    let api = SpotifySource::new(auth, store.clone()).api(user);
    let before = fake.count("/api/token");
    api.me().await.unwrap();
    assert_eq!(fake.count("/api/token") - before, 1, "one refresh");
    assert_eq!(fake.count("/v1/me"), 2, "the call and its one retry");
    api.me().await.unwrap();
    assert_eq!(
        fake.count("/api/token") - before,
        1,
        "no refresh while fresh"
    );

    // Tokens that expire within a minute are refreshed before the call.
    let mut t = store.tokens(user, "spotify").await.unwrap();
    t.expires_at = chrono::Utc::now() + chrono::Duration::seconds(30);
    store.put_tokens(user, "spotify", &t).await.unwrap();
    api.me().await.unwrap();
    assert_eq!(fake.count("/api/token") - before, 2);
}

#[tokio::test]
async fn revoked_refresh_token_is_a_distinct_error_and_forgets_tokens() {
    let fake = fake(Mode::Development, None).await;
    let auth = auth(&fake, None);
    let (store, user) = signed_in(&fake, "sunny.listener", &listening()).await;
    fake.revoke("sunny.listener");
    let source = SpotifySource::new(auth, store.clone());
    let e = source.profile(user).await.unwrap_err();
    assert!(matches!(e, Error::Revoked { .. }), "{e:?}");
    assert_eq!(e.code(), "revoked");
    assert_eq!(
        store.tokens(user, "spotify").await.unwrap_err().code(),
        "not_found",
        "useless tokens are dropped"
    );
    // Memory tokens behave the same.
    let tokens = Arc::new(MemoryTokens::new(
        fake.issue_tokens("midnight.listener", &listening()),
    ));
    fake.revoke("midnight.listener");
    let api = UserApi::new(support::auth(&fake, None), tokens.clone());
    assert_eq!(api.me().await.unwrap_err().code(), "revoked");
    assert!(tokens.load().await.is_err());
}

/// Two servers (each with its own in-process lock, one shared store) refresh
/// one user's tokens at the same moment, with Spotify rotating refresh
/// tokens: one refresh happens, the other server uses its result, and
/// nobody is signed out. Before the lease in the store, the loser's
/// `invalid_grant` deleted the winner's fresh tokens.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn servers_refreshing_one_user_at_once_share_one_refresh() {
    let fake = fake(Mode::Development, None).await;
    fake.rotate_refresh_tokens(true);
    let (store, user) = signed_in(&fake, "sunny.listener", &listening()).await;
    let servers: Vec<UserApi> = (0..3)
        .map(|_| SpotifySource::new(auth(&fake, None), store.clone()).api(user))
        .collect();
    for round in 0..10 {
        let before = fake.count("/api/token");
        if round % 2 == 0 {
            // Spotify expired the token early: every server gets a 401.
            fake.expire_access_tokens();
        } else {
            // The stored token is inside the refresh margin.
            let mut t = store.tokens(user, "spotify").await.unwrap();
            t.expires_at = chrono::Utc::now() + chrono::Duration::seconds(5);
            store.put_tokens(user, "spotify", &t).await.unwrap();
        }
        let calls = servers.iter().map(|api| api.me());
        for result in futures_util::future::join_all(calls).await {
            result.unwrap_or_else(|e| panic!("round {round}: {e}"));
        }
        assert_eq!(
            fake.count("/api/token") - before,
            1,
            "round {round}: one refresh for all servers"
        );
        assert!(
            store.tokens(user, "spotify").await.is_ok(),
            "still signed in"
        );
    }
}

/// A sign-in whose `/v1/me` call refreshes the tokens (Spotify issued an
/// access token inside the refresh margin, and rotates refresh tokens)
/// stores the refreshed tokens, not the retired ones.
#[tokio::test]
async fn sign_in_stores_the_tokens_it_ends_with() {
    let fake = fake(Mode::Development, None).await;
    fake.rotate_refresh_tokens(true);
    fake.set_token_lifetime(30);
    let auth = auth(&fake, None);
    let (code, verifier) = code_for(&auth).await;
    let store: Arc<dyn spotifyart_core::Store> = Arc::new(spotifyart_core::InMemoryStore::new());
    let before = fake.count("/api/token");
    let signed = spotifyart_spotify::sign_in(&auth, &store, &code, &verifier, chrono::Utc::now())
        .await
        .unwrap();
    assert_eq!(
        fake.count("/api/token") - before,
        2,
        "the code exchange and one refresh"
    );
    let stored = store.tokens(signed.user.id, "spotify").await.unwrap();
    assert_eq!(
        stored
            .refresh_token
            .as_ref()
            .map(|r| r.expose_secret().to_string()),
        signed
            .tokens
            .refresh_token
            .as_ref()
            .map(|r| r.expose_secret().to_string()),
    );
    // The stored refresh token is the live one: the next refresh works.
    fake.set_token_lifetime(3600);
    let source = SpotifySource::new(auth, store.clone());
    source.profile(signed.user.id).await.unwrap();
    assert!(store.tokens(signed.user.id, "spotify").await.is_ok());
}
