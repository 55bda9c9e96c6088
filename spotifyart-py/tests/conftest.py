"""Shared fixtures: the sample exports, a tiny Stable Diffusion generator
(random weights, paints noise, on the real pipeline) and a local fake
Spotify (the Rust fake, as a process)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest

import spotifyart as sa

ROOT = Path(__file__).resolve().parents[2]
EXPORTS = ROOT / "examples" / "exports"
PROFILES = ROOT / "examples" / "profiles"
CLIENT_ID = "notebook-client"
REDIRECT = "http://127.0.0.1:8888/callback"


@pytest.fixture(scope="session")
def alice() -> sa.Profile:
    return sa.load_export(EXPORTS / "alice")


@pytest.fixture(scope="session")
def bob() -> sa.Profile:
    return sa.load_export(EXPORTS / "bob")


@pytest.fixture(scope="session")
def carol() -> sa.Profile:
    return sa.load_export(EXPORTS / "carol.zip")


@pytest.fixture(scope="session")
def tiny() -> sa.Generator:
    """The tiny test pipeline on the CPU, shared (weights build once)."""
    return sa.Generator("tiny", device="cpu", progress=False)


def _fake_binary() -> Path:
    given = os.environ.get("SPOTIFYART_FAKE_SPOTIFY")
    if given:
        return Path(given)
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    binary = target / "debug" / "fake-spotify"
    if not binary.exists():
        cargo = shutil.which("cargo")
        if cargo is None:
            pytest.skip("the fake Spotify needs cargo to build it")
        subprocess.run(
            [cargo, "build", "-q", "-p", "spotifyart-spotify", "--features", "fake", "--bin", "fake-spotify"],
            cwd=ROOT,
            check=True,
        )
    return binary


class FakeSpotify:
    """The fake accounts service and Web API, driven over its stdin."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [
                str(_fake_binary()),
                "--client-id", CLIENT_ID,
                "--redirect-uri", REDIRECT,
                "--user", f"sunny.listener=Sunny={PROFILES / 'sunny.json'}",
                "--user", f"midnight.listener=Midnight={PROFILES / 'midnight.json'}",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.url = json.loads(self.proc.stdout.readline())["url"]

    def command(self, line: str) -> str:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline().strip()
        assert not answer.startswith("error"), answer
        return answer

    def client(self, **kwargs: object) -> sa.Spotify:
        return sa.Spotify(CLIENT_ID, accounts_url=self.url, api_url=self.url, redirect_uri=REDIRECT, **kwargs)  # type: ignore[arg-type]

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait(timeout=10)


@pytest.fixture()
def fake() -> Iterator[FakeSpotify]:
    f = FakeSpotify()
    yield f
    f.close()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def consent(url: str) -> str:
    """What a browser does on Spotify's consent page: the user allows, and
    Spotify redirects; returns the address it redirects to."""
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        opener.open(url)
    except urllib.error.HTTPError as e:
        assert e.code in (302, 303), e
        return e.headers["Location"]
    raise AssertionError("the consent page did not redirect")


def run_python(code: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Runs `code` in a fresh interpreter with this one's environment."""
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, cwd=ROOT
    )
