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

use candle_core::{CpuStorage, CustomOp1, DType, InplaceOp1, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

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
    let n = (x * std::f32::consts::LOG2_E + ROUND) - ROUND;
    let r = x - n * 0.693_145_75 - n * 1.428_606_8e-6;
    let p: f32 = 1.0 / 720.0;
    let p = p * r + 1.0 / 120.0;
    let p = p * r + 1.0 / 24.0;
    let p = p * r + 1.0 / 6.0;
    let p = p * r + 0.5;
    let p = p * r + 1.0;
    let p = p * r + 1.0;
    p * f32::from_bits(((n as i32 + 127) << 23) as u32)
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

#[inline(always)]
fn silu(x: f32) -> f32 {
    x / (1.0 + exp(-x))
}

#[inline(always)]
fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
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

/// Sum and sum of squares in f64 lanes: exact enough for the variance of
/// a million activations.
#[inline(always)]
fn lanes_moments(x: &[f32]) -> (f64, f64) {
    let mut s = [0f64; 8];
    let mut s2 = [0f64; 8];
    let chunks = x.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for j in 0..8 {
            let v = c[j] as f64;
            s[j] += v;
            s2[j] += v * v;
        }
    }
    let (mut a, mut b) = (s.iter().sum::<f64>(), s2.iter().sum::<f64>());
    for &v in rest {
        a += v as f64;
        b += (v as f64) * (v as f64);
    }
    (a, b)
}

/// Rows handed to one rayon task: enough work to amortise the dispatch.
fn rows_per_task(row_len: usize) -> usize {
    (16384 / row_len.max(1)).max(1)
}

/// Softmax over the last dimension, in place: scores are written once by
/// the matrix product and normalised where they lie, with each row hot in
/// L1 for its three passes.
struct Softmax;

impl InplaceOp1 for Softmax {
    fn name(&self) -> &'static str {
        "spotifyart-softmax"
    }

    fn cpu_fwd(&self, storage: &mut CpuStorage, layout: &Layout) -> Result<()> {
        let CpuStorage::F32(data) = storage else {
            candle_core::bail!("softmax needs f32")
        };
        let Some((start, end)) = layout.contiguous_offsets() else {
            candle_core::bail!("softmax needs a contiguous tensor")
        };
        let n = layout.shape().dims().last().copied().unwrap_or(1).max(1);
        let rows = rows_per_task(n) * n;
        data[start..end].par_chunks_mut(rows).for_each(|block| {
            pulp::Arch::new().dispatch(|| {
                for row in block.chunks_exact_mut(n) {
                    let max = lanes_max(row);
                    for v in row.iter_mut() {
                        *v = exp(*v - max);
                    }
                    let inv = 1.0 / lanes_sum(row);
                    for v in row.iter_mut() {
                        *v *= inv;
                    }
                }
            })
        });
        Ok(())
    }
}

/// Softmax over the last dimension of `t`, overwriting it. `t` must be a
/// contiguous CPU f32 tensor that nothing else holds (a fresh product).
pub(crate) fn softmax_last_dim_in_place(t: &Tensor) -> Result<()> {
    t.inplace_op1(&Softmax)
}

/// `a · gelu(b)` where the last dimension holds `[a, b]` (GEGLU).
struct Geglu;

impl CustomOp1 for Geglu {
    fn name(&self) -> &'static str {
        "spotifyart-geglu"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let src = contiguous(storage, layout, self.name())?;
        let dims = layout.shape().dims();
        let n = dims.last().copied().unwrap_or(0);
        if !n.is_multiple_of(2) {
            candle_core::bail!("GEGLU needs an even last dimension, got {n}")
        }
        let half = n / 2;
        let mut dst = vec![0f32; src.len() / 2];
        let rows = rows_per_task(n);
        dst.par_chunks_mut(rows * half)
            .zip(src.par_chunks(rows * n))
            .for_each(|(out, inp)| {
                pulp::Arch::new().dispatch(|| {
                    for (o, x) in out.chunks_exact_mut(half).zip(inp.chunks_exact(n)) {
                        let (a, g) = x.split_at(half);
                        for ((o, &a), &g) in o.iter_mut().zip(a).zip(g) {
                            *o = a * gelu(g);
                        }
                    }
                })
            });
        let mut out_dims = dims.to_vec();
        if let Some(last) = out_dims.last_mut() {
            *last = half;
        }
        Ok((CpuStorage::F32(dst), Shape::from(out_dims)))
    }
}

/// GEGLU on a contiguous CPU f32 tensor.
pub(crate) fn geglu(t: &Tensor) -> Result<Tensor> {
    t.contiguous()?.apply_op1_no_bwd(&Geglu)
}

/// GroupNorm over `(batch, channels, …)` with an affine transform and an
/// optional SiLU, in one pass for the statistics and one for the output.
pub(crate) struct GroupNormOp<'a> {
    pub groups: usize,
    pub eps: f32,
    pub gamma: &'a [f32],
    pub beta: &'a [f32],
    pub silu: bool,
}

