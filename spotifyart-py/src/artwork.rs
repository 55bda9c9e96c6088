//! `Artwork`: a stored picture with how it was made, as Python sees it.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyTuple};
use spotifyart_core::{Artwork as CoreArtwork, ArtworkMeta, Error};

use crate::convert::{json, py_str, reduce, to_python};
use crate::errors::{IntoPy, to_py};

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

    pub(crate) fn image_or_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        if py.import("PIL.Image").is_ok() {
            self.image(py)
        } else {
            Ok(self.png(py).into_any())
        }
    }
}
