"""Files that ship inside the package (package data, `xscreen.configs`), found through importlib.resources.

In a checkout `xscreen.configs` is the `configs/` folder (pyproject's package-dir); in an installed wheel
it holds the taxonomy, the decision policies and the scanner profiles, so a station host needs no
checkout. Recipes (configs/data, synth, train, names) are checkout files and are not packaged.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

# A plain folder on disk in both cases (setuptools installs package data as files; no zip imports).
try:
    PACKAGE_CONFIGS = Path(str(files("xscreen.configs")))
except ModuleNotFoundError as exc:  # an editable install made before configs/ was mapped
    raise ImportError("xscreen.configs is not installed (this install predates it): run `bash scripts/setup.sh`") from exc
TAXONOMY_FILE = PACKAGE_CONFIGS / "taxonomy.yaml"
DEFAULT_POLICY_FILE = PACKAGE_CONFIGS / "policy" / "default.yaml"
SCANNERS_DIR = PACKAGE_CONFIGS / "scanners"
