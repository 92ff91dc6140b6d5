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
