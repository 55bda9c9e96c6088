"""Painting on the tiny Stable Diffusion pipeline: random weights, the real
code path (text encoder, UNet, scheduler, VAE), 64x64 noise."""

import inspect
import io
import pickle
import threading
import time
from pathlib import Path
from typing import List, Tuple

import pytest
from PIL import Image

import spotifyart as sa
from conftest import run_python


def test_generate_returns_a_pil_image_with_its_story(tiny: sa.Generator, alice: sa.Profile, bob: sa.Profile) -> None:
    img = tiny.generate(sa.match(alice, bob))
    assert isinstance(img, Image.Image) and img.size == (64, 64)
    assert "intertwined" in img.info["spotifyart.prompt"]
    assert img.info["spotifyart.model"] == "tiny" and img.info["spotifyart.seed"] == 0


def test_nothing_is_painted_twice(tiny: sa.Generator, alice: sa.Profile, bob: sa.Profile) -> None:
    pair = sa.match(alice, bob)
    first = tiny.paint(pair, seed=11)
    again = tiny.paint(sa.match(bob, alice), seed=11)
    assert again.reused and again.id == first.id and again.png == first.png
    other = tiny.paint(pair, seed=12)
    assert not other.reused and other.id != first.id and other.png != first.png
    neg = tiny.paint(pair, seed=11, negative_prompt="text, watermark")
    assert not neg.reused and neg.negative_prompt == "text, watermark"


def test_deterministic_across_generators(alice: sa.Profile) -> None:
    m = sa.mood(alice)
    a = sa.Generator("tiny", device="cpu", progress=False).paint(m, seed=5)
    b = sa.Generator("tiny", device="cpu", progress=False).paint(m, seed=5)
    assert a.png == b.png and a.sha256 == b.sha256
    # seed=None derives the seed from the moods: the same people, the same picture.
    c = sa.Generator("tiny", device="cpu", progress=False).paint(m, seed=None)
    d = sa.Generator("tiny", device="cpu", progress=False).paint(m, seed=None)
    assert c.seed == d.seed and c.png == d.png


def test_prompts_moods_and_matches(tiny: sa.Generator, alice: sa.Profile) -> None:
    art = tiny.paint("a lighthouse in a storm", steps=3, width=48, height=32)
    assert (art.width, art.height, art.steps, art.prompt) == (48, 32, 3, "a lighthouse in a storm")
    assert Image.open(io.BytesIO(art.png)).size == (48, 32)
    mood_art = tiny.paint(sa.mood(alice), style="watercolor")
    assert "watercolor" in mood_art.prompt
    with pytest.raises(sa.InvalidInput, match="empty"):
        tiny.paint("   ")
    with pytest.raises(TypeError, match="Match, a spotifyart.Mood or a prompt"):
        tiny.paint(42)  # type: ignore[arg-type]


def test_bad_settings_are_clear_errors(tiny: sa.Generator) -> None:
    with pytest.raises(sa.InvalidInput, match="multiple of 8"):
        tiny.paint("x", width=63)
    with pytest.raises(sa.InvalidInput, match="steps"):
        tiny.paint("x", steps=10_000)
    with pytest.raises(sa.InvalidInput, match="style"):
        tiny.paint("x", style="cubism")
    with pytest.raises(sa.InvalidInput, match="sd-turbo"):
        sa.Generator("sd-9")
    with pytest.raises(sa.InvalidInput, match="auto, cpu, cuda"):
        sa.Generator("tiny", device="tpu")
    with pytest.raises(sa.InvalidInput, match="decoder"):
        sa.Generator("tiny", decoder="fast")
    with pytest.raises(sa.InvalidInput, match="auto, f32 or bf16"):
        sa.Generator("tiny", precision="fp8")


def test_the_default_model_is_the_one_every_surface_uses() -> None:
    # The CLI, the server and Python share one constant; the signature
    # shows it as a literal, so this pins the two together.
    default = inspect.signature(sa.Generator).parameters["model"].default
    assert default == sa.DEFAULT_MODEL == "sd-turbo"
    assert sa.Generator(device="cpu", progress=False).model == sa.DEFAULT_MODEL


def test_missing_weights_say_which_files_and_how_to_get_them(tmp_path: Path) -> None:
    g = sa.Generator("sd-turbo", model_dir=tmp_path, device="cpu", progress=False)
    with pytest.raises(sa.ModelError) as e:
        g.load()
    msg = str(e.value)
    assert "unet" in msg and "diffusion_pytorch_model" in msg and "huggingface-cli download" in msg


