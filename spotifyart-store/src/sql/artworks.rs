//! [`ArtworkStore`](spotifyart_core::store::ArtworkStore): PNGs and their
//! metadata, one per content key (the first writer wins), and who may see
//! each.

/// Implements `ArtworkStore` for `$Store`, whose connections are `$Conn`.
macro_rules! artwork_store {
    ($Store:ty, $Conn:ty) => {
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
    };
}
pub(crate) use artwork_store;
