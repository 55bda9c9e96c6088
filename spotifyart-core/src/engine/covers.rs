//! Playlist covers: a playlist's mood painted like any other picture
//! (through the content key, so a cover is never painted twice) and set as
//! its cover at the provider.

use std::sync::Arc;

use super::{Engine, PreparedArt, subject_one};
use crate::access;
use crate::art::{ArtParams, CoverJpeg, GenerationContext, cover_jpeg};
use crate::ids::{ArtworkId, UserId};
use crate::mood::Mood;
use crate::playlists::{PlaylistService, PlaylistSummary};
use crate::{ArtOutcome, Error, Result};

impl Engine {
    /// The provider's playlists; `NotSupported` when this engine has none
    /// (no Spotify app configured).
    pub fn playlists(&self) -> Result<&Arc<dyn PlaylistService>> {
        self.playlists.as_ref().ok_or_else(|| Error::NotSupported {
            message: "playlists are not available: no music provider is configured".into(),
        })
    }

    /// Whether the user granted what changing their playlists needs, and
    /// then their own playlists (without it, none: callers ask for it
    /// before offering covers or schedules).
    pub async fn own_playlists(&self, user: UserId) -> Result<(bool, Vec<PlaylistSummary>)> {
        let playlists = self.playlists()?;
        let consent = playlists.may_change_playlists(user).await;
        self.end_sessions_if_revoked(user, &consent).await;
        if !consent? {
            // Listing needs the consent too (private playlists).
            return Ok((false, Vec::new()));
        }
        let list = playlists.own_playlists(user).await;
        self.end_sessions_if_revoked(user, &list).await;
        Ok((true, list?))
    }

    /// A playlist's mood and the picture it paints (prepared, not
    /// painted): `user`'s picture, so it joins their gallery and only they
    /// may see it.
    pub async fn prepare_cover(
        &self,
        user: UserId,
        playlist: &str,
        params: &ArtParams,
    ) -> Result<(Mood, PreparedArt)> {
        let profile = self.playlists()?.playlist_profile(user, playlist).await;
        self.end_sessions_if_revoked(user, &profile).await;
        let mood = self.mood_of(&profile?)?;
        let art = self.prepare(subject_one(Some(user), mood.clone()), params)?;
        Ok((mood, art))
    }

    /// The painting as a cover: a square JPEG within the provider's limit.
    pub fn cover_of(&self, png: &[u8]) -> Result<CoverJpeg> {
        cover_jpeg(png, self.playlists()?.cover_limit())
    }

    /// Sets `cover` as the playlist's cover. Without the user's consent this
    /// is `Forbidden` before anything is sent.
    pub async fn upload_cover(
        &self,
        user: UserId,
        playlist: &str,
        cover: &CoverJpeg,
    ) -> Result<()> {
        let playlists = self.playlists()?;
        if !playlists.may_change_playlists(user).await? {
            return Err(Error::Forbidden {
                message: "setting playlist covers needs your permission first \
                          (sign in again and allow changing your playlists)"
                    .into(),
            });
        }
        let sent = playlists.set_cover(user, playlist, &cover.bytes).await;
        self.end_sessions_if_revoked(user, &sent).await;
        sent
    }

    /// Sets a painted artwork as the playlist's cover: the artwork must be
    /// one `user` may see (any other is `NotFound`, as if it did not exist).
    pub async fn set_cover_from(
        &self,
        user: UserId,
        playlist: &str,
        artwork: ArtworkId,
    ) -> Result<CoverJpeg> {
        let meta = self.store.artwork_meta(artwork).await?;
        if !access::may_see_artwork(&meta, user) {
            return Err(Error::not_found(format!("artwork {artwork}")));
        }
        let png = self.store.artwork(artwork).await?.png;
        let cover = self.cover_of(&png)?;
        self.upload_cover(user, playlist, &cover).await?;
        Ok(cover)
    }

    /// Paints the playlist's cover here (reusing a stored painting) and,
    /// when `upload`, sets it: the CLI's and the schedules' path.
    pub async fn paint_cover(
        &self,
        user: UserId,
        playlist: &str,
        params: &ArtParams,
        ctx: &GenerationContext,
        upload: bool,
    ) -> Result<(Mood, ArtOutcome, CoverJpeg)> {
        let (mood, art) = self.prepare_cover(user, playlist, params).await?;
        let painted = self.paint(&art, ctx).await?;
        let cover = self.cover_of(&painted.artwork().png)?;
        if upload {
            self.upload_cover(user, playlist, &cover).await?;
        }
        Ok((mood, painted, cover))
    }
}
