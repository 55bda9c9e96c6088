//! Mood from Spotify's audio features, the most direct evidence there is:
//! Spotify's `valence` is defined as musical positiveness and `energy` as
//! perceived intensity, i.e. the two axes of Russell's circumplex.

use super::{Mood, MoodModel, PointMean};
use crate::Result;
use crate::profile::{AudioFeatures, ListeningProfile, Signal};

/// Valence from `valence` (nudged by major/minor mode); arousal mostly from
/// `energy`, with tempo and (lack of) acousticness, which Spotify's energy
/// under-weights for quiet-but-fast or loud acoustic music.
#[derive(Clone, Copy, Debug, Default)]
pub struct FeaturesModel;

/// The model's point for one set of features.
pub fn point(f: &AudioFeatures) -> (f32, f32) {
    let tempo = ((f.tempo - 70.0) / 110.0).clamp(0.0, 1.0);
    let valence = 2.0 * f.valence - 1.0 + 0.1 * (f.mode - 0.5);
    let arousal = 2.0 * (0.7 * f.energy + 0.15 * tempo + 0.15 * (1.0 - f.acousticness)) - 1.0;
    (valence.clamp(-1.0, 1.0), arousal.clamp(-1.0, 1.0))
}

impl MoodModel for FeaturesModel {
    fn name(&self) -> &str {
        "features"
    }

    fn signals(&self) -> &[Signal] {
        &[Signal::AudioFeatures]
    }

    fn mood(&self, profile: &ListeningProfile) -> Result<Mood> {
        let mut mean = PointMean::default();
        for (track, w) in profile.weighted_tracks() {
            mean.add(w, track.audio_features.as_ref().map(point));
        }
        Ok(mean.mood(0.95, vec![Signal::AudioFeatures], self.name()))
    }
}
