//! Throwaway PostgreSQL schemas for tests and benches (feature `testing`).

use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use spotifyart_core::{Error, Result};

/// Creates a new empty schema in the database at `base_url` and returns a
/// URL whose connections use it, so runs never collide. Schemas this
/// function made more than an hour ago are dropped.
pub async fn fresh_schema_url(base_url: &str) -> Result<String> {
    let mut admin = AsyncPgConnection::establish(base_url)
        .await
        .map_err(|e| Error::Storage {
            message: format!(
                "PostgreSQL at {} is unreachable: {e}",
                crate::redact(base_url)
            ),
            source: None,
        })?;
    let now = chrono::Utc::now().timestamp();
    let schema = format!(
        "sa_test_{now}_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    admin
        .batch_execute(&format!(
            "CREATE SCHEMA {schema};
             DO $$ DECLARE s text; BEGIN
               FOR s IN SELECT nspname FROM pg_namespace
                        WHERE nspname ~ '^sa_test_[0-9]+_' AND split_part(nspname, '_', 3)::bigint < {}
               LOOP EXECUTE format('DROP SCHEMA %I CASCADE', s); END LOOP;
             END $$;",
            now - 3600
        ))
        .await
        .map_err(|e| crate::error::db(e, "creating a test schema"))?;
    let sep = if base_url.contains('?') { '&' } else { '?' };
    Ok(format!(
        "{base_url}{sep}options=-c%20search_path%3D{schema}"
    ))
}
