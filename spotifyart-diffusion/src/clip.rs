//! The CLIP text encoder (Hugging Face `CLIPTextModel` and
//! `CLIPTextModelWithProjection`), reading `text_encoder*/model.safetensors`
//! as diffusers writes them.

use candle_core::{D, DType, Device, IndexOp, Module, Result, Tensor};
use candle_nn::LayerNorm;
use serde::{Deserialize, Serialize};

use crate::layer_weights::LayerWeights;
use crate::layers::Linear;
use crate::layers::{self, attention, merge_heads, split_heads};

/// The fields of a `text_encoder/config.json` the encoder needs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClipConfig {
    /// Token vocabulary.
    pub vocab_size: usize,
    /// Width of the residual stream.
    pub hidden_size: usize,
    /// Width of the MLP.
    pub intermediate_size: usize,
    /// Transformer layers.
    pub num_hidden_layers: usize,
    /// Attention heads.
    pub num_attention_heads: usize,
    /// Positions (77).
    pub max_position_embeddings: usize,
    /// `quick_gelu` (OpenAI CLIP) or `gelu` (OpenCLIP).
    pub hidden_act: String,
    /// Width of the pooled projection (SDXL's second encoder).
    #[serde(default)]
    pub projection_dim: Option<usize>,
}

impl ClipConfig {
    /// OpenAI CLIP ViT-L/14, SD 1.x's encoder and SDXL's first.
    pub fn vit_l() -> Self {
        Self::new(768, 3072, 12, 12, "quick_gelu", Some(768))
    }
    /// OpenCLIP ViT-H/14 cut to 23 layers, SD 2.x's encoder.
    pub fn vit_h() -> Self {
        Self::new(1024, 4096, 23, 16, "gelu", Some(512))
    }
    /// OpenCLIP ViT-bigG/14, SDXL's second encoder.
    pub fn vit_big_g() -> Self {
        Self::new(1280, 5120, 32, 20, "gelu", Some(1280))
    }
    /// A tiny encoder for the randomly initialised test pipelines.
    pub fn tiny(hidden: usize) -> Self {
        Self::new(hidden, hidden * 2, 2, 2, "gelu", Some(hidden))
    }

    fn new(
        h: usize,
        i: usize,
        layers: usize,
        heads: usize,
        act: &str,
        proj: Option<usize>,
    ) -> Self {
        Self {
            vocab_size: 49408,
            hidden_size: h,
            intermediate_size: i,
            num_hidden_layers: layers,
            num_attention_heads: heads,
            max_position_embeddings: 77,
            hidden_act: act.into(),
            projection_dim: proj,
        }
    }
}

#[derive(Debug)]
struct EncoderLayer {
    ln1: LayerNorm,
    q: Linear,
    k: Linear,
    v: Linear,
    out: Linear,
    ln2: LayerNorm,
    fc1: Linear,
    fc2: Linear,
    heads: usize,
    quick_gelu: bool,
}

impl EncoderLayer {
    fn new(vb: LayerWeights, c: &ClipConfig) -> Result<Self> {
        let h = c.hidden_size;
        let a = vb.pp("self_attn");
        Ok(Self {
            ln1: layers::layer_norm(vb.pp("layer_norm1"), h, 1e-5)?,
            q: layers::linear(a.pp("q_proj"), h, h, true)?,
            k: layers::linear(a.pp("k_proj"), h, h, true)?,
            v: layers::linear(a.pp("v_proj"), h, h, true)?,
            out: layers::linear(a.pp("out_proj"), h, h, true)?,
            ln2: layers::layer_norm(vb.pp("layer_norm2"), h, 1e-5)?,
            fc1: layers::linear(vb.pp("mlp").pp("fc1"), h, c.intermediate_size, true)?,
            fc2: layers::linear(vb.pp("mlp").pp("fc2"), c.intermediate_size, h, true)?,
            heads: c.num_attention_heads,
            quick_gelu: c.hidden_act == "quick_gelu",
        })
    }

    fn forward(&self, xs: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let h = self.ln1.forward(xs)?;
        let q = split_heads(&self.q.forward(&h)?, self.heads)?;
        let k = split_heads(&self.k.forward(&h)?, self.heads)?;
        let v = split_heads(&self.v.forward(&h)?, self.heads)?;
        let a = merge_heads(&attention(&q, &k, &v, Some(mask))?)?;
        let xs = (xs + self.out.forward(&a)?)?;
        let h = self.fc1.forward(&self.ln2.forward(&xs)?)?;
        let h = if self.quick_gelu {
            (&h * candle_nn::ops::sigmoid(&(&h * 1.702)?)?)?
        } else {
            h.gelu_erf()?
        };
        xs + self.fc2.forward(&h)?
    }
}

