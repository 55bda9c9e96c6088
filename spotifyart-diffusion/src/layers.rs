//! Building blocks shared by the text encoder, UNet and autoencoders:
//! thin constructors over candle-nn plus the attention kernel, which is
//! where the memory of a Stable Diffusion step goes.

use std::sync::OnceLock;

use candle_core::{D, DType, Module, Result, Tensor};
use candle_nn::{Conv2dConfig, Init, LayerNorm};

use crate::kernels;
use crate::kernels::Matrix;
use crate::layer_weights::LayerWeights;

/// Largest attention score matrix computed at once, in elements. A 512²
/// SD 1.5 step would otherwise build 8 × 4096 × 4096 scores per image
/// (512 MiB); slicing the queries keeps it at 4 MiB, measured no slower
/// than 32 MiB slices (each slice is still a large matrix product).
const MAX_SCORES: usize = 1 << 20;
/// Fewest queries per attention product.
const MIN_ROWS: usize = 64;

/// A 2-D convolution. On CPUs it unfolds the input ([`kernels::Im2Col`])
/// and runs one matrix product against the weights as stored (in place
/// in the mapped file when it holds f32); candle's own CPU convolution
/// re-lays out input and weights on every call.
#[derive(Debug)]
pub(crate) enum Conv2d {
    /// candle's convolution: GPUs, and dtypes the CPU path does not take.
    Candle(candle_nn::Conv2d),
    /// Direct 3×3, stride 1 ([`kernels::Conv3x3`]; CPU, f32): the
    /// decoders' convolutions, whose full-resolution layers it runs
    /// 1.2–1.7× faster than unfolding. The weights are packed for it on
    /// first use, so a decoder that never runs costs nothing.
    Direct {
        weight: Matrix,
        /// `weight` in [`kernels::pack_conv3x3`]'s order.
        packed: OnceLock<Vec<f32>>,
        bias: Vec<f32>,
    },
    /// Unfold and multiply (CPU, f32).
    Unfold {
        /// `(c_out, c_in·k·k)` weights.
        weight: Matrix,
        bias: Option<Vec<f32>>,
        kernel: usize,
        stride: usize,
    },
}

impl Module for Conv2d {
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        if let Self::Candle(c) = self {
            return c.forward(xs);
        }
        if !kernels::applies(xs) {
            candle_core::bail!(
                "convolution weights are f32 on the CPU, input is {:?} on {:?}",
                xs.dtype(),
                xs.device()
            )
        }
        let (weight, bias, kernel, stride) = match self {
            Self::Candle(c) => return c.forward(xs),
            Self::Direct {
                weight,
                packed,
                bias,
            } => {
                let cout = weight.rows();
                let packed = packed.get_or_init(|| {
                    kernels::pack_conv3x3(weight.values(), cout, weight.cols() / 9)
                });
                return xs
                    .contiguous()?
                    .apply_op1_no_bwd(&kernels::Conv3x3 { packed, bias, cout });
            }
            Self::Unfold {
                weight,
                bias,
                kernel,
                stride,
            } => (weight, bias.as_deref(), *kernel, *stride),
        };
        let (b, cin, h, w) = xs.dims4()?;
        let cout = weight.rows();
        let times = kernels::WeightTimes { weight, bias };
        if weight.bf16() && kernel > 1 {
            return xs.contiguous()?.apply_op1_no_bwd(&kernels::ConvAmx {
                weight,
                bias,
                kernel,
                stride,
            });
        }
        if kernel == 1 && stride == 1 {
            let ys = xs
                .contiguous()?
                .reshape((b, cin, h * w))?
                .apply_op1_no_bwd(&times)?;
            return ys.reshape((b, cout, h, w));
        }
        let whole = kernels::Im2Col {
            kernel,
            stride,
            padding: kernel / 2,
            rows: 0..usize::MAX,
        };
        let (oh, ow) = whole.out_size(h, w);
        // Bands of output rows whose unfolded columns stay under CONV_BAND.
        let k = cin * kernel * kernel;
        let band = (CONV_BAND / (k * ow).max(1)).clamp(1, oh);
        let xs = xs.contiguous()?;
        let mut parts = Vec::with_capacity(oh.div_ceil(band));
        for start in (0..oh).step_by(band) {
            let rows = band.min(oh - start);
            let op = kernels::Im2Col {
                rows: start..start + rows,
                ..whole.clone()
            };
            let cols = xs.apply_op1_no_bwd(&op)?;
            let ys = cols.apply_op1_no_bwd(&times)?;
            parts.push(ys.reshape((b, cout, rows, ow))?);
        }
        if parts.len() == 1 {
            Ok(parts.remove(0))
        } else {
            Tensor::cat(&parts, 2)
        }
    }
}

