//! diffusers' `UNet2DConditionModel`, the denoiser of SD 1.x, 2.x and
//! SDXL (with SDXL's pooled-text and size conditioning), configured from
//! `unet/config.json`.

use candle_core::{D, DType, Module, Result, Tensor};
use candle_nn::LayerNorm;
use serde::{Deserialize, Serialize};

use crate::layer_weights::LayerWeights;
use crate::layers::{
    self, Conv2d, GroupNorm, Linear, attention, merge_heads, norm_silu, split_heads,
    timestep_features,
};

/// A number or one number per block, as diffusers configs write them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PerBlock {
    /// The same for every block.
    One(usize),
    /// One per down block.
    Many(Vec<usize>),
}

impl PerBlock {
    fn get(&self, i: usize) -> usize {
        match self {
            Self::One(v) => *v,
            Self::Many(v) => v[i.min(v.len() - 1)],
        }
    }
}

fn one() -> PerBlock {
    PerBlock::One(1)
}
fn groups() -> usize {
    32
}
fn norm_eps() -> f64 {
    1e-5
}
fn yes() -> bool {
    true
}

/// The fields of `unet/config.json` the model needs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UNetConfig {
    /// Latent channels in (4).
    pub in_channels: usize,
    /// Latent channels out (4).
    pub out_channels: usize,
    /// Channels of each resolution level.
    pub block_out_channels: Vec<usize>,
    /// `CrossAttnDownBlock2D` or `DownBlock2D` per level.
    pub down_block_types: Vec<String>,
    /// `CrossAttnUpBlock2D` or `UpBlock2D` per level, deepest first.
    pub up_block_types: Vec<String>,
    /// ResNet blocks per down level (up levels have one more).
    pub layers_per_block: usize,
    /// Heads per level. diffusers historically names this
    /// `attention_head_dim`; `num_attention_heads` wins when set.
    pub attention_head_dim: PerBlock,
    /// Heads per level, in newer configs.
    #[serde(default)]
    pub num_attention_heads: Option<PerBlock>,
    /// Width of the text conditioning.
    pub cross_attention_dim: usize,
    /// Transformer blocks per attention (SDXL: 1, 2, 10).
    #[serde(default = "one")]
    pub transformer_layers_per_block: PerBlock,
    /// Linear (SD 2, SDXL) rather than 1x1-conv projections around attention.
    #[serde(default)]
    pub use_linear_projection: bool,
    /// Scores in f32 even when the weights are f16 (SD 2.1).
    #[serde(default)]
    pub upcast_attention: bool,
    /// `text_time` for SDXL's pooled-text and size conditioning.
    #[serde(default)]
    pub addition_embed_type: Option<String>,
    /// Features per SDXL size number.
    #[serde(default)]
    pub addition_time_embed_dim: Option<usize>,
    /// Input width of SDXL's added embedding.
    #[serde(default)]
    pub projection_class_embeddings_input_dim: Option<usize>,
    /// GroupNorm groups.
    #[serde(default = "groups")]
    pub norm_num_groups: usize,
    /// GroupNorm epsilon.
    #[serde(default = "norm_eps")]
    pub norm_eps: f64,
    /// Timestep features order.
    #[serde(default = "yes")]
    pub flip_sin_to_cos: bool,
    /// Timestep frequency shift.
    #[serde(default)]
    pub freq_shift: f64,
}

impl UNetConfig {
    fn heads(&self, level: usize) -> usize {
        self.num_attention_heads
            .as_ref()
            .unwrap_or(&self.attention_head_dim)
            .get(level)
    }

    /// Pixels per latent pixel the UNet halves away (2 per down level).
    pub fn downscale(&self) -> usize {
        1 << (self.block_out_channels.len() - 1)
    }

    /// Whether the model wants SDXL's pooled text and size ids.
    pub fn is_sdxl(&self) -> bool {
        self.addition_embed_type.as_deref() == Some("text_time")
    }
}

/// A ResNet block; `temb` is absent in the autoencoder.
#[derive(Debug)]
pub(crate) struct ResnetBlock {
    norm1: GroupNorm,
    conv1: Conv2d,
    temb: Option<Linear>,
    norm2: GroupNorm,
    conv2: Conv2d,
    shortcut: Option<Conv2d>,
}

