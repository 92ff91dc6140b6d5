"""Benchmark: synthetic scans per second (generation + rendering + JPEG + labels + metadata written).

    nice .venv/bin/python bench/synth.py [--count 40] [--size 1024] [--workers 1 2] [--out docs/bench/synth.md]

Times `generate_dataset` end to end into a temporary directory after a warm-up (spectra and tables are
built once per process and inherited by forked workers), for each worker count. No timed assertions:
numbers go to a markdown table. On a shared machine, run it when nothing else is heavy.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import yaml


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=40)
    parser.add_argument("--size", type=int, nargs="+", default=[1024, 640])
    parser.add_argument("--render-scale", type=float, default=0.5)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--out", type=Path, default=None, help="markdown file to write the table to")
    args = parser.parse_args()

    from xscreen.datasets.synth.writer import generate_dataset
    from xscreen.vision.xray.physics import transmission_model
    from xscreen.vision.xray.profiles import load_profile
    from xscreen.vision.xray.render import colour_lut_u8

    t0 = time.perf_counter()
    profile = load_profile(None)
    transmission_model(profile.beam_spec)
    colour_lut_u8(profile)
    setup_s = time.perf_counter() - t0

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.size:
            cfg = Path(tmp) / f"bench{size}.yaml"
            cfg.write_text(yaml.safe_dump({"image_size": size, "render_scale": args.render_scale, "profiles": {profile.name: 1.0}}))
            for workers in args.workers:
                out = Path(tmp) / f"ds_{size}_{workers}"
                start = time.perf_counter()
                generate_dataset(out, count=args.count, seed=1, config=cfg, workers=workers, progress=False)
                dt = time.perf_counter() - start
                mb = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 1e6
                rows.append((size, workers, args.count, dt, args.count / dt, mb / args.count))
                print(f"size {size} workers {workers}: {args.count / dt:.2f} scans/s ({dt:.1f} s, {mb / args.count * 1000:.0f} kB/scan)")
    load = os.getloadavg()[0]
    lines = [
        "# Synthetic scan generation speed",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores, no GPU; load average at the end {load:.1f} (shared with other jobs).",
        f"One-time setup per process (spekpy spectra, xraydb fits, tables): {setup_s:.1f} s. Internal render scale {args.render_scale}.",
        "",
        "| long side px | workers | scans | seconds | scans/s | MB/scan (jpg+label+meta) |",
        "|---|---|---|---|---|---|",
    ]
    lines += [f"| {s} | {w} | {n} | {dt:.1f} | {r:.2f} | {mb:.3f} |" for s, w, n, dt, r, mb in rows]
    text = "\n".join(lines) + "\n"
    if args.out:
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
