//! A user's playlists at their music provider: what the cover and archive
//! tasks need. Core names the operations; the provider crate (Spotify's
//! Web API) implements them, so the engine's cover and schedule rules stay
//! here without any network code.

use std::collections::{HashMap, HashSet};
use std::fmt::Debug;
use std::sync::Mutex;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::ids::UserId;
use crate::profile::ListeningProfile;
use crate::{Error, Result};

/// One of the user's own playlists.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlaylistSummary {
    /// The provider's id.
    pub id: String,
    /// Its name, byte for byte.
    pub name: String,
    /// How many items it has.
    pub tracks: u32,
    /// Its current cover's URL (smallest image), if any.
    pub image_url: Option<String>,
}

/// What one archive run did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiveSummary {
    /// The archive playlist's id.
    pub playlist: String,
    /// Whether it was created by this run.
    pub created: bool,
    /// Tracks added now.
    pub added: usize,
    /// Tracks already there.
    pub already_archived: usize,
}

/// A user's playlists at their provider.
#[async_trait]
pub trait PlaylistService: Send + Sync + Debug + 'static {
    /// The playlists the user owns (those whose cover they may set).
    async fn own_playlists(&self, user: UserId) -> Result<Vec<PlaylistSummary>>;
    /// A playlist's items as a listening profile (tracks and artists
    /// weighted equally), for its mood.
    async fn playlist_profile(&self, user: UserId, playlist: &str) -> Result<ListeningProfile>;
    /// Whether the user granted reading and changing their playlists and
    /// setting covers; when not, the
    /// caller asks for it (incremental consent) rather than failing later.
    async fn may_change_playlists(&self, user: UserId) -> Result<bool>;
    /// The most bytes a cover's base64 form may take.
    fn cover_limit(&self) -> usize;
    /// Sets the playlist's cover (a JPEG within [`Self::cover_limit`]).
    /// `Forbidden` when it is not the user's or consent is missing.
    async fn set_cover(&self, user: UserId, playlist: &str, jpeg: &[u8]) -> Result<()>;
    /// Copies the tracks of `from` not yet in `to` into it (`to` a playlist
    /// id, URI or link, else a name created when missing).
    async fn archive(&self, user: UserId, from: &str, to: &str) -> Result<ArchiveSummary>;
}

/// One playlist held by [`InMemoryPlaylists`].
#[derive(Clone, Debug)]
struct Held {
    owner: UserId,
    name: String,
    profile: ListeningProfile,
    tracks: Vec<String>,
    cover: Option<Vec<u8>>,
}

#[derive(Default, Debug)]
struct State {
    playlists: HashMap<String, Held>,
    consent: HashSet<UserId>,
    revoked: HashSet<UserId>,
    failing: HashSet<UserId>,
    covers_set: u32,
}

/// Playlists in memory: always compiled, for tests and embedding. Users
/// can be marked as having revoked access or as failing, to exercise what
/// callers do then.
#[derive(Debug, Default)]
pub struct InMemoryPlaylists {
    state: Mutex<State>,
}

impl InMemoryPlaylists {
    /// None yet.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds `owner`'s playlist `id` whose items read as `profile`.
    pub fn add(&self, owner: UserId, id: &str, name: &str, profile: ListeningProfile) {
        let tracks = profile
            .top_tracks
            .get(crate::profile::TimeRange::MediumTerm)
            .iter()
            .map(|t| t.name.clone())
            .collect();
        self.lock().playlists.insert(
            id.to_string(),
            Held {
                owner,
                name: name.to_string(),
                profile,
                tracks,
                cover: None,
            },
        );
    }

    /// Grants (or withdraws) the cover consent.
    pub fn set_consent(&self, user: UserId, granted: bool) {
        let mut s = self.lock();
        if granted {
            s.consent.insert(user);
        } else {
            s.consent.remove(&user);
        }
    }

    /// From now on the provider answers that `user` revoked access.
    pub fn revoke(&self, user: UserId) {
        self.lock().revoked.insert(user);
    }

