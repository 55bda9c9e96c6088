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

use std::cell::RefCell;

use candle_core::{
    CpuStorage, CustomOp1, CustomOp3, DType, InplaceOp1, Layout, Result, Shape, Tensor,
};
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

/// Unmasked attention over `(heads, tokens, head_dim)` CPU f32 tensors
/// (see [`Attention`]).
pub(crate) fn attention(q: &Tensor, k: &Tensor, v: &Tensor, scale: f32) -> Result<Tensor> {
    q.contiguous()?
        .apply_op3_no_bwd(&k.contiguous()?, &v.contiguous()?, &Attention { scale })
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

/// Scaled dot-product attention over `(heads, tokens, head_dim)` f32
/// tensors without a mask, in blocks of queries that stay in the core's
/// L2: for each block, the scores against every key, their softmax and
/// the product with the values are computed one after another on the
/// same few hundred kilobytes, one rayon task per block. Calling candle's
/// matmul per slice instead spent most of its time packing operands and
/// waking threads for products with an inner dimension of 40 (SD 1.5's
/// head size), and wrote the scores out to memory between the steps.
pub(crate) struct Attention {
    pub scale: f32,
}

/// Scores per query block (`rows × keys`), in elements: 512 KiB.
const SCORE_BLOCK: usize = 128 << 10;

thread_local! {
    /// Per-thread scratch for one query block (queries, scores, output),
    /// reused so a step does not fault in fresh pages for each block.
    static SCRATCH: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

impl CustomOp3 for Attention {
    fn name(&self) -> &'static str {
        "spotifyart-attention"
    }

    fn cpu_fwd(
        &self,
        q: &CpuStorage,
        ql: &Layout,
        k: &CpuStorage,
        kl: &Layout,
        v: &CpuStorage,
        vl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (q, k, v) = (
            contiguous(q, ql, self.name())?,
            contiguous(k, kl, self.name())?,
            contiguous(v, vl, self.name())?,
        );
        let (bh, n, d) = ql.shape().dims3()?;
        let (kbh, m, kd) = kl.shape().dims3()?;
        if (kbh, kd) != (bh, d) || vl.shape().dims3()? != (bh, m, d) || m == 0 {
            candle_core::bail!(
                "attention: queries {:?}, keys {:?}, values {:?}",
                ql.shape(),
                kl.shape(),
                vl.shape()
            )
        }
        let out = if wide_simd() {
            attend::<16>(q, k, v, (bh, n, m, d), self.scale)
        } else {
            attend::<8>(q, k, v, (bh, n, m, d), self.scale)
        };
        Ok((CpuStorage::F32(out), Shape::from((bh, n, d))))
    }
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

/// Attention with `W`-lane register tiles: `(heads·n·d)` queries against
/// `(heads·m·d)` keys and values.
fn attend<const W: usize>(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    (bh, n, m, d): (usize, usize, usize, usize),
    scale: f32,
) -> Vec<f32> {
    // Keys transposed (and scaled) so a tile of scores is a row of
    // vectors, packed in strips of 2W keys so a strip is contiguous (rows
    // a power of two apart would share L1 sets and evict each other);
    // both operands padded to whole tiles with zeros.
    let mp = m.next_multiple_of(2 * W);
    let dp = d.next_multiple_of(W);
    let mut kt = vec![0f32; bh * d * mp];
    kt.par_chunks_mut(d * mp)
        .zip(k.par_chunks(m * d))
        .for_each(|(kt, k)| {
            for (j, key) in k.chunks_exact(d).enumerate() {
                let (strip, c) = (j / (2 * W), j % (2 * W));
                for (p, &x) in key.iter().enumerate() {
                    kt[(strip * d + p) * 2 * W + c] = x * scale;
                }
            }
        });
    let mut vp = vec![0f32; bh * m * dp];
    vp.par_chunks_mut(m * dp)
        .zip(v.par_chunks(m * d))
        .for_each(|(vp, v)| {
            for (dst, src) in vp.chunks_exact_mut(dp).zip(v.chunks_exact(d)) {
                dst[..d].copy_from_slice(src);
            }
        });
    // Query rows per block: a multiple of 8 (the tiles' height).
    let block = (SCORE_BLOCK / mp).clamp(8, 256) / 8 * 8;
    let mut out = vec![0f32; bh * n * d];
    out.par_chunks_mut(n * d)
        .enumerate()
        .flat_map(|(h, head)| {
            head.par_chunks_mut(block * d)
                .enumerate()
                .map(move |(b, o)| (h, b * block, o))
        })
        .for_each(|(h, r0, o)| {
            let rows = o.len() / d;
            let rp = rows.next_multiple_of(8);
            let kt = &kt[h * d * mp..(h + 1) * d * mp];
            let vp = &vp[h * m * dp..(h + 1) * m * dp];
            let q = &q[(h * n + r0) * d..(h * n + r0 + rows) * d];
            SCRATCH.with_borrow_mut(|scratch| {
                let need = d * rp + rp * mp + rp * dp + rp;
                if scratch.len() < need {
                    scratch.resize(need, 0.0);
                }
                let (qt, rest) = scratch.split_at_mut(d * rp);
                let (scores, rest) = rest.split_at_mut(rp * mp);
                let (acc, inv) = rest.split_at_mut(rp * dp);
                pulp::Arch::new().dispatch(Block::<W> {
                    q,
                    kt,
                    vp,
                    o,
                    qt,
                    scores,
                    acc,
                    inv,
                    m,
                    d,
                });
            });
        });
    out
}

/// One query block of [`attend`], as a pulp kernel so that its body
/// (not only pulp's own intrinsics) is compiled for the detected CPU
/// features: a closure passed to `dispatch` is not reliably inlined into
/// the feature-enabled function, and `mul_add` then becomes a libm call.
struct Block<'a, const W: usize> {
    q: &'a [f32],
    kt: &'a [f32],
    vp: &'a [f32],
    o: &'a mut [f32],
    qt: &'a mut [f32],
    scores: &'a mut [f32],
    acc: &'a mut [f32],
    inv: &'a mut [f32],
    m: usize,
    d: usize,
}

impl<const W: usize> pulp::WithSimd for Block<'_, W> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) {
        let Self {
            q,
            kt,
            vp,
            o,
            qt,
            scores,
            acc,
            inv,
            m,
            d,
        } = self;
        let rp = qt.len() / d;
        let mp = scores.len() / rp;
        let dp = acc.len() / rp;
        // Queries transposed, padding rows zero.
        qt.fill(0.0);
        for (i, query) in q.chunks_exact(d).enumerate() {
            for (p, &x) in query.iter().enumerate() {
                qt[p * rp + i] = x;
            }
        }
        scores_tile::<W>(qt, kt, scores, rp, d, mp);
        let inv = &mut inv[..rp];
        for (row, inv) in scores.chunks_exact_mut(mp).zip(inv.iter_mut()) {
            let row = &mut row[..m];
            let max = lanes_max(row);
            for x in row.iter_mut() {
                *x = exp(*x - max);
            }
            *inv = 1.0 / lanes_sum(row);
        }
        // Keys in chunks that stay in L1 (values and probabilities) while
        // every row tile of the block accumulates over them.
        let chunk = (KEY_CHUNK_BYTES / (4 * dp)).max(8);
        for j0 in (0..m).step_by(chunk) {
            let keys = j0..(j0 + chunk).min(m);
            for (t, out) in acc.chunks_exact_mut(4 * dp).enumerate() {
                values_tile::<W>(&scores[t * 4 * mp..], vp, out, keys.clone(), mp, dp);
            }
        }
        for (i, (o, acc_row)) in o.chunks_exact_mut(d).zip(acc.chunks_exact(dp)).enumerate() {
            for (o, &a) in o.iter_mut().zip(acc_row) {
                *o = a * inv[i];
            }
        }
    }
}

