#!/usr/bin/env python3
"""Builds SpotifyArt's offline music knowledge from the public dataset in
../shared/datasets/spotify-audio-features-by-artist (see docs/models.md):

  artists.tsv.gz  name, valence, energy, tracks, genre ids — every artist,
                  with the mean of Spotify's measured audio features over
                  their tracks and the genres Spotify gave them.
  genres.tsv.gz   genre, valence, energy, tracks, artists — the track-
                  weighted mean over the genre's *training* artists only.

Artists are split once, by name: fnv1a32(name as UTF-8) % 5 == 0 is the
held-out fifth that no shipped fit sees (the genre table here, the
embedding head in fit_embedding_head.py); the evaluation harness scores
every model on it. Output is deterministic (sorted, gzip mtime 0), so
re-running the script reproduces the committed files byte for byte.

    python3 spotifyart-core/data/build_knowledge.py [DATASET_DIR]
"""

import csv
import gzip
import io
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_SOURCE = HERE.parents[1] / ".." / "shared" / "datasets" / "spotify-audio-features-by-artist"


def fnv1a32(text):
    h = 0x811C9DC5
    for b in text.encode("utf-8"):
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


def held_out(name):
    return fnv1a32(name) % 5 == 0


def parse_genres(field):
    field = field.strip()
    if field in ("", "[]"):
        return []
    # A few names carry the quotes that protected an apostrophe.
    return [g.strip().strip("\"").strip() for g in field.split(",") if g.strip().strip("\"")]


def write_tsv_gz(path, rows):
    text = io.StringIO()
    for row in rows:
        text.write("\t".join(row) + "\n")
    with open(path, "wb") as raw:
        with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, compresslevel=9, filename="") as gz:
            gz.write(text.getvalue().encode("utf-8"))


def spearman(xs, ys):
    def ranks(v):
        order = sorted(range(len(v)), key=lambda i: v[i])
        r = [0.0] * len(v)
        i = 0
        while i < len(order):
            j = i
            while j + 1 < len(order) and v[order[j + 1]] == v[order[i]]:
                j += 1
            for k in range(i, j + 1):
                r[order[k]] = (i + j) / 2
            i = j + 1
        return r
    rx, ry = ranks(xs), ranks(ys)
    n = len(xs)
    mx, my = sum(rx) / n, sum(ry) / n
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    vx = sum((a - mx) ** 2 for a in rx) ** 0.5
    vy = sum((b - my) ** 2 for b in ry) ** 0.5
    return cov / (vx * vy)


def main():
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_SOURCE
    with open(source / "data_w_genres.csv", newline="", encoding="utf-8") as f:
        artists = list(csv.DictReader(f))
    for a in artists:
        a["genre_list"] = parse_genres(a["genres"])
        a["tracks"] = max(int(float(a["count"])), 1)
        a["v"] = float(a["valence"])
        a["e"] = float(a["energy"])

    genre_names = sorted({g for a in artists for g in a["genre_list"]})
    gid = {g: i for i, g in enumerate(genre_names)}
    sums = {}
    for a in artists:
        if held_out(a["artists"]):
            continue
        for g in a["genre_list"]:
            s = sums.setdefault(g, [0.0, 0.0, 0, 0])
            s[0] += a["tracks"] * a["v"]
            s[1] += a["tracks"] * a["e"]
            s[2] += a["tracks"]
            s[3] += 1

    genre_rows = []
    for g in genre_names:
        if g not in sums:
            # Only held-out artists carry it: still listed (ids stay
            # stable), with no measurement.
            genre_rows.append([g, "", "", "0", "0"])
            continue
        v, e, n, k = sums[g]
        genre_rows.append([g, f"{v / n:.3f}", f"{e / n:.3f}", str(n), str(k)])
    artist_rows = []
    for a in sorted(artists, key=lambda a: a["artists"]):
        ids = ",".join(str(gid[g]) for g in a["genre_list"])
        artist_rows.append([a["artists"], f"{a['v']:.3f}", f"{a['e']:.3f}", str(a["tracks"]), ids])

    write_tsv_gz(HERE / "genres.tsv.gz", genre_rows)
    write_tsv_gz(HERE / "artists.tsv.gz", artist_rows)

    # Cross-check against the dataset's own per-genre aggregates.
    with open(source / "data_by_genres.csv", newline="", encoding="utf-8") as f:
        theirs = {r["genres"]: float(r["valence"]) for r in csv.DictReader(f)}
    common = [g for g in genre_names if g in theirs and g in sums]
    ours = [sums[g][0] / sums[g][2] for g in common]
    rho = spearman(ours, [theirs[g] for g in common])
    held = sum(1 for a in artists if held_out(a["artists"]))
    print(
        f"{len(artist_rows)} artists ({held} held out), {len(genre_names)} genres "
        f"({len(sums)} with training artists); Spearman vs data_by_genres valence "
        f"over {len(common)} genres: {rho:.3f}"
    )
    for name in ("artists.tsv.gz", "genres.tsv.gz"):
        print(f"  {name}: {(HERE / name).stat().st_size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
