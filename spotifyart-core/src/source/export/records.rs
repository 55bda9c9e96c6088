//! One play record, in either export format, parsed leniently: Spotify has
//! renamed and retyped fields over the years, so every field is optional
//! and booleans/numbers are accepted in the spellings seen in the wild.
//!
//! Account data (`StreamingHistory*.json`):
//! `{"endTime": "2023-01-05 21:14", "artistName", "trackName", "msPlayed"}`;
//! podcasts there carry `podcastName`/`episodeName`.
//! Extended history (`endsong*.json`, `Streaming_History_Audio_*.json`):
//! `ts`, `ms_played`, `master_metadata_*`, `spotify_track_uri`, episode and
//! (since 2024) audiobook fields, `reason_start`/`reason_end`, `shuffle`,
//! `skipped`, `conn_country`, plus fields we deliberately never read
//! (`username`, `ip_addr(_decrypted)`, `user_agent_decrypted`).

use std::fmt;
use std::io::Read;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};

/// A play as found in a file.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawPlay {
    #[serde(alias = "endTime")]
    pub ts: Option<String>,
    #[serde(alias = "msPlayed", deserialize_with = "lenient_u64")]
    pub ms_played: Option<u64>,
    #[serde(alias = "trackName")]
    pub master_metadata_track_name: Option<String>,
    #[serde(alias = "artistName")]
    pub master_metadata_album_artist_name: Option<String>,
    pub master_metadata_album_album_name: Option<String>,
    pub spotify_track_uri: Option<String>,
    #[serde(alias = "episodeName")]
    pub episode_name: Option<String>,
    #[serde(alias = "podcastName")]
    pub episode_show_name: Option<String>,
    pub spotify_episode_uri: Option<String>,
    pub audiobook_title: Option<String>,
    pub audiobook_uri: Option<String>,
    pub audiobook_chapter_uri: Option<String>,
    pub reason_end: Option<String>,
    #[serde(deserialize_with = "lenient_bool")]
    pub shuffle: Option<bool>,
    #[serde(deserialize_with = "lenient_bool")]
    pub skipped: Option<bool>,
    pub conn_country: Option<String>,
}

impl RawPlay {
    /// Podcast episode, audiobook chapter or video, not music.
    pub fn is_non_music(&self) -> bool {
        let set = |o: &Option<String>| o.as_deref().is_some_and(|s| !s.is_empty());
        set(&self.episode_name)
            || set(&self.spotify_episode_uri)
            || set(&self.audiobook_title)
            || set(&self.audiobook_uri)
            || set(&self.audiobook_chapter_uri)
            || (self.master_metadata_track_name.is_none() && set(&self.episode_show_name))
    }

    /// When the play ended (account data) or was logged (extended).
    pub fn time(&self) -> Option<DateTime<Utc>> {
        parse_time(self.ts.as_deref()?)
    }
}

/// Both timestamp spellings: RFC 3339 (`2021-03-14T18:42:07Z`) and account
/// data's minute precision UTC (`2021-03-14 18:42`, sometimes with seconds).
pub(crate) fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for fmt in ["%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(t.and_utc());
        }
    }
    None
}

fn lenient_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<u64>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a number of milliseconds")
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(u64::try_from(v).ok())
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok((v.is_finite() && v >= 0.0).then_some(v as u64))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(v.trim().parse().ok())
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_any(self)
        }
    }
    d.deserialize_any(V)
}

fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<bool>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a boolean")
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v != 0))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v != 0))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(match v.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => Some(true),
                "false" | "0" | "no" => Some(false),
                _ => None,
            })
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_any(self)
        }
    }
    d.deserialize_any(V)
}

/// Visits a JSON array of plays one record at a time: the array itself is
/// never held in memory.
struct Plays<'a, F>(&'a mut F);