/// `scores (rp × mp) = qt.T · kt` for `qt (d × rp)`, `kt (d × mp)` packed
/// in strips of 2W columns, in
/// tiles of 4 rows × 2W columns held in registers over the `d` products.
#[inline(always)]
fn scores_tile<const W: usize>(
    qt: &[f32],
    kt: &[f32],
    scores: &mut [f32],
    rp: usize,
    d: usize,
    mp: usize,
) {
    // Column strips outer: a strip of keys (d × 2W) stays in L1 while
    // every row group of the block passes over it. (The compiler keeps
    // this form in registers; variations with 8 rows, or iterating the
    // strip by chunks, measured 6x slower as it stopped doing so.)
    for j0 in (0..mp).step_by(2 * W) {
        for i0 in (0..rp).step_by(4) {
            let mut acc = [[[0f32; W]; 2]; 4];
            for p in 0..d {
                let Some(qs) = qt[p * rp + i0..].first_chunk::<4>() else {
                    return;
                };
                let row = &kt[(j0 * d + p * 2 * W)..];
                let (Some(k0), Some(k1)) = (row.first_chunk::<W>(), row[W..].first_chunk::<W>())
                else {
                    return;
                };
                for r in 0..4 {
                    for c in 0..W {
                        acc[r][0][c] = qs[r].mul_add(k0[c], acc[r][0][c]);
                        acc[r][1][c] = qs[r].mul_add(k1[c], acc[r][1][c]);
                    }
                }
            }
            for (r, acc) in acc.iter().enumerate() {
                let dst = &mut scores[(i0 + r) * mp + j0..(i0 + r) * mp + j0 + 2 * W];
                dst[..W].copy_from_slice(&acc[0]);
                dst[W..].copy_from_slice(&acc[1]);
            }
        }
    }
}

