//! Noise schedulers: DDIM, DDPM, Euler, Euler ancestral and DPM-Solver++
//! (2M), on the scaled-linear β schedule every Stable Diffusion model was
//! trained with. The stochastic ones draw their noise from the request's
//! seeded generator (never the device's), so a seed names one picture.

use std::fmt;
use std::str::FromStr;

use candle_core::{DType, Device, Result, Tensor};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

const TRAIN_STEPS: usize = 1000;
const BETA_START: f64 = 0.00085;
const BETA_END: f64 = 0.012;

/// Which sampler runs the denoising loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SchedulerKind {
    /// Deterministic DDIM (η = 0): SD 1.x and 2.x's usual choice.
    Ddim,
    /// Ancestral DDPM, the training-time sampler; needs many steps.
    Ddpm,
    /// Euler (k-diffusion), SDXL's default.
    Euler,
    /// Euler with fresh noise each step; what the Turbo models use.
    EulerAncestral,
    /// DPM-Solver++ second-order multistep: good pictures in ~20 steps.
    DpmSolver2m,
}

impl SchedulerKind {
    /// Every scheduler, for listings and tests.
    pub const ALL: [SchedulerKind; 5] = [
        Self::Ddim,
        Self::Ddpm,
        Self::Euler,
        Self::EulerAncestral,
        Self::DpmSolver2m,
    ];

    /// Name used on the command line and in configs.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ddim => "ddim",
            Self::Ddpm => "ddpm",
            Self::Euler => "euler",
            Self::EulerAncestral => "euler-ancestral",
            Self::DpmSolver2m => "dpm-solver-2m",
        }
    }
}

impl fmt::Display for SchedulerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SchedulerKind {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Self::ALL.iter().map(|k| k.name()).collect();
                format!(
                    "unknown scheduler {s:?}; choose one of {}",
                    names.join(", ")
                )
            })
    }
}

/// What the UNet predicts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prediction {
    /// The added noise (SD 1.x, SDXL, the Turbos).
    Epsilon,
    /// The velocity (SD 2.x 768).
    VPrediction,
}

/// How inference timesteps are picked from the 1000 training steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Spacing {
    /// `0, r, 2r, …` plus one, highest first (SD 1.x/2.x/SDXL configs).
    Leading,
    /// Counting down from the last step (Turbo models: one step is t = 999).
    Trailing,
}

/// One run's scheduler state.
#[derive(Debug)]
pub struct Scheduler {
    kind: SchedulerKind,
    prediction: Prediction,
    spacing: Spacing,
    timesteps: Vec<usize>,
    alphas_cumprod: Vec<f64>,
    /// k-diffusion σ per inference step, then 0.
    sigmas: Vec<f64>,
    previous_x0: Option<Tensor>,
    rng: ChaCha8Rng,
}

impl Scheduler {
    /// A scheduler for `steps` steps; `noise_seed` seeds the ancestral noise.
    pub fn new(
        kind: SchedulerKind,
        prediction: Prediction,
        spacing: Spacing,
        steps: usize,
        noise_seed: u64,
    ) -> Self {
        let steps = steps.clamp(1, TRAIN_STEPS);
        let ratio = TRAIN_STEPS / steps;
        let timesteps: Vec<usize> = match spacing {
            Spacing::Leading => (0..steps).rev().map(|i| i * ratio + 1).collect(),
            Spacing::Trailing => (0..steps)
                .map(|i| {
                    (TRAIN_STEPS as f64 - i as f64 * TRAIN_STEPS as f64 / steps as f64).round()
                        as usize
                        - 1
                })
                .collect(),
        };
        let (s0, s1) = (BETA_START.sqrt(), BETA_END.sqrt());
        let mut acc = 1.0;
        let alphas_cumprod: Vec<f64> = (0..TRAIN_STEPS)
            .map(|i| {
                let b = s0 + (s1 - s0) * i as f64 / (TRAIN_STEPS - 1) as f64;
                acc *= 1.0 - b * b;
                acc
            })
            .collect();
        let mut sigmas: Vec<f64> = timesteps
            .iter()
            .map(|&t| ((1.0 - alphas_cumprod[t]) / alphas_cumprod[t]).sqrt())
            .collect();
        sigmas.push(0.0);
        Self {
            kind,
            prediction,
            spacing,
            timesteps,
            alphas_cumprod,
            sigmas,
            previous_x0: None,
            rng: ChaCha8Rng::seed_from_u64(noise_seed),
        }
    }

    /// Timesteps the UNet sees, one per step.
    pub fn timesteps(&self) -> &[usize] {
        &self.timesteps
    }

    /// Which sampler this is.
    pub fn kind(&self) -> SchedulerKind {
        self.kind
    }

    fn is_karras_style(&self) -> bool {
        matches!(
            self.kind,
            SchedulerKind::Euler | SchedulerKind::EulerAncestral
        )
    }

