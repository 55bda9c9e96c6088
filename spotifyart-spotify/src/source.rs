//! A [`MusicSource`] on the Web API: top artists and tracks for the three
//! time ranges, recent plays, and whatever Extended Quota data the app may
//! read (genres, popularity, audio features), and the colours of the
//! most-played albums' covers. What the app may not read is noted on the
//! profile, never an error; a cover that cannot be read is skipped.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, DurationRound, Timelike, Utc};
use spotifyart_core::profile::{
    ArtistStat, AudioFeatures as CoreFeatures, Behaviour, ListeningProfile, RecentPlay, TrackStat,
};
use spotifyart_core::source::export::utc_offset_minutes;
use spotifyart_core::{Error, MusicSource, Result, Store, TimeRange, UserId};
use tracing::Instrument;

use crate::api::{StoredTokens, UserApi};
use crate::auth::SpotifyAuth;
use crate::cover_colours::{CoverReader, smallest_image};
use crate::model::{Artist, AudioFeatures, PlayHistory, Track};

/// Kind written into `source.kind` of profiles from the Web API.
pub const SOURCE_KIND: &str = "spotify_api";

/// How much to read per profile.
#[derive(Clone, Debug)]
pub struct SourceOptions {
    /// Top artists and tracks per time range (Spotify serves up to 50 per
    /// page; more follows `next`).
    pub top_n: usize,
    /// Recent plays (Spotify keeps the last 50).
    pub recent_n: usize,
    /// Ask for audio features and batch artist lookups (Extended Quota
    /// apps). A Development Mode app's 403 is noted and tolerated either
    /// way; turning this off saves the calls.
    pub extended: bool,
    /// Album covers read per profile for their colours (the palette of
    /// `auto` and the `covers` mood): the most-played albums' smallest
    /// images. 0 reads none; the default, 10, reaches about half of the
    /// weight of 50 top tracks for ten small reads.
    pub covers: usize,
}

impl Default for SourceOptions {
    fn default() -> Self {
        Self {
            top_n: 50,
            recent_n: 50,
            extended: true,
            covers: 10,
        }
    }
}

/// Reads each user's listening with the tokens the store holds for them.
#[derive(Debug)]
pub struct SpotifySource {
    auth: SpotifyAuth,
    store: Arc<dyn Store>,
    options: SourceOptions,
    covers: CoverReader,
    refresh_locks: Mutex<HashMap<UserId, Arc<tokio::sync::Mutex<()>>>>,
}

impl SpotifySource {
    /// A source for users whose Spotify tokens are in `store`.
    pub fn new(auth: SpotifyAuth, store: Arc<dyn Store>) -> Self {
        Self {
            covers: CoverReader::new(&auth),
            auth,
            store,
            options: SourceOptions::default(),
            refresh_locks: Mutex::default(),
        }
    }

    /// Reading covers through `reader` (to share its cache with another
    /// source).
    pub fn with_cover_reader(mut self, reader: CoverReader) -> Self {
        self.covers = reader;
        self
    }

    /// The reader of album covers, whose cache lives as long as it does.
    pub fn cover_reader(&self) -> &CoverReader {
        &self.covers
    }

    /// With other read options.
    pub fn with_options(mut self, options: SourceOptions) -> Self {
        self.options = options;
        self
    }

    /// The Web API as `user`, sharing one refresh lock per user.
    pub fn api(&self, user: UserId) -> UserApi {
        let lock = self
            .refresh_locks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(user)
            .or_default()
            .clone();
        UserApi::with_lock(
            self.auth.clone(),
            Arc::new(StoredTokens::new(self.store.clone(), user)),
            lock,
        )
    }
}

#[async_trait]
impl MusicSource for SpotifySource {
    fn name(&self) -> &str {
        SOURCE_KIND
    }

    async fn profile(&self, user: UserId) -> Result<ListeningProfile> {
        fetch_profile_with_covers(&self.api(user), &self.options, &self.covers).await
    }
}

/// Builds a profile from the Web API as the user `api` speaks for, without
/// cover colours (see [`fetch_profile_with_covers`]).
pub async fn fetch_profile(api: &UserApi, options: &SourceOptions) -> Result<ListeningProfile> {
    fetch(api, options, None)
        .instrument(tracing::info_span!("spotify.profile"))
        .await
}

/// Builds a profile from the Web API as the user `api` speaks for, with the
/// colours of up to `options.covers` album covers read through `covers`.
pub async fn fetch_profile_with_covers(
    api: &UserApi,
    options: &SourceOptions,
    covers: &CoverReader,
) -> Result<ListeningProfile> {
    fetch(api, options, Some(covers))
        .instrument(tracing::info_span!("spotify.profile"))
        .await
}

