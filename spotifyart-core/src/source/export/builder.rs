//! Aggregates plays into a [`ListeningProfile`]. Memory grows with distinct
//! tracks and with plays as 24-byte events, never with file size.

use std::collections::hash_map::{DefaultHasher, Entry};
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};

use chrono::{DateTime, Duration, Timelike, Utc};

use super::ExportOptions;
use super::records::RawPlay;
use crate::names::{normalize_name, normalize_title};
use crate::profile::{
    ArtistStat, Behaviour, ExportStats, ListeningProfile, Period, RecentPlay, TimeRange, TrackStat,
};

struct TrackInfo {
    name: String,
    artist: u32,
    album: Option<String>,
    id: Option<String>,
}

struct Event {
    ts: i64,
    track: u32,
    ms: u32,
    counted: bool,
    skipped: Option<bool>,
    shuffle: Option<bool>,
}

/// A play repeats a track heard within this window (a week).
const REPEAT_WINDOW_SECS: i64 = 7 * 24 * 3600;

#[derive(Default)]
pub(crate) struct ProfileBuilder {
    artists: Vec<String>,
    artist_index: HashMap<String, u32>,
    /// Raw spelling -> id, so each distinct spelling is normalised once.
    artist_raw: HashMap<String, u32>,
    tracks: Vec<TrackInfo>,
    track_index: HashMap<(u32, String), u32>,
    track_raw: HashMap<(u32, String), u32>,
    events: Vec<Event>,
    seen: HashSet<u64>,
    countries: HashMap<String, u64>,
    pub stats: ExportStats,
}

