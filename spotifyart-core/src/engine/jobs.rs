//! The job runner: workers lease queued art jobs from the store, paint
//! them through the engine (once per content key), and keep their lease
//! alive with heartbeats while they paint.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::{Engine, PreparedArt};
use crate::art::{CancelToken, GenerationContext, ImageGeneratorExt, Progress};
use crate::store::Job;
use crate::{Error, Result};

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

impl Engine {
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

    /// Runs due schedules and jobs until `shutdown` is cancelled, waiting
    /// for new work (up to `idle_poll`) when there is none. Store errors are logged and
    /// retried after the poll interval, so a database blip does not kill the
    /// worker.
    pub async fn work(&self, worker: &str, idle_poll: Duration, shutdown: &CancelToken) {
        while !shutdown.is_cancelled() {
            // Users' schedules first: there are few, each due once a week.
            match self.run_due_schedule(worker).await {
                Ok(Some(_)) => continue,
                Ok(None) => {}
                Err(e) => tracing::error!(worker, error = %e, "worker could not run a schedule"),
            }
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

/// Starts `n` painting workers on `engine`, each leasing jobs from the
/// store until `shutdown` is cancelled (a job being painted is finished).
/// Workers are named after the host and process, for the job table and
/// the logs.
pub fn spawn_workers(
    engine: Arc<Engine>,
    n: usize,
    shutdown: CancelToken,
) -> Vec<tokio::task::JoinHandle<()>> {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "local".into());
    (0..n)
        .map(|i| {
            let (engine, shutdown) = (engine.clone(), shutdown.clone());
            let name = format!("{host}-{}-{i}", std::process::id());
            tokio::spawn(async move {
                tracing::info!(worker = %name, "worker started");
                engine.work(&name, Duration::from_secs(2), &shutdown).await;
                tracing::info!(worker = %name, "worker stopped");
            })
        })
        .collect()
}
