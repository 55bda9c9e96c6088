//! [`MoodStore`](spotifyart_core::store::MoodStore): mood snapshots, read
//! back as the latest per user and time range.

/// Implements `MoodStore` for `$Store`.
macro_rules! mood_store {
    ($Store:ty) => {
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
                    .order((
                        mood_snapshots::computed_at.desc(),
                        mood_snapshots::id.desc(),
                    ))
                    .select(MoodRow::as_select())
                    .first(&mut conn)
                    .await
                    .optional()
                    .map_err(|e| db(e, "mood"))?
                    .map(MoodRow::into_snapshot)
                    .transpose()
            }
        }
    };
}
pub(crate) use mood_store;