def test_models_and_the_palette_painter(tiny: sa.Generator) -> None:
    ids = [m["id"] for m in tiny.models()]
    assert ids[0] == "tiny" and {"sd-turbo", "sd-1.5", "sdxl", "palette"} <= set(ids)
    kinds = {m["id"]: m["kind"] for m in tiny.models()}
    assert kinds["tiny"] == "test" and kinds["sd-turbo"] == "stable_diffusion" and kinds["palette"] == "procedural"
    art = tiny.paint("x", model="palette", width=64, height=64)
    assert art.model == "palette"
    tiny.load("palette")  # nothing to load


def test_progress_reaches_a_callable_and_a_plain_bar(alice: sa.Profile, capsys: pytest.CaptureFixture[str]) -> None:
    seen: List[Tuple[str, int, int]] = []
    g = sa.Generator("tiny", device="cpu", progress=lambda stage, step, total: seen.append((stage, step, total)))
    g.paint("slow enough to be seen", steps=20, width=128, height=128)
    stages = [s for s, _, _ in seen]
    assert "denoising" in stages and stages[-1] == "decoding"
    assert all(0 <= step <= total for _, step, total in seen)
    g.paint("plain", steps=20, width=128, height=128, progress="plain")
    err = capsys.readouterr().err
    assert "painting [" in err or "decoding [" in err
    with pytest.raises(ValueError, match="progress must be"):
        g.paint("x", progress="fancy")


def test_artwork_object(tiny: sa.Generator, tmp_path: Path) -> None:
    art = tiny.paint("a red door", steps=2)
    assert art._repr_png_().startswith(b"\x89PNG")
    assert art.image().size == (64, 64)
    out = tmp_path / "door.png"
    art.save(out)
    assert out.read_bytes() == art.png
    assert not list(tmp_path.glob(".*tmp*"))
    with pytest.raises(sa.IoError):
        art.save(tmp_path / "missing" / "door.png")
    d = art.to_dict()
    assert d["id"] == art.id and d["request"]["prompt"] == "a red door" and "png" not in d
    back = pickle.loads(pickle.dumps(art))
    assert back.png == art.png and back.id == art.id and back.created_at == art.created_at
    assert repr(art).startswith(f"Artwork(id='{art.id}', model='tiny', width=64, height=64")


def test_handles_refuse_pickling(tiny: sa.Generator) -> None:
    with pytest.raises(TypeError, match="loaded model weights"):
        pickle.dumps(tiny)


def test_without_pillow_generate_returns_png_bytes() -> None:
    out = run_python(
        "import sys; sys.modules['PIL'] = None\n"
        "import spotifyart as sa\n"
        "png = sa.Generator('tiny', device='cpu', progress=False).generate('x', steps=2)\n"
        "assert isinstance(png, bytes) and png[:4] == b'\\x89PNG', type(png)\n"
        "art = sa.Generator('tiny', device='cpu', progress=False).paint('x', steps=2)\n"
        "try:\n    art.image()\nexcept ImportError as e:\n    print('ImportError:', e)\n"
    )
    assert out.returncode == 0, out.stderr
    assert "pip install pillow" in out.stdout


def test_painting_releases_the_gil(tiny: sa.Generator) -> None:
    tiny.paint("warm up", steps=2)
    done = threading.Event()

    def paint() -> None:
        tiny.paint("while python runs", steps=12, width=128, height=128)
        done.set()

    t = threading.Thread(target=paint)
    t.start()
    spins = 0
    while not done.is_set():
        spins += 1
    t.join()
    assert spins > 100_000, spins


def test_ctrl_c_cancels_painting_and_the_interpreter_lives_on() -> None:
    out = run_python(
        "import os, signal, threading, time\n"
        "import spotifyart as sa\n"
        "g = sa.Generator('tiny', device='cpu', progress=False)\n"
        "g.load()\n"
        "threading.Timer(1.5, lambda: os.kill(os.getpid(), signal.SIGINT)).start()\n"
        "start = time.time()\n"
        "try:\n"
        "    g.paint('a long one', steps=50, width=256, height=256)\n"
        "    print('finished')\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted after', round(time.time() - start, 2))\n"
        "time.sleep(3)  # the painting stops at its next step\n"
        "cpu = os.times()\n"
        "time.sleep(2)\n"
        "busy = os.times().user - cpu.user\n"
        "print('busy', round(busy, 2))\n"
        "print('alive', g.paint('after', steps=2).width)\n",
        timeout=180,
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("interrupted after"), out.stdout
    assert float(lines[0].split()[-1]) < 3.0
    assert float(lines[1].split()[-1]) < 0.5, "the cancelled painting kept running"
    assert lines[2] == "alive 64"