/// Bytes of values per key chunk of the value product.
const KEY_CHUNK_BYTES: usize = 24 << 10;

/// `out (4 × dp) += p[:, keys] (4 rows, mp apart) · vp[keys, :]` (`out`
/// is overwritten for the first chunk), in column chunks of up to four
/// W-lane vectors (two on narrower SIMD, to stay in registers), each
/// chunk's accumulators held in registers over the keys.
#[inline(always)]
fn values_tile<const W: usize>(
    p: &[f32],
    vp: &[f32],
    out: &mut [f32],
    keys: std::ops::Range<usize>,
    mp: usize,
    dp: usize,
) {
    let widest = if W >= 16 { 4 } else { 2 };
    let mut c0 = 0;
    while c0 < dp {
        let c = ((dp - c0) / W).clamp(1, widest);
        match c {
            4 => values_chunk::<W, 4>(p, vp, out, keys.clone(), mp, dp, c0),
            3 => values_chunk::<W, 3>(p, vp, out, keys.clone(), mp, dp, c0),
            2 => values_chunk::<W, 2>(p, vp, out, keys.clone(), mp, dp, c0),
            _ => values_chunk::<W, 1>(p, vp, out, keys.clone(), mp, dp, c0),
        }
        c0 += c * W;
    }
}

#[inline(always)]
fn values_chunk<const W: usize, const C: usize>(
    p: &[f32],
    vp: &[f32],
    out: &mut [f32],
    keys: std::ops::Range<usize>,
    mp: usize,
    dp: usize,
    c0: usize,
) {
    let (j0, n) = (keys.start, keys.len());
    let (p0, p1, p2, p3) = (
        &p[j0..j0 + n],
        &p[mp + j0..mp + j0 + n],
        &p[2 * mp + j0..2 * mp + j0 + n],
        &p[3 * mp + j0..3 * mp + j0 + n],
    );
    let mut acc = [[[0f32; W]; C]; 4];
    if j0 > 0 {
        for (r, acc) in acc.iter_mut().enumerate() {
            for (c, acc) in acc.iter_mut().enumerate() {
                let at = r * dp + c0 + c * W;
                acc.copy_from_slice(&out[at..at + W]);
            }
        }
    }
    for (j, vrow) in vp[j0 * dp..].chunks_exact(dp).take(n).enumerate() {
        let x = [p0[j], p1[j], p2[j], p3[j]];
        let mut v = [[0f32; W]; C];
        for (c, v) in v.iter_mut().enumerate() {
            let Some(vs) = vrow[c0 + c * W..].first_chunk::<W>() else {
                return;
            };
            *v = *vs;
        }
        for r in 0..4 {
            for c in 0..C {
                for l in 0..W {
                    acc[r][c][l] = x[r].mul_add(v[c][l], acc[r][c][l]);
                }
            }
        }
    }
    for (r, acc) in acc.iter().enumerate() {
        for (c, acc) in acc.iter().enumerate() {
            let at = r * dp + c0 + c * W;
            out[at..at + W].copy_from_slice(acc);
        }
    }
}

