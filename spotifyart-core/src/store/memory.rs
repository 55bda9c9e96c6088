//! An in-memory [`Store`](super::Store): always compiled, for tests,
//! notebooks and embedding without a database. One mutex guards all state,
//! so every operation is atomic, which makes it the reference for the
//! semantics the SQL backends must match.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::Notify;

use super::*;
use crate::Error;
use crate::ids::ScheduleId;

#[derive(Default)]
struct State {
    users: HashMap<UserId, User>,
    accounts: HashMap<(String, String), Account>,
    tokens: HashMap<(UserId, String), OAuthTokens>,
    /// Refresh leases by token row: holder and expiry.
    refresh_leases: HashMap<(UserId, String), (String, DateTime<Utc>)>,
    sign_ins: HashMap<TokenHash, PendingSignIn>,
    sessions: HashMap<TokenHash, (Session, bool)>,
    moods: Vec<MoodSnapshot>,
    invites: HashMap<TokenHash, Invite>,
    matches: HashMap<MatchId, MatchRecord>,
    artworks: HashMap<ArtworkId, Artwork>,
    artwork_keys: HashMap<ContentKey, ArtworkId>,
    jobs: HashMap<JobId, Job>,
    schedules: HashMap<ScheduleId, Schedule>,
}

/// See the module docs.
#[derive(Default)]
pub struct InMemoryStore {
    state: Mutex<State>,
    jobs_added: Notify,
}

impl std::fmt::Debug for InMemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InMemoryStore").finish_non_exhaustive()
    }
}

impl InMemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave half-applied changes:
        // every operation validates before it mutates.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn lease_lost(id: JobId) -> Error {
    Error::conflict(format!(
        "job {id} is no longer leased by this worker (lease expired or job finished)"
    ))
}

