//! The core's [`PlaylistService`] on Spotify's Web API: the user's own
//! playlists, a playlist's profile, its cover, and the archive task.

use std::sync::Arc;

use async_trait::async_trait;
use spotifyart_core::playlists::{ArchiveSummary, PlaylistService, PlaylistSummary};
use spotifyart_core::{ListeningProfile, Result, Store, UserId};

use crate::archive::{ArchiveTarget, archive_playlist};
use crate::auth::SpotifyAuth;
use crate::config::{COVER_MAX_BASE64, COVER_SCOPES};
use crate::source::{SourceOptions, SpotifySource, fetch_playlist_profile};
use crate::transport::SERVICE;

/// Users' Spotify playlists, with the tokens the store holds for them.
#[derive(Debug)]
pub struct SpotifyPlaylists {
    source: SpotifySource,
    store: Arc<dyn Store>,
}

impl SpotifyPlaylists {
    /// Playlists of users whose Spotify tokens are in `store`.
    pub fn new(auth: SpotifyAuth, store: Arc<dyn Store>) -> Self {
        Self {
            source: SpotifySource::new(auth, store.clone()),
            store,
        }
    }
}

#[async_trait]
impl PlaylistService for SpotifyPlaylists {
    async fn own_playlists(&self, user: UserId) -> Result<Vec<PlaylistSummary>> {
        let api = self.source.api(user);
        let me = api.me().await?;
        Ok(api
            .my_playlists()
            .await?
            .into_iter()
            .filter(|p| p.owner.as_ref().is_some_and(|o| o.id == me.id))
            .map(|p| PlaylistSummary {
                image_url: p
                    .images
                    .iter()
                    .min_by_key(|i| i.width.unwrap_or(u32::MAX))
                    .map(|i| i.url.clone()),
                tracks: p.items.unwrap_or_default().total,
                id: p.id,
                name: p.name,
            })
            .collect())
    }

    async fn playlist_profile(&self, user: UserId, playlist: &str) -> Result<ListeningProfile> {
        fetch_playlist_profile(&self.source.api(user), playlist, &SourceOptions::default()).await
    }

    async fn may_change_playlists(&self, user: UserId) -> Result<bool> {
        let granted = match self.store.tokens(user, SERVICE).await {
            Ok(t) => t.scopes,
            Err(spotifyart_core::Error::NotFound { .. }) => return Ok(false),
            Err(e) => return Err(e),
        };
        Ok(COVER_SCOPES.iter().all(|s| granted.iter().any(|g| g == s)))
    }

    fn cover_limit(&self) -> usize {
        COVER_MAX_BASE64
    }

    async fn set_cover(&self, user: UserId, playlist: &str, jpeg: &[u8]) -> Result<()> {
        self.source
            .api(user)
            .set_playlist_cover(playlist, jpeg)
            .await
    }

    async fn archive(&self, user: UserId, from: &str, to: &str) -> Result<ArchiveSummary> {
        let r = archive_playlist(&self.source.api(user), from, &ArchiveTarget::parse(to)).await?;
        Ok(ArchiveSummary {
            playlist: r.playlist,
            created: r.created,
            added: r.added,
            already_archived: r.already_archived,
        })
    }
}
