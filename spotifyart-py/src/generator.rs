//! `Generator`: Stable Diffusion on candle (or the palette painter), in
//! this process, built by `spotifyart-engine` as the CLI and server are.

use std::path::PathBuf;
use std::sync::Arc;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyString;
use spotifyart_core::engine::{subject_one, subject_pair};
use spotifyart_core::{
    ArtParams, Engine, Error, ImageGeneratorExt, InMemoryStore, PreparedArt, Style,
};
use spotifyart_diffusion::{DeviceChoice, DiffusionGenerator, LoadOptions, WeightSource};
use spotifyart_engine::EngineConfig;

use crate::artwork::Artwork;
use crate::convert::{py_str, to_python};
use crate::errors::IntoPy;
use crate::matching::Match;
use crate::mood::Mood;
use crate::runtime::{Watch, wait};
use crate::store::Store;

fn parse<T: std::str::FromStr<Err = String>>(value: Option<&str>) -> PyResult<Option<T>> {
    value
        .map(|v| v.parse::<T>().map_err(Error::invalid))
        .transpose()
        .py_err()
}

/// Paints moods, matches and prompts with Stable Diffusion running in this
/// process on candle (or the procedural `palette` painter). Weights load on
/// first use (or `load()`), once, and stay loaded. Every picture is stored
/// under a key of everything that shaped it, so asking again returns the
/// stored one instead of painting it twice.
#[pyclass(module = "spotifyart", frozen)]
pub struct Generator {
    engine: Arc<Engine>,
    diffusion: Arc<DiffusionGenerator>,
    model: String,
    device: DeviceChoice,
    progress: Option<Py<PyAny>>,
    store: Option<String>,
}

