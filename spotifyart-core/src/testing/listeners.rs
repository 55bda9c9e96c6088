//! Synthetic listeners for evaluating mood models on whole listening
//! histories: each has plays by artists from the public dataset behind
//! [`Knowledge`], some of them held out (their measurements hidden from the
//! models), and a truth — the play-weighted mean of their artists'
//! measured valence and energy. `mood_eval` scores every model on them and
//! fits the mood calibration on them; the regression tests use a small
//! fixed subset.

use std::collections::HashMap;

use rand::seq::{IndexedRandom, SliceRandom};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::mood::knowledge::{Knowledge, held_out};
use crate::profile::{ArtistStat, ListeningProfile, TimeRange};
use crate::{Mood, MoodModel, Result};

/// Shares of plays by artists the tables do not know, one population each.
pub const UNKNOWN_SHARES: [f64; 5] = [0.0, 0.25, 0.5, 0.75, 1.0];
/// Artists a profile keeps (an export's top lists hold 50).
pub const TOP_ARTISTS: usize = 50;

/// One synthetic listener.
#[derive(Clone, Debug)]
pub struct Listener {
    /// Play-weighted measured (valence, energy) over all their plays, in
    /// Spotify's [0, 1].
    pub truth: (f32, f32),
    /// The same mean over the artists whose measurements the models see:
    /// what a plain lookup in the shipped table gives.
    pub lookup: (f32, f32),
    /// What a names-only source (a data export) gives of them.
    pub profile: ListeningProfile,
}

/// The artists listeners are drawn from: the dataset's training artists
/// (known) and its held-out fifth (unknown), with their measurements.
pub struct Pools<'a> {
    known: Vec<(&'a str, (f32, f32))>,
    unknown: Vec<(&'a str, (f32, f32))>,
    lookup: Knowledge,
}

impl<'a> Pools<'a> {
    /// Pools over `full` (tables with every measurement).
    pub fn new(full: &'a Knowledge) -> Pools<'a> {
        let pick = |held: bool| {
            full.artists()
                .iter()
                .filter(|a| held_out(&a.name) == held)
                .filter_map(|a| a.measured.map(|m| (a.name.as_str(), m)))
                .collect::<Vec<_>>()
        };
        Pools {
            known: pick(false),
            unknown: pick(true),
            lookup: full.without_measurements(|a| held_out(&a.name)),
        }
    }

    /// The same pools cut to `known` and `unknown` artists (chosen by
    /// `seed`): listeners then share names, so a model that encodes every
    /// name (the embedding model) scores many listeners quickly.
    pub fn limited(mut self, known: usize, unknown: usize, seed: u64) -> Pools<'a> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        for (pool, keep) in [(&mut self.known, known), (&mut self.unknown, unknown)] {
            pool.shuffle(&mut rng);
            pool.truncate(keep);
        }
        self
    }

    /// The tables as the models see them: held-out artists keep their names
    /// and genres, not their measurements.
    pub fn knowledge(&self) -> &Knowledge {
        &self.lookup
    }

    /// `count` listeners per share of [`UNKNOWN_SHARES`], each artist they
    /// play held out with that share's probability; the same seed gives
    /// the same listeners.
    pub fn population(&self, count: usize, seed: u64) -> Vec<(f64, Vec<Listener>)> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        UNKNOWN_SHARES
            .iter()
            .map(|&share| {
                let people = (0..count).map(|_| self.listener(&mut rng, share)).collect();
                (share, people)
            })
            .collect()
    }

    /// A listener with 3 to 300 artists (log-uniform), plays falling off as
    /// a power of rank (exponent 0.6 to 1.4: from flat to top-heavy).
    fn listener(&self, rng: &mut ChaCha8Rng, unknown: f64) -> Listener {
        let n = (3f64 * 100f64.powf(rng.random_range(0.0..1.0))).round() as usize;
        let exponent = rng.random_range(0.6..1.4);
        // An artist drawn twice is one artist with both ranks' plays.
        let mut by_name: HashMap<&str, ((f32, f32), u32)> = HashMap::new();
        for rank in 0..n {
            let pool = if rng.random_bool(unknown) {
                &self.unknown
            } else {
                &self.known
            };
            let Some(&(name, measured)) = pool.choose(rng) else {
                continue;
            };
            let plays = (400.0 / ((rank + 1) as f64).powf(exponent))
                .round()
                .max(1.0) as u32;
            by_name.entry(name).or_insert((measured, 0)).1 += plays;
        }
        let mut artists: Vec<(&str, (f32, f32), u32)> =
            by_name.into_iter().map(|(n, (m, p))| (n, m, p)).collect();
        artists.sort_by_key(|a| (std::cmp::Reverse(a.2), a.0));
        let mean = |pick: Pick<'_>| {
            let (mut v, mut e, mut w) = (0.0f64, 0.0f64, 0.0f64);
            for &(name, measured, plays) in &artists {
                if let Some((av, ae)) = pick(name, measured) {
                    v += f64::from(plays) * f64::from(av);
                    e += f64::from(plays) * f64::from(ae);
                    w += f64::from(plays);
                }
            }
            if w == 0.0 {
                (0.5, 0.5)
            } else {
                ((v / w) as f32, (e / w) as f32)
            }
        };
        let truth = mean(&|_, m| Some(m));
        let lookup = mean(&|name, _| self.lookup.artist(name).and_then(|f| f.measured));
        // As the export reader writes it: shares of all plays, top 50 kept.
        let total: u32 = artists.iter().map(|a| a.2).sum();
        let mut profile = ListeningProfile::empty("eval");
        *profile.top_artists.get_mut(TimeRange::LongTerm) = artists
            .iter()
            .take(TOP_ARTISTS)
            .enumerate()
            .map(|(i, a)| ArtistStat {
                name: a.0.to_string(),
                rank: i as u32 + 1,
                weight: a.2 as f32 / total.max(1) as f32,
                plays: Some(a.2),
                ..Default::default()
            })
            .collect();
        // Names from the dataset always make a valid profile.
        let _ = profile.normalize();
        Listener {
            truth,
            lookup,
            profile,
        }
    }
}

