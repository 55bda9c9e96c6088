//! Progress reports and cancellation for one generation run: the single
//! per-step hook ([`GenerationContext::step`]) every generator calls.

use std::fmt::{self, Debug};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Where a generation run is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Loading or downloading weights.
    Loading,
    /// Encoding the prompt.
    Encoding,
    /// The denoising (or painting) loop.
    Denoising,
    /// Decoding latents into pixels.
    Decoding,
}

/// A progress report.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// Current stage.
    pub stage: Stage,
    /// Steps done in this stage.
    pub step: u32,
    /// Steps in this stage.
    pub total: u32,
}

impl Progress {
    /// Fraction of the whole run, in [0, 1] (denoising dominates).
    pub fn fraction(&self) -> f32 {
        let within = if self.total == 0 {
            1.0
        } else {
            (self.step as f32 / self.total as f32).clamp(0.0, 1.0)
        };
        // Each stage owns a slice of [0, 1]; a stage ends exactly where the
        // next begins.
        const BOUNDS: [f32; 5] = [0.0, 0.05, 0.1, 0.9, 1.0];
        let i = match self.stage {
            Stage::Loading => 0,
            Stage::Encoding => 1,
            Stage::Denoising => 2,
            Stage::Decoding => 3,
        };
        if within >= 1.0 {
            return BOUNDS[i + 1];
        }
        BOUNDS[i] + (BOUNDS[i + 1] - BOUNDS[i]) * within
    }
}

/// A cheap, clonable cancellation flag shared between a caller and a run.
#[derive(Clone, Debug, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// A token that is not cancelled.
    pub fn new() -> Self {
        Self::default()
    }
    /// Asks every holder to stop.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
    /// Whether cancellation was asked for.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

type ProgressFn = Arc<dyn Fn(Progress) + Send + Sync>;

/// Progress reporting and cancellation for one run.
#[derive(Clone, Default)]
pub struct GenerationContext {
    cancel: CancelToken,
    progress: Option<ProgressFn>,
}

impl Debug for GenerationContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GenerationContext")
            .field("cancelled", &self.cancel.is_cancelled())
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

impl GenerationContext {
    /// No progress reporting, never cancelled.
    pub fn new() -> Self {
        Self::default()
    }
    /// Uses `token` for cancellation.
    pub fn with_cancel(mut self, token: CancelToken) -> Self {
        self.cancel = token;
        self
    }
    /// Calls `f` on every progress report.
    pub fn on_progress(mut self, f: impl Fn(Progress) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(f));
        self
    }
    /// The cancellation token.
    pub fn cancel_token(&self) -> &CancelToken {
        &self.cancel
    }
    /// Reports progress, then fails with [`Error::Cancelled`] if cancelled.
    /// Generators call it once per step: the one hook for both.
    pub fn report(&self, stage: Stage, step: u32, total: u32) -> Result<()> {
        if let Some(f) = &self.progress {
            f(Progress { stage, step, total });
        }
        self.check()
    }
    /// Shorthand for a denoising step.
    pub fn step(&self, step: u32, total: u32) -> Result<()> {
        self.report(Stage::Denoising, step, total)
    }
    /// Fails with [`Error::Cancelled`] if cancelled.
    pub fn check(&self) -> Result<()> {
        if self.cancel.is_cancelled() {
            Err(Error::Cancelled)
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_fraction_is_monotonic() {
        let p = |stage, step| {
            Progress {
                stage,
                step,
                total: 10,
            }
            .fraction()
        };
        assert!(p(Stage::Loading, 10) <= p(Stage::Encoding, 0));
        assert!(p(Stage::Denoising, 3) < p(Stage::Denoising, 4));
        assert!(p(Stage::Denoising, 10) <= p(Stage::Decoding, 0));
        assert_eq!(p(Stage::Decoding, 10), 1.0);
    }
}