impl ResnetBlock {
    pub(crate) fn new(
        vb: LayerWeights,
        cin: usize,
        cout: usize,
        temb: Option<usize>,
        groups: usize,
        eps: f64,
    ) -> Result<Self> {
        Self::build(vb, cin, cout, temb, groups, eps, false)
    }

    /// A block of an autoencoder's decoder: its 3×3 convolutions run
    /// directly ([`layers::conv3x3_direct`]), which suits the decoders'
    /// large feature maps; the UNet's small ones keep unfolding.
    pub(crate) fn new_decoder(
        vb: LayerWeights,
        cin: usize,
        cout: usize,
        groups: usize,
        eps: f64,
    ) -> Result<Self> {
        Self::build(vb, cin, cout, None, groups, eps, true)
    }

    fn build(
        vb: LayerWeights,
        cin: usize,
        cout: usize,
        temb: Option<usize>,
        groups: usize,
        eps: f64,
        direct: bool,
    ) -> Result<Self> {
        let conv3 = |vb: LayerWeights, cin, cout| {
            if direct {
                layers::conv3x3_direct(vb, cin, cout, true)
            } else {
                layers::conv2d(vb, cin, cout, 3, 1, true)
            }
        };
        Ok(Self {
            norm1: layers::group_norm(vb.pp("norm1"), groups, cin, eps)?,
            conv1: conv3(vb.pp("conv1"), cin, cout)?,
            temb: temb
                .map(|t| layers::linear(vb.pp("time_emb_proj"), t, cout, true))
                .transpose()?,
            norm2: layers::group_norm(vb.pp("norm2"), groups, cout, eps)?,
            conv2: conv3(vb.pp("conv2"), cout, cout)?,
            shortcut: (cin != cout)
                .then(|| layers::conv2d(vb.pp("conv_shortcut"), cin, cout, 1, 1, true))
                .transpose()?,
        })
    }

    /// `temb_act` is the time embedding after SiLU.
    pub(crate) fn forward(&self, xs: &Tensor, temb_act: Option<&Tensor>) -> Result<Tensor> {
        let mut h = self.conv1.forward(&norm_silu(&self.norm1, xs)?)?;
        if let (Some(proj), Some(t)) = (&self.temb, temb_act) {
            let t = proj.forward(t)?.unsqueeze(2)?.unsqueeze(3)?;
            h = h.broadcast_add(&t)?;
        }
        let h = self.conv2.forward(&norm_silu(&self.norm2, &h)?)?;
        match &self.shortcut {
            Some(s) => s.forward(xs)? + h,
            None => xs + h,
        }
    }
}

#[derive(Debug)]
struct Attention {
    q: Linear,
    k: Linear,
    v: Linear,
    out: Linear,
    heads: usize,
    upcast: bool,
}

impl Attention {
    fn new(
        vb: LayerWeights,
        dim: usize,
        ctx_dim: usize,
        heads: usize,
        upcast: bool,
    ) -> Result<Self> {
        Ok(Self {
            q: layers::linear(vb.pp("to_q"), dim, dim, false)?,
            k: layers::linear(vb.pp("to_k"), ctx_dim, dim, false)?,
            v: layers::linear(vb.pp("to_v"), ctx_dim, dim, false)?,
            out: layers::linear(vb.pp("to_out").pp(0), dim, dim, true)?,
            heads,
            upcast,
        })
    }

    fn forward(&self, xs: &Tensor, ctx: &Tensor) -> Result<Tensor> {
        let mut q = split_heads(&self.q.forward(xs)?, self.heads)?;
        let mut k = split_heads(&self.k.forward(ctx)?, self.heads)?;
        let mut v = split_heads(&self.v.forward(ctx)?, self.heads)?;
        let dtype = q.dtype();
        if self.upcast && dtype != DType::F32 {
            q = q.to_dtype(DType::F32)?;
            k = k.to_dtype(DType::F32)?;
            v = v.to_dtype(DType::F32)?;
        }
        let a = crate::flash::attention(&q, &k, &v)
            .unwrap_or_else(|| attention(&q, &k, &v, None))?
            .to_dtype(dtype)?;
        self.out.forward(&merge_heads(&a)?)
    }
}

#[derive(Debug)]
struct TransformerBlock {
    norm1: LayerNorm,
    attn1: Attention,
    norm2: LayerNorm,
    attn2: Attention,
    norm3: LayerNorm,
    ff_in: Linear,
    ff_out: Linear,
}

