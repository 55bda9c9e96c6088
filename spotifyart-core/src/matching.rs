//! Matching two people: a symmetric 0-100 score from shared artists, shared
//! genres (both weighted by how much each person listens) and how close
//! their moods are, with an explanation a person can read.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::mood::Mood;
use crate::names::normalize_name;
use crate::profile::ListeningProfile;

/// Something both people listen to, with each one's share.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Shared {
    /// Display name.
    pub name: String,
    /// Share of the first person's listening.
    pub weight_a: f32,
    /// Share of the second person's listening.
    pub weight_b: f32,
}

/// Per-signal similarities in [0, 1]; `None` when a signal is missing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MatchComponents {
    /// Shared artists (square root of the weighted overlap).
    pub artists: Option<f32>,
    /// Shared genres (square root of the weighted overlap).
    pub genres: Option<f32>,
    /// Closeness of the two moods.
    pub mood: f32,
}

/// The outcome of comparing two people.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MatchResult {
    /// Compatibility, 0-100. Symmetric.
    pub score: u8,
    /// What the score is made of.
    pub components: MatchComponents,
    /// Artists both listen to, most shared first.
    pub shared_artists: Vec<Shared>,
    /// Genres both listen to, most shared first.
    pub shared_genres: Vec<Shared>,
    /// Tracks in both people's top lists.
    pub shared_tracks: Vec<String>,
    /// Distance between the two moods on the plane.
    pub mood_distance: f32,
    /// The first person's mood.
    pub mood_a: Mood,
    /// The second person's mood.
    pub mood_b: Mood,
    /// The mood of the two together.
    pub blended: Mood,
    /// Sentences explaining the score, in order of importance.
    pub reasons: Vec<String>,
}

impl MatchResult {
    /// The reasons as one paragraph.
    pub fn explanation(&self) -> String {
        self.reasons.join(" ")
    }
}

/// Weights of each component in the score. The mood weight is scaled by the
/// two moods' confidences, so guessed moods barely count.
#[derive(Clone, Debug)]
pub struct Matcher {
    /// Weight of shared artists.
    pub artists_weight: f32,
    /// Weight of shared genres.
    pub genres_weight: f32,
    /// Weight of mood closeness at full confidence.
    pub mood_weight: f32,
}

impl Default for Matcher {
    fn default() -> Self {
        Self {
            artists_weight: 0.5,
            genres_weight: 0.2,
            mood_weight: 0.3,
        }
    }
}

impl Matcher {
    /// Compares two people given their profiles and moods.
    pub fn compare(
        &self,
        a: &ListeningProfile,
        mood_a: &Mood,
        b: &ListeningProfile,
        mood_b: &Mood,
    ) -> MatchResult {
        let wa = artist_weights(a);
        let wb = artist_weights(b);
        let (artist_overlap, shared_artists) = overlap(&wa, &wb);
        let ga = genre_weights(a);
        let gb = genre_weights(b);
        let (genre_overlap, shared_genres) = overlap(&ga, &gb);
        let shared_tracks = shared_tracks(a, b);

        let artists = (!wa.is_empty() && !wb.is_empty()).then(|| artist_overlap.sqrt());
        let genres = (!ga.is_empty() && !gb.is_empty()).then(|| genre_overlap.sqrt());
        let mood_distance = mood_a.distance(mood_b);
        let mood = (1.0 - mood_distance / 2.0).clamp(0.0, 1.0);
        let mood_w = self.mood_weight * (mood_a.confidence * mood_b.confidence).sqrt();

        let mut num = mood_w * mood;
        let mut den = mood_w;
        if let Some(s) = artists {
            num += self.artists_weight * s;
            den += self.artists_weight;
        }
        if let Some(s) = genres {
            num += self.genres_weight * s;
            den += self.genres_weight;
        }
        let score = if den > 0.0 {
            (100.0 * num / den).round().clamp(0.0, 100.0) as u8
        } else {
            0
        };
        let blended = Mood::blend(mood_a, mood_b);
        let components = MatchComponents {
            artists,
            genres,
            mood,
        };
        let reasons = explain(
            score,
            &components,
            artist_overlap,
            &shared_artists,
            &shared_genres,
            &shared_tracks,
            mood_a,
            mood_b,
            &blended,
        );
        MatchResult {
            score,
            components,
            shared_artists,
            shared_genres,
            shared_tracks,
            mood_distance,
            mood_a: mood_a.clone(),
            mood_b: mood_b.clone(),
            blended,
            reasons,
        }
    }
}

