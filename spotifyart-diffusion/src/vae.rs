//! Latents to pixels: the full `AutoencoderKL` decoder (optionally tiled,
//! so a 512² decode fits in a few GB), and the tiny TAESD decoder
//! (`AutoencoderTiny`) for fast previews and slow CPUs.

use candle_core::{DType, Module, Result, Tensor};

use serde::{Deserialize, Serialize};

use crate::layer_weights::LayerWeights;
use crate::layers::Linear;
use crate::layers::{self, Conv2d, GroupNorm, attention, merge_heads, norm_silu, split_heads};
use crate::unet::ResnetBlock;

fn groups() -> usize {
    32
}
fn scaling() -> f64 {
    0.18215
}

/// The fields of `vae/config.json` the decoder needs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VaeConfig {
    /// Channels per level, shallowest first.
    pub block_out_channels: Vec<usize>,
    /// ResNet blocks per encoder level (the decoder has one more).
    pub layers_per_block: usize,
    /// Latent channels (4).
    pub latent_channels: usize,
    /// GroupNorm groups.
    #[serde(default = "groups")]
    pub norm_num_groups: usize,
    /// Latents are divided by this before decoding.
    #[serde(default = "scaling")]
    pub scaling_factor: f64,
    /// The decoder overflows in f16 and must run in f32 (SDXL).
    #[serde(default)]
    pub force_upcast: bool,
}

impl VaeConfig {
    /// The autoencoder shared by SD 1.x, 2.x and (with another scale) SDXL.
    pub fn sd(scaling_factor: f64, force_upcast: bool) -> Self {
        Self {
            block_out_channels: vec![128, 256, 512, 512],
            layers_per_block: 2,
            latent_channels: 4,
            norm_num_groups: 32,
            scaling_factor,
            force_upcast,
        }
    }

    /// Pixels per latent pixel.
    pub fn downscale(&self) -> usize {
        1 << (self.block_out_channels.len() - 1)
    }
}

/// The decoder's single-head self-attention, under both the current
/// (`to_q`) and the legacy (`query`) weight names.
#[derive(Debug)]
struct MidAttention {
    norm: GroupNorm,
    q: Linear,
    k: Linear,
    v: Linear,
    out: Linear,
}

impl MidAttention {
    fn new(vb: LayerWeights, ch: usize, groups: usize) -> Result<Self> {
        let legacy = !vb.contains_tensor("to_q.weight") && vb.contains_tensor("query.weight");
        let name = |new: &'static str, old: &'static str| if legacy { old } else { new };
        Ok(Self {
            norm: layers::group_norm(vb.pp("group_norm"), groups, ch, 1e-6)?,
            q: layers::linear(vb.pp(name("to_q", "query")), ch, ch, true)?,
            k: layers::linear(vb.pp(name("to_k", "key")), ch, ch, true)?,
            v: layers::linear(vb.pp(name("to_v", "value")), ch, ch, true)?,
            out: layers::linear(vb.pp(name("to_out.0", "proj_attn")), ch, ch, true)?,
        })
    }

    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let (b, c, h, w) = xs.dims4()?;
        let t = self
            .norm
            .forward(xs)?
            .reshape((b, c, h * w))?
            .transpose(1, 2)?
            .contiguous()?;
        let (q, k, v) = (
            split_heads(&self.q.forward(&t)?, 1)?,
            split_heads(&self.k.forward(&t)?, 1)?,
            split_heads(&self.v.forward(&t)?, 1)?,
        );
        let a = self
            .out
            .forward(&merge_heads(&attention(&q, &k, &v, None)?)?)?;
        let a = a.transpose(1, 2)?.reshape((b, c, h, w))?;
        a + xs
    }
}

/// `AutoencoderKL`'s decoder with its `post_quant_conv`.
#[derive(Debug)]
pub struct VaeDecoder {
    config: VaeConfig,
    post_quant: Conv2d,
    conv_in: Conv2d,
    mid: (ResnetBlock, MidAttention, ResnetBlock),
    up: Vec<(Vec<ResnetBlock>, Option<Conv2d>)>,
    norm_out: GroupNorm,
    conv_out: Conv2d,
}

