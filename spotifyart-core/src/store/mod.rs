//! Persistence: users, their Spotify accounts and tokens, sessions, moods,
//! matches and invites, artworks, and the job queue.
//!
//! The contract is split into small traits by concern; [`Store`] is all of
//! them together and is what the Engine and adapters take. Time is always
//! passed in (`now`) rather than read from a clock, so expiry and leases are
//! testable and every backend agrees on what "expired" means.
//!
//! Secrets: token values cross this boundary in plaintext
//! ([`OAuthTokens`]) and backends encrypt them at rest; session and invite
//! tokens never reach a store at all, only their SHA-256 ([`TokenHash`]).

mod memory;
mod schedule;
mod token;

use std::fmt::Debug;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

pub use memory::InMemoryStore;
pub use schedule::{
    NewSchedule, Schedule, ScheduleOutcome, ScheduleStore, ScheduledTask, after_run, check_new,
    next_slot,
};
pub use token::{OpaqueToken, TokenHash};

use crate::art::{ArtRequest, Artwork, ArtworkMeta, ContentKey, Subject};
use crate::ids::{ArtworkId, JobId, MatchId, UserId};
use crate::matching::MatchResult;
use crate::mood::Mood;
use crate::profile::TimeRange;
use crate::{Error, Result};

/// A sign-in with an identity provider, as reported by the provider.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewAccount {
    /// Provider, e.g. `spotify`.
    pub provider: String,
    /// The provider's stable account id (Spotify's `account_id`, else `id`).
    pub account_id: String,
    /// Display name, stored byte for byte.
    pub display_name: Option<String>,
    /// Scopes granted.
    pub scopes: Vec<String>,
}

/// A SpotifyArt user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Id.
    pub id: UserId,
    /// Display name from the provider.
    pub display_name: Option<String>,
    /// First sign-in.
    pub created_at: DateTime<Utc>,
}

/// A provider account linked to a user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Owner.
    pub user: UserId,
    /// Provider.
    pub provider: String,
    /// Provider's account id.
    pub account_id: String,
    /// Scopes granted at the last sign-in.
    pub scopes: Vec<String>,
    /// Last sign-in.
    pub updated_at: DateTime<Utc>,
}

/// Users and their provider accounts.
#[async_trait]
pub trait UserStore: Send + Sync + Debug + 'static {
    /// The user owning `(provider, account_id)`, created on first sign-in;
    /// display name and scopes are updated on every sign-in.
    async fn upsert_account(&self, account: &NewAccount, now: DateTime<Utc>) -> Result<User>;
    /// A user by id.
    async fn user(&self, id: UserId) -> Result<User>;
    /// The accounts linked to a user.
    async fn accounts(&self, user: UserId) -> Result<Vec<Account>>;
}

/// OAuth tokens for one provider account. `Debug` never shows the values.
#[derive(Clone, Debug)]
pub struct OAuthTokens {
    /// Bearer token for API calls.
    pub access_token: SecretString,
    /// Token to get a new access token, when the provider issued one.
    pub refresh_token: Option<SecretString>,
    /// When the access token stops working.
    pub expires_at: DateTime<Utc>,
    /// Scopes the tokens carry.
    pub scopes: Vec<String>,
}

/// OAuth tokens, encrypted at rest by the backends that persist them.
#[async_trait]
pub trait TokenStore: Send + Sync + Debug + 'static {
    /// Stores (replaces) the tokens of `user` for `provider`.
    async fn put_tokens(&self, user: UserId, provider: &str, tokens: &OAuthTokens) -> Result<()>;
    /// The tokens; `NotFound` when there are none.
    async fn tokens(&self, user: UserId, provider: &str) -> Result<OAuthTokens>;
    /// Forgets the tokens (sign-out, revoked grant). Idempotent.
    async fn delete_tokens(&self, user: UserId, provider: &str) -> Result<()>;
    /// Users holding tokens for `provider`, oldest user first (batch jobs
    /// such as the playlist archive run for each of them).
    async fn token_users(&self, provider: &str) -> Result<Vec<UserId>>;
    /// Takes the right to refresh these tokens until `now + lease_for`:
    /// `true` when `holder` holds it now (it was free, its last holder's
    /// lease ran out, or `holder` held it already). Providers rotate refresh
    /// tokens, so two servers refreshing at once would leave one holding a
    /// dead token: refreshes are serialised across processes with this.
    /// `NotFound` when there are no tokens.
    async fn lease_token_refresh(
        &self,
        user: UserId,
        provider: &str,
        holder: &str,
        now: DateTime<Utc>,
        lease_for: Duration,
    ) -> Result<bool>;
    /// Gives back `holder`'s refresh lease. Idempotent; another holder's
    /// lease is left alone.
    async fn release_token_refresh(&self, user: UserId, provider: &str, holder: &str)
    -> Result<()>;
}

