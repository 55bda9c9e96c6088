//! `auto`: the mood of everything someone plays, judged artist by artist
//! (or track by track) with the best evidence each has, then weighted by
//! plays. A track's measured audio features count as they are; an artist
//! whose measured means the tables know counts with them; any other artist
//! gets the [`EvidenceFit`]'s weighing of the guesses its estimators make
//! (genres, a name embedding), shrunk towards the typical artist by how
//! little they proved to know, and an artist with no guess counts as the
//! typical artist. Combining whole-listener answers instead let weak
//! guesses pull listeners whose artists are known away from their measured
//! means (docs/models.md, the listener table).
//!
//! Behaviour and cover colours stay out of the point: no public data pairs
//! them with measured valence, so nothing shows they help. They remain
//! models of their own; cover colours still tint `auto`'s palette.

use std::sync::Arc;

use super::covers::with_cover_palette;
use super::evidence::{ArtistEstimator, ArtistQuery, EvidenceFit};
use super::features::point;
use super::{GenreModel, Knowledge, Mood, MoodModel, artist_items, mean_point, plane};
use crate::Result;
use crate::profile::{ListeningProfile, Signal};

/// Confidence of a profile whose every item is measured (audio features).
const MEASURED: f32 = 1.0;
/// Certainty of an artist known by its table means: other people's plays
/// of its tracks, not necessarily this listener's.
const KNOWN: f32 = 0.9;

/// See the module docs.
#[derive(Clone, Debug)]
pub struct AutoModel {
    knowledge: Arc<Knowledge>,
    fit: EvidenceFit,
    estimators: Vec<Arc<dyn ArtistEstimator>>,
}

impl Default for AutoModel {
    /// The built-in tables and fit, guessing unknown artists by genres.
    fn default() -> Self {
        let knowledge = Knowledge::builtin();
        AutoModel::new(Arc::clone(&knowledge), EvidenceFit::builtin())
            .with_estimator(Arc::new(GenreModel::new(knowledge)))
    }
}

/// One thing someone plays, with its share of their listening.
struct Item<'a> {
    weight: f32,
    credit: String,
    genres: &'a [String],
    /// The point its audio features give, on the plane.
    features: Option<(f32, f32)>,
}

impl AutoModel {
    /// Measured means from `knowledge`, unknown artists weighed by `fit`;
    /// no estimators yet.
    pub fn new(knowledge: Arc<Knowledge>, fit: EvidenceFit) -> Self {
        AutoModel {
            knowledge,
            fit,
            estimators: Vec::new(),
        }
    }

    /// The same model guessing unknown artists with one more estimator too
    /// (the embedding model joins this way when its weights are present).
    pub fn with_estimator(mut self, estimator: Arc<dyn ArtistEstimator>) -> Self {
        self.estimators.push(estimator);
        self
    }

    /// The estimators, for inspection.
    pub fn estimators(&self) -> &[Arc<dyn ArtistEstimator>] {
        &self.estimators
    }

    /// Tracks when any carries audio features (each measured one counts as
    /// it is), else the artists [`artist_items`] gives.
    fn items<'a>(&self, profile: &'a ListeningProfile) -> Vec<Item<'a>> {
        let tracks = profile.weighted_tracks();
        if tracks.iter().any(|(t, _)| t.audio_features.is_some()) {
            return tracks
                .into_iter()
                .map(|(t, w)| Item {
                    weight: w,
                    credit: t.artists.join(", "),
                    genres: &t.genres,
                    features: t.audio_features.as_ref().map(point),
                })
                .collect();
        }
        artist_items(profile)
            .into_iter()
            .map(|a| Item {
                weight: a.weight,
                credit: a.credit,
                genres: a.genres,
                features: None,
            })
            .collect()
    }

    /// The measured means of the credited artists the tables know.
    fn measured(&self, credit: &str) -> Option<(f32, f32)> {
        mean_point(
            self.knowledge
                .artists_in(credit)
                .into_iter()
                .filter_map(|a| a.measured),
        )
    }
}

/// An item's point on the plane, its certainty and the signals behind it.
type Judged = ((f32, f32), f32, Vec<Signal>);

impl MoodModel for AutoModel {
    fn name(&self) -> &str {
        "auto"
    }

    fn signals(&self) -> &[Signal] {
        &[Signal::AudioFeatures, Signal::Genres, Signal::Names]
    }

