//! The Engine: music source + mood model + image generator + store.
//!
//! Its one rule beyond composition: a picture is painted once. Every art
//! request is reduced to a [`ContentKey`]; a stored artwork with that key is
//! returned as is, concurrent requests for the same key in one process wait
//! for a single painting, and across processes the job queue holds one live
//! job per key.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::art::{
    ArtParams, ArtRequest, Artwork, ArtworkMeta, CancelToken, ContentKey, GenerationContext,
    ImageGenerator, ImageGeneratorExt, ModelInfo, PalettePainter, Progress, Subject,
};
use crate::ids::{MatchId, UserId};
use crate::matching::{MatchResult, Matcher};
use crate::mood::{AutoModel, Mood, MoodModel, Rgb};
use crate::profile::{ListeningProfile, TimeRange};
use crate::prompt::PromptComposer;
use crate::source::{FixtureSource, MusicSource};
use crate::store::{
    InMemoryStore, Job, JobSpec, MatchRecord, MoodSnapshot, NewJob, Store, TokenHash,
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

/// Job-running settings.
#[derive(Clone, Debug)]
pub struct JobSettings {
    /// Tries per job before it is failed.
    pub max_attempts: u32,
    /// How long a lease lasts without a heartbeat.
    pub lease: Duration,
    /// Delay before the first retry; doubles per try.
    pub retry_base: Duration,
    /// Longest retry delay.
    pub retry_max: Duration,
}

impl Default for JobSettings {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            lease: Duration::from_secs(60),
            retry_base: Duration::from_secs(5),
            retry_max: Duration::from_secs(300),
        }
    }
}

/// An art request with every default filled in and its content key.
#[derive(Clone, Debug, PartialEq)]
pub struct PreparedArt {
    /// Who it shows.
    pub subject: Subject,
    /// The full request.
    pub request: ArtRequest,
    /// Its identity.
    pub key: ContentKey,
    /// The model that will paint it.
    pub model: ModelInfo,
}

/// What [`Engine::paint`] did.
#[derive(Clone, Debug, PartialEq)]
pub enum ArtOutcome {
    /// The key was painted before; nothing was generated.
    Reused(ArtworkMeta),
    /// Painted now and stored.
    Painted(ArtworkMeta),
}

impl ArtOutcome {
    /// The artwork either way.
    pub fn meta(&self) -> &ArtworkMeta {
        match self {
            ArtOutcome::Reused(m) | ArtOutcome::Painted(m) => m,
        }
    }
}

