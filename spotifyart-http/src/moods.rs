//! The mood model a command asked for. The embedding model lives in
//! spotifyart-diffusion (it runs on candle), so it is assembled here rather
//! than by the core's `model_by_name`.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use spotifyart_core::MoodModel;
use spotifyart_core::mood::{AutoModel, Member, model_by_name, reliability};
use spotifyart_diffusion::{EmbeddingModel, WeightSource};

use crate::cli::MoodModelArg;

/// `--mood-model`: `embedding` loads (downloading into the Hugging Face
/// cache when online) or fails with the files it needs; `auto` adds the
/// embedding model when its weights are already here and does without it
/// otherwise, never downloading on its own.
pub fn mood_model(arg: MoodModelArg, dir: Option<&Path>) -> Result<Arc<dyn MoodModel>> {
    match arg {
        MoodModelArg::Embedding => Ok(Arc::new(
            embedding(dir, true).context("cannot load the embedding mood model")?,
        )),
        MoodModelArg::Auto => {
            let auto = AutoModel::default();
            Ok(Arc::new(match embedding(dir, false) {
                Ok(model) => auto.with_member(Member {
                    model: Arc::new(model),
                    reliability: reliability::EMBEDDING,
                }),
                Err(e) => {
                    tracing::debug!(error = %e, "auto mood model without the embedding model");
                    auto
                }
            }))
        }
        other => Ok(model_by_name(other.name())?),
    }
}

fn embedding(dir: Option<&Path>, download: bool) -> spotifyart_core::Result<EmbeddingModel> {
    EmbeddingModel::load(&WeightSource {
        model_dir: dir.map(Path::to_path_buf),
        download,
        progress: download,
        ..Default::default()
    })
}
