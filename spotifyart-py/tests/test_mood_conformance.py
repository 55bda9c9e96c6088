"""The mood model conformance suite for a mood model written in Python.

This mirrors the Rust suite (``spotifyart_core::testing::mood``, run on
every Rust model by ``mood_model_conformance_tests!``) check for check and
profile for profile, through the public Python API only: answers are on the
plane and finite, the same profile gets the same answer, a profile without
any of the model's signals gets the neutral mood (origin, confidence 0, no
signals, the model's name), the declared signals are non-empty and unique
and give confidence on a profile that has them, and the signals a mood says
it used are declared and present. Keep the two in step.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List, Optional, Tuple

import pytest

import spotifyart as sa

RANGES = ["short_term", "medium_term", "long_term"]
SIGNALS = ["audio_features", "genres", "popularity", "names", "release_dates", "covers", "play_times", "skips"]
CONTENT = {"audio_features", "genres", "popularity", "names", "release_dates", "covers"}

# Artists the built-in tables know, a title and a genre each (as in the Rust suite).
ARTISTS = [
    ("ABBA", "Dancing Queen", "europop"),
    ("Adele", "Someone Like You", "soul"),
    ("Metallica", "Enter Sandman", "metal"),
    ("Bon Iver", "Skinny Love", "indie folk"),
    ("Lizzo", "Good as Hell", "dance pop"),
    ("Bob Marley & The Wailers", "Three Little Birds", "reggae"),
]
COVERS = ["#fad23c", "#282830", "#e65a96"]


def _features(i: int) -> Dict[str, float]:
    x = (i % 5) / 4
    return {
        "valence": 0.1 + 0.8 * x,
        "energy": 0.9 - 0.7 * x,
        "danceability": 0.5,
        "tempo": 96.0 + 8.0 * i,
        "mode": float(i % 2),
        "acousticness": 0.2 + 0.1 * (i % 3),
        "loudness": -8.0,
    }


def profile_with(signals: List[str]) -> sa.Profile:
    """A profile carrying exactly ``signals`` (plus ``names`` whenever it has
    top tracks), built like the Rust suite's ``profile_with``."""
    on = set(signals)
    data: Dict[str, Any] = {"schema": "spotifyart.profile/1", "source": {"kind": "fixture"}}
    if on & CONTENT:
        tracks = []
        for i, (artist, title, genre) in enumerate(ARTISTS):
            t: Dict[str, Any] = {"name": title, "artists": [artist], "album": f"{title} (album)", "plays": 60 - 5 * i}
            if "audio_features" in on:
                t["audio_features"] = _features(i)
            if "genres" in on:
                t["genres"] = [genre]
            if "popularity" in on:
                t["popularity"] = 80 - 5 * i
            if "release_dates" in on:
                t["release_date"] = f"{1975 + 8 * i}-06-01"
            if "covers" in on:
                t["cover_colours"] = [{"color": COVERS[i % len(COVERS)], "share": 1.0}]
            tracks.append(t)
        artists = [{"name": a, **({"genres": [g]} if "genres" in on else {})} for a, _, g in ARTISTS]
        data["top_tracks"] = {r: tracks for r in RANGES}
        data["top_artists"] = {r: artists for r in RANGES}
    if on & {"play_times", "skips"}:
        hours = [0] * 24
        if "play_times" in on:
            hours = [20 if 8 <= h < 23 else 5 for h in range(24)]
            hours[23] = 90
        behaviour: Dict[str, Any] = {
            "plays": 400,
            "events": 520,
            "ms_played": 400 * 180_000,
            "distinct_tracks": 150,
            "distinct_artists": 40,
            "repeat_ratio": 0.6,
            "hour_histogram": hours,
            "utc_offset_minutes": 0,
        }
        if "skips" in on:
            behaviour["skip_rate"] = 0.45
        data["behaviour"] = behaviour
    p = sa.Profile.from_dict(data)
    expected = set(on) | ({"names"} if on & CONTENT else set())
    assert set(p.signals) == expected, (p.signals, signals)
    return p