impl<'de, F: FnMut(RawPlay)> Visitor<'de> for Plays<'_, F> {
    type Value = u64;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON array of plays")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<u64, A::Error> {
        let mut n = 0;
        while let Some(play) = seq.next_element::<RawPlay>()? {
            (self.0)(play);
            n += 1;
        }
        Ok(n)
    }
}

/// Streams a JSON array of plays from `reader`, calling `each` per record.
/// Errors carry serde_json's line and column.
pub(crate) fn stream_plays<R: Read>(
    reader: R,
    mut each: impl FnMut(RawPlay),
) -> Result<u64, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_reader(reader);
    let n = de.deserialize_seq(Plays(&mut each))?;
    de.end()?;
    Ok(n)
}

/// [`stream_plays`] over bytes already in memory (faster per byte).
pub(crate) fn parse_plays(
    bytes: &[u8],
    mut each: impl FnMut(RawPlay),
) -> Result<u64, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let n = de.deserialize_seq(Plays(&mut each))?;
    de.end()?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Vec<RawPlay> {
        let mut v = Vec::new();
        stream_plays(json.as_bytes(), |p| v.push(p)).unwrap();
        v
    }

    #[test]
    fn both_formats_and_lenient_types() {
        let plays = parse(
            r#"[
            {"endTime": "2023-01-05 21:14", "artistName": "ABBA", "trackName": "SOS", "msPlayed": 201000},
            {"ts": "2021-03-14T18:42:07Z", "username": "secret", "ms_played": "185000",
             "master_metadata_track_name": "Dreams", "master_metadata_album_artist_name": "Fleetwood Mac",
             "skipped": 1, "shuffle": "false", "offline": null, "new_field_2027": {"x": 1}}
        ]"#,
        );
        assert_eq!(plays.len(), 2);
        assert_eq!(plays[0].ms_played, Some(201000));
        assert_eq!(
            plays[0].master_metadata_album_artist_name.as_deref(),
            Some("ABBA")
        );
        assert_eq!(
            plays[0].time().unwrap().to_rfc3339(),
            "2023-01-05T21:14:00+00:00"
        );
        assert_eq!(plays[1].ms_played, Some(185000));
        assert_eq!(plays[1].skipped, Some(true));
        assert_eq!(plays[1].shuffle, Some(false));
    }

    #[test]
    fn podcasts_and_audiobooks_are_not_music() {
        let plays = parse(
            r#"[
            {"endTime": "2023-01-05 21:14", "podcastName": "Show", "episodeName": "Ep 1", "msPlayed": 900000},
            {"ts": "2024-03-14T18:42:07Z", "ms_played": 900000, "master_metadata_track_name": null,
             "episode_name": "Ep", "episode_show_name": "Show", "spotify_episode_uri": "spotify:episode:x"},
            {"ts": "2024-03-14T18:42:07Z", "ms_played": 900000, "audiobook_title": "Book",
             "audiobook_chapter_uri": "spotify:chapter:x"},
            {"ts": "2024-03-14T18:42:07Z", "ms_played": 9000, "master_metadata_track_name": "Song",
             "master_metadata_album_artist_name": "A", "episode_name": null}
        ]"#,
        );
        let kinds: Vec<bool> = plays.iter().map(RawPlay::is_non_music).collect();
        assert_eq!(kinds, vec![true, true, true, false]);
    }

    #[test]
    fn errors_have_line_and_column() {
        let err = stream_plays("[\n{\"ts\": \"x\",}\n]".as_bytes(), |_| {}).unwrap_err();
        assert_eq!((err.line(), err.column()), (2, 12));
        let err = stream_plays("{\"a\": 1}".as_bytes(), |_| {}).unwrap_err();
        assert!(
            err.to_string().contains("expected a JSON array of plays"),
            "{err}"
        );
        let err = stream_plays("[1]".as_bytes(), |_| {}).unwrap_err();
        assert!(err.to_string().contains("line 1 column 3"), "{err}");
    }
}
