//! Moods: a point on Russell's valence/arousal plane with a confidence, and
//! the models that put a listening profile there.
//!
//! A [`MoodModel`] is deliberately small: a name, the signals it can use, and
//! `profile -> Mood`. Models for new signals (genres, names, embeddings,
//! covers) slot in as further implementations and join [`AutoModel`] as
//! members with a reliability.

mod auto;
mod behaviour;
pub mod circumplex;
pub mod covers;
mod embedding;
mod features;
mod genres;
pub mod knowledge;
pub mod registry;

use std::fmt::Debug;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use auto::{AutoModel, Member, reliability};
pub use behaviour::BehaviourModel;
pub use circumplex::{MoodLabel, Rgb, Swatch};
pub use covers::CoverModel;
pub use embedding::{EmbeddingModel, MoodHead, TextEmbedder};
pub use features::FeaturesModel;
pub use genres::GenreModel;
pub use knowledge::Knowledge;
pub use registry::{DEFAULT_MOOD_MODEL, MOOD_MODELS, MoodModelEntry, mood_model};

use crate::Result;
use crate::profile::{ListeningProfile, Signal, TimeRange};

/// Where someone's listening sits emotionally.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Mood {
    /// Negative (sad, angry) to positive (happy), in [-1, 1].
    pub valence: f32,
    /// Calm to excited, in [-1, 1].
    pub arousal: f32,
    /// How much the model trusts this point, in [0, 1]; 0 means "no signal,
    /// neutral by default".
    pub confidence: f32,
    /// The named region of the plane.
    pub label: MoodLabel,
    /// Distance from neutral, in [0, 1].
    pub intensity: f32,
    /// Colours derived from the point.
    pub palette: Vec<Swatch>,
    /// Words derived from the label (fixed vocabulary).
    pub descriptors: Vec<String>,
    /// Signals the model actually used.
    pub signals: Vec<Signal>,
    /// Which model produced it.
    pub model: String,
}

impl Mood {
    /// A mood at `(valence, arousal)`; label, palette and words follow from
    /// the point. Inputs are clamped to the plane.
    pub fn new(
        valence: f32,
        arousal: f32,
        confidence: f32,
        signals: Vec<Signal>,
        model: impl Into<String>,
    ) -> Mood {
        let clean = |x: f32| {
            if x.is_finite() {
                x.clamp(-1.0, 1.0)
            } else {
                0.0
            }
        };
        let (valence, arousal) = (clean(valence), clean(arousal));
        let label = MoodLabel::of(valence, arousal);
        let mut signals = signals;
        signals.sort();
        signals.dedup();
        Mood {
            valence,
            arousal,
            confidence: if confidence.is_finite() {
                confidence.clamp(0.0, 1.0)
            } else {
                0.0
            },
            label,
            intensity: valence.hypot(arousal).min(1.0),
            palette: circumplex::palette(valence, arousal),
            descriptors: label.descriptors().iter().map(|s| s.to_string()).collect(),
            signals,
            model: model.into(),
        }
    }

    /// The neutral mood a model returns when the profile has none of the
    /// signals it needs: the origin, confidence 0, no signals used.
    pub fn neutral(model: impl Into<String>) -> Mood {
        Mood::new(0.0, 0.0, 0.0, Vec::new(), model)
    }

    /// Euclidean distance on the plane, in [0, 2√2].
    pub fn distance(&self, other: &Mood) -> f32 {
        (self.valence - other.valence).hypot(self.arousal - other.arousal)
    }

    /// The mood between two people: a confidence-weighted point on the
    /// segment between them (each keeps a floor weight, so a no-signal mood
    /// still pulls). Symmetric.
    pub fn blend(a: &Mood, b: &Mood) -> Mood {
        let wa = a.confidence.max(0.1);
        let wb = b.confidence.max(0.1);
        let t = wb / (wa + wb);
        let mut signals = a.signals.clone();
        signals.extend(b.signals.iter().copied());
        let model = if a.model == b.model {
            a.model.clone()
        } else {
            let (x, y) = if a.model <= b.model {
                (&a.model, &b.model)
            } else {
                (&b.model, &a.model)
            };
            format!("{x}+{y}")
        };
        Mood::new(
            a.valence + (b.valence - a.valence) * t,
            a.arousal + (b.arousal - a.arousal) * t,
            (a.confidence + b.confidence) / 2.0,
            signals,
            model,
        )
    }
}

/// Listening-weighted mean of per-item points, the shape of every model
/// that reads items one by one (tracks' features, artists' tables, covers).
/// Confidence is `max × coverage × (1 − e^(−n/4))`: the share of listening
/// that had a point, and how many items back it up (one is weak evidence).
#[derive(Default)]
pub(crate) struct PointMean {
    valence: f32,
    arousal: f32,
    covered: f32,
    total: f32,
    items: usize,
}

