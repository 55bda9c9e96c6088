//! Every mood model by name: the one list the CLI, the server, Python and
//! the benchmarks choose from. The `embedding` model needs a text encoder,
//! which runs on candle outside the core, so callers that have one pass a
//! loader for it.

use std::sync::Arc;

use super::knowledge::Knowledge;
use super::{
    AutoModel, BehaviourModel, CoverModel, EmbeddingModel, FeaturesModel, GenreModel, MoodModel,
    TextEmbedder,
};
use crate::{Error, Result};

/// A mood model's name and what it reads, as `--help` shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MoodModelEntry {
    /// The name `--mood-model` and `mood_model=` take.
    pub name: &'static str,
    /// One line on what it reads.
    pub about: &'static str,
}

/// Every mood model, the default first.
pub const MOOD_MODELS: [MoodModelEntry; 6] = [
    MoodModelEntry {
        name: "auto",
        about: "Every artist by its best evidence (measured means, genres, name embedding), weighted by plays.",
    },
    MoodModelEntry {
        name: "features",
        about: "Spotify audio features (valence, energy, ...).",
    },
    MoodModelEntry {
        name: "genres",
        about: "Artist and genre tables: needs only artist names.",
    },
    MoodModelEntry {
        name: "embedding",
        about: "Text embeddings of track, album and artist names (all-MiniLM-L6-v2).",
    },
    MoodModelEntry {
        name: "covers",
        about: "Album cover colours (profiles whose covers were read; not exports).",
    },
    MoodModelEntry {
        name: "behaviour",
        about: "Listening behaviour: time of day, skips, repeats.",
    },
];

/// The mood model used when none is named.
pub const DEFAULT_MOOD_MODEL: &str = MOOD_MODELS[0].name;

/// Loads the text encoder of the `embedding` model; `download` says whether
/// it may fetch weights (only when that model was asked for by name).
pub type EmbedderLoader<'a> = &'a dyn Fn(bool) -> Result<Arc<dyn TextEmbedder>>;

/// The mood model called `name`. `embedding` loads its encoder with
/// `embedder` (downloading when needed) or fails saying why; `auto` adds
/// the embedding model when its encoder loads without downloading and does
/// without it otherwise.
pub fn mood_model(name: &str, embedder: Option<EmbedderLoader<'_>>) -> Result<Arc<dyn MoodModel>> {
    Ok(match name {
        "auto" => {
            let auto = AutoModel::default();
            let member = embedder.map(|load| {
                load(false)
                    .and_then(EmbeddingModel::new)
                    .map(|m| m.with_neighbours(&Knowledge::builtin()))
            });
            Arc::new(match member {
                Some(Ok(model)) => auto.with_estimator(Arc::new(model)),
                Some(Err(e)) => {
                    tracing::debug!(error = %e, "auto mood model without the embedding model");
                    auto
                }
                None => auto,
            })
        }
        "features" => Arc::new(FeaturesModel),
        "genres" => Arc::new(GenreModel::default()),
        "covers" => Arc::new(CoverModel),
        "behaviour" | "behavior" => Arc::new(BehaviourModel),
        "embedding" => {
            let load = embedder.ok_or_else(|| Error::NotSupported {
                message: "the embedding mood model needs a text encoder; build it with \
                          spotifyart-diffusion (the CLI, the server and Python do)"
                    .into(),
            })?;
            let model = load(true)
                .and_then(EmbeddingModel::new)
                .map_err(|e| Error::Model {
                    message: format!("cannot load the embedding mood model: {e}"),
                    source: Some(Box::new(e)),
                })?;
            Arc::new(model)
        }
        other => {
            let names: Vec<&str> = MOOD_MODELS.iter().map(|m| m.name).collect();
            return Err(Error::invalid(format!(
                "unknown mood model {other:?}; available: {}",
                names.join(", ")
            )));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_model_builds_under_its_name() {
        for entry in MOOD_MODELS.iter().filter(|m| m.name != "embedding") {
            assert_eq!(mood_model(entry.name, None).unwrap().name(), entry.name);
        }
        let err = mood_model("magic", None).unwrap_err().to_string();
        assert!(
            err.contains("auto, features, genres, embedding, covers, behaviour"),
            "{err}"
        );
    }

    #[test]
    fn embedding_without_an_encoder_says_what_it_needs() {
        let err = mood_model("embedding", None).unwrap_err().to_string();
        assert!(err.contains("text encoder"), "{err}");
    }
}
