//! The `ListeningProfile`: what someone listens to, from any source, in one
//! documented JSON shape (`docs/profile.md`). Every field a source may lack is
//! optional, and `signals` says what this profile actually carries, so mood
//! models can degrade gracefully instead of failing.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::colour::Rgb;
use crate::names::{normalize_name, normalize_title};
use crate::{Error, Result};

/// Schema tag written into every profile; bumped on incompatible changes.
pub const PROFILE_SCHEMA: &str = "spotifyart.profile/1";

/// Spotify's three "top items" windows: about 4 weeks, 6 months and a year.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeRange {
    /// About the last 4 weeks.
    ShortTerm,
    /// About the last 6 months.
    MediumTerm,
    /// About the last year (exports: everything).
    LongTerm,
}

impl TimeRange {
    /// All ranges, shortest first.
    pub const ALL: [TimeRange; 3] = [
        TimeRange::ShortTerm,
        TimeRange::MediumTerm,
        TimeRange::LongTerm,
    ];

    /// The wire name (`short_term`, ...), as Spotify spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            TimeRange::ShortTerm => "short_term",
            TimeRange::MediumTerm => "medium_term",
            TimeRange::LongTerm => "long_term",
        }
    }

    /// How long it spans, in words (for `--help`).
    pub fn about(self) -> &'static str {
        match self {
            TimeRange::ShortTerm => "About 4 weeks.",
            TimeRange::MediumTerm => "About 6 months.",
            TimeRange::LongTerm => "About a year (exports: all history).",
        }
    }
}

impl fmt::Display for TimeRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TimeRange {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        TimeRange::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                Error::invalid(format!(
                    "time_range must be short_term, medium_term or long_term, not {s:?}"
                ))
            })
    }
}

/// One value per [`TimeRange`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ByRange<T> {
    /// About 4 weeks.
    #[serde(default)]
    pub short_term: T,
    /// About 6 months.
    #[serde(default)]
    pub medium_term: T,
    /// About a year, or all history.
    #[serde(default)]
    pub long_term: T,
}

impl<T> ByRange<T> {
    /// The value for `range`.
    pub fn get(&self, range: TimeRange) -> &T {
        match range {
            TimeRange::ShortTerm => &self.short_term,
            TimeRange::MediumTerm => &self.medium_term,
            TimeRange::LongTerm => &self.long_term,
        }
    }
    /// The value for `range`, mutably.
    pub fn get_mut(&mut self, range: TimeRange) -> &mut T {
        match range {
            TimeRange::ShortTerm => &mut self.short_term,
            TimeRange::MediumTerm => &mut self.medium_term,
            TimeRange::LongTerm => &mut self.long_term,
        }
    }
    /// `(range, value)` pairs, shortest first.
    pub fn iter(&self) -> impl Iterator<Item = (TimeRange, &T)> {
        TimeRange::ALL.into_iter().map(move |r| (r, self.get(r)))
    }
}

/// A kind of information a profile can carry. Mood models report which ones
/// they used; profiles report which ones they have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Signal {
    /// Spotify audio features (valence, energy, ...): Extended Quota apps and
    /// hand-written profiles only since Nov 2024.
    AudioFeatures,
    /// Artist genres: Extended Quota apps only since Feb 2026.
    Genres,
    /// Artist or track popularity.
    Popularity,
    /// Artist, track and album names.
    Names,
    /// Album release dates.
    ReleaseDates,
    /// Cover image URLs.
    Covers,
    /// When plays happened (time of day, recency).
    PlayTimes,
    /// Whether plays were skipped (exports only).
    Skips,
}

