//! # spotifyart-spotify
//!
//! Spotify for SpotifyArt, written for the Web API as a newly registered
//! app sees it in 2026 (Development Mode), using Extended Quota data when
//! an app has it:
//!
//! - [`SpotifyAuth`]: sign-in with the authorization code flow, PKCE (S256)
//!   and `state` on the `oauth2` crate, for confidential and public clients;
//!   refresh that keeps the newest refresh token; a revoked grant is
//!   [`spotifyart_core::Error::Revoked`].
//! - [`UserApi`]: the Web API calls (`/v1/me`, top items, recently played,
//!   artists, audio features, playlists) with paging, refresh-before-expiry,
//!   one refresh and retry on 401, 429 `Retry-After`, jittered retries of
//!   5xx and connection failures, and a timeout on every request.
//! - [`SpotifySource`]: the [`spotifyart_core::MusicSource`] that builds a
//!   profile from those calls, with the colours of the most-played album
//!   covers read from Spotify's image CDN ([`CoverReader`]); wrap it in
//!   [`spotifyart_core::source::CachedSource`] to avoid refetching.
//! - [`archive`]: the playlist archive job.
//! - `fake` (feature `fake`): a local fake Spotify for tests.
//!
//! ```no_run
//! # async fn demo(store: std::sync::Arc<dyn spotifyart_core::Store>, user: spotifyart_core::UserId) -> spotifyart_core::Result<()> {
//! use spotifyart_core::MusicSource;
//! use spotifyart_spotify::{SpotifyAuth, SpotifyConfig, SpotifySource};
//!
//! let auth = SpotifyAuth::new(SpotifyConfig::from_env(None)?)?;
//! let profile = SpotifySource::new(auth, store).profile(user).await?;
//! # Ok(()) }
//! ```

mod accounts;
mod api;
pub mod archive;
mod auth;
mod config;
mod cover_colours;
#[cfg(feature = "fake")]
pub mod fake;
pub mod model;
mod playlists;
mod source;
mod transport;

pub use accounts::{SignedIn, sign_in, signed_in_user};
pub use api::{MemoryTokens, PAGE_LIMIT, StoredTokens, TokenCache, UserApi, spotify_id};
pub use auth::{AuthRequest, SpotifyAuth};
pub use config::{
    ACCOUNTS_URL, API_URL, ARCHIVE_SCOPES, COVER_MAX_BASE64, COVER_SCOPES, LISTENING_SCOPES,
    SpotifyConfig,
};
pub use cover_colours::{
    COVER_CACHE_CAPACITY, COVER_READS_IN_FLIGHT, CoverReader, MAX_COVER_IMAGE_BYTES,
};
pub use playlists::SpotifyPlaylists;
pub use source::{
    PLAYLIST_SOURCE_KIND, SOURCE_KIND, SourceOptions, SpotifySource, fetch_playlist_profile,
    fetch_profile, fetch_profile_with_covers,
};

/// Installs rustls' ring crypto provider as the process default, which
/// reqwest (built without a bundled provider) needs before any client is
/// built. The Spotify clients call it themselves; call it before building
/// your own reqwest client first. Idempotent.
pub fn install_crypto_provider() {
    spotifyart_upstream::install_crypto_provider();
}

/// The provider name under which tokens and accounts are stored.
pub const PROVIDER: &str = transport::SERVICE;

/// Account details to store after a sign-in: Spotify's stable
/// `account_id` when it sends one, else the user id.
pub fn new_account(
    me: &model::CurrentUser,
    scopes: &[String],
) -> spotifyart_core::store::NewAccount {
    spotifyart_core::store::NewAccount {
        provider: PROVIDER.to_string(),
        account_id: me.stable_id().to_string(),
        display_name: me.display_name.clone(),
        scopes: scopes.to_vec(),
    }
}
