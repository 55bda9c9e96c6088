//! Mood models on labelled cases.
//!
//! Labelled data: per-artist means of Spotify's own audio features (Web API,
//! ~2020), from the public "Spotify Dataset 1921-2020, 600k+ Tracks"
//! (data_w_genres.csv; see docs/models.md). Columns: valence, energy,
//! danceability, tempo, mode, acousticness, loudness.

use spotifyart_core::mood::{AutoModel, BehaviourModel, FeaturesModel, MoodLabel, model_by_name};
use spotifyart_core::profile::{AudioFeatures, Behaviour, Signal, TrackStat};
use spotifyart_core::testing::listeners::spearman;
use spotifyart_core::{ListeningProfile, MoodModel, read_export};

/// (artist, valence, energy, danceability, tempo, mode, acousticness, loudness)
type Row = (&'static str, f32, f32, f32, f32, f32, f32, f32);

const MEASURED: [Row; 22] = [
    (
        "KC & The Sunshine Band",
        0.887,
        0.727,
        0.746,
        112.46,
        1.0,
        0.223,
        -11.50,
    ),
    (
        "Bob Marley & The Wailers",
        0.748,
        0.544,
        0.752,
        121.98,
        1.0,
        0.194,
        -9.62,
    ),
    (
        "Kool & The Gang",
        0.730,
        0.548,
        0.692,
        111.41,
        1.0,
        0.218,
        -12.84,
    ),
    ("ABBA", 0.668, 0.660, 0.575, 121.58, 1.0, 0.346, -8.49),
    (
        "Pharrell Williams",
        0.644,
        0.687,
        0.762,
        106.06,
        1.0,
        0.139,
        -6.02,
    ),
    ("Lizzo", 0.636, 0.801, 0.740, 122.48, 0.0, 0.099, -3.70),
    (
        "Bill Withers",
        0.629,
        0.469,
        0.654,
        111.74,
        1.0,
        0.471,
        -12.27,
    ),
    (
        "Bobby McFerrin",
        0.542,
        0.115,
        0.528,
        96.78,
        1.0,
        0.840,
        -23.74,
    ),
    ("Metallica", 0.345, 0.902, 0.364, 124.93, 1.0, 0.019, -6.29),
    ("Slipknot", 0.278, 0.932, 0.379, 122.39, 1.0, 0.025, -3.89),
    (
        "Cannibal Corpse",
        0.308,
        0.980,
        0.292,
        124.18,
        0.0,
        0.000,
        -7.81,
    ),
    (
        "Nine Inch Nails",
        0.374,
        0.699,
        0.553,
        120.46,
        1.0,
        0.136,
        -9.68,
    ),
    ("Adele", 0.380, 0.498, 0.565, 118.63, 1.0, 0.439, -6.90),
    ("Radiohead", 0.313, 0.560, 0.383, 116.55, 1.0, 0.303, -10.03),
    (
        "Lana Del Rey",
        0.254,
        0.543,
        0.423,
        115.39,
        0.0,
        0.447,
        -8.45,
    ),
    ("Bon Iver", 0.212, 0.294, 0.463, 113.55, 1.0, 0.832, -14.02),
    (
        "Elliott Smith",
        0.353,
        0.345,
        0.504,
        117.19,
        1.0,
        0.433,
        -13.59,
    ),
    (
        "Ludovico Einaudi",
        0.077,
        0.127,
        0.254,
        129.57,
        1.0,
        0.969,
        -23.06,
    ),
    (
        "Max Richter",
        0.112,
        0.128,
        0.354,
        105.18,
        0.0,
        0.859,
        -27.70,
    ),
    ("Enya", 0.206, 0.191, 0.341, 103.03, 1.0, 0.868, -18.79),
    (
        "Erik Satie",
        0.226,
        0.087,
        0.400,
        108.93,
        1.0,
        0.970,
        -25.86,
    ),
    (
        "Norah Jones",
        0.404,
        0.225,
        0.598,
        108.10,
        1.0,
        0.809,
        -12.95,
    ),
];

fn features(i: usize) -> AudioFeatures {
    let (_, valence, energy, danceability, tempo, mode, acousticness, loudness) = MEASURED[i];
    AudioFeatures {
        valence,
        energy,
        danceability,
        tempo,
        mode,
        acousticness,
        loudness: Some(loudness),
        instrumentalness: None,
    }
}

/// A profile of `n` tracks by one artist, each with that artist's features.
fn artist_profile(i: usize, n: usize) -> ListeningProfile {
    let mut p = ListeningProfile::empty("manual");
    p.top_tracks.medium_term = (0..n)
        .map(|k| TrackStat {
            name: format!("song {k}"),
            artists: vec![MEASURED[i].0.to_string()],
            audio_features: Some(features(i)),
            ..TrackStat::default()
        })
        .collect();
    p.normalize().unwrap();
    p
}

#[test]
fn features_model_tracks_measured_valence_and_energy() {
    let model = FeaturesModel;
    let moods: Vec<_> = (0..MEASURED.len())
        .map(|i| model.mood(&artist_profile(i, 10)).unwrap())
        .collect();
    let v: Vec<f32> = moods.iter().map(|m| m.valence).collect();
    let a: Vec<f32> = moods.iter().map(|m| m.arousal).collect();
    let measured_v: Vec<f32> = MEASURED.iter().map(|r| r.1).collect();
    let measured_e: Vec<f32> = MEASURED.iter().map(|r| r.2).collect();
    let rho_v = spearman(&v, &measured_v);
    let rho_a = spearman(&a, &measured_e);
    assert!(rho_v > 0.97, "valence rank correlation {rho_v}");
    assert!(rho_a > 0.95, "arousal/energy rank correlation {rho_a}");
    for m in &moods {
        assert_eq!(m.signals, vec![Signal::AudioFeatures]);
        assert!(
            m.confidence > 0.8,
            "10 tracks with features: {}",
            m.confidence
        );
    }
}

#[test]
fn features_model_puts_clear_cases_in_the_right_quadrant() {
    let model = FeaturesModel;
    let mood = |name: &str| {
        let i = MEASURED.iter().position(|r| r.0 == name).unwrap();
        model.mood(&artist_profile(i, 5)).unwrap()
    };
    // (artist, valence sign, arousal sign, label)
    let cases = [
        ("KC & The Sunshine Band", 1.0, 1.0, MoodLabel::Euphoric),
        ("Lizzo", 1.0, 1.0, MoodLabel::Euphoric),
        ("Slipknot", -1.0, 1.0, MoodLabel::Tense),
        ("Cannibal Corpse", -1.0, 1.0, MoodLabel::Tense),
        ("Ludovico Einaudi", -1.0, -1.0, MoodLabel::Melancholic),
        ("Bon Iver", -1.0, -1.0, MoodLabel::Melancholic),
        ("Max Richter", -1.0, -1.0, MoodLabel::Melancholic),
    ];
    for (name, vs, as_, label) in cases {
        let m = mood(name);
        assert_eq!(m.valence.signum(), vs, "{name}: {m:?}");
        assert_eq!(m.arousal.signum(), as_, "{name}: {m:?}");
        assert_eq!(m.label, label, "{name}");
    }
    // Calm but not sad: Bobby McFerrin (a cappella) and Norah Jones sit low
    // on arousal, well above the neoclassical pianists on valence.
    let (mcferrin, einaudi) = (mood("Bobby McFerrin"), mood("Ludovico Einaudi"));
    assert!(mcferrin.arousal < -0.5 && mcferrin.valence > einaudi.valence + 0.5);
}

#[test]
fn features_confidence_follows_coverage_and_support() {
    let model = FeaturesModel;
    let one = model.mood(&artist_profile(0, 1)).unwrap();
    let many = model.mood(&artist_profile(0, 20)).unwrap();
    assert!(
        one.confidence < 0.3 && many.confidence > 0.9,
        "{one:?} {many:?}"
    );
    // Half the listening without features halves the confidence.
    let mut half = artist_profile(0, 20);
    for t in half.top_tracks.medium_term.iter_mut().skip(10) {
        t.audio_features = None;
    }
    half.normalize().unwrap();
    let h = model.mood(&half).unwrap();
    assert!(h.confidence < many.confidence * 0.8, "{h:?}");
    assert!(
        (h.valence - many.valence).abs() < 1e-5,
        "covered tracks set the point"
    );
}

#[test]
fn no_signal_gives_a_neutral_zero_confidence_mood() {
    let names_only = read_export(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/exports/alice"
    ))
    .unwrap();
    let m = FeaturesModel.mood(&names_only).unwrap();
    assert_eq!((m.valence, m.arousal, m.confidence), (0.0, 0.0, 0.0));
    assert_eq!(m.label, MoodLabel::Balanced);
    assert!(m.signals.is_empty());
    let empty = ListeningProfile::empty("manual");
    for name in ["auto", "features", "behaviour"] {
        let m = model_by_name(name).unwrap().mood(&empty).unwrap();
        assert_eq!(m.confidence, 0.0, "{name}");
        assert!(m.signals.is_empty(), "{name}");
    }
}

