//! `mood`, `Mood`, and mood models: the built-in ones by name, or any
//! Python object with a `mood(profile)` method.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyTuple};
use spotifyart_core::mood::{DEFAULT_MOOD_MODEL, MOOD_MODELS, Mood as CoreMood};
use spotifyart_core::{Error, ListeningProfile, MoodModel, Signal};

use crate::convert::{json, py_str, reduce, to_python};
use crate::errors::IntoPy;
use crate::profile::{Profile, parse_range};

/// The mood of one person's listening: a point on the valence/arousal
/// plane, with its label, palette and the model's confidence.
#[pyfunction]
#[pyo3(signature = (profile, model=None, *, time_range=None, embedding_model_dir=None))]
pub fn mood(
    py: Python<'_>,
    profile: PyRef<'_, Profile>,
    model: Option<&Bound<'_, PyAny>>,
    time_range: Option<&str>,
    embedding_model_dir: Option<PathBuf>,
) -> PyResult<Mood> {
    let model = resolve(py, model, embedding_model_dir.as_deref())?;
    let mut p = profile.inner.clone();
    if let Some(range) = parse_range(time_range)? {
        p = Arc::new(p.only(range));
    }
    run(py, &model, &p).map(Mood::from)
}

/// The built-in mood models' names (`auto` combines every model whose
/// signals a profile has).
#[pyfunction]
pub fn mood_models() -> Vec<&'static str> {
    MOOD_MODELS.iter().map(|m| m.name).collect()
}

/// Runs a mood model with the GIL released (a Python model takes it back
/// for its own call).
pub(crate) fn run(
    py: Python<'_>,
    model: &Arc<dyn MoodModel>,
    profile: &ListeningProfile,
) -> PyResult<CoreMood> {
    py.detach(|| model.mood(profile)).py_err()
}

/// The model `arg` means: None (auto), a built-in's name, or a Python
/// object with a `mood(profile)` method. Built-ins are loaded once per
/// process and shared.
pub(crate) fn resolve(
    py: Python<'_>,
    arg: Option<&Bound<'_, PyAny>>,
    embedding_dir: Option<&Path>,
) -> PyResult<Arc<dyn MoodModel>> {
    let name = match arg {
        None => DEFAULT_MOOD_MODEL.to_string(),
        Some(a) if a.is_instance_of::<PyString>() => a.extract::<String>()?,
        Some(a) if a.hasattr("mood")? => return Ok(Arc::new(PyMoodModel::new(a)?)),
        Some(a) => {
            return Err(crate::errors::to_py(Error::invalid(format!(
                "model must be a mood model's name ({}) or an object with a mood(profile) method, not {}",
                mood_models().join(", "),
                a.get_type().name()?
            ))));
        }
    };
    type Loaded = Vec<((String, Option<PathBuf>), Arc<dyn MoodModel>)>;
    static LOADED: Mutex<Loaded> = Mutex::new(Vec::new());
    let key = (name, embedding_dir.map(Path::to_path_buf));
    if let Some((_, m)) = LOADED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .find(|(k, _)| *k == key)
    {
        return Ok(m.clone());
    }
    let model = py
        .detach(|| spotifyart_engine::mood_model(&key.0, key.1.as_deref()))
        .py_err()?;
    LOADED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push((key, model.clone()));
    Ok(model)
}

/// A Python object used as a mood model. Its `mood(profile)` returns a
/// `Mood`, a `(valence, arousal[, confidence])` tuple or a dict with
/// `valence`, `arousal` and optionally `confidence`; its optional `name`
/// and `signals` attributes describe it. A tuple or dict is credited with
/// the declared signals the profile has (none when its confidence is 0).
#[derive(Debug)]
struct PyMoodModel {
    obj: Py<PyAny>,
    name: String,
    signals: Vec<Signal>,
}