impl CustomOp1 for GroupNormOp<'_> {
    fn name(&self) -> &'static str {
        "spotifyart-group-norm"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let src = contiguous(storage, layout, self.name())?;
        let dims = layout.shape().dims();
        let c = *dims.get(1).unwrap_or(&0);
        if dims.len() < 2
            || !c.is_multiple_of(self.groups)
            || self.gamma.len() != c
            || self.beta.len() != c
        {
            candle_core::bail!("group norm: bad shape {dims:?} for {} groups", self.groups)
        }
        let spatial: usize = dims[2..].iter().product();
        let cpg = c / self.groups;
        let group_len = cpg * spatial;
        let mut dst = vec![0f32; src.len()];
        dst.par_chunks_mut(group_len)
            .zip(src.par_chunks(group_len))
            .enumerate()
            .for_each(|(i, (out, x))| {
                let g = i % self.groups;
                pulp::Arch::new().dispatch(|| {
                    let (s, s2) = lanes_moments(x);
                    let len = group_len as f64;
                    let mean = s / len;
                    let var = (s2 / len - mean * mean).max(0.0);
                    let inv = 1.0 / (var + self.eps as f64).sqrt();
                    for ch in 0..cpg {
                        let k = g * cpg + ch;
                        let scale = self.gamma[k] * inv as f32;
                        let shift = self.beta[k] - mean as f32 * scale;
                        let range = ch * spatial..(ch + 1) * spatial;
                        let (o, x) = (&mut out[range.clone()], &x[range]);
                        if self.silu {
                            for (o, &v) in o.iter_mut().zip(x) {
                                *o = silu(v * scale + shift);
                            }
                        } else {
                            for (o, &v) in o.iter_mut().zip(x) {
                                *o = v * scale + shift;
                            }
                        }
                    }
                })
            });
        Ok((CpuStorage::F32(dst), layout.shape().clone()))
    }
}

/// Unfolds `(batch, channels, h, w)` into the columns a convolution
/// multiplies: `(batch, channels·k·k, out_h·out_w)`, rows ordered as
/// PyTorch lays out conv weights (channel, then kernel row, then column),
/// so `weight.reshape(c_out, -1)` multiplies it directly with no weight
/// re-layout. Each row is a shifted copy of one input plane, written
/// sequentially.
#[derive(Clone)]
pub(crate) struct Im2Col {
    pub kernel: usize,
    pub stride: usize,
    pub padding: usize,
    /// Output rows to unfold (a band of the image), so large images are
    /// convolved a cache-sized band at a time.
    pub rows: std::ops::Range<usize>,
    /// Appends a row of ones, so a bias stored as the weights' last
    /// column is added by the matrix product itself.
    pub ones: bool,
}

impl Im2Col {
    pub(crate) fn out_size(&self, h: usize, w: usize) -> (usize, usize) {
        let k = self.kernel;
        (
            (h + 2 * self.padding - k) / self.stride + 1,
            (w + 2 * self.padding - k) / self.stride + 1,
        )
    }
}

impl CustomOp1 for Im2Col {
    fn name(&self) -> &'static str {
        "spotifyart-im2col"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let src = contiguous(storage, layout, self.name())?;
        let (b, c, h, w) = layout.shape().dims4()?;
        let (k, s, pad) = (self.kernel, self.stride, self.padding);
        let (full_h, ow) = self.out_size(h, w);
        let band = self.rows.start.min(full_h)..self.rows.end.min(full_h);
        let oh = band.len();
        let plane = oh * ow;
        let rows_out = c * k * k + usize::from(self.ones);
        let mut dst = vec![0f32; b * rows_out * plane];
        for (bi, batch) in dst.chunks_mut(rows_out * plane).enumerate() {
            let (body, ones) = batch.split_at_mut(c * k * k * plane);
            ones.fill(1.0);
            // One task per input channel: k·k output rows each.
            body.par_chunks_mut(k * k * plane)
                .enumerate()
                .for_each(|(ci, rows)| {
                    let bc = bi * c + ci;
                    let input = &src[bc * h * w..(bc + 1) * h * w];
                    for ky in 0..k {
                        for kx in 0..k {
                            let row = &mut rows[(ky * k + kx) * plane..(ky * k + kx + 1) * plane];
                            // Output columns whose input column is inside the image.
                            let x_lo = pad.saturating_sub(kx).div_ceil(s);
                            let x_hi = ((w + pad).saturating_sub(kx)).div_ceil(s).min(ow);
                            for oy in 0..oh {
                                let iy = ((band.start + oy) * s + ky) as isize - pad as isize;
                                if iy < 0 || iy >= h as isize || x_lo >= x_hi {
                                    continue;
                                }
                                let in_row = &input[iy as usize * w..(iy as usize + 1) * w];
                                let out = &mut row[oy * ow + x_lo..oy * ow + x_hi];
                                let ix0 = x_lo * s + kx - pad;
                                if s == 1 {
                                    out.copy_from_slice(&in_row[ix0..ix0 + out.len()]);
                                } else {
                                    for (j, o) in out.iter_mut().enumerate() {
                                        *o = in_row[ix0 + j * s];
                                    }
                                }
                            }
                        }
                    }
                });
        }
        Ok((CpuStorage::F32(dst), Shape::from((b, rows_out, plane))))
    }
}