fn behaviour_profile(
    night_hours: u32,
    day_hours: u32,
    skip_rate: f32,
    repeat: f32,
) -> ListeningProfile {
    let mut p = ListeningProfile::empty("manual");
    let mut hist = [0u32; 24];
    hist[23] = night_hours;
    hist[14] = day_hours;
    let plays = (night_hours + day_hours) as u64;
    p.behaviour = Some(Behaviour {
        plays,
        events: plays,
        ms_played: plays * 200_000,
        distinct_tracks: ((1.0 - repeat) * plays as f32) as u64,
        distinct_artists: 10,
        skip_rate: Some(skip_rate),
        shuffle_rate: None,
        repeat_ratio: repeat,
        hour_histogram: hist,
        utc_offset_minutes: Some(0),
    });
    p.normalize().unwrap();
    p
}

#[test]
fn behaviour_model_reads_night_skips_and_repeats() {
    let model = BehaviourModel;
    let baseline = model.mood(&behaviour_profile(40, 260, 0.25, 0.5)).unwrap();
    let night_owl = model.mood(&behaviour_profile(250, 50, 0.25, 0.5)).unwrap();
    let skipper = model.mood(&behaviour_profile(40, 260, 0.7, 0.5)).unwrap();
    let replayer = model.mood(&behaviour_profile(40, 260, 0.25, 0.98)).unwrap();
    assert!(
        baseline.intensity < 0.1,
        "typical behaviour is near neutral: {baseline:?}"
    );
    assert!(night_owl.arousal < baseline.arousal - 0.2 && night_owl.valence < baseline.valence);
    assert!(skipper.arousal > baseline.arousal + 0.3);
    assert!(replayer.arousal < baseline.arousal);
    for m in [&baseline, &night_owl, &skipper, &replayer] {
        assert!(
            m.confidence <= 0.35,
            "behaviour alone is weak evidence: {m:?}"
        );
        assert!(m.intensity <= 0.85);
        assert_eq!(m.signals, vec![Signal::PlayTimes, Signal::Skips]);
    }
}

