//! The [`MoodModel`] conformance suite. Every model runs all of it, given
//! the model and a profile that carries every signal the model declares:
//!
//! ```text
//! spotifyart_core::mood_model_conformance_tests!(
//!     MyModel::new(..),
//!     with_signals: spotifyart_core::testing::mood::profile_with(&[Signal::Names]),
//! );
//! ```
//!
//! The checks use only the trait: answers are on the plane and finite, the
//! same profile gets the same answer, a profile without any of the model's
//! signals gets [`Mood::neutral`], and the signals a model declares are a
//! non-empty set that, present in a profile, give it some confidence. Each
//! check also runs on [`probe_profiles`], the suite's own profiles with one
//! kind of signal each.

use chrono::{TimeZone, Utc};

use crate::mood::{Mood, MoodModel, Rgb};
use crate::profile::CoverColour;
use crate::profile::{
    ArtistStat, AudioFeatures, Behaviour, ListeningProfile, RecentPlay, Signal, TimeRange,
    TrackStat,
};

/// Generates one `#[test]` per conformance check, each calling the given
/// expression for a fresh model (anything that implements [`MoodModel`])
/// and `with_signals:` for a profile carrying every signal the model
/// declares. With `optional:`, the model expression yields an `Option` and
/// `None` skips the test (for models whose weights the machine may lack).
#[macro_export]
macro_rules! mood_model_conformance_tests {
    (optional: $make:expr, with_signals: $profile:expr $(,)?) => {
        mod mood_model_conformance {
            #[allow(unused_imports)]
            use super::*;
            use $crate::testing::mood as suite;

            macro_rules! conformance_test {
                ($name:ident) => {
                    #[test]
                    fn $name() {
                        let Some(model) = $make else {
                            return;
                        };
                        let profile: $crate::ListeningProfile = $profile;
                        suite::$name(&model, &profile);
                    }
                };
            }

            conformance_test!(answers_are_on_the_plane);
            conformance_test!(answers_are_deterministic);
            conformance_test!(no_signal_gives_the_neutral_mood);
            conformance_test!(declared_signals_give_confidence);
            conformance_test!(used_signals_are_declared_and_present);
        }
    };
    ($make:expr, with_signals: $profile:expr $(,)?) => {
        $crate::mood_model_conformance_tests!(optional: Some($make), with_signals: $profile);
    };
}

/// Audio features spread over the plane, one per track index.
fn features(i: usize) -> AudioFeatures {
    let x = (i % 5) as f32 / 4.0;
    AudioFeatures {
        valence: 0.1 + 0.8 * x,
        energy: 0.9 - 0.7 * x,
        danceability: 0.5,
        tempo: 96.0 + 8.0 * i as f32,
        mode: (i % 2) as f32,
        acousticness: 0.2 + 0.1 * (i % 3) as f32,
        loudness: Some(-8.0),
        instrumentalness: None,
    }
}

/// Artists the built-in tables know (so name-based models have something
/// to say), with a genre each.
const ARTISTS: [(&str, &str, &str); 6] = [
    ("ABBA", "Dancing Queen", "europop"),
    ("Adele", "Someone Like You", "soul"),
    ("Metallica", "Enter Sandman", "metal"),
    ("Bon Iver", "Skinny Love", "indie folk"),
    ("Lizzo", "Good as Hell", "dance pop"),
    ("Bob Marley & The Wailers", "Three Little Birds", "reggae"),
];

/// Cover colours from bright and warm to dark and grey.
const COVERS: [(u8, u8, u8); 3] = [(250, 210, 60), (40, 40, 48), (230, 90, 150)];

