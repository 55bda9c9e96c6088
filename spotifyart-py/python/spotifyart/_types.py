"""Types for annotations: what the functions accept."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Protocol, Tuple, Union, runtime_checkable

if TYPE_CHECKING:
    from ._spotifyart import Mood, Profile

#: What a mood model's ``mood(profile)`` may return.
MoodResult = Union["Mood", Tuple[float, float], Tuple[float, float, float], Dict[str, Any]]


@runtime_checkable
class MoodModel(Protocol):
    """Anything with a ``mood(profile)`` method can be a mood model: pass it
    wherever a model name goes (``mood(p, model=...)``, ``match(a, b, model=...)``).

    ``mood`` returns a ``spotifyart.Mood``, a ``(valence, arousal)`` or
    ``(valence, arousal, confidence)`` tuple, or a dict with ``valence``,
    ``arousal`` and optionally ``confidence`` (each in [-1, 1], confidence
    in [0, 1]). Optional attributes: ``name`` (shown in the mood's
    ``model``) and ``signals`` (a list of signal names it uses, such as
    ``"names"`` or ``"play_times"``).
    """

    def mood(self, profile: Profile) -> MoodResult: ...


__all__: List[str] = ["MoodModel", "MoodResult"]