async fn fetch(
    api: &UserApi,
    options: &SourceOptions,
    covers: Option<&CoverReader>,
) -> Result<ListeningProfile> {
    let me = api.me().await?;
    let n = options.top_n;
    let (a_short, a_medium, a_long, t_short, t_medium, t_long, recent) = tokio::try_join!(
        api.top_artists(TimeRange::ShortTerm, n),
        api.top_artists(TimeRange::MediumTerm, n),
        api.top_artists(TimeRange::LongTerm, n),
        api.top_tracks(TimeRange::ShortTerm, n),
        api.top_tracks(TimeRange::MediumTerm, n),
        api.top_tracks(TimeRange::LongTerm, n),
        api.recently_played(options.recent_n),
    )?;
    let artists = [a_short, a_medium, a_long];
    let tracks = [t_short, t_medium, t_long];
    let mut notes = Vec::new();

    // Genres and popularity: on the artist objects for Extended Quota apps.
    let mut known: HashMap<String, Artist> = artists
        .iter()
        .flatten()
        .map(|a| (a.id.clone(), a.clone()))
        .collect();
    let extended_artists = known.values().any(|a| a.genres.is_some());
    if extended_artists && options.extended {
        let missing: Vec<String> = tracks
            .iter()
            .flatten()
            .flat_map(|t| t.artists.iter().filter_map(|a| a.id.clone()))
            .filter(|id| !known.contains_key(id))
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        if !missing.is_empty() {
            match api.artists(&missing).await {
                Ok(found) => known.extend(found.into_iter().map(|a| (a.id.clone(), a))),
                Err(e) if tolerated(&e) => notes.push(format!(
                    "genres of artists outside the top lists unavailable: {e}"
                )),
                Err(e) => return Err(e),
            }
        }
    } else if !known.is_empty() {
        notes.push(
            "artist genres and popularity unavailable: Spotify stopped sending them to \
             Development Mode apps in February 2026"
                .into(),
        );
    }

    // Audio features: batch endpoint, 403 for apps created since Nov 2024.
    let mut features: HashMap<String, AudioFeatures> = HashMap::new();
    let track_ids: Vec<String> = tracks
        .iter()
        .flatten()
        .filter_map(|t| t.id.clone())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    if options.extended && !track_ids.is_empty() {
        match api.audio_features(&track_ids).await {
            Ok(found) => features.extend(found.into_iter().map(|f| (f.id.clone(), f))),
            Err(e) if tolerated(&e) => notes.push(format!(
                "audio features unavailable ({}): Spotify stopped serving them to new apps \
                 in November 2024",
                e.code()
            )),
            Err(e) => return Err(e),
        }
    } else if !options.extended {
        notes.push("audio features not requested".into());
    }

    let mut profile = ListeningProfile::empty(SOURCE_KIND);
    profile.source.fetched_at = Some(Utc::now());
    profile.source.notes = notes;
    let offset = me.country.as_deref().and_then(utc_offset_minutes);
    for (i, range) in TimeRange::ALL.into_iter().enumerate() {
        *profile.top_artists.get_mut(range) = artists[i].iter().map(artist_stat).collect();
        *profile.top_tracks.get_mut(range) = tracks[i]
            .iter()
            .map(|t| track_stat(t, &known, &features))
            .collect();
    }
    profile.recent = recent
        .iter()
        .map(|p| RecentPlay {
            track: p.track.name.clone(),
            artists: p.track.artists.iter().map(|a| a.name.clone()).collect(),
            album: p.track.album.as_ref().map(|a| a.name.clone()),
            played_at: p.played_at,
            ms_played: None,
            skipped: None,
        })
        .collect();
    if !recent.is_empty() {
        profile.behaviour = Some(behaviour(&recent, offset));
    }
    weigh(&mut profile, &recent);
    profile.normalize()?;
    let mut coloured = 0;
    if let Some(reader) = covers
        && options.covers > 0
    {
        // Each track's `cover_url` is its album's largest image (for
        // showing); its colours come from the smallest.
        let smallest: HashMap<String, String> = tracks
            .iter()
            .flatten()
            .filter_map(|t| {
                let images = &t.album.as_ref()?.images;
                Some((
                    images.first()?.url.clone(),
                    smallest_image(images)?.url.clone(),
                ))
            })
            .collect();
        coloured = reader.attach(&mut profile, &smallest, options.covers).await;
    }
    tracing::info!(
        signals = ?profile.signals,
        recent = profile.recent.len(),
        covers = coloured,
        "spotify profile built"
    );
    Ok(profile)
}