/// A normalised profile that carries exactly `signals`, plus
/// [`Signal::Names`] whenever it has top tracks (every track has a name):
/// audio features, genres, popularity, release dates and cover colours sit
/// on tracks by artists the built-in tables know; play times and skips on
/// [`Behaviour`]. An empty slice gives a profile without any signal.
pub fn profile_with(signals: &[Signal]) -> ListeningProfile {
    let on = |s: Signal| signals.contains(&s);
    let mut p = ListeningProfile::empty("fixture");
    let content = [
        Signal::AudioFeatures,
        Signal::Genres,
        Signal::Popularity,
        Signal::Names,
        Signal::ReleaseDates,
        Signal::Covers,
    ];
    if content.iter().any(|s| on(*s)) {
        for range in TimeRange::ALL {
            *p.top_tracks.get_mut(range) = ARTISTS
                .iter()
                .enumerate()
                .map(|(i, (artist, title, genre))| TrackStat {
                    name: title.to_string(),
                    artists: vec![artist.to_string()],
                    album: Some(format!("{title} (album)")),
                    plays: Some(60 - 5 * i as u32),
                    audio_features: on(Signal::AudioFeatures).then(|| features(i)),
                    genres: if on(Signal::Genres) {
                        vec![genre.to_string()]
                    } else {
                        Vec::new()
                    },
                    popularity: on(Signal::Popularity).then_some(80 - 5 * i as u8),
                    release_date: on(Signal::ReleaseDates)
                        .then(|| format!("{}-06-01", 1975 + 8 * i)),
                    cover_colours: if on(Signal::Covers) {
                        let (r, g, b) = COVERS[i % COVERS.len()];
                        vec![CoverColour {
                            color: Rgb(r, g, b),
                            share: 1.0,
                        }]
                    } else {
                        Vec::new()
                    },
                    ..TrackStat::default()
                })
                .collect();
            *p.top_artists.get_mut(range) = ARTISTS
                .iter()
                .map(|(artist, _, genre)| ArtistStat {
                    name: artist.to_string(),
                    genres: if on(Signal::Genres) {
                        vec![genre.to_string()]
                    } else {
                        Vec::new()
                    },
                    ..ArtistStat::default()
                })
                .collect();
        }
    }
    if on(Signal::PlayTimes) || on(Signal::Skips) {
        let mut hours = [0u32; 24];
        if on(Signal::PlayTimes) {
            for (h, n) in hours.iter_mut().enumerate() {
                *n = if (8..23).contains(&h) { 20 } else { 5 };
            }
            hours[23] = 90;
        }
        p.behaviour = Some(Behaviour {
            plays: 400,
            events: 520,
            ms_played: 400 * 180_000,
            distinct_tracks: 150,
            distinct_artists: 40,
            skip_rate: on(Signal::Skips).then_some(0.45),
            shuffle_rate: None,
            repeat_ratio: 0.6,
            hour_histogram: hours,
            utc_offset_minutes: Some(0),
        });
    }
    p.normalize().expect("the suite's profiles are valid");
    p
}

/// The suite's own profiles: none at all, one per signal, and recent plays
/// alone (play times without top lists or behaviour).
pub fn probe_profiles() -> Vec<(String, ListeningProfile)> {
    let mut probes = vec![("no signals".to_string(), profile_with(&[]))];
    for s in [
        Signal::AudioFeatures,
        Signal::Genres,
        Signal::Popularity,
        Signal::Names,
        Signal::ReleaseDates,
        Signal::Covers,
        Signal::PlayTimes,
        Signal::Skips,
    ] {
        probes.push((format!("only {s}"), profile_with(&[s])));
    }
    let mut recent = ListeningProfile::empty("fixture");
    recent.recent = (0..12)
        .map(|i| RecentPlay {
            track: ARTISTS[i % ARTISTS.len()].1.to_string(),
            artists: vec![ARTISTS[i % ARTISTS.len()].0.to_string()],
            album: None,
            played_at: Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap()
                - chrono::Duration::minutes(4 * i as i64),
            ms_played: Some(180_000),
            skipped: Some(i % 3 == 0),
        })
        .collect();
    recent.normalize().expect("the suite's profiles are valid");
    probes.push(("recent plays only".to_string(), recent));
    probes
}