impl VaeDecoder {
    /// Builds the decoder from `vb` (the root of the VAE's safetensors;
    /// encoder weights are left unread).
    pub fn new<'a>(vb: impl Into<LayerWeights<'a>>, c: &VaeConfig) -> Result<Self> {
        let vb = vb.into();
        let ch = &c.block_out_channels;
        let (g, n, lat) = (c.norm_num_groups, ch.len(), c.latent_channels);
        let d = vb.pp("decoder");
        let top = ch[n - 1];
        let mb = d.pp("mid_block");
        let mid = (
            ResnetBlock::new_decoder(mb.pp("resnets.0"), top, top, g, 1e-6)?,
            MidAttention::new(mb.pp("attentions.0"), top, g)?,
            ResnetBlock::new_decoder(mb.pp("resnets.1"), top, top, g, 1e-6)?,
        );
        let mut up = Vec::with_capacity(n);
        let mut prev = top;
        for i in 0..n {
            let out = ch[n - 1 - i];
            let vb = d.pp("up_blocks").pp(i);
            let resnets = (0..=c.layers_per_block)
                .map(|j| {
                    let cin = if j == 0 { prev } else { out };
                    ResnetBlock::new_decoder(vb.pp("resnets").pp(j), cin, out, g, 1e-6)
                })
                .collect::<Result<Vec<_>>>()?;
            let upsample = (i + 1 < n)
                .then(|| layers::conv3x3_direct(vb.pp("upsamplers.0.conv"), out, out, true))
                .transpose()?;
            up.push((resnets, upsample));
            prev = out;
        }
        Ok(Self {
            post_quant: layers::conv2d(vb.pp("post_quant_conv"), lat, lat, 1, 1, true)?,
            conv_in: layers::conv3x3_direct(d.pp("conv_in"), lat, top, true)?,
            mid,
            up,
            norm_out: layers::group_norm(d.pp("conv_norm_out"), g, ch[0], 1e-6)?,
            conv_out: layers::conv3x3_direct(d.pp("conv_out"), ch[0], 3, true)?,
            config: c.clone(),
        })
    }

    /// The configuration it was built from.
    pub fn config(&self) -> &VaeConfig {
        &self.config
    }

    /// Decodes latents as the UNet produced them (scaled) into `[-1, 1]`
    /// pixels, `(batch, 3, 8h, 8w)`.
    pub fn decode(&self, latents: &Tensor) -> Result<Tensor> {
        let xs = (latents / self.config.scaling_factor)?;
        let xs = self.conv_in.forward(&self.post_quant.forward(&xs)?)?;
        let (r0, attn, r1) = &self.mid;
        let mut xs = r1.forward(&attn.forward(&r0.forward(&xs, None)?)?, None)?;
        for (resnets, upsample) in &self.up {
            for r in resnets {
                xs = r.forward(&xs, None)?;
            }
            if let Some(conv) = upsample {
                let (_, _, h, w) = xs.dims4()?;
                xs = conv.forward(&xs.upsample_nearest2d(h * 2, w * 2)?)?;
            }
        }
        self.conv_out.forward(&norm_silu(&self.norm_out, &xs)?)
    }

    /// Decodes in overlapping tiles of `tile` latent pixels, blending the
    /// overlaps linearly, so memory is bounded by one tile whatever the
    /// image size. As in diffusers' tiled decode, each tile normalises on
    /// its own statistics, which the blend hides.
    pub fn decode_tiled(&self, latents: &Tensor, tile: usize, overlap: usize) -> Result<Tensor> {
        let (b, _, h, w) = latents.dims4()?;
        if h <= tile && w <= tile {
            return self.decode(latents);
        }
        let f = self.config.downscale();
        let stride = tile - overlap;
        let starts = |len: usize| -> Vec<usize> {
            if len <= tile {
                return vec![0];
            }
            let mut v: Vec<usize> = (0..)
                .map(|i| i * stride)
                .take_while(|&s| s + tile < len)
                .collect();
            v.push(len - tile);
            v
        };
        let dev = latents.device();
        let mut acc = Tensor::zeros((b, 3, h * f, w * f), DType::F32, dev)?;
        let mut weight = Tensor::zeros((1, 1, h * f, w * f), DType::F32, dev)?;
        for &y in &starts(h) {
            for &x in &starts(w) {
                let (th, tw) = (tile.min(h), tile.min(w));
                let part = latents.narrow(2, y, th)?.narrow(3, x, tw)?;
                let pixels = self.decode(&part)?.to_dtype(DType::F32)?;
                let ramp = blend_ramp(
                    th * f,
                    tw * f,
                    overlap * f,
                    y > 0,
                    x > 0,
                    y + th < h,
                    x + tw < w,
                    dev,
                )?;
                let region = |t: &Tensor| t.narrow(2, y * f, th * f)?.narrow(3, x * f, tw * f);
                let new_acc = (region(&acc)? + pixels.broadcast_mul(&ramp)?)?;
                acc = acc.slice_assign(
                    &[0..b, 0..3, y * f..(y + th) * f, x * f..(x + tw) * f],
                    &new_acc,
                )?;
                let new_w = (region(&weight)? + &ramp)?;
                weight = weight.slice_assign(
                    &[0..1, 0..1, y * f..(y + th) * f, x * f..(x + tw) * f],
                    &new_w,
                )?;
            }
        }
        acc.broadcast_div(&weight)
    }
}

