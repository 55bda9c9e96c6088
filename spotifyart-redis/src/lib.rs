//! # spotifyart-redis
//!
//! What SpotifyArt's server replicas share through Redis: the rate limits.
//! [`RedisLimiter`] is a core [`RateLimiter`] that keeps each key's GCRA
//! state in Redis and decides in one Lua script (atomic on the server), so
//! a client gets one allowance however many replicas its requests reach.
//!
//! It never waits long on Redis: connecting and each answer time out after
//! a quarter of a second, and after a failure it stops asking for a second
//! (the caller decides what a failed check allows; the server falls back to
//! its own per-process counts).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use spotifyart_core::limit::{Quota, RateLimiter};
use spotifyart_core::{Error, Result};

/// The GCRA of `spotifyart_core::limit::gcra`, on the server.
/// KEYS[1]: the key. ARGV: now and the refill interval in microseconds, the
/// burst. Returns 0 when allowed, else the microseconds to wait. The key
/// expires when its allowance is full again, so Redis holds only clients
/// active within their quota's period.
const GCRA: &str = r#"
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local tolerance = interval * tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
if tat > now + tolerance then
  -- The clock stepped back: a burst used up just now (Quota::clamp_tat).
  tat = now + tolerance
  redis.call('SET', KEYS[1], string.format('%d', tat), 'PX', math.ceil(tolerance / 1000) + 1)
end
local nxt = tat + interval
local ahead = nxt - now
if ahead > tolerance then
  return ahead - tolerance
end
redis.call('SET', KEYS[1], string.format('%d', nxt), 'PX', math.ceil(ahead / 1000) + 1)
return 0
"#;

/// How long one Redis round trip (or connecting) may take.
const TIMEOUT: Duration = Duration::from_millis(250);
/// How long to stop asking after a failure.
const BACK_OFF: Duration = Duration::from_secs(1);

/// Rate limits kept in Redis. See the crate docs.
pub struct RedisLimiter {
    conn: ConnectionManager,
    prefix: String,
    script: redis::Script,
    /// Until when Redis is not asked, after a failure.
    resting_until: Mutex<Option<Instant>>,
    /// The URL without a password, for messages.
    shown: String,
}

impl std::fmt::Debug for RedisLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLimiter")
            .field("url", &self.shown)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisLimiter {
    /// A limiter on the Redis at `url` (`redis://[:PASSWORD@]HOST[:PORT][/DB]`),
    /// its keys starting with `prefix`. Connects on first use, so a server
    /// starts while Redis is down.
    pub fn new(url: &str, prefix: &str) -> Result<Self> {
        let shown = redact(url);
        let client = redis::Client::open(url)
            .map_err(|e| Error::invalid(format!("Redis URL {shown}: {e}")))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(TIMEOUT))
            .set_response_timeout(Some(TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(100));
        let conn = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| Error::invalid(format!("Redis URL {shown}: {e}")))?;
        Ok(Self {
            conn,
            prefix: prefix.to_string(),
            script: redis::Script::new(GCRA),
            resting_until: Mutex::new(None),
            shown,
        })
    }

    /// Whether Redis answers (a `PING`).
    pub async fn ping(&self) -> Result<()> {
        let mut conn = self.conn.clone();
        redis::cmd("PING")
            .query_async::<String>(&mut conn)
            .await
            .map(|_| ())
            .map_err(|e| self.failed(&e))
    }

    fn resting(&self) -> bool {
        let mut until = self.resting_until.lock().unwrap_or_else(|e| e.into_inner());
        match *until {
            Some(t) if t > Instant::now() => true,
            Some(_) => {
                *until = None;
                false
            }
            None => false,
        }
    }

    fn failed(&self, e: &redis::RedisError) -> Error {
        *self.resting_until.lock().unwrap_or_else(|e| e.into_inner()) =
            Some(Instant::now() + BACK_OFF);
        Error::Storage {
            message: format!("Redis at {} failed: {}", self.shown, describe(e)),
            source: None,
        }
    }
}

#[async_trait]
impl RateLimiter for RedisLimiter {
    async fn check(&self, key: &str, quota: Quota, now: DateTime<Utc>) -> Result<Option<Duration>> {
        if self.resting() {
            return Err(Error::Storage {
                message: format!("Redis at {} failed less than a second ago", self.shown),
                source: None,
            });
        }
        let mut conn = self.conn.clone();
        let wait: i64 = self
            .script
            .key(format!("{}{key}", self.prefix))
            .arg(now.timestamp_micros())
            .arg(quota.interval_micros())
            .arg(quota.burst.max(1))
            .invoke_async(&mut conn)
            .await
            .map_err(|e| self.failed(&e))?;
        Ok((wait > 0).then(|| Duration::from_micros(wait.unsigned_abs())))
    }
}

/// What went wrong, without anything the server said verbatim beyond its
/// error kind (a reply could echo a key).
fn describe(e: &redis::RedisError) -> String {
    if e.is_timeout() {
        "no answer within 250 ms".into()
    } else if e.is_connection_refusal() {
        "connection refused".into()
    } else if e.is_io_error() || e.is_connection_dropped() {
        "connection lost".into()
    } else {
        format!("{:?}", e.kind())
    }
}

/// `url` with any password replaced.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            super::redact("redis://:hunter2@cache:6379/0"),
            "redis://:***@cache:6379/0"
        );
        assert_eq!(
            super::redact("redis://app:hunter2@cache/1"),
            "redis://app:***@cache/1"
        );
        assert_eq!(
            super::redact("redis://127.0.0.1:6379"),
            "redis://127.0.0.1:6379"
        );
    }
}
