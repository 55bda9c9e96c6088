//! [`DiffusionGenerator`]: the [`ImageGenerator`] the CLI, the server and
//! Python use. Pipelines load on first use, once per model, and are shared
//! by every later request and worker thread.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use spotifyart_core::{
    ArtRequest, Error, GeneratedImage, GenerationContext, ImageGenerator, ModelInfo, Result, Stage,
};

use crate::models::{self, ModelSpec};
use crate::pipeline::{LoadOptions, Pipeline};

type Slot = Arc<Mutex<Option<Arc<Pipeline>>>>;

/// Stable Diffusion behind the core's generator trait.
#[derive(Debug)]
pub struct DiffusionGenerator {
    options: LoadOptions,
    default_model: &'static ModelSpec,
    slots: Mutex<HashMap<&'static str, Slot>>,
}

impl DiffusionGenerator {
    /// A generator whose default model is `default_model`
    /// ([`models::DEFAULT_MODEL`] when `None`). Nothing loads until the
    /// first request.
    pub fn new(default_model: Option<&str>, options: LoadOptions) -> Result<Self> {
        let id = default_model.unwrap_or(models::DEFAULT_MODEL);
        let default_model = models::spec(id).ok_or_else(|| {
            let ids: Vec<_> = models::specs().iter().map(|s| s.id).collect();
            Error::invalid(format!(
                "unknown image model {id:?}; choose one of {}",
                ids.join(", ")
            ))
        })?;
        Ok(Self {
            options,
            default_model,
            slots: Mutex::new(HashMap::new()),
        })
    }

    /// The pipeline for `id`, loading it if this is its first use.
    /// Concurrent callers for the same model wait for one load; a failed
    /// load is retried by the next caller.
    pub fn pipeline(&self, id: &str, ctx: &GenerationContext) -> Result<Arc<Pipeline>> {
        let spec = models::spec(id)
            .ok_or_else(|| Error::invalid(format!("unknown image model {id:?}")))?;
        let slot = self
            .slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(spec.id)
            .or_default()
            .clone();
        let mut slot = slot.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(p) = slot.as_ref() {
            return Ok(p.clone());
        }
        ctx.report(Stage::Loading, 0, 1)?;
        let started = std::time::Instant::now();
        let p = Arc::new(Pipeline::load(spec, &self.options)?);
        tracing::info!(model = spec.id, device = ?p.device(), seconds = started.elapsed().as_secs_f32(), "model loaded");
        *slot = Some(p.clone());
        ctx.report(Stage::Loading, 1, 1)?;
        Ok(p)
    }
}

impl ImageGenerator for DiffusionGenerator {
    fn models(&self) -> Vec<ModelInfo> {
        let mut v = vec![self.default_model.info()];
        v.extend(
            models::specs()
                .iter()
                .filter(|s| s.id != self.default_model.id)
                .map(ModelSpec::info),
        );
        v
    }

    fn generate(&self, request: &ArtRequest, ctx: &GenerationContext) -> Result<GeneratedImage> {
        self.pipeline(&request.model, ctx)?.generate(request, ctx)
    }
}
