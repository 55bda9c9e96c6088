//! # spotifyart-core
//!
//! The domain of SpotifyArt: two people's listening becomes one picture.
//!
//! - [`profile`]: the [`ListeningProfile`] every music source produces.
//! - [`source`]: the [`MusicSource`] trait, the Spotify export reader and an
//!   in-memory fixture source.
//! - [`mood`]: [`Mood`] on Russell's valence/arousal plane, the
//!   [`MoodModel`] trait and every model (features, genres, embedding with
//!   its text encoder injected, covers, behaviour, auto), named in one
//!   registry ([`mood::registry`]).
//! - [`matching`]: a symmetric 0-100 compatibility score with reasons.
//! - [`prompt`]: mood -> text-to-image prompt, free of personal data.
//! - [`art`]: [`ArtRequest`], [`Artwork`], the [`ImageGenerator`] trait and
//!   the procedural [`PalettePainter`].
//! - [`store`]: the [`Store`] traits (with the job queue) and [`InMemoryStore`].
//! - [`engine`]: the [`Engine`] that composes them and paints nothing
//!   twice, with the job runner workers use.
//! - [`access`]: who may see which match, artwork and job.
//!
//! Core does no network or database I/O; adapters (`spotifyart-spotify`,
//! `spotifyart-store`, `spotifyart-diffusion`, `spotifyart-engine`,
//! `spotifyart-http`, `spotifyart-py`, the `spotifyart` binary) depend on
//! it, never the reverse.
//!
//! ```
//! use spotifyart_core::{read_export, Engine, Subject, ArtParams, GenerationContext};
//! # let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/exports/");
//! let alice = read_export(format!("{dir}alice"))?;
//! let bob = read_export(format!("{dir}bob"))?;
//! let engine = Engine::builder().build();
//! let m = engine.match_profiles(&alice, &bob)?;
//! println!("{}", m.explanation());
//! let art = engine.prepare(
//!     spotifyart_core::engine::subject_pair(&m, None, vec![]),
//!     &ArtParams { width: Some(64), height: Some(64), ..Default::default() },
//! )?;
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let painted = engine.paint(&art, &GenerationContext::new()).await?;
//! assert_eq!(painted.meta().width, 64);
//! # Ok::<_, spotifyart_core::Error>(()) })?;
//! # Ok::<_, spotifyart_core::Error>(())
//! ```

pub mod access;
pub mod art;
pub mod colour;
pub mod engine;
mod env;
mod error;
pub mod ids;
pub mod limit;
pub mod matching;
pub mod mood;
pub mod names;
pub mod playlists;
pub mod profile;
pub mod prompt;
pub mod source;
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;

pub use art::{
    ArtParams, ArtRequest, Artwork, ArtworkMeta, CancelToken, ContentKey, CoverJpeg,
    GeneratedImage, GenerationContext, GeneratorSet, ImageGenerator, ImageGeneratorExt, ModelInfo,
    ModelKind, PalettePainter, Progress, Stage, Subject, cover_jpeg,
};
pub use engine::{ArtOutcome, ArtTicket, Engine, EngineBuilder, PreparedArt};
pub use env::env_secret;
pub use error::{BoxError, Error, Result};
pub use ids::{ArtworkId, JobId, MatchId, ScheduleId, UserId};
pub use matching::{MatchResult, Matcher};
pub use mood::{Mood, MoodLabel, MoodModel, MoodModelExt};
pub use profile::{ListeningProfile, Signal, TimeRange};
pub use prompt::{Prompt, PromptComposer, Style};
pub use source::{ExportReader, ExportSource, FixtureSource, MusicSource, read_export};
pub use store::{InMemoryStore, Store};
