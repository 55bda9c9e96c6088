//! # spotifyart-store
//!
//! Persistence for SpotifyArt. This crate will hold (issue "spotifyart-store")
//! the [`spotifyart_core::Store`] implementation on diesel + diesel-async:
//! SQLite embedded by default and PostgreSQL for hosted, scaled-out
//! deployments, with OAuth tokens encrypted at rest (AES-256-GCM), hashed
//! sessions, and the job queue (`FOR UPDATE SKIP LOCKED` on PostgreSQL).
//!
//! Until then, [`spotifyart_core::InMemoryStore`] is the only store.
