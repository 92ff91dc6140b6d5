"""Keep every test hermetic: temporary data and config dirs, nothing written into the repo, no network."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

# Before any xscreen or ultralytics import: ultralytics reads its config dir at import time.
_SESSION_DIR = Path(tempfile.mkdtemp(prefix="xscreen-tests-"))
atexit.register(shutil.rmtree, _SESSION_DIR, ignore_errors=True)  # every test process, xdist workers included
os.environ["YOLO_CONFIG_DIR"] = str(_SESSION_DIR)
os.environ["XSCREEN_DATA_DIR"] = str(_SESSION_DIR / "data")
os.environ.setdefault("XSCREEN_CONFIG", str(_SESSION_DIR / "no-settings.yaml"))
os.environ["MPLBACKEND"] = "Agg"

from tests.netblock import network_blocked  # noqa: E402
from xscreen.checkout import SHARED_DATA  # noqa: E402
from xscreen.settings import get_settings  # noqa: E402

try:  # the product imports ultralytics only through prepare_ultralytics; so does the test process
    from xscreen.training.offline import prepare_ultralytics

    prepare_ultralytics()
except ImportError:  # a serving-only install: tests needing ultralytics skip themselves
    pass


@pytest.fixture(autouse=True)
def _hermetic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("XSCREEN_DATA_DIR", str(tmp_path / "xscreen-data"))
    get_settings.cache_clear()
    with network_blocked() as attempts:
        yield
    get_settings.cache_clear()
    assert not attempts, f"test reached for the network: {attempts}"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real X-ray sets beside the checkout (present in CI); tests needing them skip without."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def tiny_models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A registry holding `tiny:1` (promoted default): YOLO11n trained for seconds on tiny data, full taxonomy.

    Its weights are at `<dir>/tiny.pt` for parity tests. It detects little: tests assert on mechanics, and its
    card's operating threshold is low (0.05) so some boxes come out.
    """
    pytest.importorskip("ultralytics")
    from tests.factories import build_tiny_model

    with network_blocked() as attempts:
        models_dir = build_tiny_model(tmp_path_factory.mktemp("tiny-model"))
    assert not attempts, f"building the tiny model reached for the network: {attempts}"
    return models_dir


@pytest.fixture(scope="session")
def tiny_int8_models_dir(tiny_models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the tiny registry whose `tiny:1` also ships the INT8 variant (`model-int8.onnx`)."""
    import shutil

    from tests.factories import add_int8_variant

    models_dir = tmp_path_factory.mktemp("tiny-int8") / "models"
    shutil.copytree(tiny_models_dir, models_dir)
    return add_int8_variant(models_dir)
