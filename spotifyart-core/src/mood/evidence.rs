//! Evidence about one artist whose measured means the tables lack, and how
//! much each kind is worth. [`ArtistEstimator`]s (the genre tables, name
//! embeddings) each guess a point; an [`EvidenceFit`] turns the guesses
//! that are available into one point with its uncertainty, by a linear
//! stacking fitted on the held-out fifth of the dataset's artists
//! (`mood_eval --fit`, `data/evidence_fit.json`). Stacking rather than
//! averaging: each guess is shrunk by what it proved worth, alone and next
//! to the others, so adding a weak one can only help on the artists it was
//! fitted on.

use std::fmt::Debug;

use serde::{Deserialize, Serialize};

use crate::profile::Signal;
use crate::{Error, Result};

/// The kinds of evidence about an unmeasured artist.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Evidence {
    /// The means of the artist's genres (from the profile or the tables).
    Genres,
    /// A regression from the name's text embedding.
    Embedding,
}

/// One artist to estimate: the credit as the profile spells it and the
/// genres the profile gives it (empty for exports).
#[derive(Clone, Copy, Debug)]
pub struct ArtistQuery<'a> {
    /// The credit ("A", "A feat. B").
    pub name: &'a str,
    /// Genres from the source, if any.
    pub genres: &'a [String],
}

/// One fitting sample: an artist's measured (valence, energy) and the
/// guesses made without them.
pub type Sample = ((f32, f32), Vec<(Evidence, (f32, f32))>);

/// A guess at one artist: valence and energy in Spotify's [0, 1], and the
/// signal it read.
pub type Guess = ((f32, f32), Signal);

/// Something that can guess where an unmeasured artist sits.
pub trait ArtistEstimator: Send + Sync + Debug + 'static {
    /// Which evidence it gives (the fit weighs each kind).
    fn evidence(&self) -> Evidence;

    /// One guess per artist, `None` where it has nothing to go on. Batched:
    /// an embedding model encodes all names at once.
    fn estimate(&self, artists: &[ArtistQuery<'_>]) -> Result<Vec<Option<Guess>>>;
}

/// How to turn one set of available evidence into a point.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Combination {
    /// The estimators at work, sorted: which artists end up with a given
    /// set of guesses depends on which estimators were asked (without the
    /// embedding model, an artist with no genres has no guess at all).
    pub present: Vec<Evidence>,
    /// The kinds that guessed, sorted; the artists fitted are those for
    /// which exactly these of the `present` estimators guessed.
    pub evidence: Vec<Evidence>,
    /// Per output (valence, energy): the intercept, then one coefficient
    /// per input (each kind's valence and energy, in `evidence` order).
    pub coefficients: [Vec<f32>; 2],
    /// Root-mean-square error left on the fitted artists, per output.
    pub residual_sd: [f32; 2],
    /// Artists the fit saw.
    pub artists: usize,
}

/// The shipped weighing of evidence (see the module docs).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvidenceFit {
    /// Mean valence and energy of the fitted artists: the guess with no
    /// evidence at all.
    pub prior: [f32; 2],
    /// Their spread (standard deviation), which certainty is measured
    /// against.
    pub prior_sd: [f32; 2],
    /// One entry per set of evidence seen while fitting.
    pub combinations: Vec<Combination>,
}

/// A point for one artist and how much of the spread between artists it
/// explains (1 = measured, 0 = only the prior).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    /// Valence and energy in [0, 1].
    pub point: (f32, f32),
    /// Share of the between-artist variance explained, in [0, 1].
    pub certainty: f32,
}

impl EvidenceFit {
    /// The fit shipped with the crate.
    pub fn builtin() -> EvidenceFit {
        Self::from_json(include_str!("../../data/evidence_fit.json"))
            .unwrap_or_else(|e| panic!("data/evidence_fit.json is part of the build: {e}"))
    }

    /// A fit from `mood_eval --fit`'s JSON.
    pub fn from_json(json: &str) -> Result<EvidenceFit> {
        let fit: EvidenceFit =
            serde_json::from_str(json).map_err(|e| Error::invalid(format!("evidence fit: {e}")))?;
        for c in &fit.combinations {
            let inputs = 1 + 2 * c.evidence.len();
            if c.coefficients.iter().any(|row| row.len() != inputs) {
                return Err(Error::invalid(format!(
                    "evidence fit: {:?} needs {inputs} coefficients per output",
                    c.evidence
                )));
            }
        }
        Ok(fit)
    }

