//! Last.fm as a listening source: anyone's public listening by username,
//! with the app's API key (no sign-in), for the people a Spotify app in
//! Development Mode (five users at most) cannot serve.
//!
//! - [`LastfmConfig`]: the API root and key (`LASTFM_API_KEY` or
//!   `LASTFM_API_KEY_FILE`, `LASTFM_API_URL`) and how much to read.
//! - [`Lastfm`]: the client. [`Lastfm::profile`] reads Last.fm's top
//!   artists and tracks for `1month`, `6month` and `overall` (SpotifyArt's
//!   short, medium and long ranges), up to 1000 recent scrobbles (five
//!   pages) for recent plays and behaviour, and the top 20 artists' tags as
//!   genres; the single methods are public too.
//! - [`LastfmSource`]: the [`MusicSource`] for SpotifyArt users with a
//!   `lastfm` account, whose account id is their Last.fm username.
//!
//! Proving who someone is (for invitations by Last.fm username) uses
//! Last.fm's web authentication: [`Lastfm::auth_url`] is the page a
//! browser is sent to, and [`Lastfm::session_user`] exchanges the token
//! Last.fm returns for the name of the user who approved, with a call
//! signed by the app's shared secret (`LASTFM_SHARED_SECRET`).
//!
//! Every call goes through `spotifyart-upstream` with Last.fm's contract
//! ([`rate_limit_rule`]: error 29 with HTTP 200 or 429), and Last.fm's
//! error codes become the core errors: 6 `NotFound` naming the user, 17
//! `Forbidden` (private listening), 10 and 26 "the API key was refused",
//! 8, 11 and 16 retried. The key travels in the query string, so it is in
//! no log line or error: the transport never records URLs, and anything
//! Last.fm echoes back is scrubbed.

mod client;
mod config;
mod profile;
mod tags;
mod wire;

use std::sync::Arc;

use async_trait::async_trait;
use spotifyart_core::source::account_name;
use spotifyart_core::{ListeningProfile, MusicSource, Result, Store, UserId};

pub use client::{
    Lastfm, MAX_RECENT_PAGE, MAX_TOP_PAGE, Scrobbles, api_signature, period, rate_limit_rule,
    validate_username,
};
pub use config::{API_URL, AUTH_URL, LastfmConfig};
pub use tags::{MAX_GENRES, genres_from_tags};

/// The provider name of Last.fm accounts in the store (their account id is
/// the Last.fm username).
pub const PROVIDER: &str = "lastfm";
/// `source.kind` of Last.fm profiles, and the source's name.
pub const SOURCE_KIND: &str = "lastfm";

/// Reads SpotifyArt users' listening from Last.fm: each user's `lastfm`
/// account in the store names whom to read.
#[derive(Clone, Debug)]
pub struct LastfmSource {
    client: Lastfm,
    store: Arc<dyn Store>,
}

impl LastfmSource {
    /// A source reading through `client` the users whose accounts `store`
    /// holds.
    pub fn new(client: Lastfm, store: Arc<dyn Store>) -> Self {
        Self { client, store }
    }

    /// The client, for reading by username.
    pub fn client(&self) -> &Lastfm {
        &self.client
    }
}

#[async_trait]
impl MusicSource for LastfmSource {
    fn name(&self) -> &str {
        SOURCE_KIND
    }

    async fn profile(&self, user: UserId) -> Result<ListeningProfile> {
        let name = account_name(&*self.store, user, PROVIDER).await?;
        self.client.profile(&name).await
    }
}