impl Signal {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Signal::AudioFeatures => "audio_features",
            Signal::Genres => "genres",
            Signal::Popularity => "popularity",
            Signal::Names => "names",
            Signal::ReleaseDates => "release_dates",
            Signal::Covers => "covers",
            Signal::PlayTimes => "play_times",
            Signal::Skips => "skips",
        }
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Spotify's audio features for one track, or a weighted mean of several.
/// Scales are Spotify's: everything in [0, 1] except tempo (BPM) and
/// loudness (dB).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct AudioFeatures {
    /// Musical positiveness, 0 (sad, angry) to 1 (happy, cheerful).
    pub valence: f32,
    /// Perceived intensity and activity.
    pub energy: f32,
    /// Suitability for dancing.
    pub danceability: f32,
    /// Beats per minute.
    pub tempo: f32,
    /// 1 major, 0 minor (a mean over tracks lies between).
    pub mode: f32,
    /// Confidence the track is acoustic.
    pub acousticness: f32,
    /// Overall loudness in dB (typically -60..0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loudness: Option<f32>,
    /// Confidence the track has no vocals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instrumentalness: Option<f32>,
}

/// An artist in a top list.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ArtistStat {
    /// Name as the source spells it.
    pub name: String,
    /// Spotify artist id when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// 1-based rank in this list (filled from order when missing).
    #[serde(default)]
    pub rank: u32,
    /// Share of this list's listening; the list sums to 1 (filled from rank
    /// when missing).
    #[serde(default)]
    pub weight: f32,
    /// Counted plays, when the source has plays (exports).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plays: Option<u32>,
    /// Milliseconds listened, when the source has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ms_played: Option<u64>,
    /// Genres, when the source has them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub genres: Vec<String>,
    /// Spotify popularity 0-100, when the source has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub popularity: Option<u8>,
    /// An image URL, when the source has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
}

/// A track in a top list.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TrackStat {
    /// Title as the source spells it.
    pub name: String,
    /// Credited artists, primary first.
    pub artists: Vec<String>,
    /// Album title, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub album: Option<String>,
    /// Spotify track id when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// 1-based rank in this list.
    #[serde(default)]
    pub rank: u32,
    /// Share of this list's listening; the list sums to 1.
    #[serde(default)]
    pub weight: f32,
    /// Counted plays, when the source has plays.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plays: Option<u32>,
    /// Milliseconds listened, when the source has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ms_played: Option<u64>,
    /// Album release date (`YYYY`, `YYYY-MM` or `YYYY-MM-DD`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_date: Option<String>,
    /// Explicit lyrics flag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explicit: Option<bool>,
    /// Track length.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u32>,
    /// Spotify popularity 0-100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub popularity: Option<u8>,
    /// Album cover URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cover_url: Option<String>,
    /// Audio features, when the source could read them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio_features: Option<AudioFeatures>,
    /// Genres of the track's artists, when the source has artist genres.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub genres: Vec<String>,
    /// Dominant colours of the cover, when the caller read the image
    /// ([`crate::mood::covers::attach_cover_colours`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cover_colours: Vec<CoverColour>,
}

impl TrackStat {
    /// The primary artist, or "" when none is credited.
    pub fn primary_artist(&self) -> &str {
        self.artists.first().map(String::as_str).unwrap_or("")
    }

    /// Identity across lists and sources: normalised primary artist and
    /// title. Not the Spotify id: account-data exports have none, and
    /// re-releases of one recording carry different ids.
    pub fn key(&self) -> String {
        format!(
            "{}\u{1f}{}",
            normalize_name(self.primary_artist()),
            normalize_title(&self.name)
        )
    }
}

/// One recent play.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecentPlay {
    /// Track title.
    pub track: String,
    /// Credited artists.
    pub artists: Vec<String>,
    /// Album, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub album: Option<String>,
    /// When it was played (end time for exports that only have that).
    pub played_at: DateTime<Utc>,
    /// How long, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ms_played: Option<u64>,
    /// Whether it was skipped, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<bool>,
}

/// How someone listens, summarised from plays (exports, recently played).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Behaviour {
    /// Music plays that counted as listening (30 s or more).
    pub plays: u64,
    /// Every music play event, counted or not.
    pub events: u64,
    /// Total listening time of counted plays.
    pub ms_played: u64,
    /// Distinct tracks among counted plays.
    pub distinct_tracks: u64,
    /// Distinct artists among counted plays.
    pub distinct_artists: u64,
    /// Share of events the listener skipped; `None` when the source cannot tell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_rate: Option<f32>,
    /// Share of events played on shuffle; `None` when unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shuffle_rate: Option<f32>,
    /// Share of counted plays that repeat a track heard in the previous 7
    /// days: how much the same songs come back, comparable between a year of
    /// history and a few days of recent plays.
    pub repeat_ratio: f32,
    /// Counted plays per local hour of day (0-23).
    pub hour_histogram: [u32; 24],
    /// Offset applied to UTC timestamps to get local hours, when one could be
    /// inferred (exports record the country of each play).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utc_offset_minutes: Option<i32>,
}