/// Normalised name -> (display name, weight summing to 1).
type Weights = HashMap<String, (String, f32)>;

fn artist_weights(p: &ListeningProfile) -> Weights {
    let mut out = Weights::new();
    for (artist, w) in p.weighted_artists() {
        let e = out
            .entry(normalize_name(&artist.name))
            .or_insert_with(|| (artist.name.clone(), 0.0));
        e.1 += w;
    }
    if out.is_empty() {
        // Profiles with tracks but no artist lists (hand-written ones).
        for (track, w) in p.weighted_tracks() {
            let name = track.primary_artist();
            if name.is_empty() {
                continue;
            }
            let e = out
                .entry(normalize_name(name))
                .or_insert_with(|| (name.to_string(), 0.0));
            e.1 += w;
        }
    }
    out
}

fn genre_weights(p: &ListeningProfile) -> Weights {
    let mut out = Weights::new();
    let mut total = 0.0;
    for (artist, w) in p.weighted_artists() {
        if artist.genres.is_empty() {
            continue;
        }
        let share = w / artist.genres.len() as f32;
        for g in &artist.genres {
            let e = out
                .entry(normalize_name(g))
                .or_insert_with(|| (g.to_lowercase(), 0.0));
            e.1 += share;
            total += share;
        }
    }
    if total > 0.0 {
        for v in out.values_mut() {
            v.1 /= total;
        }
    }
    out
}

/// Σ min(wa, wb) over shared keys (1 for identical distributions), and the
/// shared items sorted by combined weight, then name, so the order does not
/// depend on argument order.
fn overlap(a: &Weights, b: &Weights) -> (f32, Vec<Shared>) {
    // Summed in key order, so the float result does not depend on hash
    // order or on which person is `a`.
    let mut keys: Vec<&String> = a.keys().filter(|k| b.contains_key(*k)).collect();
    keys.sort();
    let mut total = 0.0;
    let mut shared = Vec::new();
    for key in keys {
        let (name_a, wa) = &a[key];
        if let Some((name_b, wb)) = b.get(key) {
            total += wa.min(*wb);
            shared.push(Shared {
                name: name_a.min(name_b).clone(),
                weight_a: *wa,
                weight_b: *wb,
            });
        }
    }
    shared.sort_by(|x, y| {
        (y.weight_a + y.weight_b)
            .total_cmp(&(x.weight_a + x.weight_b))
            .then_with(|| x.name.cmp(&y.name))
    });
    (total.min(1.0), shared)
}

fn shared_tracks(a: &ListeningProfile, b: &ListeningProfile) -> Vec<String> {
    let ta: HashMap<String, &str> = a
        .weighted_tracks()
        .into_iter()
        .map(|(t, _)| (t.key(), t.name.as_str()))
        .collect();
    let mut out: Vec<String> = b
        .weighted_tracks()
        .into_iter()
        .filter_map(|(t, _)| ta.get(&t.key()).map(|name| (*name).min(t.name.as_str())))
        .map(str::to_string)
        .collect();
    out.sort();
    out.dedup();
    out
}