/// Output channels per register tile of [`Conv3x3`].
pub(crate) const CONV_CO: usize = 4;

/// 3×3 weights `(cout, cin, 3, 3)` in the order [`Conv3x3`] reads them:
/// blocks of [`CONV_CO`] output channels, then input channel, kernel row,
/// kernel column, and the block's channels innermost (padded with zeros).
pub(crate) fn pack_conv3x3(weight: &[f32], cout: usize, cin: usize) -> Vec<f32> {
    let blocks = cout.div_ceil(CONV_CO);
    let mut packed = vec![0f32; blocks * cin * 9 * CONV_CO];
    for co in 0..cout {
        let (blk, c) = (co / CONV_CO, co % CONV_CO);
        for ci in 0..cin {
            for k in 0..9 {
                packed[((blk * cin + ci) * 9 + k) * CONV_CO + c] = weight[(co * cin + ci) * 9 + k];
            }
        }
    }
    packed
}

/// A direct 3×3 convolution (stride 1, padding 1) over `(batch, cin, h,
/// w)` f32: each task computes [`CONV_CO`] output channels of one output
/// row, tiles of `CONV_CO` × 64 outputs held in registers over every input
/// channel and kernel tap, reading the zero-padded input in place. Unlike
/// unfolding, nothing 9× the input's size is written, and no operand is
/// packed per call; the decoders' full-resolution layers are this shape.
pub(crate) struct Conv3x3<'a> {
    pub packed: &'a [f32],
    pub bias: &'a [f32],
    pub cout: usize,
}

impl CustomOp1 for Conv3x3<'_> {
    fn name(&self) -> &'static str {
        "spotifyart-conv3x3"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let src = contiguous(storage, layout, self.name())?;
        let (b, cin, h, w) = layout.shape().dims4()?;
        let blocks = self.cout.div_ceil(CONV_CO);
        if self.packed.len() != blocks * cin * 9 * CONV_CO || self.bias.len() != self.cout {
            candle_core::bail!("conv3x3: weights do not fit {cin} → {} channels", self.cout)
        }
        let out = if wide_simd() {
            conv3x3::<16>(src, self, (b, cin, h, w))
        } else {
            conv3x3::<8>(src, self, (b, cin, h, w))
        };
        Ok((CpuStorage::F32(out), Shape::from((b, self.cout, h, w))))
    }
}

/// Input bytes per band of rows of [`Conv3x3`].
const CONV_BAND_BYTES: usize = 256 << 10;

/// Vectors per register tile row (4 × 4 accumulators).
const CONV_XV: usize = 4;

