//! The store operations, written once and instantiated for each backend's
//! connection type by [`sql_store!`]: diesel-async queries are typed by
//! backend, and generic bounds over both would be unreadable. What differs
//! between backends (leasing, wake-ups) is in `sqlite.rs` and `postgres.rs`,
//! as the `lease_job`, `wait_jobs` and `jobs_added` methods this macro calls.

/// Jobs a worker may take at `now`: queued and due, or running with an
/// expired lease (its worker went silent).
macro_rules! runnable {
    ($now:expr) => {
        crate::schema::jobs::state
            .eq("queued")
            .and(crate::schema::jobs::run_after.le($now))
            .or(crate::schema::jobs::state
                .eq("running")
                .and(crate::schema::jobs::lease_expires_at.le($now)))
    };
}
pub(crate) use runnable;

/// AAD binding a sign-in's verifier ciphertext to its row.
pub fn sign_in_aad(state_hash: &str) -> Vec<u8> {
    format!("spotifyart:sign_ins:v1:{state_hash}:verifier").into_bytes()
}

/// AAD binding a token ciphertext to its row and column.
pub fn token_aad(user: &str, provider: &str, field: &str) -> Vec<u8> {
    format!("spotifyart:oauth_tokens:v1:{user}:{provider}:{field}").into_bytes()
}

