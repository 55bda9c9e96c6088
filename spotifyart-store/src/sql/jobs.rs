//! [`JobQueue`](spotifyart_core::store::JobQueue): the durable job queue.
//! Picking the next job differs by backend (each one's `lease_job`); taking
//! and expiring it are the guarded updates here, which both share.

/// Implements `JobQueue` for `$Store`, whose connections are `$Conn`, with
/// the job helpers each backend's `lease_job` uses.
macro_rules! job_queue {
    ($Store:ty, $Conn:ty) => {
        impl $Store {
            pub(crate) async fn find_job(conn: &mut $Conn, id: &str) -> Result<JobRow> {
                jobs::table
                    .find(id)
                    .select(JobRow::as_select())
                    .first(conn)
                    .await
                    .map_err(|e| db(e, &format!("job {id}")))
            }

            /// Why a guarded job update touched no row.
            async fn lost_or_missing(conn: &mut $Conn, id: JobId) -> Error {
                match Self::find_job(conn, &id.to_string()).await {
                    Ok(_) => Error::conflict(format!(
                        "job {id} is no longer leased by this worker (lease expired or job finished)"
                    )),
                    Err(e) => e,
                }
            }

            /// Takes job `id` for `worker` if it is still runnable at `now`
            /// (compare-and-set: of racing workers, exactly one wins).
            pub(crate) async fn take_job(
                conn: &mut $Conn,
                id: &str,
                worker: &str,
                now: i64,
                until: i64,
            ) -> QueryResult<Option<JobRow>> {
                diesel::update(jobs::table.find(id).filter(crate::sql::runnable!(now)))
                    .set((
                        jobs::state.eq("running"),
                        jobs::attempts.eq(jobs::attempts + 1),
                        jobs::progress.eq(0.0),
                        jobs::lease_owner.eq(worker),
                        jobs::lease_expires_at.eq(until),
                        jobs::updated_at.eq(now),
                    ))
                    .returning(JobRow::as_returning())
                    .get_result(conn)
                    .await
                    .optional()
            }

            /// Fails a job whose worker vanished on its last try.
            pub(crate) async fn expire_job(
                conn: &mut $Conn,
                row: &JobRow,
                now: i64,
            ) -> QueryResult<usize> {
                let message = format!(
                    "worker {} stopped responding on the last of {} tries",
                    row.lease_owner.as_deref().unwrap_or("?"),
                    row.max_attempts
                );
                diesel::update(
                    jobs::table
                        .find(&row.id)
                        .filter(jobs::state.eq("running"))
                        .filter(jobs::lease_expires_at.le(now)),
                )
                .set((
                    jobs::state.eq("failed"),
                    jobs::last_error.eq(message),
                    jobs::lease_owner.eq(None::<String>),
                    jobs::lease_expires_at.eq(None::<i64>),
                    jobs::updated_at.eq(now),
                ))
                .execute(conn)
                .await
            }
        }

        #[async_trait]
        impl JobQueue for $Store {
            async fn job_by_key(&self, key: &ContentKey) -> Result<Option<Job>> {
                let mut conn = self.read_conn().await?;
                jobs::table
                    .filter(jobs::content_key.eq(&key.0))
                    .filter(jobs::state.ne("failed"))
                    .select(JobRow::as_select())
                    .first(&mut conn)
                    .await
                    .optional()
                    .map_err(|e| db(e, "job"))?
                    .map(JobRow::into_job)
                    .transpose()
            }

            async fn enqueue(&self, new: &NewJob, now: DateTime<Utc>) -> Result<Job> {
                if new.max_attempts == 0 {
                    return Err(Error::invalid("max_attempts must be at least 1"));
                }
                let now = micros(now);
                let row = JobRow {
                    id: JobId::new().to_string(),
                    content_key: new.content_key.0.clone(),
                    spec: to_json(&new.spec)?,
                    owner: new.owner.map(|o| o.to_string()),
                    state: "queued".into(),
                    attempts: 0,
                    max_attempts: new.max_attempts.min(i32::MAX as u32) as i32,
                    progress: 0.0,
                    last_error: None,
                    artwork_id: None,
                    lease_owner: None,
                    lease_expires_at: None,
                    run_after: now,
                    created_at: now,
                    updated_at: now,
                };
                let mut conn = self.conn().await?;
                // The partial unique index keeps one live or succeeded job
                // per key; a concurrent duplicate's insert does nothing and
                // the next pass finds the winner.
                for _ in 0..3 {
                    let existing: Option<JobRow> = jobs::table
                        .filter(jobs::content_key.eq(&row.content_key))
                        .filter(jobs::state.ne("failed"))
                        .select(JobRow::as_select())
                        .first(&mut conn)
                        .await
                        .optional()
                        .map_err(|e| db(e, "job"))?;
                    if let Some(job) = existing {
                        return job.into_job();
                    }
                    let n = diesel::insert_into(jobs::table)
                        .values(&row)
                        .on_conflict_do_nothing()
                        .execute(&mut conn)
                        .await
                        .map_err(|e| db(e, "job"))?;
                    if n == 1 {
                        self.jobs_added(&mut conn).await;
                        return Self::find_job(&mut conn, &row.id).await?.into_job();
                    }
                }
                Err(Error::conflict("could not enqueue the job: its content key keeps changing state"))
            }

            async fn lease(
                &self,
                worker: &str,
                now: DateTime<Utc>,
                lease_for: std::time::Duration,
            ) -> Result<Option<Job>> {
                let lease = chrono::Duration::from_std(lease_for).unwrap_or(chrono::Duration::MAX);
                let until = micros(now.checked_add_signed(lease).unwrap_or(DateTime::<Utc>::MAX_UTC));
                self.lease_job(worker, micros(now), until)
                    .await?
                    .map(JobRow::into_job)
                    .transpose()
            }

            async fn heartbeat(
                &self,
                id: JobId,
                worker: &str,
                progress: f32,
                now: DateTime<Utc>,
                lease_for: std::time::Duration,
            ) -> Result<()> {
                let lease = chrono::Duration::from_std(lease_for).unwrap_or(chrono::Duration::MAX);
                let until = micros(now.checked_add_signed(lease).unwrap_or(DateTime::<Utc>::MAX_UTC));
                let mut conn = self.conn().await?;
                let n = diesel::update(
                    jobs::table
                        .find(id.to_string())
                        .filter(jobs::state.eq("running"))
                        .filter(jobs::lease_owner.eq(worker)),
                )
                .set((
                    jobs::progress.eq(progress.clamp(0.0, 1.0) as f64),
                    jobs::lease_expires_at.eq(until),
                    jobs::updated_at.eq(micros(now)),
                ))
                .execute(&mut conn)
                .await
                .map_err(|e| db(e, "job"))?;
                if n == 0 {
                    return Err(Self::lost_or_missing(&mut conn, id).await);
                }
                Ok(())
            }

            async fn complete(
                &self,
                id: JobId,
                worker: &str,
                artwork: ArtworkId,
                now: DateTime<Utc>,
            ) -> Result<Job> {
                let mut conn = self.conn().await?;
                let row: Option<JobRow> = diesel::update(
                    jobs::table
                        .find(id.to_string())
                        .filter(jobs::state.eq("running"))
                        .filter(jobs::lease_owner.eq(worker)),
                )
                .set((
                    jobs::state.eq("succeeded"),
                    jobs::progress.eq(1.0),
                    jobs::artwork_id.eq(artwork.to_string()),
                    jobs::lease_owner.eq(None::<String>),
                    jobs::lease_expires_at.eq(None::<i64>),
                    jobs::updated_at.eq(micros(now)),
                ))
                .returning(JobRow::as_returning())
                .get_result(&mut conn)
                .await
                .optional()
                .map_err(|e| db(e, "job"))?;
                match row {
                    Some(r) => r.into_job(),
                    None => Err(Self::lost_or_missing(&mut conn, id).await),
                }
            }

            async fn fail(
                &self,
                id: JobId,
                worker: &str,
                error: &str,
                now: DateTime<Utc>,
                retry_at: DateTime<Utc>,
            ) -> Result<Job> {
                let mut conn = self.conn().await?;
                let held = || {
                    jobs::table
                        .find(id.to_string())
                        .filter(jobs::state.eq("running"))
                        .filter(jobs::lease_owner.eq(worker))
                };
                // Out of tries -> failed; else queued again after backoff.
                let out_of_tries = jobs::attempts.ge(jobs::max_attempts);
                let failed: Option<JobRow> = diesel::update(held().filter(out_of_tries))
                    .set((
                        jobs::state.eq("failed"),
                        jobs::last_error.eq(error),
                        jobs::lease_owner.eq(None::<String>),
                        jobs::lease_expires_at.eq(None::<i64>),
                        jobs::updated_at.eq(micros(now)),
                    ))
                    .returning(JobRow::as_returning())
                    .get_result(&mut conn)
                    .await
                    .optional()
                    .map_err(|e| db(e, "job"))?;
                if let Some(r) = failed {
                    return r.into_job();
                }
                let retried: Option<JobRow> =
                    diesel::update(held().filter(jobs::attempts.lt(jobs::max_attempts)))
                        .set((
                            jobs::state.eq("queued"),
                            jobs::run_after.eq(micros(retry_at)),
                            jobs::last_error.eq(error),
                            jobs::lease_owner.eq(None::<String>),
                            jobs::lease_expires_at.eq(None::<i64>),
                            jobs::updated_at.eq(micros(now)),
                        ))
                        .returning(JobRow::as_returning())
                        .get_result(&mut conn)
                        .await
                        .optional()
                        .map_err(|e| db(e, "job"))?;
                match retried {
                    Some(r) => {
                        self.jobs_added(&mut conn).await;
                        r.into_job()
                    }
                    None => Err(Self::lost_or_missing(&mut conn, id).await),
                }
            }

            async fn job(&self, id: JobId) -> Result<Job> {
                let mut conn = self.conn().await?;
                Self::find_job(&mut conn, &id.to_string()).await?.into_job()
            }

            async fn wait_for_jobs(&self, max_wait: std::time::Duration) {
                self.wait_jobs(max_wait).await
            }
        }
    };
}
pub(crate) use job_queue;