fn chrono_dur(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

#[async_trait]
impl UserStore for InMemoryStore {
    async fn upsert_account(&self, a: &NewAccount, now: DateTime<Utc>) -> Result<User> {
        let mut s = self.lock();
        let key = (a.provider.clone(), a.account_id.clone());
        let user_id = match s.accounts.get(&key) {
            Some(acc) => acc.user,
            None => {
                let user = User {
                    id: UserId::new(),
                    display_name: a.display_name.clone(),
                    created_at: now,
                };
                let id = user.id;
                s.users.insert(id, user);
                id
            }
        };
        s.accounts.insert(
            key,
            Account {
                user: user_id,
                provider: a.provider.clone(),
                account_id: a.account_id.clone(),
                scopes: a.scopes.clone(),
                updated_at: now,
            },
        );
        let user = s.users.get_mut(&user_id).expect("account points at a user");
        user.display_name = a.display_name.clone();
        Ok(user.clone())
    }

    async fn user(&self, id: UserId) -> Result<User> {
        self.lock()
            .users
            .get(&id)
            .cloned()
            .ok_or_else(|| Error::not_found(format!("user {id}")))
    }

    async fn accounts(&self, user: UserId) -> Result<Vec<Account>> {
        let s = self.lock();
        let mut out: Vec<Account> = s
            .accounts
            .values()
            .filter(|a| a.user == user)
            .cloned()
            .collect();
        out.sort_by(|a, b| a.provider.cmp(&b.provider));
        Ok(out)
    }
}

#[async_trait]
impl TokenStore for InMemoryStore {
    async fn put_tokens(&self, user: UserId, provider: &str, tokens: &OAuthTokens) -> Result<()> {
        let mut s = self.lock();
        if !s.users.contains_key(&user) {
            return Err(Error::not_found(format!("user {user}")));
        }
        s.tokens
            .insert((user, provider.to_string()), tokens.clone());
        Ok(())
    }

    async fn tokens(&self, user: UserId, provider: &str) -> Result<OAuthTokens> {
        self.lock()
            .tokens
            .get(&(user, provider.to_string()))
            .cloned()
            .ok_or_else(|| Error::not_found(format!("{provider} tokens")))
    }

    async fn delete_tokens(&self, user: UserId, provider: &str) -> Result<()> {
        let mut s = self.lock();
        let key = (user, provider.to_string());
        s.tokens.remove(&key);
        s.refresh_leases.remove(&key);
        Ok(())
    }
    async fn token_users(&self, provider: &str) -> Result<Vec<UserId>> {
        let mut users: Vec<UserId> = self
            .lock()
            .tokens
            .keys()
            .filter(|(_, p)| p == provider)
            .map(|(u, _)| *u)
            .collect();
        // UUIDv7 ids sort by creation time.
        users.sort();
        Ok(users)
    }

    async fn lease_token_refresh(
        &self,
        user: UserId,
        provider: &str,
        holder: &str,
        now: DateTime<Utc>,
        lease_for: Duration,
    ) -> Result<bool> {
        let mut s = self.lock();
        let key = (user, provider.to_string());
        if !s.tokens.contains_key(&key) {
            return Err(Error::not_found(format!("{provider} tokens")));
        }
        let free = match s.refresh_leases.get(&key) {
            Some((owner, until)) => owner == holder || *until <= now,
            None => true,
        };
        if free {
            s.refresh_leases
                .insert(key, (holder.to_string(), now + chrono_dur(lease_for)));
        }
        Ok(free)
    }

    async fn release_token_refresh(
        &self,
        user: UserId,
        provider: &str,
        holder: &str,
    ) -> Result<()> {
        let mut s = self.lock();
        let key = (user, provider.to_string());
        if s.refresh_leases.get(&key).is_some_and(|(o, _)| o == holder) {
            s.refresh_leases.remove(&key);
        }
        Ok(())
    }
}

#[async_trait]
impl SignInStore for InMemoryStore {
    async fn create_sign_in(&self, pending: &PendingSignIn, now: DateTime<Utc>) -> Result<()> {
        let mut s = self.lock();
        s.sign_ins.retain(|_, p| p.expires_at > now);
        if s.sign_ins.contains_key(&pending.state_hash) {
            return Err(Error::AlreadyExists {
                what: "sign-in".into(),
            });
        }
        s.sign_ins
            .insert(pending.state_hash.clone(), pending.clone());
        Ok(())
    }

    async fn take_sign_in(
        &self,
        state_hash: &TokenHash,
        now: DateTime<Utc>,
    ) -> Result<PendingSignIn> {
        self.lock()
            .sign_ins
            .remove(state_hash)
            .filter(|p| p.expires_at > now)
            .ok_or_else(|| Error::not_found("sign-in in progress"))
    }
}

fn live(session: &Session, revoked: bool, now: DateTime<Utc>) -> bool {
    !revoked && now < session.idle_expires_at && now < session.absolute_expires_at
}

#[async_trait]
impl SessionStore for InMemoryStore {
    async fn create_session(&self, n: &NewSession) -> Result<()> {
        let mut s = self.lock();
        if s.sessions.contains_key(&n.hash) {
            return Err(Error::AlreadyExists {
                what: "session".into(),
            });
        }
        s.sessions.insert(
            n.hash.clone(),
            (
                Session {
                    hash: n.hash.clone(),
                    user: n.user,
                    created_at: n.created_at,
                    idle_expires_at: n.idle_expires_at.min(n.absolute_expires_at),
                    absolute_expires_at: n.absolute_expires_at,
                },
                false,
            ),
        );
        Ok(())
    }

    async fn session(&self, hash: &TokenHash, now: DateTime<Utc>) -> Result<Session> {
        match self.lock().sessions.get(hash) {
            Some((sess, revoked)) if live(sess, *revoked, now) => Ok(sess.clone()),
            _ => Err(Error::unauthorized("session expired or revoked")),
        }
    }

    async fn touch_session(
        &self,
        hash: &TokenHash,
        now: DateTime<Utc>,
        idle_expires_at: DateTime<Utc>,
    ) -> Result<()> {
        match self.lock().sessions.get_mut(hash) {
            Some((sess, revoked)) if live(sess, *revoked, now) => {
                sess.idle_expires_at = idle_expires_at.min(sess.absolute_expires_at);
                Ok(())
            }
            _ => Err(Error::unauthorized("session expired or revoked")),
        }
    }

    async fn rotate_session(
        &self,
        old: &TokenHash,
        new: &NewSession,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut s = self.lock();
        match s.sessions.get(old) {
            Some((sess, revoked)) if live(sess, *revoked, now) && sess.user == new.user => {}
            _ => return Err(Error::unauthorized("session expired or revoked")),
        }
        if s.sessions.contains_key(&new.hash) {
            return Err(Error::AlreadyExists {
                what: "session".into(),
            });
        }
        s.sessions.get_mut(old).expect("checked above").1 = true;
        s.sessions.insert(
            new.hash.clone(),
            (
                Session {
                    hash: new.hash.clone(),
                    user: new.user,
                    created_at: new.created_at,
                    idle_expires_at: new.idle_expires_at.min(new.absolute_expires_at),
                    absolute_expires_at: new.absolute_expires_at,
                },
                false,
            ),
        );
        Ok(())
    }

    async fn revoke_session(&self, hash: &TokenHash) -> Result<()> {
        if let Some(entry) = self.lock().sessions.get_mut(hash) {
            entry.1 = true;
        }
        Ok(())
    }

    async fn revoke_sessions(&self, user: UserId, now: DateTime<Utc>) -> Result<u64> {
        let mut n = 0;
        for (sess, revoked) in self.lock().sessions.values_mut() {
            if sess.user == user {
                if live(sess, *revoked, now) {
                    n += 1;
                }
                *revoked = true;
            }
        }
        Ok(n)
    }
}

#[async_trait]
impl MoodStore for InMemoryStore {
    async fn put_mood(&self, snapshot: &MoodSnapshot) -> Result<()> {
        self.lock().moods.push(snapshot.clone());
        Ok(())
    }

    async fn latest_mood(
        &self,
        user: UserId,
        time_range: Option<TimeRange>,
    ) -> Result<Option<MoodSnapshot>> {
        Ok(self
            .lock()
            .moods
            .iter()
            .filter(|m| m.user == user && m.time_range == time_range)
            .max_by_key(|m| m.computed_at)
            .cloned())
    }
}

#[async_trait]
impl MatchStore for InMemoryStore {
    async fn create_invite(&self, invite: &Invite) -> Result<()> {
        let mut s = self.lock();
        if s.invites.contains_key(&invite.hash) {
            return Err(Error::AlreadyExists {
                what: "invite".into(),
            });
        }
        s.invites.insert(invite.hash.clone(), invite.clone());
        Ok(())
    }

    async fn invite(&self, hash: &TokenHash) -> Result<Invite> {
        self.lock()
            .invites
            .get(hash)
            .cloned()
            .ok_or_else(|| Error::not_found("invite"))
    }

    async fn accept_invite(
        &self,
        hash: &TokenHash,
        record: &MatchRecord,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut s = self.lock();
        let invite = s
            .invites
            .get(hash)
            .ok_or_else(|| Error::not_found("invite"))?;
        check_accept(invite, record, now)?;
        if s.matches.contains_key(&record.id) {
            return Err(Error::AlreadyExists {
                what: format!("match {}", record.id),
            });
        }
        let invite = s.invites.get_mut(hash).expect("checked above");
        invite.accepted_by = Some(record.users[1]);
        invite.match_id = Some(record.id);
        s.matches.insert(record.id, record.clone());
        Ok(())
    }

    async fn put_match(&self, record: &MatchRecord) -> Result<()> {
        let mut s = self.lock();
        if s.matches.contains_key(&record.id) {
            return Err(Error::AlreadyExists {
                what: format!("match {}", record.id),
            });
        }
        s.matches.insert(record.id, record.clone());
        Ok(())
    }

    async fn get_match(&self, id: MatchId) -> Result<MatchRecord> {
        self.lock()
            .matches
            .get(&id)
            .cloned()
            .ok_or_else(|| Error::not_found(format!("match {id}")))
    }

    async fn matches_for(&self, user: UserId) -> Result<Vec<MatchRecord>> {
        let mut out: Vec<MatchRecord> = self
            .lock()
            .matches
            .values()
            .filter(|m| m.users.contains(&user))
            .cloned()
            .collect();
        out.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        Ok(out)
    }
}

#[async_trait]
impl ArtworkStore for InMemoryStore {
    async fn put_artwork(&self, artwork: &Artwork) -> Result<ArtworkMeta> {
        let mut s = self.lock();
        if let Some(id) = s.artwork_keys.get(&artwork.meta.content_key) {
            return Ok(s.artworks[id].meta.clone());
        }
        if s.artworks.contains_key(&artwork.meta.id) {
            return Err(Error::AlreadyExists {
                what: format!("artwork {}", artwork.meta.id),
            });
        }
        s.artwork_keys
            .insert(artwork.meta.content_key.clone(), artwork.meta.id);
        s.artworks.insert(artwork.meta.id, artwork.clone());
        Ok(artwork.meta.clone())
    }

    async fn artwork(&self, id: ArtworkId) -> Result<Artwork> {
        self.lock()
            .artworks
            .get(&id)
            .cloned()
            .ok_or_else(|| Error::not_found(format!("artwork {id}")))
    }

    async fn artwork_meta(&self, id: ArtworkId) -> Result<ArtworkMeta> {
        self.lock()
            .artworks
            .get(&id)
            .map(|a| a.meta.clone())
            .ok_or_else(|| Error::not_found(format!("artwork {id}")))
    }

    async fn artwork_by_key(&self, key: &ContentKey) -> Result<Option<ArtworkMeta>> {
        let s = self.lock();
        Ok(s.artwork_keys
            .get(key)
            .map(|id| s.artworks[id].meta.clone()))
    }

    async fn artworks_for(
        &self,
        user: UserId,
        before: Option<DateTime<Utc>>,
        limit: usize,
    ) -> Result<Vec<ArtworkMeta>> {
        let s = self.lock();
        let mut out: Vec<ArtworkMeta> = s
            .artworks
            .values()
            .filter(|a| a.meta.subject.users().contains(&user))
            .filter(|a| before.is_none_or(|b| a.meta.created_at < b))
            .map(|a| a.meta.clone())
            .collect();
        out.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        out.truncate(limit);
        Ok(out)
    }
}

#[async_trait]
impl JobQueue for InMemoryStore {
    async fn enqueue(&self, new: &NewJob, now: DateTime<Utc>) -> Result<Job> {
        if new.max_attempts == 0 {
            return Err(Error::invalid("max_attempts must be at least 1"));
        }
        let job = {
            let mut s = self.lock();
            if let Some(existing) = s
                .jobs
                .values()
                .find(|j| j.content_key == new.content_key && j.state != JobState::Failed)
            {
                return Ok(existing.clone());
            }
            let job = Job {
                id: JobId::new(),
                content_key: new.content_key.clone(),
                spec: new.spec.clone(),
                owner: new.owner,
                state: JobState::Queued,
                attempts: 0,
                max_attempts: new.max_attempts,
                progress: 0.0,
                last_error: None,
                artwork_id: None,
                lease_owner: None,
                lease_expires_at: None,
                run_after: now,
                created_at: now,
                updated_at: now,
            };
            s.jobs.insert(job.id, job.clone());
            job
        };
        self.jobs_added.notify_waiters();
        Ok(job)
    }

    async fn lease(
        &self,
        worker: &str,
        now: DateTime<Utc>,
        lease_for: Duration,
    ) -> Result<Option<Job>> {
        let mut s = self.lock();
        loop {
            let candidate = s
                .jobs
                .values()
                .filter(|j| match j.state {
                    JobState::Queued => j.run_after <= now,
                    JobState::Running => j.lease_expires_at.is_some_and(|t| t <= now),
                    _ => false,
                })
                .min_by_key(|j| (j.created_at, j.id))
                .map(|j| j.id);
            let Some(id) = candidate else {
                return Ok(None);
            };
            let job = s.jobs.get_mut(&id).expect("found above");
            if job.state == JobState::Running && job.attempts >= job.max_attempts {
                // Its last try's worker vanished: out of tries.
                job.state = JobState::Failed;
                job.last_error = Some(format!(
                    "worker {} stopped responding on the last of {} tries",
                    job.lease_owner.as_deref().unwrap_or("?"),
                    job.max_attempts
                ));
                job.lease_owner = None;
                job.lease_expires_at = None;
                job.updated_at = now;
                continue;
            }
            job.state = JobState::Running;
            job.attempts += 1;
            job.progress = 0.0;
            job.lease_owner = Some(worker.to_string());
            job.lease_expires_at = Some(now + chrono_dur(lease_for));
            job.updated_at = now;
            return Ok(Some(job.clone()));
        }
    }

    async fn heartbeat(
        &self,
        id: JobId,
        worker: &str,
        progress: f32,
        now: DateTime<Utc>,
        lease_for: Duration,
    ) -> Result<()> {
        let mut s = self.lock();
        let job = s
            .jobs
            .get_mut(&id)
            .ok_or_else(|| Error::not_found(format!("job {id}")))?;
        if job.state != JobState::Running || job.lease_owner.as_deref() != Some(worker) {
            return Err(lease_lost(id));
        }
        job.progress = progress.clamp(0.0, 1.0);
        job.lease_expires_at = Some(now + chrono_dur(lease_for));
        job.updated_at = now;
        Ok(())
    }

    async fn complete(
        &self,
        id: JobId,
        worker: &str,
        artwork: ArtworkId,
        now: DateTime<Utc>,
    ) -> Result<Job> {
        let mut s = self.lock();
        let job = s
            .jobs
            .get_mut(&id)
            .ok_or_else(|| Error::not_found(format!("job {id}")))?;
        if job.state != JobState::Running || job.lease_owner.as_deref() != Some(worker) {
            return Err(lease_lost(id));
        }
        job.state = JobState::Succeeded;
        job.progress = 1.0;
        job.artwork_id = Some(artwork);
        job.lease_owner = None;
        job.lease_expires_at = None;
        job.updated_at = now;
        Ok(job.clone())
    }

    async fn fail(
        &self,
        id: JobId,
        worker: &str,
        error: &str,
        now: DateTime<Utc>,
        retry_at: DateTime<Utc>,
    ) -> Result<Job> {
        let job = {
            let mut s = self.lock();
            let job = s
                .jobs
                .get_mut(&id)
                .ok_or_else(|| Error::not_found(format!("job {id}")))?;
            if job.state != JobState::Running || job.lease_owner.as_deref() != Some(worker) {
                return Err(lease_lost(id));
            }
            job.last_error = Some(error.to_string());
            job.lease_owner = None;
            job.lease_expires_at = None;
            job.updated_at = now;
            if job.attempts >= job.max_attempts {
                job.state = JobState::Failed;
            } else {
                job.state = JobState::Queued;
                job.run_after = retry_at;
            }
            job.clone()
        };
        if job.state == JobState::Queued {
            self.jobs_added.notify_waiters();
        }
        Ok(job)
    }

    async fn job_by_key(&self, key: &ContentKey) -> Result<Option<Job>> {
        Ok(self
            .lock()
            .jobs
            .values()
            .find(|j| &j.content_key == key && j.state != JobState::Failed)
            .cloned())
    }

    async fn job(&self, id: JobId) -> Result<Job> {
        self.lock()
            .jobs
            .get(&id)
            .cloned()
            .ok_or_else(|| Error::not_found(format!("job {id}")))
    }

    async fn wait_for_jobs(&self, max_wait: Duration) {
        let _ = tokio::time::timeout(max_wait, self.jobs_added.notified()).await;
    }
}

#[async_trait]
impl ScheduleStore for InMemoryStore {
    async fn create_schedule(&self, new: &NewSchedule, now: DateTime<Utc>) -> Result<Schedule> {
        check_new(new)?;
        let mut s = self.lock();
        if s.schedules
            .values()
            .any(|x| x.user == new.user && x.task == new.task)
        {
            return Err(Error::AlreadyExists {
                what: format!("a {} schedule for this playlist", new.task.kind()),
            });
        }
        let schedule = Schedule::new(new, now);
        s.schedules.insert(schedule.id, schedule.clone());
        Ok(schedule)
    }

    async fn schedule(&self, id: ScheduleId) -> Result<Schedule> {
        self.lock()
            .schedules
            .get(&id)
            .cloned()
            .ok_or_else(|| Error::not_found(format!("schedule {id}")))
    }

    async fn schedules_for(&self, user: UserId) -> Result<Vec<Schedule>> {
        let mut out: Vec<Schedule> = self
            .lock()
            .schedules
            .values()
            .filter(|x| x.user == user)
            .cloned()
            .collect();
        out.sort_by_key(|x| (x.created_at, x.id));
        Ok(out)
    }

    async fn delete_schedule(&self, user: UserId, id: ScheduleId) -> Result<()> {
        let mut s = self.lock();
        match s.schedules.get(&id) {
            Some(x) if x.user == user => {
                s.schedules.remove(&id);
                Ok(())
            }
            _ => Err(Error::not_found(format!("schedule {id}"))),
        }
    }

    async fn claim_schedule(
        &self,
        worker: &str,
        now: DateTime<Utc>,
        lease_for: Duration,
    ) -> Result<Option<Schedule>> {
        let mut s = self.lock();
        let due = s
            .schedules
            .values()
            .filter(|x| {
                x.paused.is_none()
                    && x.next_run_at <= now
                    && x.lease_expires_at.is_none_or(|until| until <= now)
            })
            .min_by_key(|x| (x.next_run_at, x.id))
            .map(|x| x.id);
        let Some(id) = due else { return Ok(None) };
        let x = s.schedules.get_mut(&id).expect("found above");
        x.lease_owner = Some(worker.to_string());
        x.lease_expires_at = Some(now + chrono::Duration::from_std(lease_for).unwrap_or_default());
        Ok(Some(x.clone()))
    }

    async fn finish_schedule(
        &self,
        id: ScheduleId,
        worker: &str,
        outcome: &ScheduleOutcome,
        now: DateTime<Utc>,
    ) -> Result<Schedule> {
        let mut s = self.lock();
        let x = s
            .schedules
            .get(&id)
            .ok_or_else(|| Error::not_found(format!("schedule {id}")))?;
        if x.lease_owner.as_deref() != Some(worker) {
            return Err(Error::conflict(format!(
                "schedule {id} is no longer held by this worker"
            )));
        }
        let done = after_run(x, outcome, now);
        if let ScheduleOutcome::Paused(reason) = outcome {
            for other in s.schedules.values_mut().filter(|o| o.user == done.user) {
                other.paused = Some(reason.clone());
            }
        }
        s.schedules.insert(id, done.clone());
        Ok(done)
    }

    async fn pause_schedules(&self, user: UserId, reason: Option<&str>) -> Result<u64> {
        let mut n = 0;
        for x in self.lock().schedules.values_mut() {
            if x.user == user && x.paused.as_deref() != reason {
                x.paused = reason.map(str::to_string);
                n += 1;
            }
        }
        Ok(n)
    }
}

#[async_trait]
impl StoreHealth for InMemoryStore {
    fn backend(&self) -> &str {
        "memory"
    }
    async fn ping(&self) -> Result<()> {
        Ok(())
    }
}