#[test]
fn behaviour_on_the_sample_exports() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/exports/");
    let m = |name: &str| {
        BehaviourModel
            .mood(&read_export(format!("{dir}{name}")).unwrap())
            .unwrap()
    };
    let (alice, bob, carol) = (m("alice"), m("bob"), m("carol.zip"));
    assert!(
        bob.arousal < alice.arousal,
        "night owl calmer: {bob:?} vs {alice:?}"
    );
    assert!(bob.valence < alice.valence);
    assert!(
        carol.arousal > alice.arousal,
        "heavy skipper more restless: {carol:?}"
    );
}

#[test]
fn auto_counts_measured_features_as_they_are_and_leaves_behaviour_out() {
    let auto = AutoModel::default();
    // Measured features: exactly the features model's point.
    let features_only = artist_profile(0, 10);
    let f = auto.mood(&features_only).unwrap();
    let reference = FeaturesModel.mood(&features_only).unwrap();
    assert_eq!(f.signals, vec![Signal::AudioFeatures]);
    assert!(
        (f.raw.valence - reference.raw.valence).abs() < 1e-5,
        "{f:?}"
    );
    assert!(
        (f.raw.arousal - reference.raw.arousal).abs() < 1e-5,
        "{f:?}"
    );
    assert!(f.confidence > 0.9, "{f:?}");
    // Behaviour is no evidence of valence or energy that anything
    // measured: alone it leaves `auto` neutral, next to features it
    // changes nothing. It stays a model of its own.
    let behaviour_only = behaviour_profile(250, 50, 0.25, 0.5);
    assert!(BehaviourModel.mood(&behaviour_only).unwrap().confidence > 0.0);
    let b = auto.mood(&behaviour_only).unwrap();
    assert_eq!((b.confidence, b.label), (0.0, MoodLabel::Balanced));
    let mut both = features_only.clone();
    both.behaviour = behaviour_only.behaviour.clone();
    both.normalize().unwrap();
    assert_eq!(auto.mood(&both).unwrap().raw, f.raw);
    // Neither.
    let none = auto.mood(&ListeningProfile::empty("manual")).unwrap();
    assert_eq!((none.confidence, none.label), (0.0, MoodLabel::Balanced));
}