/// What a playlist profile is called in its `source.kind`.
pub const PLAYLIST_SOURCE_KIND: &str = "spotify_playlist";

/// A profile of one playlist, for painting its cover: its tracks, and the
/// artists they credit, each weighted equally (a playlist has no play
/// counts), the same list in every time range; genres and audio features
/// where the app may read them, as for a listener's profile.
pub async fn fetch_playlist_profile(
    api: &UserApi,
    playlist: &str,
    options: &SourceOptions,
) -> Result<ListeningProfile> {
    let entries = api.playlist_items(playlist).await?;
    let mut seen = HashSet::new();
    let tracks: Vec<Track> = entries
        .iter()
        .filter_map(|e| e.item.as_ref()?.track())
        .filter(|t| seen.insert(t.uri.clone()))
        .collect();
    if tracks.is_empty() {
        return Err(Error::invalid(
            "the playlist has no Spotify tracks to read a mood from",
        ));
    }
    let mut notes = Vec::new();
    let artist_ids: Vec<String> = tracks
        .iter()
        .flat_map(|t| t.artists.iter().filter_map(|a| a.id.clone()))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let mut known: HashMap<String, Artist> = HashMap::new();
    if options.extended && !artist_ids.is_empty() {
        match api.artists(&artist_ids).await {
            Ok(found) => known.extend(found.into_iter().map(|a| (a.id.clone(), a))),
            Err(e) if tolerated(&e) => notes.push(format!("artist genres unavailable: {e}")),
            Err(e) => return Err(e),
        }
    }
    let mut features: HashMap<String, AudioFeatures> = HashMap::new();
    let track_ids: Vec<String> = tracks.iter().filter_map(|t| t.id.clone()).collect();
    if options.extended {
        match api.audio_features(&track_ids).await {
            Ok(found) => features.extend(found.into_iter().map(|f| (f.id.clone(), f))),
            Err(e) if tolerated(&e) => {
                notes.push(format!("audio features unavailable ({})", e.code()))
            }
            Err(e) => return Err(e),
        }
    }
    // Each credited artist once, in order of first appearance.
    let mut credited = HashSet::new();
    let artists: Vec<ArtistStat> = tracks
        .iter()
        .flat_map(|t| t.artists.iter())
        .filter(|a| credited.insert(a.id.clone().unwrap_or_else(|| a.name.clone())))
        .map(|a| match a.id.as_ref().and_then(|id| known.get(id)) {
            Some(full) => artist_stat(full),
            None => ArtistStat {
                name: a.name.clone(),
                id: a.id.clone(),
                ..ArtistStat::default()
            },
        })
        .map(|a| ArtistStat { weight: 1.0, ..a })
        .collect();
    let track_stats: Vec<TrackStat> = tracks
        .iter()
        .map(|t| TrackStat {
            weight: 1.0,
            ..track_stat(t, &known, &features)
        })
        .collect();
    let mut profile = ListeningProfile::empty(PLAYLIST_SOURCE_KIND);
    profile.source.fetched_at = Some(Utc::now());
    profile.source.notes = notes;
    for range in TimeRange::ALL {
        *profile.top_artists.get_mut(range) = artists.clone();
        *profile.top_tracks.get_mut(range) = track_stats.clone();
    }
    profile.normalize()?;
    Ok(profile)
}

/// Errors that mean "this app may not read that", not "the call failed".
fn tolerated(e: &Error) -> bool {
    matches!(e, Error::Forbidden { .. } | Error::NotFound { .. })
}

fn artist_stat(a: &Artist) -> ArtistStat {
    ArtistStat {
        name: a.name.clone(),
        id: Some(a.id.clone()),
        genres: a.genres.clone().unwrap_or_default(),
        popularity: a.popularity,
        image_url: a.images.first().map(|i| i.url.clone()),
        ..ArtistStat::default()
    }
}

