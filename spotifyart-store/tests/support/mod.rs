//! Test databases: a temporary SQLite file, or a fresh PostgreSQL schema.
//!
//! PostgreSQL tests read `SPOTIFYART_TEST_POSTGRES_URL`. Without it they are
//! skipped with a notice, unless `SPOTIFYART_REQUIRE_POSTGRES` is set (CI
//! sets both), in which case a missing URL or an unreachable server fails.
#![allow(dead_code)]

use std::sync::Arc;

use spotifyart_core::Store;
use spotifyart_store::{EncryptionKey, Keyring, PostgresStore, SqliteStore};

pub fn keys() -> Keyring {
    Keyring::new(&EncryptionKey::generate(), &[])
}

/// A store on a new SQLite file; the directory lives as long as the store.
pub async fn sqlite() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("test.db"), keys())
        .await
        .unwrap();
    (Arc::new(store), dir)
}

pub fn postgres_url() -> Option<String> {
    match std::env::var("SPOTIFYART_TEST_POSTGRES_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ if std::env::var_os("SPOTIFYART_REQUIRE_POSTGRES").is_some() => {
            panic!("SPOTIFYART_REQUIRE_POSTGRES is set but SPOTIFYART_TEST_POSTGRES_URL is not")
        }
        _ => {
            eprintln!(
                "notice: SPOTIFYART_TEST_POSTGRES_URL is not set; skipping PostgreSQL tests \
                 (e.g. SPOTIFYART_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1/test)"
            );
            None
        }
    }
}

/// A connection URL for a new, empty schema, so test runs never collide.
pub async fn postgres_schema_url() -> Option<String> {
    let base = postgres_url()?;
    Some(
        spotifyart_store::testing::fresh_schema_url(&base)
            .await
            .unwrap_or_else(|e| panic!("SPOTIFYART_TEST_POSTGRES_URL: {e}")),
    )
}

pub async fn postgres_with(keys: Keyring) -> Option<(PostgresStore, String)> {
    let url = postgres_schema_url().await?;
    let store = PostgresStore::open(&url, keys, 8).await.unwrap();
    Some((store, url))
}

pub async fn postgres() -> Option<Arc<dyn Store>> {
    postgres_with(keys())
        .await
        .map(|(s, _)| Arc::new(s) as Arc<dyn Store>)
}
