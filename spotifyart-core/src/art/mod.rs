//! Art: what to paint ([`ArtRequest`]), who painted it for whom
//! ([`Artwork`]), and the [`ImageGenerator`] trait the diffusion crate
//! implements.
//!
//! Generation is CPU/GPU-bound and synchronous, shaped like diffusers'
//! pipeline call: one request in, one PNG out, and a single per-step hook
//! ([`GenerationContext::step`]) that reports progress and stops the run when
//! cancelled. The Engine runs generators on a blocking thread.

mod palette;

use std::fmt::{self, Debug};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use palette::PalettePainter;

use crate::ids::{ArtworkId, MatchId, UserId};
use crate::mood::{Mood, Rgb};
use crate::prompt::Style;
use crate::{Error, Result};

/// Everything a generator needs to paint one image. Deterministic for a
/// fixed request, model and device.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ArtRequest {
    /// What to paint.
    pub prompt: String,
    /// What to avoid.
    #[serde(default)]
    pub negative_prompt: String,
    /// Random seed.
    pub seed: u64,
    /// Denoising steps (or layers, for procedural painters).
    pub steps: u32,
    /// Classifier-free guidance scale; 0 disables guidance.
    pub guidance: f32,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Model id, e.g. `sd-turbo`.
    pub model: String,
    /// Colour hints from the mood; generators that cannot use them ignore them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub palette: Vec<Rgb>,
}

/// Optional overrides for an art request; unset fields take the model's
/// defaults (or, for the seed, one derived from the subject).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArtParams {
    /// Model id; the generator's default when unset.
    #[serde(default)]
    pub model: Option<String>,
    /// Seed; derived from the moods when unset, so the same people get the
    /// same picture.
    #[serde(default)]
    pub seed: Option<u64>,
    /// Steps.
    #[serde(default)]
    pub steps: Option<u32>,
    /// Guidance scale.
    #[serde(default)]
    pub guidance: Option<f32>,
    /// Width.
    #[serde(default)]
    pub width: Option<u32>,
    /// Height.
    #[serde(default)]
    pub height: Option<u32>,
    /// Style preset.
    #[serde(default)]
    pub style: Option<Style>,
}

/// What kind of painter a model is, so no one mistakes a procedural
/// painter for Stable Diffusion.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    /// Hand-written drawing code; no machine learning.
    Procedural,
    /// A Stable Diffusion pipeline with real weights.
    StableDiffusion,
    /// A randomly initialised network on the real code path (paints noise).
    Test,
}

/// A model a generator offers, with its defaults and limits.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// Id used in requests (`sd-turbo`, `palette`, ...).
    pub id: String,
    /// Human name.
    pub name: String,
    /// What it is.
    pub kind: ModelKind,
    /// One line for `--help` and the API.
    pub description: String,
    /// Steps when the request does not say.
    pub default_steps: u32,
    /// Most steps accepted.
    pub max_steps: u32,
    /// Guidance when the request does not say.
    pub default_guidance: f32,
    /// Width when the request does not say.
    pub default_width: u32,
    /// Height when the request does not say.
    pub default_height: u32,
    /// Width and height must be multiples of this.
    pub size_multiple: u32,
    /// Largest width × height accepted.
    pub max_pixels: u64,
}

impl ModelInfo {
    /// Checks a request against this model's limits.
    pub fn validate(&self, r: &ArtRequest) -> Result<()> {
        if r.model != self.id {
            return Err(Error::invalid(format!(
                "request is for model {:?}, not {:?}",
                r.model, self.id
            )));
        }
        if r.steps == 0 || r.steps > self.max_steps {
            return Err(Error::invalid(format!(
                "steps must be between 1 and {} for {}, got {}",
                self.max_steps, self.id, r.steps
            )));
        }
        if !(r.guidance.is_finite() && (0.0..=30.0).contains(&r.guidance)) {
            return Err(Error::invalid(format!(
                "guidance must be between 0 and 30, got {}",
                r.guidance
            )));
        }
        let m = self.size_multiple.max(1);
        for (name, v) in [("width", r.width), ("height", r.height)] {
            if v < m.max(16) || v % m != 0 {
                return Err(Error::invalid(format!(
                    "{name} must be a positive multiple of {m} (at least {}), got {v}",
                    m.max(16)
                )));
            }
        }
        if r.width as u64 * r.height as u64 > self.max_pixels {
            return Err(Error::invalid(format!(
                "{}x{} is larger than {} allows ({} pixels at most)",
                r.width, r.height, self.id, self.max_pixels
            )));
        }
        if r.prompt.trim().is_empty() {
            return Err(Error::invalid("prompt is empty"));
        }
        Ok(())
    }
}

