//! Fused CPU kernels for the operations where candle's generic ops cost
//! the most on a CPU: softmax (a scalar `expf` per score: ~1.3 billion
//! per SD 1.5 step at 512²), GroupNorm with its SiLU (ten passes over
//! memory as separate ops, one here) and GEGLU (a scalar `erf` per
//! element). Each runs over rows in parallel (rayon) with the loop body
//! compiled for the best instruction set the CPU has (pulp picks AVX-512,
//! AVX2 or plain code at run time), using polynomial `exp`/`erf`
//! approximations accurate to a few ulps of f32.
//!
//! They apply to contiguous f32 tensors on the CPU; everything else takes
//! candle's ops, so GPUs are unaffected.
//!
//! One file per kernel: `softmax`, `geglu`, `group_norm`, `attention`
//! (unmasked attention in cache-sized blocks), `conv3x3` (a direct 3×3
//! convolution), `im2col` (the unfolding other convolutions multiply) and
//! `matmul` (products against weights where they lie).
//! This file holds what they share: the `exp`/`erf` approximations, the
//! lane-wise reductions, the rows per rayon task and the CPU checks.

pub(crate) mod amx;
mod attention;
mod conv3x3;
mod geglu;
mod group_norm;
mod im2col;
mod matmul;
mod matrix;
pub(crate) mod memory;
mod softmax;

pub(crate) use attention::attention;
pub(crate) use conv3x3::{Conv3x3, pack_conv3x3};
pub(crate) use geglu::geglu;
pub(crate) use group_norm::GroupNormOp;
pub(crate) use im2col::Im2Col;
pub(crate) use matmul::{ConvAmx, Linear, WeightTimes};
pub(crate) use matrix::Matrix;
pub(crate) use softmax::softmax_last_dim_in_place;

use candle_core::{CpuStorage, DType, Layout, Result, Tensor};

/// Whether the fused kernels can run on `t`.
pub(crate) fn applies(t: &Tensor) -> bool {
    t.device().is_cpu() && t.dtype() == DType::F32
}

fn contiguous<'a>(storage: &'a CpuStorage, layout: &Layout, op: &str) -> Result<&'a [f32]> {
    let CpuStorage::F32(data) = storage else {
        candle_core::bail!("{op} needs f32")
    };
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&data[start..end]),
        None => candle_core::bail!("{op} needs a contiguous tensor"),
    }
}

/// e^x for f32, branch-free so it vectorises: range reduction to
/// x = n·ln2 + r with |r| ≤ ln2/2, a degree-6 polynomial for e^r, and 2^n
/// assembled in the exponent bits. Relative error below 2e-7; inputs under
/// -87 give (almost) 0, which is what masked scores need.
#[inline(always)]
pub(crate) fn exp(x: f32) -> f32 {
    // Plain multiplies and adds: `mul_add` and `round` become library
    // calls where the build's baseline CPU lacks the instruction.
    const ROUND: f32 = 12_582_912.0; // 1.5 × 2²³: adding it rounds to an integer
    let x = x.clamp(-87.0, 88.0);
    let t = x * std::f32::consts::LOG2_E + ROUND;
    let n = t - ROUND;
    let r = x - n * 0.693_145_75 - n * 1.428_606_8e-6;
    let p: f32 = 1.0 / 720.0;
    let p = p * r + 1.0 / 120.0;
    let p = p * r + 1.0 / 24.0;
    let p = p * r + 1.0 / 6.0;
    let p = p * r + 0.5;
    let p = p * r + 1.0;
    let p = p * r + 1.0;
    // n sits in the low mantissa bits of t: 2^n without a float→int
    // conversion, which would keep this loop from vectorising.
    let biased = t.to_bits().wrapping_sub(ROUND.to_bits()).wrapping_add(127);
    p * f32::from_bits(biased << 23)
}

/// erf(x) by Abramowitz & Stegun 7.1.26 (absolute error < 1.5e-7).
#[inline(always)]
fn erf(x: f32) -> f32 {
    let a = x.abs();
    let t = 1.0 / (0.327_591_1 * a + 1.0);
    let p = 1.061_405_4f32;
    let p = p * t - 1.453_152_1;
    let p = p * t + 1.421_413_8;
    let p = p * t - 0.284_496_72;
    let p = p * t + 0.254_829_6;
    let y = 1.0 - p * t * exp(-a * a);
    y.copysign(x)
}

/// Lanes of independent partial results: floating-point reductions only
/// vectorise when written this way (the compiler may not reorder a single
/// running sum).
const LANES: usize = 16;

#[inline(always)]
fn lanes_max(x: &[f32]) -> f32 {
    let mut m = [f32::NEG_INFINITY; LANES];
    let chunks = x.chunks_exact(LANES);
    let rest = chunks.remainder();
    for c in chunks {
        for j in 0..LANES {
            m[j] = if c[j] > m[j] { c[j] } else { m[j] };
        }
    }
    let m = m
        .iter()
        .fold(f32::NEG_INFINITY, |a, &b| if b > a { b } else { a });
    rest.iter().fold(m, |a, &b| if b > a { b } else { a })
}

#[inline(always)]
fn lanes_sum(x: &[f32]) -> f32 {
    let mut s = [0f32; LANES];
    let chunks = x.chunks_exact(LANES);
    let rest = chunks.remainder();
    for c in chunks {
        for j in 0..LANES {
            s[j] += c[j];
        }
    }
    s.iter().sum::<f32>() + rest.iter().sum::<f32>()
}

/// Rows handed to one rayon task: enough work to amortise the dispatch.
fn rows_per_task(row_len: usize) -> usize {
    (16384 / row_len.max(1)).max(1)
}

/// Whether 16 f32 lanes fit a vector register (AVX-512).
fn wide_simd() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    use candle_core::Tensor;

    use super::*;

    pub(super) fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
        (a - b)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap()
    }

    #[test]
    fn exp_and_erf_are_accurate() {
        for i in -2000..=2000 {
            let x = i as f32 / 25.0;
            let rel = (exp(x) - x.exp()).abs() / x.exp().max(f32::MIN_POSITIVE);
            assert!(rel < 1e-6, "exp({x}): {} vs {}", exp(x), x.exp());
        }
        assert_eq!(exp(f32::NEG_INFINITY), exp(-87.0));
        assert!(exp(-1e30) < 1e-37);
        for i in -400..=400 {
            let x = i as f32 / 100.0;
            let want = libm_erf(x as f64);
            assert!((erf(x) as f64 - want).abs() < 3e-7, "erf({x})");
        }
    }

    /// erf by its Taylor series (exact enough in f64 for |x| ≤ 4 with many terms).
    fn libm_erf(x: f64) -> f64 {
        if x.abs() > 3.5 {
            return x.signum() * (1.0 - (-x * x).exp() / (x.abs() * std::f64::consts::PI.sqrt()));
        }
        let mut sum = 0.0;
        let mut term = x;
        for n in 0..200 {
            sum += term / (2 * n + 1) as f64;
            term *= -x * x / (n + 1) as f64;
        }
        sum * 2.0 / std::f64::consts::PI.sqrt()
    }
}
