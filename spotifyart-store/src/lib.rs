//! # spotifyart-store
//!
//! SpotifyArt's [`Store`] on diesel + diesel-async:
//!
//! - **SQLite**, embedded (the default, `sqlite://spotifyart.db`): compiled
//!   in, nothing to install; for a laptop, a notebook or a single server.
//! - **PostgreSQL** (`postgres://...`): for hosted deployments with several
//!   servers and workers; jobs are leased with `FOR UPDATE SKIP LOCKED` and
//!   workers are woken by `LISTEN`/`NOTIFY`.
//!
//! One schema (see `migrations/`), applied at start-up and by
//! `spotifyart migrate`. OAuth tokens are encrypted with AES-256-GCM
//! ([`crypto`]); session and invite tokens arrive already hashed. Both
//! backends pass core's conformance suite.
//!
//! ```no_run
//! # async fn demo() -> spotifyart_core::Result<()> {
//! let config = spotifyart_store::StoreConfig::from_env()?;
//! let store = spotifyart_store::open(&config).await?.into_store();
//! # Ok(()) }
//! ```

pub mod crypto;
mod error;
mod postgres;
mod rows;
mod schema;
mod sql;
mod sqlite;
#[cfg(feature = "testing")]
pub mod testing;

use std::path::PathBuf;
use std::sync::Arc;

use spotifyart_core::{Error, Result, Store};

pub use crypto::{EncryptionKey, Keyring};
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// The default database: a file in the working directory.
pub const DEFAULT_URL: &str = "sqlite://spotifyart.db";

/// Name of the key file embedded mode creates next to its database.
pub const KEY_FILE: &str = "spotifyart.key";

/// Where the data lives and how tokens are encrypted.
#[derive(Clone, Debug)]
pub struct StoreConfig {
    /// `sqlite://PATH`, `sqlite::memory:` or `postgres://...`.
    pub url: String,
    /// The key new token writes use. Required for PostgreSQL; with SQLite
    /// it defaults to a key generated once next to the database file.
    pub key: Option<EncryptionKey>,
    /// Earlier keys, to read rows written before a rotation.
    pub old_keys: Vec<EncryptionKey>,
    /// PostgreSQL pool size.
    pub max_connections: usize,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            url: DEFAULT_URL.to_string(),
            key: None,
            old_keys: Vec::new(),
            max_connections: 16,
        }
    }
}

pub use spotifyart_core::env_secret;

impl StoreConfig {
    /// From `SPOTIFYART_DATABASE_URL`, `SPOTIFYART_ENCRYPTION_KEY` and
    /// `SPOTIFYART_ENCRYPTION_OLD_KEYS` (comma-separated), each also as
    /// `NAME_FILE`.
    pub fn from_env() -> Result<Self> {
        let mut config = Self::default();
        if let Some(url) = env_secret("SPOTIFYART_DATABASE_URL")? {
            config.url = url;
        }
        if let Some(k) = env_secret("SPOTIFYART_ENCRYPTION_KEY")? {
            config.key = Some(
                EncryptionKey::from_base64(&k)
                    .map_err(|e| Error::invalid(format!("SPOTIFYART_ENCRYPTION_KEY: {e}")))?,
            );
        }
        if let Some(old) = env_secret("SPOTIFYART_ENCRYPTION_OLD_KEYS")? {
            for k in old.split(',').filter(|k| !k.trim().is_empty()) {
                config.old_keys.push(
                    EncryptionKey::from_base64(k).map_err(|e| {
                        Error::invalid(format!("SPOTIFYART_ENCRYPTION_OLD_KEYS: {e}"))
                    })?,
                );
            }
        }
        Ok(config)
    }
}

/// An open database of either kind.
#[derive(Debug)]
pub enum Database {
    /// Embedded SQLite.
    Sqlite(SqliteStore),
    /// PostgreSQL.
    Postgres(PostgresStore),
}

impl Database {
    /// As the core trait object.
    pub fn into_store(self) -> Arc<dyn Store> {
        match self {
            Database::Sqlite(s) => Arc::new(s),
            Database::Postgres(p) => Arc::new(p),
        }
    }