/// What [`Engine::request_art`] did.
#[derive(Clone, Debug, PartialEq)]
pub enum ArtTicket {
    /// Already painted.
    Ready(ArtworkMeta),
    /// Queued (or already queued/running): poll the job.
    Queued(Job),
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
    /// else computed from their listening now (and recorded).
    pub async fn current_mood(
        &self,
        user: UserId,
        range: Option<TimeRange>,
        max_age: Duration,
    ) -> Result<MoodSnapshot> {
        let max_age = chrono::Duration::from_std(max_age).unwrap_or(chrono::Duration::MAX);
        if let Some(stored) = self.store.latest_mood(user, range).await?
            && self.now() - stored.computed_at < max_age
        {
            return Ok(stored);
        }
        let profile = self.profile(user).await?;
        self.record_mood(user, range, profile).await
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
        if found.inviter == accepter {
            return Err(Error::invalid("you cannot accept your own invite"));
        }
        if found.accepted_by.is_some() {
            return Err(Error::conflict("this invite has already been used"));
        }
        if self.now() >= found.expires_at {
            return Err(Error::conflict(
                "this invite has expired; ask for a new one",
            ));
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

    /// The stored artwork or the live job for `art`, if either exists:
    /// asking for it again costs nothing (servers check this before their
    /// new-painting allowance).
    pub async fn existing_art(&self, art: &PreparedArt) -> Result<Option<ArtTicket>> {
        if let Some(meta) = self.store.artwork_by_key(&art.key).await? {
            return Ok(Some(ArtTicket::Ready(meta)));
        }
        Ok(self
            .store
            .job_by_key(&art.key)
            .await?
            .map(ArtTicket::Queued))
    }

    /// Fills in defaults, composes the prompt and computes the content key.
    /// Fails with `InvalidInput` for parameters the model does not accept.
    pub fn prepare(&self, subject: Subject, params: &ArtParams) -> Result<PreparedArt> {
        let composer = PromptComposer::new(params.style.unwrap_or_default());
        let prompt = match &subject {
            Subject::One { mood, .. } => composer.for_mood(mood),
            Subject::Pair { a, b, blended, .. } => composer.for_pair(a, b, blended),
        };
        let seed = params.seed.unwrap_or_else(|| derived_seed(&subject));
        let palette = subject.palette();
        let request = (prompt.positive, prompt.negative, seed, palette);
        self.prepared(subject, request, params)
    }

    /// Like [`Self::prepare`] for a prompt of the caller's own (notebooks):
    /// no one's mood shaped it, so its subject is the neutral mood of model
    /// `prompt`, it has no negative prompt or palette, and its seed is 0
    /// unless given. It is stored and reused like any other picture.
    pub fn prepare_prompt(&self, prompt: &str, params: &ArtParams) -> Result<PreparedArt> {
        if prompt.trim().is_empty() {
            return Err(Error::invalid("the prompt is empty"));
        }
        let subject = Subject::One {
            user: None,
            mood: Mood::neutral("prompt"),
        };
        let request = (
            prompt.to_string(),
            String::new(),
            params.seed.unwrap_or(0),
            vec![],
        );
        self.prepared(subject, request, params)
    }

    /// The request for `(prompt, negative prompt, seed, palette)` with the
    /// model's defaults for what `params` leaves unset, validated and keyed.
    fn prepared(
        &self,
        subject: Subject,
        (prompt, negative_prompt, seed, palette): (String, String, u64, Vec<Rgb>),
        params: &ArtParams,
    ) -> Result<PreparedArt> {
        let model = self.generator.model_info(params.model.as_deref())?;
        let request = ArtRequest {
            prompt,
            negative_prompt,
            seed,
            steps: params.steps.unwrap_or(model.default_steps),
            guidance: params.guidance.unwrap_or(model.default_guidance),
            width: params.width.unwrap_or(model.default_width),
            height: params.height.unwrap_or(model.default_height),
            model: model.id.clone(),
            palette,
        };
        model.validate(&request)?;
        let key = ContentKey::of(&subject, &request);
        Ok(PreparedArt {
            subject,
            request,
            key,
            model,
        })
    }

    /// Paints now, in this process, unless the key was painted before.
    /// Concurrent calls for one key paint once.
    pub async fn paint(&self, art: &PreparedArt, ctx: &GenerationContext) -> Result<ArtOutcome> {
        if let Some(meta) = self.store.artwork_by_key(&art.key).await? {
            return Ok(ArtOutcome::Reused(meta));
        }
        let gate = {
            let mut map = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
            map.entry(art.key.clone()).or_default().clone()
        };
        let result = async {
            let _turn = gate.lock().await;
            if let Some(meta) = self.store.artwork_by_key(&art.key).await? {
                return Ok(ArtOutcome::Reused(meta));
            }
            let meta = self.generate_and_store(art, ctx).await?;
            Ok(ArtOutcome::Painted(meta))
        }
        .await;
        let mut map = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        if Arc::strong_count(&gate) <= 2 {
            map.remove(&art.key);
        }
        result
    }

    async fn generate_and_store(
        &self,
        art: &PreparedArt,
        ctx: &GenerationContext,
    ) -> Result<ArtworkMeta> {
        let generator = self.generator.clone();
        let request = art.request.clone();
        let run_ctx = ctx.clone();
        let started = Instant::now();
        let image =
            tokio::task::spawn_blocking(move || generator.generate_checked(&request, &run_ctx))
                .await
                .map_err(|e| Error::internal(format!("image generator panicked: {e}")))??;
        let artwork = Artwork::new(
            art.subject.clone(),
            art.request.clone(),
            image,
            started.elapsed().as_millis() as u64,
            self.now(),
        );
        tracing::info!(
            key = %art.key,
            model = %art.request.model,
            ms = artwork.meta.generation_ms,
            "painted artwork"
        );
        self.store.put_artwork(&artwork).await
    }

    /// For servers: the stored artwork when painted, else a queued job (one
    /// per key, however many times it is requested).
    pub async fn request_art(&self, art: &PreparedArt, owner: Option<UserId>) -> Result<ArtTicket> {
        if let Some(meta) = self.store.artwork_by_key(&art.key).await? {
            return Ok(ArtTicket::Ready(meta));
        }
        let job = self
            .store
            .enqueue(
                &NewJob {
                    content_key: art.key.clone(),
                    spec: JobSpec {
                        subject: art.subject.clone(),
                        request: art.request.clone(),
                    },
                    owner,
                    max_attempts: self.jobs.max_attempts,
                },
                self.now(),
            )
            .await?;
        Ok(ArtTicket::Queued(job))
    }

    /// Leases one job and runs it to the end: painted and completed, or
    /// failed with its reason (retried later while tries remain). Returns
    /// the job as it ended, or `None` when nothing was runnable. Heartbeats
    /// keep the lease while painting; a lost lease cancels the painting. A
    /// job once started is finished even during shutdown, so a graceful stop
    /// never wastes a try.
    pub async fn run_next_job(&self, worker: &str) -> Result<Option<Job>> {
        let Some(job) = self
            .store
            .lease(worker, self.now(), self.jobs.lease)
            .await?
        else {
            return Ok(None);
        };
        tracing::info!(job = %job.id, attempt = job.attempts, worker, "leased job");
        let progress = Arc::new(AtomicU32::new(0f32.to_bits()));
        let run_cancel = CancelToken::new();
        let _guard = RunGuard {
            cancel: run_cancel.clone(),
            heartbeat: {
                let store = self.store.clone();
                let clock = self.clock.clone();
                let (progress, run_cancel) = (progress.clone(), run_cancel.clone());
                let (id, worker, lease) = (job.id, worker.to_string(), self.jobs.lease);
                tokio::spawn(async move {
                    let every = (lease / 3).max(Duration::from_millis(50));
                    loop {
                        tokio::time::sleep(every).await;
                        let p = f32::from_bits(progress.load(Ordering::Relaxed));
                        if let Err(e) = store.heartbeat(id, &worker, p, clock.now(), lease).await {
                            tracing::warn!(job = %id, error = %e, "lost job lease; stopping");
                            run_cancel.cancel();
                            return;
                        }
                    }
                })
            },
        };
        let ctx = {
            let progress = progress.clone();
            GenerationContext::new()
                .with_cancel(run_cancel.clone())
                .on_progress(move |p: Progress| {
                    progress.store(p.fraction().to_bits(), Ordering::Relaxed)
                })
        };
        let art = PreparedArt {
            key: job.content_key.clone(),
            model: self.generator.model_info(Some(&job.spec.request.model))?,
            subject: job.spec.subject.clone(),
            request: job.spec.request.clone(),
        };
        let outcome = self.paint(&art, &ctx).await;
        drop(_guard);
        let ended = match outcome {
            Ok(done) => {
                self.store
                    .complete(job.id, worker, done.meta().id, self.now())
                    .await?
            }
            Err(Error::Cancelled) => {
                // The lease was lost: another worker owns the job now.
                return self.store.job(job.id).await.map(Some);
            }
            Err(e) => {
                let delay = self
                    .jobs
                    .retry_base
                    .saturating_mul(1 << job.attempts.saturating_sub(1).min(16))
                    .min(self.jobs.retry_max);
                let now = self.now();
                let retry_at = now + chrono::Duration::from_std(delay).unwrap_or_default();
                tracing::warn!(job = %job.id, attempt = job.attempts, error = %e, "job failed");
                self.store
                    .fail(job.id, worker, &e.to_string(), now, retry_at)
                    .await?
            }
        };
        Ok(Some(ended))
    }

    /// Runs jobs until `shutdown` is cancelled, waiting for new work (up to
    /// `idle_poll`) when the queue is empty. Store errors are logged and
    /// retried after the poll interval, so a database blip does not kill the
    /// worker.
    pub async fn work(&self, worker: &str, idle_poll: Duration, shutdown: &CancelToken) {
        while !shutdown.is_cancelled() {
            match self.run_next_job(worker).await {
                Ok(Some(_)) => continue,
                Ok(None) => self.store.wait_for_jobs(idle_poll).await,
                Err(e) => {
                    tracing::error!(worker, error = %e, "worker could not run a job");
                    tokio::time::sleep(idle_poll).await;
                }
            }
        }
    }
}

/// Stops a job's heartbeat and painting when its run ends, including when
/// the worker's future is dropped (aborted task, shutdown): a stopped
/// worker must stop renewing its lease so another can take the job.
struct RunGuard {
    heartbeat: tokio::task::JoinHandle<()>,
    cancel: CancelToken,
}

impl Drop for RunGuard {
    fn drop(&mut self) {
        self.heartbeat.abort();
        self.cancel.cancel();
    }
}

/// One person's picture.
pub fn subject_one(user: Option<UserId>, mood: Mood) -> Subject {
    Subject::One { user, mood }
}

/// Two people's picture from their match.
pub fn subject_pair(
    result: &MatchResult,
    match_id: Option<MatchId>,
    users: Vec<UserId>,
) -> Subject {
    Subject::Pair {
        match_id,
        users,
        a: result.mood_a.clone(),
        b: result.mood_b.clone(),
        blended: result.blended.clone(),
    }
}

/// A seed from the moods alone (order-independent), below 2^53 so it
/// survives JSON numbers in browsers.
fn derived_seed(subject: &Subject) -> u64 {
    let q = |m: &Mood| {
        format!(
            "{}:{}:{}",
            m.label,
            (m.valence * 1000.0).round() as i64,
            (m.arousal * 1000.0).round() as i64
        )
    };
    let mut parts = match subject {
        Subject::One { mood, .. } => vec![q(mood)],
        Subject::Pair { a, b, .. } => vec![q(a), q(b)],
    };
    parts.sort();
    let digest = Sha256::digest(parts.join("|").as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(bytes) & ((1 << 53) - 1)
}