#[pymethods]
impl Generator {
    /// `model`: `sd-turbo`, `sd-1.5`, `sd-2.1`, `sdxl`, `sdxl-turbo`, `tiny`
    /// / `tiny-xl` (random test networks: noise) or `palette`.
    /// `model_dir`: a diffusers folder; else the Hugging Face cache
    /// (downloading into it unless `offline`). `device`: `auto`, `cpu`,
    /// `cuda[:N]`, `metal[:N]`. `precision`: what CPUs multiply in, `auto`
    /// (bf16 where the CPU has AMX), `f32` or `bf16`. `store`: where pictures are kept (in memory
    /// when None). `progress`: None/True (tqdm or a text bar), False,
    /// `"plain"`, `"tqdm"` or a callable `fn(stage, step, total)`.
    #[new]
    #[pyo3(signature = (model="sd-turbo", model_dir=None, device=None, *, decoder=None, scheduler=None, precision=None, offline=false, store=None, progress=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        model: &str,
        model_dir: Option<PathBuf>,
        device: Option<&str>,
        decoder: Option<&str>,
        scheduler: Option<&str>,
        precision: Option<&str>,
        offline: bool,
        store: Option<PyRef<'_, Store>>,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<Self> {
        let device = parse::<DeviceChoice>(device)?.unwrap_or_default();
        let config = EngineConfig {
            model: model.to_string(),
            diffusion: LoadOptions {
                weights: WeightSource {
                    model_dir,
                    download: !offline,
                    progress: true,
                    cache_dir: None,
                    endpoint: None,
                },
                device,
                decoder: parse(decoder)?.unwrap_or_default(),
                scheduler: parse(scheduler)?,
                precision: parse(precision)?.unwrap_or_default(),
            },
            ..EngineConfig::default()
        };
        let store_url = store.as_ref().map(|s| s.url.clone());
        let store: Arc<dyn spotifyart_core::Store> = match &store {
            Some(s) => s.inner.clone(),
            None => Arc::new(InMemoryStore::new()),
        };
        let assembly = config.assemble(store).py_err()?;
        let engine = assembly.engine.build();
        let info = engine.generator().model_info(Some(model)).py_err()?;
        Ok(Self {
            engine: Arc::new(engine),
            diffusion: assembly.diffusion,
            model: info.id,
            device,
            progress,
            store: store_url,
        })
    }

    /// The default model's id.
    #[getter]
    fn model(&self) -> &str {
        &self.model
    }

    /// The device asked for (`auto` picks CUDA, then Metal, then the CPU).
    #[getter]
    fn device(&self) -> String {
        self.device.to_string()
    }

    /// Every model this generator offers, with its defaults and limits.
    fn models<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.engine.generator().models())
    }

    /// Loads (downloading when needed) `model`'s weights now rather than at
    /// the first picture. Ctrl-C stops waiting.
    #[pyo3(signature = (model=None, *, progress=None))]
    fn load(
        &self,
        py: Python<'_>,
        model: Option<&str>,
        progress: Option<Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let id = self
            .engine
            .generator()
            .model_info(Some(model.unwrap_or(&self.model)))
            .py_err()?
            .id;
        if spotifyart_diffusion::spec(&id).is_none() {
            return Ok(()); // the palette painter has nothing to load
        }
        let watch = self.watch(py, progress)?;
        let ctx = watch.context();
        let diffusion = self.diffusion.clone();
        wait(py, &watch, async move {
            tokio::task::spawn_blocking(move || diffusion.pipeline(&id, &ctx).map(|_| ()))
                .await
                .map_err(|e| Error::internal(format!("model loading panicked: {e}")))?
        })
    }

    /// Paints `subject` (a `Match`, a `Mood` or a prompt string) and returns
    /// the picture as a `PIL.Image` (PNG bytes when Pillow is not
    /// installed). See `paint` for the arguments.
    #[pyo3(
        signature = (subject, seed=Some(0), steps=None, *, width=None, height=None, guidance=None, negative_prompt=None, style=None, model=None, progress=None),
        text_signature = "(self, /, subject, seed=0, steps=None, *, width=None, height=None, guidance=None, negative_prompt=None, style=None, model=None, progress=None)"
    )]
    #[allow(clippy::too_many_arguments)]
    fn generate<'py>(
        &self,
        py: Python<'py>,
        subject: &Bound<'py, PyAny>,
        seed: Option<u64>,
        steps: Option<u32>,
        width: Option<u32>,
        height: Option<u32>,
        guidance: Option<f32>,
        negative_prompt: Option<String>,
        style: Option<&str>,
        model: Option<String>,
        progress: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let art = self.paint(
            py,
            subject,
            seed,
            steps,
            width,
            height,
            guidance,
            negative_prompt,
            style,
            model,
            progress,
        )?;
        art.image_or_bytes(py)
    }

    /// Paints `subject` (a `Match`, a `Mood` or a prompt string) and returns
    /// the stored `Artwork`, painted now or (`reused`) found in the store.
    /// `seed=None` derives the seed from the moods (the same people get the
    /// same picture); unset sizes, steps and guidance take the model's
    /// defaults. The GIL is released while painting; Ctrl-C cancels at the
    /// next step and raises KeyboardInterrupt.
    #[pyo3(
        signature = (subject, seed=Some(0), steps=None, *, width=None, height=None, guidance=None, negative_prompt=None, style=None, model=None, progress=None),
        text_signature = "(self, /, subject, seed=0, steps=None, *, width=None, height=None, guidance=None, negative_prompt=None, style=None, model=None, progress=None)"
    )]
    #[allow(clippy::too_many_arguments)]
    fn paint(
        &self,
        py: Python<'_>,
        subject: &Bound<'_, PyAny>,
        seed: Option<u64>,
        steps: Option<u32>,
        width: Option<u32>,
        height: Option<u32>,
        guidance: Option<f32>,
        negative_prompt: Option<String>,
        style: Option<&str>,
        model: Option<String>,
        progress: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Artwork> {
        let params = ArtParams {
            model: Some(model.unwrap_or_else(|| self.model.clone())),
            seed,
            steps,
            guidance,
            width,
            height,
            negative_prompt,
            style: style.map(str::parse::<Style>).transpose().py_err()?,
        };
        let prepared = self.prepare(subject, &params)?;
        let watch = self.watch(py, progress)?;
        let ctx = watch.context();
        let engine = self.engine.clone();
        let (art, reused) = wait(py, &watch, async move {
            let outcome = engine.paint(&prepared, &ctx).await?;
            let reused = outcome.is_reused();
            Ok((outcome.into_artwork(), reused))
        })?;
        Ok(Artwork::new(art, reused))
    }

    fn __repr__(&self) -> String {
        format!(
            "Generator(model={}, device={}, store={})",
            py_str(&self.model),
            py_str(&self.device.to_string()),
            self.store
                .as_deref()
                .map(py_str)
                .unwrap_or_else(|| "None".into())
        )
    }

    fn __reduce__(&self) -> PyResult<()> {
        Err(PyTypeError::new_err(
            "a Generator cannot be pickled: it holds loaded model weights; \
             create a new Generator(...) in the other process",
        ))
    }
}

impl Generator {
    fn watch(&self, py: Python<'_>, progress: Option<Bound<'_, PyAny>>) -> PyResult<Watch> {
        let arg = match (progress, &self.progress) {
            (Some(p), _) => p,
            (None, Some(p)) => p.bind(py).clone(),
            (None, None) => py.None().into_bound(py),
        };
        Watch::new(py, &arg)
    }

    fn prepare(&self, subject: &Bound<'_, PyAny>, params: &ArtParams) -> PyResult<PreparedArt> {
        let prepared = if let Ok(m) = subject.cast::<Match>() {
            self.engine
                .prepare(subject_pair(&m.get().inner, None, vec![]), params)
                .py_err()?
        } else if let Ok(m) = subject.cast::<Mood>() {
            self.engine
                .prepare(subject_one(None, m.get().inner.clone()), params)
                .py_err()?
        } else if let Ok(prompt) = subject.cast::<PyString>() {
            self.engine
                .prepare_prompt(&prompt.extract::<String>()?, params)
                .py_err()?
        } else {
            return Err(PyTypeError::new_err(format!(
                "generate() paints a spotifyart.Match, a spotifyart.Mood or a prompt string, not {}",
                subject.get_type().name()?
            )));
        };
        Ok(prepared)
    }
}