impl ProfileBuilder {
    pub fn add(&mut self, raw: RawPlay, options: &ExportOptions) {
        self.stats.records += 1;
        if raw.is_non_music() {
            self.stats.non_music += 1;
            return;
        }
        let clean = |s: &Option<String>| {
            s.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty() && !s.eq_ignore_ascii_case("unknown track"))
                .filter(|s| !s.eq_ignore_ascii_case("unknown artist"))
                .map(str::to_string)
        };
        let (Some(track), Some(artist)) = (
            clean(&raw.master_metadata_track_name),
            clean(&raw.master_metadata_album_artist_name),
        ) else {
            self.stats.unnamed += 1;
            return;
        };
        let (Some(time), Some(ms)) = (raw.time(), raw.ms_played) else {
            self.stats.malformed += 1;
            return;
        };
        let mut h = DefaultHasher::new();
        (time.timestamp(), ms, &track, &artist).hash(&mut h);
        if !self.seen.insert(h.finish()) {
            self.stats.duplicates += 1;
            return;
        }
        if let Some(c) = raw.conn_country.as_deref().filter(|c| c.len() == 2) {
            *self.countries.entry(c.to_ascii_uppercase()).or_default() += 1;
        }
        let counted = ms >= options.min_ms_played;
        if counted {
            self.stats.counted += 1;
        } else {
            self.stats.short += 1;
        }
        // Explicit flag when the format has one; else the reason the track
        // ended; else (account data) a play under the threshold is a skip.
        let skipped = raw.skipped.or(match raw.reason_end.as_deref() {
            Some("fwdbtn") | Some("backbtn") => Some(true),
            Some(_) => Some(false),
            None => Some(!counted),
        });
        let artist_id = self.artist_id(&artist);
        let track_id = self.track_id(
            artist_id,
            track,
            raw.master_metadata_album_album_name,
            raw.spotify_track_uri,
        );
        self.events.push(Event {
            ts: time.timestamp(),
            track: track_id,
            ms: ms.min(u32::MAX as u64) as u32,
            counted,
            skipped,
            shuffle: raw.shuffle,
        });
    }

    fn artist_id(&mut self, name: &str) -> u32 {
        if let Some(id) = self.artist_raw.get(name) {
            return *id;
        }
        let id = match self.artist_index.entry(normalize_name(name)) {
            Entry::Occupied(e) => *e.get(),
            Entry::Vacant(e) => {
                let id = self.artists.len() as u32;
                self.artists.push(name.to_string());
                *e.insert(id)
            }
        };
        self.artist_raw.insert(name.to_string(), id);
        id
    }

    fn track_id(
        &mut self,
        artist: u32,
        name: String,
        album: Option<String>,
        uri: Option<String>,
    ) -> u32 {
        let raw_key = (artist, name);
        if let Some(id) = self.track_raw.get(&raw_key) {
            return *id;
        }
        let (artist, name) = raw_key;
        let id = match self.track_index.entry((artist, normalize_title(&name))) {
            Entry::Occupied(e) => *e.get(),
            Entry::Vacant(e) => {
                let id = self.tracks.len() as u32;
                let spotify_id = uri
                    .as_deref()
                    .and_then(|u| u.strip_prefix("spotify:track:"))
                    .filter(|id| !id.is_empty())
                    .map(str::to_string);
                self.tracks.push(TrackInfo {
                    name: name.clone(),
                    artist,
                    album: album.filter(|a| !a.trim().is_empty()),
                    id: spotify_id,
                });
                *e.insert(id)
            }
        };
        self.track_raw.insert((artist, name), id);
        id
    }

    /// The country most plays came from, if the format records it.
    pub fn main_country(&self) -> Option<&str> {
        self.countries
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
            .map(|(c, _)| c.as_str())
    }

    pub fn finish(
        mut self,
        options: &ExportOptions,
        utc_offset_minutes: Option<i32>,
    ) -> ListeningProfile {
        let mut profile = ListeningProfile::empty("spotify_export");
        self.events.sort_by_key(|e| (e.ts, e.track));
        let counted: Vec<&Event> = self.events.iter().filter(|e| e.counted).collect();
        let (Some(first), Some(last)) = (counted.first(), counted.last()) else {
            profile.source.export = Some(self.stats);
            return profile;
        };
        let to_time = |ts: i64| DateTime::<Utc>::from_timestamp(ts, 0).unwrap_or_default();
        profile.period = Some(Period {
            from: to_time(first.ts),
            to: to_time(last.ts),
        });
        let end = last.ts;
        for range in TimeRange::ALL {
            let since = match range {
                TimeRange::ShortTerm => end - Duration::days(28).num_seconds(),
                TimeRange::MediumTerm => end - Duration::days(182).num_seconds(),
                TimeRange::LongTerm => i64::MIN,
            };
            let in_range = counted.iter().filter(|e| e.ts >= since);
            let (tracks, artists) = self.top_lists(in_range, options.top_n);
            *profile.top_tracks.get_mut(range) = tracks;
            *profile.top_artists.get_mut(range) = artists;
        }
        profile.recent = counted
            .iter()
            .rev()
            .take(options.recent_n)
            .map(|e| {
                let t = &self.tracks[e.track as usize];
                RecentPlay {
                    track: t.name.clone(),
                    artists: vec![self.artists[t.artist as usize].clone()],
                    album: t.album.clone(),
                    played_at: to_time(e.ts),
                    ms_played: Some(e.ms as u64),
                    skipped: e.skipped,
                }
            })
            .collect();
        profile.behaviour = Some(self.behaviour(&counted, utc_offset_minutes));
        profile.source.export = Some(std::mem::take(&mut self.stats));
        profile
    }

    fn top_lists<'a>(
        &self,
        events: impl Iterator<Item = &'a &'a Event>,
        top_n: usize,
    ) -> (Vec<TrackStat>, Vec<ArtistStat>) {
        let mut by_track: HashMap<u32, (u32, u64)> = HashMap::new();
        let mut by_artist: HashMap<u32, (u32, u64)> = HashMap::new();
        for e in events {
            let t = by_track.entry(e.track).or_default();
            t.0 += 1;
            t.1 += e.ms as u64;
            let a = by_artist
                .entry(self.tracks[e.track as usize].artist)
                .or_default();
            a.0 += 1;
            a.1 += e.ms as u64;
        }
        fn ranked<'n>(
            m: HashMap<u32, (u32, u64)>,
            name: impl Fn(u32) -> &'n str,
            top_n: usize,
        ) -> Vec<(u32, (u32, u64))> {
            let mut v: Vec<(u32, (u32, u64))> = m.into_iter().collect();
            // Most plays, then most time, then name: stable across runs.
            v.sort_by(|a, b| {
                b.1.0
                    .cmp(&a.1.0)
                    .then(b.1.1.cmp(&a.1.1))
                    .then_with(|| name(a.0).cmp(name(b.0)))
            });
            v.truncate(top_n);
            v
        }
        let tracks = ranked(by_track, |i| self.tracks[i as usize].name.as_str(), top_n);
        let artists = ranked(by_artist, |i| self.artists[i as usize].as_str(), top_n);
        let total_t: u32 = tracks.iter().map(|(_, (p, _))| p).sum();
        let total_a: u32 = artists.iter().map(|(_, (p, _))| p).sum();
        let tracks = tracks
            .into_iter()
            .enumerate()
            .map(|(i, (id, (plays, ms)))| {
                let t = &self.tracks[id as usize];
                TrackStat {
                    name: t.name.clone(),
                    artists: vec![self.artists[t.artist as usize].clone()],
                    album: t.album.clone(),
                    id: t.id.clone(),
                    rank: i as u32 + 1,
                    weight: plays as f32 / total_t.max(1) as f32,
                    plays: Some(plays),
                    ms_played: Some(ms),
                    ..TrackStat::default()
                }
            })
            .collect();
        let artists = artists
            .into_iter()
            .enumerate()
            .map(|(i, (id, (plays, ms)))| ArtistStat {
                name: self.artists[id as usize].clone(),
                rank: i as u32 + 1,
                weight: plays as f32 / total_a.max(1) as f32,
                plays: Some(plays),
                ms_played: Some(ms),
                ..ArtistStat::default()
            })
            .collect();
        (tracks, artists)
    }

    fn behaviour(&self, counted: &[&Event], utc_offset_minutes: Option<i32>) -> Behaviour {
        let offset = utc_offset_minutes.unwrap_or(0) as i64 * 60;
        let mut hours = [0u32; 24];
        let mut tracks = HashSet::new();
        let mut artists = HashSet::new();
        let mut ms = 0u64;
        let mut last_played: HashMap<u32, i64> = HashMap::new();
        let mut repeats = 0u64;
        for e in counted {
            if last_played
                .insert(e.track, e.ts)
                .is_some_and(|prev| e.ts - prev <= REPEAT_WINDOW_SECS)
            {
                repeats += 1;
            }
            let local = DateTime::<Utc>::from_timestamp(e.ts + offset, 0).unwrap_or_default();
            hours[local.hour() as usize] += 1;
            tracks.insert(e.track);
            artists.insert(self.tracks[e.track as usize].artist);
            ms += e.ms as u64;
        }
        let rate = |flag: fn(&Event) -> Option<bool>| {
            let known: Vec<bool> = self.events.iter().filter_map(flag).collect();
            (!known.is_empty())
                .then(|| known.iter().filter(|b| **b).count() as f32 / known.len() as f32)
        };
        let plays = counted.len() as u64;
        Behaviour {
            plays,
            events: self.events.len() as u64,
            ms_played: ms,
            distinct_tracks: tracks.len() as u64,
            distinct_artists: artists.len() as u64,
            skip_rate: rate(|e| e.skipped),
            shuffle_rate: rate(|e| e.shuffle),
            repeat_ratio: if plays == 0 {
                0.0
            } else {
                repeats as f32 / plays as f32
            },
            hour_histogram: hours,
            utc_offset_minutes,
        }
    }
}