/// A painted image.
#[derive(Clone, PartialEq, Eq)]
pub struct GeneratedImage {
    /// PNG bytes.
    pub png: Vec<u8>,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

impl Debug for GeneratedImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GeneratedImage")
            .field("png", &format_args!("{} bytes", self.png.len()))
            .field("width", &self.width)
            .field("height", &self.height)
            .finish()
    }
}

/// Where a generation run is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Loading or downloading weights.
    Loading,
    /// Encoding the prompt.
    Encoding,
    /// The denoising (or painting) loop.
    Denoising,
    /// Decoding latents into pixels.
    Decoding,
}

/// A progress report.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// Current stage.
    pub stage: Stage,
    /// Steps done in this stage.
    pub step: u32,
    /// Steps in this stage.
    pub total: u32,
}

impl Progress {
    /// Fraction of the whole run, in [0, 1] (denoising dominates).
    pub fn fraction(&self) -> f32 {
        let within = if self.total == 0 {
            1.0
        } else {
            (self.step as f32 / self.total as f32).clamp(0.0, 1.0)
        };
        // Each stage owns a slice of [0, 1]; a stage ends exactly where the
        // next begins.
        const BOUNDS: [f32; 5] = [0.0, 0.05, 0.1, 0.9, 1.0];
        let i = match self.stage {
            Stage::Loading => 0,
            Stage::Encoding => 1,
            Stage::Denoising => 2,
            Stage::Decoding => 3,
        };
        if within >= 1.0 {
            return BOUNDS[i + 1];
        }
        BOUNDS[i] + (BOUNDS[i + 1] - BOUNDS[i]) * within
    }
}

/// A cheap, clonable cancellation flag shared between a caller and a run.
#[derive(Clone, Debug, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// A token that is not cancelled.
    pub fn new() -> Self {
        Self::default()
    }
    /// Asks every holder to stop.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
    /// Whether cancellation was asked for.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

type ProgressFn = Arc<dyn Fn(Progress) + Send + Sync>;

/// Progress reporting and cancellation for one run.
#[derive(Clone, Default)]
pub struct GenerationContext {
    cancel: CancelToken,
    progress: Option<ProgressFn>,
}

impl Debug for GenerationContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GenerationContext")
            .field("cancelled", &self.cancel.is_cancelled())
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

impl GenerationContext {
    /// No progress reporting, never cancelled.
    pub fn new() -> Self {
        Self::default()
    }
    /// Uses `token` for cancellation.
    pub fn with_cancel(mut self, token: CancelToken) -> Self {
        self.cancel = token;
        self
    }
    /// Calls `f` on every progress report.
    pub fn on_progress(mut self, f: impl Fn(Progress) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(f));
        self
    }
    /// The cancellation token.
    pub fn cancel_token(&self) -> &CancelToken {
        &self.cancel
    }
    /// Reports progress, then fails with [`Error::Cancelled`] if cancelled.
    /// Generators call it once per step: the one hook for both.
    pub fn report(&self, stage: Stage, step: u32, total: u32) -> Result<()> {
        if let Some(f) = &self.progress {
            f(Progress { stage, step, total });
        }
        self.check()
    }
    /// Shorthand for a denoising step.
    pub fn step(&self, step: u32, total: u32) -> Result<()> {
        self.report(Stage::Denoising, step, total)
    }
    /// Fails with [`Error::Cancelled`] if cancelled.
    pub fn check(&self) -> Result<()> {
        if self.cancel.is_cancelled() {
            Err(Error::Cancelled)
        } else {
            Ok(())
        }
    }
}

/// Paints a PNG from an [`ArtRequest`].
pub trait ImageGenerator: Send + Sync + Debug + 'static {
    /// Models this generator offers; the first is its default.
    fn models(&self) -> Vec<ModelInfo>;

    /// Paints `request`. Deterministic for a fixed request and device;
    /// checks `ctx` every step.
    fn generate(&self, request: &ArtRequest, ctx: &GenerationContext) -> Result<GeneratedImage>;
}

