//! [`SignInStore`](spotifyart_core::store::SignInStore): sign-ins in
//! progress, the PKCE verifier sealed and bound to its row
//! ([`sign_in_aad`](super::sign_in_aad)).

/// Implements `SignInStore` for `$Store`.
macro_rules! sign_in_store {
    ($Store:ty) => {
        #[async_trait]
        impl SignInStore for $Store {
            async fn create_sign_in(&self, p: &PendingSignIn, now: DateTime<Utc>) -> Result<()> {
                let hash = p.state_hash.0.clone();
                let sealed = self
                    .keys
                    .seal(p.verifier.expose_secret().as_bytes(), &sign_in_aad(&hash))?;
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
                let verifier = String::from_utf8(verifier)
                    .map_err(|_| Error::internal("a sign-in's decrypted verifier is not UTF-8"))?;
                Ok(PendingSignIn {
                    state_hash: state_hash.clone(),
                    verifier: SecretString::from(verifier),
                    next: row.next_path,
                    created_at: time(row.created_at),
                    expires_at: time(row.expires_at),
                })
            }
        }
    };
}
pub(crate) use sign_in_store;
