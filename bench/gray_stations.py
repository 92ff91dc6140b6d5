"""Which gray path stations run: measured on single-energy renderings that the project's physics did not make.

    nice -n 10 .venv/bin/python bench/gray_stations.py --model xscreen-yolo11n:2 --out docs/bench/gray_stations.md

1. Builds the real validation scans (`configs/data/real.yaml`: SIXray val 267, OPIXray val 101; never trained
   on) into a temporary folder, as `xscreen data build` does.
2. Renders every validation scan as a single-energy gray image by methods other than the project's physics
   (`RENDERINGS`: luminance, HSV value, a random monotone detector curve, gamma, inverted polarity, a log
   display, 16-bit linear transmission, blur and noise, another pixel pitch), plus the project's own physics
   gray (`convert.colour_to_gray`: it is read back with the inverse of the same model, so it grades itself)
   and the colour original. Files go to the temporary folder only: nothing is committed.
3. Screens each rendering through the stations' path (`xscreen.vision.screening` via `training.evaluate`:
   the files decoded by `read_scan`, so a gray PNG is kind `gray`) with the card's `gray_input` set to each
   of `pseudo_colour` (`gray_to_colour`) and `gray` (three equal channels).
4. Reports firearm AP50, the firearms category's detection rate at 5% false alarms (negatives: the scans
   without a firearm, SIXray's knife and wrench scans and every OPIXray scan), knife AP50, and the share of
   true knives, scissors and tools that got a firearm box at the operating threshold (issue 18.4).

Random choices (the monotone curve, the noise) are seeded per scan from its file name, so a rerun gives the
same images and the same table.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import platform
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import yaml

from xscreen.checkout import REPO_ROOT
from xscreen.settings import get_settings

logger = logging.getLogger("bench.gray_stations")
# How a gray scan reaches the colour model: the card's `gray_input`, with its display as sent or matched to
# the training display first (`gray_display`, vision/xray/gray_display.py).
GRAY_INPUTS: dict[str, dict[str, str]] = {
    "pseudo_colour": {"gray_input": "pseudo_colour", "gray_display": "as_is"},
    "gray": {"gray_input": "gray", "gray_display": "as_is"},
    "pseudo_colour+matched": {"gray_input": "pseudo_colour", "gray_display": "matched"},
    "gray+matched": {"gray_input": "gray", "gray_display": "matched"},
}


def _luminance(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)  # ITU-R BT.601: 0.299 R + 0.587 G + 0.114 B


def _random_curve(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Luminance through a random monotone response (another detector and display): 8 knots, steps drawn
    from a Dirichlet, so the curve rises everywhere but bends differently for each scan."""
    knots = np.concatenate([[0.0], np.cumsum(rng.dirichlet(np.full(8, 1.5)))]) * 255.0
    lut = np.interp(np.arange(256), np.linspace(0, 255, 9), knots)
    return np.clip(lut + 0.5, 0, 255).astype(np.uint8)[_luminance(rgb)]


def _gamma(rgb: np.ndarray, gamma: float) -> np.ndarray:
    return np.clip(255.0 * (_luminance(rgb) / 255.0) ** gamma + 0.5, 0, 255).astype(np.uint8)


def _log_display(rgb: np.ndarray) -> np.ndarray:
    """Luminance read as linear transmission T, shown on a log (attenuation) scale: 255 * (1 + ln T / ln 256)."""
    t = np.maximum(_luminance(rgb) / 255.0, 1 / 256)
    return np.clip(255.0 * (1.0 + np.log(t) / np.log(256.0)) + 0.5, 0, 255).astype(np.uint8)


def _linear_16bit(rgb: np.ndarray) -> np.ndarray:
    """Luminance read as linear transmission, written as 16-bit raw: stations render it (`render_gray`)."""
    return np.round(_luminance(rgb).astype(np.float64) / 255.0 * 65535.0).astype(np.uint16)