fn track_stat(
    t: &Track,
    artists: &HashMap<String, Artist>,
    features: &HashMap<String, AudioFeatures>,
) -> TrackStat {
    // The genres of the track's artists, joined from the artist objects.
    let mut genres: Vec<String> = Vec::new();
    for a in t.artists.iter().filter_map(|a| a.id.as_ref()) {
        for g in artists
            .get(a)
            .and_then(|a| a.genres.as_ref())
            .into_iter()
            .flatten()
        {
            if !genres.contains(g) {
                genres.push(g.clone());
            }
        }
    }
    TrackStat {
        genres,
        name: t.name.clone(),
        artists: t.artists.iter().map(|a| a.name.clone()).collect(),
        album: t.album.as_ref().map(|a| a.name.clone()),
        id: t.id.clone(),
        release_date: t.album.as_ref().and_then(|a| a.release_date.clone()),
        explicit: t.explicit,
        duration_ms: t.duration_ms,
        popularity: t.popularity,
        cover_url: t
            .album
            .as_ref()
            .and_then(|a| a.images.first())
            .map(|i| i.url.clone()),
        audio_features: t
            .id
            .as_ref()
            .and_then(|id| features.get(id))
            .map(|f| CoreFeatures {
                valence: f.valence,
                energy: f.energy,
                danceability: f.danceability,
                tempo: f.tempo,
                mode: f.mode.clamp(0, 1) as f32,
                acousticness: f.acousticness,
                loudness: f.loudness,
                instrumentalness: f.instrumentalness,
            }),
        ..TrackStat::default()
    }
}

/// Weights from rank (Spotify orders by affinity: 1/(rank+2)) plus
/// recency: each recent play of an item adds up to one rank-1 share,
/// halving every 7 days.
fn weigh(profile: &mut ListeningProfile, recent: &[PlayHistory]) {
    // Ages count from the start of the current UTC day: under a day of
    // shift against a 7-day half-life, and a profile (so its mood and the
    // picture painted from it) does not drift hour by hour.
    let now = Utc::now()
        .duration_trunc(chrono::Duration::days(1))
        .unwrap_or_else(|_| Utc::now());
    let decay = |t: DateTime<Utc>| {
        let days = (now - t).num_seconds().max(0) as f32 / 86_400.0;
        0.5f32.powf(days / 7.0)
    };
    let mut by_track: HashMap<&str, f32> = HashMap::new();
    let mut by_artist: HashMap<&str, f32> = HashMap::new();
    for p in recent {
        let w = decay(p.played_at);
        if let Some(id) = p.track.id.as_deref() {
            *by_track.entry(id).or_default() += w;
        }
        for a in &p.track.artists {
            if let Some(id) = a.id.as_deref() {
                *by_artist.entry(id).or_default() += w;
            }
        }
    }
    // Rank-1 share (1/3) per fully weighted recent play.
    let weight = |rank: usize, id: Option<&str>, boosts: &HashMap<&str, f32>| {
        let boost = id.and_then(|id| boosts.get(id)).copied().unwrap_or(0.0);
        1.0 / (rank as f32 + 3.0) + boost / 3.0
    };
    for range in TimeRange::ALL {
        for (i, t) in profile.top_tracks.get_mut(range).iter_mut().enumerate() {
            t.weight = weight(i, t.id.as_deref(), &by_track);
        }
        for (i, a) in profile.top_artists.get_mut(range).iter_mut().enumerate() {
            a.weight = weight(i, a.id.as_deref(), &by_artist);
        }
    }
}

/// Behaviour from recent plays: hours (local when the country is known),
/// repeats within a week; Spotify does not say what was skipped.
fn behaviour(recent: &[PlayHistory], offset_minutes: Option<i32>) -> Behaviour {
    let mut hours = [0u32; 24];
    let mut tracks = HashSet::new();
    let mut artists = HashSet::new();
    let mut ms = 0u64;
    let mut chronological: Vec<&PlayHistory> = recent.iter().collect();
    chronological.sort_by_key(|p| p.played_at);
    let mut last: HashMap<String, DateTime<Utc>> = HashMap::new();
    let mut repeats = 0u32;
    for p in &chronological {
        let key = p.track.id.clone().unwrap_or_else(|| p.track.name.clone());
        if last
            .insert(key.clone(), p.played_at)
            .is_some_and(|prev| (p.played_at - prev).num_days() < 7)
        {
            repeats += 1;
        }
        let local = p.played_at + chrono::Duration::minutes(offset_minutes.unwrap_or(0) as i64);
        hours[local.hour() as usize] += 1;
        tracks.insert(key);
        if let Some(a) = p.track.artists.first() {
            artists.insert(a.name.clone());
        }
        ms += p.track.duration_ms.unwrap_or(0) as u64;
    }
    let plays = recent.len() as u64;
    Behaviour {
        plays,
        events: plays,
        ms_played: ms,
        distinct_tracks: tracks.len() as u64,
        distinct_artists: artists.len() as u64,
        skip_rate: None,
        shuffle_rate: None,
        repeat_ratio: repeats as f32 / plays.max(1) as f32,
        hour_histogram: hours,
        utc_offset_minutes: offset_minutes,
    }
}