macro_rules! sql_store {
    ($Store:ty, $Conn:ty, $backend:literal) => {
        #[async_trait::async_trait]
        impl spotifyart_core::store::StoreHealth for $Store {
            fn backend(&self) -> &str {
                $backend
            }
            async fn ping(&self) -> spotifyart_core::Result<()> {
                use diesel_async::SimpleAsyncConnection as _;
                let mut conn = self.conn().await?;
                conn.batch_execute("SELECT 1")
                    .await
                    .map_err(|e| crate::error::db(e, "ping"))
            }
        }

        use async_trait::async_trait;
        use chrono::{DateTime, Utc};
        use diesel::prelude::*;
        use diesel_async::{AsyncConnection, RunQueryDsl};
                use secrecy::{ExposeSecret, SecretString};
        use spotifyart_core::art::{Artwork, ArtworkMeta, ContentKey};
        use spotifyart_core::store::*;
        use spotifyart_core::{ArtworkId, Error, JobId, MatchId, Result, TimeRange, UserId};

        use crate::common::{sign_in_aad, token_aad};
        use crate::crypto::Sealed;
        use crate::error::{TxError, db};
        use crate::rows::*;
        use crate::schema::*;

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
                diesel::update(jobs::table.find(id).filter(crate::common::runnable!(now)))
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
        impl UserStore for $Store {
            async fn upsert_account(&self, a: &NewAccount, now: DateTime<Utc>) -> Result<User> {
                let scopes = to_json(&a.scopes)?;
                let scopes = &scopes;
                let mut conn = self.conn().await?;
                // Two first sign-ins of one account can race; the loser's
                // insert hits the primary key and its retry finds the winner.
                for attempt in 0..2 {
                    let result = conn
                        .transaction::<_, TxError, _>(async move |conn| {
                                let existing: Option<String> = accounts::table
                                    .find((&a.provider, &a.account_id))
                                    .select(accounts::user_id)
                                    .first(&mut *conn)
                                    .await
                                    .optional()?;
                                let user_id = match existing {
                                    Some(id) => {
                                        diesel::update(
                                            accounts::table.find((&a.provider, &a.account_id)),
                                        )
                                        .set((
                                            accounts::scopes.eq(scopes),
                                            accounts::updated_at.eq(micros(now)),
                                        ))
                                        .execute(&mut *conn)
                                        .await?;
                                        diesel::update(users::table.find(&id))
                                            .set(users::display_name.eq(&a.display_name))
                                            .execute(&mut *conn)
                                            .await?;
                                        id
                                    }
                                    None => {
                                        let id = UserId::new().to_string();
                                        diesel::insert_into(users::table)
                                            .values(UserRow {
                                                id: id.clone(),
                                                display_name: a.display_name.clone(),
                                                created_at: micros(now),
                                            })
                                            .execute(&mut *conn)
                                            .await?;
                                        diesel::insert_into(accounts::table)
                                            .values(AccountRow {
                                                provider: a.provider.clone(),
                                                account_id: a.account_id.clone(),
                                                user_id: id.clone(),
                                                scopes: scopes.clone(),
                                                updated_at: micros(now),
                                            })
                                            .execute(&mut *conn)
                                            .await?;
                                        id
                                    }
                                };
                                let row: UserRow = users::table
                                    .find(&user_id)
                                    .select(UserRow::as_select())
                                    .first(&mut *conn)
                                    .await?;
                                Ok(row)
                            })
                        .await
                        .map_err(|e| e.into_error("account"));
                    match result {
                        Err(Error::AlreadyExists { .. }) if attempt == 0 => continue,
                        other => return other?.into_user(),
                    }
                }
                unreachable!("the loop returns on its second pass")
            }

            async fn user(&self, id: UserId) -> Result<User> {
                let mut conn = self.read_conn().await?;
                users::table
                    .find(id.to_string())
                    .select(UserRow::as_select())
                    .first(&mut conn)
                    .await
                    .map_err(|e| db(e, &format!("user {id}")))?
                    .into_user()
            }

            async fn accounts(&self, user: UserId) -> Result<Vec<Account>> {
                let mut conn = self.conn().await?;
                accounts::table
                    .filter(accounts::user_id.eq(user.to_string()))
                    .order(accounts::provider.asc())
                    .select(AccountRow::as_select())
                    .load(&mut conn)
                    .await
                    .map_err(|e| db(e, "accounts"))?
                    .into_iter()
                    .map(AccountRow::into_account)
                    .collect()
            }
        }

        #[async_trait]
        impl TokenStore for $Store {
            async fn put_tokens(
                &self,
                user: UserId,
                provider: &str,
                tokens: &OAuthTokens,
            ) -> Result<()> {
                let uid = user.to_string();
                let access = self.keys.seal(
                    tokens.access_token.expose_secret().as_bytes(),
                    &token_aad(&uid, provider, "access"),
                )?;
                let refresh = tokens
                    .refresh_token
                    .as_ref()
                    .map(|r| {
                        self.keys
                            .seal(r.expose_secret().as_bytes(), &token_aad(&uid, provider, "refresh"))
                    })
                    .transpose()?;
                let (refresh_nonce, refresh_ciphertext) = match refresh {
                    Some(s) => (Some(s.nonce), Some(s.ciphertext)),
                    None => (None, None),
                };
                let row = TokenRow {
                    user_id: uid.clone(),
                    provider: provider.to_string(),
                    key_id: self.keys.current_id().to_string(),
                    access_nonce: access.nonce,
                    access_ciphertext: access.ciphertext,
                    refresh_nonce,
                    refresh_ciphertext,
                    expires_at: micros(tokens.expires_at),
                    scopes: to_json(&tokens.scopes)?,
                    updated_at: micros(Utc::now()),
                };
                let mut conn = self.conn().await?;
                diesel::insert_into(oauth_tokens::table)
                    .values(&row)
                    .on_conflict((oauth_tokens::user_id, oauth_tokens::provider))
                    .do_update()
                    .set(&row)
                    .execute(&mut conn)
                    .await
                    .map_err(|e| db(e, &format!("user {user}")))?;
                Ok(())
            }

            async fn tokens(&self, user: UserId, provider: &str) -> Result<OAuthTokens> {
                let uid = user.to_string();
                let mut conn = self.conn().await?;
                let row: TokenRow = oauth_tokens::table
                    .find((&uid, provider))
                    .select(TokenRow::as_select())
                    .first(&mut conn)
                    .await
                    .map_err(|e| db(e, &format!("{provider} tokens")))?;
                drop(conn);
                self.decrypt_tokens(row)
            }

            async fn lease_token_refresh(
                &self,
                user: UserId,
                provider: &str,
                holder: &str,
                now: DateTime<Utc>,
                lease_for: std::time::Duration,
            ) -> Result<bool> {
                let uid = user.to_string();
                let until = micros(now + chrono::Duration::from_std(lease_for).unwrap_or(chrono::Duration::MAX));
                let mut conn = self.conn().await?;
                // Compare-and-set in one statement: exact across processes.
                let taken = diesel::update(
                    oauth_tokens::table.find((&uid, provider)).filter(
                        oauth_tokens::refresh_lease_until
                            .is_null()
                            .or(oauth_tokens::refresh_lease_until.le(micros(now)))
                            .or(oauth_tokens::refresh_lease_owner.eq(holder)),
                    ),
                )
                .set((
                    oauth_tokens::refresh_lease_owner.eq(holder),
                    oauth_tokens::refresh_lease_until.eq(until),
                ))
                .execute(&mut conn)
                .await
                .map_err(|e| db(e, "token refresh lease"))?;
                if taken == 1 {
                    return Ok(true);
                }
                let exists: i64 = oauth_tokens::table
                    .find((&uid, provider))
                    .count()
                    .get_result(&mut conn)
                    .await
                    .map_err(|e| db(e, "tokens"))?;
                if exists == 0 {
                    return Err(Error::not_found(format!("{provider} tokens")));
                }
                Ok(false)
            }

            async fn release_token_refresh(
                &self,
                user: UserId,
                provider: &str,
                holder: &str,
            ) -> Result<()> {
                let mut conn = self.conn().await?;
                diesel::update(
                    oauth_tokens::table
                        .find((user.to_string(), provider))
                        .filter(oauth_tokens::refresh_lease_owner.eq(holder)),
                )
                .set((
                    oauth_tokens::refresh_lease_owner.eq(None::<String>),
                    oauth_tokens::refresh_lease_until.eq(None::<i64>),
                ))
                .execute(&mut conn)
                .await
                .map_err(|e| db(e, "token refresh lease"))?;
                Ok(())
            }

            async fn delete_tokens(&self, user: UserId, provider: &str) -> Result<()> {
                let mut conn = self.conn().await?;
                diesel::delete(oauth_tokens::table.find((user.to_string(), provider)))
                    .execute(&mut conn)
                    .await
                    .map_err(|e| db(e, "tokens"))?;
                Ok(())
            }
            async fn token_users(&self, provider: &str) -> Result<Vec<UserId>> {
                let mut conn = self.conn().await?;
                let ids: Vec<String> = oauth_tokens::table
                    .filter(oauth_tokens::provider.eq(provider))
                    .select(oauth_tokens::user_id)
                    .order(oauth_tokens::user_id.asc())
                    .load(&mut conn)
                    .await
                    .map_err(|e| db(e, "tokens"))?;
                ids.iter().map(|id| parse(id, "user id")).collect()
            }
        }

        impl $Store {
            fn decrypt_tokens(&self, row: TokenRow) -> Result<OAuthTokens> {
                let what = format!("the {} tokens of user {}", row.provider, row.user_id);
                let text = |bytes: Vec<u8>| {
                    String::from_utf8(bytes).map_err(|_| {
                        Error::internal(format!("{what}: decrypted token is not UTF-8"))
                    })
                };
                let access = self.keys.open(
                    &row.key_id,
                    &Sealed {
                        nonce: row.access_nonce,
                        ciphertext: row.access_ciphertext,
                    },
                    &token_aad(&row.user_id, &row.provider, "access"),
                    &what,
                )?;
                let refresh = match (row.refresh_nonce, row.refresh_ciphertext) {
                    (Some(nonce), Some(ciphertext)) => Some(self.keys.open(
                        &row.key_id,
                        &Sealed { nonce, ciphertext },
                        &token_aad(&row.user_id, &row.provider, "refresh"),
                        &what,
                    )?),
                    _ => None,
                };
                Ok(OAuthTokens {
                    access_token: SecretString::from(text(access)?),
                    refresh_token: refresh.map(text).transpose()?.map(SecretString::from),
                    expires_at: time(row.expires_at),
                    scopes: from_json(&row.scopes, "token scopes")?,
                })
            }

            /// Rewrites every token row encrypted with an old key using the
            /// current key (after a rotation). Returns how many rows changed.
            pub async fn reencrypt_tokens(&self) -> Result<u64> {
                let mut conn = self.conn().await?;
                let stale: Vec<TokenRow> = oauth_tokens::table
                    .filter(oauth_tokens::key_id.ne(self.keys.current_id()))
                    .select(TokenRow::as_select())
                    .load(&mut conn)
                    .await
                    .map_err(|e| db(e, "tokens"))?;
                drop(conn);
                let mut n = 0;
                for row in stale {
                    let user: UserId = parse(&row.user_id, "user id")?;
                    let provider = row.provider.clone();
                    let tokens = self.decrypt_tokens(row)?;
                    self.put_tokens(user, &provider, &tokens).await?;
                    n += 1;
                }
                Ok(n)
            }
        }

        #[async_trait]
        impl SignInStore for $Store {
            async fn create_sign_in(&self, p: &PendingSignIn, now: DateTime<Utc>) -> Result<()> {
                let hash = p.state_hash.0.clone();
                let sealed = self.keys.seal(
                    p.verifier.expose_secret().as_bytes(),
                    &sign_in_aad(&hash),
                )?;
                let row = SignInRow {
                    state_hash: hash,
                    key_id: self.keys.current_id().to_string(),
                    verifier_nonce: sealed.nonce,
                    verifier_ciphertext: sealed.ciphertext,
                    next_path: p.next.clone(),
                    created_at: micros(p.created_at),
                    expires_at: micros(p.expires_at),
                };
                let mut conn = self.conn().await?;
                // Abandoned sign-ins go as new ones come: the table holds
                // at most the last few minutes' worth.
                diesel::delete(sign_ins::table.filter(sign_ins::expires_at.le(micros(now))))
                    .execute(&mut conn)
                    .await
                    .map_err(|e| db(e, "sign-ins"))?;
                diesel::insert_into(sign_ins::table)
                    .values(&row)
                    .execute(&mut conn)
                    .await
                    .map_err(|e| db(e, "sign-in"))?;
                Ok(())
            }

            async fn take_sign_in(
                &self,
                state_hash: &TokenHash,
                now: DateTime<Utc>,
            ) -> Result<PendingSignIn> {
                let mut conn = self.conn().await?;
                // DELETE .. RETURNING: of two callbacks with one state, one
                // gets the row and the other nothing, on any server.
                let row: SignInRow = diesel::delete(
                    sign_ins::table
                        .find(&state_hash.0)
                        .filter(sign_ins::expires_at.gt(micros(now))),
                )
                .returning(SignInRow::as_returning())
                .get_result(&mut conn)
                .await
                .map_err(|e| db(e, "sign-in in progress"))?;
                drop(conn);
                let verifier = self.keys.open(
                    &row.key_id,
                    &Sealed {
                        nonce: row.verifier_nonce,
                        ciphertext: row.verifier_ciphertext,
                    },
                    &sign_in_aad(&row.state_hash),
                    "a sign-in in progress",
                )?;
                let verifier = String::from_utf8(verifier).map_err(|_| {
                    Error::internal("a sign-in's decrypted verifier is not UTF-8")
                })?;
                Ok(PendingSignIn {
                    state_hash: state_hash.clone(),
                    verifier: SecretString::from(verifier),
                    next: row.next_path,
                    created_at: time(row.created_at),
                    expires_at: time(row.expires_at),
                })
            }
        }

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

        #[async_trait]
        impl MoodStore for $Store {
            async fn put_mood(&self, s: &MoodSnapshot) -> Result<()> {
                let row = NewMoodRow {
                    user_id: s.user.to_string(),
                    time_range: range_key(s.time_range).to_string(),
                    mood: to_json(&s.mood)?,
                    computed_at: micros(s.computed_at),
                };
                let mut conn = self.conn().await?;
                diesel::insert_into(mood_snapshots::table)
                    .values(row)
                    .execute(&mut conn)
                    .await
                    .map_err(|e| db(e, &format!("user {}", s.user)))?;
                Ok(())
            }

            async fn latest_mood(
                &self,
                user: UserId,
                time_range: Option<TimeRange>,
            ) -> Result<Option<MoodSnapshot>> {
                let mut conn = self.read_conn().await?;
                mood_snapshots::table
                    .filter(mood_snapshots::user_id.eq(user.to_string()))
                    .filter(mood_snapshots::time_range.eq(range_key(time_range)))
                    .order((mood_snapshots::computed_at.desc(), mood_snapshots::id.desc()))
                    .select(MoodRow::as_select())
                    .first(&mut conn)
                    .await
                    .optional()
                    .map_err(|e| db(e, "mood"))?
                    .map(MoodRow::into_snapshot)
                    .transpose()
            }
        }

        #[async_trait]
        impl MatchStore for $Store {
            async fn create_invite(&self, invite: &Invite) -> Result<()> {
                let mut conn = self.conn().await?;
                diesel::insert_into(invites::table)
                    .values(InviteRow::from_invite(invite))
                    .execute(&mut conn)
                    .await
                    .map_err(|e| db(e, "invite"))?;
                Ok(())
            }

            async fn invite(&self, hash: &TokenHash) -> Result<Invite> {
                let mut conn = self.conn().await?;
                invites::table
                    .find(&hash.0)
                    .select(InviteRow::as_select())
                    .first(&mut conn)
                    .await
                    .map_err(|e| db(e, "invite"))?
                    .into_invite()
            }

            async fn accept_invite(
                &self,
                hash: &TokenHash,
                record: &MatchRecord,
                now: DateTime<Utc>,
            ) -> Result<()> {
                let row = MatchRow::from_record(record)?;
                let mut conn = self.conn().await?;
                conn.transaction::<_, TxError, _>(async move |conn| {
                        let invite = invites::table
                            .find(&hash.0)
                            .select(InviteRow::as_select())
                            .first(&mut *conn)
                            .await
                            .optional()?
                            .ok_or_else(|| Error::not_found("invite"))?
                            .into_invite()?;
                        check_accept(&invite, record, now)?;
                        diesel::insert_into(matches::table)
                            .values(&row)
                            .execute(&mut *conn)
                            .await?;
                        // Single use even under a race: only a still-unused
                        // invite is marked; otherwise everything rolls back.
                        let n = diesel::update(
                            invites::table
                                .find(&hash.0)
                                .filter(invites::accepted_by.is_null()),
                        )
                        .set((
                            invites::accepted_by.eq(&row.user_b),
                            invites::match_id.eq(&row.id),
                        ))
                        .execute(&mut *conn)
                        .await?;
                        if n == 0 {
                            return Err(Error::conflict("this invite has already been used").into());
                        }
                        Ok(())
                    })
                .await
                .map_err(|e| e.into_error(&format!("match {}", record.id)))
            }

            async fn put_match(&self, record: &MatchRecord) -> Result<()> {
                let row = MatchRow::from_record(record)?;
                let mut conn = self.conn().await?;
                diesel::insert_into(matches::table)
                    .values(row)
                    .execute(&mut conn)
                    .await
                    .map_err(|e| db(e, &format!("match {}", record.id)))?;
                Ok(())
            }

            async fn get_match(&self, id: MatchId) -> Result<MatchRecord> {
                let mut conn = self.conn().await?;
                matches::table
                    .find(id.to_string())
                    .select(MatchRow::as_select())
                    .first(&mut conn)
                    .await
                    .map_err(|e| db(e, &format!("match {id}")))?
                    .into_record()
            }

            async fn matches_for(&self, user: UserId) -> Result<Vec<MatchRecord>> {
                let uid = user.to_string();
                let mut conn = self.conn().await?;
                matches::table
                    .filter(matches::user_a.eq(&uid).or(matches::user_b.eq(&uid)))
                    .order((matches::created_at.desc(), matches::id.desc()))
                    .select(MatchRow::as_select())
                    .load(&mut conn)
                    .await
                    .map_err(|e| db(e, "matches"))?
                    .into_iter()
                    .map(MatchRow::into_record)
                    .collect()
            }
        }

        impl $Store {
            async fn meta_by_key(conn: &mut $Conn, key: &str) -> Result<Option<ArtworkMeta>> {
                artworks::table
                    .filter(artworks::content_key.eq(key))
                    .select(ArtworkMetaRow::as_select())
                    .first(conn)
                    .await
                    .optional()
                    .map_err(|e| db(e, "artwork"))?
                    .map(ArtworkMetaRow::into_meta)
                    .transpose()
            }
        }

        #[async_trait]
        impl ArtworkStore for $Store {
            async fn put_artwork(&self, art: &Artwork) -> Result<ArtworkMeta> {
                let m = &art.meta;
                let id = m.id.to_string();
                let row = ArtworkRow {
                    id: id.clone(),
                    content_key: &m.content_key.0,
                    subject: to_json(&m.subject)?,
                    request: to_json(&m.request)?,
                    width: m.width as i32,
                    height: m.height as i32,
                    sha256: &m.sha256,
                    bytes: m.bytes as i64,
                    generation_ms: m.generation_ms as i64,
                    created_at: micros(m.created_at),
                    png: &art.png,
                };
                let mut users = m.subject.users();
                users.sort();
                users.dedup();
                let subjects: Vec<ArtworkSubjectRow> = users
                    .iter()
                    .map(|u| ArtworkSubjectRow {
                        artwork_id: id.clone(),
                        user_id: u.to_string(),
                        created_at: micros(m.created_at),
                    })
                    .collect();
                let mut conn = self.conn().await?;
                if let Some(existing) = Self::meta_by_key(&mut conn, &m.content_key.0).await? {
                    return Ok(existing);
                }
                let inserted = conn
                    .transaction::<_, TxError, _>(async move |conn| {
                            diesel::insert_into(artworks::table)
                                .values(&row)
                                .execute(&mut *conn)
                                .await?;
                            // One row at a time: SQLite has no DEFAULT
                            // keyword for multi-row inserts.
                            for subject in &subjects {
                                diesel::insert_into(artwork_subjects::table)
                                    .values(subject)
                                    .execute(&mut *conn)
                                    .await?;
                            }
                            Ok(())
                        })
                    .await
                    .map_err(|e| e.into_error(&format!("artwork {id}")));
                match inserted {
                    Ok(()) => Ok(m.clone()),
                    // Another writer stored this content first: theirs wins.
                    Err(Error::AlreadyExists { .. }) => {
                        Self::meta_by_key(&mut conn, &m.content_key.0)
                            .await?
                            .ok_or_else(|| Error::AlreadyExists {
                                what: format!("artwork {id}"),
                            })
                    }
                    Err(e) => Err(e),
                }
            }

            async fn artwork(&self, id: ArtworkId) -> Result<Artwork> {
                let mut conn = self.read_conn().await?;
                let (meta, png): (ArtworkMetaRow, Vec<u8>) = artworks::table
                    .find(id.to_string())
                    .select((ArtworkMetaRow::as_select(), artworks::png))
                    .first(&mut conn)
                    .await
                    .map_err(|e| db(e, &format!("artwork {id}")))?;
                Ok(Artwork {
                    meta: meta.into_meta()?,
                    png,
                })
            }

            async fn artwork_meta(&self, id: ArtworkId) -> Result<ArtworkMeta> {
                let mut conn = self.read_conn().await?;
                artworks::table
                    .find(id.to_string())
                    .select(ArtworkMetaRow::as_select())
                    .first(&mut conn)
                    .await
                    .map_err(|e| db(e, &format!("artwork {id}")))?
                    .into_meta()
            }

            async fn artwork_by_key(&self, key: &ContentKey) -> Result<Option<ArtworkMeta>> {
                let mut conn = self.conn().await?;
                Self::meta_by_key(&mut conn, &key.0).await
            }

            async fn artworks_for(
                &self,
                user: UserId,
                before: Option<DateTime<Utc>>,
                limit: usize,
            ) -> Result<Vec<ArtworkMeta>> {
                let mut query = artwork_subjects::table
                    .inner_join(artworks::table)
                    .filter(artwork_subjects::user_id.eq(user.to_string()))
                    .into_boxed();
                if let Some(before) = before {
                    query = query.filter(artwork_subjects::created_at.lt(micros(before)));
                }
                let mut conn = self.conn().await?;
                query
                    .order((artwork_subjects::created_at.desc(), artworks::id.desc()))
                    .limit(limit.min(i64::MAX as usize) as i64)
                    .select(ArtworkMetaRow::as_select())
                    .load(&mut conn)
                    .await
                    .map_err(|e| db(e, "gallery"))?
                    .into_iter()
                    .map(ArtworkMetaRow::into_meta)
                    .collect()
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

pub(crate) use sql_store;
