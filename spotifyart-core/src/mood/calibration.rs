//! Where a listener stands among listeners. A listener's play-weighted
//! mean sits near everyone else's, so raw points crowd the middle of the
//! plane and almost everyone would be "balanced". Like Wrapped's Audio
//! Aura, the label, palette, plot and prompt place a person by their
//! percentile on each axis instead, over the synthetic population
//! `mood_eval` builds from the public dataset (`data/mood_calibration.json`,
//! `mood_eval --fit`). The mapping is increasing on each axis, so it keeps
//! every ranking; the raw point stays in [`Mood::raw`](super::Mood::raw).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Raw values at evenly spaced percentiles, per axis.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Quantiles {
    /// Valence at percentiles `1/(n+1) … n/(n+1)`, increasing.
    pub valence: Vec<f32>,
    /// Arousal at the same percentiles, increasing.
    pub arousal: Vec<f32>,
}

/// Quantile tables per mood model.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Listeners the tables were computed from, per model.
    pub listeners: usize,
    /// The tables by model name; a model without one is shown raw.
    pub models: BTreeMap<String, Quantiles>,
}

impl Quantiles {
    /// The quantiles of raw points, `knots` per axis.
    pub fn of(points: &[(f32, f32)], knots: usize) -> Quantiles {
        let axis = |pick: fn(&(f32, f32)) -> f32| {
            let mut xs: Vec<f32> = points.iter().map(pick).filter(|x| x.is_finite()).collect();
            xs.sort_by(f32::total_cmp);
            let mut out: Vec<f32> = (1..=knots)
                .map(|i| {
                    let at = i as f64 / (knots + 1) as f64 * (xs.len().max(1) - 1) as f64;
                    let (lo, t) = (at.floor() as usize, (at - at.floor()) as f32);
                    let hi = (lo + 1).min(xs.len().saturating_sub(1));
                    match (xs.get(lo), xs.get(hi)) {
                        (Some(a), Some(b)) => a + (b - a) * t,
                        _ => 0.0,
                    }
                })
                .collect();
            // Strictly increasing inside (-1, 1), so the map is invertible
            // and keeps strict order.
            let n = out.len() as f32;
            for (i, x) in out.iter_mut().enumerate() {
                let floor = -1.0 + (i as f32 + 1.0) * 1e-4;
                let ceil = 1.0 - (n - i as f32) * 1e-4;
                *x = x.clamp(floor, ceil);
            }
            for i in 1..out.len() {
                if out[i] <= out[i - 1] {
                    out[i] = out[i - 1] + 1e-5;
                }
            }
            out
        };
        Quantiles {
            valence: axis(|p| p.0),
            arousal: axis(|p| p.1),
        }
    }

    /// The standing `(valence, arousal)` in [-1, 1] of a raw point: twice
    /// its percentile minus one, linear between the knots and between the
    /// outer knots and the plane's edges.
    pub fn standing(&self, valence: f32, arousal: f32) -> (f32, f32) {
        (place(&self.valence, valence), place(&self.arousal, arousal))
    }

    fn check(&self) -> bool {
        [&self.valence, &self.arousal].iter().all(|q| {
            !q.is_empty()
                && q.iter().all(|x| x.is_finite() && x.abs() < 1.0)
                && q.windows(2).all(|w| w[0] < w[1])
        })
    }
}

fn place(knots: &[f32], x: f32) -> f32 {
    let n = knots.len();
    let x = x.clamp(-1.0, 1.0);
    // Knot i sits at percentile (i + 1) / (n + 1); the edges at 0 and 1.
    let at = |i: usize| -> (f32, f32) {
        match i {
            0 => (-1.0, 0.0),
            i if i > n => (1.0, 1.0),
            i => (knots[i - 1], i as f32 / (n + 1) as f32),
        }
    };
    let upper = knots.partition_point(|k| *k < x) + 1;
    let ((x0, p0), (x1, p1)) = (at(upper - 1), at(upper));
    let p = if x1 > x0 {
        p0 + (p1 - p0) * (x - x0) / (x1 - x0)
    } else {
        p1
    };
    (2.0 * p - 1.0).clamp(-1.0, 1.0)
}

impl Calibration {
    /// The tables shipped with the crate.
    pub fn builtin() -> &'static Calibration {
        static BUILTIN: OnceLock<Calibration> = OnceLock::new();
        BUILTIN.get_or_init(|| {
            Self::from_json(include_str!("../../data/mood_calibration.json")).unwrap_or_else(|e| {
                tracing::error!(error = %e, "built-in mood calibration is corrupt");
                Calibration::default()
            })
        })
    }

    /// Tables from `mood_eval --fit`'s JSON.
    pub fn from_json(json: &str) -> Result<Calibration> {
        let c: Calibration = serde_json::from_str(json)
            .map_err(|e| Error::invalid(format!("mood calibration: {e}")))?;
        if let Some((name, _)) = c.models.iter().find(|(_, q)| !q.check()) {
            return Err(Error::invalid(format!(
                "mood calibration: {name}'s quantiles must increase strictly inside (-1, 1)"
            )));
        }
        Ok(c)
    }

    /// The standing of a raw point from model `model`; a model (or blend of
    /// two) without a table stands where its raw point is.
    pub fn standing(&self, model: &str, valence: f32, arousal: f32) -> (f32, f32) {
        let base = model.split('+').collect::<Vec<_>>();
        let table = match base.as_slice() {
            [one] => self.models.get(*one),
            // A blend of two moods from the same kind of model.
            [a, b] if a == b => self.models.get(*a),
            _ => self.models.get("auto"),
        };
        match table {
            Some(q) => q.standing(valence, arousal),
            None => (valence, arousal),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standing_is_the_percentile_and_keeps_order() {
        // A crowded population: raw points within ±0.1 of the middle.
        let points: Vec<(f32, f32)> = (0..1000)
            .map(|i| {
                let t = i as f32 / 999.0;
                (-0.1 + 0.2 * t, 0.05 - 0.1 * t)
            })
            .collect();
        let q = Quantiles::of(&points, 99);
        assert!(q.check());
        let (v, a) = q.standing(0.0, 0.0);
        assert!(v.abs() < 0.02 && a.abs() < 0.02, "{v} {a}");
        // The top tenth of the population stands in the top tenth.
        assert!(q.standing(0.08, 0.0).0 > 0.75);
        assert!(q.standing(-0.08, 0.0).0 < -0.75);
        let mut last = -2.0;
        for i in 0..=400 {
            let x = -1.0 + i as f32 / 200.0;
            let s = q.standing(x, x).0;
            assert!(s > last, "{x}: {s} after {last}");
            assert!((-1.0..=1.0).contains(&s));
            last = s;
        }
    }

    #[test]
    fn unknown_models_stand_where_they_are_and_bad_tables_are_refused() {
        let c = Calibration::builtin();
        assert!(c.models.contains_key("auto"), "{:?}", c.models.keys());
        assert_eq!(c.standing("behaviour", 0.3, -0.2), (0.3, -0.2));
        let bad = r#"{"listeners":1,"models":{"auto":{"valence":[0.2,0.1],"arousal":[0.0]}}}"#;
        let err = Calibration::from_json(bad).unwrap_err().to_string();
        assert!(err.contains("auto"), "{err}");
    }
}
