//! The Redis limiter: the limiter conformance suite against a real Redis,
//! and what it does when Redis is gone or hangs.
//!
//! Redis comes from `SPOTIFYART_TEST_REDIS_URL` (default
//! `redis://127.0.0.1:6379`); without one answering, the Redis tests say so
//! and pass, unless `SPOTIFYART_REQUIRE_REDIS=1` (CI), where they fail.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use spotifyart_core::limit::{Quota, RateLimiter};
use spotifyart_redis::RedisLimiter;

async fn redis() -> Option<Arc<dyn RateLimiter>> {
    let url = std::env::var("SPOTIFYART_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let limiter = RedisLimiter::new(&url, "spotifyart-test:").unwrap();
    match limiter.ping().await {
        Ok(()) => Some(Arc::new(limiter)),
        Err(e) if std::env::var("SPOTIFYART_REQUIRE_REDIS").is_ok_and(|v| v == "1") => {
            panic!("Redis is required here: {e}")
        }
        Err(e) => {
            eprintln!("skipped: no Redis ({e}); set SPOTIFYART_TEST_REDIS_URL");
            None
        }
    }
}

spotifyart_core::limiter_conformance_tests!(optional: redis());

const Q: Quota = Quota::new(3, Duration::from_secs(60));

#[tokio::test]
async fn a_dead_redis_fails_fast_then_rests() {
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let limiter = RedisLimiter::new(&format!("redis://:s3cret@127.0.0.1:{port}"), "x:").unwrap();
    let started = Instant::now();
    let e = limiter.check("k", Q, Utc::now()).await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(e.code(), "storage_failed");
    assert!(!e.to_string().contains("s3cret"), "{e}");
    // Resting: the next check does not even try.
    let started = Instant::now();
    assert!(limiter.check("k", Q, Utc::now()).await.is_err());
    assert!(started.elapsed() < Duration::from_millis(20));
}

#[tokio::test]
async fn a_hung_redis_times_out() {
    // Accepts connections and never answers, as a stopped Redis would.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            open.push(s);
        }
    });
    let limiter = RedisLimiter::new(&format!("redis://127.0.0.1:{port}"), "x:").unwrap();
    let started = Instant::now();
    let e = limiter.check("k", Q, Utc::now()).await.unwrap_err();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(2), "waited {took:?}");
    assert_eq!(e.code(), "storage_failed", "{e}");
    held.abort();
}

#[tokio::test]
async fn replicas_share_one_allowance() {
    let Some(_) = redis().await else { return };
    let url = std::env::var("SPOTIFYART_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let prefix = format!("spotifyart-test:{}:", uuid_like());
    // Two limiters, as two server processes would hold.
    let a = RedisLimiter::new(&url, &prefix).unwrap();
    let b = RedisLimiter::new(&url, &prefix).unwrap();
    let now = Utc::now();
    assert!(a.check("ip", Q, now).await.unwrap().is_none());
    assert!(b.check("ip", Q, now).await.unwrap().is_none());
    assert!(a.check("ip", Q, now).await.unwrap().is_none());
    assert!(
        b.check("ip", Q, now).await.unwrap().is_some(),
        "the 4th, on either, is refused"
    );
}

fn uuid_like() -> String {
    format!("{:x}", Utc::now().timestamp_nanos_opt().unwrap_or_default())
}
