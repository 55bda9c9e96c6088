//! Running users' schedules: a worker claims a due schedule, does its task
//! for its user, and records how it ended. One user's failure is recorded
//! on their schedule and never stops the others; a user whose provider
//! access is gone has every schedule paused until they sign in again.

use std::time::Duration;

use super::Engine;
use crate::art::{ArtParams, GenerationContext};
use crate::ids::{ScheduleId, UserId};
use crate::store::{NewSchedule, Schedule, ScheduleOutcome, ScheduledTask};
use crate::{Error, Result};

/// How schedules run.
#[derive(Clone, Debug)]
pub struct ScheduleSettings {
    /// How long a worker holds a schedule while running it (a cover is
    /// painted inside the run); another worker takes over after this.
    pub lease: Duration,
    /// Delay before retrying a failed run; doubles per failure in a row,
    /// never past the next period.
    pub retry_base: Duration,
    /// The period new schedules get.
    pub period: Duration,
}

impl Default for ScheduleSettings {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(15 * 60),
            retry_base: Duration::from_secs(3600),
            period: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

/// Why a paused user's schedules are paused.
pub const REVOKED: &str = "access to your playlists was withdrawn; sign in again to resume";

impl Engine {
    /// Adds a weekly schedule for `user`, first run now. Refused before it
    /// is stored when the user has not allowed changing their playlists
    /// (ask first), or already has this task.
    pub async fn add_schedule(&self, user: UserId, task: ScheduledTask) -> Result<Schedule> {
        task.validate()?;
        if !self.playlists()?.may_change_playlists(user).await? {
            return Err(Error::Forbidden {
                message: "scheduled playlist tasks need your permission to change your \
                          playlists first (sign in again and allow it)"
                    .into(),
            });
        }
        let now = self.now();
        self.store
            .create_schedule(
                &NewSchedule {
                    user,
                    task,
                    period: self.schedules.period,
                    first_run: now,
                },
                now,
            )
            .await
    }

    /// Removes `user`'s schedule (another's is `NotFound`).
    pub async fn remove_schedule(&self, user: UserId, id: ScheduleId) -> Result<()> {
        self.store.delete_schedule(user, id).await
    }

    /// Resumes a user's paused schedules (they signed in again).
    pub async fn resume_schedules(&self, user: UserId) -> Result<u64> {
        self.store.pause_schedules(user, None).await
    }

    /// Claims one due schedule and runs it to the end. `None` when nothing
    /// is due (or this engine has no playlists to work on).
    pub async fn run_due_schedule(&self, worker: &str) -> Result<Option<Schedule>> {
        if self.playlists.is_none() {
            return Ok(None);
        }
        let Some(schedule) = self
            .store
            .claim_schedule(worker, self.now(), self.schedules.lease)
            .await?
        else {
            return Ok(None);
        };
        tracing::info!(schedule = %schedule.id, kind = schedule.task.kind(), worker, "running schedule");
        let result = self.run_task(schedule.user, &schedule.task).await;
        let now = self.now();
        let outcome = match result {
            Ok(summary) => ScheduleOutcome::Done(summary),
            Err(e @ (Error::Revoked { .. } | Error::Unauthorized { .. })) => {
                tracing::info!(schedule = %schedule.id, error = %e, "user's access is gone; schedules paused");
                self.end_sessions_if_revoked(schedule.user, &Err::<(), _>(e))
                    .await;
                ScheduleOutcome::Paused(REVOKED.into())
            }
            Err(e) => {
                tracing::warn!(schedule = %schedule.id, error = %e, "schedule failed");
                let delay = self
                    .schedules
                    .retry_base
                    .saturating_mul(1 << schedule.failures.min(16))
                    .min(schedule.period);
                ScheduleOutcome::Failed {
                    error: e.to_string(),
                    retry_at: now + chrono::Duration::from_std(delay).unwrap_or_default(),
                }
            }
        };
        self.store
            .finish_schedule(schedule.id, worker, &outcome, now)
            .await
            .map(Some)
    }

    async fn run_task(&self, user: UserId, task: &ScheduledTask) -> Result<String> {
        match task {
            ScheduledTask::Archive { from, to } => {
                let r = self.playlists()?.archive(user, from, to).await?;
                Ok(format!(
                    "added {} track(s) to {}{} ({} already archived)",
                    r.added,
                    r.playlist,
                    if r.created { " (created)" } else { "" },
                    r.already_archived
                ))
            }
            ScheduledTask::Cover { playlist } => {
                let (mood, painted, cover) = self
                    .paint_cover(
                        user,
                        playlist,
                        &ArtParams::default(),
                        &GenerationContext::new(),
                        true,
                    )
                    .await?;
                Ok(format!(
                    "cover set: {} ({}x{} JPEG, {})",
                    mood.label,
                    cover.side,
                    cover.side,
                    if painted.is_reused() {
                        "same painting as before"
                    } else {
                        "newly painted"
                    }
                ))
            }
        }
    }
}
