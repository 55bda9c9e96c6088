//! Art through the engine: a subject and parameters become a
//! [`PreparedArt`] (prompt, defaults, content key), which is painted here
//! ([`Engine::paint`]) or queued for a worker ([`Engine::request_art`]),
//! and never painted twice.

use std::sync::Arc;
use std::time::Instant;

use sha2::{Digest, Sha256};

use super::Engine;
use crate::art::{
    ArtParams, ArtRequest, Artwork, ArtworkMeta, ContentKey, GenerationContext, ImageGeneratorExt,
    ModelInfo, Subject,
};
use crate::ids::{MatchId, UserId};
use crate::matching::MatchResult;
use crate::mood::{Mood, Rgb};
use crate::prompt::PromptComposer;
use crate::store::{Job, JobSpec, NewJob};
use crate::{Error, Result};

/// What a job says when the painter panicked; the panic itself is logged.
const PANICKED: &str = "the painter failed unexpectedly; the error was logged";

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

/// What [`Engine::paint`] did, with the picture, so a caller writes it
/// out without reading the store again.
#[derive(Clone, Debug, PartialEq)]
pub enum ArtOutcome {
    /// The key was painted before; nothing was generated.
    Reused(Artwork),
    /// Painted now and stored.
    Painted(Artwork),
}

impl ArtOutcome {
    /// The artwork either way.
    pub fn artwork(&self) -> &Artwork {
        match self {
            ArtOutcome::Reused(a) | ArtOutcome::Painted(a) => a,
        }
    }
    /// The artwork, owned.
    pub fn into_artwork(self) -> Artwork {
        match self {
            ArtOutcome::Reused(a) | ArtOutcome::Painted(a) => a,
        }
    }
    /// Its metadata.
    pub fn meta(&self) -> &ArtworkMeta {
        &self.artwork().meta
    }
    /// Whether it was found in the store rather than painted.
    pub fn is_reused(&self) -> bool {
        matches!(self, ArtOutcome::Reused(_))
    }
}

/// What shapes a picture before the model's defaults are filled in.
struct Draft {
    prompt: String,
    negative_prompt: String,
    seed: u64,
    palette: Vec<Rgb>,
}

/// What [`Engine::request_art`] did.
#[derive(Clone, Debug, PartialEq)]
pub enum ArtTicket {
    /// Already painted.
    Ready(ArtworkMeta),
    /// Queued (or already queued/running): poll the job.
    Queued(Job),
}

impl Engine {
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
        let draft = Draft {
            prompt: prompt.positive,
            negative_prompt: prompt.negative,
            seed: params.seed.unwrap_or_else(|| derived_seed(&subject)),
            palette: subject.palette(),
        };
        self.prepared(subject, draft, params)
    }

    /// Like [`Self::prepare`] for a prompt of the caller's own (notebooks):
    /// no one's mood shaped it, so its subject is the neutral mood of model
    /// `prompt`, it has no palette nor (unless given) negative prompt, and
    /// its seed is 0 unless given. It is stored and reused like any other picture.
    pub fn prepare_prompt(&self, prompt: &str, params: &ArtParams) -> Result<PreparedArt> {
        if prompt.trim().is_empty() {
            return Err(Error::invalid("the prompt is empty"));
        }
        let subject = Subject::One {
            user: None,
            mood: Mood::neutral("prompt"),
        };
        let draft = Draft {
            prompt: prompt.to_string(),
            negative_prompt: String::new(),
            seed: params.seed.unwrap_or(0),
            palette: vec![],
        };
        self.prepared(subject, draft, params)
    }

    /// The request for `draft` with `params`' negative prompt and the
    /// model's defaults for what `params` leaves unset, validated and keyed.
    fn prepared(&self, subject: Subject, draft: Draft, params: &ArtParams) -> Result<PreparedArt> {
        let model = self.generator.model_info(params.model.as_deref())?;
        let Draft {
            prompt,
            negative_prompt,
            seed,
            palette,
        } = draft;
        let request = ArtRequest {
            prompt,
            negative_prompt: params.negative_prompt.clone().unwrap_or(negative_prompt),
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
            return Ok(ArtOutcome::Reused(self.store.artwork(meta.id).await?));
        }
        let gate = {
            let mut map = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
            map.entry(art.key.clone()).or_default().clone()
        };
        let result = async {
            let _turn = gate.lock().await;
            if let Some(meta) = self.store.artwork_by_key(&art.key).await? {
                return Ok(ArtOutcome::Reused(self.store.artwork(meta.id).await?));
            }
            let painted = self.generate_and_store(art, ctx).await?;
            Ok(ArtOutcome::Painted(painted))
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
    ) -> Result<Artwork> {
        let generator = self.generator.clone();
        let request = art.request.clone();
        let run_ctx = ctx.clone();
        let started = Instant::now();
        let image =
            tokio::task::spawn_blocking(move || generator.generate_checked(&request, &run_ctx))
                .await
                .map_err(|e| {
                    // The panic's message is for us, not for the job's
                    // owner (it can name files, shapes, anything).
                    tracing::error!(key = %art.key, error = %e, "the image generator panicked");
                    Error::model(PANICKED)
                })??;
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
        let storing = Instant::now();
        let stored = self.store.put_artwork(&artwork).await?;
        tracing::info!(
            phase = "store",
            seconds = storing.elapsed().as_secs_f32(),
            "phase done"
        );
        if stored.id != artwork.meta.id {
            // Another process stored this key first: theirs is the picture.
            return self.store.artwork(stored.id).await;
        }
        Ok(Artwork {
            meta: stored,
            png: artwork.png,
        })
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
