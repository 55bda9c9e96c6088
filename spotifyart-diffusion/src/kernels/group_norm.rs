//! GroupNorm with its affine transform and optional SiLU as one op: ten
//! passes over memory as separate candle ops, two here (the statistics,
//! then the output).

use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape};
use rayon::prelude::*;

use super::{contiguous, exp};

#[inline(always)]
fn silu(x: f32) -> f32 {
    x / (1.0 + exp(-x))
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
        let mut dst = super::memory::zeros::<f32>(src.len());
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

#[cfg(test)]
mod tests {
    use candle_core::{Device, Tensor};

    use super::*;
    use crate::kernels::tests::max_diff;

    #[test]
    fn group_norm_matches_candles() -> Result<()> {
        let dev = Device::Cpu;
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
}
