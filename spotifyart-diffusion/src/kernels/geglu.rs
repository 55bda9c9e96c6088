//! GEGLU (`a · gelu(b)`) in one pass over each row: candle's exact GELU
//! takes a scalar `erf` per element, this one a polynomial that
//! vectorises.

use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::{contiguous, erf, rows_per_task};

#[inline(always)]
fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
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
        let mut dst = super::memory::zeros::<f32>(src.len() / 2);
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

#[cfg(test)]
mod tests {
    use candle_core::{Device, Tensor};

    use super::*;
    use crate::kernels::tests::max_diff;

    #[test]
    fn geglu_matches_candles() -> Result<()> {
        let dev = Device::Cpu;
        let g = Tensor::randn(0f32, 2., (2, 7, 64), &dev)?;
        let ours = geglu(&g)?;
        let parts = g.chunk(2, 2)?;
        let theirs = (&parts[0] * parts[1].gelu_erf()?)?;
        assert!(
            max_diff(&ours, &theirs) < 1e-5,
            "{}",
            max_diff(&ours, &theirs)
        );
        Ok(())
    }
}
