//! SQLite, embedded: diesel's `SqliteConnection` behind diesel-async's
//! `SyncConnectionWrapper`, SQLite compiled in (bundled), WAL journal.
//!
//! One process writes through a single pooled connection, so writes never
//! contend inside a process; other processes (a CLI next to a server) wait
//! on SQLite's busy timeout. Jobs are leased by compare-and-set (an UPDATE
//! guarded by "still runnable"), which is exact even across processes.

use std::path::{Path, PathBuf};
use std::time::Duration;

use deadpool::managed::Object;
use diesel::SqliteConnection;
use diesel_async::AsyncConnection as _;
use diesel_async::SimpleAsyncConnection;
use diesel_async::pooled_connection::RecyclingMethod;
use diesel_async::pooled_connection::deadpool::Pool;
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig};
use diesel_async::sync_connection_wrapper::SyncConnectionWrapper;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use futures_util::FutureExt;
use tokio::sync::Notify;

use crate::crypto::Keyring;
use crate::error;

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

type Conn = SyncConnectionWrapper<SqliteConnection>;

/// The embedded store. See the module docs.
pub struct SqliteStore {
    /// The one writer: SQLite takes one write at a time anyway, and one
    /// connection never waits on its own lock.
    pool: Pool<Conn>,
    /// Read-only connections for the hot reads (sessions, artworks,
    /// moods): in WAL mode readers run beside the writer and each other.
    /// None for `:memory:`, where every connection is its own database.
    readers: Option<Pool<Conn>>,
    /// Plain connections for the hottest read (a session on every signed-in
    /// request), run on the calling thread: a primary-key lookup takes
    /// microseconds, less than handing it to the blocking pool and back.
    /// None for `:memory:`.
    inline: Option<InlineReaders>,
    keys: Keyring,
    jobs_notify: Notify,
    location: String,
}

/// Read-only connections used on the calling thread, a few at a time.
struct InlineReaders {
    location: String,
    idle: std::sync::Mutex<Vec<SqliteConnection>>,
}

/// Inline readers kept between uses (more are opened under load, then
/// closed).
const INLINE_READERS: usize = 8;

impl InlineReaders {
    /// Runs `read` on an idle connection (opening one if none is idle).
    /// `None` when no connection could be had or the read failed: the caller
    /// then takes the pooled path, which reports errors properly. Busy
    /// waits are capped at 20 ms, so a runtime thread is never held long.
    fn run<R>(
        &self,
        read: impl FnOnce(&mut SqliteConnection) -> diesel::QueryResult<R>,
    ) -> Option<R> {
        use diesel::Connection as _;
        use diesel::connection::SimpleConnection as _;
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut conn = match idle {
            Some(c) => c,
            None => {
                let mut c = SqliteConnection::establish(&self.location).ok()?;
                c.batch_execute(
                    "PRAGMA busy_timeout = 20; PRAGMA query_only = ON; PRAGMA foreign_keys = ON;",
                )
                .ok()?;
                c
            }
        };
        let result = read(&mut conn);
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < INLINE_READERS {
            idle.push(conn);
        }
        match result {
            Ok(r) => Some(r),
            Err(e) => {
                tracing::debug!(error = %e, "inline read failed; using the pool");
                None
            }
        }
    }
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("location", &self.location)
            .field("keys", &self.keys)
            .finish()
    }
}

