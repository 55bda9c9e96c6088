//! [`TokenStore`](spotifyart_core::store::TokenStore): OAuth tokens sealed
//! with the store's keyring, each ciphertext bound to its row and column
//! ([`token_aad`](super::token_aad)) so that one copied elsewhere does not
//! decrypt; the refresh lease; re-encryption after a key rotation.

/// Implements `TokenStore` for `$Store`, and its `reencrypt_tokens`.
macro_rules! token_store {
    ($Store:ty) => {
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
                        self.keys.seal(
                            r.expose_secret().as_bytes(),
                            &token_aad(&uid, provider, "refresh"),
                        )
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
                let until = micros(
                    now + chrono::Duration::from_std(lease_for).unwrap_or(chrono::Duration::MAX),
                );
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
    };
}
pub(crate) use token_store;