/// A sign-in in progress: what the OAuth callback needs, kept server-side
/// under the hash of its `state`, so the browser's cookie carries only
/// that random value and any server can finish the sign-in, once.
#[derive(Clone, Debug)]
pub struct PendingSignIn {
    /// SHA-256 of the OAuth `state`.
    pub state_hash: TokenHash,
    /// The PKCE verifier (encrypted at rest by persistent backends).
    pub verifier: SecretString,
    /// The local page to return to.
    pub next: String,
    /// When it was started.
    pub created_at: DateTime<Utc>,
    /// Unusable after this.
    pub expires_at: DateTime<Utc>,
}

/// Sign-ins in progress.
#[async_trait]
pub trait SignInStore: Send + Sync + Debug + 'static {
    /// Stores a sign-in in progress (and drops expired ones).
    async fn create_sign_in(&self, pending: &PendingSignIn, now: DateTime<Utc>) -> Result<()>;
    /// Takes (removes) a sign-in: each is finished at most once, by
    /// whichever server the callback reaches. `NotFound` when unknown,
    /// already taken or expired.
    async fn take_sign_in(
        &self,
        state_hash: &TokenHash,
        now: DateTime<Utc>,
    ) -> Result<PendingSignIn>;
}

/// A session to create: only the token's hash is stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewSession {
    /// SHA-256 of the session token.
    pub hash: TokenHash,
    /// Who it signs in.
    pub user: UserId,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Ends unless used before this.
    pub idle_expires_at: DateTime<Utc>,
    /// Ends at this time regardless of use.
    pub absolute_expires_at: DateTime<Utc>,
}

/// A live session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    /// SHA-256 of the session token.
    pub hash: TokenHash,
    /// Who it signs in.
    pub user: UserId,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Idle expiry.
    pub idle_expires_at: DateTime<Utc>,
    /// Absolute expiry.
    pub absolute_expires_at: DateTime<Utc>,
}

/// Browser sessions, by token hash.
#[async_trait]
pub trait SessionStore: Send + Sync + Debug + 'static {
    /// Stores a new session.
    async fn create_session(&self, session: &NewSession) -> Result<()>;
    /// The live session; `Unauthorized` when unknown, expired or revoked.
    async fn session(&self, hash: &TokenHash, now: DateTime<Utc>) -> Result<Session>;
    /// Extends the idle expiry (never past the absolute one).
    async fn touch_session(
        &self,
        hash: &TokenHash,
        now: DateTime<Utc>,
        idle_expires_at: DateTime<Utc>,
    ) -> Result<()>;
    /// Atomically revokes `old` and creates `new` for the same user;
    /// `Unauthorized` when `old` is not live (a replayed rotation).
    async fn rotate_session(
        &self,
        old: &TokenHash,
        new: &NewSession,
        now: DateTime<Utc>,
    ) -> Result<()>;
    /// Revokes a session. Idempotent.
    async fn revoke_session(&self, hash: &TokenHash) -> Result<()>;
    /// Revokes every session of a user; returns how many were live.
    async fn revoke_sessions(&self, user: UserId, now: DateTime<Utc>) -> Result<u64>;
}

/// A computed mood, kept so pages can show it without recomputing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MoodSnapshot {
    /// Whose mood.
    pub user: UserId,
    /// The range it was computed for; `None` for all ranges blended.
    pub time_range: Option<TimeRange>,
    /// The mood.
    pub mood: Mood,
    /// When.
    pub computed_at: DateTime<Utc>,
}

/// Mood snapshots.
#[async_trait]
pub trait MoodStore: Send + Sync + Debug + 'static {
    /// Records a snapshot.
    async fn put_mood(&self, snapshot: &MoodSnapshot) -> Result<()>;
    /// The newest snapshot for a user and range, if any.
    async fn latest_mood(
        &self,
        user: UserId,
        time_range: Option<TimeRange>,
    ) -> Result<Option<MoodSnapshot>>;
}

/// An invitation to match, identified by the hash of its secret code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invite {
    /// SHA-256 of the invite code.
    pub hash: TokenHash,
    /// Who invited.
    pub inviter: UserId,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Unusable after this.
    pub expires_at: DateTime<Utc>,
    /// Who accepted, once accepted.
    pub accepted_by: Option<UserId>,
    /// The match it created, once accepted.
    pub match_id: Option<MatchId>,
    /// Whom it is for, when the inviter named someone at a listening
    /// service (only that account may accept it).
    pub addressee: Option<Addressee>,
}

