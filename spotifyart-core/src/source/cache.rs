//! A [`MusicSource`] wrapper that remembers each user's profile for a
//! while, so a page reload or a second match does not refetch (and spend
//! Spotify rate limit on) the same listening. Concurrent requests for one
//! user share one fetch.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::MusicSource;
use crate::Result;
use crate::ids::UserId;
use crate::profile::ListeningProfile;

#[derive(Default)]
struct Slot {
    value: Option<(Instant, ListeningProfile)>,
}

/// Caches `inner`'s profiles for `ttl` per user. Errors are not cached.
pub struct CachedSource<S> {
    inner: S,
    ttl: Duration,
    slots: Mutex<HashMap<UserId, Arc<tokio::sync::Mutex<Slot>>>>,
}

impl<S: std::fmt::Debug> std::fmt::Debug for CachedSource<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedSource")
            .field("inner", &self.inner)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl<S: MusicSource> CachedSource<S> {
    /// Wraps `inner`, keeping profiles for `ttl`.
    pub fn new(inner: S, ttl: Duration) -> Self {
        Self {
            inner,
            ttl,
            slots: Mutex::default(),
        }
    }

    /// The wrapped source.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// Forgets `user`'s profile (sign-out, new tokens).
    pub fn invalidate(&self, user: UserId) {
        self.slots
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&user);
    }

    fn slot(&self, user: UserId) -> Arc<tokio::sync::Mutex<Slot>> {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        // Drop expired entries now and then so memory follows active users.
        if slots.len() > 1024 {
            slots.retain(|_, s| {
                s.try_lock()
                    .map(|s| {
                        s.value
                            .as_ref()
                            .is_some_and(|(t, _)| t.elapsed() < self.ttl)
                    })
                    .unwrap_or(true)
            });
        }
        slots.entry(user).or_default().clone()
    }
}

#[async_trait]
impl<S: MusicSource> MusicSource for CachedSource<S> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    async fn profile(&self, user: UserId) -> Result<ListeningProfile> {
        let slot = self.slot(user);
        let mut slot = slot.lock().await;
        if let Some((at, profile)) = &slot.value
            && at.elapsed() < self.ttl
        {
            return Ok(profile.clone());
        }
        let profile = self.inner.profile(user).await?;
        slot.value = Some((Instant::now(), profile.clone()));
        Ok(profile)
    }

    async fn fresh_profile(&self, user: UserId) -> Result<ListeningProfile> {
        let slot = self.slot(user);
        let mut slot = slot.lock().await;
        let profile = self.inner.fresh_profile(user).await?;
        slot.value = Some((Instant::now(), profile.clone()));
        Ok(profile)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;
    use crate::Error;

    #[derive(Debug, Default)]
    struct Counting {
        calls: AtomicU32,
        fail: std::sync::atomic::AtomicBool,
    }

    #[async_trait]
    impl MusicSource for Counting {
        fn name(&self) -> &str {
            "counting"
        }
        async fn profile(&self, _user: UserId) -> Result<ListeningProfile> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(20)).await;
            if self.fail.load(Ordering::SeqCst) {
                return Err(Error::not_found("user"));
            }
            Ok(ListeningProfile::empty("counting"))
        }
    }

    #[tokio::test]
    async fn fetches_once_per_window_and_user() {
        let cached = Arc::new(CachedSource::new(
            Counting::default(),
            Duration::from_millis(300),
        ));
        let (a, b) = (UserId::new(), UserId::new());
        let many = (0..8).map(|_| {
            let c = cached.clone();
            tokio::spawn(async move { c.profile(a).await })
        });
        for h in many {
            h.await.unwrap().unwrap();
        }
        assert_eq!(
            cached.inner().calls.load(Ordering::SeqCst),
            1,
            "one fetch for concurrent calls"
        );
        cached.profile(b).await.unwrap();
        assert_eq!(cached.inner().calls.load(Ordering::SeqCst), 2, "per user");
        cached.invalidate(a);
        cached.profile(a).await.unwrap();
        assert_eq!(
            cached.inner().calls.load(Ordering::SeqCst),
            3,
            "after invalidate"
        );
        tokio::time::sleep(Duration::from_millis(350)).await;
        cached.profile(a).await.unwrap();
        assert_eq!(
            cached.inner().calls.load(Ordering::SeqCst),
            4,
            "after the window"
        );
    }

    #[tokio::test]
    async fn a_fresh_profile_skips_the_cache_and_refills_it() {
        let cached = CachedSource::new(Counting::default(), Duration::from_secs(60));
        let user = UserId::new();
        cached.profile(user).await.unwrap();
        cached.fresh_profile(user).await.unwrap();
        assert_eq!(cached.inner().calls.load(Ordering::SeqCst), 2);
        cached.profile(user).await.unwrap();
        assert_eq!(
            cached.inner().calls.load(Ordering::SeqCst),
            2,
            "served from the refilled cache"
        );
    }

    #[tokio::test]
    async fn errors_are_not_cached() {
        let cached = CachedSource::new(Counting::default(), Duration::from_secs(60));
        cached.inner().fail.store(true, Ordering::SeqCst);
        let user = UserId::new();
        assert!(cached.profile(user).await.is_err());
        cached.inner().fail.store(false, Ordering::SeqCst);
        assert!(cached.profile(user).await.is_ok());
        assert_eq!(cached.inner().calls.load(Ordering::SeqCst), 2);
    }
}
