"""The notebook sign-in against the local fake Spotify: authorization code
with PKCE (the fake checks the S256 challenge), state bound to this sign-in,
refresh, and Spotify's error answers."""

import pickle
import time
from pathlib import Path

import pytest

import spotifyart as sa
from conftest import CLIENT_ID, consent


def test_sign_in_with_pkce_and_read_the_listening(fake) -> None:  # type: ignore[no-untyped-def]
    sp = fake.client()
    assert not sp.signed_in and "not signed in" in repr(sp)
    url = sp.authorize_url()
    assert "code_challenge_method=S256" in url and "state=" in url and f"client_id={CLIENT_ID}" in url
    sp.finish(consent(url))
    assert sp.signed_in
    assert sp.me()["display_name"] == "Sunny"
    assert repr(sp) == f"Spotify(client_id='{CLIENT_ID}', signed in as 'Sunny')"
    p = sp.profile()
    assert p.source == "spotify_api" and "names" in p.signals
    assert p.top_artists(limit=1)
    assert sa.mood(p).confidence > 0
    short = sp.profile("short_term")
    assert short.top_artists("long_term") == []


def test_login_takes_the_pasted_address(fake, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    sp = fake.client()
    pasted = {}

    def fake_input(prompt: str) -> str:
        printed = capsys.readouterr().out
        url = printed.split()[-1]
        pasted["url"] = url
        return consent(url)

    monkeypatch.setattr("builtins.input", fake_input)
    sp.login()
    assert sp.signed_in and pasted["url"].startswith(fake.url)


def test_a_bare_code_is_accepted(fake) -> None:  # type: ignore[no-untyped-def]
    sp = fake.client()
    redirected = consent(sp.authorize_url())
    code = redirected.split("code=")[1].split("&")[0]
    sp.finish(code)
    assert sp.signed_in


def test_forged_state_replay_and_denial_are_refused(fake) -> None:  # type: ignore[no-untyped-def]
    sp = fake.client()
    real = consent(sp.authorize_url())
    forged = real.split("state=")[0] + "state=forged"
    with pytest.raises(sa.Unauthorized, match="state does not match"):
        sp.finish(forged)
    assert not sp.signed_in
    with pytest.raises(sa.InvalidInput, match="no sign-in is in progress"):
        sp.finish(real)  # the sign-in is single-use, even after a failure
    fake.command("deny true")
    with pytest.raises(sa.Unauthorized, match="access_denied"):
        sp.finish(consent(sp.authorize_url()))
    with pytest.raises(sa.Unauthorized, match="login"):
        sp.profile()


def test_tokens_refresh_themselves(fake) -> None:  # type: ignore[no-untyped-def]
    sp = fake.client()
    sp.finish(consent(sp.authorize_url()))
    refreshes = int(fake.command("count /api/token"))
    fake.command("expire")
    assert sp.profile().top_artists(limit=1)
    assert int(fake.command("count /api/token")) > refreshes


def signed_in(fake):  # type: ignore[no-untyped-def]
    sp = fake.client()
    sp.finish(consent(sp.authorize_url()))
    return sp


def test_a_429_is_upstream_busy_with_retry_after(fake) -> None:  # type: ignore[no-untyped-def]
    sp = signed_in(fake)
    fake.command("fail /v1/me/top 429 30 1")  # longer than the client waits by itself
    with pytest.raises(sa.UpstreamBusy) as limited:
        sp.profile()
    assert limited.value.retry_after == 30 and limited.value.code == "upstream_busy"
    assert limited.value.service == "spotify" and isinstance(limited.value, sa.RateLimited)
    # Remembered: within Spotify's 30 s the next call fails at once, unasked.
    started = time.monotonic()
    with pytest.raises(sa.UpstreamBusy) as again:
        sp.profile()
    assert 0 < again.value.retry_after <= 30 and time.monotonic() - started < 2


def test_a_spotify_outage_is_an_upstream_error(fake) -> None:  # type: ignore[no-untyped-def]
    sp = signed_in(fake)
    fake.command("fail /v1/me 503 0 4")  # the first try and three retries
    with pytest.raises(sa.UpstreamError) as upstream:
        sp.profile()
    assert upstream.value.status == 503 and upstream.value.service == "spotify"


def test_revoked_access_is_its_own_error(fake) -> None:  # type: ignore[no-untyped-def]
    sp = signed_in(fake)
    fake.command("revoke sunny.listener")
    with pytest.raises(sa.Revoked) as revoked:
        sp.profile()
    assert isinstance(revoked.value, sa.Unauthorized)
    assert "sign in with spotify again" in str(revoked.value)


def test_a_store_keeps_the_sign_in_for_the_next_session(fake, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    store = sa.Store(f"sqlite://{tmp_path / 'spotify.db'}")
    assert not fake.client(store=store).signed_in
    sp = fake.client(store=store)
    sp.finish(consent(sp.authorize_url()))
    again = fake.client(store=sa.Store(f"sqlite://{tmp_path / 'spotify.db'}"))
    assert again.signed_in and again.me()["display_name"] == "Sunny"
    assert again.profile().top_artists(limit=1)
    with pytest.raises(sa.NotFound):
        fake.client(store=store, account="someone-else")
    fake.command("approve midnight.listener")
    second = fake.client(store=store)
    second.sign_out()  # forgets Sunny's stored tokens
    assert not fake.client(store=store).signed_in
    m = fake.client(store=store)
    m.finish(consent(m.authorize_url()))
    assert m.me()["display_name"] == "Midnight"


def test_the_client_id_comes_from_the_environment(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("SPOTIFY_CLIENT_ID", raising=False)
    with pytest.raises(sa.InvalidInput, match="SPOTIFY_CLIENT_ID"):
        sa.Spotify()
    monkeypatch.setenv("SPOTIFY_CLIENT_ID", "from-env")
    assert "from-env" in repr(sa.Spotify())
    with pytest.raises(sa.InvalidInput, match="not a URL"):
        sa.Spotify(api_url="not a url")


def test_sign_ins_refuse_pickling(fake) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(TypeError, match="tokens"):
        pickle.dumps(fake.client())