fn conv3x3<const L: usize>(
    src: &[f32],
    op: &Conv3x3,
    (b, cin, h, w): (usize, usize, usize, usize),
) -> Vec<f32> {
    let tile = CONV_XV * L;
    let wt = w.next_multiple_of(tile);
    // Zero border of one pixel, and on the right up to whole tiles.
    let (hp, wp) = (h + 2, wt + 2);
    let mut out = vec![0f32; b * op.cout * h * w];
    for (image, out) in src
        .chunks_exact(cin * h * w)
        .zip(out.chunks_exact_mut(op.cout * h * w))
    {
        let mut xp = vec![0f32; cin * hp * wp];
        xp.par_chunks_mut(hp * wp)
            .zip(image.par_chunks(h * w))
            .for_each(|(dst, plane)| {
                for (y, row) in plane.chunks_exact(w).enumerate() {
                    dst[(y + 1) * wp + 1..(y + 1) * wp + 1 + w].copy_from_slice(row);
                }
            });
        // Tasks are (band of rows, strip of columns, block of output
        // channels), blocks innermost: the threads work on the same strip,
        // whose input (a few hundred KB) stays in L2 for every block
        // instead of streaming from L3 or memory once per block.
        let blocks = op.cout.div_ceil(CONV_CO);
        let strip_tiles = (CONV_BAND_BYTES / (cin * 3 * (tile + 2) * 4).max(1)).max(1);
        let strip = (strip_tiles * tile).min(wt);
        let strips = w.div_ceil(strip);
        let band = (CONV_BAND_BYTES / (cin * (strip + 2) * 4).max(1)).clamp(1, h);
        let bands = h.div_ceil(band);
        // Each task writes its rows of its channels straight into the
        // output: the output split into (channel, row, strip) segments,
        // handed to the tasks that own them. No per-task buffers, no gather
        // pass over the whole output afterwards.
        let task_of =
            |c: usize, y: usize, si: usize| ((y / band) * strips + si) * blocks + c / CONV_CO;
        let mut segments: Vec<Vec<&mut [f32]>> = (0..bands * strips * blocks)
            .map(|_| Vec::with_capacity(CONV_CO * band))
            .collect();
        for (c, plane) in out.chunks_exact_mut(h * w).enumerate() {
            for (y, row) in plane.chunks_exact_mut(w).enumerate() {
                for (si, seg) in row.chunks_mut(strip).enumerate() {
                    segments[task_of(c, y, si)].push(seg);
                }
            }
        }
        segments
            .into_par_iter()
            .enumerate()
            .for_each(|(task, mut out)| {
                let (bi, rest) = (task / (strips * blocks), task % (strips * blocks));
                let (si, blk) = (rest / blocks, rest % blocks);
                let rows = bi * band..((bi + 1) * band).min(h);
                let cols = si * strip..((si + 1) * strip).min(w);
                let lo = blk * CONV_CO;
                let channels = CONV_CO.min(op.cout - lo);
                pulp::Arch::new().dispatch(ConvRows::<L> {
                    xp: &xp,
                    packed: &op.packed[blk * cin * 9 * CONV_CO..(blk + 1) * cin * 9 * CONV_CO],
                    bias: &op.bias[lo..lo + channels],
                    out: &mut out,
                    rows,
                    cols,
                    hp,
                    wp,
                });
            });
    }
    out
}

/// Every output row of up to [`CONV_CO`] channels (see [`conv3x3`]),
/// compiled for the detected CPU features.
struct ConvRows<'a, const L: usize> {
    xp: &'a [f32],
    packed: &'a [f32],
    bias: &'a [f32],
    /// The task's output rows, channel by channel: `out[c · rows + r]`.
    out: &'a mut [&'a mut [f32]],
    rows: std::ops::Range<usize>,
    cols: std::ops::Range<usize>,
    hp: usize,
    wp: usize,
}