/// Unfolded-column elements per band of a convolution (32 MiB of f32).
/// Measured on 2 cores: the 512² VAE decode takes ~1 GB and is fastest
/// around here (2M: slower; 16M: slower); UNet layers barely notice.
const CONV_BAND: usize = 8 << 20;

/// Whether the CPU kernels take these weights.
fn on_cpu_f32(vb: &LayerWeights) -> bool {
    vb.device().is_cpu() && vb.dtype() == DType::F32
}

pub(crate) fn conv2d(
    vb: LayerWeights,
    cin: usize,
    cout: usize,
    kernel: usize,
    stride: usize,
    bias: bool,
) -> Result<Conv2d> {
    if !on_cpu_f32(&vb) {
        return Ok(Conv2d::Candle(candle_conv(
            vb, cin, cout, kernel, stride, bias,
        )?));
    }
    let (weight, bias) = cpu_weights(&vb, &[cout, cin, kernel, kernel], bias)?;
    Ok(Conv2d::Unfold {
        weight,
        bias,
        kernel,
        stride,
    })
}

/// A layer's weight matrix of `shape` (`(out, in, …)`) and its bias for
/// the CPU kernels, with the initialisers candle-nn's `linear` and
/// `conv2d` use (test models): Kaiming weights, a bias uniform in
/// ±1/√in.
fn cpu_weights(
    vb: &LayerWeights,
    shape: &[usize],
    bias: bool,
) -> Result<(Matrix, Option<Vec<f32>>)> {
    let weight = vb.matrix("weight", shape, candle_nn::init::DEFAULT_KAIMING_NORMAL)?;
    let bias = bias
        .then(|| {
            vb.get_with_hints(shape[0], "bias", uniform(shape[1]))?
                .to_vec1::<f32>()
        })
        .transpose()?;
    Ok((weight, bias))
}

/// candle-nn's bias initialiser for `fan_in` inputs.
fn uniform(fan_in: usize) -> Init {
    let bound = 1. / (fan_in as f64).sqrt();
    Init::Uniform {
        lo: -bound,
        up: bound,
    }
}

/// The weights as candle loads them ("same" padding for odd kernels).
fn candle_conv(
    vb: LayerWeights,
    cin: usize,
    cout: usize,
    kernel: usize,
    stride: usize,
    bias: bool,
) -> Result<candle_nn::Conv2d> {
    let cfg = Conv2dConfig {
        padding: kernel / 2,
        stride,
        ..Default::default()
    };
    if bias {
        candle_nn::conv2d(cin, cout, kernel, cfg, vb.vb())
    } else {
        candle_nn::conv2d_no_bias(cin, cout, kernel, cfg, vb.vb())
    }
}

/// A 3×3, stride-1 convolution computed directly on CPUs (see
/// [`Conv2d::Direct`]); candle's elsewhere.
pub(crate) fn conv3x3_direct(
    vb: LayerWeights,
    cin: usize,
    cout: usize,
    bias: bool,
) -> Result<Conv2d> {
    if !on_cpu_f32(&vb) {
        return Ok(Conv2d::Candle(candle_conv(vb, cin, cout, 3, 1, bias)?));
    }
    if vb.bf16() && cin >= 128 {
        // On AMX unfolding and multiplying is the faster way, except for
        // thin layers (TAESD's 64 channels), where unfolding costs more
        // than the arithmetic it feeds.
        return conv2d(vb, cin, cout, 3, 1, bias);
    }
    let (weight, bias) = cpu_weights(&vb, &[cout, cin, 3, 3], bias)?;
    Ok(Conv2d::Direct {
        weight,
        packed: OnceLock::new(),
        bias: bias.unwrap_or_else(|| vec![0.0; cout]),
    })
}

