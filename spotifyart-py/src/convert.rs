//! serde values to and from Python objects, and pickling through
//! `spotifyart._restore`.

use pyo3::prelude::*;
use pyo3::types::PyTuple;
use serde::Serialize;
use serde::de::DeserializeOwned;
use spotifyart_core::Error;

use crate::errors::to_py;

/// `value` as plain Python dicts, lists, strings and numbers.
pub fn to_python<'py>(py: Python<'py>, value: &impl Serialize) -> PyResult<Bound<'py, PyAny>> {
    pythonize::pythonize(py, value)
        .map_err(|e| to_py(Error::internal(format!("cannot convert to Python: {e}"))))
}

/// A Python object (dicts, lists, ...) as a serde type; a mismatch is
/// `InvalidInput` naming what was expected.
pub fn from_python<T: DeserializeOwned>(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<T> {
    pythonize::depythonize(obj).map_err(|e| to_py(Error::invalid(format!("{what}: {e}"))))
}

/// `(spotifyart._restore, (kind, *args))`, what `__reduce__` returns.
pub fn reduce<'py>(
    py: Python<'py>,
    kind: &str,
    args: Vec<Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyTuple>> {
    let restore = py.import("spotifyart")?.getattr("_restore")?;
    let mut all = vec![kind.into_pyobject(py)?.into_any()];
    all.extend(args);
    PyTuple::new(py, [restore, PyTuple::new(py, all)?.into_any()])
}

/// JSON of a serde value (for pickling and `to_json`).
pub fn json(value: &impl Serialize, indent: Option<usize>) -> PyResult<String> {
    let out = match indent {
        None => serde_json::to_string(value),
        Some(n) => {
            let indent = " ".repeat(n);
            let mut buf = Vec::new();
            let fmt = serde_json::ser::PrettyFormatter::with_indent(indent.as_bytes());
            let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
            value
                .serialize(&mut ser)
                .map(|_| String::from_utf8(buf).unwrap_or_default())
        }
    };
    out.map_err(|e| to_py(Error::internal(format!("cannot write JSON: {e}"))))
}

/// A string as Python's `repr` writes it (single quotes), for `__repr__`s.
pub fn py_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// A list of strings as Python's `repr` writes it.
pub fn py_list<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> String {
    let parts: Vec<String> = items.into_iter().map(|s| py_str(s.as_ref())).collect();
    format!("[{}]", parts.join(", "))
}
