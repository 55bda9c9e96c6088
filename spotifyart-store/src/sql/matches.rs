//! [`MatchStore`](spotifyart_core::store::MatchStore): invites and matches.

/// Implements `MatchStore` for `$Store`.
macro_rules! match_store {
    ($Store:ty) => {
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
    };
}
pub(crate) use match_store;
