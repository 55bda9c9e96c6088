//! Mood from how someone listens rather than what: weak evidence, meant as a
//! modifier on content-based models (and the only signal a plain export has
//! before the name/genre models).
//!
//! The directions are heuristics, documented in docs/models.md:
//! - late-night listening leans calmer and a little darker (Heggli, Stupacher
//!   & Vuust 2021, "Diurnal fluctuations in musical preference", found
//!   night-time music less energetic and more relaxing);
//! - a high skip rate reads as restlessness (higher arousal);
//! - heavy repetition reads as settling into the familiar (lower arousal).

use super::{Mood, MoodModel};
use crate::Result;
use crate::profile::{ListeningProfile, Signal};

/// Baselines a typical listener sits at (deviations move the mood).
const NIGHT_BASE: f32 = 0.15;
const SKIP_BASE: f32 = 0.25;
const REPEAT_BASE: f32 = 0.5;
/// Behaviour never moves a mood further than this from neutral.
const MAX_REACH: f32 = 0.6;
/// Behaviour alone is never very confident.
const MAX_CONFIDENCE: f32 = 0.35;

/// See the module docs.
#[derive(Clone, Copy, Debug, Default)]
pub struct BehaviourModel;

impl MoodModel for BehaviourModel {
    fn name(&self) -> &str {
        "behaviour"
    }

    fn signals(&self) -> &[Signal] {
        &[Signal::PlayTimes, Signal::Skips]
    }

    fn mood(&self, profile: &ListeningProfile) -> Result<Mood> {
        let Some(b) = profile.behaviour.as_ref().filter(|b| b.plays > 0) else {
            return Ok(Mood::neutral(self.name()));
        };
        let mut used = Vec::new();
        let (mut v, mut a) = (0.0f32, 0.0f32);
        if let Some(night) = b.night_share() {
            v -= 0.3 * (night - NIGHT_BASE);
            a -= 0.6 * (night - NIGHT_BASE);
            used.push(Signal::PlayTimes);
        }
        if let Some(skip) = b.skip_rate {
            a += 0.8 * (skip - SKIP_BASE);
            used.push(Signal::Skips);
        }
        // Repetition needs enough plays to mean anything.
        if b.plays >= 50 {
            a -= 0.3 * (b.repeat_ratio - REPEAT_BASE);
        }
        if used.is_empty() {
            return Ok(Mood::neutral(self.name()));
        }
        let squash = |x: f32| MAX_REACH * (2.0 * x).tanh();
        let confidence = MAX_CONFIDENCE * (1.0 - (-(b.plays as f32) / 200.0).exp());
        Ok(Mood::new(
            squash(v),
            squash(a),
            confidence,
            used,
            self.name(),
        ))
    }
}
