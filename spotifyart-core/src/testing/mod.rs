//! Test support for SpotifyArt and its adapters (feature `testing`):
//! conformance suites every implementation's tests call, and small doubles.

pub mod fuzz;
pub mod generator;
pub mod limiter;
pub mod listeners;
pub mod mood;
mod outage;
pub mod source;
pub mod store;

pub use outage::OutageStore;

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, Duration, Utc};

use crate::art::{ArtRequest, GeneratedImage, GenerationContext, ImageGenerator, ModelInfo};
use crate::engine::Clock;
use crate::{Error, Result};

/// Wraps a generator and counts `generate` calls, to prove what was *not*
/// painted.
#[derive(Debug)]
pub struct CountingGenerator<G> {
    inner: G,
    calls: Arc<AtomicUsize>,
}

impl<G: ImageGenerator> CountingGenerator<G> {
    /// Counts calls into `inner`.
    pub fn new(inner: G) -> Self {
        Self {
            inner,
            calls: Arc::new(AtomicUsize::new(0)),
        }
    }
    /// Calls so far.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
    /// A shared handle to the counter.
    pub fn counter(&self) -> Arc<AtomicUsize> {
        self.calls.clone()
    }
}

impl<G: ImageGenerator> ImageGenerator for CountingGenerator<G> {
    fn models(&self) -> Vec<ModelInfo> {
        self.inner.models()
    }
    fn generate(&self, request: &ArtRequest, ctx: &GenerationContext) -> Result<GeneratedImage> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.generate(request, ctx)
    }
}

/// Fails the first `failures` calls with a model error, then delegates.
#[derive(Debug)]
pub struct FlakyGenerator<G> {
    inner: G,
    failures_left: Mutex<usize>,
}

impl<G: ImageGenerator> FlakyGenerator<G> {
    /// Fails `failures` times before working.
    pub fn new(inner: G, failures: usize) -> Self {
        Self {
            inner,
            failures_left: Mutex::new(failures),
        }
    }
}

impl<G: ImageGenerator> ImageGenerator for FlakyGenerator<G> {
    fn models(&self) -> Vec<ModelInfo> {
        self.inner.models()
    }
    fn generate(&self, request: &ArtRequest, ctx: &GenerationContext) -> Result<GeneratedImage> {
        let mut left = self.failures_left.lock().unwrap();
        if *left > 0 {
            *left -= 1;
            return Err(Error::model(
                "the model ran out of memory (injected failure)",
            ));
        }
        drop(left);
        self.inner.generate(request, ctx)
    }
}

/// A clock that moves only when told.
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    /// Starts at `t`.
    pub fn new(t: DateTime<Utc>) -> Self {
        Self(Mutex::new(t))
    }
    /// Moves forward.
    pub fn advance(&self, d: Duration) {
        *self.0.lock().unwrap() += d;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}
