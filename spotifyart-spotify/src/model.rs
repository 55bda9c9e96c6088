//! The Web API's objects, as a Development Mode app sees them in 2026 and as
//! an Extended Quota app does. Every field Spotify has removed for some apps
//! is optional, and unknown fields are ignored, so both shapes parse and
//! future removals degrade to `None` rather than a parse error.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// An image (cover, artist photo).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Image {
    /// Where the image is (Spotify's CDN).
    pub url: String,
    /// Height in pixels, when known.
    #[serde(default)]
    pub height: Option<u32>,
    /// Width in pixels, when known.
    #[serde(default)]
    pub width: Option<u32>,
}

/// `GET /v1/me`. Development Mode apps no longer get `email`, `country`,
/// `product` or `explicit_content`, and do get `account_id`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CurrentUser {
    /// The Spotify user id (may be a legacy user name).
    pub id: String,
    /// A stable account id (2026); preferred to identify the account.
    #[serde(default)]
    pub account_id: Option<String>,
    /// Display name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// ISO 3166-1 alpha-2 country (Extended Quota only).
    #[serde(default)]
    pub country: Option<String>,
    /// Profile images.
    #[serde(default)]
    pub images: Vec<Image>,
}

impl CurrentUser {
    /// The id that identifies this account across sign-ins: `account_id`
    /// when Spotify sends it, else `id`.
    pub fn stable_id(&self) -> &str {
        self.account_id.as_deref().unwrap_or(&self.id)
    }
}

/// Follower count (Extended Quota only).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Followers {
    /// Total followers.
    #[serde(default)]
    pub total: Option<u64>,
}

/// A full artist. `genres`, `popularity` and `followers` are Extended
/// Quota only since February 2026.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Artist {
    /// Spotify id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Genres (Extended Quota).
    #[serde(default)]
    pub genres: Option<Vec<String>>,
    /// Popularity 0-100 (Extended Quota).
    #[serde(default)]
    pub popularity: Option<u8>,
    /// Followers (Extended Quota).
    #[serde(default)]
    pub followers: Option<Followers>,
    /// Photos, largest first.
    #[serde(default)]
    pub images: Vec<Image>,
}

/// An artist as it appears inside a track or album.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SimplifiedArtist {
    /// Spotify id (`None` for local files).
    #[serde(default)]
    pub id: Option<String>,
    /// Name.
    pub name: String,
}

/// An album as it appears inside a track.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SimplifiedAlbum {
    /// Spotify id.
    #[serde(default)]
    pub id: Option<String>,
    /// Name.
    pub name: String,
    /// `YYYY`, `YYYY-MM` or `YYYY-MM-DD`.
    #[serde(default)]
    pub release_date: Option<String>,
    /// Covers, largest first.
    #[serde(default)]
    pub images: Vec<Image>,
}

/// A full track. `popularity`, `available_markets` and `linked_from` are
/// Extended Quota only since February 2026.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Track {
    /// Spotify id (`None` for local files).
    #[serde(default)]
    pub id: Option<String>,
    /// Name.
    pub name: String,
    /// `spotify:track:…`.
    #[serde(default)]
    pub uri: Option<String>,
    /// Artists, main artist first.
    #[serde(default)]
    pub artists: Vec<SimplifiedArtist>,
    /// The album.
    #[serde(default)]
    pub album: Option<SimplifiedAlbum>,
    /// Length.
    #[serde(default)]
    pub duration_ms: Option<u32>,
    /// Explicit lyrics.
    #[serde(default)]
    pub explicit: Option<bool>,
    /// Popularity 0-100 (Extended Quota).
    #[serde(default)]
    pub popularity: Option<u8>,
    /// Whether this is a local file.
    #[serde(default)]
    pub is_local: bool,
}

/// A page of items (`limit` ≤ 50), following `next` for more.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The items on this page.
    pub items: Vec<T>,
    /// URL of the next page, absent on the last.
    #[serde(default)]
    pub next: Option<String>,
    /// Items in all pages.
    #[serde(default)]
    pub total: Option<u32>,
    /// Page size asked for.
    #[serde(default)]
    pub limit: Option<u32>,
    /// Index of this page's first item.
    #[serde(default)]
    pub offset: Option<u32>,
}

/// Cursors of the recently-played list (Unix milliseconds as strings).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cursors {
    /// Plays after this time.
    #[serde(default)]
    pub after: Option<String>,
    /// Plays before this time.
    #[serde(default)]
    pub before: Option<String>,
}

/// A page of the recently-played list, paged by time cursors.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CursorPage<T> {
    /// The items, newest first.
    pub items: Vec<T>,
    /// URL of the next (older) page.
    #[serde(default)]
    pub next: Option<String>,
    /// The cursors; absent or null when the list is empty.
    #[serde(default)]
    pub cursors: Option<Cursors>,
}

/// One play in the recently-played list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlayHistory {
    /// The track.
    pub track: Track,
    /// When it was played.
    pub played_at: DateTime<Utc>,
}

/// Audio features of a track (Extended Quota; 403 for new apps since
/// November 2024).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AudioFeatures {
    /// Track id.
    pub id: String,
    /// Musical positiveness 0-1.
    pub valence: f32,
    /// Intensity 0-1.
    pub energy: f32,
    /// Danceability 0-1.
    pub danceability: f32,
    /// Beats per minute.
    pub tempo: f32,
    /// 1 major, 0 minor.
    pub mode: i32,
    /// Acousticness 0-1.
    pub acousticness: f32,
    /// Loudness in dB.
    #[serde(default)]
    pub loudness: Option<f32>,
    /// Instrumentalness 0-1.
    #[serde(default)]
    pub instrumentalness: Option<f32>,
}

