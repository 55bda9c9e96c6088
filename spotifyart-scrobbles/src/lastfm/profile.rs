//! A Last.fm user's [`ListeningProfile`]: Last.fm's own top lists for the
//! three ranges (with their play counts as weights), the most recent
//! scrobbles for recent plays, play times and behaviour (counted by the
//! export reader's rules, `profile_from_plays`), and the top artists' tags
//! as genres.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::Utc;
use spotifyart_core::names::normalize_name;
use spotifyart_core::source::{ExportOptions, profile_from_plays};
use spotifyart_core::{Error, ListeningProfile, Result, TimeRange};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tracing::Instrument;

use super::SOURCE_KIND;
use super::client::{Lastfm, Scrobbles, validate_username};
use super::tags::genres_from_tags;

/// Recent plays kept on the profile (as many as the Web API gives); the
/// behaviour is counted over every scrobble read.
const RECENT_KEPT: usize = 50;

impl Lastfm {
    /// The listening profile of the Last.fm user `user` (their public
    /// listening; no sign-in). `NotFound` names a user Last.fm does not
    /// know; a user who hides all their listening is `Forbidden`, one who
    /// hides only recent tracks gets a profile without play times (noted).
    pub async fn profile(&self, user: &str) -> Result<ListeningProfile> {
        let user = validate_username(user)?;
        build(self, user)
            .instrument(tracing::info_span!("lastfm.profile"))
            .await
    }
}

async fn build(client: &Lastfm, user: &str) -> Result<ListeningProfile> {
    let config = client.config();
    let n = config.top_n;
    let tops = async {
        tokio::try_join!(
            client.top_artists(user, TimeRange::ShortTerm, n),
            client.top_artists(user, TimeRange::MediumTerm, n),
            client.top_artists(user, TimeRange::LongTerm, n),
            client.top_tracks(user, TimeRange::ShortTerm, n),
            client.top_tracks(user, TimeRange::MediumTerm, n),
            client.top_tracks(user, TimeRange::LongTerm, n),
        )
    };
    let (tops, recent) = tokio::join!(tops, client.recent_plays(user, config.max_recent));
    let (a_short, a_medium, a_long, t_short, t_medium, t_long) = tops?;
    let mut notes = Vec::new();
    let scrobbles = match recent {
        Ok(s) => s,
        // Top lists came, recent tracks did not: the user hides only their
        // recent listening. Their taste is still readable.
        Err(Error::Forbidden { .. }) => {
            notes.push(
                "recent scrobbles are hidden by the user's Last.fm privacy settings: \
                 no recent plays or play times"
                    .to_string(),
            );
            Scrobbles::default()
        }
        Err(e) => return Err(e),
    };
    if scrobbles.total > scrobbles.plays.len() as u64 && !scrobbles.plays.is_empty() {
        notes.push(format!(
            "recent plays and behaviour from the {} most recent of {} scrobbles",
            scrobbles.plays.len(),
            scrobbles.total
        ));
    }

    let options = ExportOptions {
        top_n: n,
        recent_n: RECENT_KEPT,
        ..ExportOptions::default()
    };
    let mut profile = profile_from_plays(SOURCE_KIND, scrobbles.plays, &options, None)?;
    // Last.fm counts every scrobble of each period; the lists counted from
    // the few recent pages read would be a poorer copy.
    let artists = [a_short, a_medium, a_long];
    let tracks = [t_short, t_medium, t_long];
    for (i, range) in TimeRange::ALL.into_iter().enumerate() {
        *profile.top_artists.get_mut(range) = artists[i].clone();
        *profile.top_tracks.get_mut(range) = tracks[i].clone();
    }
    profile.normalize()?;

    let tagged = tag_artists(client, &profile).await;
    if tagged.failed > 0 {
        notes.push(format!(
            "tags of {} of {} artists unavailable ({})",
            tagged.failed,
            tagged.asked,
            tagged.first_error.unwrap_or_default()
        ));
    }
    apply_genres(&mut profile, &tagged.genres);
    profile.source.notes = notes;
    profile.source.fetched_at = Some(Utc::now());
    profile.normalize()?;
    tracing::info!(
        signals = ?profile.signals,
        recent = profile.recent.len(),
        tagged = tagged.genres.len(),
        "lastfm profile built"
    );
    Ok(profile)
}

/// Genres read for the most listened-to artists.
struct Tagged {
    /// Genres by normalised artist name (artists with none left out).
    genres: HashMap<String, Vec<String>>,
    /// Artists asked about.
    asked: usize,
    /// Calls that failed (an artist Last.fm does not know is not a failure).
    failed: usize,
    /// The first failure, for the note.
    first_error: Option<String>,
}

/// Reads the top tags of the `tagged_artists` artists with the most weight
/// across the three ranges, `tag_concurrency` at a time. Failures never
/// fail the profile: genres are a help to the mood, not a need.
async fn tag_artists(client: &Lastfm, profile: &ListeningProfile) -> Tagged {
    let config = client.config();
    let names: Vec<String> = profile
        .weighted_artists()
        .into_iter()
        .take(config.tagged_artists)
        .map(|(a, _)| a.name.clone())
        .collect();
    let mut tagged = Tagged {
        genres: HashMap::new(),
        asked: names.len(),
        failed: 0,
        first_error: None,
    };
    let permits = Arc::new(Semaphore::new(config.tag_concurrency.max(1)));
    let mut calls = JoinSet::new();
    for name in names {
        let client = client.clone();
        let permits = permits.clone();
        calls.spawn(
            async move {
                let _permit = permits.acquire_owned().await;
                let tags = client.artist_tags(&name).await;
                (name, tags)
            }
            .in_current_span(),
        );
    }
    while let Some(joined) = calls.join_next().await {
        let Ok((name, tags)) = joined else {
            tagged.failed += 1;
            continue;
        };
        match tags {
            Ok(tags) => {
                let genres = genres_from_tags(&name, &tags);
                if !genres.is_empty() {
                    tagged.genres.insert(normalize_name(&name), genres);
                }
            }
            Err(Error::NotFound { .. }) => {}
            Err(e) => {
                tracing::debug!(code = e.code(), "artist tags unavailable");
                tagged.failed += 1;
                tagged.first_error.get_or_insert_with(|| e.to_string());
            }
        }
    }
    tagged
}

/// Puts each artist's genres on them in every range and on the tracks
/// they are the primary artist of.
fn apply_genres(profile: &mut ListeningProfile, genres: &HashMap<String, Vec<String>>) {
    if genres.is_empty() {
        return;
    }
    for range in TimeRange::ALL {
        for a in profile.top_artists.get_mut(range) {
            if let Some(g) = genres.get(&normalize_name(&a.name)) {
                a.genres = g.clone();
            }
        }
        for t in profile.top_tracks.get_mut(range) {
            if let Some(g) = genres.get(&normalize_name(t.primary_artist())) {
                t.genres = g.clone();
            }
        }
    }
}