    /// From now on every call for `user` fails as an upstream outage.
    pub fn fail(&self, user: UserId) {
        self.lock().failing.insert(user);
    }

    /// The cover last set on a playlist.
    pub fn cover(&self, playlist: &str) -> Option<Vec<u8>> {
        self.lock().playlists.get(playlist)?.cover.clone()
    }

    /// How many covers were set in all.
    pub fn covers_set(&self) -> u32 {
        self.lock().covers_set
    }

    /// A playlist's track names.
    pub fn tracks(&self, playlist: &str) -> Vec<String> {
        self.lock()
            .playlists
            .get(playlist)
            .map(|p| p.tracks.clone())
            .unwrap_or_default()
    }

    fn check(s: &State, user: UserId) -> Result<()> {
        if s.revoked.contains(&user) {
            return Err(Error::Revoked {
                provider: "memory".into(),
            });
        }
        if s.failing.contains(&user) {
            return Err(Error::Upstream {
                service: "memory".into(),
                status: Some(503),
                message: "the provider is unavailable".into(),
            });
        }
        Ok(())
    }

    fn readable<'a>(s: &'a State, user: UserId, playlist: &str) -> Result<&'a Held> {
        Self::check(s, user)?;
        s.playlists
            .get(playlist)
            .ok_or_else(|| Error::not_found(format!("playlist {playlist}")))
    }
}

#[async_trait]
impl PlaylistService for InMemoryPlaylists {
    async fn own_playlists(&self, user: UserId) -> Result<Vec<PlaylistSummary>> {
        let s = self.lock();
        Self::check(&s, user)?;
        let mut out: Vec<PlaylistSummary> = s
            .playlists
            .iter()
            .filter(|(_, p)| p.owner == user)
            .map(|(id, p)| PlaylistSummary {
                id: id.clone(),
                name: p.name.clone(),
                tracks: p.tracks.len() as u32,
                image_url: None,
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
        Ok(out)
    }

    async fn playlist_profile(&self, user: UserId, playlist: &str) -> Result<ListeningProfile> {
        let s = self.lock();
        Ok(Self::readable(&s, user, playlist)?.profile.clone())
    }

    async fn may_change_playlists(&self, user: UserId) -> Result<bool> {
        let s = self.lock();
        Self::check(&s, user)?;
        Ok(s.consent.contains(&user))
    }

    fn cover_limit(&self) -> usize {
        256 * 1024
    }

    async fn set_cover(&self, user: UserId, playlist: &str, jpeg: &[u8]) -> Result<()> {
        let mut s = self.lock();
        let held = Self::readable(&s, user, playlist)?;
        if held.owner != user || !s.consent.contains(&user) {
            return Err(Error::Forbidden {
                message: format!("may not set the cover of playlist {playlist}"),
            });
        }
        if !jpeg.starts_with(&[0xff, 0xd8]) {
            return Err(Error::invalid("a cover must be a JPEG"));
        }
        s.covers_set += 1;
        if let Some(p) = s.playlists.get_mut(playlist) {
            p.cover = Some(jpeg.to_vec());
        }
        Ok(())
    }

    async fn archive(&self, user: UserId, from: &str, to: &str) -> Result<ArchiveSummary> {
        let mut s = self.lock();
        let source = Self::readable(&s, user, from)?.tracks.clone();
        let mut summary = ArchiveSummary {
            playlist: to.to_string(),
            ..ArchiveSummary::default()
        };
        if !s.playlists.contains_key(to) {
            summary.created = true;
            s.playlists.insert(
                to.to_string(),
                Held {
                    owner: user,
                    name: to.to_string(),
                    profile: ListeningProfile::empty("memory"),
                    tracks: Vec::new(),
                    cover: None,
                },
            );
        }
        let target = s.playlists.get_mut(to).expect("inserted above");
        for t in source {
            if target.tracks.contains(&t) {
                summary.already_archived += 1;
            } else {
                target.tracks.push(t);
                summary.added += 1;
            }
        }
        Ok(summary)
    }
}
