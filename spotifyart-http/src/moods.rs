//! The mood model a command asked for, built by `spotifyart-diffusion`
//! (which can also build the embedding model).

use std::path::Path;
use std::sync::Arc;

use anyhow::Result;
use spotifyart_core::MoodModel;

use crate::cli::MoodModelArg;

/// `--mood-model`: see [`spotifyart_diffusion::mood_model`] for what each
/// name loads or downloads.
pub fn mood_model(arg: MoodModelArg, dir: Option<&Path>) -> Result<Arc<dyn MoodModel>> {
    Ok(spotifyart_diffusion::mood_model(arg.name(), dir)?)
}
