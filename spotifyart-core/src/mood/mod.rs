//! Moods: a point on Russell's valence/arousal plane with a confidence, and
//! the models that put a listening profile there.
//!
//! A [`MoodModel`] is deliberately small: a name, the signals it can use, and
//! `profile -> Mood`. Models for new signals slot in as further
//! implementations; one that can guess a single unmeasured artist also
//! implements [`ArtistEstimator`] and joins [`AutoModel`] as an estimator.

mod auto;
mod behaviour;
pub mod calibration;
pub mod circumplex;
pub mod covers;
mod embedding;
pub mod evidence;
mod features;
mod genres;
pub mod knowledge;
pub mod neighbours;
pub mod registry;

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use auto::AutoModel;
pub use behaviour::BehaviourModel;
pub use calibration::Calibration;
pub use circumplex::{MoodLabel, Rgb, Swatch};
pub use covers::CoverModel;
pub use embedding::{EmbeddingModel, MoodHead, TextEmbedder};
pub use evidence::{ArtistEstimator, EvidenceFit};
pub use features::FeaturesModel;
pub use genres::GenreModel;
pub use knowledge::Knowledge;
pub use registry::{DEFAULT_MOOD_MODEL, MOOD_MODELS, MoodModelEntry, mood_model};

use crate::Result;
use crate::names::normalize_name;
use crate::profile::{ListeningProfile, Signal, TimeRange};

/// Where someone's listening sits emotionally.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(from = "StoredMood")]
pub struct Mood {
    /// Negative (sad, angry) to positive (happy), in [-1, 1]: where this
    /// listener stands among listeners (twice their percentile minus one,
    /// see [`calibration`]). The label, palette, plot and prompt follow it.
    pub valence: f32,
    /// Calm to excited, in [-1, 1], placed the same way.
    pub arousal: f32,
    /// The model's own estimate before placing it among listeners: Spotify's
    /// valence and energy scales mapped to [-1, 1].
    pub raw: RawPoint,
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

/// A model's estimate on the mood plane, before calibration.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RawPoint {
    /// Spotify's valence scale mapped to [-1, 1].
    pub valence: f32,
    /// Spotify's energy scale mapped to [-1, 1].
    pub arousal: f32,
}

/// A mood as stored before moods kept their raw point (matches saved by
/// earlier versions): the raw point is then the point itself.
#[derive(Deserialize)]
struct StoredMood {
    valence: f32,
    arousal: f32,
    #[serde(default)]
    raw: Option<RawPoint>,
    confidence: f32,
    label: MoodLabel,
    intensity: f32,
    palette: Vec<Swatch>,
    descriptors: Vec<String>,
    signals: Vec<Signal>,
    model: String,
}

impl From<StoredMood> for Mood {
    fn from(m: StoredMood) -> Mood {
        Mood {
            raw: m.raw.unwrap_or(RawPoint {
                valence: m.valence,
                arousal: m.arousal,
            }),
            valence: m.valence,
            arousal: m.arousal,
            confidence: m.confidence,
            label: m.label,
            intensity: m.intensity,
            palette: m.palette,
            descriptors: m.descriptors,
            signals: m.signals,
            model: m.model,
        }
    }
}

impl Mood {
    /// A mood whose model estimated `(valence, arousal)`, placed among
    /// listeners by the built-in [`Calibration`]; label, palette and words
    /// follow from the placed point. Inputs are clamped to the plane.
    pub fn new(
        valence: f32,
        arousal: f32,
        confidence: f32,
        signals: Vec<Signal>,
        model: impl Into<String>,
    ) -> Mood {
        let model = model.into();
        let clean = |x: f32| {
            if x.is_finite() {
                x.clamp(-1.0, 1.0)
            } else {
                0.0
            }
        };
        let raw = RawPoint {
            valence: clean(valence),
            arousal: clean(arousal),
        };
        let standing = Calibration::builtin().standing(&model, raw.valence, raw.arousal);
        Mood::placed(raw, standing, confidence, signals, model)
    }

    /// A mood whose raw point stands at `(valence, arousal)` among
    /// listeners; label, palette and words follow from the standing.
    fn placed(
        raw: RawPoint,
        (valence, arousal): (f32, f32),
        confidence: f32,
        mut signals: Vec<Signal>,
        model: String,
    ) -> Mood {
        let label = MoodLabel::of(valence, arousal);
        signals.sort();
        signals.dedup();
        Mood {
            valence,
            arousal,
            raw,
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
            model,
        }
    }

