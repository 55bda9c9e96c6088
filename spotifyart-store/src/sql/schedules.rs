//! [`ScheduleStore`](spotifyart_core::store::ScheduleStore): users'
//! recurring playlist tasks. Claiming is a guarded update (compare-and-set
//! on the lease), the same statement on both backends; what a finished run
//! changes is the core's `after_run`, so every backend agrees.

/// Due schedules at `$now`: active, due, and free or with an expired lease.
macro_rules! due {
    ($now:expr) => {
        schedules::paused
            .is_null()
            .and(schedules::next_run_at.le($now))
            .and(
                schedules::lease_expires_at
                    .is_null()
                    .or(schedules::lease_expires_at.le($now)),
            )
    };
}
pub(crate) use due;

/// Implements `ScheduleStore` for `$Store`.
macro_rules! schedule_store {
    ($Store:ty) => {
        #[async_trait]
        impl ScheduleStore for $Store {
            async fn create_schedule(
                &self,
                new: &NewSchedule,
                now: DateTime<Utc>,
            ) -> Result<Schedule> {
                check_new(new)?;
                let schedule = Schedule::new(new, now);
                let row = ScheduleRow::from_schedule(&schedule)?;
                let mut conn = self.conn().await?;
                diesel::insert_into(schedules::table)
                    .values(&row)
                    .execute(&mut conn)
                    .await
                    .map_err(|e| {
                        db(
                            e,
                            &format!("a {} schedule for this playlist", new.task.kind()),
                        )
                    })?;
                Ok(schedule)
            }

            async fn schedule(&self, id: spotifyart_core::ScheduleId) -> Result<Schedule> {
                let mut conn = self.read_conn().await?;
                schedules::table
                    .find(id.to_string())
                    .select(ScheduleRow::as_select())
                    .first(&mut conn)
                    .await
                    .map_err(|e| db(e, &format!("schedule {id}")))?
                    .into_schedule()
            }

            async fn schedules_for(&self, user: UserId) -> Result<Vec<Schedule>> {
                let mut conn = self.read_conn().await?;
                schedules::table
                    .filter(schedules::user_id.eq(user.to_string()))
                    .order((schedules::created_at.asc(), schedules::id.asc()))
                    .select(ScheduleRow::as_select())
                    .load(&mut conn)
                    .await
                    .map_err(|e| db(e, "schedules"))?
                    .into_iter()
                    .map(ScheduleRow::into_schedule)
                    .collect()
            }

            async fn delete_schedule(
                &self,
                user: UserId,
                id: spotifyart_core::ScheduleId,
            ) -> Result<()> {
                let mut conn = self.conn().await?;
                let n = diesel::delete(
                    schedules::table
                        .find(id.to_string())
                        .filter(schedules::user_id.eq(user.to_string())),
                )
                .execute(&mut conn)
                .await
                .map_err(|e| db(e, "schedule"))?;
                if n == 0 {
                    return Err(Error::not_found(format!("schedule {id}")));
                }
                Ok(())
            }

            async fn claim_schedule(
                &self,
                worker: &str,
                now: DateTime<Utc>,
                lease_for: std::time::Duration,
            ) -> Result<Option<Schedule>> {
                let now_us = micros(now);
                let until = micros(now + chrono::Duration::from_std(lease_for).unwrap_or_default());
                let mut conn = self.conn().await?;
                // Racing workers may read the same candidate; the guarded
                // update lets exactly one take it, the others look again.
                for _ in 0..8 {
                    let candidate: Option<String> = schedules::table
                        .filter(crate::sql::schedules::due!(now_us))
                        .order((schedules::next_run_at.asc(), schedules::id.asc()))
                        .select(schedules::id)
                        .first(&mut conn)
                        .await
                        .optional()
                        .map_err(|e| db(e, "schedule"))?;
                    let Some(id) = candidate else {
                        return Ok(None);
                    };
                    let taken: Option<ScheduleRow> = diesel::update(
                        schedules::table
                            .find(&id)
                            .filter(crate::sql::schedules::due!(now_us)),
                    )
                    .set((
                        schedules::lease_owner.eq(worker),
                        schedules::lease_expires_at.eq(until),
                    ))
                    .returning(ScheduleRow::as_returning())
                    .get_result(&mut conn)
                    .await
                    .optional()
                    .map_err(|e| db(e, "schedule"))?;
                    if let Some(row) = taken {
                        return row.into_schedule().map(Some);
                    }
                }
                Ok(None)
            }

            async fn finish_schedule(
                &self,
                id: spotifyart_core::ScheduleId,
                worker: &str,
                outcome: &ScheduleOutcome,
                now: DateTime<Utc>,
            ) -> Result<Schedule> {
                let worker = worker.to_string();
                let mut conn = self.conn().await?;
                conn.transaction::<_, TxError, _>(async move |conn| {
                    let current = schedules::table
                        .find(id.to_string())
                        .select(ScheduleRow::as_select())
                        .first(&mut *conn)
                        .await
                        .optional()?
                        .ok_or_else(|| Error::not_found(format!("schedule {id}")))?
                        .into_schedule()?;
                    let lost = || {
                        Error::conflict(format!("schedule {id} is no longer held by this worker"))
                    };
                    if current.lease_owner.as_deref() != Some(worker.as_str()) {
                        return Err(lost().into());
                    }
                    let done = after_run(&current, outcome, now);
                    let n = diesel::update(
                        schedules::table
                            .find(id.to_string())
                            .filter(schedules::lease_owner.eq(&worker)),
                    )
                    .set(&ScheduleRow::from_schedule(&done)?)
                    .execute(&mut *conn)
                    .await?;
                    if n == 0 {
                        return Err(lost().into());
                    }
                    if let ScheduleOutcome::Paused(reason) = outcome {
                        diesel::update(
                            schedules::table.filter(schedules::user_id.eq(done.user.to_string())),
                        )
                        .set(schedules::paused.eq(reason))
                        .execute(&mut *conn)
                        .await?;
                    }
                    Ok(done)
                })
                .await
                .map_err(|e| e.into_error("schedule"))
            }

            async fn pause_schedules(&self, user: UserId, reason: Option<&str>) -> Result<u64> {
                let mut conn = self.conn().await?;
                let mine = schedules::user_id.eq(user.to_string());
                let n = match reason {
                    Some(r) => {
                        diesel::update(
                            schedules::table
                                .filter(mine)
                                .filter(schedules::paused.is_null().or(schedules::paused.ne(r))),
                        )
                        .set(schedules::paused.eq(r))
                        .execute(&mut conn)
                        .await
                    }
                    None => {
                        diesel::update(
                            schedules::table
                                .filter(mine)
                                .filter(schedules::paused.is_not_null()),
                        )
                        .set(schedules::paused.eq(None::<String>))
                        .execute(&mut conn)
                        .await
                    }
                }
                .map_err(|e| db(e, "schedules"))?;
                Ok(n as u64)
            }
        }
    };
}
pub(crate) use schedule_store;
