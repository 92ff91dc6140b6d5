"""Keep ultralytics off the network.

ultralytics 8.4 reaches out in four places, and YOLO_OFFLINE alone closes only some of them:
- `check_font` downloads Arial.ttf / Arial.Unicode.ttf into its config dir whatever YOLO_OFFLINE says,
  so we put a local font (DejaVu Sans, shipped by matplotlib) there under those names;
- `check_requirements` pip-installs missing packages unless YOLO_AUTOINSTALL is false;
- settings `sync` sends anonymous analytics; we switch it off in the settings file;
- `check_amp` on CUDA downloads a pretrained checkpoint; we replace the trainer's reference to it;
- importing ultralytics patches `PIL.Image.open` to pip-install pi-heif on the first undecodable image,
  which turns "not an image" into ModuleNotFoundError for every PIL user in the process (our decoders
  and importers included); we mark its HEIF plugin as settled so PIL behaves as PIL again.
`prepare_ultralytics` sets the environment switches, writes the font and settings and patches the checks;
every module that imports ultralytics (training, evaluation, export, bench, tests) calls it first. It lives
in `training` because nothing else uses ultralytics: `import xscreen` on a station host touches no YOLO_*
variable.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

OFFLINE_ENV = {
    "YOLO_OFFLINE": "1",
    "YOLO_AUTOINSTALL": "false",
    "YOLO_VERBOSE": "false",
    "HF_HUB_OFFLINE": "1",
}

_FONT_NAMES = ("Arial.ttf", "Arial.Unicode.ttf")


def ultralytics_config_dir() -> Path:
    """Where ultralytics keeps settings and fonts: the same rule as its `get_user_config_dir`."""
    configured = os.environ.get("YOLO_CONFIG_DIR")
    base = Path(configured).expanduser() if configured else Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config"))
    return base / "Ultralytics"


def set_offline_environment() -> None:
    """Set the environment switches ultralytics reads at import time (never overriding the user's)."""
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)


def local_font_path() -> Path:
    """A TrueType font that is on disk without any download."""
    import matplotlib  # ships DejaVu Sans; a dependency of ultralytics anyway

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"


def install_local_fonts(config_dir: Path | None = None) -> Path:
    """Put a local font where ultralytics' `check_font` looks, so it never downloads one."""
    target = config_dir or ultralytics_config_dir()
    target.mkdir(parents=True, exist_ok=True)
    source = local_font_path()
    for name in _FONT_NAMES:
        dest = target / name
        if not dest.exists():
            shutil.copyfile(source, dest)
    return target


def prepare_ultralytics() -> None:
    """Make ultralytics fully offline: environment, local fonts, analytics off. Idempotent."""
    set_offline_environment()
    from ultralytics.utils import SETTINGS, USER_CONFIG_DIR  # late: this module must not need ultralytics

    install_local_fonts(Path(USER_CONFIG_DIR))
    if SETTINGS.get("sync", True):
        SETTINGS.update({"sync": False})
    if SETTINGS.get("raytune", False):
        # Ray is installed for batch re-screening; ultralytics then hooks Ray Tune into every training, which
        # only warns "`get_trial_id` is meant to only be called inside ... a Tuner" each epoch.
        SETTINGS.update({"raytune": False})
    _disable_online_checks()


def _disable_online_checks() -> None:
    """ultralytics asks `is_online()` before some downloads; answer no without touching a socket."""
    import ultralytics.engine.trainer as trainer
    import ultralytics.utils as uutils
    import ultralytics.utils.checks as checks
    import ultralytics.utils.patches as patches

    patches._pil_plugins_registered = True  # never try to install pi-heif; HEIF scans are not supported
    uutils.ONLINE = False
    if hasattr(checks, "ONLINE"):
        checks.ONLINE = False
    # check_amp downloads yolo26n.pt to compare fp32 and AMP outputs. Without it we trust AMP on CUDA,
    # except on the GPUs ultralytics itself lists as broken (kept in its own pattern check).
    trainer.check_amp = _offline_check_amp


def _offline_check_amp(model: Any) -> bool:
    import re

    import torch

    device = next(model.parameters()).device
    if device.type != "cuda":
        return False
    name = torch.cuda.get_device_name(device)
    return not re.search(r"(nvidia|geforce|quadro|tesla).*?(1660|1650|1630|t400|t550|t600|t1000|t1200|t2000|k40m)", name, re.I)