    /// Standard deviation of the starting noise.
    pub fn init_noise_sigma(&self) -> f64 {
        if !self.is_karras_style() {
            return 1.0;
        }
        let s = self.sigmas[0];
        match self.spacing {
            Spacing::Trailing => s,
            Spacing::Leading => (s * s + 1.0).sqrt(),
        }
    }

    /// Scales the latents before the UNet sees them at step `i`.
    pub fn scale_model_input(&self, latents: &Tensor, i: usize) -> Result<Tensor> {
        if self.is_karras_style() {
            let s = self.sigmas[i];
            latents / (s * s + 1.0).sqrt()
        } else {
            Ok(latents.clone())
        }
    }

    fn alpha(&self, t: Option<usize>) -> f64 {
        t.map_or(1.0, |t| self.alphas_cumprod[t])
    }

    /// The timestep after step `i`, `None` past the end of the schedule.
    fn previous_timestep(&self, i: usize) -> Option<usize> {
        match self.spacing {
            Spacing::Leading => self.timesteps[i].checked_sub(TRAIN_STEPS / self.timesteps.len()),
            Spacing::Trailing => self.timesteps.get(i + 1).copied(),
        }
    }

    /// x₀ and ε from the model output in the VP (DDPM) parametrisation.
    fn vp_predictions(&self, out: &Tensor, x: &Tensor, a: f64) -> Result<(Tensor, Tensor)> {
        let (sa, sb) = (a.sqrt(), (1.0 - a).sqrt());
        match self.prediction {
            Prediction::Epsilon => Ok((((x - (out * sb)?)? / sa)?, out.clone())),
            Prediction::VPrediction => Ok((((x * sa)? - (out * sb)?)?, ((out * sa)? + (x * sb)?)?)),
        }
    }

    /// One denoising step from `x` at step `i` given the model's `out`.
    pub fn step(&mut self, i: usize, out: &Tensor, x: &Tensor) -> Result<Tensor> {
        let t = self.timesteps[i];
        match self.kind {
            SchedulerKind::Ddim => {
                let (a, a_prev) = (
                    self.alpha(Some(t)),
                    self.alpha(self.previous_timestep(i).or(Some(0))),
                );
                let (x0, eps) = self.vp_predictions(out, x, a)?;
                (x0 * a_prev.sqrt())? + (eps * (1.0 - a_prev).sqrt())?
            }
            SchedulerKind::Ddpm => {
                let prev = self.previous_timestep(i);
                let (a, a_prev) = (self.alpha(Some(t)), self.alpha(prev));
                let (x0, _) = self.vp_predictions(out, x, a)?;
                let alpha_t = a / a_prev;
                let beta_t = 1.0 - alpha_t;
                let c0 = a_prev.sqrt() * beta_t / (1.0 - a);
                let cx = alpha_t.sqrt() * (1.0 - a_prev) / (1.0 - a);
                let mean = ((x0 * c0)? + (x * cx)?)?;
                if t == 0 || prev.is_none() {
                    return Ok(mean);
                }
                let var = ((1.0 - a_prev) / (1.0 - a) * beta_t).max(1e-20);
                mean + (self.noise_like(x)? * var.sqrt())?
            }
            SchedulerKind::Euler | SchedulerKind::EulerAncestral => {
                let (s, s_next) = (self.sigmas[i], self.sigmas[i + 1]);
                let x0 = match self.prediction {
                    Prediction::Epsilon => (x - (out * s)?)?,
                    Prediction::VPrediction => {
                        ((out * (-s / (s * s + 1.0).sqrt()))? + (x / (s * s + 1.0))?)?
                    }
                };
                let d = ((x - x0)? / s)?;
                if self.kind == SchedulerKind::Euler {
                    return x + (d * (s_next - s))?;
                }
                let up = (s_next * s_next * (s * s - s_next * s_next) / (s * s))
                    .max(0.0)
                    .sqrt();
                let down = (s_next * s_next - up * up).max(0.0).sqrt();
                let x = (x + (d * (down - s))?)?;
                if up == 0.0 {
                    return Ok(x);
                }
                let noise = self.noise_like(&x)?;
                x + (noise * up)?
            }
            SchedulerKind::DpmSolver2m => {
                let last = i + 1 == self.timesteps.len();
                let a = self.alpha(Some(t));
                let (x0, _) = self.vp_predictions(out, x, a)?;
                let lambda = |a: f64| (a.sqrt() / (1.0 - a).sqrt()).ln();
                let next = if last {
                    None
                } else {
                    self.previous_timestep(i).or(Some(0))
                };
                let result = match next {
                    // The last step lands on σ = 0: the prediction itself.
                    None => x0.clone(),
                    Some(tn) => {
                        let an = self.alpha(Some(tn));
                        let h = lambda(an) - lambda(a);
                        let ratio = ((1.0 - an) / (1.0 - a)).sqrt();
                        let coef = an.sqrt() * ((-h).exp() - 1.0);
                        let d = match (&self.previous_x0, i) {
                            (Some(prev), i) if i > 0 => {
                                let h_prev =
                                    lambda(a) - lambda(self.alpha(Some(self.timesteps[i - 1])));
                                let r = h_prev / h;
                                let d1 = ((&x0 - prev)? / r)?;
                                (&x0 + (d1 * 0.5)?)?
                            }
                            _ => x0.clone(),
                        };
                        ((x * ratio)? - (d * coef)?)?
                    }
                };
                self.previous_x0 = Some(x0);
                Ok(result)
            }
        }
    }

