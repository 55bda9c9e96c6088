//! Rate limits: a [`RateLimiter`] counts requests per key against a
//! [`Quota`] with the generic cell rate algorithm (GCRA), which keeps one
//! number per key (the theoretical arrival time) and so is cheap in memory
//! and in one atomic script on a shared server. [`InMemoryLimiter`] counts
//! in this process; `spotifyart-redis` shares the counts between replicas.
//! Every implementation computes [`gcra`], so they refuse the same
//! requests.
//!
//! Time is passed in (`now`), as in the store: replicas agree on a limit as
//! closely as their clocks agree, and tests need no sleeping.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::Result;

/// `burst` requests at once, refilled evenly over `period` (one every
/// `period / burst`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quota {
    /// Requests allowed at once.
    pub burst: u32,
    /// Time to refill the whole burst.
    pub period: Duration,
}

impl Quota {
    /// `burst` per `period`.
    pub const fn new(burst: u32, period: Duration) -> Self {
        Self { burst, period }
    }

    /// Time between refills, in microseconds (at least 1).
    pub fn interval_micros(&self) -> i64 {
        let period = i64::try_from(self.period.as_micros()).unwrap_or(i64::MAX);
        (period / i64::from(self.burst.max(1))).max(1)
    }

    /// How far ahead of now a key's arrival time may run: the whole burst
    /// of intervals, in microseconds.
    pub fn tolerance_micros(&self) -> i64 {
        self.interval_micros()
            .saturating_mul(i64::from(self.burst.max(1)))
    }

    /// `tat` as it can be at `now`: never further ahead than the
    /// tolerance. Only a clock stepped back leaves it further (it was
    /// stored at a later "now"); taken as is, the key would be refused
    /// for as long as the step. Clamped, it counts as a burst used up just
    /// now: refused for one interval, then refilling as usual.
    pub fn clamp_tat(&self, tat: i64, now: i64) -> i64 {
        tat.min(now.saturating_add(self.tolerance_micros()))
    }
}

/// What [`gcra`] decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gcra {
    /// Allowed: store this theoretical arrival time for the key.
    Allow {
        /// The key's new state, microseconds since the epoch.
        tat: i64,
    },
    /// Refused: one more request is allowed after this many microseconds.
    Refuse {
        /// Microseconds to wait.
        wait: i64,
    },
}

/// One request at `now` (microseconds) against `quota`, for a key whose
/// stored theoretical arrival time is `tat` (`None` for a new key).
pub fn gcra(tat: Option<i64>, now: i64, quota: Quota) -> Gcra {
    let interval = quota.interval_micros();
    let tolerance = quota.tolerance_micros();
    let tat = tat.map_or(now, |t| quota.clamp_tat(t, now));
    let next = tat.max(now).saturating_add(interval);
    let ahead = next - now;
    if ahead > tolerance {
        Gcra::Refuse {
            wait: ahead - tolerance,
        }
    } else {
        Gcra::Allow { tat: next }
    }
}

/// Counts requests per key.
#[async_trait]
pub trait RateLimiter: Send + Sync + Debug + 'static {
    /// Counts one request by `key` against `quota` at `now`: `Ok(None)`
    /// when it is allowed, `Ok(Some(wait))` when it is refused and one more
    /// is allowed after `wait`. Keys name the limit too (`login:ip:…`): one
    /// key, one quota. An error means the limiter itself failed (a shared
    /// server down); callers decide what that allows.
    async fn check(&self, key: &str, quota: Quota, now: DateTime<Utc>) -> Result<Option<Duration>>;
}

#[deny(clippy::missing_trait_methods)]
#[async_trait]
impl<T: RateLimiter + ?Sized> RateLimiter for std::sync::Arc<T> {
    async fn check(&self, key: &str, quota: Quota, now: DateTime<Utc>) -> Result<Option<Duration>> {
        (**self).check(key, quota, now).await
    }
}

/// Keys between sweeps of the ones back at a full allowance.
const SWEEP_EVERY: u64 = 4096;

/// Limits counted in this process: always compiled; the whole story for
/// one server, and what several replicas fall back to without Redis.
#[derive(Debug, Default)]
pub struct InMemoryLimiter {
    cells: Mutex<HashMap<String, i64>>,
    checks: AtomicU64,
}

impl InMemoryLimiter {
    /// No key counted yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Keys held now (memory follows the clients active within their
    /// quota's period, not every client ever seen).
    pub fn len(&self) -> usize {
        self.cells.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The decision, synchronously (the trait method wraps it).
    pub fn check_now(&self, key: &str, quota: Quota, now: DateTime<Utc>) -> Option<Duration> {
        let now = now.timestamp_micros();
        let mut cells = self.cells.lock().unwrap_or_else(|e| e.into_inner());
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            // A cell whose arrival time has passed is a full allowance:
            // forgetting it changes no decision.
            cells.retain(|_, tat| *tat > now);
        }
        // After the clock stepped back, keep the clamped arrival time so
        // the key refills from now, not from the earlier "now".
        if let Some(tat) = cells.get_mut(key) {
            *tat = quota.clamp_tat(*tat, now);
        }
        match gcra(cells.get(key).copied(), now, quota) {
            Gcra::Allow { tat } => {
                match cells.get_mut(key) {
                    Some(cell) => *cell = tat,
                    None => {
                        cells.insert(key.to_string(), tat);
                    }
                }
                None
            }
            Gcra::Refuse { wait } => Some(Duration::from_micros(wait.unsigned_abs())),
        }
    }
}

#[async_trait]
impl RateLimiter for InMemoryLimiter {
    async fn check(&self, key: &str, quota: Quota, now: DateTime<Utc>) -> Result<Option<Duration>> {
        Ok(self.check_now(key, quota, now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gcra_allows_the_burst_then_one_per_interval() {
        let q = Quota::new(4, Duration::from_secs(4));
        let mut tat = None;
        for _ in 0..4 {
            match gcra(tat, 0, q) {
                Gcra::Allow { tat: t } => tat = Some(t),
                refused => panic!("{refused:?}"),
            }
        }
        assert_eq!(gcra(tat, 0, q), Gcra::Refuse { wait: 1_000_000 });
        assert_eq!(gcra(tat, 999_999, q), Gcra::Refuse { wait: 1 });
        assert!(matches!(gcra(tat, 1_000_000, q), Gcra::Allow { .. }));
        // A long pause refills the burst, no more.
        assert_eq!(gcra(tat, 100_000_000, q), Gcra::Allow { tat: 101_000_000 });
    }

    #[test]
    fn memory_forgets_keys_at_a_full_allowance() {
        let limiter = InMemoryLimiter::new();
        let q = Quota::new(1, Duration::from_secs(1));
        let t0 = Utc::now();
        for i in 0..SWEEP_EVERY - 1 {
            assert!(limiter.check_now(&format!("k{i}"), q, t0).is_none());
        }
        assert_eq!(limiter.len() as u64, SWEEP_EVERY - 1);
        // The next check sweeps: every key is back at a full allowance.
        limiter.check_now("late", q, t0 + chrono::Duration::seconds(2));
        assert_eq!(limiter.len(), 1);
    }
}
