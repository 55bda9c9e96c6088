//! # spotifyart-spotify
//!
//! Spotify for SpotifyArt. This crate will hold (issue: "spotifyart-spotify"):
//!
//! - the OAuth authorization code flow with PKCE (S256) and `state`, for
//!   confidential and public clients, with token refresh and a distinct error
//!   for revoked grants;
//! - a Web API client (reqwest, rustls) written for Development Mode apps as
//!   Spotify serves them in 2026, with Extended Quota data used when present;
//! - a [`spotifyart_core::MusicSource`] that assembles a
//!   [`spotifyart_core::ListeningProfile`] from top items and recent plays,
//!   and a caching wrapper;
//! - a local fake Spotify for tests.
//!
//! Until then, profiles come from Spotify data exports, read offline by
//! [`spotifyart_core::read_export`].
