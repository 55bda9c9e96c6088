//! # spotifyart-diffusion
//!
//! Stable Diffusion running in-process on candle: SD 1.5, SD 2.1,
//! SD-Turbo, SDXL and SDXL-Turbo behind the core's
//! [`spotifyart_core::ImageGenerator`], plus `tiny` and `tiny-xl`, the same
//! pipelines at toy size with random weights, for tests.
//!
//! ```no_run
//! use spotifyart_core::{ArtRequest, GenerationContext, ImageGenerator};
//! use spotifyart_diffusion::{DiffusionGenerator, LoadOptions};
//!
//! let generator = DiffusionGenerator::new(Some("sd-turbo"), LoadOptions::default())?;
//! let request = ArtRequest {
//!     prompt: "a calm lake at dawn, watercolor".into(),
//!     negative_prompt: String::new(),
//!     seed: 7,
//!     steps: 1,
//!     guidance: 0.0,
//!     width: 512,
//!     height: 512,
//!     model: "sd-turbo".into(),
//!     palette: vec![],
//! };
//! let image = generator.generate(&request, &GenerationContext::new())?;
//! std::fs::write("lake.png", &image.png)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The networks ([`clip`], [`unet`], [`vae`]) are written here on
//! candle-nn layers rather than taken from candle-transformers, which
//! lacks SDXL's pooled-text conditioning and cannot be configured at test
//! size. Weights load from a diffusers folder or the Hugging Face cache
//! ([`weights`]); the CLIP tokenizer works offline ([`tokenizer`]).

pub mod clip;
pub mod device;
pub mod embedding;
mod flash;
pub mod generator;
mod kernels;
pub mod layer_weights;
mod layers;
pub mod models;
pub mod pipeline;
pub mod schedulers;
mod tensor_file;
pub mod tokenizer;
pub mod unet;
pub mod vae;
pub mod weights;

pub use device::DeviceChoice;
pub use embedding::{TextEncoder, text_encoder};
pub use generator::DiffusionGenerator;
pub use models::{DEFAULT_MODEL, ModelSpec, spec, specs};
pub use pipeline::{Decoder, LoadOptions, Pipeline, Precision};
pub use schedulers::SchedulerKind;
pub use weights::WeightSource;
