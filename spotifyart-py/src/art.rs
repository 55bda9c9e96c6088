//! `Generator` (Stable Diffusion on candle, in this process) and `Artwork`.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString, PyTuple};
use spotifyart_core::engine::{subject_one, subject_pair};
use spotifyart_core::{
    ArtOutcome, ArtParams, Artwork as CoreArtwork, ArtworkMeta, ContentKey, Engine, Error,
    GeneratorSet, ImageGenerator, ImageGeneratorExt, InMemoryStore, PalettePainter, PreparedArt,
    Style,
};
use spotifyart_diffusion::{DeviceChoice, DiffusionGenerator, LoadOptions, WeightSource};

use crate::convert::{json, py_str, reduce, to_python};
use crate::errors::{IntoPy, to_py};
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
    /// `cuda[:N]`, `metal[:N]`. `store`: where pictures are kept (in memory
    /// when None). `progress`: None/True (tqdm or a text bar), False,
    /// `"plain"`, `"tqdm"` or a callable `fn(stage, step, total)`.
    #[new]
    #[pyo3(signature = (model="sd-turbo", model_dir=None, device=None, *, decoder=None, scheduler=None, offline=false, store=None, progress=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        model: &str,
        model_dir: Option<PathBuf>,
        device: Option<&str>,
        decoder: Option<&str>,
        scheduler: Option<&str>,
        offline: bool,
        store: Option<PyRef<'_, Store>>,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<Self> {
        let device = parse::<DeviceChoice>(device)?.unwrap_or_default();
        let options = LoadOptions {
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
        };
        let diffusion_default = spotifyart_diffusion::spec(model).map(|s| s.id);
        let diffusion = Arc::new(DiffusionGenerator::new(diffusion_default, options).py_err()?);
        let generator: Arc<dyn ImageGenerator> = Arc::new(
            GeneratorSet::new()
                .with(diffusion.clone())
                .with(Arc::new(PalettePainter)),
        );
        let info = generator.model_info(Some(model)).py_err()?;
        let mut builder = Engine::builder().generator(generator);
        builder = match &store {
            Some(s) => builder.store(s.inner.clone()),
            None => builder.store(Arc::new(InMemoryStore::new())),
        };
        Ok(Self {
            engine: Arc::new(builder.build()),
            diffusion,
            model: info.id,
            device,
            progress,
            store: store.map(|s| s.url.clone()),
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
            style: style.map(str::parse::<Style>).transpose().py_err()?,
        };
        let prepared = self.prepare(subject, &params, negative_prompt)?;
        let watch = self.watch(py, progress)?;
        let ctx = watch.context();
        let engine = self.engine.clone();
        let (art, reused) = wait(py, &watch, async move {
            let outcome = engine.paint(&prepared, &ctx).await?;
            let art = engine.store().artwork(outcome.meta().id).await?;
            Ok((art, matches!(outcome, ArtOutcome::Reused(_))))
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

    fn prepare(
        &self,
        subject: &Bound<'_, PyAny>,
        params: &ArtParams,
        negative: Option<String>,
    ) -> PyResult<PreparedArt> {
        let mut prepared = if let Ok(m) = subject.cast::<Match>() {
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
        if let Some(negative) = negative {
            prepared.request.negative_prompt = negative;
            prepared.key = ContentKey::of(&prepared.subject, &prepared.request);
        }
        Ok(prepared)
    }
}

/// A painted picture with how it was made. Shows itself in Jupyter;
/// `image()` is a `PIL.Image`, `png` the bytes, `save(path)` writes them.
#[pyclass(module = "spotifyart", frozen)]
pub struct Artwork {
    art: Arc<CoreArtwork>,
    reused: bool,
}

#[pymethods]
impl Artwork {
    /// The artwork's id in its store.
    #[getter]
    fn id(&self) -> String {
        self.art.meta.id.to_string()
    }
    /// The key of everything that shaped it (moods, prompt, settings, model).
    #[getter]
    fn content_key(&self) -> String {
        self.art.meta.content_key.to_string()
    }
    /// The PNG.
    #[getter]
    fn png<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.art.png)
    }
    /// Whether it was found in the store rather than painted by this call.
    #[getter]
    fn reused(&self) -> bool {
        self.reused
    }
    /// What was painted.
    #[getter]
    fn prompt(&self) -> &str {
        &self.art.meta.request.prompt
    }
    /// What was avoided.
    #[getter]
    fn negative_prompt(&self) -> &str {
        &self.art.meta.request.negative_prompt
    }
    /// The seed.
    #[getter]
    fn seed(&self) -> u64 {
        self.art.meta.request.seed
    }
    /// Denoising steps.
    #[getter]
    fn steps(&self) -> u32 {
        self.art.meta.request.steps
    }
    /// Guidance scale.
    #[getter]
    fn guidance(&self) -> f32 {
        self.art.meta.request.guidance
    }
    /// Width in pixels.
    #[getter]
    fn width(&self) -> u32 {
        self.art.meta.width
    }
    /// Height in pixels.
    #[getter]
    fn height(&self) -> u32 {
        self.art.meta.height
    }
    /// The model that painted it.
    #[getter]
    fn model(&self) -> &str {
        &self.art.meta.request.model
    }
    /// When it was stored.
    #[getter]
    fn created_at(&self) -> DateTime<Utc> {
        self.art.meta.created_at
    }
    /// How long painting took, in milliseconds.
    #[getter]
    fn generation_ms(&self) -> u64 {
        self.art.meta.generation_ms
    }
    /// SHA-256 of the PNG (hex).
    #[getter]
    fn sha256(&self) -> &str {
        &self.art.meta.sha256
    }

    /// The picture as a `PIL.Image` (needs Pillow).
    fn image<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let image = py.import("PIL.Image").map_err(|_| {
            pyo3::exceptions::PyImportError::new_err(
                "Artwork.image() needs Pillow: pip install pillow (Artwork.png has the PNG bytes)",
            )
        })?;
        let buffer = py
            .import("io")?
            .call_method1("BytesIO", (PyBytes::new(py, &self.art.png),))?;
        let img = image.call_method1("open", (buffer,))?;
        img.call_method0("load")?;
        let info = img.getattr("info")?;
        info.set_item("spotifyart.artwork_id", self.id())?;
        info.set_item("spotifyart.prompt", self.prompt())?;
        info.set_item("spotifyart.model", self.model())?;
        info.set_item("spotifyart.seed", self.seed())?;
        Ok(img)
    }

    /// Writes the PNG to `path` (through a temporary file, so a crash never
    /// leaves half a picture).
    fn save(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        let art = self.art.clone();
        py.detach(|| art.save(&path)).py_err()
    }

    /// The metadata as plain dicts (everything but the PNG).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let d = to_python(py, &self.art.meta)?;
        d.set_item("reused", self.reused)?;
        Ok(d)
    }

    fn __repr__(&self) -> String {
        format!(
            "Artwork(id='{}', model={}, width={}, height={}, seed={}, steps={}, reused={})",
            self.art.meta.id,
            py_str(&self.art.meta.request.model),
            self.art.meta.width,
            self.art.meta.height,
            self.art.meta.request.seed,
            self.art.meta.request.steps,
            if self.reused { "True" } else { "False" }
        )
    }

    fn _repr_png_<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        self.png(py)
    }

    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let meta = json(&self.art.meta, None)?;
        reduce(
            py,
            "Artwork",
            vec![
                meta.into_pyobject(py)?.into_any(),
                PyBytes::new(py, &self.art.png).into_any(),
                self.reused.into_pyobject(py)?.to_owned().into_any(),
            ],
        )
    }

    /// Rebuilds a pickled artwork (what `__reduce__` wrote).
    #[staticmethod]
    fn _restore(meta: &Bound<'_, PyAny>, png: Vec<u8>, reused: bool) -> PyResult<Self> {
        let text: String = meta.extract()?;
        let meta: ArtworkMeta = serde_json::from_str(&text)
            .map_err(|e| to_py(Error::invalid(format!("artwork metadata: {e}"))))?;
        Ok(Self::new(CoreArtwork { meta, png }, reused))
    }
}

impl Artwork {
    pub(crate) fn new(art: CoreArtwork, reused: bool) -> Self {
        Self {
            art: Arc::new(art),
            reused,
        }
    }

    fn image_or_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        if py.import("PIL.Image").is_ok() {
            self.image(py)
        } else {
            Ok(self.png(py).into_any())
        }
    }
}