    /// The point for an artist with these guesses (any order; at most one
    /// per kind) from the `present` estimators. Sets the fit never saw fall
    /// back to the largest set it did see among the guesses.
    pub fn estimate(&self, present: &[Evidence], guesses: &[(Evidence, (f32, f32))]) -> Estimate {
        let prior = Estimate {
            point: (self.prior[0], self.prior[1]),
            certainty: 0.0,
        };
        let mut present = present.to_vec();
        present.sort();
        present.dedup();
        let mut kinds: Vec<Evidence> = guesses.iter().map(|(k, _)| *k).collect();
        kinds.sort();
        kinds.dedup();
        let exact = self
            .combinations
            .iter()
            .find(|c| c.present == present && c.evidence == kinds);
        let have = |c: &&Combination| {
            !c.evidence.is_empty()
                && c.evidence
                    .iter()
                    .all(|k| guesses.iter().any(|(g, _)| g == k))
        };
        let fallback = || {
            self.combinations
                .iter()
                .filter(have)
                .max_by_key(|c| (c.evidence.len(), c.present == present))
        };
        let Some(best) = exact.or_else(fallback) else {
            return prior;
        };
        let mut inputs = vec![1.0f32];
        for kind in &best.evidence {
            if let Some((_, (v, e))) = guesses.iter().find(|(g, _)| g == kind) {
                inputs.extend([*v, *e]);
            }
        }
        let out = |k: usize| -> f32 {
            best.coefficients[k]
                .iter()
                .zip(&inputs)
                .map(|(c, x)| c * x)
                .sum::<f32>()
                .clamp(0.0, 1.0)
        };
        let explained = |k: usize| {
            let ratio = best.residual_sd[k] / self.prior_sd[k].max(f32::EPSILON);
            (1.0 - ratio * ratio).clamp(0.0, 1.0)
        };
        Estimate {
            point: (out(0), out(1)),
            certainty: if best.evidence.is_empty() {
                0.0
            } else {
                (explained(0) + explained(1)) / 2.0
            },
        }
    }

    /// Fits the weighing on `samples`: per artist, its measured (valence,
    /// energy) and the guesses the estimators made without seeing it. For
    /// every set of estimators that could be at work and every set of
    /// guesses they give, one least-squares regression on exactly the
    /// artists that end up with those guesses, when there are at least
    /// `min_artists` of them: artists without genres are obscurer ones, and
    /// a weighing fitted on everyone would misjudge them.
    pub fn fit(samples: &[Sample], min_artists: usize) -> Self {
        let n = samples.len().max(1) as f64;
        let moments = |k: usize| {
            let xs = samples
                .iter()
                .map(|(t, _)| f64::from(if k == 0 { t.0 } else { t.1 }));
            let m = xs.clone().sum::<f64>() / n;
            (m, (xs.map(|x| (x - m).powi(2)).sum::<f64>() / n).sqrt())
        };
        let ((mv, sv), (me, se)) = (moments(0), moments(1));
        let mut all: Vec<Evidence> = samples
            .iter()
            .flat_map(|(_, g)| g.iter().map(|(k, _)| *k))
            .collect();
        all.sort();
        all.dedup();
        let subsets = |of: &[Evidence]| -> Vec<Vec<Evidence>> {
            (0..(1u32 << of.len()))
                .map(|mask| {
                    (0..of.len())
                        .filter(|i| mask & (1 << i) != 0)
                        .map(|i| of[i])
                        .collect()
                })
                .collect()
        };
        let mut combinations = Vec::new();
        for present in subsets(&all) {
            for set in subsets(&present) {
                let rows: Vec<(Vec<f64>, (f64, f64))> = samples
                    .iter()
                    .filter(|(_, guesses)| {
                        let mut got: Vec<Evidence> = guesses
                            .iter()
                            .map(|(k, _)| *k)
                            .filter(|k| present.contains(k))
                            .collect();
                        got.sort();
                        got == set
                    })
                    .map(|(t, guesses)| {
                        let mut x = vec![1.0];
                        for kind in &set {
                            if let Some((_, (v, e))) = guesses.iter().find(|(g, _)| g == kind) {
                                x.extend([f64::from(*v), f64::from(*e)]);
                            }
                        }
                        (x, (f64::from(t.0), f64::from(t.1)))
                    })
                    .collect();
                if rows.len() < min_artists {
                    continue;
                }
                let solve = |k: usize| {
                    let y: Vec<f64> = rows
                        .iter()
                        .map(|(_, t)| if k == 0 { t.0 } else { t.1 })
                        .collect();
                    let x: Vec<&[f64]> = rows.iter().map(|(x, _)| x.as_slice()).collect();
                    let beta = least_squares(&x, &y);
                    let rss: f64 = x
                        .iter()
                        .zip(&y)
                        .map(|(xi, yi)| {
                            (xi.iter().zip(&beta).map(|(a, b)| a * b).sum::<f64>() - yi).powi(2)
                        })
                        .sum();
                    (beta, (rss / rows.len() as f64).sqrt())
                };
                let ((bv, rv), (be, re)) = (solve(0), solve(1));
                combinations.push(Combination {
                    present: present.clone(),
                    evidence: set,
                    coefficients: [
                        bv.iter().map(|b| *b as f32).collect(),
                        be.iter().map(|b| *b as f32).collect(),
                    ],
                    residual_sd: [rv as f32, re as f32],
                    artists: rows.len(),
                });
            }
        }
        EvidenceFit {
            prior: [mv as f32, me as f32],
            prior_sd: [sv as f32, se as f32],
            combinations,
        }
    }
}

