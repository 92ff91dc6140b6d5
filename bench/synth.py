"""Benchmark and realism check of the synthetic scan generator.

    nice .venv/bin/python bench/synth.py speed [--count 40] [--size 1024 640] [--workers 1 2] [--out docs/bench/synth.md]
    nice .venv/bin/python bench/synth.py realism --real ../shared/data/sixray-subset --count 60 [--img docs/img/synth]

speed:

Times `generate_dataset` end to end into a temporary directory after a warm-up (spectra and tables are
built once per process and inherited by forked workers), for each worker count. No timed assertions:
numbers go to a markdown table. On a shared machine, run it when nothing else is heavy.

realism: generates `--count` scans and compares them with the real scans: colour-class fractions and
hue / value histograms of item pixels, attenuation (a_H from the display map inverted) histograms,
the labelled boxes' long side as a fraction of the image's long side, and writes sample grids (PNG):
synthetic scans with labels, one scene through every scanner profile, TIP composites, real scans.
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
    sub = parser.add_subparsers(dest="mode", required=True)
    sp = sub.add_parser("speed")
    sp.add_argument("--count", type=int, default=40)
    sp.add_argument("--size", type=int, nargs="+", default=[1024, 640])
    sp.add_argument("--render-scale", type=float, default=0.5)
    sp.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    sp.add_argument("--out", type=Path, default=None, help="markdown file to write the table to")
    rp = sub.add_parser("realism")
    rp.add_argument("--real", type=Path, required=True, help="folder of real pseudo-colour scans (searched recursively)")
    rp.add_argument("--count", type=int, default=60)
    rp.add_argument("--config", type=Path, default=None)
    rp.add_argument("--img", type=Path, default=Path("docs/img/synth"))
    rp.add_argument("--out", type=Path, default=None, help="markdown file for the statistics")
    args = parser.parse_args()
    if args.mode == "realism":
        realism(args)
    else:
        speed(args)


def speed(args: argparse.Namespace) -> None:

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
                cpu0 = _cpu_seconds()
                generate_dataset(out, count=args.count, seed=1, config=cfg, workers=workers, progress=False)
                dt = time.perf_counter() - start
                cpu = (_cpu_seconds() - cpu0) / args.count
                mb = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 1e6
                rows.append((size, workers, args.count, dt, args.count / dt, cpu, mb / args.count))
                print(f"size {size} workers {workers}: {args.count / dt:.2f} scans/s ({dt:.1f} s, {cpu:.3f} CPU s/scan, {mb / args.count * 1000:.0f} kB/scan)")
    load = os.getloadavg()[0]
    lines = [
        "# Synthetic scan generation speed",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores, no GPU; load average at the end {load:.1f} (shared with other jobs).",
        f"One-time setup per process (spekpy spectra, xraydb fits, tables): {setup_s:.1f} s. Internal render scale {args.render_scale}.",
        "",
        "CPU s/scan counts this process and its workers (user + system), so it is what a scan costs",
        "whatever else runs; wall-clock scans/s on a loaded machine is lower than on idle cores.",
        "",
        "| long side px | workers | scans | wall s | scans/s (wall) | CPU s/scan | scans/s per idle core | MB/scan (jpg+label+meta) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines += [f"| {s} | {w} | {n} | {dt:.1f} | {r:.2f} | {c:.3f} | {1 / c:.1f} | {mb:.3f} |" for s, w, n, dt, r, c, mb in rows]
    text = "\n".join(lines) + "\n"
    if args.out:
        args.out.write_text(text)
    print(text)


def _cpu_seconds() -> float:
    import resource

    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


CLASS_HUES = {"organic (orange/yellow)": (15, 90), "mixed (green)": (90, 170), "metal (blue)": (170, 280)}


def _item_pixels(bgr):
    import cv2
    import numpy as np

    hsv = cv2.cvtColor(bgr, cv2.COLOR_BGR2HSV_FULL).reshape(-1, 3).astype(np.float32)
    hsv[:, 0] *= 360.0 / 256.0
    item = (hsv[:, 2] < 235) | (hsv[:, 1] > 40)
    return hsv[item], float(item.mean())


def _colour_stats(paths: list[Path]) -> dict:
    import cv2
    import numpy as np

    from xscreen.vision.xray.convert import attenuation_from_colour

    pix, fracs, att = [], [], []
    for p in paths:
        bgr = cv2.imread(str(p))
        scale = 400.0 / max(bgr.shape[:2])
        bgr = cv2.resize(bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        hsv, frac = _item_pixels(bgr)
        pix.append(hsv)
        fracs.append(frac)
        a = attenuation_from_colour(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)).ravel()
        att.append(a[a > 0.05])
    allp = np.concatenate(pix)
    out = {"item_fraction": float(np.mean(fracs)), "value_mean": float(allp[:, 2].mean()), "saturation_mean": float(allp[:, 1].mean()),
           "dark_fraction": float((allp[:, 2] < 80).mean())}
    for name, (lo, hi) in CLASS_HUES.items():
        out[name] = float(((allp[:, 0] >= lo) & (allp[:, 0] < hi) & (allp[:, 1] > 25)).mean())
    out["_hue"] = allp[:, 0]
    out["_value"] = allp[:, 2]
    out["_att"] = np.concatenate(att)
    return out


def _box_fractions_yolo(root: Path, names: list[str]) -> dict[str, list[float]]:
    import json

    from xscreen.vision.yolo import read_labels

    out: dict[str, list[float]] = {}
    for lab in root.glob("labels/*/*.txt"):
        meta = json.loads((root / "meta" / lab.parent.name / f"{lab.stem}.json").read_text())
        w, h = meta["scene"]["size"]
        for label in read_labels(lab):
            out.setdefault(names[label.class_id], []).append(max(label.w * w, label.h * h) / max(w, h))
    return out


def _box_fractions_voc(real: Path) -> dict[str, list[float]]:
    import xml.etree.ElementTree as ET

    out: dict[str, list[float]] = {}
    for f in real.rglob("*.xml"):
        r = ET.parse(f).getroot()
        w, h = float(r.findtext("size/width")), float(r.findtext("size/height"))
        for o in r.findall("object"):
            b = o.find("bndbox")
            x0, y0, x1, y1 = (float(b.findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax"))
            out.setdefault(f"real {o.findtext('name')}", []).append(max(x1 - x0, y1 - y0) / max(w, h))
    return out


def _grid(images, tile: int, cols: int):
    import cv2
    import numpy as np

    tiles = []
    for im in images:
        s = tile / max(im.shape[:2])
        im = cv2.resize(im, (max(int(im.shape[1] * s), 1), max(int(im.shape[0] * s), 1)), interpolation=cv2.INTER_AREA)
        t = np.full((tile, tile, 3), 255, np.uint8)
        t[: im.shape[0], : im.shape[1]] = im
        tiles.append(t)
    while len(tiles) % cols:
        tiles.append(np.full((tile, tile, 3), 255, np.uint8))
    return np.vstack([np.hstack(tiles[i : i + cols]) for i in range(0, len(tiles), cols)])


def _save_png(path: Path, bgr) -> None:
    """PNG with a 128-colour palette: sample grids stay well under 300 KB for the docs."""
    import cv2
    from PIL import Image

    Image.fromarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)).quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


def _draw_yolo(bgr, label: Path, names: list[str]):
    import cv2

    from xscreen.vision.yolo import read_labels

    h, w = bgr.shape[:2]
    for label_row in read_labels(label):
        c, x0, y0, x1, y1 = label_row.to_box(w, h)
        p0 = (int(x0), int(y0))
        cv2.rectangle(bgr, p0, (int(x1), int(y1)), (0, 0, 220), max(1, w // 300))
        cv2.putText(bgr, names[c], (p0[0], max(p0[1] - 4, 12)), cv2.FONT_HERSHEY_SIMPLEX, w / 1400, (0, 0, 220), max(1, w // 500))
    return bgr


def realism(args: argparse.Namespace) -> None:
    import cv2
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from xscreen.datasets.synth.config import load_config
    from xscreen.datasets.synth.scene import render_scene, sample_scene
    from xscreen.datasets.synth.tip import project_threats
    from xscreen.datasets.synth.writer import generate_dataset
    from xscreen.vision.taxonomy import load_taxonomy
    from xscreen.vision.xray.convert import gray_to_colour
    from xscreen.vision.xray.profiles import list_profiles, load_profile
    from xscreen.vision.xray.render import render_gray, render_pseudocolour
    from xscreen.vision.yolo import label_path

    taxonomy = load_taxonomy()
    args.img.mkdir(parents=True, exist_ok=True)
    real_paths = sorted(p for p in args.real.rglob("*.jpg"))
    real_sample = real_paths[:: max(len(real_paths) // 60, 1)][:60]
    with tempfile.TemporaryDirectory() as tmp:
        root = generate_dataset(Path(tmp) / "ds", count=args.count, seed=2024, config=args.config, workers=2, progress=False).parent
        synth_paths = sorted(root.glob("images/*/*.jpg"))
        real_s, syn_s = _colour_stats(real_sample), _colour_stats(synth_paths)
        sizes = {**_box_fractions_voc(args.real), **_box_fractions_yolo(root, taxonomy.names)}
        # Grids: synthetic with labels; real; TIP composites; one scene through every profile.
        labelled = [_draw_yolo(cv2.imread(str(p)), label_path(p), taxonomy.names) for p in synth_paths[:12]]
        _save_png(args.img / "synthetic_grid.png", _grid(labelled, 300, 4))
    _save_png(args.img / "real_grid.png", _grid([cv2.imread(str(p)) for p in real_sample[:8]], 300, 4))
    tips = []
    for k, p in enumerate(real_sample[:8]):
        rgb = cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB)
        out, boxes = project_threats(rgb, rng=np.random.default_rng(k), taxonomy=taxonomy, count=2)
        bgr = cv2.cvtColor(out, cv2.COLOR_RGB2BGR)
        for c, x0, y0, x1, y1 in boxes:
            cv2.rectangle(bgr, (int(x0), int(y0)), (int(x1), int(y1)), (0, 0, 220), max(1, bgr.shape[1] // 300))
            cv2.putText(bgr, taxonomy.by_id(c).name, (int(x0), max(int(y0) - 4, 12)), cv2.FONT_HERSHEY_SIMPLEX, bgr.shape[1] / 1400, (0, 0, 220), 2)
        tips.append(bgr)
    _save_png(args.img / "tip_grid.png", _grid(tips, 300, 4))
    cfg = load_config(args.config)
    rng = np.random.default_rng(7)
    scene = sample_scene(rng, cfg.model_copy(update={"image_size": 480}), taxonomy, force_threats=True)
    views = []
    for name in list_profiles():
        prof = load_profile(name)
        r = render_scene(scene, np.random.default_rng(1), profile=prof, config=cfg)
        if prof.beam.dual_energy:
            views.append(cv2.cvtColor(render_pseudocolour(r.raw["low"], r.raw["high"], prof), cv2.COLOR_RGB2BGR))
        else:
            g = render_gray(r.raw["high"], prof)
            views += [cv2.cvtColor(g, cv2.COLOR_GRAY2BGR), cv2.cvtColor(gray_to_colour(g, prof), cv2.COLOR_RGB2BGR)]
    _save_png(args.img / "profiles_grid.png", _grid(views, 320, len(views)))

    fig, axes = plt.subplots(1, 3, figsize=(15, 3.6))
    for stats, label in ((real_s, "real"), (syn_s, "synthetic")):
        axes[0].hist(stats["_hue"], bins=72, range=(0, 360), density=True, histtype="step", label=label)
        axes[1].hist(stats["_value"], bins=64, range=(0, 256), density=True, histtype="step", label=label)
        axes[2].hist(stats["_att"], bins=60, range=(0, 6), density=True, histtype="step", label=label)
    for ax, title in zip(axes, ("hue of item pixels (deg)", "value (brightness) of item pixels", "a_H = -ln T_high from the display map")):
        ax.set_title(title)
        ax.legend()
    fig.tight_layout()
    fig.savefig(args.img / "histograms.png", dpi=80)
    keys = ["item_fraction", *CLASS_HUES, "saturation_mean", "value_mean", "dark_fraction"]
    lines = ["| statistic | real | synthetic |", "|---|---|---|"]
    lines += [f"| {k} | {real_s[k]:.3f} | {syn_s[k]:.3f} |" for k in keys]
    lines += ["", "| class | boxes | median long side / image long side | p10 | p90 |", "|---|---|---|---|---|"]
    lines += [f"| {k} | {len(v)} | {np.median(v):.3f} | {np.percentile(v, 10):.3f} | {np.percentile(v, 90):.3f} |" for k, v in sorted(sizes.items())]
    text = "\n".join(lines) + "\n"
    if args.out:
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
