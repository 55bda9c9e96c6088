//! Match properties over many random profiles, and on the sample exports.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use spotifyart_core::mood::Mood;
use spotifyart_core::profile::{ArtistStat, AudioFeatures, TrackStat};
use spotifyart_core::{Engine, ListeningProfile, Matcher, read_export};

const ARTISTS: [&str; 30] = [
    "ABBA",
    "Björk",
    "The Cure",
    "Radiohead",
    "Lizzo",
    "Metallica",
    "Enya",
    "Daft Punk",
    "Bon Iver",
    "Portishead",
    "Nirvana",
    "Robyn",
    "Adele",
    "Slipknot",
    "Max Richter",
    "Beyoncé",
    "Nils Frahm",
    "Lana Del Rey",
    "Kendrick Lamar",
    "Fleetwood Mac",
    "Sade",
    "Aphex Twin",
    "Joy Division",
    "Bill Withers",
    "Sufjan Stevens",
    "Ólafur Arnalds",
    "Frank Ocean",
    "Massive Attack",
    "Arctic Monkeys",
    "Taylor Swift",
];
const GENRES: [&str; 8] = [
    "pop",
    "rock",
    "ambient",
    "metal",
    "trip hop",
    "indie folk",
    "disco",
    "hip hop",
];

fn random_profile(rng: &mut ChaCha8Rng, pool: &[&str]) -> ListeningProfile {
    let mut p = ListeningProfile::empty("manual");
    let n = rng.random_range(1..10);
    let mut artists: Vec<&str> = Vec::new();
    while artists.len() < n.min(pool.len()) {
        let a = pool[rng.random_range(0..pool.len())];
        if !artists.contains(&a) {
            artists.push(a);
        }
    }
    let with_genres = rng.random_bool(0.5);
    p.top_artists.medium_term = artists
        .iter()
        .map(|a| ArtistStat {
            name: a.to_string(),
            weight: rng.random_range(0.1..1.0),
            genres: if with_genres {
                vec![GENRES[rng.random_range(0..GENRES.len())].to_string()]
            } else {
                vec![]
            },
            ..ArtistStat::default()
        })
        .collect();
    p.top_tracks.medium_term = artists
        .iter()
        .map(|a| TrackStat {
            name: format!("{a} hit"),
            artists: vec![a.to_string()],
            audio_features: rng.random_bool(0.7).then(|| AudioFeatures {
                valence: rng.random_range(0.0..1.0),
                energy: rng.random_range(0.0..1.0),
                danceability: rng.random_range(0.0..1.0),
                tempo: rng.random_range(60.0..180.0),
                mode: if rng.random_bool(0.5) { 1.0 } else { 0.0 },
                acousticness: rng.random_range(0.0..1.0),
                loudness: None,
                instrumentalness: None,
            }),
            ..TrackStat::default()
        })
        .collect();
    p.normalize().unwrap();
    p
}

#[test]
fn symmetric_bounded_and_identity_is_100() {
    let engine = Engine::builder().build();
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    for _ in 0..500 {
        let a = random_profile(&mut rng, &ARTISTS);
        let b = random_profile(&mut rng, &ARTISTS);
        let ab = engine.match_profiles(&a, &b).unwrap();
        let ba = engine.match_profiles(&b, &a).unwrap();
        assert!(ab.score <= 100);
        assert_eq!(ab.score, ba.score, "symmetric");
        assert_eq!(ab.explanation(), ba.explanation(), "same words both ways");
        assert_eq!(ab.components, ba.components);
        assert!((ab.blended.valence - ba.blended.valence).abs() < 1e-6);
        assert!((ab.blended.arousal - ba.blended.arousal).abs() < 1e-6);
        assert_eq!(
            engine.match_profiles(&a, &a).unwrap().score,
            100,
            "identical"
        );
    }
}

#[test]
fn disjoint_tastes_score_low() {
    let engine = Engine::builder().build();
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for _ in 0..200 {
        let a = random_profile(&mut rng, &ARTISTS[..15]);
        let b = random_profile(&mut rng, &ARTISTS[15..]);
        let mut b = b;
        // Disjoint genres too.
        for artist in &mut b.top_artists.medium_term {
            artist.genres = artist
                .genres
                .iter()
                .map(|g| format!("{g} revival"))
                .collect();
        }
        let m = engine.match_profiles(&a, &b).unwrap();
        assert!(m.shared_artists.is_empty());
        // With nothing shared only the mood can score: at most
        // mood_weight / (artists_weight + mood_weight) = 0.3 / 0.8.
        assert!(
            m.score <= 37,
            "disjoint scored {}: {}",
            m.score,
            m.explanation()
        );
    }
}

#[test]
fn more_shared_listening_scores_higher() {
    let base = |shared: usize| {
        let mut a = ListeningProfile::empty("manual");
        let mut b = ListeningProfile::empty("manual");
        a.top_artists.medium_term = ARTISTS[..10]
            .iter()
            .map(|n| ArtistStat {
                name: n.to_string(),
                ..Default::default()
            })
            .collect();
        b.top_artists.medium_term = ARTISTS[10 - shared..20 - shared]
            .iter()
            .map(|n| ArtistStat {
                name: n.to_string(),
                ..Default::default()
            })
            .collect();
        a.normalize().unwrap();
        b.normalize().unwrap();
        let m = Mood::neutral("t");
        Matcher::default().compare(&a, &m, &b, &m).score
    };
    let scores: Vec<u8> = (0..=10).map(base).collect();
    assert!(scores.windows(2).all(|w| w[0] <= w[1]), "{scores:?}");
    assert_eq!(scores[0], 0);
    assert_eq!(scores[10], 100);
}

#[test]
fn sample_exports_explain_themselves() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/exports/");
    let read = |n: &str| read_export(format!("{dir}{n}")).unwrap();
    let (alice, bob, carol) = (read("alice"), read("bob"), read("carol.zip"));
    let engine = Engine::builder().build();
    let ab = engine.match_profiles(&alice, &bob).unwrap();
    let text = ab.explanation();
    let shared: Vec<&str> = ab.shared_artists.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(shared, vec!["Radiohead", "Fleetwood Mac"], "{text}");
    assert!(text.contains("You share 2 of your top artists"), "{text}");
    assert!(
        text.contains("Dreams - 2004 Remaster"),
        "a shared song: {text}"
    );
    let ac = engine.match_profiles(&alice, &carol).unwrap();
    assert!(ac.shared_artists.iter().any(|s| s.name == "Daft Punk"));
    let bc = engine.match_profiles(&bob, &carol).unwrap();
    assert!(bc.shared_artists.is_empty());
    assert!(
        bc.score < ab.score && bc.score < ac.score,
        "{} {} {}",
        ab.score,
        ac.score,
        bc.score
    );
}