#[allow(clippy::too_many_arguments)]
fn explain(
    score: u8,
    c: &MatchComponents,
    artist_overlap: f32,
    shared_artists: &[Shared],
    shared_genres: &[Shared],
    shared_tracks: &[String],
    a: &Mood,
    b: &Mood,
    blended: &Mood,
) -> Vec<String> {
    let mut reasons = Vec::new();
    let verdict = match score {
        85..=100 => "a near-perfect match",
        65..=84 => "a strong match",
        45..=64 => "a good match",
        25..=44 => "some common ground",
        _ => "very different tastes",
    };
    reasons.push(format!("Score {score}/100: {verdict}."));
    match c.artists {
        None => reasons
            .push("One of you has no artists to compare, so artists were left out.".to_string()),
        Some(_) if shared_artists.is_empty() => {
            reasons.push("You have no top artists in common.".to_string())
        }
        Some(_) => reasons.push(format!(
            "You share {} of your top artists ({}), {:.0}% of your listening overlaps.",
            shared_artists.len(),
            list_names(shared_artists.iter().map(|s| s.name.as_str()), 3),
            artist_overlap * 100.0
        )),
    }
    if !shared_tracks.is_empty() {
        reasons.push(format!(
            "Songs you both love: {}.",
            list_names(shared_tracks.iter().map(String::as_str), 3)
        ));
    }
    if c.genres.is_some() {
        if shared_genres.is_empty() {
            reasons.push("Your genres do not overlap.".to_string());
        } else {
            reasons.push(format!(
                "Shared genres: {}.",
                list_names(shared_genres.iter().map(|s| s.name.as_str()), 4)
            ));
        }
    }
    let closeness = match a.distance(b) {
        d if d < 0.25 => "close together",
        d if d < 0.7 => "a little apart",
        d if d < 1.2 => "far apart",
        _ => "at opposite ends",
    };
    let moods = if a.label == b.label {
        format!("Your moods are both {}", a.label)
    } else {
        let (x, y) = if a.label.as_str() <= b.label.as_str() {
            (a.label, b.label)
        } else {
            (b.label, a.label)
        };
        format!("Your moods are {x} and {y}")
    };
    let certainty = match (a.confidence < 0.3, b.confidence < 0.3) {
        (true, true) => " (both are rough guesses, so they count for little)",
        (true, false) | (false, true) => " (one is a rough guess, so it counts for little)",
        (false, false) => "",
    };
    reasons.push(format!(
        "{moods}, {closeness} (distance {:.2}){certainty}; together you are {}.",
        a.distance(b),
        blended.label
    ));
    reasons
}

fn list_names<'a>(names: impl Iterator<Item = &'a str>, max: usize) -> String {
    let all: Vec<&str> = names.collect();
    let shown = all.iter().take(max).copied().collect::<Vec<_>>().join(", ");
    if all.len() > max {
        format!("{shown} and {} more", all.len() - max)
    } else {
        shown
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{ArtistStat, TrackStat};

    fn profile(artists: &[(&str, &[&str])]) -> ListeningProfile {
        let mut p = ListeningProfile::empty("manual");
        p.top_artists.medium_term = artists
            .iter()
            .map(|(n, g)| ArtistStat {
                name: n.to_string(),
                genres: g.iter().map(|s| s.to_string()).collect(),
                ..ArtistStat::default()
            })
            .collect();
        p.top_tracks.medium_term = artists
            .iter()
            .map(|(n, _)| TrackStat {
                name: format!("{n} song"),
                artists: vec![n.to_string()],
                ..TrackStat::default()
            })
            .collect();
        p.normalize().unwrap();
        p
    }

    #[test]
    fn identical_is_100_and_symmetric() {
        let p = profile(&[("Radiohead", &["art rock"]), ("Björk", &["art pop"])]);
        let m = Mood::new(-0.3, 0.1, 0.8, vec![], "t");
        let r = Matcher::default().compare(&p, &m, &p, &m);
        assert_eq!(r.score, 100);
        assert_eq!(r.shared_artists.len(), 2);
        assert_eq!(r.shared_tracks.len(), 2);
    }

    #[test]
    fn disjoint_is_low_and_explained() {
        let a = profile(&[("ABBA", &["europop"]), ("Lizzo", &["dance pop"])]);
        let b = profile(&[
            ("Slipknot", &["nu metal"]),
            ("Metallica", &["thrash metal"]),
        ]);
        let ma = Mood::new(0.7, 0.4, 0.9, vec![], "t");
        let mb = Mood::new(-0.4, 0.7, 0.9, vec![], "t");
        let ab = Matcher::default().compare(&a, &ma, &b, &mb);
        let ba = Matcher::default().compare(&b, &mb, &a, &ma);
        assert!(ab.score < 25, "{}", ab.score);
        assert_eq!(ab.score, ba.score);
        assert_eq!(ab.explanation(), ba.explanation());
        let text = ab.explanation();
        assert!(text.contains("no top artists in common"), "{text}");
        assert!(text.contains("euphoric and tense"), "{text}");
    }

    #[test]
    fn names_match_across_spellings() {
        let a = profile(&[("The Cure", &[]), ("Björk", &[])]);
        let b = profile(&[("Cure", &[]), ("BJORK", &[])]);
        let m = Mood::neutral("t");
        let r = Matcher::default().compare(&a, &m, &b, &m);
        assert_eq!(r.shared_artists.len(), 2);
        assert_eq!(r.score, 100, "{}", r.explanation());
    }
}
