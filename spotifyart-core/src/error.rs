//! The one public error type. Adapters keep their own private errors and map
//! them into this one, so callers (HTTP, Python, the CLI) handle a single set
//! of meaningful cases.

use std::path::PathBuf;
use std::time::Duration;

/// Boxed source error kept for `Error::source()` chains.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Result alias used across SpotifyArt.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong, by what the caller should do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The thing asked for does not exist (or is not visible to the caller).
    #[error("{what} not found")]
    NotFound {
        /// What was looked up, e.g. `match 0193…`.
        what: String,
    },
    /// A create collided with an existing record.
    #[error("{what} already exists")]
    AlreadyExists {
        /// What collided.
        what: String,
    },
    /// The request conflicts with the current state (used invite, lost lease).
    #[error("conflict: {message}")]
    Conflict {
        /// Human-readable reason.
        message: String,
    },
    /// Missing, expired, revoked or forged credentials.
    #[error("unauthorized: {message}")]
    Unauthorized {
        /// Human-readable reason; never contains the credential itself.
        message: String,
    },
    /// The user withdrew this app's access at the provider (an OAuth refresh
    /// answered `invalid_grant`): stored tokens are useless, so callers end
    /// the session and ask the user to sign in again.
    #[error("{provider} access was revoked; sign in with {provider} again")]
    Revoked {
        /// The identity provider, e.g. `spotify`.
        provider: String,
    },
    /// Authenticated, but not allowed (e.g. Spotify answering 403 for an API
    /// a Development Mode app may not call).
    #[error("forbidden: {message}")]
    Forbidden {
        /// Human-readable reason.
        message: String,
    },
    /// The caller sent too many requests (our own limits); try again after
    /// `retry_after` when known. A service we call limiting us is
    /// [`Error::UpstreamBusy`], not this.
    #[error("rate limited{}: {message}", retry_after.map(|d| format!(" (retry after {}s)", d.as_secs().max(1))).unwrap_or_default())]
    RateLimited {
        /// How long to wait before retrying, when the limiter said.
        retry_after: Option<Duration>,
        /// Who limited us and why.
        message: String,
    },
    /// A service we depend on (Spotify, ListenBrainz, Last.fm) is rate
    /// limiting this app: nothing the caller did; try again after
    /// `retry_after` when known.
    #[error("{message}{}", retry_after.map(|d| format!(" (retry after {}s)", d.as_secs().max(1))).unwrap_or_default())]
    UpstreamBusy {
        /// Which upstream, e.g. `spotify`.
        service: String,
        /// How long to wait before retrying, when the service said.
        retry_after: Option<Duration>,
        /// Who limits us, on which call (never a token or key).
        message: String,
    },
    /// A service we depend on (Spotify, a model host) failed or answered nonsense.
    #[error("{service} failed{}: {message}", status.map(|s| format!(" with status {s}")).unwrap_or_default())]
    Upstream {
        /// Which upstream, e.g. `spotify`.
        service: String,
        /// HTTP status when there was one.
        status: Option<u16>,
        /// What went wrong.
        message: String,
    },
    /// The caller's input is malformed or out of range; nothing was changed.
    #[error("invalid input: {message}")]
    InvalidInput {
        /// What is wrong and, where it helps, where (file, line, field).
        message: String,
    },
    /// The operation is not supported by this implementation or build.
    #[error("not supported: {message}")]
    NotSupported {
        /// What is unsupported and what to use instead.
        message: String,
    },
    /// The caller cancelled the operation.
    #[error("cancelled")]
    Cancelled,
    /// Reading a local file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The store (database) failed or is unreachable.
    #[error("storage failed: {message}")]
    Storage {
        /// What failed.
        message: String,
        /// Underlying driver error.
        #[source]
        source: Option<BoxError>,
    },
    /// The store is out of space: its disk is full or its database file
    /// reached a size limit. Writes fail until space is freed; reads go on.
    #[error("storage full: {message}")]
    StorageFull {
        /// What failed.
        message: String,
        /// Underlying driver error.
        #[source]
        source: Option<BoxError>,
    },
    /// A model (mood or image) failed to load or run.
    #[error("model failed: {message}")]
    Model {
        /// What failed and, when it is the user's to fix, how.
        message: String,
        /// Underlying error.
        #[source]
        source: Option<BoxError>,
    },
    /// A bug or broken invariant.
    #[error("internal error: {message}")]
    Internal {
        /// What broke.
        message: String,
    },
}

