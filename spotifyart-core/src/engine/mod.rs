//! The Engine: music source + mood model + image generator + store.
//!
//! Its one rule beyond composition: a picture is painted once. Every art
//! request is reduced to a [`ContentKey`]; a stored artwork with that key is
//! returned as is, concurrent requests for the same key in one process wait
//! for a single painting, and across processes the job queue holds one live
//! job per key.
//!
//! Laid out by what a caller does: this module holds the engine, its
//! builder and the listening rules (profiles, moods, matches, invites, and
//! who may see what); `art` prepares and paints pictures; the
//! job runner that workers use is in `jobs`.

mod art;
mod covers;
mod jobs;
mod schedules;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};

pub use art::{ArtOutcome, ArtTicket, PreparedArt, subject_one, subject_pair};
pub use jobs::{JobSettings, spawn_workers};
pub use schedules::{REVOKED, ScheduleSettings};

use crate::access;
use crate::art::{ContentKey, ImageGenerator, PalettePainter};
use crate::ids::{JobId, MatchId, UserId};
use crate::matching::{MatchResult, Matcher};
use crate::mood::{AutoModel, Mood, MoodModel};
use crate::playlists::PlaylistService;
use crate::profile::{ListeningProfile, TimeRange};
use crate::source::{FixtureSource, MusicSource};
use crate::store::{
    Account, InMemoryStore, Job, MatchRecord, MoodSnapshot, NewAccount, Store, TokenHash, User,
};
use crate::{Error, Result};

/// Where "now" comes from; tests substitute a manual clock.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current time.
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// See the module docs. Cheap to share behind an `Arc`.
pub struct Engine {
    source: Arc<dyn MusicSource>,
    mood_model: Arc<dyn MoodModel>,
    generator: Arc<dyn ImageGenerator>,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    matcher: Matcher,
    jobs: JobSettings,
    playlists: Option<Arc<dyn PlaylistService>>,
    schedules: ScheduleSettings,
    in_flight: Mutex<HashMap<ContentKey, Arc<tokio::sync::Mutex<()>>>>,
}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine")
            .field("source", &self.source.name())
            .field("mood_model", &self.mood_model.name())
            .field("generator", &self.generator)
            .field("store", &self.store.backend())
            .finish_non_exhaustive()
    }
}

/// Builds an [`Engine`]; every part has an in-memory default.
#[derive(Default)]
pub struct EngineBuilder {
    source: Option<Arc<dyn MusicSource>>,
    mood_model: Option<Arc<dyn MoodModel>>,
    generator: Option<Arc<dyn ImageGenerator>>,
    store: Option<Arc<dyn Store>>,
    clock: Option<Arc<dyn Clock>>,
    matcher: Option<Matcher>,
    jobs: Option<JobSettings>,
    playlists: Option<Arc<dyn PlaylistService>>,
    schedules: Option<ScheduleSettings>,
}

impl EngineBuilder {
    /// The music source (default: an empty [`FixtureSource`]).
    pub fn source(mut self, s: Arc<dyn MusicSource>) -> Self {
        self.source = Some(s);
        self
    }
    /// The mood model (default: [`AutoModel`]).
    pub fn mood_model(mut self, m: Arc<dyn MoodModel>) -> Self {
        self.mood_model = Some(m);
        self
    }
    /// The image generator (default: [`PalettePainter`]).
    pub fn generator(mut self, g: Arc<dyn ImageGenerator>) -> Self {
        self.generator = Some(g);
        self
    }
    /// The store (default: [`InMemoryStore`]).
    pub fn store(mut self, s: Arc<dyn Store>) -> Self {
        self.store = Some(s);
        self
    }
    /// The clock (default: [`SystemClock`]).
    pub fn clock(mut self, c: Arc<dyn Clock>) -> Self {
        self.clock = Some(c);
        self
    }
    /// Match weights.
    pub fn matcher(mut self, m: Matcher) -> Self {
        self.matcher = Some(m);
        self
    }
    /// Job settings.
    pub fn jobs(mut self, j: JobSettings) -> Self {
        self.jobs = Some(j);
        self
    }
    /// The users' playlists at their provider (default: none; covers and
    /// schedules are then `NotSupported`).
    pub fn playlists(mut self, p: Arc<dyn PlaylistService>) -> Self {
        self.playlists = Some(p);
        self
    }
    /// How schedules run.
    pub fn schedules(mut self, s: ScheduleSettings) -> Self {
        self.schedules = Some(s);
        self
    }
    /// The engine.
    pub fn build(self) -> Engine {
        Engine {
            source: self
                .source
                .unwrap_or_else(|| Arc::new(FixtureSource::new())),
            mood_model: self
                .mood_model
                .unwrap_or_else(|| Arc::new(AutoModel::default())),
            generator: self.generator.unwrap_or_else(|| Arc::new(PalettePainter)),
            store: self.store.unwrap_or_else(|| Arc::new(InMemoryStore::new())),
            clock: self.clock.unwrap_or_else(|| Arc::new(SystemClock)),
            matcher: self.matcher.unwrap_or_default(),
            jobs: self.jobs.unwrap_or_default(),
            playlists: self.playlists,
            schedules: self.schedules.unwrap_or_default(),
            in_flight: Mutex::new(HashMap::new()),
        }
    }
}

