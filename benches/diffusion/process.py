"""Whole processes, as a user meets them: `spotifyart art` against a plain
diffusers script (import, from_pretrained, one pipe() call, save), on the
same SD-Turbo folder in the hub layout, one after the other in the same
run. Wall time from start to exit and peak resident memory (wait4's
ru_maxrss) of each process; the full VAE and TAESD.

    python process.py setup ROOT          # ROOT/sd-turbo-hub from ROOT/sd-turbo
    python process.py compare ROOT BIN EXPORT_A EXPORT_B [REPEAT]
"""

import glob
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# The user's script, verbatim apart from the paths: what someone who
# picked diffusers instead would run.
DIFFUSERS_SCRIPT = """
import sys
import torch
from diffusers import AutoencoderTiny, StableDiffusionPipeline
pipe = StableDiffusionPipeline.from_pretrained(sys.argv[1])
if sys.argv[3] == "tiny":
    pipe.vae = AutoencoderTiny.from_pretrained(sys.argv[1] + "/taesd")
image = pipe(sys.argv[4], num_inference_steps=1, guidance_scale=0.0,
             height=512, width=512).images[0]
image.save(sys.argv[2])
"""

PROMPT = ("an abstract painting of two moods meeting, warm amber and deep teal, "
          "soft light, expressive brush strokes")


def clip_tokenizer_files(out):
    """vocab.json and merges.txt of OpenAI's CLIP BPE, built from the
    merges file the Rust tokenizer crate ships (no download)."""
    found = glob.glob(os.path.expanduser(
        "~/.cargo/registry/src/*/instant-clip-tokenizer-*/bpe_simple_vocab_16e6.txt"))
    if not found:
        raise SystemExit("bpe_simple_vocab_16e6.txt not found: build the workspace first")
    lines = Path(found[0]).read_text(encoding="utf-8").split("\n")
    merges = [tuple(m.split()) for m in lines[1:49152 - 256 - 2 + 1]]
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    vocab = [chr(c) for c in cs]
    vocab += [v + "</w>" for v in vocab]
    vocab += ["".join(m) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    out.mkdir(parents=True, exist_ok=True)
    (out / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(vocab)}),
                                    encoding="utf-8")
    (out / "merges.txt").write_text(
        "#version: 0.2\n" + "\n".join(" ".join(m) for m in merges) + "\n", encoding="utf-8")


def setup(root):
    root = Path(root)
    hub = root / "sd-turbo-hub"
    if (hub / "done").exists():
        return
    from diffusers import (AutoencoderKL, EulerAncestralDiscreteScheduler,
                           StableDiffusionPipeline, UNet2DConditionModel)
    from transformers import CLIPTextModel, CLIPTokenizer
    src = root / "sd-turbo"
    with tempfile.TemporaryDirectory() as tmp:
        clip_tokenizer_files(Path(tmp))
        tokenizer = CLIPTokenizer(str(Path(tmp) / "vocab.json"), str(Path(tmp) / "merges.txt"),
                                  pad_token="!", model_max_length=77)
    sched = EulerAncestralDiscreteScheduler(
        beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
        timestep_spacing="trailing")
    pipe = StableDiffusionPipeline(
        vae=AutoencoderKL.from_pretrained(src / "vae"),
        text_encoder=CLIPTextModel.from_pretrained(src / "text_encoder"),
        tokenizer=tokenizer, unet=UNet2DConditionModel.from_pretrained(src / "unet"),
        scheduler=sched, safety_checker=None, feature_extractor=None,
        requires_safety_checker=False)
    pipe.save_pretrained(hub)
    # The hub's SD folders also carry the slow tokenizer's files.
    clip_tokenizer_files(hub / "tokenizer")
    shutil.copytree(src / "taesd", hub / "taesd", dirs_exist_ok=True)
    (hub / "done").write_text("ok")


def timed(cmd, env=None):
    """Wall seconds and peak RSS (MiB) of one process; fails loudly."""
    # Output goes to a file, not a pipe: a full pipe would stall the
    # process while wait4 waits for it.
    with tempfile.TemporaryFile() as log:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        log.seek(0)
        text = log.read().decode(errors="replace")
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{cmd[0]} failed:\n{text}")
    return wall, usage.ru_maxrss / 1024, text


def cpu():
    model, flags = platform.processor(), []
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
        if line.startswith("flags"):
            flags = [f for f in line.split(":", 1)[1].split()
                     if f.startswith(("avx", "amx", "fma"))]
            break
    return model, flags


def compare(root, binary, a, b, repeat):
    hub = Path(root) / "sd-turbo-hub"
    model, flags = cpu()
    print(f"CPU: {model}, {os.cpu_count()} threads; {' '.join(flags)}")
    rows = []
    for decoder in ("full", "tiny"):
        ours, theirs = [], []
        for _ in range(repeat):
            with tempfile.TemporaryDirectory() as tmp:
                env = dict(os.environ, SPOTIFYART_DATABASE_URL=f"sqlite://{tmp}/art.db")
                env.setdefault("SPOTIFYART_LOG", "info")
                cmd = [binary, "-v", "art", a, b, "--out", f"{tmp}/ours.png",
                       "--model", "sd-turbo", "--model-dir", str(hub), "--offline",
                       "--device", "cpu", "--decoder", decoder, "--width", "512",
                       "--height", "512"]
                ours.append(timed(cmd, env))
                py = [sys.executable, "-c", DIFFUSERS_SCRIPT, str(hub), f"{tmp}/theirs.png",
                      decoder, PROMPT]
                theirs.append(timed(py))
        o, t = min(ours), min(theirs)
        phases = [line for line in o[2].splitlines() if "phase" in line]
        row = {"case": "process", "decoder": decoder, "spotifyart_s": round(o[0], 2),
               "spotifyart_peak_mib": round(o[1]), "diffusers_s": round(t[0], 2),
               "diffusers_peak_mib": round(t[1]), "ratio": round(o[0] / t[0], 3),
               "cpu": model, "repeat": repeat}
        rows.append(row)
        print(json.dumps(row))
        for line in phases:
            print("   ", line.strip()[-160:])
    print()
    print("| decoder | `spotifyart art` | diffusers script | ratio |")
    print("|---|---|---|---:|")
    for r in rows:
        print(f"| {r['decoder']} | {r['spotifyart_s']} s, {r['spotifyart_peak_mib']} MiB | "
              f"{r['diffusers_s']} s, {r['diffusers_peak_mib']} MiB | {r['ratio']} |")


if __name__ == "__main__":
    if sys.argv[1] == "setup":
        setup(sys.argv[2])
    elif sys.argv[1] == "compare":
        compare(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5],
                int(sys.argv[6]) if len(sys.argv) > 6 else 1)
    else:
        raise SystemExit(__doc__)