/// Someone at a listening service, by name: whom an invite is for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Addressee {
    /// `listenbrainz` or `lastfm`.
    pub provider: String,
    /// Their username there.
    pub name: String,
}

impl Addressee {
    /// Whether `account` is this person (usernames at these services are
    /// case-insensitive).
    pub fn is(&self, account: &Account) -> bool {
        account.provider == self.provider && account.account_id.eq_ignore_ascii_case(&self.name)
    }
}

impl Invite {
    /// Whether `accepter` may take this invite at `now`: not their own, not
    /// used, not expired. The engine checks it before reading anyone's
    /// listening; every store checks it again as it stores the match.
    pub fn check_accept(&self, accepter: UserId, now: DateTime<Utc>) -> Result<()> {
        if accepter == self.inviter {
            return Err(Error::invalid("you cannot accept your own invite"));
        }
        if self.accepted_by.is_some() {
            return Err(Error::conflict("this invite has already been used"));
        }
        if now >= self.expires_at {
            return Err(Error::conflict(
                "this invite has expired; ask for a new one",
            ));
        }
        Ok(())
    }
}

/// The acceptance rule as a store applies it to the match `record` that
/// accepting `invite` stores (the inviter first).
pub fn check_accept(invite: &Invite, record: &MatchRecord, now: DateTime<Utc>) -> Result<()> {
    if record.users[0] != invite.inviter {
        return Err(Error::invalid(
            "the match's first user must be the one who invited",
        ));
    }
    invite.check_accept(record.users[1], now)
}

/// A stored match between two users.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MatchRecord {
    /// Id.
    pub id: MatchId,
    /// The two users: inviter first.
    pub users: [UserId; 2],
    /// Score, explanation and moods.
    pub result: MatchResult,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

/// Matches and the invites that create them.
#[async_trait]
pub trait MatchStore: Send + Sync + Debug + 'static {
    /// Stores a new invite.
    async fn create_invite(&self, invite: &Invite) -> Result<()>;
    /// An invite by hash (accepted or not); `NotFound` when unknown.
    async fn invite(&self, hash: &TokenHash) -> Result<Invite>;
    /// Atomically uses the invite and stores `record` (whose `users` are the
    /// inviter and the accepter). `NotFound` for an unknown invite,
    /// `Conflict` when already used or expired, `InvalidInput` for one's own
    /// invite or users that do not fit the invite.
    async fn accept_invite(
        &self,
        hash: &TokenHash,
        record: &MatchRecord,
        now: DateTime<Utc>,
    ) -> Result<()>;
    /// Stores a match made without an invite.
    async fn put_match(&self, record: &MatchRecord) -> Result<()>;
    /// A match by id.
    async fn get_match(&self, id: MatchId) -> Result<MatchRecord>;
    /// Matches a user is part of, newest first.
    async fn matches_for(&self, user: UserId) -> Result<Vec<MatchRecord>>;
}

/// Painted pictures, unique by content key.
#[async_trait]
pub trait ArtworkStore: Send + Sync + Debug + 'static {
    /// Stores an artwork. When its content key is already stored the first
    /// one wins and its metadata is returned: nothing is stored twice.
    async fn put_artwork(&self, artwork: &Artwork) -> Result<ArtworkMeta>;
    /// An artwork with its PNG.
    async fn artwork(&self, id: ArtworkId) -> Result<Artwork>;
    /// An artwork's metadata.
    async fn artwork_meta(&self, id: ArtworkId) -> Result<ArtworkMeta>;
    /// The artwork with this content key, if painted.
    async fn artwork_by_key(&self, key: &ContentKey) -> Result<Option<ArtworkMeta>>;
    /// Artworks a user is in, newest first; `before` pages backwards.
    async fn artworks_for(
        &self,
        user: UserId,
        before: Option<DateTime<Utc>>,
        limit: usize,
    ) -> Result<Vec<ArtworkMeta>>;
}

/// What a job paints.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobSpec {
    /// Who the picture is of.
    pub subject: Subject,
    /// The full request (defaults already filled in).
    pub request: ArtRequest,
}

/// A job to add.
#[derive(Clone, Debug, PartialEq)]
pub struct NewJob {
    /// The artwork's content key: one live job per key.
    pub content_key: ContentKey,
    /// What to paint.
    pub spec: JobSpec,
    /// Who asked.
    pub owner: Option<UserId>,
    /// Tries before the job is failed for good.
    pub max_attempts: u32,
}

