"""The drug data programme: drug items (`drugs.py`) projected into real scans, in colour and single-energy gray.

Customs has no real labelled drug scans, so drug positives come from threat image projection: each
composite takes one real scan of a built dataset (its own labels kept), projects 1-4 drug items of one
family into it (Beer-Lambert, `tip.ProjectionCanvas`), sometimes one other threat too (so a fine-tune
keeps seeing gun parts, magazines and ammunition) and, when asked, a throwing star or razor blades
(`knife`: hard negatives for firearm), and is written either as the scanner's pseudo-colour or as
single-energy gray (the real scan's high-energy attenuation shown as a gray scanner shows it, and the
items projected in gray).

Every projected drug is recorded in `meta/<split>/<name>.json` with its form, host, mass, family and the
visibility figures of `tip.Projection`; items below the label rule's floors (config `labels`, see
`docs/drugs.md`, section 2) stay in the image but are not trained as positives.

`family="heldout"` draws only the held-out families and hosts, which training never sees: composite them
into validation backgrounds to measure generalisation (`bench/drugs.py`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from xscreen.datasets.synth.config import SynthConfig
from xscreen.datasets.synth.drugs import drug_item
from xscreen.datasets.synth.tip import ProjectionCanvas, random_threat
from xscreen.errors import DatasetError
from xscreen.vision.taxonomy import Taxonomy, load_taxonomy
from xscreen.vision.xray.profiles import load_profile
from xscreen.vision.yolo import Label, boxes_to_labels, find_images, label_path, load_data_yaml, read_labels, write_labels

COMPANION_CLASSES = ("firearm", "firearm_part", "magazine", "ammunition")


@dataclass(frozen=True)
class DrugTipOptions:
    family: str = "train"
    items: tuple[int, int] = (1, 4)  # drug items per composite, inclusive
    gray_fraction: float = 0.3  # composites written as single-energy gray
    companion_probability: float = 0.25  # chance of one non-drug threat beside the drugs
    # Chance of one throwing star or razor blade (labelled knife) beside them: hard negatives for firearm, in gray
    # and colour alike (issue 18.4, docs/bench/metal_tip.md). 0 draws nothing, so older seeds keep their bytes.
    edged_probability: float = 0.0
    edged_builders: tuple[tuple[str, float], ...] = (("throwing_star", 0.6), ("razor_blade", 0.4))
    conceal_probability: float = 0.4
    item_extent_mm: tuple[float, float] = (300.0, 900.0)  # parcels and bags: the scanned item's long side
    jpeg_quality: int = 92


def _gray_of(real_rgb: np.ndarray, profile) -> np.ndarray:
    """The real colour scan as a single-energy scanner shows it: its high-energy attenuation, in gray."""
    from xscreen.vision.xray.convert import attenuations_from_colour
    from xscreen.vision.xray.render import gray_from_attenuation

    _, a_high = attenuations_from_colour(real_rgb, profile)
    return gray_from_attenuation(a_high, profile)


def drug_tip_dataset(backgrounds: Path, out_dir: Path, *, split: str, count: int, seed: int, options: DrugTipOptions | None = None,
                     taxonomy: Taxonomy | None = None, progress: bool = True) -> Path:
    """Write `count` drug composites over `backgrounds`' `split` scans (an `xscreen data build` output) into
    `out_dir/images/<split>`; returns out_dir's data.yaml. Composite i uses rng (seed, i): reproducible."""
    import cv2

    from xscreen.datasets.synth.writer import _progress, write_data_yaml

    options = options or DrugTipOptions()
    taxonomy = taxonomy or load_taxonomy()
    backgrounds, out_dir = Path(backgrounds), Path(out_dir)
    images = sorted(find_images(backgrounds / "images" / split))
    if not images:
        raise DatasetError(f"no {split} scans under {backgrounds / 'images'}")
    names = load_data_yaml(backgrounds / "data.yaml").names
    ids = [taxonomy.id_of(n) for n in names]
    profile = load_profile(None)
    config = SynthConfig()
    edged = config.model_copy(update={"builder_weights": {"knife": dict(options.edged_builders)}})
    for sub in ("images", "labels", "meta"):
        (out_dir / sub / split).mkdir(parents=True, exist_ok=True)
    with _progress(progress, count) as advance:
        for i in range(count):
            rng = np.random.default_rng([seed, i])
            bg = images[int(rng.integers(0, len(images)))]
            bgr = cv2.imread(str(bg), cv2.IMREAD_COLOR)
            if bgr is None:
                raise DatasetError(f"cannot decode {bg}")
            real = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            gray = rng.random() < options.gray_fraction
            canvas = ProjectionCanvas(_gray_of(real, profile) if gray else real, rng=rng, taxonomy=taxonomy, profile=profile,
                                      config=config, item_extent_mm=options.item_extent_mm)
            projections = []
            for _ in range(int(rng.integers(options.items[0], options.items[1] + 1))):
                item = drug_item(rng, options.family, conceal_probability=options.conceal_probability)
                projections += canvas.project(item.objects, {"family": item.family, "host": item.host})
            if rng.random() < options.companion_probability:
                cls = COMPANION_CLASSES[int(rng.integers(0, len(COMPANION_CLASSES)))]
                projections += canvas.project([random_threat(rng, cls, config)])
            if options.edged_probability > 0 and rng.random() < options.edged_probability:
                projections += canvas.project([random_threat(rng, "knife", edged)])
            out = canvas.image()
            h, w = out.shape[:2]
            own = [label._replace(class_id=ids[label.class_id]) for label in read_labels(label_path(bg))]
            labels: list[Label] = own + boxes_to_labels([(p.class_id, *p.box) for p in projections if p.kept], w, h)
            name = f"drugtip_{options.family}_{seed}_{i:06d}"
            img = out if out.ndim == 2 else cv2.cvtColor(out, cv2.COLOR_RGB2BGR)
            # Re-encoded as the backgrounds are (JPEG), so compression marks nothing as projected.
            cv2.imwrite(str(out_dir / "images" / split / f"{name}.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, options.jpeg_quality])
            write_labels(out_dir / "labels" / split / f"{name}.txt", labels)
            meta = {"name": name, "seed": seed, "index": i, "background": str(bg), "rendering": "gray" if gray else "colour",
                    "pitch_mm": round(canvas.pitch_mm, 4), "projected": [p.to_meta() for p in projections]}
            (out_dir / "meta" / split / f"{name}.json").write_text(json.dumps(meta))
            advance()
    return write_data_yaml(out_dir, taxonomy, {p.name for p in (out_dir / 'images').iterdir() if p.is_dir()})
