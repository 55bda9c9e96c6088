//! Signed-in Spotify users in a store: finishing a sign-in (the code
//! exchanged, the account and its encrypted tokens stored) and finding a
//! signed-in account again. The server, the CLI and Python share these.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use spotifyart_core::store::{OAuthTokens, User};
use spotifyart_core::{Error, Result, Store, UserId};

use crate::api::{MemoryTokens, UserApi};
use crate::auth::SpotifyAuth;
use crate::model::CurrentUser;
use crate::transport::SERVICE;

/// A finished sign-in.
#[derive(Debug)]
pub struct SignedIn {
    /// The user in the store (created on their first sign-in).
    pub user: User,
    /// Who Spotify says they are.
    pub me: CurrentUser,
    /// Their tokens, also stored (encrypted by persistent stores).
    pub tokens: OAuthTokens,
}

/// Exchanges an authorization `code` (with its PKCE verifier), reads
/// `/v1/me`, and stores the account and tokens. Nothing is stored unless
/// every step succeeded.
pub async fn sign_in(
    auth: &SpotifyAuth,
    store: &Arc<dyn Store>,
    code: &str,
    pkce_verifier: &SecretString,
    now: DateTime<Utc>,
) -> Result<SignedIn> {
    let tokens = auth.exchange(code, pkce_verifier).await?;
    let held = Arc::new(MemoryTokens::new(tokens));
    let api = UserApi::new(auth.clone(), held.clone());
    let me = api.me().await?;
    // The call may have refreshed them (a 401, or a token issued within
    // the refresh margin): store what the client holds now, since Spotify
    // may have retired the refresh token it was given first.
    let tokens = held.current().ok_or(Error::Revoked {
        provider: SERVICE.into(),
    })?;
    let user = store
        .upsert_account(&crate::new_account(&me, &tokens.scopes), now)
        .await?;
    store.put_tokens(user.id, SERVICE, &tokens).await?;
    Ok(SignedIn { user, me, tokens })
}

/// The signed-in user an account name means: `None` (or `me`) is the only
/// user with Spotify tokens in `store`; otherwise a Spotify account id.
/// Errors say who is signed in when the choice is ambiguous.
pub async fn signed_in_user(store: &Arc<dyn Store>, account: Option<&str>) -> Result<UserId> {
    let who = account.filter(|a| *a != "me");
    let users = store.token_users(SERVICE).await?;
    if users.is_empty() {
        return Err(Error::not_found(
            "a signed-in Spotify account in this store",
        ));
    }
    let mut found = Vec::new();
    for user in &users {
        for a in store.accounts(*user).await? {
            if a.provider == SERVICE && who.is_none_or(|w| a.account_id == w) {
                found.push((*user, a.account_id));
            }
        }
    }
    match found.as_slice() {
        [(user, _)] => Ok(*user),
        [] => Err(Error::not_found(format!(
            "signed-in Spotify account {:?}",
            who.unwrap_or_default()
        ))),
        many => Err(Error::invalid(format!(
            "several Spotify accounts are signed in ({}); name one",
            many.iter()
                .map(|(_, a)| a.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}