    fn mood(&self, profile: &ListeningProfile) -> Result<Mood> {
        let items = self.items(profile);
        // (point on the plane, certainty, signals) per item; unknown ones
        // filled below.
        let mut points: Vec<Option<Judged>> = items
            .iter()
            .map(|item| match (item.features, self.measured(&item.credit)) {
                (Some(p), _) => Some((p, MEASURED, vec![Signal::AudioFeatures])),
                (None, Some(p)) => Some((plane(p), KNOWN, vec![Signal::Names])),
                (None, None) => None,
            })
            .collect();
        let unknown: Vec<usize> = (0..items.len()).filter(|&i| points[i].is_none()).collect();
        let queries: Vec<ArtistQuery<'_>> = unknown
            .iter()
            .map(|&i| ArtistQuery {
                name: &items[i].credit,
                genres: items[i].genres,
            })
            .collect();
        let mut guesses = vec![Vec::new(); unknown.len()];
        let mut guess_signals = vec![Vec::new(); unknown.len()];
        if !queries.is_empty() {
            for estimator in &self.estimators {
                for (slot, guess) in estimator.estimate(&queries)?.into_iter().enumerate() {
                    if let Some((p, signal)) = guess {
                        guesses[slot].push((estimator.evidence(), p));
                        guess_signals[slot].push(signal);
                    }
                }
            }
        }
        let present: Vec<_> = self.estimators.iter().map(|e| e.evidence()).collect();
        for (slot, &i) in unknown.iter().enumerate() {
            let estimate = self.fit.estimate(&present, &guesses[slot]);
            points[i] = Some((
                plane(estimate.point),
                KNOWN * estimate.certainty,
                std::mem::take(&mut guess_signals[slot]),
            ));
        }
        let (mut v, mut e, mut total, mut sure) = (0.0f32, 0.0f32, 0.0f32, 0.0f32);
        let (mut evidenced, mut used) = (0usize, Vec::new());
        for (item, point) in items.iter().zip(points) {
            let Some(((pv, pe), certainty, signals)) = point else {
                continue;
            };
            v += item.weight * pv;
            e += item.weight * pe;
            total += item.weight;
            sure += item.weight * certainty;
            if certainty > 0.0 && !signals.is_empty() {
                evidenced += 1;
                used.extend(signals);
            }
        }
        if evidenced == 0 || total <= 0.0 {
            return Ok(with_cover_palette(Mood::neutral(self.name()), profile));
        }
        let support = 1.0 - (-(evidenced as f32) / 4.0).exp();
        let mood = Mood::new(
            v / total,
            e / total,
            sure / total * support,
            used,
            self.name(),
        );
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
            // The best evidence the one item has; behaviour and covers
            // never decide the point.
            let want = if features {
                vec![Signal::AudioFeatures]
            } else if known {
                vec![Signal::Names]
            } else if genres {
                vec![Signal::Genres]
            } else {
                Vec::new()
            };
            assert_eq!(m.signals, want, "mask {mask:05b}: {m:?}");
            for s in &m.signals {
                assert!(p.has(*s), "mask {mask:05b}: used {s} the profile lacks");
            }
            if want.is_empty() {
                assert_eq!(m.confidence, 0.0, "mask {mask:05b}");
                assert_eq!(m.label, crate::mood::MoodLabel::Balanced, "mask {mask:05b}");
            } else {
                assert!(m.confidence > 0.0, "mask {mask:05b}: {m:?}");
            }
            // Cover colours reach the palette whatever else decided the point.
            assert_eq!(
                m.palette.iter().any(|s| s.color == Rgb(250, 210, 60)),
                covers,
                "mask {mask:05b}"
            );
            // Measured features count as they are.
            if features {
                assert!(m.raw.valence > 0.75, "mask {mask:05b}: {m:?}");
            }
        }
    }

    #[test]
    fn better_evidence_means_more_confidence() {
        let auto = AutoModel::default();
        let guessed = auto
            .mood(&profile(false, true, false, false, false))
            .unwrap();
        let known = auto
            .mood(&profile(false, false, true, false, false))
            .unwrap();
        let measured = auto.mood(&profile(true, true, true, true, true)).unwrap();
        assert!(
            known.confidence > guessed.confidence,
            "{known:?} {guessed:?}"
        );
        assert!(measured.confidence > known.confidence);
    }

    #[test]
    fn a_known_artist_counts_with_its_measured_means() {
        let k = Knowledge::builtin();
        let abba = k.artist("ABBA").and_then(|a| a.measured).unwrap();
        let m = AutoModel::default()
            .mood(&profile(false, true, true, false, false))
            .unwrap();
        assert!((m.raw.valence - (2.0 * abba.0 - 1.0)).abs() < 1e-5, "{m:?}");
        assert!((m.raw.arousal - (2.0 * abba.1 - 1.0)).abs() < 1e-5, "{m:?}");
    }
}