/// Ordinary least squares by the normal equations (a handful of inputs, so
/// Gaussian elimination with partial pivoting is exact enough), with a tiny
/// ridge so collinear inputs still solve.
fn least_squares(x: &[&[f64]], y: &[f64]) -> Vec<f64> {
    let p = x.first().map_or(0, |r| r.len());
    let mut a = vec![vec![0.0f64; p + 1]; p];
    for (row, yi) in x.iter().zip(y) {
        for i in 0..p {
            for j in 0..p {
                a[i][j] += row[i] * row[j];
            }
            a[i][p] += row[i] * yi;
        }
    }
    for (i, r) in a.iter_mut().enumerate() {
        r[i] += 1e-9 * x.len() as f64;
    }
    for col in 0..p {
        let pivot = (col..p)
            .max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))
            .unwrap_or(col);
        a.swap(col, pivot);
        let d = a[col][col];
        if d.abs() < 1e-12 {
            continue;
        }
        for x in &mut a[col][col..=p] {
            *x /= d;
        }
        let pivot_row = a[col].clone();
        for (i, row) in a.iter_mut().enumerate() {
            if i != col {
                let f = row[col];
                for (x, y) in row[col..=p].iter_mut().zip(&pivot_row[col..=p]) {
                    *x -= f * y;
                }
            }
        }
    }
    a.iter().map(|r| r[p]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fit_recovers_a_linear_truth_and_weighs_by_what_is_there() {
        // Genres carry the truth plus small noise, the embedding a weak
        // echo of it: alone each is shrunk, together genres dominate.
        let mut samples = Vec::new();
        for i in 0..400 {
            let t = (i as f32 * 0.618).fract();
            let e = (i as f32 * 0.377).fract();
            let noise = ((i * 7919) % 13) as f32 / 13.0 - 0.5;
            let mut guesses = vec![(
                Evidence::Embedding,
                (0.5 + 0.2 * (t - 0.5) + 0.1 * noise, e),
            )];
            if i % 2 == 0 {
                guesses.push((Evidence::Genres, (t + 0.02 * noise, e)));
            }
            samples.push(((t, e), guesses));
        }
        let fit = EvidenceFit::fit(&samples, 50);
        let both_present = [Evidence::Genres, Evidence::Embedding];
        let both = fit.estimate(
            &both_present,
            &[
                (Evidence::Genres, (0.8, 0.3)),
                (Evidence::Embedding, (0.5, 0.3)),
            ],
        );
        assert!((both.point.0 - 0.8).abs() < 0.03, "{both:?}");
        assert!(both.certainty > 0.9, "{both:?}");
        let weak = fit.estimate(&both_present, &[(Evidence::Embedding, (0.56, 0.3))]);
        assert!(weak.certainty < both.certainty);
        // Genres alone, fitted on the artists that have them.
        let genres = fit.estimate(&[Evidence::Genres], &[(Evidence::Genres, (0.8, 0.3))]);
        assert!((genres.point.0 - 0.8).abs() < 0.03, "{genres:?}");
        // Nothing guessed: the mean of the artists nothing guesses.
        let none = fit.estimate(&[Evidence::Genres], &[]);
        assert_eq!(none.certainty, 0.0);
        assert!((none.point.0 - 0.5).abs() < 0.05, "{none:?}");
        // Round trip through the shipped format.
        let json = serde_json::to_string(&fit).unwrap();
        assert_eq!(EvidenceFit::from_json(&json).unwrap(), fit);
    }

    #[test]
    fn the_builtin_fit_loads_and_knows_every_kind() {
        let fit = EvidenceFit::builtin();
        for kind in [Evidence::Genres, Evidence::Embedding] {
            assert!(
                fit.combinations
                    .iter()
                    .any(|c| c.evidence == [kind] && c.present == [kind]),
                "{kind:?}"
            );
        }
        assert!(EvidenceFit::from_json("{}").is_err());
    }
}