impl Behaviour {
    /// Share of counted plays in the local night (22:00-05:59).
    pub fn night_share(&self) -> Option<f32> {
        let total: u32 = self.hour_histogram.iter().sum();
        if total == 0 {
            return None;
        }
        let night: u32 = [22, 23, 0, 1, 2, 3, 4, 5]
            .iter()
            .map(|&h| self.hour_histogram[h])
            .sum();
        Some(night as f32 / total as f32)
    }
}

/// Where a profile came from, without personal data (no paths, user names
/// or IP addresses from the export).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SourceInfo {
    /// `spotify_export`, `spotify_api`, `fixture` or `manual`.
    pub kind: String,
    /// Export formats read (`account_data`, `extended`), or API mode.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub formats: Vec<String>,
    /// Files read, relative to the export root.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
    /// Counts of what was read and what was left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export: Option<ExportStats>,
    /// Human-readable remarks (files ignored and why, missing signals).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// When the source was read, for sources that change (the Web API).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fetched_at: Option<DateTime<Utc>>,
}

/// What an export reader kept and dropped.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportStats {
    /// Records seen in history files.
    pub records: u64,
    /// Music plays of 30 s or more.
    pub counted: u64,
    /// Music plays under 30 s (still used for skip rate).
    pub short: u64,
    /// Podcast episodes, audiobooks and video: not music listening.
    pub non_music: u64,
    /// Records without a track or artist name.
    pub unnamed: u64,
    /// Records seen twice (e.g. the same file in a folder and a zip).
    pub duplicates: u64,
    /// Records whose fields could not be read (bad timestamp...).
    pub malformed: u64,
}

/// First and last play covered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    /// First play.
    pub from: DateTime<Utc>,
    /// Last play.
    pub to: DateTime<Utc>,
}

/// Everything SpotifyArt knows about one person's listening.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ListeningProfile {
    /// [`PROFILE_SCHEMA`].
    pub schema: String,
    /// Where it came from.
    pub source: SourceInfo,
    /// Dates covered, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<Period>,
    /// Signals present in this profile (recomputed by [`Self::normalize`]).
    #[serde(default)]
    pub signals: Vec<Signal>,
    /// Top artists per range.
    #[serde(default)]
    pub top_artists: ByRange<Vec<ArtistStat>>,
    /// Top tracks per range.
    #[serde(default)]
    pub top_tracks: ByRange<Vec<TrackStat>>,
    /// Most recent plays, newest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recent: Vec<RecentPlay>,
    /// Listening behaviour, when the source has plays.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub behaviour: Option<Behaviour>,
}

/// Relative importance of each range when a model looks at all of them:
/// recent taste counts most, but a year of history steadies it.
pub const RANGE_WEIGHTS: [(TimeRange, f32); 3] = [
    (TimeRange::ShortTerm, 0.3),
    (TimeRange::MediumTerm, 0.4),
    (TimeRange::LongTerm, 0.3),
];

impl ListeningProfile {
    /// An empty profile from `kind` of source.
    pub fn empty(kind: impl Into<String>) -> Self {
        Self {
            schema: PROFILE_SCHEMA.to_string(),
            source: SourceInfo {
                kind: kind.into(),
                ..SourceInfo::default()
            },
            period: None,
            signals: Vec::new(),
            top_artists: ByRange::default(),
            top_tracks: ByRange::default(),
            recent: Vec::new(),
            behaviour: None,
        }
    }

