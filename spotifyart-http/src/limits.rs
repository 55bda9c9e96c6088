//! Rate limits (SPEC): sign-in 10/min per IP, session refresh 20/min per
//! user, mood refresh 10/min per user, new art 10/hour per user, and every
//! API request 100 per 5 min per IP.
//!
//! With a shared limiter (Redis, `SPOTIFYART_REDIS_URL`) every replica
//! counts against one allowance. When it fails, this process's own counts
//! decide (each replica then allows its share, as without Redis): abuse
//! limits fail open to the per-process limit rather than refuse everyone,
//! with a warning in the log and `spotifyart_rate_limit_fallbacks_total`.
//!
//! IPv6 clients are counted by their /64: one host usually holds a whole
//! /64, so counting each address would give it 2^64 allowances.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use prometheus_client::metrics::counter::Counter;
use spotifyart_core::limit::{InMemoryLimiter, Quota, RateLimiter};
use spotifyart_core::{Error, UserId};

const LOGIN: Quota = Quota::new(10, Duration::from_secs(60));
const SESSION_REFRESH: Quota = Quota::new(20, Duration::from_secs(60));
const MOOD_REFRESH: Quota = Quota::new(10, Duration::from_secs(60));
const ART: Quota = Quota::new(10, Duration::from_secs(3600));
const API: Quota = Quota::new(100, Duration::from_secs(300));

/// At most one "shared limiter failed" warning this often.
const WARN_EVERY: Duration = Duration::from_secs(10);

/// The service's limits.
#[derive(Debug)]
pub struct Limits {
    on: bool,
    shared: Option<Arc<dyn RateLimiter>>,
    local: InMemoryLimiter,
    fallbacks: Counter,
    warned: Mutex<Option<Instant>>,
}

impl Limits {
    /// The SPEC's limits, counted by `shared` when given (else in this
    /// process); all checks pass when `on` is false. `fallbacks` counts
    /// checks the shared limiter could not answer.
    pub fn new(on: bool, shared: Option<Arc<dyn RateLimiter>>, fallbacks: Counter) -> Self {
        Self {
            on,
            shared,
            local: InMemoryLimiter::new(),
            fallbacks,
            warned: Mutex::new(None),
        }
    }

    /// A sign-in from `ip`.
    pub async fn login(&self, ip: IpAddr) -> Result<(), Error> {
        let key = format!("login:{}", ip_key(ip));
        self.check(&key, LOGIN, "sign-in attempts from this address")
            .await
    }

    /// A session refresh by `user`.
    pub async fn refresh(&self, user: UserId) -> Result<(), Error> {
        self.check(
            &format!("refresh:{user}"),
            SESSION_REFRESH,
            "session refreshes",
        )
        .await
    }

    /// A mood read from Spotify on request by `user`.
    pub async fn mood_refresh(&self, user: UserId) -> Result<(), Error> {
        self.check(
            &format!("mood:{user}"),
            MOOD_REFRESH,
            "mood refreshes (10 a minute)",
        )
        .await
    }

    /// A new painting for `user`.
    pub async fn art(&self, user: UserId) -> Result<(), Error> {
        self.check(&format!("art:{user}"), ART, "new artworks (10 an hour)")
            .await
    }

    /// Any API request from `ip`.
    pub async fn api(&self, ip: IpAddr) -> Result<(), Error> {
        let key = format!("api:{}", ip_key(ip));
        self.check(&key, API, "requests from this address").await
    }

    async fn check(&self, key: &str, quota: Quota, what: &str) -> Result<(), Error> {
        if !self.on {
            return Ok(());
        }
        let now = Utc::now();
        let wait = match &self.shared {
            None => self.local.check_now(key, quota, now),
            Some(shared) => match shared.check(key, quota, now).await {
                Ok(wait) => wait,
                Err(e) => {
                    self.fell_back(&e);
                    self.local.check_now(key, quota, now)
                }
            },
        };
        match wait {
            None => Ok(()),
            Some(wait) => Err(Error::RateLimited {
                retry_after: Some(wait.max(Duration::from_secs(1))),
                message: format!("too many {what}; try again later"),
            }),
        }
    }

    fn fell_back(&self, e: &Error) {
        self.fallbacks.inc();
        let mut warned = self.warned.lock().unwrap_or_else(|e| e.into_inner());
        if warned.is_none_or(|t| t.elapsed() >= WARN_EVERY) {
            *warned = Some(Instant::now());
            tracing::warn!(
                error = %e,
                "the shared rate limiter failed; counting in this process only"
            );
        }
    }
}

/// What a client address is counted as: IPv4 as itself (an IPv4-mapped
/// IPv6 address too), IPv6 by its /64.
pub fn ip_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                let net = std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
                format!("{net}/64")
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn limits_allow_the_burst_then_say_when_to_retry() {
        let limits = Limits::new(true, None, Counter::default());
        let ip: IpAddr = [10, 0, 0, 1].into();
        for _ in 0..10 {
            limits.login(ip).await.unwrap();
        }
        let e = limits.login(ip).await.unwrap_err();
        let wait = e.retry_after().unwrap();
        assert!(
            wait >= Duration::from_secs(1) && wait <= Duration::from_secs(6),
            "{wait:?}"
        );
        // Another address is not affected; nothing is limited when off.
        limits.login([10, 0, 0, 2].into()).await.unwrap();
        let off = Limits::new(false, None, Counter::default());
        for _ in 0..100 {
            off.login(ip).await.unwrap();
        }
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64() {
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff:ffff:ffff:fffe".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(ip_key(a), "2001:db8:1:2::/64");
        assert_eq!(ip_key(a), ip_key(b));
        assert_ne!(ip_key(a), ip_key(c));
        assert_eq!(ip_key("::ffff:192.0.2.7".parse().unwrap()), "192.0.2.7");
        assert_eq!(ip_key("192.0.2.7".parse().unwrap()), "192.0.2.7");
    }

    #[tokio::test]
    async fn a_failing_shared_limiter_falls_back_to_this_process() {
        #[derive(Debug)]
        struct Down;
        #[async_trait::async_trait]
        impl RateLimiter for Down {
            async fn check(
                &self,
                _: &str,
                _: Quota,
                _: chrono::DateTime<Utc>,
            ) -> spotifyart_core::Result<Option<Duration>> {
                Err(Error::Storage {
                    message: "connection refused".into(),
                    source: None,
                })
            }
        }
        let fallbacks = Counter::default();
        let limits = Limits::new(true, Some(Arc::new(Down)), fallbacks.clone());
        let ip: IpAddr = [10, 0, 0, 1].into();
        for _ in 0..10 {
            limits.login(ip).await.unwrap();
        }
        assert_eq!(
            limits.login(ip).await.unwrap_err().code(),
            "rate_limited",
            "still limited, by this process's counts"
        );
        assert_eq!(fallbacks.get(), 11);
    }
}
