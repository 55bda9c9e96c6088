//! Recurring per-user playlist tasks ("every week, repaint the cover of
//! Y"), kept in the store so any worker can run them and none runs one
//! twice in a period.
//!
//! A schedule is due when its `next_run_at` has passed. A worker claims it
//! with a lease (compare-and-set, so of racing workers exactly one wins),
//! runs it, and finishes it: the next run moves to the first slot of the
//! schedule's grid after now, so a worker that was down for three weeks
//! runs a missed schedule once, not three times. A worker that vanishes
//! mid-run loses its lease and another finishes the period's run (the
//! tasks are idempotent: an archive adds only what is missing, a cover is
//! the same picture).

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{ScheduleId, UserId};
use crate::{Error, Result};

/// What a schedule does each period.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ScheduledTask {
    /// Copy the tracks of `from` not yet in `to` into it.
    Archive {
        /// The playlist read (id, URI or link).
        from: String,
        /// The archive: a playlist id, or a name (created when missing).
        to: String,
    },
    /// Paint the playlist's cover from its mood and set it.
    Cover {
        /// The playlist (id, URI or link); it must be the user's own.
        playlist: String,
    },
}

impl ScheduledTask {
    /// The wire name of the kind: `archive` or `cover`.
    pub fn kind(&self) -> &'static str {
        match self {
            ScheduledTask::Archive { .. } => "archive",
            ScheduledTask::Cover { .. } => "cover",
        }
    }

    /// Refuses empty or oversized playlist references before they are
    /// stored (they are read back by every worker, every period).
    pub fn validate(&self) -> Result<()> {
        let fields: &[(&str, &String)] = match self {
            ScheduledTask::Archive { from, to } => &[("from", from), ("to", to)],
            ScheduledTask::Cover { playlist } => &[("playlist", playlist)],
        };
        for (name, value) in fields {
            let v = value.trim();
            if v.is_empty() {
                return Err(Error::invalid(format!("{name} must name a playlist")));
            }
            if v.len() > 200 || v.chars().any(char::is_control) {
                return Err(Error::invalid(format!(
                    "{name} must be a playlist id, URI, link or name of at most 200 characters"
                )));
            }
        }
        Ok(())
    }
}

/// A schedule to add.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewSchedule {
    /// Whose playlists.
    pub user: UserId,
    /// What to do.
    pub task: ScheduledTask,
    /// How often (a week for the built-in tasks).
    pub period: Duration,
    /// The first run; later runs fall on this time plus whole periods.
    pub first_run: DateTime<Utc>,
}

/// How a run ended, as the worker reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScheduleOutcome {
    /// Done; the summary is shown to the user.
    Done(String),
    /// Failed; tried again at `retry_at` (never later than the next slot).
    Failed {
        /// Why, for the user.
        error: String,
        /// When to try again.
        retry_at: DateTime<Utc>,
    },
    /// The user's access is gone (revoked at the provider): every schedule
    /// of theirs is paused with this reason until they sign in again.
    Paused(String),
}

/// A stored schedule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    /// Id.
    pub id: ScheduleId,
    /// Whose.
    pub user: UserId,
    /// What it does.
    pub task: ScheduledTask,
    /// How often.
    pub period: Duration,
    /// When it is next due.
    pub next_run_at: DateTime<Utc>,
    /// Why it is paused, when it is (not run while paused).
    pub paused: Option<String>,
    /// Runs finished (done or failed).
    pub runs: u32,
    /// Failed runs in a row.
    pub failures: u32,
    /// When the last run finished.
    pub last_run_at: Option<DateTime<Utc>>,
    /// What the last successful run did.
    pub last_result: Option<String>,
    /// Why the last run failed, when it did.
    pub last_error: Option<String>,
    /// The worker running it now.
    pub lease_owner: Option<String>,
    /// When that worker's lease runs out.
    pub lease_expires_at: Option<DateTime<Utc>>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

impl Schedule {
    /// A new schedule as `new` describes it, first due at its `first_run`.
    pub fn new(new: &NewSchedule, now: DateTime<Utc>) -> Self {
        Self {
            id: ScheduleId::new(),
            user: new.user,
            task: new.task.clone(),
            period: new.period,
            next_run_at: new.first_run,
            paused: None,
            runs: 0,
            failures: 0,
            last_run_at: None,
            last_result: None,
            last_error: None,
            lease_owner: None,
            lease_expires_at: None,
            created_at: now,
        }
    }
}

/// The first slot `start + k·period` (k ≥ 1) after `now`: where a schedule
/// due at `start` goes once it has run at `now`. However many slots were
/// missed, they collapse into the one run just made.
pub fn next_slot(start: DateTime<Utc>, period: Duration, now: DateTime<Utc>) -> DateTime<Utc> {
    let p = chrono::Duration::from_std(period)
        .unwrap_or(chrono::Duration::weeks(1))
        .max(chrono::Duration::seconds(1));
    let behind = (now - start).num_microseconds().unwrap_or(i64::MAX).max(0);
    let step = p.num_microseconds().unwrap_or(i64::MAX).max(1);
    let k = behind / step + 1;
    start + chrono::Duration::microseconds(step.saturating_mul(k))
}

