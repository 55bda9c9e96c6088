//! Unmasked scaled dot-product attention on CPUs, a block of queries at
//! a time while its scores stay in L2 (why: see [`Attention`]), with the
//! score and value products in register tiles compiled for the detected
//! CPU as pulp kernels.

use std::cell::RefCell;

use candle_core::{CpuStorage, CustomOp3, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::{contiguous, exp, lanes_max, lanes_sum, wide_simd};

/// Unmasked attention over `(heads, tokens, head_dim)` CPU f32 tensors
/// (see [`Attention`]).
pub(crate) fn attention(q: &Tensor, k: &Tensor, v: &Tensor, scale: f32) -> Result<Tensor> {
    q.contiguous()?
        .apply_op3_no_bwd(&k.contiguous()?, &v.contiguous()?, &Attention { scale })
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
    let mut kt = super::memory::zeros::<f32>(bh * d * mp);
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
    let mut vp = super::memory::zeros::<f32>(bh * m * dp);
    vp.par_chunks_mut(m * dp)
        .zip(v.par_chunks(m * d))
        .for_each(|(vp, v)| {
            for (dst, src) in vp.chunks_exact_mut(dp).zip(v.chunks_exact(d)) {
                dst[..d].copy_from_slice(src);
            }
        });
    // Query rows per block: a multiple of 8 (the tiles' height).
    let block = (SCORE_BLOCK / mp).clamp(8, 256) / 8 * 8;
    let mut out = super::memory::zeros::<f32>(bh * n * d);
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

#[cfg(test)]
mod tests {
    use candle_core::{DType, Device, Tensor};

    use super::*;
    use crate::kernels::tests::max_diff;

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
}
