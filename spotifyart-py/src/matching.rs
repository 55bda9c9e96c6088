//! `match` and `Match`: two people compared.

use std::path::PathBuf;

use pyo3::prelude::*;
use pyo3::types::PyTuple;
use spotifyart_core::{MatchResult, Matcher};

use crate::convert::{json, py_list, py_str, reduce, to_python};
use crate::mood::{Mood, resolve, run};
use crate::profile::Profile;

/// Compares two people: a symmetric 0-100 score with the reasons behind it
/// (shared artists and genres, how close their moods are) and the mood of
/// the two together.
#[pyfunction(name = "match")]
#[pyo3(signature = (a, b, model=None, *, embedding_model_dir=None))]
pub fn match_profiles(
    py: Python<'_>,
    a: PyRef<'_, Profile>,
    b: PyRef<'_, Profile>,
    model: Option<&Bound<'_, PyAny>>,
    embedding_model_dir: Option<PathBuf>,
) -> PyResult<Match> {
    let model = resolve(py, model, embedding_model_dir.as_deref())?;
    let (a, b) = (a.inner.clone(), b.inner.clone());
    let ma = run(py, &model, &a)?;
    let mb = run(py, &model, &b)?;
    let result = py.detach(|| Matcher::default().compare(&a, &ma, &b, &mb));
    Ok(Match { inner: result })
}

/// Two people's match: `score` (0-100), `reasons`, what they share, both
/// moods and the `blended` one a picture of the two paints.
#[pyclass(module = "spotifyart", frozen, eq)]
#[derive(Clone, PartialEq)]
pub struct Match {
    pub(crate) inner: MatchResult,
}

#[pymethods]
impl Match {
    /// A match from the dict `to_dict` returns.
    #[staticmethod]
    fn from_dict(data: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(Self {
            inner: crate::convert::from_python(data, "match")?,
        })
    }

    /// Compatibility, 0-100; the same whichever way round.
    #[getter]
    fn score(&self) -> u8 {
        self.inner.score
    }
    /// Sentences explaining the score, most important first.
    #[getter]
    fn reasons(&self) -> Vec<String> {
        self.inner.reasons.clone()
    }
    /// The reasons as one paragraph.
    #[getter]
    fn explanation(&self) -> String {
        self.inner.explanation()
    }
    /// Artists both listen to, most shared first.
    #[getter]
    fn shared_artists(&self) -> Vec<String> {
        self.inner
            .shared_artists
            .iter()
            .map(|s| s.name.clone())
            .collect()
    }
    /// Genres both listen to, most shared first.
    #[getter]
    fn shared_genres(&self) -> Vec<String> {
        self.inner
            .shared_genres
            .iter()
            .map(|s| s.name.clone())
            .collect()
    }
    /// Tracks in both people's top lists.
    #[getter]
    fn shared_tracks(&self) -> Vec<String> {
        self.inner.shared_tracks.clone()
    }
    /// Distance between the two moods on the plane.
    #[getter]
    fn mood_distance(&self) -> f32 {
        self.inner.mood_distance
    }
    /// The first person's mood.
    #[getter]
    fn mood_a(&self) -> Mood {
        self.inner.mood_a.clone().into()
    }
    /// The second person's mood.
    #[getter]
    fn mood_b(&self) -> Mood {
        self.inner.mood_b.clone().into()
    }
    /// The mood of the two together.
    #[getter]
    fn blended(&self) -> Mood {
        self.inner.blended.clone().into()
    }
    /// What the score is made of (`artists`, `genres`, `mood`; None where
    /// a part had nothing to compare).
    #[getter]
    fn components<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.inner.components)
    }

    /// The match as plain dicts and lists.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.inner)
    }

    /// The match as JSON.
    #[pyo3(signature = (indent=None))]
    fn to_json(&self, indent: Option<usize>) -> PyResult<String> {
        json(&self.inner, indent)
    }

    fn __repr__(&self) -> String {
        format!(
            "Match(score={}, shared_artists={}, mood_a={}, mood_b={}, blended={})",
            self.inner.score,
            py_list(self.shared_artists().into_iter().take(3)),
            py_str(self.inner.mood_a.label.as_str()),
            py_str(self.inner.mood_b.label.as_str()),
            py_str(self.inner.blended.label.as_str())
        )
    }

    fn _repr_html_(&self) -> String {
        crate::html::matched(&self.inner)
    }

    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let text = json(&self.inner, None)?;
        reduce(py, "Match", vec![text.into_pyobject(py)?.into_any()])
    }
}