impl Engine {
    /// A builder.
    pub fn builder() -> EngineBuilder {
        EngineBuilder::default()
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }
    /// The image generator.
    pub fn generator(&self) -> &Arc<dyn ImageGenerator> {
        &self.generator
    }
    /// The mood model.
    pub fn mood_model(&self) -> &Arc<dyn MoodModel> {
        &self.mood_model
    }
    /// The music source.
    pub fn source(&self) -> &Arc<dyn MusicSource> {
        &self.source
    }
    /// The current time by the engine's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// A user's profile from the music source. When the provider says the
    /// user withdrew SpotifyArt's access, every session of theirs ends
    /// too: nothing they could do signed in would work.
    pub async fn profile(&self, user: UserId) -> Result<ListeningProfile> {
        let profile = self.source.profile(user).await;
        self.end_sessions_if_revoked(user, &profile).await;
        profile
    }

    /// As [`Self::profile`], read now past any cache.
    pub async fn fresh_profile(&self, user: UserId) -> Result<ListeningProfile> {
        let profile = self.source.fresh_profile(user).await;
        self.end_sessions_if_revoked(user, &profile).await;
        profile
    }

    async fn end_sessions_if_revoked<T>(&self, user: UserId, result: &Result<T>) {
        if let Err(Error::Revoked { provider }) = result {
            match self.store.revoke_sessions(user, self.now()).await {
                Ok(ended) => {
                    tracing::info!(%user, provider, ended, "access revoked; sessions ended")
                }
                Err(e) => tracing::warn!(%user, error = %e, "access revoked; sessions not ended"),
            }
            // Nothing scheduled for them can work either.
            if let Err(e) = self.store.pause_schedules(user, Some(REVOKED)).await {
                tracing::warn!(%user, error = %e, "access revoked; schedules not paused");
            }
        }
    }

    /// The mood of a profile (synchronous; see [`Self::mood`] for users).
    pub fn mood_of(&self, profile: &ListeningProfile) -> Result<Mood> {
        self.mood_model.mood(profile)
    }

    /// A user's mood, for one range or all ranges blended, recorded in the
    /// store. The model runs on a blocking thread.
    pub async fn mood(&self, user: UserId, range: Option<TimeRange>) -> Result<Mood> {
        let profile = self.profile(user).await?;
        Ok(self.record_mood(user, range, profile).await?.mood)
    }

