//! The in-memory rate limiter passes the limiter conformance suite.

use std::sync::Arc;

use spotifyart_core::limit::{InMemoryLimiter, RateLimiter};

spotifyart_core::limiter_conformance_tests!(async {
    Arc::new(InMemoryLimiter::new()) as Arc<dyn RateLimiter>
});
