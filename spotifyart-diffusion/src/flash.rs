//! Flash attention on CUDA (feature `flash-attn`): fused kernels that never
//! build the score matrix. Elsewhere the sliced kernel in [`crate::layers`]
//! runs.

use candle_core::{Result, Tensor};

/// `Some` when flash attention applies: the feature is on, the tensors are
/// f16/bf16 on a CUDA device and the head size is one the kernels support.
#[cfg(feature = "flash-attn")]
pub(crate) fn attention(q: &Tensor, k: &Tensor, v: &Tensor) -> Option<Result<Tensor>> {
    use candle_core::DType;
    let d = q.dim(3).ok()?;
    if !q.device().is_cuda()
        || !matches!(q.dtype(), DType::F16 | DType::BF16)
        || d % 8 != 0
        || d > 256
    {
        return None;
    }
    let run = || -> Result<Tensor> {
        // The kernels read (batch, tokens, heads, head_dim).
        let t = |x: &Tensor| x.transpose(1, 2)?.contiguous();
        let scale = 1.0 / (d as f32).sqrt();
        candle_flash_attn::flash_attn(&t(q)?, &t(k)?, &t(v)?, scale, false)?.transpose(1, 2)
    };
    Some(run())
}

/// Without the `flash-attn` feature there is no fused kernel.
#[cfg(not(feature = "flash-attn"))]
pub(crate) fn attention(_q: &Tensor, _k: &Tensor, _v: &Tensor) -> Option<Result<Tensor>> {
    None
}