impl Error {
    /// `NotFound` for `what`.
    pub fn not_found(what: impl Into<String>) -> Self {
        Self::NotFound { what: what.into() }
    }
    /// `InvalidInput` with `message`.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::InvalidInput {
            message: message.into(),
        }
    }
    /// `Conflict` with `message`.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::Conflict {
            message: message.into(),
        }
    }
    /// `Unauthorized` with `message`.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::Unauthorized {
            message: message.into(),
        }
    }
    /// `Storage` with `message` and an underlying error.
    pub fn storage(message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Self::Storage {
            message: message.into(),
            source: Some(source.into()),
        }
    }
    /// `Model` with `message` and no underlying error.
    pub fn model(message: impl Into<String>) -> Self {
        Self::Model {
            message: message.into(),
            source: None,
        }
    }
    /// `Internal` with `message`.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::Internal {
            message: message.into(),
        }
    }
    /// `Io` for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    /// A stable machine-readable code, used as the HTTP error `code` and to
    /// pick the Python exception class.
    pub fn code(&self) -> &'static str {
        match self {
            Error::NotFound { .. } => "not_found",
            Error::AlreadyExists { .. } => "already_exists",
            Error::Conflict { .. } => "conflict",
            Error::Unauthorized { .. } => "unauthorized",
            Error::Revoked { .. } => "revoked",
            Error::Forbidden { .. } => "forbidden",
            Error::RateLimited { .. } => "rate_limited",
            Error::UpstreamBusy { .. } => "upstream_busy",
            Error::Upstream { .. } => "upstream_failed",
            Error::InvalidInput { .. } => "invalid_input",
            Error::NotSupported { .. } => "not_supported",
            Error::Cancelled => "cancelled",
            Error::Io { .. } => "io",
            Error::Storage { .. } => "storage_failed",
            Error::StorageFull { .. } => "storage_full",
            Error::Model { .. } => "model_failed",
            Error::Internal { .. } => "internal",
        }
    }

    /// How long to wait before retrying, for rate-limited errors (ours or
    /// an upstream's).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::RateLimited { retry_after, .. } | Error::UpstreamBusy { retry_after, .. } => {
                *retry_after
            }
            _ => None,
        }
    }

    /// Whether retrying the same call later may succeed (job queue backoff).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Error::RateLimited { .. }
                | Error::UpstreamBusy { .. }
                | Error::Upstream { .. }
                | Error::Storage { .. }
                | Error::StorageFull { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_precise() {
        let e = Error::RateLimited {
            retry_after: Some(Duration::from_secs(30)),
            message: "spotify".into(),
        };
        assert_eq!(e.to_string(), "rate limited (retry after 30s): spotify");
        assert_eq!(e.retry_after(), Some(Duration::from_secs(30)));
        let e = Error::UpstreamBusy {
            service: "spotify".into(),
            retry_after: Some(Duration::from_secs(3600)),
            message: "Spotify is rate limiting this app (top artists)".into(),
        };
        assert_eq!(
            e.to_string(),
            "Spotify is rate limiting this app (top artists) (retry after 3600s)"
        );
        assert_eq!(e.code(), "upstream_busy");
        assert_eq!(e.retry_after(), Some(Duration::from_secs(3600)));
        assert!(e.is_transient());
        let e = Error::Upstream {
            service: "spotify".into(),
            status: Some(502),
            message: "bad gateway".into(),
        };
        assert_eq!(e.to_string(), "spotify failed with status 502: bad gateway");
        assert_eq!(Error::not_found("match 1").to_string(), "match 1 not found");
        assert_eq!(Error::Cancelled.code(), "cancelled");
    }
}
