"""Recipe validation: bad recipes are refused with a ConfigError before anything is generated."""

from __future__ import annotations

import pytest
import yaml

from xscreen.checkout import CONFIGS_DIR
from xscreen.datasets.synth.config import DEFAULT_CONFIG, load_config
from xscreen.errors import ConfigError


@pytest.mark.parametrize("path", sorted((CONFIGS_DIR / "synth").glob("*.yaml")))
def test_shipped_recipes_load(path):
    cfg = load_config(path)
    assert cfg.no_threat_fraction >= 0.3


@pytest.mark.parametrize(
    "bad",
    [
        {"no_threat_fraction": 0.1},  # the issue: at least 30 % of scans hold no threat
        {"image_size": 10},
        {"render_scale": 0.0},
        {"profiles": {}},
        {"containers": {"cardboard_box": -1.0}},
        {"threat_weights": {"firearm": 0.0}},
        {"unknown_field": 1},
        {"labels": {"min_visibility": 1.5}},
        {"builder_weights": {"knife": {"throwing_star": -1.0}}},
        {"builder_weights": {"knife": {}}},
    ],
)
def test_bad_recipes_are_refused(tmp_path, bad):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad))
    with pytest.raises(ConfigError):
        load_config(path)


def test_missing_recipe(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    assert DEFAULT_CONFIG.exists()