const PRAGMAS: &str = "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; \
                       PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;";

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path` and applies
    /// pending migrations.
    pub async fn open(path: &Path, keys: Keyring) -> spotifyart_core::Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| spotifyart_core::Error::io(dir, e))?;
        }
        create_private(path)?;
        let location = path.to_string_lossy().into_owned();
        Self::connect(location, keys).await
    }

    /// A private in-memory database (gone when the store is dropped).
    pub async fn open_in_memory(keys: Keyring) -> spotifyart_core::Result<Self> {
        Self::connect(":memory:".to_string(), keys).await
    }

    async fn connect(location: String, keys: Keyring) -> spotifyart_core::Result<Self> {
        let pool = Self::pool(&location, PRAGMAS, 1)?;
        let mut store = Self {
            pool,
            readers: None,
            inline: None,
            keys,
            jobs_notify: Notify::new(),
            location,
        };
        store.migrate().await?;
        if store.location != ":memory:" {
            const READ_ONLY: &str = concat!(
                "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; ",
                "PRAGMA query_only = ON;"
            );
            store.readers = Some(Self::pool(&store.location, READ_ONLY, 4)?);
            store.inline = Some(InlineReaders {
                location: store.location.clone(),
                idle: std::sync::Mutex::new(Vec::new()),
            });
        }
        Ok(store)
    }

    fn pool(
        location: &str,
        pragmas: &'static str,
        size: usize,
    ) -> spotifyart_core::Result<Pool<Conn>> {
        let mut config = ManagerConfig::<Conn>::default();
        // An SQLite connection is a file handle that does not drop like a
        // socket: skip the `SELECT 1` deadpool runs before every checkout
        // (a second trip through the blocking pool per query).
        config.recycling_method = RecyclingMethod::Fast;
        config.custom_setup = Box::new(move |url| {
            let url = url.to_string();
            async move {
                let mut conn = Conn::establish(&url).await?;
                conn.batch_execute(pragmas)
                    .await
                    .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                Ok(conn)
            }
            .boxed()
        });
        let manager = AsyncDieselConnectionManager::<Conn>::new_with_config(location, config);
        Pool::builder(manager)
            .max_size(size)
            .build()
            .map_err(error::pool)
    }

    /// Applies pending migrations (also run by `open`).
    pub async fn migrate(&self) -> spotifyart_core::Result<()> {
        let mut conn = self.conn().await?;
        let applied = conn
            .spawn_blocking(|c| {
                c.run_pending_migrations(MIGRATIONS)
                    .map(|v| v.iter().map(|m| m.to_string()).collect::<Vec<_>>())
                    .map_err(diesel::result::Error::QueryBuilderError)
            })
            .await
            .map_err(|e| error::db(e, "migrating the SQLite database"))?;
        for m in applied {
            tracing::info!(migration = %m, "applied migration");
        }
        Ok(())
    }

    /// Where the database lives (a path or `:memory:`).
    pub fn location(&self) -> &str {
        &self.location
    }

    async fn conn(&self) -> spotifyart_core::Result<Object<AsyncDieselConnectionManager<Conn>>> {
        self.pool.get().await.map_err(error::pool)
    }

    /// A connection for a read that may run beside the writer.
    async fn read_conn(
        &self,
    ) -> spotifyart_core::Result<Object<AsyncDieselConnectionManager<Conn>>> {
        match &self.readers {
            Some(readers) => readers.get().await.map_err(error::pool),
            None => self.conn().await,
        }
    }

    async fn lease_job(
        &self,
        worker: &str,
        now: i64,
        until: i64,
    ) -> spotifyart_core::Result<Option<crate::rows::JobRow>> {
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        let mut conn = self.conn().await?;
        loop {
            let candidate: Option<crate::rows::JobRow> = crate::schema::jobs::table
                .filter(crate::sql::runnable!(now))
                .order((
                    crate::schema::jobs::created_at.asc(),
                    crate::schema::jobs::id.asc(),
                ))
                .select(crate::rows::JobRow::as_select())
                .first(&mut conn)
                .await
                .optional()
                .map_err(|e| error::db(e, "job"))?;
            let Some(c) = candidate else {
                return Ok(None);
            };
            if c.state == "running" && c.attempts >= c.max_attempts {
                Self::expire_job(&mut conn, &c, now)
                    .await
                    .map_err(|e| error::db(e, "job"))?;
                continue;
            }
            if let Some(row) = Self::take_job(&mut conn, &c.id, worker, now, until)
                .await
                .map_err(|e| error::db(e, "job"))?
            {
                return Ok(Some(row));
            }
            // Another process took it between our read and our update.
        }
    }

    /// A session row by token hash: inline when it can, else pooled.
    pub(crate) async fn session_row(
        &self,
        hash: &str,
    ) -> spotifyart_core::Result<Option<crate::rows::SessionRow>> {
        use crate::rows::SessionRow;
        use crate::schema::sessions;
        use diesel::prelude::*;
        if let Some(inline) = &self.inline
            && let Some(row) = inline.run(|c| {
                diesel::RunQueryDsl::first(
                    sessions::table.find(hash).select(SessionRow::as_select()),
                    c,
                )
                .optional()
            })
        {
            return Ok(row);
        }
        let mut conn = self.read_conn().await?;
        diesel_async::RunQueryDsl::first(
            sessions::table.find(hash).select(SessionRow::as_select()),
            &mut conn,
        )
        .await
        .optional()
        .map_err(|e| error::db(e, "session"))
    }

    async fn jobs_added(&self, _conn: &mut Conn) {
        self.jobs_notify.notify_waiters();
    }

    async fn wait_jobs(&self, max_wait: Duration) {
        let _ = tokio::time::timeout(max_wait, self.jobs_notify.notified()).await;
    }
}

mod ops {
    use super::{Conn, SqliteStore};
    crate::sql::sql_store!(SqliteStore, Conn, "sqlite");
}

/// Creates the database file readable by its owner only, before SQLite
/// opens it: it holds sessions, matches and (encrypted) tokens, and SQLite
/// gives its `-wal` and `-shm` files the database file's permissions. An
/// existing file is left as the operator set it, with a warning when others
/// may read it.
#[cfg(unix)]
fn create_private(path: &Path) -> spotifyart_core::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            if let Ok(meta) = std::fs::metadata(path)
                && meta.permissions().mode() & 0o077 != 0
            {
                tracing::warn!(
                    path = %path.display(),
                    mode = format!("{:o}", meta.permissions().mode() & 0o777),
                    "the database file is readable by other users; chmod 600 it"
                );
            }
            Ok(())
        }
        Err(e) => Err(spotifyart_core::Error::io(path, e)),
    }
}

#[cfg(not(unix))]
fn create_private(_: &Path) -> spotifyart_core::Result<()> {
    Ok(())
}

/// The path a `sqlite://` URL names (`None` for an in-memory database).
pub(crate) fn url_path(rest: &str) -> Option<PathBuf> {
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    if rest.is_empty() || rest == ":memory:" {
        None
    } else {
        Some(PathBuf::from(rest))
    }
}
