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
        DieselError::DatabaseError(_, ref info) if out_of_space(info.message()) => {
            Error::StorageFull {
                message: format!(
                    "{what} failed: the database's disk is full or its file reached a size limit ({})",
                    info.message()
                ),
                source: Some(Box::new(e)),
            }
        }
        DieselError::DatabaseError(_, ref info) if info.message() == SQLITE_IOERR => {
            Error::Storage {
                message: format!(
                    "{what} failed: the database could not read or write its file ({SQLITE_IOERR}: \
                     the disk failed, or a write went past the file-size limit, `ulimit -f`)"
                ),
                source: Some(Box::new(e)),
            }
        }
        other => Error::Storage {
            message: format!("{what} failed: {other}"),
            source: Some(Box::new(other)),
        },
    }
}

/// SQLite's message for `SQLITE_IOERR` (diesel passes on the message, not
/// the code). Writing past `RLIMIT_FSIZE` (EFBIG) ends here, as does a
/// failing disk, so it stays a plain storage failure.
const SQLITE_IOERR: &str = "disk I/O error";

/// Whether a driver message says the database ran out of space: SQLite's
/// `SQLITE_FULL` (ENOSPC, or `max_page_count` reached) and PostgreSQL's
/// `disk_full` (53100), whose messages end with the OS error.
fn out_of_space(message: &str) -> bool {
    message == "database or disk is full" || message.ends_with("No space left on device")
}

/// The pool could not hand out a connection: the database is down,
/// unreachable or out of connections.
pub fn pool<E: std::error::Error + Send + Sync + 'static>(e: E) -> Error {
    Error::Storage {
        message: format!("the database is unreachable: {e}"),
        source: Some(Box::new(e)),
    }
}

#[cfg(test)]
mod tests {
    use diesel::connection::SimpleConnection as _;
    use diesel::{Connection as _, SqliteConnection};

    use super::*;

    /// SQLite out of space (here its page limit, as on a full disk: the
    /// same SQLITE_FULL) is `storage_full`, a 503 the client may retry.
    #[test]
    fn a_full_sqlite_database_is_storage_full() {
        let mut conn = SqliteConnection::establish(":memory:").unwrap();
        conn.batch_execute("CREATE TABLE t (x BLOB); PRAGMA max_page_count = 4;")
            .unwrap();
        let e = (0..100)
            .find_map(|_| {
                conn.batch_execute("INSERT INTO t VALUES (zeroblob(2000))")
                    .err()
            })
            .expect("the page limit is reached");
        let e = db(e, "saving the artwork");
        assert_eq!(e.code(), "storage_full");
        assert!(e.is_transient());
        assert_eq!(
            e.to_string(),
            "storage full: saving the artwork failed: the database's disk is full or its \
             file reached a size limit (database or disk is full)"
        );
    }

    #[test]
    fn a_disk_io_error_names_its_likely_causes() {
        let e = db(
            DieselError::DatabaseError(
                DatabaseErrorKind::Unknown,
                Box::new("disk I/O error".to_string()),
            ),
            "job",
        );
        assert_eq!(e.code(), "storage_failed");
        assert!(e.to_string().contains("`ulimit -f`"), "{e}");
        let e = db(
            DieselError::DatabaseError(
                DatabaseErrorKind::Unknown,
                Box::new(
                    "could not extend file \"base/5/16384\": No space left on device".to_string(),
                ),
            ),
            "job",
        );
        assert_eq!(e.code(), "storage_full", "PostgreSQL's disk_full");
    }
}
