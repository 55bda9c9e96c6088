//! Mood from Spotify's audio features, the most direct evidence there is:
//! Spotify's `valence` is defined as musical positiveness and `energy` as
//! perceived intensity, i.e. the two axes of Russell's circumplex.

use super::{Mood, MoodModel};
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
        let mut total = 0.0f32;
        let mut covered = 0.0f32;
        let (mut v, mut a) = (0.0f32, 0.0f32);
        let mut n = 0usize;
        for (track, w) in profile.weighted_tracks() {
            total += w;
            if let Some(f) = &track.audio_features {
                let (tv, ta) = point(f);
                v += w * tv;
                a += w * ta;
                covered += w;
                n += 1;
            }
        }
        if n == 0 || covered <= 0.0 {
            return Ok(Mood::neutral(self.name()));
        }
        // Confidence grows with how much of the listening has features and
        // how many tracks back it up (one song is weak evidence).
        let coverage = covered / total.max(f32::EPSILON);
        let support = 1.0 - (-(n as f32) / 4.0).exp();
        Ok(Mood::new(
            v / covered,
            a / covered,
            0.95 * coverage * support,
            vec![Signal::AudioFeatures],
            self.name(),
        ))
    }
}