    /// Parses and validates a profile as written by `spotifyart profile` (or
    /// by hand: ranks and weights may be omitted and are filled in).
    pub fn from_json(json: &str) -> Result<Self> {
        let mut p: ListeningProfile = serde_json::from_str(json).map_err(|e| {
            Error::invalid(format!(
                "profile JSON: line {}, column {}: {e}",
                e.line(),
                e.column()
            ))
        })?;
        if !p.schema.starts_with("spotifyart.profile/") {
            return Err(Error::invalid(format!(
                "profile JSON: schema {:?} is not a SpotifyArt profile (expected {PROFILE_SCHEMA:?})",
                p.schema
            )));
        }
        if p.schema != PROFILE_SCHEMA {
            return Err(Error::invalid(format!(
                "profile JSON: schema {:?} is not supported by this version (expected {PROFILE_SCHEMA:?})",
                p.schema
            )));
        }
        p.normalize()?;
        Ok(p)
    }

    /// Pretty JSON, the documented schema.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("profiles always serialise")
    }

    /// Checks values, fills missing ranks and weights, and recomputes
    /// `signals` from the data. Sources call this before returning.
    pub fn normalize(&mut self) -> Result<()> {
        for range in TimeRange::ALL {
            let artists = self.top_artists.get_mut(range);
            for a in artists.iter() {
                if a.name.trim().is_empty() {
                    return Err(Error::invalid(format!(
                        "profile: an artist in top_artists.{range} has an empty name"
                    )));
                }
            }
            normalize_list(
                artists,
                |a| (&mut a.rank, &mut a.weight),
                &format!("top_artists.{range}"),
            )?;
            let tracks = self.top_tracks.get_mut(range);
            for t in tracks.iter() {
                if t.name.trim().is_empty() {
                    return Err(Error::invalid(format!(
                        "profile: a track in top_tracks.{range} has an empty name"
                    )));
                }
                if let Some(f) = &t.audio_features {
                    validate_features(f).map_err(|m| {
                        Error::invalid(format!(
                            "profile: audio_features of {:?} in top_tracks.{range}: {m}",
                            t.name
                        ))
                    })?;
                }
            }
            normalize_list(
                tracks,
                |t| (&mut t.rank, &mut t.weight),
                &format!("top_tracks.{range}"),
            )?;
        }
        self.recent.sort_by_key(|r| std::cmp::Reverse(r.played_at));
        self.signals = self.detect_signals();
        Ok(())
    }

    /// The signals this profile's data actually carries.
    pub fn detect_signals(&self) -> Vec<Signal> {
        let artists = || self.top_artists.iter().flat_map(|(_, v)| v.iter());
        let tracks = || self.top_tracks.iter().flat_map(|(_, v)| v.iter());
        let mut s = Vec::new();
        if tracks().any(|t| t.audio_features.is_some()) {
            s.push(Signal::AudioFeatures);
        }
        if artists().any(|a| !a.genres.is_empty()) || tracks().any(|t| !t.genres.is_empty()) {
            s.push(Signal::Genres);
        }
        if artists().any(|a| a.popularity.is_some()) || tracks().any(|t| t.popularity.is_some()) {
            s.push(Signal::Popularity);
        }
        if artists().next().is_some() || tracks().next().is_some() {
            s.push(Signal::Names);
        }
        if tracks().any(|t| t.release_date.is_some()) {
            s.push(Signal::ReleaseDates);
        }
        if tracks().any(|t| t.cover_url.is_some() || !t.cover_colours.is_empty())
            || artists().any(|a| a.image_url.is_some())
        {
            s.push(Signal::Covers);
        }
        let has_times = !self.recent.is_empty()
            || self
                .behaviour
                .as_ref()
                .is_some_and(|b| b.hour_histogram.iter().any(|&h| h > 0));
        if has_times {
            s.push(Signal::PlayTimes);
        }
        if self
            .behaviour
            .as_ref()
            .is_some_and(|b| b.skip_rate.is_some())
        {
            s.push(Signal::Skips);
        }
        s
    }

    /// Whether the profile carries `signal`.
    pub fn has(&self, signal: Signal) -> bool {
        self.signals.contains(&signal)
    }

    /// Whether there is any listening at all.
    pub fn is_empty(&self) -> bool {
        self.top_artists.iter().all(|(_, v)| v.is_empty())
            && self.top_tracks.iter().all(|(_, v)| v.is_empty())
            && self.recent.is_empty()
    }

    /// A copy restricted to one range: the other ranges are emptied, so
    /// models that blend ranges see only this one.
    pub fn only(&self, range: TimeRange) -> Self {
        let mut p = self.clone();
        for r in TimeRange::ALL {
            if r != range {
                p.top_artists.get_mut(r).clear();
                p.top_tracks.get_mut(r).clear();
            }
        }
        p.signals = p.detect_signals();
        p
    }

    /// Tracks across all ranges, merged by identity, with weights blended by
    /// [`RANGE_WEIGHTS`] over the non-empty ranges; sums to 1.
    pub fn weighted_tracks(&self) -> Vec<(&TrackStat, f32)> {
        blend(&self.top_tracks, TrackStat::key)
    }

    /// Artists across all ranges, merged by normalised name, weights summing to 1.
    pub fn weighted_artists(&self) -> Vec<(&ArtistStat, f32)> {
        blend(&self.top_artists, |a: &ArtistStat| normalize_name(&a.name))
    }
}

