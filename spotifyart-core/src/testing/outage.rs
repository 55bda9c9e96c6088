//! A store whose database can be switched off: every call fails with
//! `Error::Storage` while it is down, as when the database server stops or
//! the network drops, so adapters can prove they answer a clear error and
//! change nothing.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::art::{Artwork, ArtworkMeta, ContentKey};
use crate::ids::{ArtworkId, JobId, MatchId, ScheduleId, UserId};
use crate::profile::TimeRange;
use crate::store::{
    Account, ArtworkStore, Invite, Job, JobQueue, MatchRecord, MatchStore, MoodSnapshot, MoodStore,
    NewAccount, NewJob, NewSchedule, NewSession, OAuthTokens, PendingSignIn, Schedule,
    ScheduleOutcome, ScheduleStore, Session, SessionStore, SignInStore, Store, StoreHealth,
    TokenHash, TokenStore, User, UserStore,
};
use crate::{Error, Result};

/// Wraps a store; [`OutageStore::set_down`] makes every call fail.
#[derive(Debug)]
pub struct OutageStore<S> {
    inner: S,
    down: AtomicBool,
}

impl<S> OutageStore<S> {
    /// Up, passing every call to `inner`.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            down: AtomicBool::new(false),
        }
    }

    /// Takes the database down (`true`) or brings it back.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    fn check(&self) -> Result<()> {
        if self.down.load(Ordering::SeqCst) {
            Err(Error::Storage {
                message: "connection refused (the database is down)".into(),
                source: None,
            })
        } else {
            Ok(())
        }
    }
}

/// Each method: fail while down, else the inner store's answer.
macro_rules! delegate {
    ($trait:ident { $( fn $name:ident(&self $(, $arg:ident : $ty:ty)*) -> $ret:ty; )* }) => {
        #[async_trait]
        impl<S: Store> $trait for OutageStore<S> {
            $(
                async fn $name(&self $(, $arg: $ty)*) -> $ret {
                    self.check()?;
                    self.inner.$name($($arg),*).await
                }
            )*
        }
    };
}

delegate!(UserStore {
    fn upsert_account(&self, account: &NewAccount, now: DateTime<Utc>) -> Result<User>;
    fn user(&self, id: UserId) -> Result<User>;
    fn accounts(&self, user: UserId) -> Result<Vec<Account>>;
});

delegate!(TokenStore {
    fn put_tokens(&self, user: UserId, provider: &str, tokens: &OAuthTokens) -> Result<()>;
    fn tokens(&self, user: UserId, provider: &str) -> Result<OAuthTokens>;
    fn delete_tokens(&self, user: UserId, provider: &str) -> Result<()>;
    fn token_users(&self, provider: &str) -> Result<Vec<UserId>>;
    fn lease_token_refresh(&self, user: UserId, provider: &str, holder: &str, now: DateTime<Utc>, lease_for: Duration) -> Result<bool>;
    fn release_token_refresh(&self, user: UserId, provider: &str, holder: &str) -> Result<()>;
});

delegate!(SignInStore {
    fn create_sign_in(&self, pending: &PendingSignIn, now: DateTime<Utc>) -> Result<()>;
    fn take_sign_in(&self, state_hash: &TokenHash, now: DateTime<Utc>) -> Result<PendingSignIn>;
});

delegate!(SessionStore {
    fn create_session(&self, session: &NewSession) -> Result<()>;
    fn session(&self, hash: &TokenHash, now: DateTime<Utc>) -> Result<Session>;
    fn touch_session(&self, hash: &TokenHash, now: DateTime<Utc>, idle_expires_at: DateTime<Utc>) -> Result<()>;
    fn rotate_session(&self, old: &TokenHash, new: &NewSession, now: DateTime<Utc>) -> Result<()>;
    fn revoke_session(&self, hash: &TokenHash) -> Result<()>;
    fn revoke_sessions(&self, user: UserId, now: DateTime<Utc>) -> Result<u64>;
});

delegate!(MoodStore {
    fn put_mood(&self, snapshot: &MoodSnapshot) -> Result<()>;
    fn latest_mood(&self, user: UserId, time_range: Option<TimeRange>) -> Result<Option<MoodSnapshot>>;
});

