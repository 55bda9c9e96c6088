import json
import pickle
import zipfile
from pathlib import Path

import pytest

import spotifyart as sa
from conftest import EXPORTS, PROFILES


def test_every_sample_export_shape_reads(alice: sa.Profile, bob: sa.Profile, carol: sa.Profile) -> None:
    for p in (alice, bob, carol):
        assert p.source == "spotify_export"
        assert not p.is_empty
        assert "names" in p.signals and "play_times" in p.signals
        artists = p.top_artists(limit=5)
        assert 0 < len(artists) <= 5
        assert abs(sum(a["weight"] for a in p.top_artists(limit=1000)) - 1.0) < 1e-3
        start, end = p.period
        assert start < end
    # Alice's folder also holds playlists, library, Wrapped and video history.
    assert any("Wrapped" in n or "not listening history" in n or "video" in n.lower() for n in alice.notes), alice.notes


def test_a_single_history_file_reads() -> None:
    one = EXPORTS / "bob" / "MyData" / "StreamingHistory_music_0.json"
    p = sa.load_export(one)
    assert not p.is_empty


def test_ranges_and_only(alice: sa.Profile) -> None:
    short = alice.top_artists("short_term", limit=3)
    assert [a["rank"] for a in short] == list(range(1, len(short) + 1))
    only = alice.only("long_term")
    assert only.top_artists("short_term") == []
    with pytest.raises(sa.InvalidInput, match="short_term, medium_term or long_term"):
        alice.top_tracks("last_week")
    with pytest.raises(ValueError):
        alice.only("yesterday")


def test_missing_path_is_an_io_error(tmp_path: Path) -> None:
    with pytest.raises(sa.IoError) as e:
        sa.load_export(tmp_path / "nope")
    assert isinstance(e.value, OSError)
    assert e.value.code == "io"
    assert str(tmp_path / "nope") in str(e.value)


def test_malformed_history_names_file_line_and_column(tmp_path: Path) -> None:
    bad = tmp_path / "StreamingHistory_music_0.json"
    bad.write_text('[\n {"endTime": "2024-01-01 10:00", "artistName": "A",\n  "trackName": ]\n')
    with pytest.raises(sa.InvalidInput) as e:
        sa.load_export(bad)
    assert "StreamingHistory_music_0.json" in str(e.value) and "line 3" in str(e.value)


def test_a_zip_without_history_says_what_it_expected(tmp_path: Path) -> None:
    z = tmp_path / "my_spotify_data.zip"
    with zipfile.ZipFile(z, "w") as f:
        f.writestr("MyData/Playlist1.json", json.dumps({"playlists": []}))
    with pytest.raises(sa.InvalidInput, match="StreamingHistory.*Streaming_History_Audio.*Playlist1.json"):
        sa.load_export(z)


def test_json_and_dict_round_trips(alice: sa.Profile) -> None:
    assert sa.Profile.from_json(alice.to_json()) == alice
    assert sa.Profile.from_json(alice.to_json(indent=2)) == alice
    d = alice.to_dict()
    assert d["schema"].startswith("spotifyart.profile/")
    assert sa.Profile.from_dict(d) == alice
    hand = json.loads((PROFILES / "sunny.json").read_text())
    assert sa.Profile.from_dict(hand).source
    with pytest.raises(sa.InvalidInput, match="line 1"):
        sa.Profile.from_json("{not json")


def test_pickle_repr_and_html(alice: sa.Profile) -> None:
    assert pickle.loads(pickle.dumps(alice)) == alice
    r = repr(alice)
    assert r.startswith("Profile(source='spotify_export', artists=") and "signals=['names'" in r
    html = alice._repr_html_()
    assert "ABBA" in html and "<ol" in html
    assert alice.behaviour is not None and alice.behaviour["plays"] > 0