fn blend<T, K: std::hash::Hash + Eq>(
    lists: &ByRange<Vec<T>>,
    key: impl Fn(&T) -> K,
) -> Vec<(&T, f32)>
where
    T: HasWeight,
{
    let active: f32 = RANGE_WEIGHTS
        .iter()
        .filter(|(r, _)| !lists.get(*r).is_empty())
        .map(|(_, w)| w)
        .sum();
    if active == 0.0 {
        return Vec::new();
    }
    let mut index: HashMap<K, usize> = HashMap::new();
    let mut out: Vec<(&T, f32)> = Vec::new();
    // Longest range first so the representative item is the long-term one.
    for (range, range_weight) in RANGE_WEIGHTS.iter().rev() {
        let list = lists.get(*range);
        let total: f32 = list.iter().map(HasWeight::weight).sum();
        if total <= 0.0 {
            continue;
        }
        for item in list {
            let w = item.weight() / total * range_weight / active;
            match index.entry(key(item)) {
                std::collections::hash_map::Entry::Occupied(e) => out[*e.get()].1 += w,
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(out.len());
                    out.push((item, w));
                }
            }
        }
    }
    out.sort_by(|a, b| b.1.total_cmp(&a.1));
    out
}

trait HasWeight {
    fn weight(&self) -> f32;
}
impl HasWeight for TrackStat {
    fn weight(&self) -> f32 {
        self.weight
    }
}
impl HasWeight for ArtistStat {
    fn weight(&self) -> f32 {
        self.weight
    }
}

/// Fills ranks from order and weights from ranks (1/(rank+2), a gentle
/// Zipf-like decay) when missing, then scales weights to sum to 1.
fn normalize_list<T>(
    items: &mut [T],
    fields: impl Fn(&mut T) -> (&mut u32, &mut f32),
    what: &str,
) -> Result<()> {
    let mut any_weight = false;
    for (i, item) in items.iter_mut().enumerate() {
        let (rank, weight) = fields(item);
        if *rank == 0 {
            *rank = i as u32 + 1;
        }
        if !weight.is_finite() || *weight < 0.0 {
            return Err(Error::invalid(format!(
                "profile: {what}[{i}] has weight {weight}; weights must be finite and non-negative"
            )));
        }
        any_weight |= *weight > 0.0;
    }
    if !any_weight {
        for item in items.iter_mut() {
            let (rank, weight) = fields(item);
            *weight = 1.0 / (*rank as f32 + 2.0);
        }
    }
    let total: f32 = items.iter_mut().map(|i| *fields(i).1).sum();
    // Already normalised lists are left alone, so normalising is idempotent
    // (rescaling by a sum of 0.99999994 would drift by an ulp each time).
    if total > 0.0 && (total - 1.0).abs() > 1e-4 {
        for item in items.iter_mut() {
            *fields(item).1 /= total;
        }
    }
    Ok(())
}

