//! # spotifyart-engine
//!
//! SpotifyArt assembled: one configuration ([`EngineConfig`]) and one
//! builder ([`EngineConfig::assemble`]) that the CLI, the server, the
//! workers and Python all call, so every surface paints with the same
//! models and the same defaults. The core's [`Engine`] takes its parts as
//! traits; this crate picks the production ones: Stable Diffusion on candle
//! next to the procedural palette painter, and the mood model by name from
//! the core's registry with the text encoder the `embedding` model needs.
//!
//! ```no_run
//! use std::sync::Arc;
//! use spotifyart_core::engine::subject_pair;
//! use spotifyart_core::{ArtParams, GenerationContext, InMemoryStore, read_export};
//! use spotifyart_engine::EngineConfig;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let engine = EngineConfig::default().build(Arc::new(InMemoryStore::new()))?;
//! let (a, b) = (read_export("alice.zip")?, read_export("bob.zip")?);
//! let matched = engine.match_profiles(&a, &b)?;
//! let art = engine.prepare(subject_pair(&matched, None, vec![]), &ArtParams::default())?;
//! let painted = engine.paint(&art, &GenerationContext::new()).await?;
//! painted.artwork().save("us.png".as_ref())?;
//! # Ok(()) }
//! ```
//!
//! `examples/paint_match.rs` is the same as a program with a SQLite store.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use spotifyart_core::engine::JobSettings;
use spotifyart_core::mood::TextEmbedder;
use spotifyart_core::{
    Engine, EngineBuilder, GeneratorSet, ImageGenerator, MoodModel, PalettePainter, Result, Store,
};
use spotifyart_diffusion::{DiffusionGenerator, LoadOptions, WeightSource};

pub use spotifyart_core::mood::{DEFAULT_MOOD_MODEL, MOOD_MODELS};
pub use spotifyart_diffusion::DEFAULT_MODEL;

/// Everything that decides how SpotifyArt paints, with the defaults every
/// surface shares.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// The image model requests get when they name none
    /// ([`DEFAULT_MODEL`]); `palette` needs no weights.
    pub model: String,
    /// Where Stable Diffusion weights come from and what runs them
    /// (default: the Hugging Face cache, downloading when online; the best
    /// device found).
    pub diffusion: LoadOptions,
    /// The mood model, by a name from [`MOOD_MODELS`].
    pub mood_model: String,
    /// Folder with the embedding mood model's weights (all-MiniLM-L6-v2);
    /// the Hugging Face cache when `None`.
    pub embedding_dir: Option<PathBuf>,
    /// How workers run queued jobs.
    pub jobs: JobSettings,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            model: DEFAULT_MODEL.to_string(),
            diffusion: LoadOptions {
                weights: WeightSource {
                    download: true,
                    ..WeightSource::default()
                },
                ..LoadOptions::default()
            },
            mood_model: DEFAULT_MOOD_MODEL.to_string(),
            embedding_dir: None,
            jobs: JobSettings::default(),
        }
    }
}

/// An engine to finish building (a server adds its music source), and the
/// Stable Diffusion generator inside it, for loading weights ahead of the
/// first picture.
pub struct Assembly {
    /// The engine's builder with the generators, mood model, store and job
    /// settings set.
    pub engine: EngineBuilder,
    /// The Stable Diffusion generator among the engine's generators.
    pub diffusion: Arc<DiffusionGenerator>,
}

impl EngineConfig {
    /// The engine's parts, `store` keeping what it paints. Nothing loads
    /// yet: image weights load on first use, the embedding model when its
    /// mood model is built here.
    pub fn assemble(&self, store: Arc<dyn Store>) -> Result<Assembly> {
        let (diffusion, generator) = self.generators()?;
        let engine = Engine::builder()
            .mood_model(self.build_mood_model()?)
            .store(store)
            .generator(generator)
            .jobs(self.jobs.clone());
        Ok(Assembly { engine, diffusion })
    }

    /// The engine, `store` keeping what it paints.
    pub fn build(&self, store: Arc<dyn Store>) -> Result<Engine> {
        Ok(self.assemble(store)?.engine.build())
    }

    /// Stable Diffusion first, then the palette painter, with
    /// [`Self::model`] the default.
    pub fn generators(&self) -> Result<(Arc<DiffusionGenerator>, Arc<dyn ImageGenerator>)> {
        let sd_default = spotifyart_diffusion::spec(&self.model).map(|s| s.id);
        let diffusion = Arc::new(DiffusionGenerator::new(sd_default, self.diffusion.clone())?);
        let all = GeneratorSet::new()
            .with(diffusion.clone())
            .with(Arc::new(PalettePainter))
            .default_model(&self.model);
        Ok((diffusion, Arc::new(all)))
    }

    /// The mood model named by [`Self::mood_model`].
    pub fn build_mood_model(&self) -> Result<Arc<dyn MoodModel>> {
        mood_model(&self.mood_model, self.embedding_dir.as_deref())
    }
}

/// The mood model called `name` (one of [`MOOD_MODELS`]), the `embedding`
/// one with all-MiniLM-L6-v2 from `embedding_dir` or the Hugging Face cache
/// (downloading into it when it was asked for by name; `auto` never
/// downloads). See [`spotifyart_core::mood::mood_model`].
pub fn mood_model(name: &str, embedding_dir: Option<&Path>) -> Result<Arc<dyn MoodModel>> {
    let load = |download: bool| -> Result<Arc<dyn TextEmbedder>> {
        spotifyart_diffusion::text_encoder(&WeightSource {
            model_dir: embedding_dir.map(Path::to_path_buf),
            download,
            progress: download,
            ..WeightSource::default()
        })
    };
    spotifyart_core::mood::mood_model(name, Some(&load))
}