/// `GET /v1/audio-features?ids=` (entries are null for unknown ids).
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct AudioFeaturesBatch {
    pub audio_features: Vec<Option<AudioFeatures>>,
}

/// `GET /v1/artists?ids=` (Extended Quota; removed for new apps in 2026).
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct ArtistsBatch {
    pub artists: Vec<Option<Artist>>,
}

/// The owner of a playlist.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlaylistOwner {
    /// Spotify user id.
    pub id: String,
}

/// A playlist as listed in `GET /v1/me/playlists` and returned on create.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Playlist {
    /// Spotify id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Owner.
    #[serde(default)]
    pub owner: Option<PlaylistOwner>,
    /// Version of the contents.
    #[serde(default)]
    pub snapshot_id: Option<String>,
    /// Its cover, in sizes largest first; `null` when it has none.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub images: Vec<Image>,
    /// How many items it has (`items`, formerly `tracks`).
    #[serde(default, alias = "tracks")]
    pub items: Option<ItemCount>,
}

/// The count inside a playlist's `items` reference.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemCount {
    /// How many.
    #[serde(default)]
    pub total: u32,
}

/// Spotify sends `null` for some empty lists (a playlist without a cover).
fn null_as_empty<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

/// One entry of a playlist. Spotify renamed `track` to `item` with the
/// `/items` routes; both spellings parse.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlaylistEntry {
    /// The track, or `None` for an entry Spotify no longer serves.
    #[serde(default, alias = "track")]
    pub item: Option<PlaylistItem>,
    /// When it was added.
    #[serde(default)]
    pub added_at: Option<DateTime<Utc>>,
}

/// What a playlist entry holds: a track or an episode. The archive needs
/// only the URI; a playlist's mood reads the track's fields.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlaylistItem {
    /// `spotify:track:…` or `spotify:episode:…`; `None` for local files.
    #[serde(default)]
    pub uri: Option<String>,
    /// Spotify id.
    #[serde(default)]
    pub id: Option<String>,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// A track's artists, main artist first (none for episodes).
    #[serde(default)]
    pub artists: Vec<SimplifiedArtist>,
    /// A track's album.
    #[serde(default)]
    pub album: Option<SimplifiedAlbum>,
    /// Length.
    #[serde(default)]
    pub duration_ms: Option<u32>,
    /// Explicit lyrics.
    #[serde(default)]
    pub explicit: Option<bool>,
    /// Whether this is a local file (cannot be added by URI).
    #[serde(default)]
    pub is_local: bool,
}

impl PlaylistItem {
    /// The item as a track, when it is one (not an episode or a local file).
    pub fn track(&self) -> Option<Track> {
        let uri = self.uri.as_deref()?;
        if self.is_local || !uri.starts_with("spotify:track:") {
            return None;
        }
        Some(Track {
            id: self.id.clone(),
            name: self.name.clone().unwrap_or_default(),
            uri: Some(uri.to_string()),
            artists: self.artists.clone(),
            album: self.album.clone(),
            duration_ms: self.duration_ms,
            explicit: self.explicit,
            popularity: None,
            is_local: false,
        })
    }
}

/// Body answer of playlist changes.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct Snapshot {
    #[allow(dead_code)]
    pub snapshot_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn development_mode_and_extended_artists_parse() {
        let dev: Artist = serde_json::from_str(
            r#"{"external_urls":{"spotify":"https://open.spotify.com/artist/0LcJLqbBmaGUft1e9Mm8HV"},
                "href":"https://api.spotify.com/v1/artists/0LcJLqbBmaGUft1e9Mm8HV",
                "id":"0LcJLqbBmaGUft1e9Mm8HV","images":[],"name":"ABBA","type":"artist",
                "uri":"spotify:artist:0LcJLqbBmaGUft1e9Mm8HV"}"#,
        )
        .unwrap();
        assert_eq!(dev.genres, None);
        let full: Artist = serde_json::from_str(
            r#"{"id":"0LcJLqbBmaGUft1e9Mm8HV","name":"ABBA","genres":["europop"],
                "popularity":80,"followers":{"href":null,"total":10},"images":[
                {"url":"https://i.scdn.co/image/x","height":640,"width":640}],"brand_new_field":1}"#,
        )
        .unwrap();
        assert_eq!(full.genres.as_deref(), Some(&["europop".to_string()][..]));
        assert_eq!(full.popularity, Some(80));
    }

    #[test]
    fn me_prefers_account_id() {
        let me: CurrentUser =
            serde_json::from_str(r#"{"id":"wizzler","display_name":"W","type":"user"}"#).unwrap();
        assert_eq!(me.stable_id(), "wizzler");
        let me: CurrentUser =
            serde_json::from_str(r#"{"id":"wizzler","account_id":"acc-1","images":[]}"#).unwrap();
        assert_eq!(me.stable_id(), "acc-1");
    }

    #[test]
    fn playlist_entries_parse_both_spellings() {
        let new: PlaylistEntry = serde_json::from_str(
            r#"{"added_at":"2026-01-01T00:00:00Z","item":{"uri":"spotify:track:1"}}"#,
        )
        .unwrap();
        let old: PlaylistEntry =
            serde_json::from_str(r#"{"track":{"uri":"spotify:track:1"}}"#).unwrap();
        assert_eq!(new.item, old.item);
        let gone: PlaylistEntry = serde_json::from_str(r#"{"item":null}"#).unwrap();
        assert!(gone.item.is_none());
    }
}
