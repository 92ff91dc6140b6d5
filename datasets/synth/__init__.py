"""Physically grounded synthetic X-ray scans of mail and luggage, and threat image projection.

Public API:
    generate_dataset(out_dir, *, count, seed, config=None, workers=1, raw=False, progress=True) -> Path
        writes an ultralytics dataset (images/{train,val}, labels/{train,val}, data.yaml with the
        taxonomy's class names, meta/{train,val}/NAME.json per scan, raw/ 16-bit channels with raw=True)
        and returns the data.yaml path. Scan i depends only on (seed, i), so the bytes are the same
        whatever `workers`.
    tip.project_threats(real_rgb, *, rng, taxonomy, ...) -> (composited rgb, label rows)
        threat image projection into real pseudo-colour scans, in the attenuation (log) domain.
    `xscreen synth --out DIR --count N --seed S [--config ...] [--workers K] [--raw]` (cli.py).

Modules: shapes (3D solids, ray path lengths), objects (posed groups of shapes), outlines (2D gun,
blade and tool outlines), threats, clutter (containers and benign items), concealment, scene
(sampling and rendering), labels (footprints, visibility, YOLO rows), config, writer, tip, cli.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from xscreen.datasets.synth.writer import generate_dataset

__all__ = ["generate_dataset"]


def __getattr__(name: str):
    if name == "generate_dataset":
        from xscreen.datasets.synth.writer import generate_dataset

        return generate_dataset
    raise AttributeError(name)
