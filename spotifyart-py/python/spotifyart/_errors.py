"""Exception classes, one per variant of the core's error type.

The native module raises these: every error carries ``code`` (the same
stable name the HTTP API puts in ``{"error": {"code": ...}}``) and a
precise message. Where a builtin exception means the same thing, the class
also derives from it, so ``except ValueError`` and ``except LookupError``
work as a Python user expects.
"""

from __future__ import annotations

from typing import Optional

__all__ = [
    "SpotifyArtError",
    "NotFound",
    "AlreadyExists",
    "Conflict",
    "Unauthorized",
    "Revoked",
    "Forbidden",
    "RateLimited",
    "UpstreamError",
    "UpstreamBusy",
    "InvalidInput",
    "NotSupported",
    "Cancelled",
    "IoError",
    "StorageError",
    "StorageFull",
    "ModelError",
    "InternalError",
]


class SpotifyArtError(Exception):
    """Base class of every SpotifyArt error."""

    #: The core error's stable machine name.
    code: str = "internal"

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message


class NotFound(SpotifyArtError, LookupError):
    """The thing asked for does not exist (or is not yours to see)."""

    code = "not_found"


class AlreadyExists(SpotifyArtError):
    """A create collided with an existing record."""

    code = "already_exists"


class Conflict(SpotifyArtError):
    """The request conflicts with the current state (a used invite, a lost lease)."""

    code = "conflict"


class Unauthorized(SpotifyArtError):
    """Missing, expired or forged credentials: sign in (again)."""

    code = "unauthorized"


class Revoked(Unauthorized):
    """The user withdrew this app's access at the provider; sign in again."""

    code = "revoked"


class Forbidden(SpotifyArtError):
    """Signed in, but not allowed (e.g. an API a Development Mode app may not call)."""

    code = "forbidden"


class RateLimited(SpotifyArtError):
    """Too many requests. ``retry_after`` is the wait in seconds, when known."""

    code = "rate_limited"
    retry_after: Optional[float] = None


class UpstreamError(SpotifyArtError):
    """A service SpotifyArt depends on (Spotify, a model host) failed.

    ``service`` names it and ``status`` is its HTTP status, when there was one.
    """

    code = "upstream_failed"
    service: Optional[str] = None
    status: Optional[int] = None


class UpstreamBusy(UpstreamError, RateLimited):
    """A service SpotifyArt depends on (Spotify, ListenBrainz, Last.fm) is rate
    limiting this app (not something the caller sent too much of).

    ``service`` names it and ``retry_after`` is its wait in seconds, when it
    said. Also a :class:`RateLimited`, so ``except RateLimited`` still catches it.
    """

    code = "upstream_busy"


class InvalidInput(SpotifyArtError, ValueError):
    """The input is malformed or out of range; nothing was changed."""

    code = "invalid_input"


class NotSupported(SpotifyArtError):
    """Not supported by this implementation or build; the message says what to use."""

    code = "not_supported"


class Cancelled(SpotifyArtError):
    """The operation was cancelled."""

    code = "cancelled"


class IoError(SpotifyArtError, OSError):
    """Reading or writing a local file failed; ``filename`` is the file."""

    code = "io"

    def __init__(self, message: str = "") -> None:
        OSError.__init__(self, message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class StorageError(SpotifyArtError):
    """The store (database) failed or is unreachable."""

    code = "storage_failed"


class StorageFull(StorageError):
    """The store is out of space (a full disk, a size limit): nothing was written.

    Reads still work; writes succeed again once space is freed.
    """

    code = "storage_full"


class ModelError(SpotifyArtError):
    """A mood or image model failed to load or run; the message says how to fix it.

    When a mood model written in Python raised, its exception is ``__cause__``.
    """

    code = "model_failed"


class InternalError(SpotifyArtError):
    """A bug in SpotifyArt; please report it with the message."""

    code = "internal"


for _cls in [SpotifyArtError, *SpotifyArtError.__subclasses__(), Revoked, StorageFull, UpstreamBusy]:
    _cls.__module__ = "spotifyart"  # tracebacks and pickles say spotifyart.NotFound

#: Core error code -> class, as the native module picks them.
BY_CODE = {
    cls.code: cls
    for cls in (
        NotFound,
        AlreadyExists,
        Conflict,
        Unauthorized,
        Revoked,
        Forbidden,
        RateLimited,
        UpstreamError,
        UpstreamBusy,
        InvalidInput,
        NotSupported,
        Cancelled,
        IoError,
        StorageError,
        StorageFull,
        ModelError,
        InternalError,
    )
}
