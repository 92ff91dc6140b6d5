"""Keep ultralytics off the network.

ultralytics 8.4 reaches out in four places, and YOLO_OFFLINE alone closes only some of them:
- `check_font` downloads Arial.ttf / Arial.Unicode.ttf into its config dir whatever YOLO_OFFLINE says,
  so we put a local font (DejaVu Sans, shipped by matplotlib) there under those names;
- `check_requirements` pip-installs missing packages unless YOLO_AUTOINSTALL is false;
- settings `sync` sends anonymous analytics; we switch it off in the settings file;
- `check_amp` on CUDA downloads a pretrained checkpoint; training passes `amp` explicitly
  (see `xscreen.training.train`) and this module makes the checker see an offline machine.
`set_offline_environment` only touches environment variables (cheap, run on import of xscreen);
`prepare_ultralytics` also writes the font and settings and must run before training or export.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

OFFLINE_ENV = {
    "YOLO_OFFLINE": "1",
    "YOLO_AUTOINSTALL": "false",
    "YOLO_VERBOSE": "false",
    "HF_HUB_OFFLINE": "1",
}

_FONT_NAMES = ("Arial.ttf", "Arial.Unicode.ttf")


def ultralytics_config_dir() -> Path:
    """Where ultralytics keeps settings and fonts (its YOLO_CONFIG_DIR)."""
    configured = os.environ.get("YOLO_CONFIG_DIR")
    if configured:
        return Path(configured)
    base = Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config"))
    return base / "Ultralytics"


def set_offline_environment() -> None:
    """Set the environment switches ultralytics reads at import time (never overriding the user's)."""
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)
    os.environ.setdefault("YOLO_CONFIG_DIR", str(ultralytics_config_dir()))


def local_font_path() -> Path:
    """A TrueType font that is on disk without any download."""
    bundled = Path(__file__).parent / "assets" / "DejaVuSans.ttf"
    if bundled.exists():
        return bundled
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
    install_local_fonts()
    from ultralytics.utils import SETTINGS  # imported late: this module must not need ultralytics

    if SETTINGS.get("sync", True):
        SETTINGS.update({"sync": False})
    _disable_online_checks()


def _disable_online_checks() -> None:
    """ultralytics asks `is_online()` before some downloads; answer no without touching a socket."""
    import ultralytics.utils as uutils
    import ultralytics.utils.checks as checks

    uutils.ONLINE = False
    if hasattr(checks, "ONLINE"):
        checks.ONLINE = False
    if hasattr(uutils, "is_online"):
        uutils.is_online = lambda: False  # type: ignore[assignment]
