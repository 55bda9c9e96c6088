//! # spotifyart-py
//!
//! The native module `spotifyart._spotifyart` behind the Python package
//! `spotifyart` (`pip install ./spotifyart-py`, built by maturin into an
//! abi3 wheel). The package's hand-written `__init__.py` re-exports what is
//! here; `_spotifyart.pyi` types it.
//!
//! - [`profile`] has `load_export`, `Profile`.
//! - [`mood`] has `mood`, `Mood`, and Python objects as mood models.
//! - [`matching`] has `match`, `Match`.
//! - [`generator`] has `Generator`, built by `spotifyart-engine`.
//! - [`artwork`] has `Artwork`.
//! - [`store`] has `Store`.
//! - [`spotify`] has `Spotify`, the PKCE sign-in from a notebook.
//! - [`errors`] maps core errors to the exception classes of `spotifyart._errors`.
//! - [`runtime`] runs long work with the GIL released, Ctrl-C and progress bars.
//!
//! Nothing here paints, reads or stores by itself: each class is a thin
//! handle on the Rust crates the CLI and server use.

pub mod artwork;
mod convert;
pub mod errors;
pub mod generator;
mod html;
pub mod matching;
pub mod mood;
pub mod profile;
pub mod runtime;
pub mod scrobbles;
pub mod spotify;
pub mod store;

use pyo3::prelude::*;

/// The native module. Classes say `module = "spotifyart"`, so they print
/// and pickle under the package's name.
#[pymodule]
fn _spotifyart(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("DEFAULT_MODEL", spotifyart_engine::DEFAULT_MODEL)?;
    m.add_function(wrap_pyfunction!(profile::load_export, m)?)?;
    m.add_function(wrap_pyfunction!(mood::mood, m)?)?;
    m.add_function(wrap_pyfunction!(mood::mood_models, m)?)?;
    m.add_function(wrap_pyfunction!(matching::match_profiles, m)?)?;
    m.add_class::<profile::Profile>()?;
    m.add_class::<mood::Mood>()?;
    m.add_class::<matching::Match>()?;
    m.add_class::<artwork::Artwork>()?;
    m.add_class::<generator::Generator>()?;
    m.add_class::<store::Store>()?;
    m.add_class::<spotify::Spotify>()?;
    m.add_class::<scrobbles::ListenBrainz>()?;
    m.add_class::<scrobbles::Lastfm>()?;
    Ok(())
}