/// Conveniences over any [`ImageGenerator`]; not meant to be implemented.
pub trait ImageGeneratorExt: ImageGenerator {
    /// Info for model `id`, or the default model when `None`.
    fn model_info(&self, id: Option<&str>) -> Result<ModelInfo> {
        let models = self.models();
        match id {
            None => models
                .into_iter()
                .next()
                .ok_or_else(|| Error::internal("generator offers no models")),
            Some(id) => {
                let ids: Vec<String> = models.iter().map(|m| m.id.clone()).collect();
                models.into_iter().find(|m| m.id == id).ok_or_else(|| {
                    Error::invalid(format!(
                        "unknown image model {id:?}; this build offers: {}",
                        ids.join(", ")
                    ))
                })
            }
        }
    }

    /// Validates `request` against its model, then paints it.
    fn generate_checked(
        &self,
        request: &ArtRequest,
        ctx: &GenerationContext,
    ) -> Result<GeneratedImage> {
        self.model_info(Some(&request.model))?.validate(request)?;
        self.generate(request, ctx)
    }
}

impl<T: ImageGenerator + ?Sized> ImageGeneratorExt for T {}

#[deny(clippy::missing_trait_methods)]
impl<T: ImageGenerator + ?Sized> ImageGenerator for Arc<T> {
    fn models(&self) -> Vec<ModelInfo> {
        (**self).models()
    }
    fn generate(&self, request: &ArtRequest, ctx: &GenerationContext) -> Result<GeneratedImage> {
        (**self).generate(request, ctx)
    }
}

#[deny(clippy::missing_trait_methods)]
impl<T: ImageGenerator + ?Sized> ImageGenerator for Box<T> {
    fn models(&self) -> Vec<ModelInfo> {
        (**self).models()
    }
    fn generate(&self, request: &ArtRequest, ctx: &GenerationContext) -> Result<GeneratedImage> {
        (**self).generate(request, ctx)
    }
}

/// Several generators behind one: requests go to whichever offers the
/// model, so a build can serve Stable Diffusion next to the procedural
/// painter. The first generator's default model is the default.
#[derive(Debug, Default)]
pub struct GeneratorSet {
    members: Vec<Arc<dyn ImageGenerator>>,
}

impl GeneratorSet {
    /// An empty set; add generators with [`GeneratorSet::with`].
    pub fn new() -> Self {
        Self::default()
    }
    /// Adds `g`; earlier members win when two offer the same model id.
    pub fn with(mut self, g: Arc<dyn ImageGenerator>) -> Self {
        self.members.push(g);
        self
    }
}

impl ImageGenerator for GeneratorSet {
    fn models(&self) -> Vec<ModelInfo> {
        let mut seen = std::collections::HashSet::new();
        self.members
            .iter()
            .flat_map(|g| g.models())
            .filter(|m| seen.insert(m.id.clone()))
            .collect()
    }

    fn generate(&self, request: &ArtRequest, ctx: &GenerationContext) -> Result<GeneratedImage> {
        let owner = self
            .members
            .iter()
            .find(|g| g.models().iter().any(|m| m.id == request.model));
        match owner {
            Some(g) => g.generate(request, ctx),
            None => Err(self
                .model_info(Some(&request.model))
                .err()
                .unwrap_or_else(|| Error::internal("model listed but not owned"))),
        }
    }
}

/// Who a picture is of: one person's mood, or two people's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
// Subjects are few and short-lived (one per request); boxing the moods would
// only add allocations.
#[allow(clippy::large_enum_variant)]
pub enum Subject {
    /// One person.
    One {
        /// The user, when there is one (the CLI paints anonymous exports).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user: Option<UserId>,
        /// Their mood.
        mood: Mood,
    },
    /// Two people.
    Pair {
        /// The stored match, when there is one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        match_id: Option<MatchId>,
        /// The two users, when known.
        #[serde(default)]
        users: Vec<UserId>,
        /// First mood.
        a: Mood,
        /// Second mood.
        b: Mood,
        /// The blended mood.
        blended: Mood,
    },
}

impl Subject {
    /// The users in the picture (who may see it).
    pub fn users(&self) -> Vec<UserId> {
        match self {
            Subject::One { user, .. } => user.iter().copied().collect(),
            Subject::Pair { users, .. } => users.clone(),
        }
    }
    /// The match, for pair pictures of a stored match.
    pub fn match_id(&self) -> Option<MatchId> {
        match self {
            Subject::One { .. } => None,
            Subject::Pair { match_id, .. } => *match_id,
        }
    }
    /// Colour hints for the picture: a mood's palette, or for two people
    /// the blended base and shadow with each person's own base colour, so
    /// both show in the picture.
    pub fn palette(&self) -> Vec<Rgb> {
        match self {
            Subject::One { mood, .. } => mood.palette.iter().map(|s| s.color).collect(),
            Subject::Pair { a, b, blended, .. } => {
                let pick = |m: &Mood, i: usize| m.palette.get(i).map(|s| s.color);
                // Order by mood so (a, b) and (b, a) give the same hints.
                let (x, y) = if (a.valence, a.arousal) <= (b.valence, b.arousal) {
                    (a, b)
                } else {
                    (b, a)
                };
                [
                    pick(blended, 0),
                    pick(x, 0),
                    pick(y, 0),
                    pick(blended, 3),
                    pick(blended, 4),
                ]
                .into_iter()
                .flatten()
                .collect()
            }
        }
    }