delegate!(MatchStore {
    fn create_invite(&self, invite: &Invite) -> Result<()>;
    fn invite(&self, hash: &TokenHash) -> Result<Invite>;
    fn accept_invite(&self, hash: &TokenHash, record: &MatchRecord, now: DateTime<Utc>) -> Result<()>;
    fn put_match(&self, record: &MatchRecord) -> Result<()>;
    fn get_match(&self, id: MatchId) -> Result<MatchRecord>;
    fn matches_for(&self, user: UserId) -> Result<Vec<MatchRecord>>;
});

delegate!(ArtworkStore {
    fn put_artwork(&self, artwork: &Artwork) -> Result<ArtworkMeta>;
    fn artwork(&self, id: ArtworkId) -> Result<Artwork>;
    fn artwork_meta(&self, id: ArtworkId) -> Result<ArtworkMeta>;
    fn artwork_by_key(&self, key: &ContentKey) -> Result<Option<ArtworkMeta>>;
    fn artworks_for(&self, user: UserId, before: Option<DateTime<Utc>>, limit: usize) -> Result<Vec<ArtworkMeta>>;
});

delegate!(ScheduleStore {
    fn create_schedule(&self, new: &NewSchedule, now: DateTime<Utc>) -> Result<Schedule>;
    fn schedule(&self, id: ScheduleId) -> Result<Schedule>;
    fn schedules_for(&self, user: UserId) -> Result<Vec<Schedule>>;
    fn delete_schedule(&self, user: UserId, id: ScheduleId) -> Result<()>;
    fn claim_schedule(&self, worker: &str, now: DateTime<Utc>, lease_for: Duration) -> Result<Option<Schedule>>;
    fn finish_schedule(&self, id: ScheduleId, worker: &str, outcome: &ScheduleOutcome, now: DateTime<Utc>) -> Result<Schedule>;
    fn pause_schedules(&self, user: UserId, reason: Option<&str>) -> Result<u64>;
});

#[async_trait]
impl<S: Store> JobQueue for OutageStore<S> {
    async fn job_by_key(&self, key: &ContentKey) -> Result<Option<Job>> {
        self.check()?;
        self.inner.job_by_key(key).await
    }
    async fn enqueue(&self, job: &NewJob, now: DateTime<Utc>) -> Result<Job> {
        self.check()?;
        self.inner.enqueue(job, now).await
    }
    async fn lease(
        &self,
        worker: &str,
        now: DateTime<Utc>,
        lease_for: Duration,
    ) -> Result<Option<Job>> {
        self.check()?;
        self.inner.lease(worker, now, lease_for).await
    }
    async fn heartbeat(
        &self,
        id: JobId,
        worker: &str,
        progress: f32,
        now: DateTime<Utc>,
        lease_for: Duration,
    ) -> Result<()> {
        self.check()?;
        self.inner
            .heartbeat(id, worker, progress, now, lease_for)
            .await
    }
    async fn complete(
        &self,
        id: JobId,
        worker: &str,
        artwork: ArtworkId,
        now: DateTime<Utc>,
    ) -> Result<Job> {
        self.check()?;
        self.inner.complete(id, worker, artwork, now).await
    }
    async fn fail(
        &self,
        id: JobId,
        worker: &str,
        error: &str,
        now: DateTime<Utc>,
        retry_at: DateTime<Utc>,
    ) -> Result<Job> {
        self.check()?;
        self.inner.fail(id, worker, error, now, retry_at).await
    }
    async fn job(&self, id: JobId) -> Result<Job> {
        self.check()?;
        self.inner.job(id).await
    }
    async fn wait_for_jobs(&self, max_wait: Duration) {
        self.inner.wait_for_jobs(max_wait).await
    }
}

#[async_trait]
impl<S: Store> StoreHealth for OutageStore<S> {
    fn backend(&self) -> &str {
        self.inner.backend()
    }
    async fn ping(&self) -> Result<()> {
        self.check()?;
        self.inner.ping().await
    }
}