/// A linear layer: on CPUs a matrix product against the weights as
/// stored ([`kernels::Linear`]), candle's elsewhere.
#[derive(Debug)]
pub(crate) enum Linear {
    Candle(candle_nn::Linear),
    Cpu {
        /// `(out, in)` weights.
        weight: Matrix,
        bias: Option<Vec<f32>>,
    },
}

impl Module for Linear {
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        match self {
            Self::Candle(l) => l.forward(xs),
            Self::Cpu { weight, bias } => {
                if !kernels::applies(xs) {
                    candle_core::bail!(
                        "linear weights are f32 on the CPU, input is {:?} on {:?}",
                        xs.dtype(),
                        xs.device()
                    )
                }
                xs.contiguous()?.apply_op1_no_bwd(&kernels::Linear {
                    weight,
                    bias: bias.as_deref(),
                })
            }
        }
    }
}

pub(crate) fn linear(vb: LayerWeights, din: usize, dout: usize, bias: bool) -> Result<Linear> {
    if !on_cpu_f32(&vb) {
        return Ok(Linear::Candle(if bias {
            candle_nn::linear(din, dout, vb.vb())?
        } else {
            candle_nn::linear_no_bias(din, dout, vb.vb())?
        }));
    }
    let (weight, bias) = cpu_weights(&vb, &[dout, din], bias)?;
    Ok(Linear::Cpu { weight, bias })
}

/// A token embedding table: on CPUs the rows are read from the weights
/// where they lie (a 49408-token table is 200 MB of f32 that a prompt
/// reads 77 rows of), candle's elsewhere.
#[derive(Debug)]
pub(crate) enum Embedding {
    Candle(candle_nn::Embedding),
    Cpu { table: Matrix },
}

impl Embedding {
    pub(crate) fn forward(&self, ids: &Tensor) -> Result<Tensor> {
        let table = match self {
            Self::Candle(e) => return e.forward(ids),
            Self::Cpu { table } => table,
        };
        let (rows, dim) = (table.rows(), table.cols());
        let values = table.values();
        let flat = ids.flatten_all()?.to_dtype(DType::U32)?.to_vec1::<u32>()?;
        let mut out = Vec::with_capacity(flat.len() * dim);
        for id in flat {
            let id = id as usize;
            if id >= rows {
                candle_core::bail!("token id {id} outside the embedding table of {rows}")
            }
            out.extend_from_slice(&values[id * dim..(id + 1) * dim]);
        }
        let mut shape = ids.dims().to_vec();
        shape.push(dim);
        Tensor::from_vec(out, shape, ids.device())
    }
}

pub(crate) fn embedding(vb: LayerWeights, vocab: usize, dim: usize) -> Result<Embedding> {
    if !on_cpu_f32(&vb) {
        return Ok(Embedding::Candle(candle_nn::embedding(
            vocab,
            dim,
            vb.vb(),
        )?));
    }
    let hints = Init::Randn {
        mean: 0.,
        stdev: 1.,
    };
    Ok(Embedding::Cpu {
        table: vb.matrix("weight", &[vocab, dim], hints)?,
    })
}

/// GroupNorm with its affine transform; on CPUs one fused pass (with the
/// SiLU that usually follows), elsewhere candle's ops.
#[derive(Debug)]
pub(crate) struct GroupNorm {
    inner: candle_nn::GroupNorm,
    groups: usize,
    eps: f64,
    /// Host copies of the affine weights for the fused CPU kernel.
    host: Option<(Vec<f32>, Vec<f32>)>,
}

impl GroupNorm {
    pub(crate) fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        self.run(xs, false)
    }

    /// `silu(group_norm(x))`.
    pub(crate) fn forward_silu(&self, xs: &Tensor) -> Result<Tensor> {
        self.run(xs, true)
    }

    fn run(&self, xs: &Tensor, silu: bool) -> Result<Tensor> {
        match &self.host {
            Some((gamma, beta)) if kernels::applies(xs) => {
                xs.contiguous()?.apply_op1_no_bwd(&kernels::GroupNormOp {
                    groups: self.groups,
                    eps: self.eps as f32,
                    gamma,
                    beta,
                    silu,
                })
            }
            _ => {
                let ys = self.inner.forward(xs)?;
                if silu {
                    candle_nn::ops::silu(&ys)
                } else {
                    Ok(ys)
                }
            }
        }
    }
}

