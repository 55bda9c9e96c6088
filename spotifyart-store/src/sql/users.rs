//! [`UserStore`](spotifyart_core::store::UserStore): users and the provider
//! accounts they sign in with.

/// Implements `UserStore` for `$Store`.
macro_rules! user_store {
    ($Store:ty) => {
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
    };
}
pub(crate) use user_store;
