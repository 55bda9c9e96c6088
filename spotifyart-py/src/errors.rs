//! Core errors become instances of the exception classes in
//! `spotifyart._errors` (one per variant, carrying `code` and, where the
//! variant has them, `retry_after`, `service`, `status`, `filename`).

use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyDict;
use spotifyart_core::Error;

static BY_CODE: PyOnceLock<Py<PyDict>> = PyOnceLock::new();

/// The Python exception for a core error. A Python exception that caused it
/// (a mood model written in Python raised) is kept as `__cause__`, and one
/// that is not an `Exception` (KeyboardInterrupt, SystemExit) is raised
/// as it is.
pub fn to_py(err: Error) -> PyErr {
    Python::attach(|py| {
        let cause = python_cause(&err).map(|e| e.clone_ref(py));
        if let Some(cause) = &cause
            && !cause.is_instance_of::<PyException>(py)
        {
            return cause.clone_ref(py);
        }
        match build(py, &err) {
            Ok(e) => {
                e.set_cause(py, cause);
                e
            }
            Err(e) => e,
        }
    })
}

fn build(py: Python<'_>, err: &Error) -> PyResult<PyErr> {
    let by_code = BY_CODE.import(py, "spotifyart._errors", "BY_CODE")?;
    let class = match by_code.get_item(err.code())? {
        Some(c) => c,
        None => by_code
            .get_item("internal")?
            .ok_or_else(|| PyException::new_err("spotifyart._errors lacks InternalError"))?,
    };
    let value = class.call1((err.to_string(),))?;
    match err {
        Error::RateLimited { retry_after, .. } => {
            value.setattr("retry_after", retry_after.map(|d| d.as_secs_f64()))?;
        }
        Error::UpstreamBusy {
            service,
            retry_after,
            ..
        } => {
            value.setattr("service", service)?;
            value.setattr("retry_after", retry_after.map(|d| d.as_secs_f64()))?;
        }
        Error::Upstream {
            service, status, ..
        } => {
            value.setattr("service", service)?;
            value.setattr("status", *status)?;
        }
        Error::Io { path, .. } => {
            value.setattr("filename", path.to_string_lossy())?;
        }
        _ => {}
    }
    Ok(PyErr::from_value(value))
}

/// The Python exception somewhere in `err`'s source chain, if any.
fn python_cause(err: &Error) -> Option<&PyErr> {
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        if let Some(e) = s.downcast_ref::<PyErr>() {
            return Some(e);
        }
        source = s.source();
    }
    None
}

/// `?` on core results inside `#[pyfunction]`s.
pub trait IntoPy<T> {
    /// The result with its error turned into the Python exception.
    fn py_err(self) -> PyResult<T>;
}

impl<T> IntoPy<T> for spotifyart_core::Result<T> {
    fn py_err(self) -> PyResult<T> {
        self.map_err(to_py)
    }
}
