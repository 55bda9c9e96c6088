//! The [`RateLimiter`] conformance suite. Every implementation runs all of
//! it, each test with a fresh key prefix so a shared server needs no
//! cleaning:
//!
//! ```text
//! spotifyart_core::limiter_conformance_tests!(async { Arc::new(MyLimiter::new(..)) as Arc<dyn RateLimiter> });
//! ```

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

use crate::limit::{Quota, RateLimiter};

/// Generates one `#[tokio::test]` per conformance area, each calling the
/// given async expression for an `Arc<dyn RateLimiter>`; with `optional:`
/// it yields an `Option` and `None` skips (a service the machine lacks).
#[macro_export]
macro_rules! limiter_conformance_tests {
    (optional: $make:expr) => {
        mod limiter_conformance {
            #[allow(unused_imports)]
            use super::*;
            use $crate::testing::limiter as suite;

            macro_rules! conformance_test {
                ($name:ident) => {
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $name() {
                        let Some(limiter) = $make.await else {
                            return;
                        };
                        suite::$name(limiter).await;
                    }
                };
            }

            conformance_test!(burst_then_refill);
            conformance_test!(keys_are_independent);
            conformance_test!(concurrent_checks_are_exact);
            conformance_test!(a_clock_stepped_back_refuses_one_interval_not_the_step);
        }
    };
    ($make:expr) => {
        $crate::limiter_conformance_tests!(optional: async { Some($make.await) });
    };
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
}

fn at(ms: i64) -> DateTime<Utc> {
    t0() + chrono::Duration::milliseconds(ms)
}

fn key(name: &str) -> String {
    format!("conformance:{}:{name}", uuid::Uuid::new_v4())
}

/// The burst is allowed at once, the next request is refused with the
/// time until one refill, one refill allows one request, and a pause as
/// long as the period refills the whole burst and no more.
pub async fn burst_then_refill(l: Arc<dyn RateLimiter>) {
    let q = Quota::new(5, Duration::from_secs(10));
    let k = key("burst");
    for i in 0..5 {
        assert_eq!(l.check(&k, q, at(0)).await.unwrap(), None, "request {i}");
    }
    assert_eq!(
        l.check(&k, q, at(0)).await.unwrap(),
        Some(Duration::from_secs(2)),
        "refused until one refill (10 s / 5)"
    );
    assert_eq!(
        l.check(&k, q, at(1500)).await.unwrap(),
        Some(Duration::from_millis(500))
    );
    assert_eq!(l.check(&k, q, at(2000)).await.unwrap(), None);
    assert!(l.check(&k, q, at(2000)).await.unwrap().is_some());
    for i in 0..5 {
        assert_eq!(
            l.check(&k, q, at(60_000)).await.unwrap(),
            None,
            "refilled {i}"
        );
    }
    assert!(l.check(&k, q, at(60_000)).await.unwrap().is_some());
}

/// Another key, even with the same name in another limit, has its own
/// allowance.
pub async fn keys_are_independent(l: Arc<dyn RateLimiter>) {
    let q = Quota::new(2, Duration::from_secs(60));
    let (a, b) = (key("a"), key("b"));
    for _ in 0..2 {
        assert_eq!(l.check(&a, q, at(0)).await.unwrap(), None);
    }
    assert!(l.check(&a, q, at(0)).await.unwrap().is_some());
    assert_eq!(l.check(&b, q, at(0)).await.unwrap(), None);
    assert_eq!(
        l.check(&format!("{a}:other"), q, at(0)).await.unwrap(),
        None
    );
}

/// Many checks at the same moment on one key: exactly the burst passes
/// (the read-and-update is atomic).
pub async fn concurrent_checks_are_exact(l: Arc<dyn RateLimiter>) {
    let q = Quota::new(20, Duration::from_secs(3600));
    let k = key("race");
    let tasks: Vec<_> = (0..60)
        .map(|_| {
            let (l, k) = (l.clone(), k.clone());
            tokio::spawn(async move { l.check(&k, q, at(0)).await.unwrap() })
        })
        .collect();
    let mut allowed = 0;
    for t in tasks {
        if t.await.unwrap().is_none() {
            allowed += 1;
        }
    }
    assert_eq!(allowed, 20);
}

/// The clock stepped back an hour (NTP, a VM restored): a key used up at
/// the later time is refused for one refill interval, then refills as
/// usual, rather than refused for the hour (issue 23, the clock fault).
pub async fn a_clock_stepped_back_refuses_one_interval_not_the_step(l: Arc<dyn RateLimiter>) {
    let q = Quota::new(5, Duration::from_secs(10));
    let k = key("step-back");
    let hour = 3_600_000;
    for _ in 0..5 {
        assert_eq!(l.check(&k, q, at(hour)).await.unwrap(), None);
    }
    assert_eq!(
        l.check(&k, q, at(0)).await.unwrap(),
        Some(Duration::from_secs(2)),
        "one interval, not the hour"
    );
    assert_eq!(l.check(&k, q, at(2000)).await.unwrap(), None);
    assert!(l.check(&k, q, at(2000)).await.unwrap().is_some());
    for i in 0..5 {
        assert_eq!(
            l.check(&k, q, at(60_000)).await.unwrap(),
            None,
            "refilled {i}"
        );
    }
}
