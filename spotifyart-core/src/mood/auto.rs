//! `auto`: every model whose signals the profile has, combined by how much
//! each can be trusted.

use std::sync::Arc;

use super::{BehaviourModel, FeaturesModel, Mood, MoodModel, MoodModelExt};
use crate::Result;
use crate::profile::{ListeningProfile, Signal};

/// Weight of the neutral point in the combination: audio features at full
/// confidence keep ~95% of their distance from neutral, behaviour alone ~60%.
pub const NEUTRAL_PRIOR: f32 = 0.05;

/// One model inside [`AutoModel`].
#[derive(Clone, Debug)]
pub struct Member {
    /// The model.
    pub model: Arc<dyn MoodModel>,
    /// How reliable the model proved, in [0, 1] (audio features = 1, the
    /// reference every other model is measured against).
    pub reliability: f32,
}

/// Weighted combination: each member's point counts with
/// `reliability × confidence`, against a small prior weight at neutral, so
/// weak evidence alone moves the mood only part of the way; the combined
/// confidence is `1 − Π(1 − reliability × confidence)` (independent evidence
/// adds up but never exceeds 1). With no usable member, the neutral mood.
#[derive(Clone, Debug)]
pub struct AutoModel {
    members: Vec<Member>,
    signals: Vec<Signal>,
}

impl AutoModel {
    /// A combination of `members`.
    pub fn new(members: Vec<Member>) -> Self {
        let mut signals: Vec<Signal> = members
            .iter()
            .flat_map(|m| m.model.signals().iter().copied())
            .collect();
        signals.sort();
        signals.dedup();
        Self { members, signals }
    }

    /// The members, for inspection.
    pub fn members(&self) -> &[Member] {
        &self.members
    }
}

impl Default for AutoModel {
    /// Audio features as the primary signal, behaviour as a weak modifier.
    fn default() -> Self {
        AutoModel::new(vec![
            Member {
                model: Arc::new(FeaturesModel),
                reliability: 1.0,
            },
            Member {
                model: Arc::new(BehaviourModel),
                reliability: 0.25,
            },
        ])
    }
}

impl MoodModel for AutoModel {
    fn name(&self) -> &str {
        "auto"
    }

    fn signals(&self) -> &[Signal] {
        &self.signals
    }

    fn mood(&self, profile: &ListeningProfile) -> Result<Mood> {
        let (mut v, mut a, mut wsum) = (0.0f32, 0.0f32, 0.0f32);
        let mut doubt = 1.0f32;
        let mut used = Vec::new();
        for member in &self.members {
            if !member.model.can_use(profile) {
                continue;
            }
            let m = member.model.mood(profile)?;
            let w = member.reliability * m.confidence;
            if w <= 0.0 || m.signals.is_empty() {
                continue;
            }
            v += w * m.valence;
            a += w * m.arousal;
            wsum += w;
            doubt *= 1.0 - w.min(1.0);
            used.extend(m.signals);
        }
        if wsum <= 0.0 {
            return Ok(Mood::neutral(self.name()));
        }
        let denom = wsum + NEUTRAL_PRIOR;
        Ok(Mood::new(
            v / denom,
            a / denom,
            1.0 - doubt,
            used,
            self.name(),
        ))
    }
}
