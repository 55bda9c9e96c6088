//! PostgreSQL, for hosted and scaled-out deployments: `AsyncPgConnection`
//! from a deadpool pool. Many workers on many machines lease from one queue:
//! the candidate row is locked `FOR UPDATE SKIP LOCKED`, so workers never
//! wait on each other or take the same job, and `NOTIFY spotifyart_jobs`
//! wakes idle workers as soon as a job is added.

use std::sync::Arc;
use std::time::Duration;

use deadpool::managed::Object;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::pooled_connection::AsyncDieselConnectionManager;
use diesel_async::pooled_connection::deadpool::Pool;
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use futures_util::StreamExt;
use tokio::sync::Notify;

use crate::crypto::Keyring;
use crate::error;

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");
const CHANNEL: &str = "spotifyart_jobs";
/// Serialises migrations between servers starting at the same time.
const MIGRATION_LOCK: i64 = 0x5350_4f54_4946_5941; // "SPOTIFYA"

type Conn = AsyncPgConnection;

/// The PostgreSQL store. See the module docs.
pub struct PostgresStore {
    pool: Pool<Conn>,
    keys: Keyring,
    jobs_notify: Arc<Notify>,
    listener: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

impl PostgresStore {
    /// Connects to `url` with up to `max_connections` pooled connections,
    /// applies pending migrations, and starts listening for new jobs.
    pub async fn open(
        url: &str,
        keys: Keyring,
        max_connections: usize,
    ) -> spotifyart_core::Result<Self> {
        migrate(url).await?;
        let manager = AsyncDieselConnectionManager::<Conn>::new(url);
        let pool = Pool::builder(manager)
            .max_size(max_connections.max(1))
            .build()
            .map_err(error::pool)?;
        let jobs_notify = Arc::new(Notify::new());
        let listener = tokio::spawn(listen(url.to_string(), jobs_notify.clone()));
        Ok(Self {
            pool,
            keys,
            jobs_notify,
            listener,
        })
    }

    async fn conn(&self) -> spotifyart_core::Result<Object<AsyncDieselConnectionManager<Conn>>> {
        self.pool.get().await.map_err(error::pool)
    }

    /// Reads use the same pool (every connection is a reader here).
    async fn read_conn(
        &self,
    ) -> spotifyart_core::Result<Object<AsyncDieselConnectionManager<Conn>>> {
        self.conn().await
    }

    async fn lease_job(
        &self,
        worker: &str,
        now: i64,
        until: i64,
    ) -> spotifyart_core::Result<Option<crate::rows::JobRow>> {
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;

        use crate::error::TxError;
        use crate::rows::JobRow;
        use crate::schema::jobs;
        let worker = worker.to_string();
        let mut conn = self.conn().await?;
        conn.transaction::<_, TxError, _>(async move |conn| {
            loop {
                let candidate: Option<JobRow> = jobs::table
                    .filter(crate::sql::runnable!(now))
                    .order((jobs::created_at.asc(), jobs::id.asc()))
                    .select(JobRow::as_select())
                    .limit(1)
                    .for_update()
                    .skip_locked()
                    .get_result(conn)
                    .await
                    .optional()?;
                let Some(c) = candidate else {
                    return Ok(None);
                };
                if c.state == "running" && c.attempts >= c.max_attempts {
                    Self::expire_job(conn, &c, now).await?;
                    continue;
                }
                // The row is locked by this transaction: the update wins.
                return Ok(Self::take_job(conn, &c.id, &worker, now, until).await?);
            }
        })
        .await
        .map_err(|e| e.into_error("job"))
    }

    /// A session row by token hash.
    pub(crate) async fn session_row(
        &self,
        hash: &str,
    ) -> spotifyart_core::Result<Option<crate::rows::SessionRow>> {
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;

        use crate::rows::SessionRow;
        use crate::schema::sessions;
        let mut conn = self.read_conn().await?;
        sessions::table
            .find(hash)
            .select(SessionRow::as_select())
            .first(&mut conn)
            .await
            .optional()
            .map_err(|e| error::db(e, "session"))
    }

    async fn jobs_added(&self, conn: &mut Conn) {
        self.jobs_notify.notify_waiters();
        if let Err(e) = conn.batch_execute(&format!("NOTIFY {CHANNEL}")).await {
            tracing::warn!(error = %e, "could not notify workers of a new job; they will poll");
        }
    }

    async fn wait_jobs(&self, max_wait: Duration) {
        let _ = tokio::time::timeout(max_wait, self.jobs_notify.notified()).await;
    }
}

/// Applies pending migrations under an advisory lock.
pub async fn migrate(url: &str) -> spotifyart_core::Result<()> {
    let conn = Conn::establish(url).await.map_err(|e| {
        error::pool(std::io::Error::other(format!(
            "cannot connect to PostgreSQL: {e}"
        )))
    })?;
    let mut wrapper: AsyncConnectionWrapper<Conn> = AsyncConnectionWrapper::from(conn);
    let applied = tokio::task::spawn_blocking(move || {
        use diesel::connection::SimpleConnection;
        SimpleConnection::batch_execute(
            &mut wrapper,
            &format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"),
        )?;
        let result = wrapper
            .run_pending_migrations(MIGRATIONS)
            .map(|v| v.iter().map(|m| m.to_string()).collect::<Vec<_>>())
            .map_err(diesel::result::Error::QueryBuilderError);
        SimpleConnection::batch_execute(
            &mut wrapper,
            &format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"),
        )?;
        result
    })
    .await
    .map_err(|e| spotifyart_core::Error::internal(format!("migration task failed: {e}")))?
    .map_err(|e| error::db(e, "migrating the PostgreSQL database"))?;
    for m in applied {
        tracing::info!(migration = %m, "applied migration");
    }
    Ok(())
}

/// Holds one connection listening on the jobs channel and wakes waiting
/// workers; reconnects after failures (workers poll meanwhile).
async fn listen(url: String, notify: Arc<Notify>) {
    loop {
        match Conn::establish(&url).await {
            Ok(mut conn) => {
                if let Err(e) = conn.batch_execute(&format!("LISTEN {CHANNEL}")).await {
                    tracing::warn!(error = %e, "LISTEN failed");
                } else {
                    let mut stream = std::pin::pin!(conn.notifications_stream());
                    while let Some(n) = stream.next().await {
                        match n {
                            Ok(_) => notify.notify_waiters(),
                            Err(e) => {
                                tracing::warn!(error = %e, "job notifications interrupted");
                                break;
                            }
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot listen for job notifications"),
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

mod ops {
    use super::{Conn, PostgresStore};
    crate::sql::sql_store!(PostgresStore, Conn, "postgres");
}
