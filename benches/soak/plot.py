#!/usr/bin/env python3
"""Plots and judges benches/soak/run's samples; standard library only.

    plot.py SAMPLES.csv OUT.svg WARMUP_S [TOLERANCE]

SAMPLES.csv has `t_s,rss_kb,fds` rows. Prints each series with a text
sparkline, writes both series to OUT.svg, and judges flatness after
warm-up: the reference is the first sample at or after WARMUP_S, and the
largest sample in the run's second half may exceed it by at most
TOLERANCE (default 0.10; for open files at least 5 descriptors, since the
64 connections come and go). Exits 1 when either series grows.
"""

import csv
import sys

BARS = "▁▂▃▄▅▆▇█"


def sparkline(values):
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1
    return "".join(BARS[int((v - lo) / span * (len(BARS) - 1))] for v in values)


def polyline(ts, values, x0, y0, w, h, colour):
    tmax = max(ts) or 1
    lo, hi = 0, max(values) * 1.15 or 1
    pts = " ".join(
        f"{x0 + t / tmax * w:.1f},{y0 + h - (v - lo) / (hi - lo) * h:.1f}"
        for t, v in zip(ts, values)
    )
    dots = "".join(
        f'<circle cx="{x0 + t / tmax * w:.1f}" cy="{y0 + h - (v - lo) / (hi - lo) * h:.1f}" r="2.5" fill="{colour}"/>'
        for t, v in zip(ts, values)
    )
    return (
        f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{pts}"/>{dots}'
        f'<text x="{x0 - 6}" y="{y0 + 4}" text-anchor="end">{hi:.0f}</text>'
        f'<text x="{x0 - 6}" y="{y0 + h + 4}" text-anchor="end">0</text>'
    )


def svg(ts, rss_mib, fds, warmup):
    w, h, x0 = 560, 150, 70
    tmax = max(ts) or 1
    parts = [
        '<svg xmlns="http://www.w3.org/2000/svg" width="680" height="420" '
        'font-family="sans-serif" font-size="12">',
        '<rect width="100%" height="100%" fill="white"/>',
    ]
    for i, (name, values, colour) in enumerate(
        [("RSS (MiB)", rss_mib, "#c0392b"), ("open files", fds, "#2471a3")]
    ):
        y0 = 30 + i * 190
        parts.append(f'<text x="{x0}" y="{y0 - 10}" font-weight="bold">{name}</text>')
        parts.append(
            f'<rect x="{x0}" y="{y0}" width="{w}" height="{h}" fill="none" stroke="#999"/>'
        )
        wx = x0 + min(warmup, tmax) / tmax * w
        parts.append(
            f'<line x1="{wx:.1f}" y1="{y0}" x2="{wx:.1f}" y2="{y0 + h}" '
            'stroke="#999" stroke-dasharray="4 3"/>'
        )
        parts.append(polyline(ts, values, x0, y0, w, h, colour))
        parts.append(
            f'<text x="{x0 + w}" y="{y0 + h + 16}" text-anchor="end">{tmax:.0f} s</text>'
        )
    parts.append(
        f'<text x="{x0}" y="410">dashed: end of warm-up ({warmup} s); samples every 30 s</text>'
    )
    parts.append("</svg>")
    return "\n".join(parts)


def judge(name, ts, values, warmup, tolerance, slack):
    after = [(t, v) for t, v in zip(ts, values) if t >= warmup]
    if not after:
        print(f"{name}: no sample after the {warmup} s warm-up: not judged")
        return True
    ref_t, ref = after[0]
    half = max(ts) / 2
    last = [v for t, v in zip(ts, values) if t >= half]
    peak = max(last)
    limit = max(ref * (1 + tolerance), ref + slack)
    flat = peak <= limit
    print(
        f"{name}: reference {ref:g} at {ref_t:g} s, second-half max {peak:g} "
        f"({(peak - ref) / ref * 100:+.1f}%), limit {limit:g}: {'FLAT' if flat else 'GROWING'}"
    )
    return flat


def main():
    path, out, warmup = sys.argv[1], sys.argv[2], float(sys.argv[3])
    tolerance = float(sys.argv[4]) if len(sys.argv) > 4 else 0.10
    with open(path) as f:
        rows = [r for r in csv.DictReader(f)]
    ts = [float(r["t_s"]) for r in rows]
    rss = [int(r["rss_kb"]) / 1024 for r in rows]
    fds = [int(r["fds"]) for r in rows]
    print("t_s:        " + " ".join(f"{t:>6.0f}" for t in ts))
    print("RSS MiB:    " + " ".join(f"{v:>6.1f}" for v in rss) + "   " + sparkline(rss))
    print("open files: " + " ".join(f"{v:>6d}" for v in fds) + "   " + sparkline(fds))
    with open(out, "w") as f:
        f.write(svg(ts, rss, fds, warmup))
    ok = judge("RSS (MiB)", ts, rss, warmup, tolerance, 0)
    ok &= judge("open files", ts, fds, warmup, tolerance, 5)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