impl TransformerBlock {
    fn new(
        vb: LayerWeights,
        dim: usize,
        ctx_dim: usize,
        heads: usize,
        upcast: bool,
    ) -> Result<Self> {
        let inner = dim * 4;
        Ok(Self {
            norm1: layers::layer_norm(vb.pp("norm1"), dim, 1e-5)?,
            attn1: Attention::new(vb.pp("attn1"), dim, dim, heads, upcast)?,
            norm2: layers::layer_norm(vb.pp("norm2"), dim, 1e-5)?,
            attn2: Attention::new(vb.pp("attn2"), dim, ctx_dim, heads, upcast)?,
            norm3: layers::layer_norm(vb.pp("norm3"), dim, 1e-5)?,
            ff_in: layers::linear(vb.pp("ff.net.0.proj"), dim, inner * 2, true)?,
            ff_out: layers::linear(vb.pp("ff.net.2"), inner, dim, true)?,
        })
    }

    fn forward(&self, xs: &Tensor, ctx: &Tensor) -> Result<Tensor> {
        let h = self.norm1.forward(xs)?;
        let xs = (self.attn1.forward(&h, &h)? + xs)?;
        let xs = (self.attn2.forward(&self.norm2.forward(&xs)?, ctx)? + xs)?;
        // GEGLU: half the projection gates the other half.
        let h = layers::geglu(&self.ff_in.forward(&self.norm3.forward(&xs)?)?)?;
        self.ff_out.forward(&h)? + xs
    }
}

#[derive(Debug)]
enum Projection {
    Conv(Conv2d),
    Linear(Linear),
}

#[derive(Debug)]
struct Transformer2d {
    norm: GroupNorm,
    proj_in: Projection,
    blocks: Vec<TransformerBlock>,
    proj_out: Projection,
}

impl Transformer2d {
    fn new(
        vb: LayerWeights,
        c: &UNetConfig,
        ch: usize,
        heads: usize,
        depth: usize,
    ) -> Result<Self> {
        let proj = |name: &str| -> Result<Projection> {
            Ok(if c.use_linear_projection {
                Projection::Linear(layers::linear(vb.pp(name), ch, ch, true)?)
            } else {
                Projection::Conv(layers::conv2d(vb.pp(name), ch, ch, 1, 1, true)?)
            })
        };
        Ok(Self {
            norm: layers::group_norm(vb.pp("norm"), c.norm_num_groups, ch, 1e-6)?,
            proj_in: proj("proj_in")?,
            blocks: (0..depth)
                .map(|i| {
                    TransformerBlock::new(
                        vb.pp("transformer_blocks").pp(i),
                        ch,
                        c.cross_attention_dim,
                        heads,
                        c.upcast_attention,
                    )
                })
                .collect::<Result<_>>()?,
            proj_out: proj("proj_out")?,
        })
    }

    fn forward(&self, xs: &Tensor, ctx: &Tensor) -> Result<Tensor> {
        let (b, c, h, w) = xs.dims4()?;
        let mut t = self.norm.forward(xs)?;
        if let Projection::Conv(p) = &self.proj_in {
            t = p.forward(&t)?;
        }
        t = t.permute((0, 2, 3, 1))?.reshape((b, h * w, c))?;
        if let Projection::Linear(p) = &self.proj_in {
            t = p.forward(&t)?;
        }
        for block in &self.blocks {
            t = block.forward(&t, ctx)?;
        }
        if let Projection::Linear(p) = &self.proj_out {
            t = p.forward(&t)?;
        }
        t = t
            .reshape((b, h, w, c))?
            .permute((0, 3, 1, 2))?
            .contiguous()?;
        if let Projection::Conv(p) = &self.proj_out {
            t = p.forward(&t)?;
        }
        t + xs
    }
}

#[derive(Debug)]
struct Level {
    resnets: Vec<ResnetBlock>,
    attentions: Vec<Transformer2d>,
    resample: Option<Conv2d>,
}

impl Level {
    fn run(&self, i: usize, xs: &Tensor, temb: &Tensor, ctx: &Tensor) -> Result<Tensor> {
        let xs = self.resnets[i].forward(xs, Some(temb))?;
        match self.attentions.get(i) {
            Some(a) => a.forward(&xs, ctx),
            None => Ok(xs),
        }
    }
}

