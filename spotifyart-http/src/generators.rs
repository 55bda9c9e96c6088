//! The image generators a command or server paints with: Stable Diffusion
//! on candle first (its default model, `sd-turbo`, is the default), then
//! the procedural palette painter, which needs no weights.

use std::io::IsTerminal;
use std::sync::Arc;

use anyhow::Result;
use spotifyart_core::{GeneratorSet, ImageGenerator, PalettePainter};
use spotifyart_diffusion::{DiffusionGenerator, LoadOptions, WeightSource};

use crate::cli::DiffusionArgs;

/// Every model this build offers, configured by `args`. Weights load on
/// first use, once, and are shared by later requests.
pub fn image_generator(args: &DiffusionArgs) -> Result<Arc<dyn ImageGenerator>> {
    let options = LoadOptions {
        weights: WeightSource {
            model_dir: args.model_dir.clone(),
            download: !args.offline,
            progress: std::io::stderr().is_terminal(),
            cache_dir: None,
            endpoint: None,
        },
        device: args.device,
        decoder: args.decoder,
        scheduler: args.scheduler,
    };
    let diffusion = DiffusionGenerator::new(None, options)?;
    Ok(Arc::new(
        GeneratorSet::new()
            .with(Arc::new(diffusion))
            .with(Arc::new(PalettePainter)),
    ))
}
