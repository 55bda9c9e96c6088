//! `load_export` and `Profile`: one person's listening.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};
use spotifyart_core::profile::ArtistStat;
use spotifyart_core::{ListeningProfile, TimeRange};

use crate::convert::{json, py_list, py_str, reduce, to_python};
use crate::errors::IntoPy;

/// Reads a Spotify data export: a "Download your data" folder, its `.zip`,
/// or one streaming-history `.json` file (every file name Spotify has used).
/// Files that are not listening history (playlists, library, Wrapped) are
/// skipped and noted in `Profile.notes`.
#[pyfunction]
pub fn load_export(py: Python<'_>, path: PathBuf) -> PyResult<Profile> {
    let profile = py.detach(|| spotifyart_core::read_export(&path)).py_err()?;
    Ok(Profile::from(profile))
}

/// Everything SpotifyArt knows about one person's listening: top artists
/// and tracks per time range, recent plays, behaviour, and which signals
/// (audio features, genres, names, play times, ...) it holds.
#[pyclass(module = "spotifyart", frozen, eq)]
#[derive(Clone, PartialEq)]
pub struct Profile {
    pub(crate) inner: Arc<ListeningProfile>,
}

impl From<ListeningProfile> for Profile {
    fn from(p: ListeningProfile) -> Self {
        Self { inner: Arc::new(p) }
    }
}

pub(crate) fn parse_range(range: Option<&str>) -> PyResult<Option<TimeRange>> {
    range.map(|r| r.parse::<TimeRange>()).transpose().py_err()
}

#[pymethods]
impl Profile {
    /// A profile from the JSON `spotifyart profile` writes (or `to_json`).
    /// Ranks and weights may be left out and are filled in.
    #[staticmethod]
    fn from_json(text: &str) -> PyResult<Profile> {
        ListeningProfile::from_json(text)
            .map(Profile::from)
            .py_err()
    }

    /// A profile from the dict `to_dict` returns (or one written by hand).
    #[staticmethod]
    fn from_dict(data: &Bound<'_, PyAny>) -> PyResult<Profile> {
        let value: serde_json::Value = crate::convert::from_python(data, "profile")?;
        Self::from_json(&value.to_string())
    }

    /// The profile as JSON (`indent` spaces per level; compact when None).
    #[pyo3(signature = (indent=None))]
    fn to_json(&self, indent: Option<usize>) -> PyResult<String> {
        json(&*self.inner, indent)
    }

    /// The profile as plain dicts and lists (the documented JSON schema).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &*self.inner)
    }

    /// Where it came from: `export`, `spotify_api`, `fixture`, ...
    #[getter]
    fn source(&self) -> &str {
        &self.inner.source.kind
    }

    /// Signals present (`audio_features`, `genres`, `names`, `play_times`, ...).
    #[getter]
    fn signals(&self) -> Vec<&'static str> {
        self.inner.signals.iter().map(|s| s.as_str()).collect()
    }

    /// What the reader noticed (skipped files, podcasts left out, ...).
    #[getter]
    fn notes(&self) -> Vec<String> {
        self.inner.source.notes.clone()
    }

    /// First and last listening covered, when known.
    #[getter]
    fn period(&self) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        self.inner.period.as_ref().map(|p| (p.from, p.to))
    }

    /// Whether it holds no music listening at all.
    #[getter]
    fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }

    /// Listening behaviour (plays, skip rate, hours of day), when the
    /// source has plays.
    #[getter]
    fn behaviour<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.inner.behaviour)
    }

    /// Top artists as dicts, for one `time_range` (`short_term`,
    /// `medium_term`, `long_term`) or, by default, all ranges blended with
    /// `weight` summing to 1.
    #[pyo3(signature = (time_range=None, limit=10))]
    fn top_artists<'py>(
        &self,
        py: Python<'py>,
        time_range: Option<&str>,
        limit: usize,
    ) -> PyResult<Bound<'py, PyList>> {
        let items: Vec<ArtistStat> = match parse_range(time_range)? {
            Some(r) => self.inner.top_artists.get(r).clone(),
            None => blended(self.inner.weighted_artists(), |a, w| a.weight = w),
        };
        list(py, items.iter().take(limit))
    }

    /// Top tracks as dicts, like `top_artists`.
    #[pyo3(signature = (time_range=None, limit=10))]
    fn top_tracks<'py>(
        &self,
        py: Python<'py>,
        time_range: Option<&str>,
        limit: usize,
    ) -> PyResult<Bound<'py, PyList>> {
        let items = match parse_range(time_range)? {
            Some(r) => self.inner.top_tracks.get(r).clone(),
            None => blended(self.inner.weighted_tracks(), |t, w| t.weight = w),
        };
        list(py, items.iter().take(limit))
    }

    /// The same profile with only one time range's lists.
    fn only(&self, time_range: &str) -> PyResult<Profile> {
        let range = parse_range(Some(time_range))?.expect("given");
        Ok(Profile::from(self.inner.only(range)))
    }

    fn __repr__(&self) -> String {
        let p = &*self.inner;
        let period = p
            .period
            .as_ref()
            .map(|p| {
                format!(
                    ", period='{}..{}'",
                    p.from.format("%Y-%m-%d"),
                    p.to.format("%Y-%m-%d")
                )
            })
            .unwrap_or_default();
        format!(
            "Profile(source={}, artists={}, tracks={}, signals={}{period})",
            py_str(&p.source.kind),
            p.weighted_artists().len(),
            p.weighted_tracks().len(),
            py_list(self.signals()),
        )
    }

    fn _repr_html_(&self) -> String {
        crate::html::profile(&self.inner)
    }

    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let text = json(&*self.inner, None)?;
        reduce(py, "Profile", vec![text.into_pyobject(py)?.into_any()])
    }
}

/// Items with their blended weight written in.
fn blended<T: Clone>(items: Vec<(&T, f32)>, set: impl Fn(&mut T, f32)) -> Vec<T> {
    items
        .into_iter()
        .map(|(item, w)| {
            let mut item = item.clone();
            set(&mut item, w);
            item
        })
        .collect()
}

fn list<'py, 'a, T: serde::Serialize + 'a>(
    py: Python<'py>,
    items: impl Iterator<Item = &'a T>,
) -> PyResult<Bound<'py, PyList>> {
    let out = PyList::empty(py);
    for item in items {
        out.append(to_python(py, item)?)?;
    }
    Ok(out)
}
