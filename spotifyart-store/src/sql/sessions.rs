//! [`SessionStore`](spotifyart_core::store::SessionStore): sessions by token
//! hash. The read on every signed-in request goes through the backend's own
//! `session_row` (SQLite's runs on the caller's thread).

/// Implements `SessionStore` for `$Store`.
macro_rules! session_store {
    ($Store:ty) => {
        #[async_trait]
        impl SessionStore for $Store {
            async fn create_session(&self, s: &NewSession) -> Result<()> {
                let mut conn = self.conn().await?;
                diesel::insert_into(sessions::table)
                    .values(SessionRow {
                        token_hash: s.hash.0.clone(),
                        user_id: s.user.to_string(),
                        created_at: micros(s.created_at),
                        idle_expires_at: micros(s.idle_expires_at.min(s.absolute_expires_at)),
                        absolute_expires_at: micros(s.absolute_expires_at),
                        revoked: false,
                    })
                    .execute(&mut conn)
                    .await
                    .map_err(|e| db(e, "session"))?;
                Ok(())
            }

            async fn session(&self, hash: &TokenHash, now: DateTime<Utc>) -> Result<Session> {
                match self.session_row(&hash.0).await? {
                    Some(r) if r.is_live(micros(now)) => r.into_session(),
                    _ => Err(Error::unauthorized("session expired or revoked")),
                }
            }

            async fn touch_session(
                &self,
                hash: &TokenHash,
                now: DateTime<Utc>,
                idle_expires_at: DateTime<Utc>,
            ) -> Result<()> {
                let (now, idle) = (micros(now), micros(idle_expires_at));
                let mut conn = self.conn().await?;
                let n = diesel::update(
                    sessions::table
                        .find(&hash.0)
                        .filter(sessions::revoked.eq(false))
                        .filter(sessions::idle_expires_at.gt(now))
                        .filter(sessions::absolute_expires_at.gt(now)),
                )
                .set(sessions::idle_expires_at.eq(idle))
                .execute(&mut conn)
                .await
                .map_err(|e| db(e, "session"))?;
                if n == 0 {
                    return Err(Error::unauthorized("session expired or revoked"));
                }
                // Never past the absolute expiry.
                diesel::update(
                    sessions::table
                        .find(&hash.0)
                        .filter(sessions::idle_expires_at.gt(sessions::absolute_expires_at)),
                )
                .set(sessions::idle_expires_at.eq(sessions::absolute_expires_at))
                .execute(&mut conn)
                .await
                .map_err(|e| db(e, "session"))?;
                Ok(())
            }

            async fn rotate_session(
                &self,
                old: &TokenHash,
                new: &NewSession,
                now: DateTime<Utc>,
            ) -> Result<()> {
                let now = micros(now);
                let row = SessionRow {
                    token_hash: new.hash.0.clone(),
                    user_id: new.user.to_string(),
                    created_at: micros(new.created_at),
                    idle_expires_at: micros(new.idle_expires_at.min(new.absolute_expires_at)),
                    absolute_expires_at: micros(new.absolute_expires_at),
                    revoked: false,
                };
                let mut conn = self.conn().await?;
                conn.transaction::<_, TxError, _>(async move |conn| {
                    // Revoke the old session only if it is live and
                    // this user's: a replayed rotation changes nothing.
                    let n = diesel::update(
                        sessions::table
                            .find(&old.0)
                            .filter(sessions::user_id.eq(&row.user_id))
                            .filter(sessions::revoked.eq(false))
                            .filter(sessions::idle_expires_at.gt(now))
                            .filter(sessions::absolute_expires_at.gt(now)),
                    )
                    .set(sessions::revoked.eq(true))
                    .execute(&mut *conn)
                    .await?;
                    if n == 0 {
                        return Err(Error::unauthorized("session expired or revoked").into());
                    }
                    diesel::insert_into(sessions::table)
                        .values(&row)
                        .execute(&mut *conn)
                        .await?;
                    Ok(())
                })
                .await
                .map_err(|e| e.into_error("session"))
            }

            async fn revoke_session(&self, hash: &TokenHash) -> Result<()> {
                let mut conn = self.conn().await?;
                diesel::update(sessions::table.find(&hash.0))
                    .set(sessions::revoked.eq(true))
                    .execute(&mut conn)
                    .await
                    .map_err(|e| db(e, "session"))?;
                Ok(())
            }

            async fn revoke_sessions(&self, user: UserId, now: DateTime<Utc>) -> Result<u64> {
                let (uid, now) = (user.to_string(), micros(now));
                let mut conn = self.conn().await?;
                let live = diesel::update(
                    sessions::table
                        .filter(sessions::user_id.eq(&uid))
                        .filter(sessions::revoked.eq(false))
                        .filter(sessions::idle_expires_at.gt(now))
                        .filter(sessions::absolute_expires_at.gt(now)),
                )
                .set(sessions::revoked.eq(true))
                .execute(&mut conn)
                .await
                .map_err(|e| db(e, "sessions"))?;
                diesel::update(sessions::table.filter(sessions::user_id.eq(&uid)))
                    .set(sessions::revoked.eq(true))
                    .execute(&mut conn)
                    .await
                    .map_err(|e| db(e, "sessions"))?;
                Ok(live as u64)
            }
        }
    };
}
pub(crate) use session_store;
