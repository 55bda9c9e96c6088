//! A direct 3×3, stride-1 convolution for the decoders' full-resolution
//! layers: unlike unfolding (`im2col`) it writes nothing 9× the input's
//! size and packs no operand per call.

use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape};
use rayon::prelude::*;

use super::{contiguous, wide_simd};

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
    let mut out = super::memory::zeros::<f32>(b * op.cout * h * w);
    for (image, out) in src
        .chunks_exact(cin * h * w)
        .zip(out.chunks_exact_mut(op.cout * h * w))
    {
        let mut xp = super::memory::zeros::<f32>(cin * hp * wp);
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

#[cfg(test)]
mod tests {
    use candle_core::{Device, Tensor};

    use super::*;
    use crate::kernels::tests::max_diff;

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
}
