//! Filling the fake from a [`ListeningProfile`]: a user with top lists per
//! range and recent plays, and the artists and tracks those name, with ids
//! derived from names so tests can predict them.

use chrono::{DurationRound, Utc};
use spotifyart_core::{ListeningProfile, TimeRange};

use super::state::{ArtistEntry, State, TrackEntry, UserEntry, fake_id};

impl State {
    /// See [`super::FakeSpotify::add_user`].
    pub(super) fn add_user(
        &mut self,
        user_id: &str,
        display_name: &str,
        profile: &ListeningProfile,
    ) -> String {
        let mut user = UserEntry {
            id: user_id.to_string(),
            account_id: format!("acc-{}", &fake_id(user_id)[..12]),
            display_name: display_name.to_string(),
            country: "SE".into(),
            ..UserEntry::default()
        };
        for range in TimeRange::ALL {
            let mut artist_ids = Vec::new();
            for a in profile.top_artists.get(range) {
                let id = fake_id(&a.name);
                self.artists
                    .entry(id.clone())
                    .or_insert_with(|| ArtistEntry {
                        name: a.name.clone(),
                        genres: a.genres.clone(),
                        popularity: a.popularity.unwrap_or(50),
                    });
                artist_ids.push(id);
            }
            let mut track_ids = Vec::new();
            for t in profile.top_tracks.get(range) {
                let id = fake_id(&format!("{}\u{0}{}", t.primary_artist(), t.name));
                let artists: Vec<String> = t
                    .artists
                    .iter()
                    .map(|name| {
                        let aid = fake_id(name);
                        self.artists
                            .entry(aid.clone())
                            .or_insert_with(|| ArtistEntry {
                                name: name.clone(),
                                genres: t.genres.clone(),
                                popularity: 40,
                            });
                        aid
                    })
                    .collect();
                let album = t
                    .album
                    .clone()
                    .unwrap_or_else(|| format!("{} (Single)", t.name));
                self.tracks.entry(id.clone()).or_insert_with(|| TrackEntry {
                    name: t.name.clone(),
                    artists,
                    album_id: fake_id(&album),
                    album,
                    release_date: t
                        .release_date
                        .clone()
                        .unwrap_or_else(|| "2015-06-01".into()),
                    duration_ms: t.duration_ms.unwrap_or(215_000),
                    explicit: t.explicit.unwrap_or(false),
                    popularity: t.popularity.unwrap_or(60),
                    features: t.audio_features,
                });
                track_ids.push(id);
            }
            user.top_artists.insert(range, artist_ids);
            user.top_tracks.insert(range, track_ids);
        }
        // Plays end at the last midnight (UTC), so their times of day, and
        // the behaviour signals read from them, do not depend on when a
        // test runs.
        let now = Utc::now()
            .duration_trunc(chrono::Duration::days(1))
            .unwrap_or_else(|_| Utc::now());
        let short = user
            .top_tracks
            .get(&TimeRange::ShortTerm)
            .cloned()
            .unwrap_or_default();
        let pool = if short.is_empty() {
            user.top_tracks
                .get(&TimeRange::MediumTerm)
                .cloned()
                .unwrap_or_default()
        } else {
            short
        };
        user.recent = (0..if pool.is_empty() { 0 } else { 60 })
            .map(|i| {
                (
                    pool[(i * 7) % pool.len()].clone(),
                    now - chrono::Duration::minutes(37 * i as i64 + 5),
                )
            })
            .collect();
        self.users.push(user);
        user_id.to_string()
    }

    /// See [`super::FakeSpotify::pad_top_lists`].
    pub(super) fn pad_top_lists(&mut self, user: &str, n: usize) {
        for i in 0..n {
            let aid = fake_id(&format!("padding artist {i}"));
            self.artists.insert(
                aid.clone(),
                ArtistEntry {
                    name: format!("Padding Artist {i}"),
                    genres: vec!["indie pop".into()],
                    popularity: 10,
                },
            );
            let tid = fake_id(&format!("padding track {i}"));
            self.tracks.insert(
                tid.clone(),
                TrackEntry {
                    name: format!("Padding Song {i}"),
                    artists: vec![aid.clone()],
                    album: format!("Padding Album {i}"),
                    album_id: fake_id(&format!("padding album {i}")),
                    release_date: "2020".into(),
                    duration_ms: 200_000,
                    explicit: false,
                    popularity: 10,
                    features: None,
                },
            );
            if let Some(u) = self.users.iter_mut().find(|u| u.id == user) {
                for range in TimeRange::ALL {
                    u.top_artists.entry(range).or_default().push(aid.clone());
                    u.top_tracks.entry(range).or_default().push(tid.clone());
                }
            }
        }
    }
}
