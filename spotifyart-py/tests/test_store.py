import os
import pickle
import sqlite3
from pathlib import Path

import pytest

import spotifyart as sa


def test_sqlite_keeps_artworks_between_sessions(tmp_path: Path, alice: sa.Profile, bob: sa.Profile) -> None:
    url = f"sqlite://{tmp_path / 'art.db'}"
    store = sa.Store(url)
    assert store.backend == "sqlite" and repr(store) == f"Store('{url}')"
    store.ping()
    pair = sa.match(alice, bob)
    first = sa.Generator("tiny", device="cpu", store=store, progress=False).paint(pair)
    assert not first.reused
    # A new session: another Store and Generator on the same file.
    later = sa.Generator("tiny", device="cpu", store=sa.Store(url), progress=False).paint(pair)
    assert later.reused and later.id == first.id and later.png == first.png
    fetched = sa.Store(url).artwork(first.id)
    assert fetched.png == first.png and fetched.prompt == first.prompt
    assert (tmp_path / "spotifyart.key").exists()


def test_lookups_fail_clearly(tmp_path: Path) -> None:
    store = sa.Store(f"sqlite://{tmp_path / 'x.db'}")
    with pytest.raises(sa.NotFound) as e:
        store.artwork("01890000-0000-7000-8000-000000000000")
    assert isinstance(e.value, LookupError)
    with pytest.raises(sa.InvalidInput, match="not a UUID"):
        store.artwork("nope")


def test_bad_urls_and_keys(tmp_path: Path) -> None:
    with pytest.raises(sa.InvalidInput):
        sa.Store("mysql://localhost/db")
    with pytest.raises(sa.InvalidInput, match="base64"):
        sa.Store(f"sqlite://{tmp_path / 'k.db'}", encryption_key="not a key")
    (tmp_path / "a-file").write_text("")
    with pytest.raises(sa.IoError, match="a-file/spotifyart.key: Not a directory"):
        sa.Store(f"sqlite://{tmp_path / 'a-file' / 'x.db'}")


def test_a_dead_postgres_is_a_storage_error_and_the_password_stays_hidden() -> None:
    with pytest.raises(sa.StorageError) as e:
        sa.Store("postgres://someone:s3cret@127.0.0.1:1/none", encryption_key="A" * 43 + "=")
    assert "cannot open the database postgres://someone:" in str(e.value)
    assert "s3cret" not in str(e.value)


def test_postgres_when_configured(alice: sa.Profile) -> None:
    url = os.environ.get("SPOTIFYART_TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("SPOTIFYART_REQUIRE_POSTGRES") == "1":
            pytest.fail("SPOTIFYART_TEST_POSTGRES_URL is not set")
        pytest.skip("SPOTIFYART_TEST_POSTGRES_URL is not set")
    key = "A" * 43 + "="
    store = sa.Store(url, encryption_key=key)
    assert store.backend == "postgres"
    m = sa.mood(alice)
    seed = int.from_bytes(os.urandom(4), "little")  # a picture no earlier run stored
    art = sa.Generator("tiny", device="cpu", store=store, progress=False).paint(m, seed=seed)
    again = sa.Generator("tiny", device="cpu", store=sa.Store(url, encryption_key=key), progress=False).paint(m, seed=seed)
    assert not art.reused and again.reused and again.id == art.id


def test_store_refuses_pickling(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="open database connections"):
        pickle.dumps(sa.Store(f"sqlite://{tmp_path / 'p.db'}"))


def test_tokens_are_encrypted_at_rest(tmp_path: Path, fake) -> None:  # type: ignore[no-untyped-def]
    from conftest import consent

    db = tmp_path / "tokens.db"
    store = sa.Store(f"sqlite://{db}")
    sp = fake.client(store=store)
    sp.finish(consent(sp.authorize_url()))
    rows = sqlite3.connect(db).execute("SELECT access_ciphertext, refresh_ciphertext FROM oauth_tokens").fetchall()
    assert len(rows) == 1 and all(rows[0])
    # The fake's tokens look like Spotify's (BQ-..., AQ-...): none on disk.
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("tokens.db*"))
    assert b"BQ-" not in raw and b"AQ-" not in raw