/// A tile's blending weight: rises linearly over `overlap` pixels on each
/// side that has a neighbour, 1 elsewhere (never 0, so every pixel is
/// covered).
#[allow(clippy::too_many_arguments)]
fn blend_ramp(
    h: usize,
    w: usize,
    overlap: usize,
    top: bool,
    left: bool,
    bottom: bool,
    right: bool,
    dev: &candle_core::Device,
) -> Result<Tensor> {
    let edge = |i: usize, len: usize, before: bool, after: bool| -> f32 {
        let mut v = 1.0f32;
        if before && i < overlap {
            v = v.min((i as f32 + 1.0) / (overlap as f32 + 1.0));
        }
        if after && len - 1 - i < overlap {
            v = v.min(((len - 1 - i) as f32 + 1.0) / (overlap as f32 + 1.0));
        }
        v
    };
    let ys: Vec<f32> = (0..h).map(|i| edge(i, h, top, bottom)).collect();
    let xs: Vec<f32> = (0..w).map(|i| edge(i, w, left, right)).collect();
    let ys = Tensor::from_vec(ys, (h, 1), dev)?;
    let xs = Tensor::from_vec(xs, (1, w), dev)?;
    ys.broadcast_mul(&xs)?.reshape((1, 1, h, w))
}

/// The fields of TAESD's `config.json` (`AutoencoderTiny`) the decoder needs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TinyVaeConfig {
    /// Channels per decoder stage.
    pub decoder_block_out_channels: Vec<usize>,
    /// Blocks per decoder stage.
    pub num_decoder_blocks: Vec<usize>,
    /// Latent channels (4).
    pub latent_channels: usize,
}

impl Default for TinyVaeConfig {
    /// madebyollin/taesd and taesdxl.
    fn default() -> Self {
        Self {
            decoder_block_out_channels: vec![64, 64, 64, 64],
            num_decoder_blocks: vec![3, 3, 3, 1],
            latent_channels: 4,
        }
    }
}

#[derive(Debug)]
enum TinyLayer {
    Conv(Conv2d),
    Relu,
    /// Three convolutions plus the identity, as `AutoencoderTinyBlock`
    /// with equal channels.
    Block(Box<[Conv2d; 3]>),
    Upsample,
}

/// TAESD's decoder: ~1.2M parameters, no attention or normalisation, so a
/// 512² decode takes a fraction of a second where the full decoder takes a
/// minute on a small CPU. Slightly softer pictures.
#[derive(Debug)]
pub struct TinyDecoder {
    layers: Vec<TinyLayer>,
}

impl TinyDecoder {
    /// Builds the decoder from `vb` (the root of TAESD's safetensors).
    pub fn new<'a>(vb: impl Into<LayerWeights<'a>>, c: &TinyVaeConfig) -> Result<Self> {
        let vb = vb.into().pp("decoder.layers");
        let ch = &c.decoder_block_out_channels;
        let mut layers = vec![
            TinyLayer::Conv(layers::conv3x3_direct(
                vb.pp(0),
                c.latent_channels,
                ch[0],
                true,
            )?),
            TinyLayer::Relu,
        ];
        for (i, (&n, &cout)) in c.num_decoder_blocks.iter().zip(ch).enumerate() {
            let last = i + 1 == ch.len();
            for _ in 0..n {
                let v = vb.pp(layers.len()).pp("conv");
                let convs = [
                    layers::conv3x3_direct(v.pp(0), cout, cout, true)?,
                    layers::conv3x3_direct(v.pp(2), cout, cout, true)?,
                    layers::conv3x3_direct(v.pp(4), cout, cout, true)?,
                ];
                layers.push(TinyLayer::Block(Box::new(convs)));
            }
            if !last {
                layers.push(TinyLayer::Upsample);
            }
            let next = if last { 3 } else { cout };
            let conv = layers::conv3x3_direct(vb.pp(layers.len()), cout, next, last)?;
            layers.push(TinyLayer::Conv(conv));
        }
        Ok(Self { layers })
    }

    /// Decodes latents as the UNet produced them into `[-1, 1]` pixels.
    pub fn decode(&self, latents: &Tensor) -> Result<Tensor> {
        let mut xs = ((latents / 3.0)?.tanh()? * 3.0)?;
        for layer in &self.layers {
            xs = match layer {
                TinyLayer::Conv(c) => c.forward(&xs)?,
                TinyLayer::Relu => xs.relu()?,
                TinyLayer::Upsample => {
                    let (_, _, h, w) = xs.dims4()?;
                    xs.upsample_nearest2d(h * 2, w * 2)?
                }
                TinyLayer::Block(convs) => {
                    let h = convs[0].forward(&xs)?.relu()?;
                    let h = convs[1].forward(&h)?.relu()?;
                    (convs[2].forward(&h)? + &xs)?.relu()?
                }
            };
        }
        (xs * 2.0)? - 1.0
    }
}