impl PointMean {
    /// One item of listening weight `weight`, with its point if it has one.
    pub(crate) fn add(&mut self, weight: f32, point: Option<(f32, f32)>) {
        self.total += weight;
        if let Some((v, a)) = point {
            self.valence += weight * v;
            self.arousal += weight * a;
            self.covered += weight;
            self.items += 1;
        }
    }

    /// The mood, or the neutral one when no item had a point.
    pub(crate) fn mood(self, max_confidence: f32, signals: Vec<Signal>, model: &str) -> Mood {
        if self.items == 0 || self.covered <= 0.0 {
            return Mood::neutral(model);
        }
        let coverage = self.covered / self.total.max(f32::EPSILON);
        let support = 1.0 - (-(self.items as f32) / 4.0).exp();
        Mood::new(
            self.valence / self.covered,
            self.arousal / self.covered,
            max_confidence * coverage * support,
            signals,
            model,
        )
    }
}

/// Profile in, mood out. CPU-bound and synchronous: async callers run it on
/// a blocking thread when it is expensive (embedding models).
pub trait MoodModel: Send + Sync + Debug + 'static {
    /// A short stable name (`features`, `behaviour`, `auto`, ...).
    fn name(&self) -> &str;

    /// The signals this model can use, best first.
    fn signals(&self) -> &[Signal];

    /// The mood of `profile`. A profile without the signals this model needs
    /// gets [`Mood::neutral`], not an error; errors are for failures (a model
    /// that cannot load, corrupt input).
    fn mood(&self, profile: &ListeningProfile) -> Result<Mood>;
}

/// Conveniences over any [`MoodModel`]; not meant to be implemented.
pub trait MoodModelExt: MoodModel {
    /// Whether the profile has at least one signal this model uses.
    fn can_use(&self, profile: &ListeningProfile) -> bool {
        self.signals().iter().any(|s| profile.has(*s))
    }

    /// The mood of one time range only.
    fn mood_for_range(&self, profile: &ListeningProfile, range: TimeRange) -> Result<Mood> {
        self.mood(&profile.only(range))
    }
}

impl<T: MoodModel + ?Sized> MoodModelExt for T {}

#[deny(clippy::missing_trait_methods)]
impl<T: MoodModel + ?Sized> MoodModel for Arc<T> {
    fn name(&self) -> &str {
        (**self).name()
    }
    fn signals(&self) -> &[Signal] {
        (**self).signals()
    }
    fn mood(&self, profile: &ListeningProfile) -> Result<Mood> {
        (**self).mood(profile)
    }
}

#[deny(clippy::missing_trait_methods)]
impl<T: MoodModel + ?Sized> MoodModel for Box<T> {
    fn name(&self) -> &str {
        (**self).name()
    }
    fn signals(&self) -> &[Signal] {
        (**self).signals()
    }
    fn mood(&self, profile: &ListeningProfile) -> Result<Mood> {
        (**self).mood(profile)
    }
}

/// The models that need nothing outside the core, by name (see
/// [`registry`] for all of them).
pub fn model_by_name(name: &str) -> Result<Arc<dyn MoodModel>> {
    mood_model(name, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_clamps_and_derives() {
        let m = Mood::new(3.0, f32::NAN, 2.0, vec![Signal::Names, Signal::Names], "x");
        assert_eq!((m.valence, m.arousal, m.confidence), (1.0, 0.0, 1.0));
        assert_eq!(m.label, MoodLabel::Joyful);
        assert_eq!(m.signals, vec![Signal::Names]);
        assert_eq!(m.descriptors[0], "joyful");
    }

    #[test]
    fn blend_is_symmetric_and_between() {
        let a = Mood::new(0.8, 0.6, 0.9, vec![Signal::AudioFeatures], "features");
        let b = Mood::new(-0.6, -0.4, 0.3, vec![Signal::Skips], "behaviour");
        let ab = Mood::blend(&a, &b);
        let ba = Mood::blend(&b, &a);
        assert!((ab.valence - ba.valence).abs() < 1e-6);
        assert!((ab.arousal - ba.arousal).abs() < 1e-6);
        assert_eq!(ab.model, ba.model);
        assert!(ab.valence < a.valence && ab.valence > b.valence);
        assert!(ab.arousal < a.arousal && ab.arousal > b.arousal);
        // The more confident mood pulls harder.
        assert!(ab.valence > 0.0);
        let d = a.distance(&b);
        assert!(
            (ab.distance(&a) + ab.distance(&b) - d).abs() < 1e-5,
            "on the segment"
        );
    }
}