#[cfg(test)]
mod tests {
    use candle_core::{Device, Tensor};

    use super::*;

    fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
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

    #[test]
    fn fused_ops_match_candles() -> Result<()> {
        let dev = Device::Cpu;
        let x = (Tensor::randn(0f32, 3., (3, 5, 1000), &dev)? - 1.0)?;
        let theirs = candle_nn::ops::softmax_last_dim(&x)?;
        let ours = x.copy()?;
        softmax_last_dim_in_place(&ours)?;
        assert!(max_diff(&ours, &theirs) < 1e-6);

        let g = Tensor::randn(0f32, 2., (2, 7, 64), &dev)?;
        let ours = geglu(&g)?;
        let parts = g.chunk(2, 2)?;
        let theirs = (&parts[0] * parts[1].gelu_erf()?)?;
        assert!(
            max_diff(&ours, &theirs) < 1e-5,
            "{}",
            max_diff(&ours, &theirs)
        );

        let x = (Tensor::randn(0f32, 2., (2, 12, 5, 7), &dev)? + 0.5)?;
        let gamma: Vec<f32> = (0..12).map(|i| 0.5 + i as f32 / 10.0).collect();
        let beta: Vec<f32> = (0..12).map(|i| i as f32 / 20.0 - 0.3).collect();
        let gn = candle_nn::GroupNorm::new(
            Tensor::new(gamma.as_slice(), &dev)?,
            Tensor::new(beta.as_slice(), &dev)?,
            12,
            4,
            1e-6,
        )?;
        for silu in [false, true] {
            let op = GroupNormOp {
                groups: 4,
                eps: 1e-6,
                gamma: &gamma,
                beta: &beta,
                silu,
            };
            let ours = x.apply_op1_no_bwd(&op)?;
            let mut theirs = candle_core::Module::forward(&gn, &x)?;
            if silu {
                theirs = candle_nn::ops::silu(&theirs)?;
            }
            assert!(
                max_diff(&ours, &theirs) < 1e-5,
                "silu {silu}: {}",
                max_diff(&ours, &theirs)
            );
        }
        Ok(())
    }

    #[test]
    fn im2col_convolution_matches_candles() -> Result<()> {
        let dev = Device::Cpu;
        for (h, w, k, s, p) in [
            (9, 7, 3, 1, 1),
            (8, 10, 3, 2, 1),
            (5, 6, 1, 1, 0),
            (7, 7, 3, 2, 0),
        ] {
            let x = Tensor::randn(0f32, 1., (2, 3, h, w), &dev)?;
            let wt = Tensor::randn(0f32, 1., (4, 3, k, k), &dev)?;
            let theirs = x.conv2d(&wt, p, s, 1, 1)?;
            let whole = Im2Col {
                kernel: k,
                stride: s,
                padding: p,
                rows: 0..usize::MAX,
                ones: false,
            };
            let (oh, ow) = whole.out_size(h, w);
            // Whole, and in bands of 2 output rows.
            for band in [oh, 2] {
                let mut parts = Vec::new();
                for start in (0..oh).step_by(band) {
                    let op = Im2Col {
                        rows: start..start + band,
                        ..whole.clone()
                    };
                    let cols = x.apply_op1_no_bwd(&op)?;
                    let n = cols.dim(2)? / ow;
                    let part = wt.reshape((4, ()))?.broadcast_matmul(&cols)?;
                    parts.push(part.reshape((2, 4, n, ow))?);
                }
                let ours = Tensor::cat(&parts, 2)?;
                let d = max_diff(&ours, &theirs);
                assert!(d < 1e-4, "{h}x{w} k{k} s{s} p{p} band {band}: {d}");
            }
            // A bias as the weights' last column, against a row of ones.
            let bias = Tensor::randn(0f32, 1., (4, 1), &dev)?;
            let with_bias = Tensor::cat(&[&wt.reshape((4, ()))?, &bias], 1)?;
            let op = Im2Col {
                ones: true,
                ..whole.clone()
            };
            let ours = with_bias
                .broadcast_matmul(&x.apply_op1_no_bwd(&op)?)?
                .reshape((2, 4, oh, ow))?;
            let want = theirs.broadcast_add(&bias.reshape((1, 4, 1, 1))?)?;
            assert!(max_diff(&ours, &want) < 1e-4, "bias {h}x{w} k{k} s{s} p{p}");
        }
        Ok(())
    }
}