impl PyMoodModel {
    fn new(obj: &Bound<'_, PyAny>) -> PyResult<Self> {
        let name = match obj.getattr_opt("name")? {
            Some(n) if n.is_instance_of::<PyString>() => n.extract()?,
            _ => obj.get_type().name()?.to_string(),
        };
        let signals = match obj.getattr_opt("signals")? {
            Some(s) if !s.is_none() => parse_signals(s.extract()?)?,
            _ => Vec::new(),
        };
        Ok(Self {
            obj: obj.clone().unbind(),
            name,
            signals,
        })
    }
}

impl MoodModel for PyMoodModel {
    fn name(&self) -> &str {
        &self.name
    }

    fn signals(&self) -> &[Signal] {
        &self.signals
    }

    fn mood(&self, profile: &ListeningProfile) -> spotifyart_core::Result<CoreMood> {
        Python::attach(|py| {
            let arg = Profile::from(profile.clone());
            let out = self.obj.call_method1(py, "mood", (arg,))?;
            mood_from_python(out.bind(py), &self.name, &self.signals, profile)
        })
        .map_err(|e| Error::Model {
            message: format!("mood model {:?} raised {e}", self.name),
            source: Some(Box::new(e)),
        })
    }
}

fn mood_from_python(
    out: &Bound<'_, PyAny>,
    model: &str,
    signals: &[Signal],
    profile: &ListeningProfile,
) -> PyResult<CoreMood> {
    if let Ok(m) = out.cast::<Mood>() {
        return Ok(m.get().inner.clone());
    }
    let point = if let Ok(d) = out.cast::<PyDict>() {
        let get = |k: &str| -> PyResult<Option<f32>> {
            d.get_item(k)?.map(|v| v.extract::<f32>()).transpose()
        };
        match (get("valence")?, get("arousal")?) {
            (Some(v), Some(a)) => Some((v, a, get("confidence")?.unwrap_or(1.0))),
            _ => None,
        }
    } else if let Ok(t) = out.extract::<(f32, f32, f32)>() {
        Some(t)
    } else if let Ok((v, a)) = out.extract::<(f32, f32)>() {
        Some((v, a, 1.0))
    } else {
        None
    };
    let Some((v, a, c)) = point else {
        return Err(pyo3::exceptions::PyTypeError::new_err(format!(
            "mood() returned {}; return a spotifyart.Mood, a (valence, arousal[, confidence]) \
             tuple or a dict with valence and arousal",
            out.get_type().name()?
        )));
    };
    // A point says nothing of the signals behind it: credit the declared
    // signals the profile has, and none to an answer without confidence
    // (the neutral mood, for a profile the model cannot read), as the core
    // models do.
    let used = if c > 0.0 {
        signals
            .iter()
            .copied()
            .filter(|s| profile.has(*s))
            .collect()
    } else {
        Vec::new()
    };
    Ok(CoreMood::new(v, a, c, used, model))
}

fn parse_signals(names: Vec<String>) -> PyResult<Vec<Signal>> {
    names
        .into_iter()
        .map(|n| {
            serde_json::from_value::<Signal>(serde_json::Value::String(n.clone())).map_err(|_| {
                Error::invalid(format!(
                    "unknown signal {n:?}; signals are audio_features, genres, popularity, \
                     names, release_dates, covers, play_times, skips"
                ))
            })
        })
        .collect::<spotifyart_core::Result<_>>()
        .py_err()
}

/// Where someone's listening sits emotionally: `valence` (sad to happy)
/// and `arousal` (calm to excited), each in [-1, 1], a `confidence` in
/// [0, 1], the named `label`, a five-colour `palette` and the words the
/// prompt uses. `Mood(valence, arousal)` makes one by hand (for your own
/// mood model).
#[pyclass(module = "spotifyart", frozen, eq)]
#[derive(Clone, PartialEq)]
pub struct Mood {
    pub(crate) inner: CoreMood,
}

impl From<CoreMood> for Mood {
    fn from(inner: CoreMood) -> Self {
        Self { inner }
    }
}

