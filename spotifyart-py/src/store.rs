//! `Store`: where artworks, moods and Spotify tokens are kept between
//! sessions (SQLite by default, PostgreSQL for a shared one).

use std::sync::Arc;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use spotifyart_core::{ArtworkId, Error};
use spotifyart_store::{EncryptionKey, StoreConfig};

use crate::artwork::Artwork;
use crate::errors::IntoPy;
use crate::runtime::wait_quiet;

/// A SpotifyArt database. `url` is `sqlite://PATH` (created and migrated
/// on first use; its token-encryption key is generated once into
/// `spotifyart.key` beside it), `sqlite::memory:`, or `postgres://...`
/// (which needs `encryption_key`, or `SPOTIFYART_ENCRYPTION_KEY`). Pass it
/// to `Generator(store=...)` and `Spotify(store=...)`.
#[pyclass(module = "spotifyart", frozen)]
pub struct Store {
    pub(crate) inner: Arc<dyn spotifyart_core::Store>,
    pub(crate) url: String,
}

#[pymethods]
impl Store {
    /// Opens (and migrates) the database. `encryption_key` is 32 bytes in
    /// base64; unset, `SPOTIFYART_ENCRYPTION_KEY` (or `_FILE`) is used.
    #[new]
    #[pyo3(signature = (url="sqlite://spotifyart.db", *, encryption_key=None))]
    fn new(py: Python<'_>, url: &str, encryption_key: Option<&str>) -> PyResult<Self> {
        let mut config = StoreConfig::from_env().py_err()?;
        config.url = url.to_string();
        if let Some(k) = encryption_key {
            config.key = Some(
                EncryptionKey::from_base64(k)
                    .map_err(|e| Error::invalid(format!("encryption_key: {e}")))
                    .py_err()?,
            );
        }
        let shown = spotifyart_store::redact(url);
        let store = wait_quiet(py, async move {
            spotifyart_store::open(&config).await.map_err(|e| match e {
                Error::Storage { message, source } => Error::Storage {
                    message: format!("cannot open the database {shown}: {message}"),
                    source,
                },
                other => other,
            })
        })?;
        Ok(Self {
            inner: store.into_store(),
            url: spotifyart_store::redact(url),
        })
    }

    /// The URL, with any password hidden.
    #[getter]
    fn url(&self) -> &str {
        &self.url
    }

    /// `sqlite`, `postgres` or `memory`.
    #[getter]
    fn backend(&self) -> String {
        self.inner.backend().to_string()
    }

    /// Checks the database answers; raises StorageError when it does not.
    fn ping(&self, py: Python<'_>) -> PyResult<()> {
        let store = self.inner.clone();
        wait_quiet(py, async move { store.ping().await })
    }

    /// A stored artwork by id (as `Artwork.id` gives it).
    fn artwork(&self, py: Python<'_>, id: &str) -> PyResult<Artwork> {
        let id: ArtworkId = id.parse().py_err()?;
        let store = self.inner.clone();
        let art = wait_quiet(py, async move { store.artwork(id).await })?;
        Ok(Artwork::new(art, true))
    }

    fn __repr__(&self) -> String {
        format!("Store({})", crate::convert::py_str(&self.url))
    }

    fn __reduce__(&self) -> PyResult<()> {
        Err(PyTypeError::new_err(
            "a Store cannot be pickled: it holds open database connections; \
             pickle its URL and open Store(url) in the other process",
        ))
    }
}
