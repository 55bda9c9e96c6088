//! Rate limits (SPEC): sign-in 10/min per IP, session refresh 20/min per
//! user, new art 10/hour per user, and every API request 100 per 5 min per
//! IP. GCRA limiters from `governor`, keyed, in process memory: with
//! several servers each enforces its own share (docs/deploy.md).

use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use spotifyart_core::{Error, UserId};

/// Checks between sweeps of keys that are back to a full allowance.
const SWEEP_EVERY: u64 = 4096;

/// The service's limiters.
#[derive(Debug)]
pub struct Limits {
    on: bool,
    login: DefaultKeyedRateLimiter<IpAddr>,
    refresh: DefaultKeyedRateLimiter<UserId>,
    art: DefaultKeyedRateLimiter<UserId>,
    api: DefaultKeyedRateLimiter<IpAddr>,
    checks: AtomicU64,
}

fn n(v: u32) -> NonZeroU32 {
    NonZeroU32::new(v).unwrap_or(NonZeroU32::MIN)
}

/// `burst` requests at once, refilled evenly over `period`.
fn quota(burst: u32, period: Duration) -> Quota {
    Quota::with_period(period / burst.max(1))
        .unwrap_or_else(|| Quota::per_second(n(1)))
        .allow_burst(n(burst))
}

impl Limits {
    /// The SPEC's limits; all checks pass when `on` is false.
    pub fn new(on: bool) -> Self {
        Self {
            on,
            login: RateLimiter::keyed(quota(10, Duration::from_secs(60))),
            refresh: RateLimiter::keyed(quota(20, Duration::from_secs(60))),
            art: RateLimiter::keyed(quota(10, Duration::from_secs(3600))),
            api: RateLimiter::keyed(quota(100, Duration::from_secs(300))),
            checks: AtomicU64::new(0),
        }
    }

    /// A sign-in from `ip`.
    pub fn login(&self, ip: IpAddr) -> Result<(), Error> {
        self.check(&self.login, ip, "sign-in attempts from this address")
    }

    /// A session refresh by `user`.
    pub fn refresh(&self, user: UserId) -> Result<(), Error> {
        self.check(&self.refresh, user, "session refreshes")
    }

    /// A new painting for `user`.
    pub fn art(&self, user: UserId) -> Result<(), Error> {
        self.check(&self.art, user, "new artworks (10 an hour)")
    }

    /// Any API request from `ip`.
    pub fn api(&self, ip: IpAddr) -> Result<(), Error> {
        self.check(&self.api, ip, "requests from this address")
    }

    fn check<K: Hash + Eq + Clone>(
        &self,
        limiter: &DefaultKeyedRateLimiter<K>,
        key: K,
        what: &str,
    ) -> Result<(), Error> {
        if !self.on {
            return Ok(());
        }
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.sweep();
        }
        limiter.check_key(&key).map_err(|not_until| {
            let wait = not_until.wait_time_from(limiter.clock().now());
            Error::RateLimited {
                retry_after: Some(wait.max(Duration::from_secs(1))),
                message: format!("too many {what}; try again later"),
            }
        })
    }

    /// Forgets keys whose allowance is full again, so memory follows the
    /// active clients rather than every client ever seen.
    fn sweep(&self) {
        self.login.retain_recent();
        self.refresh.retain_recent();
        self.art.retain_recent();
        self.api.retain_recent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_allow_the_burst_then_say_when_to_retry() {
        let limits = Limits::new(true);
        let ip: IpAddr = [10, 0, 0, 1].into();
        for _ in 0..10 {
            limits.login(ip).unwrap();
        }
        let e = limits.login(ip).unwrap_err();
        let wait = e.retry_after().unwrap();
        assert!(
            wait >= Duration::from_secs(1) && wait <= Duration::from_secs(6),
            "{wait:?}"
        );
        // Another address is not affected; nothing is limited when off.
        limits.login([10, 0, 0, 2].into()).unwrap();
        let off = Limits::new(false);
        for _ in 0..100 {
            off.login(ip).unwrap();
        }
    }
}