/// Where a job is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting for a worker (possibly after a failed try).
    Queued,
    /// Leased by a worker.
    Running,
    /// Painted; `artwork_id` is set.
    Succeeded,
    /// Out of tries; `last_error` says why.
    Failed,
}

impl JobState {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
        }
    }
}

/// A generation job.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// Id.
    pub id: JobId,
    /// Content key of the artwork it paints.
    pub content_key: ContentKey,
    /// What to paint.
    pub spec: JobSpec,
    /// Who asked.
    pub owner: Option<UserId>,
    /// State.
    pub state: JobState,
    /// Tries so far (a lease counts as a try).
    pub attempts: u32,
    /// Tries allowed.
    pub max_attempts: u32,
    /// Progress of the current try, 0-1.
    pub progress: f32,
    /// The last failure, kept after retries and when failed.
    pub last_error: Option<String>,
    /// The painted artwork, when succeeded.
    pub artwork_id: Option<ArtworkId>,
    /// The worker holding the lease.
    pub lease_owner: Option<String>,
    /// When the lease runs out.
    pub lease_expires_at: Option<DateTime<Utc>>,
    /// Not runnable before this (retry backoff).
    pub run_after: DateTime<Utc>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// The durable job queue.
///
/// Guarantees every backend keeps: one live (queued or running) or
/// succeeded job per content key; a job is held by at most one worker at a
/// time; a worker that stops heartbeating loses the job when its lease runs
/// out and another worker takes it; a job fails for good only after
/// `max_attempts` tries, keeping its last error.
#[async_trait]
pub trait JobQueue: Send + Sync + Debug + 'static {
    /// Adds a job, or returns the live or succeeded job already there for
    /// its content key. A failed job does not block a new one (retry).
    async fn enqueue(&self, job: &NewJob, now: DateTime<Utc>) -> Result<Job>;
    /// Leases the oldest runnable job: queued and due, or running with an
    /// expired lease. Counts a try. A job whose lease expired on its last
    /// try is failed instead.
    async fn lease(
        &self,
        worker: &str,
        now: DateTime<Utc>,
        lease_for: Duration,
    ) -> Result<Option<Job>>;
    /// Extends the lease and records progress; `Conflict` when `worker` no
    /// longer holds the job.
    async fn heartbeat(
        &self,
        id: JobId,
        worker: &str,
        progress: f32,
        now: DateTime<Utc>,
        lease_for: Duration,
    ) -> Result<()>;
    /// Marks the job succeeded; `Conflict` when `worker` no longer holds it.
    async fn complete(
        &self,
        id: JobId,
        worker: &str,
        artwork: ArtworkId,
        now: DateTime<Utc>,
    ) -> Result<Job>;
    /// Records a failed try: queued again from `retry_at` while tries remain,
    /// else failed. `Conflict` when `worker` no longer holds the job.
    async fn fail(
        &self,
        id: JobId,
        worker: &str,
        error: &str,
        now: DateTime<Utc>,
        retry_at: DateTime<Utc>,
    ) -> Result<Job>;
    /// A job by id.
    async fn job(&self, id: JobId) -> Result<Job>;
    /// The live (queued or running) or succeeded job for a content key,
    /// if any: what [`JobQueue::enqueue`] would return instead of adding.
    async fn job_by_key(&self, key: &ContentKey) -> Result<Option<Job>>;
    /// Waits until a job may be available or `max_wait` passes. Backends with
    /// notifications wake early; the default just sleeps.
    async fn wait_for_jobs(&self, max_wait: Duration) {
        tokio::time::sleep(max_wait).await;
    }
}

/// Backend identity and health.
#[async_trait]
pub trait StoreHealth: Send + Sync + Debug + 'static {
    /// `memory`, `sqlite` or `postgres`.
    fn backend(&self) -> &str;
    /// Fails when the backend cannot serve requests (readiness probes).
    async fn ping(&self) -> Result<()>;
}

/// Everything persistent. Implemented automatically for any type that
/// implements every part.
pub trait Store:
    UserStore
    + TokenStore
    + SignInStore
    + SessionStore
    + MoodStore
    + MatchStore
    + ArtworkStore
    + JobQueue
    + ScheduleStore
    + StoreHealth
{
}

impl<T> Store for T where
    T: UserStore
        + TokenStore
        + SignInStore
        + SessionStore
        + MoodStore
        + MatchStore
        + ArtworkStore
        + JobQueue
        + ScheduleStore
        + StoreHealth
{
}