impl<const L: usize> pulp::WithSimd for ConvRows<'_, L> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, simd: S) {
        let Self {
            xp,
            packed,
            bias,
            out,
            rows,
            cols,
            hp,
            wp,
        } = self;
        let (h, w) = (rows.len(), cols.len());
        // pulp's explicit vector ops: written as plain loops over arrays
        // this kernel was not vectorised at all (7 GFLOP/s).
        let lanes = S::F32_LANES;
        let tile = CONV_XV * lanes;
        let cin = packed.len() / (9 * CONV_CO);
        let channels = out.len() / h;
        for (r, y) in rows.enumerate() {
            for x0 in (0..w).step_by(tile) {
                let xs = cols.start + x0;
                let mut acc = [[simd.splat_f32s(0.0); CONV_XV]; CONV_CO];
                for (c, acc) in acc.iter_mut().enumerate() {
                    *acc = [simd.splat_f32s(bias.get(c).copied().unwrap_or(0.0)); CONV_XV];
                }
                for ci in 0..cin {
                    let taps = &packed[ci * 9 * CONV_CO..(ci + 1) * 9 * CONV_CO];
                    for ky in 0..3 {
                        let start = (ci * hp + y + ky) * wp + xs;
                        let row = &xp[start..start + tile + 2];
                        let wk = &taps[ky * 3 * CONV_CO..(ky + 1) * 3 * CONV_CO];
                        for kx in 0..3 {
                            let (vecs, _) = S::as_simd_f32s(&row[kx..kx + tile]);
                            let Some(vecs) = vecs.first_chunk::<CONV_XV>() else {
                                return;
                            };
                            for (c, acc) in acc.iter_mut().enumerate() {
                                let wv = simd.splat_f32s(wk[kx * CONV_CO + c]);
                                for (a, x) in acc.iter_mut().zip(vecs) {
                                    *a = simd.mul_add_e_f32s(wv, *x, *a);
                                }
                            }
                        }
                    }
                }
                let n = tile.min(w - x0);
                for (c, acc) in acc.iter().enumerate().take(channels) {
                    let dst = &mut out[c * h + r][x0..x0 + n];
                    for (v, a) in acc.iter().enumerate() {
                        let lo = v * lanes;
                        if lo >= n {
                            break;
                        }
                        simd.partial_store_f32s(&mut dst[lo..(lo + lanes).min(n)], *a);
                    }
                }
            }
        }
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
    fn blocked_attention_matches_the_definition() -> Result<()> {
        let dev = Device::Cpu;
        // Head sizes of SD 1.x/2.x/XL and the VAE, odd sizes, query and
        // key counts that are not whole tiles, and scores large enough
        // that an unstabilised softmax would overflow.
        for (bh, n, m, d, spread) in [
            (2, 300, 7000, 8, 1.0),
            (3, 13, 77, 40, 1.0),
            (2, 130, 1024, 64, 1.0),
            (1, 64, 333, 80, 1.0),
            (1, 9, 100, 160, 1.0),
            (1, 40, 256, 512, 0.2),
            (2, 5, 3, 3, 1.0),
            (1, 33, 65, 17, 30.0),
        ] {
            let q = Tensor::randn(0f32, spread, (bh, n, d), &dev)?;
            let k = Tensor::randn(0f32, spread, (bh, m, d), &dev)?;
            let v = Tensor::randn(0f32, 1., (bh, m, d), &dev)?;
            let scale = 1.0 / (d as f32).sqrt();
            let ours = attention(&q, &k, &v, scale)?;
            let scores = (q.matmul(&k.t()?)? * scale as f64)?;
            let want = candle_nn::ops::softmax_last_dim(&scores)?.matmul(&v)?;
            let diff = max_diff(&ours, &want);
            // Both sides round each score to f32 (relative 6e-8), and an
            // error in the exponent carries into the output times |v|:
            // large scores earn a proportionally larger tolerance.
            let top = scores.abs()?.max_all()?.to_scalar::<f32>()?;
            let tolerance = 2e-5 + 5e-7 * top;
            assert!(
                diff < tolerance,
                "{bh}x{n}x{m}x{d}: {diff} (scores up to {top})"
            );
        }
        let q = Tensor::zeros((1, 4, 8), DType::F32, &dev)?;
        let empty = Tensor::zeros((1, 0, 8), DType::F32, &dev)?;
        assert!(attention(&q, &empty, &empty, 1.0).is_err());
        Ok(())
    }

    #[test]
    fn direct_3x3_convolution_matches_candles() -> Result<()> {
        let dev = Device::Cpu;
        // Widths below, at and across whole tiles; channel counts that are
        // not whole blocks; a batch of two.
        for (b, cin, cout, h, w) in [
            (2, 3, 5, 7, 9),
            (1, 8, 4, 5, 64),
            (1, 4, 6, 3, 70),
            (1, 16, 8, 4, 130),
            (2, 1, 1, 1, 1),
        ] {
            let x = Tensor::randn(0f32, 1., (b, cin, h, w), &dev)?;
            let wt = Tensor::randn(0f32, 1., (cout, cin, 3, 3), &dev)?;
            let bias = Tensor::randn(0f32, 1., cout, &dev)?;
            let theirs = x
                .conv2d(&wt, 1, 1, 1, 1)?
                .broadcast_add(&bias.reshape((1, cout, 1, 1))?)?;
            let packed = pack_conv3x3(&wt.flatten_all()?.to_vec1::<f32>()?, cout, cin);
            let bias = bias.to_vec1::<f32>()?;
            let ours = x.apply_op1_no_bwd(&Conv3x3 {
                packed: &packed,
                bias: &bias,
                cout,
            })?;
            let d = max_diff(&ours, &theirs);
            assert!(d < 1e-4, "{b}x{cin}→{cout} {h}x{w}: {d}");
        }
        Ok(())
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