    /// The user's mood as last recorded, if it is at most `max_age` old;
    /// else computed from their listening now (and recorded). While the
    /// music source is failing for a while (5xx, no answer, its rate limit)
    /// the last recorded mood is served whatever its age (its
    /// `computed_at` says how old); a permanent failure (access revoked or
    /// refused) is returned.
    pub async fn current_mood(
        &self,
        user: UserId,
        range: Option<TimeRange>,
        max_age: Duration,
    ) -> Result<MoodSnapshot> {
        let max_age = chrono::Duration::from_std(max_age).unwrap_or(chrono::Duration::MAX);
        let stored = self.store.latest_mood(user, range).await?;
        if let Some(stored) = &stored
            && self.now() - stored.computed_at < max_age
        {
            return Ok(stored.clone());
        }
        match self.profile(user).await {
            Ok(profile) => self.record_mood(user, range, profile).await,
            Err(e @ (Error::Upstream { .. } | Error::UpstreamBusy { .. })) => match stored {
                Some(stored) => {
                    tracing::warn!(
                        %user,
                        error = %e,
                        computed_at = %stored.computed_at,
                        "music source failing; serving the stored mood"
                    );
                    Ok(stored)
                }
                None => Err(e),
            },
            Err(e) => Err(e),
        }
    }

    /// The user's mood from their listening read now, past every cache
    /// (they asked for it); recorded only when it differs from the last one.
    pub async fn refresh_mood(
        &self,
        user: UserId,
        range: Option<TimeRange>,
    ) -> Result<MoodSnapshot> {
        let profile = self.fresh_profile(user).await?;
        let mood = self.run_mood_model(range, profile).await?;
        if let Some(stored) = self.store.latest_mood(user, range).await?
            && stored.mood == mood
        {
            return Ok(stored);
        }
        self.put_mood(user, range, mood).await
    }

    async fn run_mood_model(
        &self,
        range: Option<TimeRange>,
        profile: ListeningProfile,
    ) -> Result<Mood> {
        let profile = match range {
            Some(r) => profile.only(r),
            None => profile,
        };
        let model = self.mood_model.clone();
        tokio::task::spawn_blocking(move || model.mood(&profile))
            .await
            .map_err(|e| Error::internal(format!("mood model panicked: {e}")))?
    }

    async fn record_mood(
        &self,
        user: UserId,
        range: Option<TimeRange>,
        profile: ListeningProfile,
    ) -> Result<MoodSnapshot> {
        let mood = self.run_mood_model(range, profile).await?;
        self.put_mood(user, range, mood).await
    }

    async fn put_mood(
        &self,
        user: UserId,
        range: Option<TimeRange>,
        mood: Mood,
    ) -> Result<MoodSnapshot> {
        let snapshot = MoodSnapshot {
            user,
            time_range: range,
            mood,
            computed_at: self.now(),
        };
        self.store.put_mood(&snapshot).await?;
        Ok(snapshot)
    }

    /// Compares two profiles.
    pub fn match_profiles(
        &self,
        a: &ListeningProfile,
        b: &ListeningProfile,
    ) -> Result<MatchResult> {
        let ma = self.mood_of(a)?;
        let mb = self.mood_of(b)?;
        Ok(self.matcher.compare(a, &ma, b, &mb))
    }

    /// Compares two users and stores the match.
    pub async fn match_users(&self, a: UserId, b: UserId) -> Result<MatchRecord> {
        if a == b {
            return Err(Error::invalid("a match needs two different users"));
        }
        let record = self.compute_match(a, b).await?;
        self.store.put_match(&record).await?;
        Ok(record)
    }

    /// Compares two users without storing anything.
    pub async fn compute_match(&self, a: UserId, b: UserId) -> Result<MatchRecord> {
        let (pa, pb) = tokio::try_join!(self.profile(a), self.profile(b))?;
        self.match_record(a, pa, b, pb).await
    }

    async fn match_record(
        &self,
        a: UserId,
        pa: ListeningProfile,
        b: UserId,
        pb: ListeningProfile,
    ) -> Result<MatchRecord> {
        let model = self.mood_model.clone();
        let matcher = self.matcher.clone();
        let result = tokio::task::spawn_blocking(move || -> Result<MatchResult> {
            let ma = model.mood(&pa)?;
            let mb = model.mood(&pb)?;
            Ok(matcher.compare(&pa, &ma, &pb, &mb))
        })
        .await
        .map_err(|e| Error::internal(format!("mood model panicked: {e}")))??;
        Ok(MatchRecord {
            id: MatchId::new(),
            users: [a, b],
            result,
            created_at: self.now(),
        })
    }

