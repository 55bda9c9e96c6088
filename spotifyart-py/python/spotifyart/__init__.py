"""SpotifyArt: two people's Spotify listening, turned into one piece of art.

>>> import spotifyart as sa
>>> alice = sa.load_export("examples/exports/alice")   # a Spotify data export
>>> bob = sa.load_export("examples/exports/bob")
>>> pair = sa.match(alice, bob)                        # score, reasons, blended mood
>>> image = sa.Generator("sd-turbo").generate(pair)    # Stable Diffusion, in-process

Everything runs in the Rust engine the ``spotifyart`` CLI and server use;
this package is its Python face. Objects print readably, show themselves in
Jupyter (moods and matches as palettes and a valence/arousal plot, artworks
as pictures) and turn into plain data with ``to_dict()``. Errors are the
exception classes below, one per kind of failure.
"""

from __future__ import annotations

from typing import Any

from ._errors import (
    AlreadyExists,
    Cancelled,
    Conflict,
    Forbidden,
    InternalError,
    InvalidInput,
    IoError,
    ModelError,
    NotFound,
    NotSupported,
    RateLimited,
    Revoked,
    SpotifyArtError,
    StorageError,
    StorageFull,
    Unauthorized,
    UpstreamBusy,
    UpstreamError,
)
from ._spotifyart import (
    DEFAULT_MODEL,
    Artwork,
    Generator,
    Lastfm,
    ListenBrainz,
    Match,
    Mood,
    Profile,
    Spotify,
    Store,
    __version__,
    load_export,
    mood,
    mood_models,
)
from ._spotifyart import match as match  # `match` is a soft keyword, not reserved

__all__ = [
    "DEFAULT_MODEL",
    "AlreadyExists",
    "Artwork",
    "Cancelled",
    "Conflict",
    "Forbidden",
    "Generator",
    "InternalError",
    "InvalidInput",
    "IoError",
    "Lastfm",
    "ListenBrainz",
    "Match",
    "ModelError",
    "Mood",
    "NotFound",
    "NotSupported",
    "Profile",
    "RateLimited",
    "Revoked",
    "Spotify",
    "SpotifyArtError",
    "Store",
    "StorageError",
    "StorageFull",
    "Unauthorized",
    "UpstreamBusy",
    "UpstreamError",
    "__version__",
    "load_export",
    "match",
    "mood",
    "mood_models",
]


def _restore(kind: str, *args: Any) -> Any:
    """Unpickles what the classes' ``__reduce__`` wrote."""
    if kind == "Profile":
        return Profile.from_json(*args)
    if kind == "Mood":
        return Mood.from_dict(_json(*args))
    if kind == "Match":
        return Match.from_dict(_json(*args))
    if kind == "Artwork":
        return Artwork._restore(*args)
    raise TypeError(f"cannot unpickle a spotifyart {kind!r}")


def _json(text: str) -> Any:
    import json

    return json.loads(text)