def probe_profiles() -> List[Tuple[str, sa.Profile]]:
    """None at all, one per signal, and recent plays alone."""
    probes = [("no signals", profile_with([]))]
    probes += [(f"only {s}", profile_with([s])) for s in SIGNALS]
    recent = [
        {
            "track": ARTISTS[i % len(ARTISTS)][1],
            "artists": [ARTISTS[i % len(ARTISTS)][0]],
            "played_at": (datetime(2026, 1, 1, 12, tzinfo=timezone.utc) - timedelta(minutes=4 * i)).isoformat(),
            "ms_played": 180_000,
            "skipped": i % 3 == 0,
        }
        for i in range(12)
    ]
    probes.append(
        ("recent plays only", sa.Profile.from_dict({"schema": "spotifyart.profile/1", "source": {"kind": "fixture"}, "recent": recent}))
    )
    return probes


class Brightness:
    """A mood model as a Python user writes one: the mean of the tracks'
    audio features, answered as a tuple, a dict or a ``spotifyart.Mood``."""

    name = "brightness"
    signals = ["audio_features"]

    def __init__(self, answer: str) -> None:
        self.answer = answer

    def mood(self, profile: sa.Profile) -> Any:
        tracks = [t for t in profile.top_tracks(limit=10_000) if t.get("audio_features")]
        covered = sum(t["weight"] for t in tracks)
        if covered <= 0:
            v, a, c = 0.0, 0.0, 0.0
        else:
            v = sum(t["weight"] * (2 * t["audio_features"]["valence"] - 1) for t in tracks) / covered
            a = sum(t["weight"] * (2 * t["audio_features"]["energy"] - 1) for t in tracks) / covered
            c = 0.9 * covered * (1 - math.exp(-len(tracks) / 4))
        if self.answer == "tuple":
            return (v, a, c)
        if self.answer == "dict":
            return {"valence": v, "arousal": a, "confidence": c}
        return sa.Mood(v, a, c, signals=self.signals if c > 0 else [], model=self.name)


ANSWERS = ["tuple", "dict", "Mood"]


def _every_profile(given: sa.Profile) -> List[Tuple[str, sa.Profile]]:
    return probe_profiles() + [("the given profile", given)]


@pytest.fixture(params=ANSWERS)
def model(request: pytest.FixtureRequest) -> Brightness:
    return Brightness(request.param)


@pytest.fixture()
def given() -> sa.Profile:
    return profile_with(["audio_features"])


def test_answers_are_on_the_plane(model: Brightness, given: sa.Profile) -> None:
    for what, p in _every_profile(given):
        m = sa.mood(p, model)
        for field, v, lo in [
            ("valence", m.valence, -1.0),
            ("arousal", m.arousal, -1.0),
            ("confidence", m.confidence, 0.0),
            ("intensity", m.intensity, 0.0),
        ]:
            assert math.isfinite(v) and lo <= v <= 1.0, f"{what}: {field} {v} outside [{lo}, 1]: {m!r}"


def test_answers_are_deterministic(model: Brightness, given: sa.Profile) -> None:
    for what, p in _every_profile(given):
        first = sa.mood(p, model)
        assert sa.mood(p, model) == first, f"{what}: asked twice"
        assert sa.mood(sa.Profile.from_json(p.to_json()), model) == first, f"{what}: a copy"


def test_no_signal_gives_the_neutral_mood(model: Brightness) -> None:
    checked = 0
    for what, p in probe_profiles():
        if any(s in p.signals for s in model.signals):
            continue
        m = sa.mood(p, model)
        neutral = sa.Mood(0.0, 0.0, 0.0, model=model.name)
        assert m == neutral, f"{what} (signals {p.signals}): {m.to_dict()} is not {neutral.to_dict()}"
        checked += 1
    assert checked > 0


def test_declared_signals_give_confidence(model: Brightness, given: sa.Profile) -> None:
    declared: Optional[List[str]] = model.signals
    assert declared, "the model declares no signals"
    assert len(set(declared)) == len(declared), declared
    for s in declared:
        assert s in given.signals, f"the given profile lacks {s}"
    m = sa.mood(given, model)
    assert m.confidence > 0, m.to_dict()


def test_used_signals_are_declared_and_present(model: Brightness, given: sa.Profile) -> None:
    for what, p in _every_profile(given):
        m = sa.mood(p, model)
        for s in m.signals:
            assert s in model.signals, f"{what}: used {s}, which the model does not declare"
            assert s in p.signals, f"{what}: used {s}, which the profile lacks ({p.signals})"
