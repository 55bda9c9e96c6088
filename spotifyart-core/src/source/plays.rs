//! A listening history given as timestamped plays (ListenBrainz listens,
//! Last.fm scrobbles) made into the same profile an export gives: top
//! lists per range counted from the plays, recent plays, behaviour. One
//! counting rule for every history, the export reader's.

use chrono::{DateTime, Utc};

use super::export::builder::ProfileBuilder;
use super::export::records::RawPlay;
use crate::Result;
use crate::profile::ListeningProfile;
use crate::source::ExportOptions;

/// One play of a track.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Play {
    /// When it was played (a scrobble's or listen's time).
    pub played_at: DateTime<Utc>,
    /// Track title.
    pub track: String,
    /// The (first) credited artist.
    pub artist: String,
    /// Album, when known.
    pub album: Option<String>,
    /// How long it played, when the service says; scrobble services record
    /// a play only once enough of it was heard.
    pub ms_played: Option<u64>,
}

/// What a play counts as when its length is unknown: a full play of a
/// typical track (scrobbles are only made for tracks heard long enough).
const ASSUMED_MS: u64 = 180_000;

/// The profile of `plays`, with `kind` as its source (`listenbrainz`,
/// `lastfm`) and hours of day shifted by `utc_offset_minutes` when known.
pub fn profile_from_plays(
    kind: &str,
    plays: impl IntoIterator<Item = Play>,
    options: &ExportOptions,
    utc_offset_minutes: Option<i32>,
) -> Result<ListeningProfile> {
    let mut builder = ProfileBuilder::default();
    for p in plays {
        builder.add(
            RawPlay {
                ts: Some(p.played_at.to_rfc3339()),
                ms_played: Some(p.ms_played.unwrap_or(ASSUMED_MS)),
                master_metadata_track_name: Some(p.track),
                master_metadata_album_artist_name: Some(p.artist),
                master_metadata_album_album_name: p.album,
                // Heard long enough to be scrobbled (skips are unknown:
                // cleared below).
                reason_end: Some("trackdone".into()),
                ..RawPlay::default()
            },
            options,
        );
    }
    let mut profile = builder.finish(options, utc_offset_minutes);
    profile.source.kind = kind.to_string();
    profile.source.export = None;
    // Scrobble services record only plays heard long enough, so a skip is
    // never seen: the skip rate is unknown, not zero.
    if let Some(b) = &mut profile.behaviour {
        b.skip_rate = None;
    }
    for r in &mut profile.recent {
        r.skipped = None;
    }
    profile.normalize()?;
    Ok(profile)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plays_count_like_an_export() {
        let t0 = DateTime::parse_from_rfc3339("2026-11-01T20:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let play = |i: i64, track: &str, artist: &str| Play {
            played_at: t0 + chrono::Duration::minutes(4 * i),
            track: track.into(),
            artist: artist.into(),
            album: None,
            ms_played: None,
        };
        let plays = vec![
            play(0, "Dancing Queen", "ABBA"),
            play(1, "Dancing Queen", "ABBA"),
            play(2, "Hallelujah", "Jeff Buckley"),
        ];
        let p = profile_from_plays("listenbrainz", plays, &ExportOptions::default(), None).unwrap();
        assert_eq!(p.source.kind, "listenbrainz");
        let top = p.top_artists.get(crate::TimeRange::ShortTerm);
        assert_eq!(top[0].name, "ABBA");
        assert_eq!(p.recent.len(), 3);
        let b = p.behaviour.as_ref().unwrap();
        assert_eq!(b.skip_rate, None, "scrobbles never show a skip");
        assert!(!p.signals.contains(&crate::Signal::Skips));
    }
}