    /// Rewrites token rows written with an old key using the current key.
    pub async fn reencrypt_tokens(&self) -> Result<u64> {
        match self {
            Database::Sqlite(s) => s.reencrypt_tokens().await,
            Database::Postgres(p) => p.reencrypt_tokens().await,
        }
    }
}

/// What a database URL names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// A SQLite file.
    SqliteFile(PathBuf),
    /// A private in-memory SQLite database.
    SqliteMemory,
    /// A PostgreSQL connection URL.
    Postgres(String),
}

/// Parses a database URL.
pub fn parse_url(url: &str) -> Result<Location> {
    let url = url.trim();
    if let Some(rest) = url.strip_prefix("sqlite:") {
        return Ok(match sqlite::url_path(rest) {
            Some(path) => Location::SqliteFile(path),
            None => Location::SqliteMemory,
        });
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Location::Postgres(url.to_string()));
    }
    Err(Error::invalid(format!(
        "database URL {:?} is not supported: use sqlite://PATH, sqlite::memory: or postgres://USER@HOST/DB",
        redact(url)
    )))
}

/// A URL with any password replaced, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme + 3],
                    &creds[..colon],
                    &url[at..]
                ),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// Opens the database `config` names, applying pending migrations.
pub async fn open(config: &StoreConfig) -> Result<Database> {
    match parse_url(&config.url)? {
        Location::SqliteFile(path) => {
            let key = match &config.key {
                Some(k) => k.clone(),
                None => {
                    let dir = path
                        .parent()
                        .filter(|d| !d.as_os_str().is_empty())
                        .map(PathBuf::from)
                        .unwrap_or_else(|| PathBuf::from("."));
                    EncryptionKey::load_or_create(&dir.join(KEY_FILE))?
                }
            };
            let keys = Keyring::new(&key, &config.old_keys);
            Ok(Database::Sqlite(SqliteStore::open(&path, keys).await?))
        }
        Location::SqliteMemory => {
            let key = config.key.clone().unwrap_or_else(EncryptionKey::generate);
            let keys = Keyring::new(&key, &config.old_keys);
            Ok(Database::Sqlite(SqliteStore::open_in_memory(keys).await?))
        }
        Location::Postgres(url) => {
            let key = config.key.clone().ok_or_else(|| {
                Error::invalid(
                    "SPOTIFYART_ENCRYPTION_KEY (or SPOTIFYART_ENCRYPTION_KEY_FILE) is required \
                     with PostgreSQL, so every server and worker encrypts tokens with the same \
                     key; make one with `openssl rand -base64 32`",
                )
            })?;
            let keys = Keyring::new(&key, &config.old_keys);
            Ok(Database::Postgres(
                PostgresStore::open(&url, keys, config.max_connections).await?,
            ))
        }
    }
}

/// Applies pending migrations to the database `config` names.
pub async fn migrate(config: &StoreConfig) -> Result<()> {
    match parse_url(&config.url)? {
        Location::Postgres(url) => postgres::migrate(&url).await,
        // Opening a SQLite store migrates it.
        _ => open(config).await.map(|_| ()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            parse_url("sqlite://spotifyart.db").unwrap(),
            Location::SqliteFile("spotifyart.db".into())
        );
        assert_eq!(
            parse_url("sqlite:///var/lib/spotifyart/db.sqlite").unwrap(),
            Location::SqliteFile("/var/lib/spotifyart/db.sqlite".into())
        );
        assert_eq!(
            parse_url("sqlite::memory:").unwrap(),
            Location::SqliteMemory
        );
        assert!(matches!(
            parse_url("postgresql://u@h/db").unwrap(),
            Location::Postgres(_)
        ));
        let e = parse_url("mysql://root:hunter2@db/x")
            .unwrap_err()
            .to_string();
        assert!(e.contains("use sqlite://PATH"), "{e}");
        assert!(
            !e.contains("hunter2"),
            "passwords never reach messages: {e}"
        );
        assert_eq!(redact("postgres://u:pw@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
    }
}
