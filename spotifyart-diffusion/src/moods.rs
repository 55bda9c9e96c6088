//! Every mood model by name, the embedding model included. The core's
//! `model_by_name` cannot build the embedding model (it runs on candle), so
//! the CLI, the server and Python all pick their model here.

use std::path::Path;
use std::sync::Arc;

use spotifyart_core::mood::{AutoModel, Member, model_by_name, reliability};
use spotifyart_core::{Error, MoodModel, Result};

use crate::embedding::EmbeddingModel;
use crate::weights::WeightSource;

/// Names [`mood_model`] accepts: the core's models and `embedding`.
pub const MOOD_MODEL_NAMES: [&str; 6] = [
    "auto",
    "features",
    "genres",
    "embedding",
    "covers",
    "behaviour",
];

/// The mood model called `name`. `embedding` loads all-MiniLM-L6-v2 from
/// `embedding_dir` or the Hugging Face cache (downloading into it when
/// online) or fails with the files it needs; `auto` adds the embedding
/// model when its weights are already here and does without it otherwise,
/// never downloading on its own.
pub fn mood_model(name: &str, embedding_dir: Option<&Path>) -> Result<Arc<dyn MoodModel>> {
    match name {
        "embedding" => Ok(Arc::new(embedding(embedding_dir, true).map_err(|e| {
            Error::Model {
                message: format!("cannot load the embedding mood model: {e}"),
                source: Some(Box::new(e)),
            }
        })?)),
        "auto" => {
            let auto = AutoModel::default();
            Ok(Arc::new(match embedding(embedding_dir, false) {
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
        other => model_by_name(other).map_err(|_| {
            Error::invalid(format!(
                "unknown mood model {other:?}; available: {}",
                MOOD_MODEL_NAMES.join(", ")
            ))
        }),
    }
}

fn embedding(dir: Option<&Path>, download: bool) -> Result<EmbeddingModel> {
    EmbeddingModel::load(&WeightSource {
        model_dir: dir.map(Path::to_path_buf),
        download,
        progress: download,
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cover_the_core_models_and_embedding() {
        for name in MOOD_MODEL_NAMES.iter().filter(|n| **n != "embedding") {
            assert_eq!(mood_model(name, None).unwrap().name(), *name);
        }
        let err = mood_model("magic", None).unwrap_err().to_string();
        assert!(
            err.contains("auto, features, genres, embedding, covers, behaviour"),
            "{err}"
        );
    }
}