/// What a finished run changes: the fields of `s` after `outcome` at `now`.
/// One rule for every backend (they store what this returns).
pub fn after_run(s: &Schedule, outcome: &ScheduleOutcome, now: DateTime<Utc>) -> Schedule {
    let slot = next_slot(s.next_run_at, s.period, now);
    let mut s = s.clone();
    s.lease_owner = None;
    s.lease_expires_at = None;
    s.last_run_at = Some(now);
    match outcome {
        ScheduleOutcome::Done(summary) => {
            s.runs += 1;
            s.failures = 0;
            s.last_result = Some(summary.clone());
            s.last_error = None;
            s.next_run_at = slot;
        }
        ScheduleOutcome::Failed { error, retry_at } => {
            s.runs += 1;
            s.failures += 1;
            s.last_error = Some(error.clone());
            s.next_run_at = (*retry_at).min(slot);
        }
        ScheduleOutcome::Paused(reason) => {
            s.last_error = Some(reason.clone());
            s.paused = Some(reason.clone());
            s.next_run_at = slot;
        }
    }
    s
}

/// Users' recurring playlist tasks.
///
/// Guarantees every backend keeps: at most one worker holds a schedule at
/// a time; a finished run moves `next_run_at` past `now` (missed periods
/// are not run again); paused schedules are never claimed.
#[async_trait::async_trait]
pub trait ScheduleStore: Send + Sync + std::fmt::Debug + 'static {
    /// Adds a schedule; `AlreadyExists` when the user has the same task
    /// scheduled already; `InvalidInput` for a bad task or a period under a
    /// minute.
    async fn create_schedule(&self, new: &NewSchedule, now: DateTime<Utc>) -> Result<Schedule>;
    /// A schedule by id.
    async fn schedule(&self, id: ScheduleId) -> Result<Schedule>;
    /// A user's schedules, oldest first.
    async fn schedules_for(&self, user: UserId) -> Result<Vec<Schedule>>;
    /// Removes `user`'s schedule; `NotFound` when it is not theirs.
    async fn delete_schedule(&self, user: UserId, id: ScheduleId) -> Result<()>;
    /// Takes the oldest due schedule (active, `next_run_at <= now`, not
    /// leased or its lease run out) for `worker` until `now + lease_for`.
    async fn claim_schedule(
        &self,
        worker: &str,
        now: DateTime<Utc>,
        lease_for: Duration,
    ) -> Result<Option<Schedule>>;
    /// Records how `worker`'s run ended ([`after_run`]); a `Paused` outcome
    /// pauses every schedule of the user. `Conflict` when `worker` no
    /// longer holds it.
    async fn finish_schedule(
        &self,
        id: ScheduleId,
        worker: &str,
        outcome: &ScheduleOutcome,
        now: DateTime<Utc>,
    ) -> Result<Schedule>;
    /// Pauses (`Some(reason)`) or resumes (`None`) every schedule of
    /// `user`; returns how many changed.
    async fn pause_schedules(&self, user: UserId, reason: Option<&str>) -> Result<u64>;
}

/// The checks every backend makes before storing a new schedule.
pub fn check_new(new: &NewSchedule) -> Result<()> {
    new.task.validate()?;
    if new.period < Duration::from_secs(60) {
        return Err(Error::invalid(
            "a schedule's period must be at least a minute",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(h: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::hours(h)
    }

    #[test]
    fn missed_periods_collapse_into_one_run() {
        let week = Duration::from_secs(7 * 24 * 3600);
        // On time: the next week.
        assert_eq!(next_slot(t(0), week, t(0)), t(168));
        // Late by an hour: still the next week's slot, on the grid.
        assert_eq!(next_slot(t(0), week, t(1)), t(168));
        // Three weeks and a bit late: one run now, the next on the grid.
        assert_eq!(next_slot(t(0), week, t(3 * 168 + 5)), t(4 * 168));
        // Exactly on a later slot: the one after it.
        assert_eq!(next_slot(t(0), week, t(168)), t(336));
    }

    #[test]
    fn tasks_are_checked() {
        assert!(
            ScheduledTask::Cover {
                playlist: " ".into()
            }
            .validate()
            .is_err()
        );
        assert!(
            ScheduledTask::Archive {
                from: "a".into(),
                to: "x".repeat(201)
            }
            .validate()
            .is_err()
        );
        assert!(
            ScheduledTask::Cover {
                playlist: "37i9dQZF1DXcBWIGoYBM5M".into()
            }
            .validate()
            .is_ok()
        );
    }
}
