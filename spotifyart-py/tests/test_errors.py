import subprocess
import sys
from pathlib import Path

import pytest

import spotifyart as sa
from spotifyart._errors import BY_CODE

CODES = [
    "not_found", "already_exists", "conflict", "unauthorized", "revoked", "forbidden", "rate_limited",
    "upstream_busy", "upstream_failed", "invalid_input", "not_supported", "cancelled", "io", "storage_failed",
    "storage_full", "model_failed", "internal",
]


def test_one_class_per_core_error_code() -> None:
    assert sorted(BY_CODE) == sorted(CODES)
    for code, cls in BY_CODE.items():
        assert issubclass(cls, sa.SpotifyArtError) and cls.code == code
        assert getattr(sa, cls.__name__) is cls
    assert issubclass(sa.InvalidInput, ValueError)
    assert issubclass(sa.NotFound, LookupError)
    assert issubclass(sa.IoError, OSError)
    assert issubclass(sa.Revoked, sa.Unauthorized)
    assert issubclass(sa.StorageFull, sa.StorageError)
    assert issubclass(sa.UpstreamBusy, sa.UpstreamError) and issubclass(sa.UpstreamBusy, sa.RateLimited)
    assert sa.UpstreamBusy.__module__ == "spotifyart"


def test_errors_from_the_engine_carry_their_code(tmp_path: Path) -> None:
    with pytest.raises(sa.SpotifyArtError) as e:
        sa.load_export(tmp_path / "missing")
    assert e.value.code == "io" and e.value.filename == str(tmp_path / "missing")
    assert str(e.value) == e.value.message


def test_the_stubs_match_the_module() -> None:
    """mypy's stubtest compares _spotifyart.pyi with the built module:
    names, signatures, defaults; it fails when they drift apart."""
    pytest.importorskip("mypy")
    out = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "spotifyart"], capture_output=True, text=True, cwd="/"
    )
    assert out.returncode == 0, out.stdout + out.stderr