    /// The neutral mood a model returns when the profile has none of the
    /// signals it needs: the origin, raw and placed, confidence 0, no
    /// signals used.
    pub fn neutral(model: impl Into<String>) -> Mood {
        let origin = RawPoint {
            valence: 0.0,
            arousal: 0.0,
        };
        Mood::placed(origin, (0.0, 0.0), 0.0, Vec::new(), model.into())
    }

    /// Euclidean distance between the two placed points, in [0, 2√2]: how
    /// far apart two people stand among listeners.
    pub fn distance(&self, other: &Mood) -> f32 {
        (self.valence - other.valence).hypot(self.arousal - other.arousal)
    }

    /// The mood between two people: a confidence-weighted raw point on the
    /// segment between their raw points, placed like any mood (each keeps a floor weight, so a no-signal mood
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
            a.raw.valence + (b.raw.valence - a.raw.valence) * t,
            a.raw.arousal + (b.raw.arousal - a.raw.arousal) * t,
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

/// One artist someone plays: the credit as the profile spells it, the
/// genres the source gives it, and its share of their listening.
pub(crate) struct ArtistItem<'a> {
    pub(crate) credit: String,
    pub(crate) genres: &'a [String],
    pub(crate) weight: f32,
}

/// Artists when the profile lists them, else the tracks' credits. Genres
/// may sit on either: the API puts artist genres on tracks, so an artist
/// without its own takes its tracks'.
pub(crate) fn artist_items(profile: &ListeningProfile) -> Vec<ArtistItem<'_>> {
    let tracks = profile.weighted_tracks();
    let artists = profile.weighted_artists();
    if artists.is_empty() {
        return tracks
            .into_iter()
            .map(|(t, w)| ArtistItem {
                credit: t.artists.join(", "),
                genres: &t.genres,
                weight: w,
            })
            .collect();
    }
    let mut track_genres: HashMap<String, &[String]> = HashMap::new();
    for (t, _) in &tracks {
        if !t.genres.is_empty() {
            track_genres
                .entry(normalize_name(t.primary_artist()))
                .or_insert(&t.genres);
        }
    }
    artists
        .into_iter()
        .map(|(a, w)| ArtistItem {
            credit: a.name.clone(),
            genres: if a.genres.is_empty() {
                track_genres
                    .get(&normalize_name(&a.name))
                    .copied()
                    .unwrap_or(&[])
            } else {
                &a.genres
            },
            weight: w,
        })
        .collect()
}

/// The plain mean of some points; `None` when there are none.
pub(crate) fn mean_point(points: impl IntoIterator<Item = (f32, f32)>) -> Option<(f32, f32)> {
    let (mut v, mut e, mut n) = (0.0f32, 0.0f32, 0usize);
    for (pv, pe) in points {
        v += pv;
        e += pe;
        n += 1;
    }
    (n > 0).then(|| (v / n as f32, e / n as f32))
}

/// Spotify's [0, 1] valence and energy scales on the [-1, 1] plane.
pub(crate) fn plane((v, e): (f32, f32)) -> (f32, f32) {
    (2.0 * v - 1.0, 2.0 * e - 1.0)
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
        assert!((ab.raw.valence - ba.raw.valence).abs() < 1e-6);
        assert!((ab.raw.arousal - ba.raw.arousal).abs() < 1e-6);
        assert_eq!((ab.label, &ab.model), (ba.label, &ba.model));
        let (p, q, r) = (a.raw, b.raw, ab.raw);
        assert!(r.valence < p.valence && r.valence > q.valence);
        assert!(r.arousal < p.arousal && r.arousal > q.arousal);
        // The more confident mood pulls harder.
        assert!(r.valence > 0.0);
        let d = |x: RawPoint, y: RawPoint| (x.valence - y.valence).hypot(x.arousal - y.arousal);
        assert!((d(r, p) + d(r, q) - d(p, q)).abs() < 1e-5, "on the segment");
        // Two moods of one model blend into a point placed between theirs.
        let c = Mood::new(-0.2, 0.1, 0.5, vec![Signal::Names], "auto");
        let e = Mood::new(0.1, -0.3, 0.5, vec![Signal::Names], "auto");
        let ce = Mood::blend(&c, &e);
        assert!(ce.valence >= c.valence.min(e.valence) && ce.valence <= c.valence.max(e.valence));
        assert!(ce.arousal >= c.arousal.min(e.arousal) && ce.arousal <= c.arousal.max(e.arousal));
    }
}
