//! `auto`: every model whose signals the profile has, combined by how much
//! each can be trusted.

use std::sync::Arc;

use super::covers::{CoverModel, with_cover_palette};
use super::{BehaviourModel, FeaturesModel, GenreModel, Mood, MoodModel, MoodModelExt};
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

    /// The same combination with one more member (the embedding model,
    /// which lives in spotifyart-diffusion, joins this way).
    pub fn with_member(mut self, member: Member) -> Self {
        self.members.push(member);
        Self::new(self.members)
    }
}

/// How reliable each model proved on held-out artists (docs/models.md,
/// `mood_eval`): the mean of its Spearman correlations with measured
/// valence and energy, relative to the audio-feature model's.
pub mod reliability {
    /// Measured audio features: the reference.
    pub const FEATURES: f32 = 1.0;
    /// Genre and artist tables.
    pub const GENRES: f32 = 0.51;
    /// Text embeddings of names.
    pub const EMBEDDING: f32 = 0.38;
    /// Listening behaviour (a heuristic; not measurable on the dataset).
    pub const BEHAVIOUR: f32 = 0.25;
    /// Cover colours (a heuristic; no public data pairs covers with
    /// measured valence).
    pub const COVERS: f32 = 0.15;
}

impl Default for AutoModel {
    /// Audio features, the genre/artist tables and behaviour, each at the
    /// reliability it measured (see [`reliability`]).
    fn default() -> Self {
        AutoModel::new(vec![
            Member {
                model: Arc::new(FeaturesModel),
                reliability: reliability::FEATURES,
            },
            Member {
                model: Arc::new(GenreModel::default()),
                reliability: reliability::GENRES,
            },
            Member {
                model: Arc::new(CoverModel),
                reliability: reliability::COVERS,
            },
            Member {
                model: Arc::new(BehaviourModel),
                reliability: reliability::BEHAVIOUR,
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
        let mood = Mood::new(v / denom, a / denom, 1.0 - doubt, used, self.name());
        // Cover colours, where the caller read them, colour the palette.
        Ok(with_cover_palette(mood, profile))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mood::Rgb;
    use crate::profile::CoverColour;
    use crate::profile::{ArtistStat, AudioFeatures, Behaviour, TimeRange, TrackStat};

    /// A profile with any combination of: audio features, API genres, a
    /// name the tables know, listening behaviour, cover colours.
    fn profile(
        features: bool,
        genres: bool,
        known: bool,
        behaviour: bool,
        covers: bool,
    ) -> ListeningProfile {
        let mut p = ListeningProfile::empty("test");
        let artist = if known { "ABBA" } else { "Zz Nobody Knows" };
        if features || genres || known || covers {
            *p.top_tracks.get_mut(TimeRange::MediumTerm) = vec![TrackStat {
                name: "Song".into(),
                artists: vec![artist.into()],
                genres: if genres {
                    vec!["europop".into()]
                } else {
                    Vec::new()
                },
                audio_features: features.then_some(AudioFeatures {
                    valence: 0.9,
                    energy: 0.8,
                    danceability: 0.7,
                    tempo: 120.0,
                    mode: 1.0,
                    acousticness: 0.1,
                    loudness: None,
                    instrumentalness: None,
                }),
                cover_colours: if covers {
                    vec![CoverColour {
                        color: Rgb(250, 210, 60),
                        share: 1.0,
                    }]
                } else {
                    Vec::new()
                },
                ..Default::default()
            }];
            *p.top_artists.get_mut(TimeRange::MediumTerm) = vec![ArtistStat {
                name: artist.into(),
                ..Default::default()
            }];
        }
        if behaviour {
            let mut hours = [10u32; 24];
            hours[23] = 100;
            p.behaviour = Some(Behaviour {
                plays: 500,
                events: 600,
                skip_rate: Some(0.4),
                repeat_ratio: 0.5,
                hour_histogram: hours,
                ..Default::default()
            });
        }
        p.normalize().unwrap();
        p
    }

    #[test]
    fn every_combination_of_missing_signals() {
        let auto = AutoModel::default();
        for mask in 0..32u8 {
            let on = |bit: u8| mask & (1 << bit) != 0;
            let (features, genres, known, behaviour, covers) = (on(0), on(1), on(2), on(3), on(4));
            let p = profile(features, genres, known, behaviour, covers);
            let m = auto.mood(&p).unwrap();
            let want: Vec<Signal> = [
                (features, Signal::AudioFeatures),
                (genres, Signal::Genres),
                (known && !genres, Signal::Names),
                (behaviour, Signal::PlayTimes),
                (behaviour, Signal::Skips),
                (covers, Signal::Covers),
            ]
            .into_iter()
            .filter_map(|(on, s)| on.then_some(s))
            .collect();
            let mut want = want;
            want.sort();
            assert_eq!(m.signals, want, "mask {mask:05b}: {m:?}");
            for s in &m.signals {
                assert!(p.has(*s), "mask {mask:05b}: used {s} the profile lacks");
            }
            if want.is_empty() {
                assert_eq!(m, Mood::neutral("auto"), "mask {mask:05b}");
            } else {
                assert!(m.confidence > 0.0, "mask {mask:05b}: {m:?}");
            }
            // Cover colours reach the palette whatever else decided the point.
            assert_eq!(
                m.palette.iter().any(|s| s.color == Rgb(250, 210, 60)),
                covers,
                "mask {mask:05b}"
            );
            // Measured features dominate whatever else is there.
            if features {
                assert!(m.valence > 0.35, "mask {mask:05b}: {m:?}");
            }
        }
    }

    #[test]
    fn more_evidence_means_more_confidence() {
        let auto = AutoModel::default();
        let names = auto
            .mood(&profile(false, false, true, false, false))
            .unwrap();
        let names_behaviour = auto
            .mood(&profile(false, false, true, true, false))
            .unwrap();
        let all = auto.mood(&profile(true, true, true, true, true)).unwrap();
        assert!(names_behaviour.confidence > names.confidence);
        assert!(all.confidence > names_behaviour.confidence);
    }
}