pub(crate) fn group_norm(
    vb: LayerWeights,
    groups: usize,
    channels: usize,
    eps: f64,
) -> Result<GroupNorm> {
    let weight = vb.get_with_hints(channels, "weight", candle_nn::Init::Const(1.))?;
    let bias = vb.get_with_hints(channels, "bias", candle_nn::Init::Const(0.))?;
    let host = if kernels::applies(&weight) {
        Some((weight.to_vec1::<f32>()?, bias.to_vec1::<f32>()?))
    } else {
        None
    };
    Ok(GroupNorm {
        inner: candle_nn::GroupNorm::new(weight, bias, channels, groups, eps)?,
        groups,
        eps,
        host,
    })
}

pub(crate) fn layer_norm(vb: LayerWeights, dim: usize, eps: f64) -> Result<LayerNorm> {
    candle_nn::layer_norm(dim, eps, vb.vb())
}

/// `silu(group_norm(x))`, the prologue of every ResNet block.
pub(crate) fn norm_silu(norm: &GroupNorm, xs: &Tensor) -> Result<Tensor> {
    norm.forward_silu(xs)
}

/// Softmax over the last dimension of a freshly computed score matrix
/// (in place on CPUs, where that saves a pass over memory).
fn softmax_scores(scores: Tensor) -> Result<Tensor> {
    if kernels::applies(&scores) && scores.is_contiguous() {
        kernels::softmax_last_dim_in_place(&scores)?;
        Ok(scores)
    } else {
        candle_nn::ops::softmax_last_dim(&scores)
    }
}

/// GEGLU: the first half of the last dimension times GELU of the second.
pub(crate) fn geglu(xs: &Tensor) -> Result<Tensor> {
    if kernels::applies(xs) {
        return kernels::geglu(xs);
    }
    let gates = xs.chunk(2, D::Minus1)?;
    &gates[0] * gates[1].gelu_erf()?
}

/// Scaled dot-product attention over `(batch, heads, tokens, head_dim)`
/// tensors, with the queries sliced so the score matrix stays bounded.
/// Scores and softmax run in f32 whatever the weights' dtype, as in
/// diffusers' `upcast_softmax`.
pub(crate) fn attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    mask: Option<&Tensor>,
) -> Result<Tensor> {
    let (b, h, n, d) = q.dims4()?;
    let m = k.dim(2)?;
    let scale = 1.0 / (d as f64).sqrt();
    if mask.is_none() && kernels::applies(q) {
        let out = kernels::attention(
            &q.flatten(0, 1)?,
            &k.flatten(0, 1)?,
            &v.flatten(0, 1)?,
            scale as f32,
        )?;
        return out.reshape((b, h, n, d));
    }
    let dtype = q.dtype();
    let q = (q.flatten(0, 1)? * scale)?;
    let kt = k.flatten(0, 1)?.t()?.contiguous()?;
    let v = v.flatten(0, 1)?.contiguous()?;
    // Slices of `rows` queries for `group` heads at a time: at least
    // MIN_ROWS queries per product so each one is a real matrix product,
    // fewer heads per slice when that would pass MAX_SCORES.
    let bh = b * h;
    let rows = (MAX_SCORES / (bh * m).max(1)).max(MIN_ROWS).min(n);
    let group = (MAX_SCORES / (rows * m).max(1)).clamp(1, bh);
    let mut groups = Vec::with_capacity(bh.div_ceil(group));
    for g0 in (0..bh).step_by(group) {
        let gl = group.min(bh - g0);
        let (qg, ktg, vg) = (
            q.narrow(0, g0, gl)?,
            kt.narrow(0, g0, gl)?,
            v.narrow(0, g0, gl)?,
        );
        let mut outs = Vec::with_capacity(n.div_ceil(rows));
        for start in (0..n).step_by(rows) {
            let len = rows.min(n - start);
            let qs = qg.narrow(1, start, len)?.contiguous()?;
            let mut scores = qs.matmul(&ktg)?;
            if let Some(mask) = mask {
                scores = scores.broadcast_add(&mask.narrow(D::Minus2, start, len)?)?;
            }
            let probs = if dtype == DType::F32 {
                softmax_scores(scores)?
            } else {
                softmax_scores(scores.to_dtype(DType::F32)?)?.to_dtype(dtype)?
            };
            outs.push(probs.matmul(&vg)?);
        }
        groups.push(if outs.len() == 1 {
            outs.remove(0)
        } else {
            Tensor::cat(&outs, 1)?
        });
    }
    let out = if groups.len() == 1 {
        groups.remove(0)
    } else {
        Tensor::cat(&groups, 0)?
    };
    out.reshape((b, h, n, d))
}

