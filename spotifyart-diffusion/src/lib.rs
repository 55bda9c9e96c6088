//! # spotifyart-diffusion
//!
//! Machine-learning models for SpotifyArt, running in-process on candle.
//! This crate will hold (issues: "Stable Diffusion on candle", "Mood that
//! survives Spotify's API cuts"):
//!
//! - an [`spotifyart_core::ImageGenerator`] for SD 1.5, SD 2.1, SD-Turbo,
//!   SDXL and SDXL-Turbo, with weights from a local folder or the Hugging
//!   Face cache, tiled VAE and a tiny-autoencoder decoder for CPUs, and a
//!   `tiny` randomly initialised pipeline for tests;
//! - a text-embedding [`spotifyart_core::MoodModel`] (all-MiniLM-L6-v2).
//!
//! Built so far: [`tokenizer`], CLIP's BPE working offline.
//!
//! Until the pipeline lands, the only image model is core's procedural
//! [`spotifyart_core::PalettePainter`] (model id `palette`), which is not
//! Stable Diffusion and says so.

pub mod tokenizer;