fn validate_features(f: &AudioFeatures) -> std::result::Result<(), String> {
    for (name, v) in [
        ("valence", f.valence),
        ("energy", f.energy),
        ("danceability", f.danceability),
        ("mode", f.mode),
        ("acousticness", f.acousticness),
    ] {
        if !(0.0..=1.0).contains(&v) {
            return Err(format!("{name} must be in [0, 1], got {v}"));
        }
    }
    if !(f.tempo.is_finite() && (0.0..=400.0).contains(&f.tempo)) {
        return Err(format!("tempo must be in [0, 400] BPM, got {}", f.tempo));
    }
    Ok(())
}

/// One dominant colour of an album cover and the share of the cover it takes.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct CoverColour {
    /// The colour, serialised as `#rrggbb`.
    pub color: Rgb,
    /// Share of the cover's pixels, in (0, 1].
    pub share: f32,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn track(name: &str, artist: &str) -> TrackStat {
        TrackStat {
            name: name.into(),
            artists: vec![artist.into()],
            ..TrackStat::default()
        }
    }

    #[test]
    fn hand_written_profile_gets_ranks_weights_and_signals() {
        let json = r#"{
            "schema": "spotifyart.profile/1",
            "source": {"kind": "manual"},
            "top_tracks": {"medium_term": [
                {"name": "Happy", "artists": ["Pharrell Williams"],
                 "audio_features": {"valence": 0.96, "energy": 0.82, "danceability": 0.65,
                                    "tempo": 160.0, "mode": 0, "acousticness": 0.22}},
                {"name": "Dreams", "artists": ["Fleetwood Mac"]}
            ]}
        }"#;
        let p = ListeningProfile::from_json(json).unwrap();
        let t = &p.top_tracks.medium_term;
        assert_eq!((t[0].rank, t[1].rank), (1, 2));
        assert!(t[0].weight > t[1].weight);
        assert!((t[0].weight + t[1].weight - 1.0).abs() < 1e-6);
        assert_eq!(p.signals, vec![Signal::AudioFeatures, Signal::Names]);
    }

    #[test]
    fn bad_profiles_get_precise_errors() {
        let err = ListeningProfile::from_json("{\"schema\": 3}").unwrap_err();
        assert!(err.to_string().contains("line 1, column"), "{err}");
        let err = ListeningProfile::from_json(r#"{"schema":"other/1","source":{"kind":"x"}}"#)
            .unwrap_err();
        assert!(
            err.to_string().contains("not a SpotifyArt profile"),
            "{err}"
        );
        let json = r#"{"schema":"spotifyart.profile/1","source":{"kind":"manual"},
            "top_tracks":{"long_term":[{"name":"x","artists":["y"],
            "audio_features":{"valence":1.5,"energy":0.5,"danceability":0.5,"tempo":120,"mode":1,"acousticness":0.1}}]}}"#;
        let err = ListeningProfile::from_json(json).unwrap_err();
        assert!(
            err.to_string()
                .contains("valence must be in [0, 1], got 1.5"),
            "{err}"
        );
    }

    #[test]
    fn weighted_tracks_merge_ranges_and_sum_to_one() {
        let mut p = ListeningProfile::empty("manual");
        p.top_tracks.short_term = vec![track("A", "x"), track("B", "y")];
        p.top_tracks.long_term = vec![track("A - 2011 Remaster", "X"), track("C", "z")];
        p.normalize().unwrap();
        let w = p.weighted_tracks();
        assert_eq!(w.len(), 3, "A and its remaster are one track");
        let total: f32 = w.iter().map(|(_, w)| w).sum();
        assert!((total - 1.0).abs() < 1e-5);
        assert_eq!(w[0].0.name, "A - 2011 Remaster");
    }

    #[test]
    fn only_keeps_one_range() {
        let mut p = ListeningProfile::empty("manual");
        p.top_tracks.short_term = vec![track("A", "x")];
        p.top_tracks.long_term = vec![track("B", "y")];
        p.normalize().unwrap();
        let s = p.only(TimeRange::ShortTerm);
        assert!(s.top_tracks.long_term.is_empty());
        assert_eq!(s.weighted_tracks().len(), 1);
    }
}
