//! [`StoreHealth`](spotifyart_core::store::StoreHealth): the backend's name
//! and a `SELECT 1` ping, for readiness checks.

/// Implements `StoreHealth` for `$Store`, named `$backend`.
macro_rules! store_health {
    ($Store:ty, $backend:literal) => {
        #[async_trait::async_trait]
        impl spotifyart_core::store::StoreHealth for $Store {
            fn backend(&self) -> &str {
                $backend
            }
            async fn ping(&self) -> spotifyart_core::Result<()> {
                use diesel_async::SimpleAsyncConnection as _;
                let mut conn = self.conn().await?;
                conn.batch_execute("SELECT 1")
                    .await
                    .map_err(|e| crate::error::db(e, "ping"))
            }
        }
    };
}
pub(crate) use store_health;
