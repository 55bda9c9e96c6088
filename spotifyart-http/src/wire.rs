//! The API's wire types. Requests reject unknown fields, so a typo is a
//! 400 that names it rather than a silently ignored setting. Core types
//! (moods, match results) are embedded as they serialise in the core,
//! documented in docs/profile.md and docs/api.md.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use spotifyart_core::store::{Job, JobState, MatchRecord, MoodSnapshot};
use spotifyart_core::{ArtworkMeta, Mood, Style, Subject};
use utoipa::ToSchema;
use uuid::Uuid;

/// The signed-in user.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    /// User id.
    pub id: Uuid,
    /// Spotify display name.
    pub display_name: Option<String>,
}

/// `GET /api/v1/music/mood`.
#[derive(Debug, Serialize, ToSchema)]
pub struct MoodResponse {
    /// The mood: valence and arousal in [-1, 1], label, palette,
    /// descriptors, confidence, the signals it used.
    #[schema(value_type = Object)]
    pub mood: Mood,
    /// The Spotify time range, or null for all ranges blended.
    pub time_range: Option<String>,
    /// When it was computed.
    pub computed_at: DateTime<Utc>,
}

impl From<MoodSnapshot> for MoodResponse {
    fn from(s: MoodSnapshot) -> Self {
        Self {
            mood: s.mood,
            time_range: s.time_range.map(|r| r.to_string()),
            computed_at: s.computed_at,
        }
    }
}

/// `POST /api/v1/music/mood/refresh`: which range (all blended when
/// absent; an empty body is `{}`).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoodRefresh {
    /// `short_term`, `medium_term` or `long_term`.
    pub time_range: Option<String>,
}

/// `GET /api/v1/music/mood` query.
#[derive(Debug, Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct MoodQuery {
    /// `short_term`, `medium_term` or `long_term`; all blended when absent.
    pub time_range: Option<String>,
    /// No longer read here: a 400 points at `POST /api/v1/music/mood/refresh`.
    #[serde(default)]
    pub refresh: bool,
}

/// A new invite.
#[derive(Debug, Serialize, ToSchema)]
pub struct InviteResponse {
    /// The secret invite code (shown once; only its hash is stored).
    pub invite: String,
    /// The page the invited person opens.
    pub url: String,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
    /// Whom it is for, when the inviter named someone.
    pub addressee: Option<AddresseeView>,
}

/// `POST /api/v1/matches`: whom the invite is for. Empty for an invite
/// anyone may accept by signing in with Spotify; with a service and a
/// username, only that person may accept, after proving who they are.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteBody {
    /// `listenbrainz` or `lastfm`.
    pub provider: Option<String>,
    /// Their username there.
    pub username: Option<String>,
}

/// `POST /auth/listenbrainz`: an invite and the ListenBrainz user token
/// that proves who accepts it (checked with ListenBrainz, never stored).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ListenBrainzProof {
    /// The invite code from the link.
    pub invite: String,
    /// The user token from listenbrainz.org/settings.
    pub token: String,
}

impl std::fmt::Debug for ListenBrainzProof {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ListenBrainzProof").finish_non_exhaustive()
    }
}

/// Whom an invite is for.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AddresseeView {
    /// `listenbrainz` or `lastfm`.
    pub provider: String,
    /// Their username there.
    pub username: String,
}

/// `GET /api/v1/invites/{invite}`: what the invited person sees before
/// accepting (the code is the capability; nothing about the inviter).
#[derive(Debug, Serialize, ToSchema)]
pub struct InviteInfo {
    /// Whom it is for, when it is for someone at a listening service.
    pub addressee: Option<AddresseeView>,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
    /// Whether it was accepted already.
    pub accepted: bool,
}

/// A match as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct MatchView {
    /// Match id.
    pub id: Uuid,
    /// The two users, inviter first.
    pub users: [Uuid; 2],
    /// 0–100.
    pub score: u8,
    /// The reasons in one paragraph.
    pub explanation: String,
    /// Score, reasons, both moods and the blended mood.
    #[schema(value_type = Object)]
    pub result: spotifyart_core::MatchResult,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

impl From<&MatchRecord> for MatchView {
    fn from(m: &MatchRecord) -> Self {
        Self {
            id: m.id.0,
            users: [m.users[0].0, m.users[1].0],
            score: m.result.score,
            explanation: m.result.explanation(),
            result: m.result.clone(),
            created_at: m.created_at,
        }
    }
}