def _blur_noise(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    blurred = cv2.GaussianBlur(_luminance(rgb).astype(np.float32), (0, 0), 1.5)
    return np.clip(blurred + rng.normal(0.0, 8.0, blurred.shape) + 0.5, 0, 255).astype(np.uint8)


def _pitch(rgb: np.ndarray) -> np.ndarray:
    """A coarser detector: luminance at 0.6x the pixels (YOLO labels are fractions, so they stay)."""
    return cv2.resize(_luminance(rgb), None, fx=0.6, fy=0.6, interpolation=cv2.INTER_AREA)


def _physics(rgb: np.ndarray) -> np.ndarray:
    from xscreen.vision.xray.convert import colour_to_gray

    return colour_to_gray(rgb)


Render = Callable[[np.ndarray, np.random.Generator], np.ndarray]
RENDERINGS: dict[str, tuple[str, Render]] = {
    "colour": ("the colour original (dual-energy pseudo-colour)", lambda rgb, rng: rgb),
    "physics": ("the project's physics gray (`colour_to_gray`): grades itself", lambda rgb, rng: _physics(rgb)),
    "luminance": ("ITU-R 601 luminance", lambda rgb, rng: _luminance(rgb)),
    "hsv-value": ("HSV value, max(R, G, B)", lambda rgb, rng: rgb.max(axis=2)),
    "random-curve": ("luminance through a random monotone curve, per scan", _random_curve),
    "gamma-2.2": ("luminance, display gamma 2.2 (darker)", lambda rgb, rng: _gamma(rgb, 2.2)),
    "inverted": ("inverted polarity (dense is bright)", lambda rgb, rng: 255 - _luminance(rgb)),
    "log-display": ("luminance as transmission, log (attenuation) display", lambda rgb, rng: _log_display(rgb)),
    "16-bit-linear": ("16-bit PNG of linear transmission (raw: stations render it)", lambda rgb, rng: _linear_16bit(rgb)),
    "blur-noise": ("luminance, Gaussian blur sigma 1.5 px and noise sigma 8", _blur_noise),
    "pitch-0.6": ("luminance at 0.6x the pixel count", lambda rgb, rng: _pitch(rgb)),
}


def _rng(name: str, rendering: str) -> np.random.Generator:
    return np.random.default_rng(int.from_bytes(hashlib.sha256(f"{rendering}/{name}".encode()).digest()[:8], "little"))


def build_real(workdir: Path, limit: int | None = None) -> list[Path]:
    """The real data build (configs/data/real.yaml) into `workdir`; the validation images of SIXray and OPIXray."""
    from xscreen.datasets.build import build_dataset
    from xscreen.datasets.recipe import load_recipe

    out = workdir / "real"
    if not (out / "data.yaml").exists():
        build_dataset(load_recipe(REPO_ROOT / "configs" / "data" / "real.yaml"), out, workers=2)
    return validation_images(out, limit)


def validation_images(real: Path, limit: int | None = None) -> list[Path]:
    """The SIXray and OPIXray validation images of a real data build; `limit`: the first and last N (some of each)."""
    from xscreen.vision.yolo import load_data_yaml

    images = [image for source in ("sixray", "opixray") for image in load_data_yaml(real / f"data-{source}.yaml").images("val")]
    return images[:limit] + images[-limit:] if limit else images


def render_set(images: list[Path], rendering: str, root: Path, names: list[str]) -> Path:
    """`root/<rendering>/` as a YOLO set: each image rendered, its labels copied; returns its data.yaml."""
    from xscreen.vision.yolo import label_path

    _, render = RENDERINGS[rendering]
    out = root / rendering
    (out / "images" / "val").mkdir(parents=True, exist_ok=True)
    (out / "labels" / "val").mkdir(parents=True, exist_ok=True)
    for image in images:
        bgr = cv2.imread(str(image), cv2.IMREAD_COLOR)
        pixels = render(np.ascontiguousarray(bgr[..., ::-1]), _rng(image.name, rendering))
        target = out / "images" / "val" / f"{image.stem}.png"
        cv2.imwrite(str(target), pixels[..., ::-1] if pixels.ndim == 3 else pixels)
        (out / "labels" / "val" / f"{image.stem}.txt").write_bytes(label_path(image).read_bytes())
    data = out / "data.yaml"
    data.write_text(yaml.safe_dump({"name": rendering, "path": str(out), "val": "images/val", "names": dict(enumerate(names))}))
    return data


@dataclass
class Row:
    rendering: str
    gray_input: str
    kind: str
    firearm_ap50: float | None
    firearm_dr_at_far5: float | None
    knife_ap50: float | None
    firearm_on_metal: float | None  # share of the true knives, scissors and tools that got a firearm box
    scans: int
    seconds: float


def measure(model: str, *, workdir: Path, renderings: list[str], limit: int | None, inputs: list[str]) -> list[Row]:
    from xscreen.training.evaluate import EnginePredictor, evaluate_dataset, load_samples
    from xscreen.vision.engine import Engine
    from xscreen.vision.taxonomy import load_taxonomy

    settings = get_settings()
    base = Engine.load(model, models_dir=settings.models_dir, providers=["CPUExecutionProvider"])
    images = build_real(workdir, limit)
    names = load_taxonomy().names
    rows = []
    for rendering in renderings:
        data = render_set(images, rendering, workdir / "renderings", names)
        dataset, set_names, samples = load_samples(data, "val")
        for gray_input in inputs[:1] if rendering == "colour" else inputs:
            spec = base.card.input.model_copy(update=GRAY_INPUTS[gray_input])
            engine = Engine(session=base.session, card=base.card.model_copy(update={"input": spec}), model_path=base.model_path, variant=base.variant)
            started = time.perf_counter()
            report = evaluate_dataset(EnginePredictor(engine, engine.ref, list(engine.card.classes)), dataset, set_names, samples,
                                      gray=False, out_dir=workdir / "eval" / f"{rendering}-{gray_input}")
            m = report.metrics
            kinds = {json.loads(line)["kind"] for line in (report.out_dir / "predictions.jsonl").read_text().splitlines()}
            row = Row(
                rendering, "-" if rendering == "colour" else gray_input, "/".join(sorted(kinds)),
                m["classes"].get("firearm", {}).get("AP50"), m["categories"].get("firearms", {}).get("detection_at_false_alarm_5"),
                m["classes"].get("knife", {}).get("AP50"), firearm_on_metal(m), len(samples), time.perf_counter() - started,
            )
            logger.info("%s", row)
            rows.append(row)
    return rows


METAL = ("knife", "scissors", "tool")  # metal threats and objects that must not read as a firearm (issue 18.4)


def firearm_on_metal(metrics: dict) -> float | None:
    """From evaluate's confusion at the operating thresholds: firearm boxes on true metal objects, per object."""
    labels, matrix = metrics["confusion"]["labels"], np.array(metrics["confusion"]["matrix"])
    metal = [labels.index(n) for n in METAL if n in labels]
    if "firearm" not in labels or not metal:
        return None
    total = matrix[:, metal].sum()
    return float(matrix[labels.index("firearm"), metal].sum() / total) if total else None


def _machine() -> str:
    """CPU model and core count, as the other benchmark reports name the machine."""
    import os

    model = platform.machine()
    try:
        model = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{model}, {os.cpu_count()} cores, {platform.system()}"


def _f(v: float | None, pct: bool = False) -> str:
    return "–" if v is None else (f"{100 * v:.1f}%" if pct else f"{v:.3f}")


def write_report(rows: list[Row], out: Path, *, model: str, seconds: float) -> None:
    lines = [
        "# Which gray path stations run: single-energy renderings the project's physics did not make",
        "",
        f"`bench/gray_stations.py --model {model}` on {_machine()} (onnxruntime CPU), {time.strftime('%Y-%m-%d')}, "
        f"{seconds / 60:.1f} min. "
        f"Scans: the real validation split of `configs/data/real.yaml` ({rows[0].scans if rows else 0} scans: SIXray val "
        "and OPIXray val, never trained on), each rendered as below, screened through the stations' path "
        "(`xscreen.vision.screening`: `read_scan`, the card's conversion, the engine).",
        "`gray_input`: how the colour model is shown a gray scan, `pseudo_colour` = `gray_to_colour`, `gray` = three "
        "equal channels; `+matched`: the scan's display first brought to the training display (polarity, quantile "
        "matching: `gray_display: matched`). DR at FAR 5%: the firearms category's best detection rate with at most 5% of the scans "
        "without a firearm flagged.",
        "",
        "| rendering | how | decoded as | gray_input | firearm AP50 | firearm DR at FAR 5% | knife AP50 | firearm on metal |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r.rendering} | {RENDERINGS[r.rendering][0]} | {r.kind} | {r.gray_input} | {_f(r.firearm_ap50)} | "
                     f"{_f(r.firearm_dr_at_far5, pct=True)} | {_f(r.knife_ap50)} | {_f(r.firearm_on_metal, pct=True)} |")
    others = [r for r in rows if r.rendering not in ("colour", "physics")]
    lines += ["", "Mean over the renderings other than colour and physics:", "",
              "| gray_input | firearm AP50 | firearm DR at FAR 5% | knife AP50 | firearm on metal |", "|---|---|---|---|---|"]
    for gray_input in GRAY_INPUTS:
        sel = [r for r in others if r.gray_input == gray_input]
        if sel:
            mean = lambda key: float(np.mean([getattr(r, key) or 0.0 for r in sel]))  # noqa: E731
            lines.append(f"| {gray_input} | {_f(mean('firearm_ap50'))} | {_f(mean('firearm_dr_at_far5'), pct=True)} | {_f(mean('knife_ap50'))} | "
                         f"{_f(mean('firearm_on_metal'), pct=True)} |")
    save_report(out, lines, rows)



def save_report(out: Path, lines: list[str], rows: list) -> None:
    """The Markdown report and, beside it, the rows as JSON (also bench/firearm_confusion.py's)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    out.with_suffix(".json").write_text(json.dumps([r.__dict__ for r in rows], indent=2) + "\n")


def add_arguments(parser: argparse.ArgumentParser, *, real: bool, kept: str, report: str = "the rows") -> None:
    """The options this bench shares with firearm_confusion.py and metal_tip.py (`kept`: what --workdir keeps)."""
    parser.add_argument("--model", default="default", help="Registry ref (default: the promoted model).")
    if real:
        parser.add_argument("--real", type=Path, required=True, help="The real data build (`xscreen data build --config configs/data/real.yaml`).")
    parser.add_argument("--out", type=Path, required=True, help=f"Markdown report (a .json of {report} beside it).")
    parser.add_argument("--renderings", nargs="*", default=list(RENDERINGS), choices=list(RENDERINGS))
    parser.add_argument("--limit", type=int, default=None, help="Only the first and last N validation scans (a quick check).")
    parser.add_argument("--workdir", type=Path, default=None, help=f"Keep {kept} here (default: a temp dir, removed).")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser, real=False, kept="the build and renderings")
    parser.add_argument("--inputs", nargs="*", default=list(GRAY_INPUTS), choices=list(GRAY_INPUTS))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="xscreen-gray-") as tmp:
        workdir = args.workdir or Path(tmp)
        rows = measure(args.model, workdir=workdir, renderings=args.renderings, limit=args.limit, inputs=args.inputs)
    write_report(rows, args.out, model=args.model, seconds=time.perf_counter() - started)
    print(args.out.read_text())


if __name__ == "__main__":
    main()