/// What a prompt encodes to.
#[derive(Debug)]
pub struct TextEmbedding {
    /// Output of the final layer norm: SD 1.x and 2.x condition on it.
    pub last: Tensor,
    /// Output of the second-to-last layer, before any norm: SDXL's choice.
    pub penultimate: Tensor,
    /// The projected end-of-text state (encoders with a projection only).
    pub pooled: Option<Tensor>,
}

/// A CLIP text transformer.
#[derive(Debug)]
pub struct ClipTextModel {
    tokens: layers::Embedding,
    positions: Tensor,
    layers: Vec<EncoderLayer>,
    final_norm: LayerNorm,
    projection: Option<Linear>,
}

impl ClipTextModel {
    /// Builds the encoder from `vb` (the root of `model.safetensors`);
    /// `with_projection` adds `text_projection` for pooled output.
    pub fn new<'a>(
        vb: impl Into<LayerWeights<'a>>,
        c: &ClipConfig,
        with_projection: bool,
    ) -> Result<Self> {
        let vb = vb.into();
        // transformers 5 saves without the `text_model.` prefix that the
        // Hub's files (written by earlier versions) carry.
        let bare = !vb.contains_tensor("text_model.embeddings.token_embedding.weight")
            && vb.contains_tensor("embeddings.token_embedding.weight");
        let tm = if bare {
            vb.clone()
        } else {
            vb.pp("text_model")
        };
        let emb = tm.pp("embeddings");
        let tokens = layers::embedding(emb.pp("token_embedding"), c.vocab_size, c.hidden_size)?;
        let positions = emb
            .pp("position_embedding")
            .get((c.max_position_embeddings, c.hidden_size), "weight")?;
        let layers = (0..c.num_hidden_layers)
            .map(|i| EncoderLayer::new(tm.pp("encoder").pp("layers").pp(i), c))
            .collect::<Result<_>>()?;
        let final_norm = layers::layer_norm(tm.pp("final_layer_norm"), c.hidden_size, 1e-5)?;
        let projection = if with_projection {
            let dim = c.projection_dim.unwrap_or(c.hidden_size);
            Some(layers::linear(
                vb.pp("text_projection"),
                c.hidden_size,
                dim,
                false,
            )?)
        } else {
            None
        };
        Ok(Self {
            tokens,
            positions,
            layers,
            final_norm,
            projection,
        })
    }

    /// Encodes `(batch, 77)` token ids.
    pub fn forward(&self, ids: &Tensor) -> Result<TextEmbedding> {
        let (_, n) = ids.dims2()?;
        let dtype = self.positions.dtype();
        let xs = self.tokens.forward(ids)?;
        let mut xs = xs.broadcast_add(&self.positions.narrow(0, 0, n)?.unsqueeze(0)?)?;
        let mask = causal_mask(n, xs.device(), dtype)?;
        let mut penultimate = xs.clone();
        for (i, layer) in self.layers.iter().enumerate() {
            xs = layer.forward(&xs, &mask)?;
            if i + 2 == self.layers.len() {
                penultimate = xs.clone();
            }
        }
        let last = self.final_norm.forward(&xs)?;
        let pooled = match &self.projection {
            None => None,
            Some(proj) => {
                // End-of-text has the largest id, so its position is the argmax.
                let eot = ids.argmax(D::Minus1)?.to_vec1::<u32>()?;
                let rows = eot
                    .iter()
                    .enumerate()
                    .map(|(b, &p)| last.i((b, p as usize)))
                    .collect::<Result<Vec<_>>>()?;
                Some(proj.forward(&Tensor::stack(&rows, 0)?)?)
            }
        };
        Ok(TextEmbedding {
            last,
            penultimate,
            pooled,
        })
    }
}

fn causal_mask(n: usize, device: &Device, dtype: DType) -> Result<Tensor> {
    let mask: Vec<f32> = (0..n)
        .flat_map(|i| (0..n).map(move |j| if j > i { f32::NEG_INFINITY } else { 0.0 }))
        .collect();
    Tensor::from_vec(mask, (n, n), device)?.to_dtype(dtype)
}