/// `GET /api/v1/matches`.
#[derive(Debug, Serialize, ToSchema)]
pub struct MatchList {
    /// Newest first.
    pub matches: Vec<MatchView>,
}

/// `POST /api/v1/ai/art`: what to paint. Everything is optional; without
/// `match_id` it paints the caller's own mood.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ArtBody {
    /// A match the caller is part of.
    pub match_id: Option<Uuid>,
    /// Seed (derived from the moods when absent: same people, same picture).
    pub seed: Option<u64>,
    /// Denoising steps.
    pub steps: Option<u32>,
    /// Model id; one of the server's models.
    pub model: Option<String>,
    /// Width in pixels (multiple of 8).
    pub width: Option<u32>,
    /// Height in pixels (multiple of 8).
    pub height: Option<u32>,
    /// Guidance scale.
    pub guidance: Option<f32>,
    /// Style preset.
    #[schema(value_type = Option<String>)]
    pub style: Option<Style>,
}

/// An artwork's metadata.
#[derive(Debug, Serialize, ToSchema)]
pub struct ArtworkView {
    /// Artwork id.
    pub id: Uuid,
    /// The PNG.
    pub url: String,
    /// Pixels.
    pub width: u32,
    /// Pixels.
    pub height: u32,
    /// Model that painted it.
    pub model: String,
    /// Seed.
    pub seed: u64,
    /// Steps.
    pub steps: u32,
    /// The prompt.
    pub prompt: String,
    /// The match it shows, if any.
    pub match_id: Option<Uuid>,
    /// The mood it shows (the blended one for a match).
    #[schema(value_type = Object)]
    pub mood: Mood,
    /// Painting time.
    pub generation_ms: u64,
    /// SHA-256 of the PNG.
    pub sha256: String,
    /// When it was stored.
    pub created_at: DateTime<Utc>,
}

impl From<&ArtworkMeta> for ArtworkView {
    fn from(a: &ArtworkMeta) -> Self {
        let (match_id, mood) = match &a.subject {
            Subject::One { mood, .. } => (None, mood.clone()),
            Subject::Pair {
                match_id, blended, ..
            } => (match_id.map(|m| m.0), blended.clone()),
        };
        Self {
            id: a.id.0,
            url: format!("/api/v1/art/{}.png", a.id),
            width: a.width,
            height: a.height,
            model: a.request.model.clone(),
            seed: a.request.seed,
            steps: a.request.steps,
            prompt: a.request.prompt.clone(),
            match_id,
            mood,
            generation_ms: a.generation_ms,
            sha256: a.sha256.clone(),
            created_at: a.created_at,
        }
    }
}

/// `200` from `POST /api/v1/ai/art`: already painted.
#[derive(Debug, Serialize, ToSchema)]
pub struct ArtReady {
    /// The artwork.
    pub artwork: ArtworkView,
}

/// `202` from `POST /api/v1/ai/art`: poll the job.
#[derive(Debug, Serialize, ToSchema)]
pub struct ArtQueued {
    /// Job id.
    pub job_id: Uuid,
    /// Where to poll.
    pub status_url: String,
    /// The job now.
    pub job: JobView,
}

/// A painting job.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobView {
    /// Job id.
    pub id: Uuid,
    /// `queued`, `running`, `succeeded` or `failed`.
    pub state: String,
    /// Progress of the current try, 0–1.
    pub progress: f32,
    /// Tries so far.
    pub attempts: u32,
    /// Tries allowed.
    pub max_attempts: u32,
    /// The last failure (also while being retried).
    pub error: Option<String>,
    /// The artwork once succeeded.
    pub artwork_id: Option<Uuid>,
    /// Its PNG once succeeded.
    pub artwork_url: Option<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl From<&Job> for JobView {
    fn from(j: &Job) -> Self {
        Self {
            id: j.id.0,
            state: j.state.as_str().to_string(),
            progress: if j.state == JobState::Succeeded {
                1.0
            } else {
                j.progress.clamp(0.0, 1.0)
            },
            attempts: j.attempts,
            max_attempts: j.max_attempts,
            error: j.last_error.clone(),
            artwork_id: j.artwork_id.map(|a| a.0),
            artwork_url: j.artwork_id.map(|a| format!("/api/v1/art/{a}.png")),
            created_at: j.created_at,
            updated_at: j.updated_at,
        }
    }
}