/// Which artists a mean counts, and with what point.
type Pick<'p> = &'p dyn Fn(&str, (f32, f32)) -> Option<(f32, f32)>;

/// How close a model comes to a population's truth.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Score {
    /// Spearman correlation of the model's valence with the truth's.
    pub valence_rho: f64,
    /// Spearman correlation of the model's arousal with the truth's energy.
    pub energy_rho: f64,
    /// Mean |model − truth| on the mood plane, valence.
    pub valence_error: f64,
    /// Mean |model − truth| on the mood plane, arousal.
    pub energy_error: f64,
}

impl Score {
    /// Raw model points `(valence, arousal)` on the plane against `people`.
    pub fn of_points(points: &[(f32, f32)], people: &[Listener]) -> Score {
        let tv: Vec<f32> = people.iter().map(|l| l.truth.0).collect();
        let te: Vec<f32> = people.iter().map(|l| l.truth.1).collect();
        let v: Vec<f32> = points.iter().map(|p| p.0).collect();
        let a: Vec<f32> = points.iter().map(|p| p.1).collect();
        let error = |xs: &[f32], truth: &[f32]| -> f64 {
            xs.iter()
                .zip(truth)
                .map(|(x, t)| f64::from((x - (2.0 * t - 1.0)).abs()))
                .sum::<f64>()
                / xs.len().max(1) as f64
        };
        Score {
            valence_rho: spearman(&v, &tv),
            energy_rho: spearman(&a, &te),
            valence_error: error(&v, &tv),
            energy_error: error(&a, &te),
        }
    }

    /// A model's moods of `people`, scored on their raw points.
    pub fn of_model(model: &dyn MoodModel, people: &[Listener]) -> Result<Score> {
        let moods: Vec<Mood> = people
            .iter()
            .map(|l| model.mood(&l.profile))
            .collect::<Result<_>>()?;
        let points: Vec<(f32, f32)> = moods
            .iter()
            .map(|m| (m.raw.valence, m.raw.arousal))
            .collect();
        Ok(Score::of_points(&points, people))
    }

    /// Whether this ranks listeners at least as well as `other` on both
    /// axes, scores within `tie` of each other counting as equal.
    pub fn at_least(&self, other: &Score, tie: f64) -> bool {
        self.valence_rho + tie >= other.valence_rho && self.energy_rho + tie >= other.energy_rho
    }

    /// The plain lookup's score (measured means of the known artists).
    pub fn of_lookup(people: &[Listener]) -> Score {
        let points: Vec<(f32, f32)> = people
            .iter()
            .map(|l| (2.0 * l.lookup.0 - 1.0, 2.0 * l.lookup.1 - 1.0))
            .collect();
        Score::of_points(&points, people)
    }
}

/// Ranks with ties sharing their mean rank.
fn ranks(x: &[f32]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..x.len()).collect();
    idx.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let mut r = vec![0.0; x.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && x[idx[j + 1]] == x[idx[i]] {
            j += 1;
        }
        for k in i..=j {
            r[idx[k]] = (i + j) as f64 / 2.0;
        }
        i = j + 1;
    }
    r
}

/// Spearman's rank correlation; 0 when either side is constant.
pub fn spearman(a: &[f32], b: &[f32]) -> f64 {
    let (ra, rb) = (ranks(a), ranks(b));
    let n = ra.len() as f64;
    let (ma, mb) = (ra.iter().sum::<f64>() / n, rb.iter().sum::<f64>() / n);
    let cov: f64 = ra.iter().zip(&rb).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = ra.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = rb.iter().map(|y| (y - mb).powi(2)).sum();
    if va == 0.0 || vb == 0.0 {
        0.0
    } else {
        cov / (va * vb).sqrt()
    }
}
