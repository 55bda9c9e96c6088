//! Unfolding for the convolutions the direct kernel does not take, so each
//! is one matrix product with the weights as PyTorch lays them out, a
//! cache-sized band of output rows at a time.

use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape};
use rayon::prelude::*;

use super::contiguous;

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
        let rows_out = c * k * k;
        let mut dst = super::memory::zeros::<f32>(b * rows_out * plane);
        for (bi, batch) in dst.chunks_mut(rows_out * plane).enumerate() {
            // One task per input channel: k·k output rows each.
            batch
                .par_chunks_mut(k * k * plane)
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
    use crate::kernels::tests::max_diff;

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
        }
        Ok(())
    }
}
