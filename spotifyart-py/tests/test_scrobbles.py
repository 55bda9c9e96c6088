"""ListenBrainz and Last.fm users from a notebook: the public listening of
anyone by username, against the Rust fake ListenBrainz (as a process), and
a match between a Spotify export and a ListenBrainz user."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Iterator

import pytest

import spotifyart as sa
from conftest import ROOT


def _binary() -> Path:
    fake = os.environ.get("SPOTIFYART_FAKE_SPOTIFY")
    target = Path(fake).parent if fake else Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "debug"
    binary = target / "fake-listenbrainz"
    if not binary.exists():
        pytest.fail(f"no {binary}: build it with `cargo test --workspace --no-run`")
    return binary


def _listens(profile: sa.Profile) -> list[list[object]]:
    """Plays of the profile's top tracks over the last weeks, the higher
    ranked played more often."""
    now = int(time.time())
    out: list[list[object]] = []
    for rank, t in enumerate(profile.top_tracks("medium_term", limit=20)):
        for k in range(max(1, 20 - rank)):
            ts = now - 3600 * (7 + (rank * 37 + k * 53) % 1400)
            out.append([ts, t["artists"][0], t["name"], t.get("album") or ""])
    return out


class FakeListenBrainz:
    def __init__(self, users: dict[str, Path]) -> None:
        args = [str(_binary())]
        for name, path in users.items():
            args += ["--user", f"{name}={path}"]
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.url = json.loads(self.proc.stdout.readline())["url"]

    def command(self, line: str) -> str:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait(timeout=10)


@pytest.fixture()
def listenbrainz(bob: sa.Profile, tmp_path: Path) -> Iterator[FakeListenBrainz]:
    listens = tmp_path / "bob.json"
    listens.write_text(json.dumps(_listens(bob)))
    f = FakeListenBrainz({"bob_lb": listens})
    yield f
    f.close()


def test_a_listenbrainz_user_matches_a_spotify_export(listenbrainz, alice) -> None:  # type: ignore[no-untyped-def]
    lb = sa.ListenBrainz("bob_lb", api_url=listenbrainz.url)
    assert repr(lb) == "ListenBrainz(user='bob_lb')" and lb.user == "bob_lb"
    p = lb.profile()
    assert isinstance(p, sa.Profile)
    assert p.source == "listenbrainz" and p.top_artists(limit=1)
    assert sa.mood(p).confidence > 0
    m = sa.match(alice, p)
    assert 0 <= m.score <= 100 and m.explanation
    short = lb.profile("short_term")
    assert short.top_artists("long_term") == []


def test_listenbrainz_errors_are_clear_and_hide_the_token(listenbrainz) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(sa.NotFound, match="nobody_here"):
        sa.ListenBrainz("nobody_here", api_url=listenbrainz.url).profile()
    with pytest.raises(sa.InvalidInput):
        sa.ListenBrainz("a/b", api_url=listenbrainz.url)
    listenbrainz.command("token right-token")
    secret = "wrong-token-123456"
    lb = sa.ListenBrainz("bob_lb", token=secret, api_url=listenbrainz.url)
    assert secret not in repr(lb)
    with pytest.raises(sa.Unauthorized) as refused:
        lb.profile()
    assert "token" in str(refused.value) and secret not in str(refused.value)
    assert sa.ListenBrainz("bob_lb", token="right-token", api_url=listenbrainz.url).profile().top_artists()


def test_lastfm_needs_a_key_and_says_so(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("LASTFM_API_KEY", raising=False)
    monkeypatch.delenv("LASTFM_API_KEY_FILE", raising=False)
    with pytest.raises(sa.InvalidInput, match="LASTFM_API_KEY"):
        sa.Lastfm("someone")
    fm = sa.Lastfm("someone", api_key="0123456789abcdef0123456789abcdef")
    assert "0123456789abcdef" not in repr(fm)
