//! The playlist archive job: copy the tracks of one playlist that are not
//! yet in an archive playlist into it, for every user with stored tokens.
//!
//! Idempotent by construction: each run reads both playlists and adds only
//! the difference, so a track is never added twice and a run that failed
//! half-way is finished by the next one. Spotify's own algorithmic
//! playlists (Discover Weekly, Release Radar) are not readable by apps
//! created since November 2024, so this works on the user's own (and
//! followed, user-made) playlists.

use std::collections::HashSet;
use std::sync::Arc;

use serde::Serialize;
use spotifyart_core::{Result, Store, UserId};

use crate::api::{StoredTokens, UserApi, spotify_id};
use crate::auth::SpotifyAuth;
use crate::transport::SERVICE;

/// Where archived tracks go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArchiveTarget {
    /// A playlist by id, URI or link (one user's).
    Playlist(String),
    /// A playlist of each user by name, created (private) when missing.
    Named(String),
}

impl ArchiveTarget {
    /// An id, `spotify:playlist:` URI or open.spotify.com link is a
    /// playlist; anything else is a name.
    pub fn parse(text: &str) -> Self {
        match spotify_id(text, "playlist") {
            Ok(id) if text.contains(':') || text.len() == 22 => Self::Playlist(id),
            _ => Self::Named(text.trim().to_string()),
        }
    }
}

/// What one archive run did for one user.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ArchiveReport {
    /// The archive playlist's id.
    pub playlist: String,
    /// Whether the archive playlist was created by this run.
    pub created: bool,
    /// Tracks added now.
    pub added: usize,
    /// Tracks of the source already in the archive.
    pub already_archived: usize,
    /// Local files and entries Spotify no longer serves (cannot be added).
    pub skipped: usize,
}

/// Archives `from` into `to` for the user `api` speaks for.
pub async fn archive_playlist(
    api: &UserApi,
    from: &str,
    to: &ArchiveTarget,
) -> Result<ArchiveReport> {
    let source = api.playlist_items(from).await?;
    let mut report = ArchiveReport::default();
    report.playlist = match to {
        ArchiveTarget::Playlist(id) => spotify_id(id, "playlist")?,
        ArchiveTarget::Named(name) => {
            let me = api.me().await?;
            let existing = api
                .my_playlists()
                .await?
                .into_iter()
                .find(|p| &p.name == name && p.owner.as_ref().is_none_or(|o| o.id == me.id));
            match existing {
                Some(p) => p.id,
                None => {
                    report.created = true;
                    api.create_playlist(name, "Archived by SpotifyArt")
                        .await?
                        .id
                }
            }
        }
    };
    let archived: HashSet<String> = api
        .playlist_items(&report.playlist)
        .await?
        .into_iter()
        .filter_map(|e| e.item.and_then(|i| i.uri))
        .collect();
    let mut seen = HashSet::new();
    let mut new = Vec::new();
    for entry in source {
        match entry.item {
            Some(item) if !item.is_local && item.uri.is_some() => {
                let uri = item.uri.unwrap_or_default();
                if archived.contains(&uri) {
                    report.already_archived += 1;
                } else if seen.insert(uri.clone()) {
                    new.push(uri);
                }
            }
            _ => report.skipped += 1,
        }
    }
    api.add_to_playlist(&report.playlist, &new).await?;
    report.added = new.len();
    tracing::info!(
        added = report.added,
        already = report.already_archived,
        created = report.created,
        "playlist archived"
    );
    Ok(report)
}

/// Runs the archive for every user with Spotify tokens in `store`. One
/// user's failure (revoked access, a missing playlist) does not stop the
/// others; each outcome is returned.
pub async fn archive_for_all(
    auth: &SpotifyAuth,
    store: Arc<dyn Store>,
    from: &str,
    to: &ArchiveTarget,
) -> Result<Vec<(UserId, Result<ArchiveReport>)>> {
    let mut out = Vec::new();
    for user in store.token_users(SERVICE).await? {
        let api = UserApi::new(
            auth.clone(),
            Arc::new(StoredTokens::new(store.clone(), user)),
        );
        let result = archive_playlist(&api, from, to).await;
        if let Err(e) = &result {
            tracing::warn!(%user, error = %e, "playlist archive failed for a user");
        }
        out.push((user, result));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse() {
        let id = "37i9dQZF1DXcBWIGoYBM5M";
        assert_eq!(ArchiveTarget::parse(id), ArchiveTarget::Playlist(id.into()));
        assert_eq!(
            ArchiveTarget::parse(&format!("spotify:playlist:{id}")),
            ArchiveTarget::Playlist(id.into())
        );
        assert_eq!(
            ArchiveTarget::parse("Weekly archive"),
            ArchiveTarget::Named("Weekly archive".into())
        );
        assert_eq!(
            ArchiveTarget::parse("archive"),
            ArchiveTarget::Named("archive".into())
        );
    }
}
