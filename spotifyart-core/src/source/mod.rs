//! Where listening comes from. A [`MusicSource`] turns a user into a
//! [`ListeningProfile`]; implementations here read Spotify exports and
//! in-memory fixtures and histories of plays; `spotifyart-spotify`
//! implements the Web API, `spotifyart-scrobbles` ListenBrainz and Last.fm,
//! and [`ByProvider`] reads each user from their provider.

mod cache;
pub mod export;
mod fixture;
pub mod plays;
mod providers;

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;

pub use cache::CachedSource;
pub use export::{ExportOptions, ExportReader, ExportSource, read_export};
pub use fixture::FixtureSource;
pub use plays::{Play, profile_from_plays};
pub use providers::{ByProvider, account_name};

use crate::Result;
use crate::ids::UserId;
use crate::profile::ListeningProfile;

/// A user's listening, from wherever it lives. The source knows how to
/// reach that user's data (tokens, an export path); callers pass only who.
#[async_trait]
pub trait MusicSource: Send + Sync + Debug + 'static {
    /// A short stable name (`spotify_api`, `spotify_export`, `fixture`).
    fn name(&self) -> &str;

    /// The user's profile, normalised (ranks, weights, `signals` set).
    /// `NotFound` when the source knows nothing of the user.
    async fn profile(&self, user: UserId) -> Result<ListeningProfile>;

    /// The profile read now, past any cache (the user asked to refresh).
    /// Sources without a cache need not implement it.
    async fn fresh_profile(&self, user: UserId) -> Result<ListeningProfile> {
        self.profile(user).await
    }
}

#[deny(clippy::missing_trait_methods)]
#[async_trait]
impl<T: MusicSource + ?Sized> MusicSource for Arc<T> {
    fn name(&self) -> &str {
        (**self).name()
    }
    async fn profile(&self, user: UserId) -> Result<ListeningProfile> {
        (**self).profile(user).await
    }
    async fn fresh_profile(&self, user: UserId) -> Result<ListeningProfile> {
        (**self).fresh_profile(user).await
    }
}

#[deny(clippy::missing_trait_methods)]
#[async_trait]
impl<T: MusicSource + ?Sized> MusicSource for Box<T> {
    fn name(&self) -> &str {
        (**self).name()
    }
    async fn profile(&self, user: UserId) -> Result<ListeningProfile> {
        (**self).profile(user).await
    }
    async fn fresh_profile(&self, user: UserId) -> Result<ListeningProfile> {
        (**self).fresh_profile(user).await
    }
}
