//! Softmax over the last dimension, in place: candle's takes a scalar
//! `expf` per score and writes a new tensor. Now only for masked attention
//! (CLIP's); unmasked attention has its own kernel (`attention`).

use candle_core::{CpuStorage, InplaceOp1, Layout, Result, Tensor};
use rayon::prelude::*;

use super::{exp, lanes_max, lanes_sum, rows_per_task};

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

#[cfg(test)]
mod tests {
    use candle_core::{Device, Tensor};

    use super::*;
    use crate::kernels::tests::max_diff;

    #[test]
    fn softmax_matches_candles() -> Result<()> {
        let dev = Device::Cpu;
        let x = (Tensor::randn(0f32, 3., (3, 5, 1000), &dev)? - 1.0)?;
        let theirs = candle_nn::ops::softmax_last_dim(&x)?;
        let ours = x.copy()?;
        softmax_last_dim_in_place(&ours)?;
        assert!(max_diff(&ours, &theirs) < 1e-6);
        Ok(())
    }
}
