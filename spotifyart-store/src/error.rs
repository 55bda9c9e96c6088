//! diesel and pool errors -> core errors, with what was being done.

use diesel::result::{DatabaseErrorKind, Error as DieselError};
use spotifyart_core::Error;

/// A failure inside a transaction: a database error or a refusal by our own
/// rules (which rolls the transaction back).
#[derive(Debug)]
pub enum TxError {
    Db(DieselError),
    App(Error),
}

impl From<DieselError> for TxError {
    fn from(e: DieselError) -> Self {
        TxError::Db(e)
    }
}

impl From<Error> for TxError {
    fn from(e: Error) -> Self {
        TxError::App(e)
    }
}

impl TxError {
    pub fn into_error(self, what: &str) -> Error {
        match self {
            TxError::Db(e) => db(e, what),
            TxError::App(e) => e,
        }
    }
}

/// Maps a diesel error met while doing `what`.
pub fn db(e: DieselError, what: &str) -> Error {
    match e {
        DieselError::NotFound => Error::not_found(what),
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
            Error::AlreadyExists { what: what.into() }
        }
        DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, info) => {
            Error::not_found(format!("{what}: a referenced record ({})", info.message()))
        }
        other => Error::Storage {
            message: format!("{what} failed: {other}"),
            source: Some(Box::new(other)),
        },
    }
}

/// The pool could not hand out a connection: the database is down,
/// unreachable or out of connections.
pub fn pool<E: std::error::Error + Send + Sync + 'static>(e: E) -> Error {
    Error::Storage {
        message: format!("the database is unreachable: {e}"),
        source: Some(Box::new(e)),
    }
}