    fn noise_like(&mut self, x: &Tensor) -> Result<Tensor> {
        gaussian(&mut self.rng, x.dims(), x.device(), x.dtype())
    }
}

/// Standard normal noise from `rng` (Box–Muller, f32), created on the host
/// so every device sees the same numbers for a seed.
pub fn gaussian(
    rng: &mut ChaCha8Rng,
    shape: &[usize],
    device: &Device,
    dtype: DType,
) -> Result<Tensor> {
    let n: usize = shape.iter().product();
    let mut v = Vec::with_capacity(n + 1);
    while v.len() < n {
        let u1: f64 = rng.random_range(f64::EPSILON..1.0);
        let u2: f64 = rng.random();
        let r = (-2.0 * u1.ln()).sqrt();
        let th = std::f64::consts::TAU * u2;
        v.push((r * th.cos()) as f32);
        v.push((r * th.sin()) as f32);
    }
    v.truncate(n);
    Tensor::from_vec(v, shape, device)?.to_dtype(dtype)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timesteps_follow_diffusers() {
        let s = Scheduler::new(
            SchedulerKind::Ddim,
            Prediction::Epsilon,
            Spacing::Leading,
            4,
            0,
        );
        assert_eq!(s.timesteps(), &[751, 501, 251, 1]);
        let s = Scheduler::new(
            SchedulerKind::EulerAncestral,
            Prediction::Epsilon,
            Spacing::Trailing,
            1,
            0,
        );
        assert_eq!(s.timesteps(), &[999]);
        let s = Scheduler::new(
            SchedulerKind::EulerAncestral,
            Prediction::Epsilon,
            Spacing::Trailing,
            4,
            0,
        );
        assert_eq!(s.timesteps(), &[999, 749, 499, 249]);
    }

    /// diffusers' EulerDiscreteScheduler (scaled_linear, trailing) at one
    /// step: σ₀ = 14.6146.
    #[test]
    fn euler_sigma_matches_diffusers() {
        let s = Scheduler::new(
            SchedulerKind::Euler,
            Prediction::Epsilon,
            Spacing::Trailing,
            1,
            0,
        );
        assert!(
            (s.init_noise_sigma() - 14.6146).abs() < 1e-3,
            "{}",
            s.init_noise_sigma()
        );
    }

    #[test]
    fn names_round_trip() {
        for k in SchedulerKind::ALL {
            assert_eq!(k.name().parse::<SchedulerKind>().unwrap(), k);
        }
        assert!(
            "pndm"
                .parse::<SchedulerKind>()
                .unwrap_err()
                .contains("ddim")
        );
    }

    /// Fed the true noise, every sampler recovers the clean sample.
    #[test]
    fn perfect_predictions_recover_the_sample() -> Result<()> {
        let dev = Device::Cpu;
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let x0 = gaussian(&mut rng, &[1, 4, 4, 4], &dev, DType::F32)?;
        for kind in [
            SchedulerKind::Ddim,
            SchedulerKind::Euler,
            SchedulerKind::DpmSolver2m,
        ] {
            let mut s = Scheduler::new(kind, Prediction::Epsilon, Spacing::Leading, 10, 0);
            let eps = gaussian(&mut rng, &[1, 4, 4, 4], &dev, DType::F32)?;
            let t0 = s.timesteps()[0];
            let a = s.alphas_cumprod[t0];
            // Each sampler's own starting point for x0 + noise at t0.
            let mut x = if s.is_karras_style() {
                (&x0 + (&eps * s.sigmas[0])?)?
            } else {
                ((&x0 * a.sqrt())? + (&eps * (1.0 - a).sqrt())?)?
            };
            let mut last_eps = eps;
            for i in 0..s.timesteps().len() {
                let t = s.timesteps()[i];
                // The exact noise for the current x.
                let eps = if s.is_karras_style() {
                    ((&x - &x0)? / s.sigmas[i])?
                } else {
                    let a = s.alphas_cumprod[t];
                    ((&x - (&x0 * a.sqrt())?)? / (1.0 - a).sqrt())?
                };
                x = s.step(i, &eps, &x)?;
                last_eps = eps;
            }
            // DDIM ends at t = 0, which still holds a trace of noise.
            let a_end = s.alphas_cumprod[0];
            let target = if kind == SchedulerKind::Ddim {
                ((&x0 * a_end.sqrt())? + (&last_eps * (1.0 - a_end).sqrt())?)?
            } else {
                x0.clone()
            };
            let err = (x - target)?.abs()?.max_all()?.to_scalar::<f32>()?;
            assert!(err < 0.05, "{kind}: {err}");
        }
        Ok(())
    }
}