    /// The mood the picture shows (the blended one for pairs).
    pub fn mood(&self) -> &Mood {
        match self {
            Subject::One { mood, .. } => mood,
            Subject::Pair { blended, .. } => blended,
        }
    }
}

/// Identity of a picture's content: a SHA-256 over the subjects, their
/// moods, the prompt and every generation parameter including the model.
/// Equal keys mean the same picture, so it is painted once.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ContentKey(pub String);

impl ContentKey {
    /// Version of the key derivation; bump to repaint everything.
    pub const VERSION: u32 = 1;

    /// The key of `request` painted for `subject`.
    pub fn of(subject: &Subject, request: &ArtRequest) -> ContentKey {
        let q = |x: f32| (x * 1000.0).round() as i64;
        let mood = |m: &Mood| (m.label.as_str(), q(m.valence), q(m.arousal));
        let mut users: Vec<String> = subject.users().iter().map(|u| u.to_string()).collect();
        users.sort();
        let mut moods = match subject {
            Subject::One { mood: m, .. } => vec![mood(m)],
            Subject::Pair { a, b, .. } => vec![mood(a), mood(b)],
        };
        moods.sort();
        let material = serde_json::json!({
            "v": Self::VERSION,
            "users": users,
            "match": subject.match_id().map(|m| m.to_string()),
            "moods": moods,
            "prompt": request.prompt,
            "negative": request.negative_prompt,
            "seed": request.seed,
            "steps": request.steps,
            "guidance": q(request.guidance),
            "width": request.width,
            "height": request.height,
            "model": request.model,
            "palette": request.palette.iter().map(|c| c.hex()).collect::<Vec<_>>(),
        });
        ContentKey(hex::encode(Sha256::digest(material.to_string().as_bytes())))
    }
}

impl fmt::Display for ContentKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A stored picture's metadata (everything but the pixels).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ArtworkMeta {
    /// Id.
    pub id: ArtworkId,
    /// Content identity; unique in the store.
    pub content_key: ContentKey,
    /// Who and what it shows.
    pub subject: Subject,
    /// How it was painted.
    pub request: ArtRequest,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// SHA-256 of the PNG (hex), for ETags and integrity checks.
    pub sha256: String,
    /// PNG size.
    pub bytes: u64,
    /// Painting time.
    pub generation_ms: u64,
    /// When it was stored.
    pub created_at: DateTime<Utc>,
}

/// A stored picture.
#[derive(Clone, PartialEq)]
pub struct Artwork {
    /// Metadata.
    pub meta: ArtworkMeta,
    /// PNG bytes.
    pub png: Vec<u8>,
}

impl Debug for Artwork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Artwork")
            .field("meta", &self.meta)
            .field("png", &format_args!("{} bytes", self.png.len()))
            .finish()
    }
}

impl Artwork {
    /// An artwork from a painted image, with a fresh id and its checksum.
    pub fn new(
        subject: Subject,
        request: ArtRequest,
        image: GeneratedImage,
        generation_ms: u64,
        created_at: DateTime<Utc>,
    ) -> Artwork {
        let content_key = ContentKey::of(&subject, &request);
        Artwork {
            meta: ArtworkMeta {
                id: ArtworkId::new(),
                content_key,
                subject,
                request,
                width: image.width,
                height: image.height,
                sha256: hex::encode(Sha256::digest(&image.png)),
                bytes: image.png.len() as u64,
                generation_ms,
                created_at,
            },
            png: image.png,
        }
    }

