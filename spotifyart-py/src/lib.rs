//! # spotifyart-py
//!
//! Python bindings for SpotifyArt. This crate will hold (issue "spotifyart-py")
//! the pyo3 module `spotifyart._spotifyart`, built by maturin into an abi3
//! wheel with a hand-written `spotifyart` package, type stubs and Jupyter
//! displays: `load_export`, `mood`, `match`, `Generator`, `Spotify`, `Store`.