/// The probes and the caller's profile, named.
fn every_profile(given: &ListeningProfile) -> Vec<(String, ListeningProfile)> {
    let mut all = probe_profiles();
    all.push(("the given profile".to_string(), given.clone()));
    all
}

fn mood_of(model: &dyn MoodModel, what: &str, p: &ListeningProfile) -> Mood {
    model
        .mood(p)
        .unwrap_or_else(|e| panic!("{}: mood of {what} failed: {e}", model.name()))
}

/// Valence and arousal in [-1, 1], confidence and intensity in [0, 1], all
/// finite, on every profile.
pub fn answers_are_on_the_plane(model: &dyn MoodModel, profile: &ListeningProfile) {
    for (what, p) in every_profile(profile) {
        let m = mood_of(model, &what, &p);
        let name = model.name();
        for (field, v, lo) in [
            ("valence", m.valence, -1.0),
            ("arousal", m.arousal, -1.0),
            ("confidence", m.confidence, 0.0),
            ("intensity", m.intensity, 0.0),
        ] {
            assert!(
                v.is_finite() && (lo..=1.0).contains(&v),
                "{name} on {what}: {field} {v} is outside [{lo}, 1]: {m:?}"
            );
        }
    }
}

/// The same profile, asked twice (and a copy of it), gets the same mood.
pub fn answers_are_deterministic(model: &dyn MoodModel, profile: &ListeningProfile) {
    for (what, p) in every_profile(profile) {
        let first = mood_of(model, &what, &p);
        let second = mood_of(model, &what, &p);
        assert_eq!(first, second, "{} on {what}: asked twice", model.name());
        let copy = mood_of(model, &what, &p.clone());
        assert_eq!(first, copy, "{} on {what}: a copy", model.name());
    }
}

/// Every probe without any of the model's signals (the empty profile at
/// least) gets exactly [`Mood::neutral`]: the origin, confidence 0, no
/// signals used, the model's name.
pub fn no_signal_gives_the_neutral_mood(model: &dyn MoodModel, _profile: &ListeningProfile) {
    let mut checked = 0;
    for (what, p) in probe_profiles() {
        if model.signals().iter().any(|s| p.has(*s)) {
            continue;
        }
        let m = mood_of(model, &what, &p);
        assert_eq!(
            m,
            Mood::neutral(model.name()),
            "{} on {what} (signals {:?}, the model's {:?}) is not the neutral mood",
            model.name(),
            p.signals,
            model.signals()
        );
        checked += 1;
    }
    assert!(checked > 0, "no probe lacked {:?}", model.signals());
}

/// The declared signals are non-empty and unique; the given profile
/// carries all of them and gets a mood with confidence above 0.
pub fn declared_signals_give_confidence(model: &dyn MoodModel, profile: &ListeningProfile) {
    let name = model.name();
    let declared = model.signals();
    assert!(!declared.is_empty(), "{name} declares no signals");
    for (i, s) in declared.iter().enumerate() {
        assert!(
            !declared[..i].contains(s),
            "{name} declares {s} twice: {declared:?}"
        );
    }
    for s in declared {
        assert!(
            profile.has(*s),
            "the profile given to {name}'s suite lacks its signal {s} (it has {:?})",
            profile.signals
        );
    }
    let m = mood_of(model, "the given profile", profile);
    assert!(
        m.confidence > 0.0,
        "{name} has no confidence on a profile with every signal it declares ({declared:?}): {m:?}"
    );
}

/// The signals a mood says it used are among those the model declares and
/// those the profile has.
pub fn used_signals_are_declared_and_present(model: &dyn MoodModel, profile: &ListeningProfile) {
    for (what, p) in every_profile(profile) {
        let m = mood_of(model, &what, &p);
        for s in &m.signals {
            assert!(
                model.signals().contains(s),
                "{} on {what} used {s}, which it does not declare ({:?})",
                model.name(),
                model.signals()
            );
            assert!(
                p.has(*s),
                "{} on {what} used {s}, which the profile lacks ({:?})",
                model.name(),
                p.signals
            );
        }
    }
}
