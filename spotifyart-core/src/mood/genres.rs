//! `genres`: the mood of the artists someone plays, from what is known
//! about them offline ([`Knowledge`]): an artist's own measured means when
//! the table has them, otherwise the means of the genres the profile (or
//! the table) gives the artist. Needs only names, so it serves Development
//! Mode apps and data exports, which get no audio features or genres.

use std::sync::Arc;

use super::evidence::{ArtistEstimator, ArtistQuery, Evidence, Guess};
use super::knowledge::{ArtistFacts, Knowledge};
use super::{Mood, MoodModel, PointMean, artist_items, mean_point, plane};
use crate::Result;
use crate::profile::{ListeningProfile, Signal};

/// Confidence at full coverage with many artists.
const MAX_CONFIDENCE: f32 = 0.9;

/// See the module docs.
#[derive(Clone, Debug)]
pub struct GenreModel {
    knowledge: Arc<Knowledge>,
}

impl Default for GenreModel {
    fn default() -> Self {
        GenreModel::new(Knowledge::builtin())
    }
}

impl GenreModel {
    /// A model over `knowledge` (the evaluation passes a split).
    pub fn new(knowledge: Arc<Knowledge>) -> Self {
        GenreModel { knowledge }
    }

    /// The tables behind the model.
    pub fn knowledge(&self) -> &Knowledge {
        &self.knowledge
    }

    /// Valence and energy in [0, 1] for one artist credit, with the signal
    /// that gave it: the profile's `genres` when it has them, otherwise
    /// what the table knows about the credited name(s).
    pub fn artist_point(&self, credit: &str, genres: &[String]) -> Option<((f32, f32), Signal)> {
        let known = self.knowledge.artists_in(credit);
        let from_profile = self.mean_of(genres.iter().filter_map(|g| self.knowledge.genre(g)));
        if let Some(p) = from_profile.filter(|_| known.is_empty()) {
            return Some((p, Signal::Genres));
        }
        let mut sum = (0.0f32, 0.0f32, 0.0f32);
        for artist in &known {
            // An artist's own measured means count as they are: shrinking
            // them towards their genres cost listeners whose artists are
            // known 0.03 of Spearman (docs/models.md, listener table).
            let point = artist
                .measured
                .or_else(|| from_profile.or_else(|| self.genre_mean(artist)));
            if let Some((v, e)) = point {
                sum = (sum.0 + v, sum.1 + e, sum.2 + 1.0);
            }
        }
        if sum.2 > 0.0 {
            let signal = if from_profile.is_some() {
                Signal::Genres
            } else {
                Signal::Names
            };
            return Some(((sum.0 / sum.2, sum.1 / sum.2), signal));
        }
        from_profile.map(|p| (p, Signal::Genres))
    }

    /// Valence and energy in [0, 1] from genres alone, never an artist's
    /// measured means: the profile's `genres` when it has them, otherwise
    /// the table's genres of the credited name(s). `auto`'s guess for an
    /// artist the tables have not measured.
    pub fn genre_point(&self, credit: &str, genres: &[String]) -> Option<((f32, f32), Signal)> {
        if let Some(p) = self.mean_of(genres.iter().filter_map(|g| self.knowledge.genre(g))) {
            return Some((p, Signal::Genres));
        }
        let parts = self.knowledge.artists_in(credit);
        mean_point(parts.into_iter().filter_map(|a| self.genre_mean(a))).map(|p| (p, Signal::Names))
    }

    fn genre_mean(&self, artist: &ArtistFacts) -> Option<(f32, f32)> {
        self.mean_of(
            artist
                .genres
                .iter()
                .filter_map(|&g| self.knowledge.genre_at(g)),
        )
    }

    /// Track-weighted mean of the genres that have a point.
    fn mean_of<'a>(
        &self,
        genres: impl Iterator<Item = &'a super::knowledge::GenreFacts>,
    ) -> Option<(f32, f32)> {
        let (mut v, mut e, mut w) = (0.0f32, 0.0f32, 0.0f32);
        for g in genres {
            if let Some((gv, ge)) = g.point {
                // Square-root weights: a huge genre should not drown a
                // specific one entirely.
                let gw = (g.tracks.max(1) as f32).sqrt();
                v += gw * gv;
                e += gw * ge;
                w += gw;
            }
        }
        (w > 0.0).then(|| (v / w, e / w))
    }
}

impl ArtistEstimator for GenreModel {
    fn evidence(&self) -> Evidence {
        Evidence::Genres
    }

    fn estimate(&self, artists: &[ArtistQuery<'_>]) -> Result<Vec<Option<Guess>>> {
        Ok(artists
            .iter()
            .map(|a| self.genre_point(a.name, a.genres))
            .collect())
    }
}

impl MoodModel for GenreModel {
    fn name(&self) -> &str {
        "genres"
    }

    fn signals(&self) -> &[Signal] {
        &[Signal::Genres, Signal::Names]
    }

    fn mood(&self, profile: &ListeningProfile) -> Result<Mood> {
        let mut mean = PointMean::default();
        let mut used = Vec::new();
        for item in artist_items(profile) {
            let found = self.artist_point(&item.credit, item.genres);
            if let Some((_, signal)) = found {
                used.push(signal);
            }
            mean.add(item.weight, found.map(|(p, _)| plane(p)));
        }
        Ok(mean.mood(MAX_CONFIDENCE, used, self.name()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{ArtistStat, TimeRange};

    fn profile(artists: &[(&str, &[&str])]) -> ListeningProfile {
        let mut p = ListeningProfile::empty("test");
        *p.top_artists.get_mut(TimeRange::MediumTerm) = artists
            .iter()
            .map(|(name, genres)| ArtistStat {
                name: name.to_string(),
                genres: genres.iter().map(|g| g.to_string()).collect(),
                ..Default::default()
            })
            .collect();
        p.normalize().unwrap();
        p
    }

    #[test]
    fn names_alone_give_a_mood_and_genres_too() {
        let model = GenreModel::default();
        let upbeat = model
            .mood(&profile(&[
                ("ABBA", &[]),
                ("Katrina & The Waves", &[]),
                ("KC & The Sunshine Band", &[]),
            ]))
            .unwrap();
        let dark = model
            .mood(&profile(&[
                ("Joy Division", &[]),
                ("Nick Drake", &[]),
                ("Elliott Smith", &[]),
            ]))
            .unwrap();
        assert_eq!(upbeat.signals, vec![Signal::Names]);
        assert!(
            upbeat.valence > dark.valence + 0.3,
            "{upbeat:?} vs {dark:?}"
        );
        assert!(upbeat.confidence > 0.3);
        // Unknown names with genres from the API: the genre table.
        let by_genre = model
            .mood(&profile(&[("Zz Unknown", &["sad rap", "emo rap"])]))
            .unwrap();
        assert_eq!(by_genre.signals, vec![Signal::Genres]);
        // Nothing known: neutral, no signals.
        let none = model.mood(&profile(&[("Zz Unknown", &[])])).unwrap();
        assert_eq!(none.confidence, 0.0);
        assert!(none.signals.is_empty());
    }
}