    /// Writes the PNG to `path` through a temporary file in the same folder,
    /// so a crash never leaves half a picture where the old one was.
    pub fn save(&self, path: &Path) -> Result<()> {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
        std::fs::write(&tmp, &self.png).map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            Error::io(path, e)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> ArtRequest {
        ArtRequest {
            prompt: "a lake".into(),
            negative_prompt: String::new(),
            seed: 1,
            steps: 4,
            guidance: 0.0,
            width: 64,
            height: 64,
            model: "palette".into(),
            palette: vec![],
        }
    }

    #[test]
    fn content_key_covers_every_parameter() {
        let subject = Subject::One {
            user: None,
            mood: Mood::new(0.5, 0.5, 1.0, vec![], "t"),
        };
        let base = ContentKey::of(&subject, &request());
        assert_eq!(base, ContentKey::of(&subject, &request()));
        type Change = Box<dyn Fn(&mut ArtRequest)>;
        let variants: Vec<Change> = vec![
            Box::new(|r| r.prompt.push('!')),
            Box::new(|r| r.negative_prompt.push('x')),
            Box::new(|r| r.seed += 1),
            Box::new(|r| r.steps += 1),
            Box::new(|r| r.guidance += 0.5),
            Box::new(|r| r.width += 8),
            Box::new(|r| r.height += 8),
            Box::new(|r| r.model = "sd-turbo".into()),
            Box::new(|r| r.palette.push(Rgb(1, 2, 3))),
        ];
        for change in variants {
            let mut r = request();
            change(&mut r);
            assert_ne!(ContentKey::of(&subject, &r), base, "{r:?}");
        }
        let other_mood = Subject::One {
            user: None,
            mood: Mood::new(0.5, 0.4, 1.0, vec![], "t"),
        };
        assert_ne!(ContentKey::of(&other_mood, &request()), base);
        let other_user = Subject::One {
            user: Some(UserId::new()),
            mood: Mood::new(0.5, 0.5, 1.0, vec![], "t"),
        };
        assert_ne!(ContentKey::of(&other_user, &request()), base);
    }

    /// A generator that offers one model and says who painted.
    #[derive(Debug)]
    struct Named(&'static str);

    impl ImageGenerator for Named {
        fn models(&self) -> Vec<ModelInfo> {
            let mut m = PalettePainter.models().remove(0);
            m.id = self.0.into();
            vec![m]
        }
        fn generate(&self, r: &ArtRequest, _: &GenerationContext) -> Result<GeneratedImage> {
            Ok(GeneratedImage {
                png: format!("{}:{}", self.0, r.model).into_bytes(),
                width: r.width,
                height: r.height,
            })
        }
    }

    #[test]
    fn generator_sets_route_by_model_and_keep_the_first_default() {
        let set = GeneratorSet::new()
            .with(Arc::new(Named("sd-turbo")))
            .with(Arc::new(Named("palette")))
            .with(Arc::new(Named("sd-turbo")));
        let ids: Vec<_> = set.models().into_iter().map(|m| m.id).collect();
        assert_eq!(ids, ["sd-turbo", "palette"]);
        assert_eq!(set.model_info(None).unwrap().id, "sd-turbo");
        let ctx = GenerationContext::new();
        let painted = set.generate(&request(), &ctx).unwrap();
        assert_eq!(painted.png, b"palette:palette");
        let mut r = request();
        r.model = "sdxl".into();
        let e = set.generate(&r, &ctx).unwrap_err().to_string();
        assert!(
            e.contains("unknown image model \"sdxl\"; this build offers: sd-turbo, palette"),
            "{e}"
        );
    }

    #[test]
    fn validation_names_the_limit() {
        let info = PalettePainter.model_info(None).unwrap();
        let mut r = request();
        r.steps = 0;
        let e = info.validate(&r).unwrap_err().to_string();
        assert!(e.contains("steps must be between 1 and"), "{e}");
        let mut r = request();
        r.width = 100;
        let e = info.validate(&r).unwrap_err().to_string();
        assert!(e.contains("width must be a positive multiple of 8"), "{e}");
        let mut r = request();
        r.width = 8192;
        r.height = 8192;
        assert!(
            info.validate(&r)
                .unwrap_err()
                .to_string()
                .contains("larger")
        );
        let e = PalettePainter
            .model_info(Some("sd-9"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("this build offers: palette"), "{e}");
    }

    #[test]
    fn progress_fraction_is_monotonic() {
        let p = |stage, step| {
            Progress {
                stage,
                step,
                total: 10,
            }
            .fraction()
        };
        assert!(p(Stage::Loading, 10) <= p(Stage::Encoding, 0));
        assert!(p(Stage::Denoising, 3) < p(Stage::Denoising, 4));
        assert!(p(Stage::Denoising, 10) <= p(Stage::Decoding, 0));
        assert_eq!(p(Stage::Decoding, 10), 1.0);
    }
}
