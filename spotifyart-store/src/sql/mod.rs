//! The store operations, written once and instantiated for each backend's
//! store type by macros: diesel-async queries are typed by backend, and
//! generic bounds over both would be unreadable. One module per core store
//! trait, each holding the macro that implements it; [`sql_store!`] invokes
//! them all, from `sqlite.rs` and `postgres.rs`. What differs between
//! backends (leasing, wake-ups, the session read) is there, as the
//! `lease_job`, `wait_jobs`, `jobs_added` and `session_row` methods these
//! macros call. Their code names what [`prelude`] exports, which
//! `sql_store!` imports once where it expands.

pub(crate) mod artworks;
pub(crate) mod health;
pub(crate) mod jobs;
pub(crate) mod matches;
pub(crate) mod moods;
pub(crate) mod schedules;
pub(crate) mod sessions;
pub(crate) mod sign_ins;
pub(crate) mod tokens;
pub(crate) mod users;

/// The names the trait macros' code uses.
pub(crate) mod prelude {
    pub(crate) use async_trait::async_trait;
    pub(crate) use chrono::{DateTime, Utc};
    pub(crate) use diesel::prelude::*;
    pub(crate) use diesel_async::{AsyncConnection, RunQueryDsl};
    pub(crate) use secrecy::{ExposeSecret, SecretString};
    pub(crate) use spotifyart_core::art::{Artwork, ArtworkMeta, ContentKey};
    pub(crate) use spotifyart_core::store::*;
    pub(crate) use spotifyart_core::{ArtworkId, Error, JobId, MatchId, Result, TimeRange, UserId};

    pub(crate) use super::{sign_in_aad, token_aad};
    pub(crate) use crate::crypto::Sealed;
    pub(crate) use crate::error::{TxError, db};
    pub(crate) use crate::rows::*;
    pub(crate) use crate::schema::*;
}

/// Jobs a worker may take at `now`: queued and due, or running with an
/// expired lease (its worker went silent).
macro_rules! runnable {
    ($now:expr) => {
        crate::schema::jobs::state
            .eq("queued")
            .and(crate::schema::jobs::run_after.le($now))
            .or(crate::schema::jobs::state
                .eq("running")
                .and(crate::schema::jobs::lease_expires_at.le($now)))
    };
}
pub(crate) use runnable;

/// AAD binding a sign-in's verifier ciphertext to its row.
pub fn sign_in_aad(state_hash: &str) -> Vec<u8> {
    format!("spotifyart:sign_ins:v1:{state_hash}:verifier").into_bytes()
}

/// AAD binding a token ciphertext to its row and column.
pub fn token_aad(user: &str, provider: &str, field: &str) -> Vec<u8> {
    format!("spotifyart:oauth_tokens:v1:{user}:{provider}:{field}").into_bytes()
}

/// Implements every store trait for `$Store`, whose connections are
/// `$Conn`; `$backend` is the name `StoreHealth::backend` reports.
macro_rules! sql_store {
    ($Store:ty, $Conn:ty, $backend:literal) => {
        use crate::sql::prelude::*;

        crate::sql::health::store_health!($Store, $backend);
        crate::sql::users::user_store!($Store);
        crate::sql::tokens::token_store!($Store);
        crate::sql::sign_ins::sign_in_store!($Store);
        crate::sql::sessions::session_store!($Store);
        crate::sql::moods::mood_store!($Store);
        crate::sql::matches::match_store!($Store);
        crate::sql::artworks::artwork_store!($Store, $Conn);
        crate::sql::jobs::job_queue!($Store, $Conn);
        crate::sql::schedules::schedule_store!($Store);
    };
}
pub(crate) use sql_store;
