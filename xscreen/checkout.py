"""The source checkout, for the workflows that run from one: dataset recipes, synthesis and training
configs name files relative to it (configs/, data/, runs/), and the real data sets lie beside it in
`../shared/data`. The service and batch never use this: what they need ships as package data
(`xscreen.resources`) or comes from settings.
"""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
CONFIGS_DIR = REPO_ROOT / "configs"  # recipes included; in a checkout also what `xscreen.resources` finds


def real_val_scans(real_data_dir: Path | None = None) -> Path:
    """The real validation scans export's parity check reads by default: SIXray's, under `settings.real_data_dir`
    (default: the shared data beside the checkout). `xscreen doctor` checks they are there."""
    return (real_data_dir or SHARED_DATA) / "sixray-subset" / "val"
