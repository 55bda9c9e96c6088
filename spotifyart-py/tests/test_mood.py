import os
import pickle
import re
from typing import Any

import pytest

import spotifyart as sa


def test_builtin_models_by_name(alice: sa.Profile) -> None:
    assert sa.mood_models() == ["auto", "features", "genres", "embedding", "covers", "behaviour"]
    m = sa.mood(alice)
    assert m.model.startswith("auto")
    assert -1 <= m.valence <= 1 and -1 <= m.arousal <= 1 and 0 < m.confidence <= 1
    genres = sa.mood(alice, "genres")
    assert genres.model == "genres" and genres.signals == ["names"]
    # An export has no audio features: that model gives the neutral mood.
    neutral = sa.mood(alice, "features")
    assert (neutral.valence, neutral.arousal, neutral.confidence) == (0, 0, 0)
    assert sa.mood(alice, time_range="short_term") == sa.mood(alice.only("short_term"))
    with pytest.raises(sa.InvalidInput, match="auto, features, genres, embedding, covers, behaviour"):
        sa.mood(alice, "magic")
    with pytest.raises(sa.InvalidInput, match="mood model's name"):
        sa.mood(alice, 42)  # type: ignore[arg-type]


def test_mood_values(alice: sa.Profile) -> None:
    m = sa.mood(alice)
    assert len(m.palette) == 5 and all(re.fullmatch(r"#[0-9a-f]{6}", c) for c in m.palette)
    assert len(m.palette_names) == 5
    assert m.descriptors[0] == m.label
    assert 0 <= m.intensity <= 1
    assert pickle.loads(pickle.dumps(m)) == m
    assert sa.Mood.from_dict(m.to_dict()) == m
    assert repr(m).startswith(f"Mood(label='{m.label}', valence=")
    html = m._repr_html_()
    assert html.count("<span title=") == 5 and "<svg" in html and m.label.capitalize() in html


def test_mood_by_hand_clamps_and_blends() -> None:
    a = sa.Mood(3.0, 0.5, confidence=2.0, signals=["names"], model="mine")
    assert (a.valence, a.arousal, a.confidence, a.model) == (1.0, 0.5, 1.0, "mine")
    b = sa.Mood(-0.6, -0.4, 0.3)
    ab, ba = a.blend(b), b.blend(a)
    assert abs(ab.valence - ba.valence) < 1e-6 and b.valence < ab.valence < a.valence
    assert abs(a.distance(b) - b.distance(a)) < 1e-6
    with pytest.raises(sa.InvalidInput, match="unknown signal"):
        sa.Mood(0, 0, signals=["vibes"])


class Constant:
    """A mood model of the user's own: a fixed point."""

    name = "constant"
    signals = ["names"]

    def __init__(self, result: Any) -> None:
        self.result = result
        self.seen: list[sa.Profile] = []

    def mood(self, profile: sa.Profile) -> Any:
        self.seen.append(profile)
        return self.result


@pytest.mark.parametrize(
    "result",
    [(0.5, -0.5), (0.5, -0.5, 0.8), {"valence": 0.5, "arousal": -0.5, "confidence": 0.8}, sa.Mood(0.5, -0.5, 0.8)],
)
def test_python_objects_are_mood_models(alice: sa.Profile, bob: sa.Profile, result: Any) -> None:
    model = Constant(result)
    m = sa.mood(alice, model)
    assert (round(m.valence, 3), round(m.arousal, 3)) == (0.5, -0.5)
    assert m.label == "serene"
    assert model.seen == [alice]
    if not isinstance(result, sa.Mood):
        assert m.model == "constant" and m.signals == ["names"]
    pair = sa.match(alice, bob, model)
    assert pair.mood_a.label == pair.mood_b.label == "serene"
    assert pair.mood_distance == 0


def test_a_lambda_like_object_without_name_uses_its_class_name(alice: sa.Profile) -> None:
    class Happy:
        def mood(self, profile: sa.Profile) -> Any:
            return (0.9, 0.7)

    assert sa.mood(alice, Happy()).model == "Happy"


def test_a_failing_python_model_is_a_model_error_with_its_cause(alice: sa.Profile) -> None:
    class Broken:
        def mood(self, profile: sa.Profile) -> Any:
            raise RuntimeError("the model is broken")

    with pytest.raises(sa.ModelError, match="the model is broken") as e:
        sa.mood(alice, Broken())
    assert isinstance(e.value.__cause__, RuntimeError)

    with pytest.raises(sa.ModelError, match="return a spotifyart.Mood") as e:
        sa.mood(alice, Constant("happy"))
    assert isinstance(e.value.__cause__, TypeError)


def test_ctrl_c_inside_a_python_model_stays_a_keyboard_interrupt(alice: sa.Profile) -> None:
    class Interrupted:
        def mood(self, profile: sa.Profile) -> Any:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sa.mood(alice, Interrupted())


def test_the_embedding_model_with_real_minilm_weights(alice: sa.Profile) -> None:
    folder = os.environ.get("SPOTIFYART_MINILM_DIR")
    if not folder:
        if os.environ.get("SPOTIFYART_REQUIRE_TEST_ASSETS") == "1":
            pytest.fail("SPOTIFYART_MINILM_DIR is not set (scripts/test-assets prints it)")
        pytest.skip("no MiniLM weights (scripts/test-assets)")
    m = sa.mood(alice, "embedding", embedding_model_dir=folder)
    assert m.model == "embedding" and m.confidence > 0
    with pytest.raises(sa.ModelError, match="model.safetensors"):
        sa.mood(alice, "embedding", embedding_model_dir="/nonexistent/minilm")