/// SDXL's extra conditioning: the pooled text and the six size numbers.
#[derive(Debug)]
pub struct AddedCond {
    /// `(batch, 1280)` pooled text embedding.
    pub text_embeds: Tensor,
    /// `(batch, 6)`: original height and width, crop top and left, target
    /// height and width.
    pub time_ids: Tensor,
}

/// The denoising UNet.
#[derive(Debug)]
pub struct UNet {
    config: UNetConfig,
    conv_in: Conv2d,
    time_1: Linear,
    time_2: Linear,
    add: Option<(Linear, Linear)>,
    down: Vec<Level>,
    mid: (ResnetBlock, Transformer2d, ResnetBlock),
    up: Vec<Level>,
    norm_out: GroupNorm,
    conv_out: Conv2d,
}

impl UNet {
    /// Builds the UNet from `vb` (the root of its safetensors).
    pub fn new<'a>(vb: impl Into<LayerWeights<'a>>, c: &UNetConfig) -> Result<Self> {
        let vb = vb.into();
        let ch = &c.block_out_channels;
        let n = ch.len();
        let temb_dim = ch[0] * 4;
        let (g, eps) = (c.norm_num_groups, c.norm_eps);
        let te = vb.pp("time_embedding");
        let add = if c.is_sdxl() {
            let ae = vb.pp("add_embedding");
            let input = c.projection_class_embeddings_input_dim.ok_or_else(|| {
                candle_core::Error::Msg(
                    "SDXL UNet config lacks projection_class_embeddings_input_dim".into(),
                )
            })?;
            Some((
                layers::linear(ae.pp("linear_1"), input, temb_dim, true)?,
                layers::linear(ae.pp("linear_2"), temb_dim, temb_dim, true)?,
            ))
        } else {
            None
        };
        let mut down = Vec::with_capacity(n);
        let mut cin = ch[0];
        for (i, &cout) in ch.iter().enumerate() {
            let vb = vb.pp("down_blocks").pp(i);
            let cross = c.down_block_types[i].starts_with("CrossAttn");
            let mut resnets = Vec::new();
            let mut attentions = Vec::new();
            for j in 0..c.layers_per_block {
                let rin = if j == 0 { cin } else { cout };
                resnets.push(ResnetBlock::new(
                    vb.pp("resnets").pp(j),
                    rin,
                    cout,
                    Some(temb_dim),
                    g,
                    eps,
                )?);
                if cross {
                    let depth = c.transformer_layers_per_block.get(i);
                    attentions.push(Transformer2d::new(
                        vb.pp("attentions").pp(j),
                        c,
                        cout,
                        c.heads(i),
                        depth,
                    )?);
                }
            }
            let resample = (i + 1 < n)
                .then(|| layers::conv2d(vb.pp("downsamplers.0.conv"), cout, cout, 3, 2, true))
                .transpose()?;
            down.push(Level {
                resnets,
                attentions,
                resample,
            });
            cin = cout;
        }
        let last = n - 1;
        let mb = vb.pp("mid_block");
        let mid = (
            ResnetBlock::new(
                mb.pp("resnets.0"),
                ch[last],
                ch[last],
                Some(temb_dim),
                g,
                eps,
            )?,
            Transformer2d::new(
                mb.pp("attentions.0"),
                c,
                ch[last],
                c.heads(last),
                c.transformer_layers_per_block.get(last),
            )?,
            ResnetBlock::new(
                mb.pp("resnets.1"),
                ch[last],
                ch[last],
                Some(temb_dim),
                g,
                eps,
            )?,
        );
        let mut up = Vec::with_capacity(n);
        let mut prev = ch[last];
        for i in 0..n {
            let level = last - i;
            let vb = vb.pp("up_blocks").pp(i);
            let out = ch[level];
            let skip_in = ch[level.saturating_sub(1)];
            let cross = c.up_block_types[i].starts_with("CrossAttn");
            let mut resnets = Vec::new();
            let mut attentions = Vec::new();
            for j in 0..=c.layers_per_block {
                let skip = if j == c.layers_per_block {
                    skip_in
                } else {
                    out
                };
                let rin = if j == 0 { prev } else { out };
                resnets.push(ResnetBlock::new(
                    vb.pp("resnets").pp(j),
                    rin + skip,
                    out,
                    Some(temb_dim),
                    g,
                    eps,
                )?);
                if cross {
                    let depth = c.transformer_layers_per_block.get(level);
                    attentions.push(Transformer2d::new(
                        vb.pp("attentions").pp(j),
                        c,
                        out,
                        c.heads(level),
                        depth,
                    )?);
                }
            }
            let resample = (i < last)
                .then(|| layers::conv2d(vb.pp("upsamplers.0.conv"), out, out, 3, 1, true))
                .transpose()?;
            up.push(Level {
                resnets,
                attentions,
                resample,
            });
            prev = out;
        }
        Ok(Self {
            conv_in: layers::conv2d(vb.pp("conv_in"), c.in_channels, ch[0], 3, 1, true)?,
            time_1: layers::linear(te.pp("linear_1"), ch[0], temb_dim, true)?,
            time_2: layers::linear(te.pp("linear_2"), temb_dim, temb_dim, true)?,
            add,
            down,
            mid,
            up,
            norm_out: layers::group_norm(vb.pp("conv_norm_out"), g, ch[0], eps)?,
            conv_out: layers::conv2d(vb.pp("conv_out"), ch[0], c.out_channels, 3, 1, true)?,
            config: c.clone(),
        })
    }

    /// The configuration it was built from.
    pub fn config(&self) -> &UNetConfig {
        &self.config
    }

    /// Predicts noise (or v) for `latents` at `timestep`, conditioned on
    /// `ctx` `(batch, 77, cross_attention_dim)` and, for SDXL, `added`.
    pub fn forward(
        &self,
        latents: &Tensor,
        timestep: f64,
        ctx: &Tensor,
        added: Option<&AddedCond>,
    ) -> Result<Tensor> {
        let b = latents.dim(0)?;
        let dtype = latents.dtype();
        let dev = latents.device();
        let c0 = self.config.block_out_channels[0];
        let t = Tensor::full(timestep as f32, b, dev)?;
        let tf = timestep_features(&t, c0, self.config.flip_sin_to_cos, self.config.freq_shift)?;
        let mut temb = self.time_2.forward(&candle_nn::ops::silu(
            &self.time_1.forward(&tf.to_dtype(dtype)?)?,
        )?)?;
        if let Some((l1, l2)) = &self.add {
            let added = added.ok_or_else(|| {
                candle_core::Error::Msg(
                    "SDXL UNet needs pooled text embeddings and size ids".into(),
                )
            })?;
            let dim = self.config.addition_time_embed_dim.unwrap_or(256);
            let ids = added.time_ids.flatten_all()?;
            let tf = timestep_features(
                &ids,
                dim,
                self.config.flip_sin_to_cos,
                self.config.freq_shift,
            )?
            .reshape((b, ()))?
            .to_dtype(dtype)?;
            let x = Tensor::cat(&[added.text_embeds.to_dtype(dtype)?, tf], D::Minus1)?;
            temb = (temb + l2.forward(&candle_nn::ops::silu(&l1.forward(&x)?)?)?)?;
        }
        let temb = candle_nn::ops::silu(&temb)?;

        let mut xs = self.conv_in.forward(latents)?;
        let mut skips = vec![xs.clone()];
        for level in &self.down {
            for i in 0..level.resnets.len() {
                xs = level.run(i, &xs, &temb, ctx)?;
                skips.push(xs.clone());
            }
            if let Some(conv) = &level.resample {
                xs = conv.forward(&xs)?;
                skips.push(xs.clone());
            }
        }
        let (r0, attn, r1) = &self.mid;
        xs = r1.forward(
            &attn.forward(&r0.forward(&xs, Some(&temb))?, ctx)?,
            Some(&temb),
        )?;
        for level in &self.up {
            for i in 0..level.resnets.len() {
                let skip = skips
                    .pop()
                    .ok_or_else(|| candle_core::Error::Msg("UNet skip stack underflow".into()))?;
                xs = Tensor::cat(&[&xs, &skip], 1)?;
                xs = level.run(i, &xs, &temb, ctx)?;
            }
            if let Some(conv) = &level.resample {
                // Upsample to the next skip's size, so odd latent sizes work.
                let (_, _, h, w) = skips
                    .last()
                    .ok_or_else(|| candle_core::Error::Msg("UNet skip stack underflow".into()))?
                    .dims4()?;
                xs = conv.forward(&xs.upsample_nearest2d(h, w)?)?;
            }
        }
        self.conv_out.forward(&norm_silu(&self.norm_out, &xs)?)
    }
}