    /// `accepter` takes the invite whose code hashes to `invite`: the two
    /// people's listening is compared and the match stored with the invite
    /// used, atomically. `NotFound` for an unknown invite, `InvalidInput`
    /// for one's own, `Conflict` for a used or expired one (checked before
    /// any listening is read) and when the inviter has to sign in again:
    /// the accepter is told that about the other person, never with their
    /// id, and keeps their own session.
    pub async fn accept_invite(&self, invite: &TokenHash, accepter: UserId) -> Result<MatchRecord> {
        let found = self.store.invite(invite).await.map_err(|e| match e {
            Error::NotFound { .. } => Error::not_found("invite"),
            other => other,
        })?;
        found.check_accept(accepter, self.now())?;
        if let Some(to) = &found.addressee {
            let accounts = self.store.accounts(accepter).await?;
            if !accounts.iter().any(|a| to.is(a)) {
                return Err(Error::Forbidden {
                    message: format!(
                        "this invite is for {} user {}; open it and confirm you are them",
                        provider_name(&to.provider),
                        to.name
                    ),
                });
            }
        }
        let (theirs, yours) = tokio::join!(self.profile(found.inviter), self.profile(accepter));
        let yours = yours?;
        let theirs = theirs.map_err(|e| match e {
            Error::Revoked { .. } | Error::NotFound { .. } | Error::Unauthorized { .. } => {
                Error::conflict(
                    "the person who invited you has to sign in to SpotifyArt again before you \
                     can match; ask them to open SpotifyArt, then try this link again",
                )
            }
            other => other,
        })?;
        let record = self
            .match_record(found.inviter, theirs, accepter, yours)
            .await?;
        self.store
            .accept_invite(invite, &record, self.now())
            .await?;
        Ok(record)
    }

    /// Accepts an invite as the person at a listening service whom the
    /// caller has proved `account` to be (a checked ListenBrainz token, a
    /// Last.fm sign-in): their user is created on first use, then the
    /// invite is accepted as for anyone. An invite addressed to someone
    /// else is `Forbidden`, and nothing is stored then.
    pub async fn accept_invite_as(
        &self,
        invite: &TokenHash,
        account: &NewAccount,
    ) -> Result<(User, MatchRecord)> {
        let found = self.store.invite(invite).await.map_err(|e| match e {
            Error::NotFound { .. } => Error::not_found("invite"),
            other => other,
        })?;
        let proved = Account {
            user: UserId::new(),
            provider: account.provider.clone(),
            account_id: account.account_id.clone(),
            scopes: Vec::new(),
            updated_at: self.now(),
        };
        if let Some(to) = &found.addressee
            && !to.is(&proved)
        {
            return Err(Error::Forbidden {
                message: format!(
                    "this invite is for {} user {}, not {}",
                    provider_name(&to.provider),
                    to.name,
                    account.account_id
                ),
            });
        }
        // Used or expired invites are refused before anyone is created.
        found.check_accept(proved.user, self.now())?;
        let user = self.store.upsert_account(account, self.now()).await?;
        let record = self.accept_invite(invite, user.id).await?;
        Ok((user, record))
    }

    /// Match `id`, if `user` is in it; any other is `NotFound`, exactly as
    /// if it did not exist.
    pub async fn match_for(&self, user: UserId, id: MatchId) -> Result<MatchRecord> {
        let record = self.store.get_match(id).await?;
        if !access::may_see_match(&record, user) {
            return Err(Error::not_found(format!("match {id}")));
        }
        Ok(record)
    }

    /// Job `id`, if `user` asked for it or is painted by it; any other is
    /// `NotFound`.
    pub async fn job_for(&self, user: UserId, id: JobId) -> Result<Job> {
        let job = self.store.job(id).await?;
        if !access::may_see_job(&job, user) {
            return Err(Error::not_found(format!("job {id}")));
        }
        Ok(job)
    }
}

/// A provider's name in sentences.
fn provider_name(provider: &str) -> &str {
    match provider {
        "listenbrainz" => "ListenBrainz",
        "lastfm" => "Last.fm",
        "spotify" => "Spotify",
        other => other,
    }
}