/// `GET /api/v1/gallery` query.
#[derive(Debug, Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct GalleryQuery {
    /// Only artworks stored before this time (the previous page's
    /// `next_before`).
    pub before: Option<DateTime<Utc>>,
    /// Page size, 1–100 (default 24).
    pub limit: Option<usize>,
}

/// `GET /api/v1/gallery`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Gallery {
    /// Newest first.
    pub artworks: Vec<ArtworkView>,
    /// Pass as `before` for the next page; null on the last.
    pub next_before: Option<DateTime<Utc>>,
}

/// `GET /readyz`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// `ready` or `unavailable`.
    pub status: &'static str,
    /// Database backend.
    pub database: String,
    /// Why not ready.
    pub error: Option<String>,
}

/// One of the user's own playlists.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlaylistView {
    /// Spotify playlist id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// How many items it has.
    pub tracks: u32,
    /// Its current cover (Spotify's CDN), if it has one.
    pub image_url: Option<String>,
}

/// `GET /api/v1/playlists`: the user's own playlists, and whether they
/// allowed SpotifyArt to change them. Without that consent the page sends
/// the user to `consent_url` first (asked only then, not at sign-in).
#[derive(Debug, Serialize, ToSchema)]
pub struct PlaylistList {
    /// Whether covers may be set and playlists changed.
    pub consent: bool,
    /// Where to ask for it: a Spotify sign-in for the playlist scopes
    /// that comes back to the page.
    pub consent_url: String,
    /// The user's own playlists.
    pub playlists: Vec<PlaylistView>,
}

/// `POST /api/v1/playlists/{id}/cover`: how to paint it (all optional).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CoverBody {
    /// Model id; one of the server's models.
    pub model: Option<String>,
    /// Seed (derived from the playlist's mood when absent).
    pub seed: Option<u64>,
    /// Style preset.
    #[schema(value_type = Option<String>)]
    pub style: Option<Style>,
}

/// `PUT /api/v1/playlists/{id}/cover`: which painting becomes the cover.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CoverUpload {
    /// An artwork the caller may see (e.g. the one the paint call made).
    pub artwork_id: Uuid,
}

/// The cover as it was sent to Spotify.
#[derive(Debug, Serialize, ToSchema)]
pub struct CoverSet {
    /// The playlist.
    pub playlist: String,
    /// The artwork it shows.
    pub artwork_id: Uuid,
    /// Side of the square JPEG in pixels.
    pub side: u32,
    /// JPEG quality used to fit Spotify's 256 KB limit.
    pub quality: u8,
    /// Bytes of the JPEG.
    pub bytes: usize,
}

/// `POST /api/v1/schedules`: a weekly task.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, tag = "kind", rename_all = "snake_case")]
pub enum ScheduleBody {
    /// Repaint the playlist's cover from its mood every week.
    Cover {
        /// Playlist id, URI or link.
        playlist: String,
    },
    /// Copy new tracks of `from` into `to` every week.
    Archive {
        /// Playlist id, URI or link.
        from: String,
        /// Playlist id, URI or link, or a name (created when missing).
        to: String,
    },
}

/// A weekly task and how its last run went.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduleView {
    /// Schedule id.
    pub id: Uuid,
    /// `cover` or `archive`, with its playlists.
    #[schema(value_type = Object)]
    pub task: spotifyart_core::store::ScheduledTask,
    /// Days between runs.
    pub every_days: u64,
    /// When it runs next.
    pub next_run_at: DateTime<Utc>,
    /// Why it is paused (access withdrawn), when it is.
    pub paused: Option<String>,
    /// Runs so far.
    pub runs: u32,
    /// When the last run ended.
    pub last_run_at: Option<DateTime<Utc>>,
    /// What the last successful run did.
    pub last_result: Option<String>,
    /// Why the last run failed.
    pub last_error: Option<String>,
}

impl From<&spotifyart_core::store::Schedule> for ScheduleView {
    fn from(s: &spotifyart_core::store::Schedule) -> Self {
        Self {
            id: s.id.0,
            task: s.task.clone(),
            every_days: s.period.as_secs() / 86_400,
            next_run_at: s.next_run_at,
            paused: s.paused.clone(),
            runs: s.runs,
            last_run_at: s.last_run_at,
            last_result: s.last_result.clone(),
            last_error: s.last_error.clone(),
        }
    }
}

/// `GET /api/v1/schedules`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduleList {
    /// Oldest first.
    pub schedules: Vec<ScheduleView>,
}
