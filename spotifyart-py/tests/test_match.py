import pickle

import spotifyart as sa


def test_match_is_symmetric_and_explained(alice: sa.Profile, bob: sa.Profile) -> None:
    ab, ba = sa.match(alice, bob), sa.match(bob, alice)
    assert ab.score == ba.score and 0 <= ab.score <= 100
    assert ab.shared_artists == ["Radiohead", "Fleetwood Mac"]
    assert ab.explanation.startswith(f"Score {ab.score}/100")
    assert ab.reasons and ab.explanation == " ".join(ab.reasons)
    assert ab.mood_a == ba.mood_b and ab.blended.label == ba.blended.label
    lo, hi = sorted([ab.mood_a.valence, ab.mood_b.valence])
    assert lo <= ab.blended.valence <= hi
    assert set(ab.components) == {"artists", "genres", "mood"}
    assert abs(ab.mood_distance - ab.mood_a.distance(ab.mood_b)) < 1e-5


def test_match_data_display_and_pickle(alice: sa.Profile, bob: sa.Profile) -> None:
    m = sa.match(alice, bob)
    d = m.to_dict()
    assert d["score"] == m.score and d["blended"]["label"] == m.blended.label
    assert sa.Match.from_dict(d) == m
    assert pickle.loads(pickle.dumps(m)) == m
    assert repr(m).startswith(f"Match(score={m.score}, shared_artists=['Radiohead', 'Fleetwood Mac']")
    html = m._repr_html_()
    assert html.count("<circle") == 3 and ">together</text>" in html
    assert "Radiohead" in html and f"{m.score}<span" in html


def test_the_same_person_matches_fully(alice: sa.Profile) -> None:
    assert sa.match(alice, alice).score >= 90
