"""Prints benches/diffusion/run's results as a table with candle/diffusers ratios."""

import json
import sys

rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip().startswith("{")]
parity = [r for r in rows if r["case"] == "parity"]
timed = [r for r in rows if r["case"] != "parity"]

if parity:
    print("parity (max |candle - PyTorch| / max |PyTorch|):")
    for r in parity:
        parts = []
        for k in ("text_encoder", "text_encoder_2", "pooled", "unet", "vae", "taesd"):
            if k in r:
                d = r[k]
                parts.append(f"{k} {d['max_abs_diff']:.2e}/{d['max_abs_ref']:.2e}")
        print(f"  {r['model']:<9} " + ", ".join(parts))
    print()

key = lambda r: (r["case"].replace("-tiled", ""), r["model"], r["size"], r["steps"])
ref = {key(r): r for r in timed if r["impl"] == "diffusers"}
print(f"{'case':<22}{'candle s':>10}{'MiB':>8}{'diffusers s':>13}{'MiB':>8}{'ratio':>8}")
for r in timed:
    if r["impl"] != "candle":
        continue
    name = f"{r['case']} {r['model']}" + (f" x{r['steps']}" if r["case"] == "pipeline" else "")
    d = ref.get(key(r))
    if d:
        ratio = r["seconds"] / d["seconds"]
        print(f"{name:<22}{r['seconds']:>10.2f}{r['peak_mib']:>8}{d['seconds']:>13.2f}{d['peak_mib']:>8}{ratio:>8.2f}")
    else:
        print(f"{name:<22}{r['seconds']:>10.2f}{r['peak_mib']:>8}")
print("\nratio = candle seconds / diffusers seconds (below 1: candle is faster)")