/// `(batch, tokens, heads × head_dim)` → `(batch, heads, tokens, head_dim)`.
pub(crate) fn split_heads(xs: &Tensor, heads: usize) -> Result<Tensor> {
    let (b, n, c) = xs.dims3()?;
    xs.reshape((b, n, heads, c / heads))?
        .transpose(1, 2)?
        .contiguous()
}

/// The inverse of [`split_heads`].
pub(crate) fn merge_heads(xs: &Tensor) -> Result<Tensor> {
    let (b, h, n, d) = xs.dims4()?;
    xs.transpose(1, 2)?.reshape((b, n, h * d))
}

/// Sinusoidal timestep features, as diffusers' `Timesteps` module.
pub(crate) fn timestep_features(
    t: &Tensor,
    dim: usize,
    flip_sin_to_cos: bool,
    freq_shift: f64,
) -> Result<Tensor> {
    let half = dim / 2;
    let freqs: Vec<f32> = (0..half)
        .map(|i| (-(10000f64.ln()) * i as f64 / (half as f64 - freq_shift)).exp() as f32)
        .collect();
    let freqs = Tensor::from_vec(freqs, (1, half), t.device())?;
    let args = t
        .to_dtype(DType::F32)?
        .unsqueeze(1)?
        .broadcast_mul(&freqs)?;
    let (sin, cos) = (args.sin()?, args.cos()?);
    if flip_sin_to_cos {
        Tensor::cat(&[cos, sin], D::Minus1)
    } else {
        Tensor::cat(&[sin, cos], D::Minus1)
    }
}

#[cfg(test)]
mod tests {
    use candle_core::Device;

    use super::*;

    /// Slicing the queries must not change the result.
    #[test]
    fn sliced_attention_matches_one_shot() -> Result<()> {
        let dev = Device::Cpu;
        let q = Tensor::randn(0f32, 1., (1, 2, 300, 8), &dev)?;
        let k = Tensor::randn(0f32, 1., (1, 2, 7000, 8), &dev)?;
        let v = Tensor::randn(0f32, 1., (1, 2, 7000, 8), &dev)?;
        let sliced = attention(&q, &k, &v, None)?;
        let scores = (q.matmul(&k.t()?)? / (8f64).sqrt())?;
        let full = candle_nn::ops::softmax_last_dim(&scores)?.matmul(&v)?;
        let diff = (sliced - full)?.abs()?.max_all()?.to_scalar::<f32>()?;
        assert!(diff < 1e-5, "{diff}");
        Ok(())
    }

    #[test]
    fn timestep_features_match_diffusers() -> Result<()> {
        // diffusers.models.embeddings.get_timestep_embedding(tensor([10.]), 4,
        // flip_sin_to_cos=True, downscale_freq_shift=0) = [cos 10, cos .1, sin 10, sin .1]
        let t = Tensor::new(&[10f32], &Device::Cpu)?;
        let e = timestep_features(&t, 4, true, 0.0)?.to_vec2::<f32>()?;
        let want = [10f32.cos(), 0.1f32.cos(), 10f32.sin(), 0.1f32.sin()];
        for (a, b) in e[0].iter().zip(want) {
            assert!((a - b).abs() < 1e-5, "{:?}", e);
        }
        Ok(())
    }
}