#[pymethods]
impl Mood {
    /// A mood whose model estimated this point; label, palette and words
    /// follow from it. A model the calibration knows (`auto`, `genres`,
    /// `embedding`, `features`) is placed among listeners; any other stands
    /// where it is. Values outside the plane are clamped.
    #[new]
    #[pyo3(signature = (valence, arousal, confidence=1.0, signals=None, model="custom"))]
    fn new(
        valence: f32,
        arousal: f32,
        confidence: f32,
        signals: Option<Vec<String>>,
        model: &str,
    ) -> PyResult<Self> {
        let signals = parse_signals(signals.unwrap_or_default())?;
        Ok(CoreMood::new(valence, arousal, confidence, signals, model).into())
    }

    /// A mood from the dict `to_dict` returns.
    #[staticmethod]
    fn from_dict(data: &Bound<'_, PyAny>) -> PyResult<Self> {
        let inner: CoreMood = crate::convert::from_python(data, "mood")?;
        Ok(Self { inner })
    }

    /// Negative (sad, angry) to positive (happy), in [-1, 1]: where this
    /// listener stands among listeners (twice their percentile minus one).
    #[getter]
    fn valence(&self) -> f32 {
        self.inner.valence
    }
    /// Calm to excited, in [-1, 1], placed among listeners the same way.
    #[getter]
    fn arousal(&self) -> f32 {
        self.inner.arousal
    }
    /// The model's own (valence, arousal) before placing it among
    /// listeners: Spotify's valence and energy scales mapped to [-1, 1].
    #[getter]
    fn raw(&self) -> (f32, f32) {
        (self.inner.raw.valence, self.inner.raw.arousal)
    }
    /// How much the model trusts this point, in [0, 1] (0: no signal).
    #[getter]
    fn confidence(&self) -> f32 {
        self.inner.confidence
    }
    /// The named region of the plane (`euphoric`, `tender`, `brooding`, ...).
    #[getter]
    fn label(&self) -> &'static str {
        self.inner.label.as_str()
    }
    /// Distance from neutral, in [0, 1].
    #[getter]
    fn intensity(&self) -> f32 {
        self.inner.intensity
    }
    /// Five colours as `#rrggbb`.
    #[getter]
    fn palette(&self) -> Vec<String> {
        self.inner.palette.iter().map(|s| s.color.hex()).collect()
    }
    /// The palette's colour names, in the same order.
    #[getter]
    fn palette_names(&self) -> Vec<String> {
        self.inner.palette.iter().map(|s| s.name.clone()).collect()
    }
    /// Words for the prompt.
    #[getter]
    fn descriptors(&self) -> Vec<String> {
        self.inner.descriptors.clone()
    }
    /// Signals the model used.
    #[getter]
    fn signals(&self) -> Vec<&'static str> {
        self.inner.signals.iter().map(|s| s.as_str()).collect()
    }
    /// The model that made it.
    #[getter]
    fn model(&self) -> &str {
        &self.inner.model
    }

    /// Euclidean distance to `other` on the plane, in [0, 2√2].
    fn distance(&self, other: PyRef<'_, Mood>) -> f32 {
        self.inner.distance(&other.inner)
    }

    /// The mood of the two together (confidence-weighted; symmetric).
    fn blend(&self, other: PyRef<'_, Mood>) -> Mood {
        CoreMood::blend(&self.inner, &other.inner).into()
    }

    /// The mood as plain dicts and lists.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.inner)
    }

    /// The mood as JSON.
    #[pyo3(signature = (indent=None))]
    fn to_json(&self, indent: Option<usize>) -> PyResult<String> {
        json(&self.inner, indent)
    }

    fn __repr__(&self) -> String {
        let m = &self.inner;
        format!(
            "Mood(label={}, valence={:+.2}, arousal={:+.2}, confidence={:.2}, model={})",
            py_str(m.label.as_str()),
            m.valence,
            m.arousal,
            m.confidence,
            py_str(&m.model)
        )
    }

    fn _repr_html_(&self) -> String {
        crate::html::mood(&self.inner)
    }

    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let text = json(&self.inner, None)?;
        reduce(py, "Mood", vec![text.into_pyobject(py)?.into_any()])
    }
}
