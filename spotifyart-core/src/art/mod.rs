//! Art: what to paint ([`ArtRequest`]), who painted it for whom
//! ([`Artwork`]), and the [`ImageGenerator`] trait the diffusion crate
//! implements.
//!
//! Generation is CPU/GPU-bound and synchronous, shaped like diffusers'
//! pipeline call: one request in, one PNG out, and a single per-step hook
//! ([`GenerationContext::step`]) that reports progress and stops the run when
//! cancelled. The Engine runs generators on a blocking thread.

mod artwork;
mod cover;
mod generator;
mod palette;
mod progress;
mod request;

pub use artwork::{Artwork, ArtworkMeta, ContentKey, Subject};
pub use cover::{CoverJpeg, cover_jpeg};
pub use generator::{GeneratedImage, GeneratorSet, ImageGenerator, ImageGeneratorExt};
pub use palette::PalettePainter;
pub use progress::{CancelToken, GenerationContext, Progress, Stage};
pub use request::{ArtParams, ArtRequest, ModelInfo, ModelKind};
