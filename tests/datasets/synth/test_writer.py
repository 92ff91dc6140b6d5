"""The dataset writer and `xscreen synth`: layout, taxonomy names, same bytes whatever the workers."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from xscreen.datasets.synth import generate_dataset
from xscreen.vision.taxonomy import load_taxonomy


def _small_config(tmp_path: Path) -> Path:
    cfg = tmp_path / "small.yaml"
    cfg.write_text(yaml.safe_dump({"image_size": 192, "render_scale": 0.5, "val_fraction": 0.3, "profiles": {"dual-160kv": 0.7, "single-160kv-gray": 0.3}}))
    return cfg


def _digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file() and p.name != "data.yaml"}


def test_same_seed_same_bytes_whatever_the_workers(tmp_path):
    cfg = _small_config(tmp_path)
    one = generate_dataset(tmp_path / "one", count=4, seed=5, config=cfg, workers=1, raw=True, progress=False)
    two = generate_dataset(tmp_path / "two", count=4, seed=5, config=cfg, workers=2, raw=True, progress=False)
    assert _digest(one.parent) == _digest(two.parent)
    other = generate_dataset(tmp_path / "other", count=2, seed=6, config=cfg, workers=1, progress=False)
    images = lambda d: {v for k, v in _digest(d).items() if k.startswith("images")}  # noqa: E731
    assert images(other.parent) and not images(other.parent) & images(one.parent)


def test_layout_names_and_metadata(tmp_path):
    data_yaml = generate_dataset(tmp_path / "ds", count=4, seed=1, config=_small_config(tmp_path), raw=True, progress=False)
    data = yaml.safe_load(data_yaml.read_text())
    assert data["names"] == dict(enumerate(load_taxonomy().names))
    root = data_yaml.parent
    images = sorted(root.glob("images/*/*.jpg"))
    assert len(images) == 4
    for img in images:
        split, stem = img.parent.name, img.stem
        labels = (root / "labels" / split / f"{stem}.txt").read_text().split()
        assert len(labels) % 5 == 0
        meta = json.loads((root / "meta" / split / f"{stem}.json").read_text())
        assert meta["seed"] == 1 and meta["scene"]["profile"] in ("dual-160kv", "single-160kv-gray")
        assert len(labels) // 5 == sum(1 for lab in meta["labels"] if lab["kept"])
        assert (root / "raw" / split / f"{stem}_high.png").exists()


def test_cli(tmp_path):
    from xscreen.cli import app

    result = CliRunner().invoke(app, ["synth", "--out", str(tmp_path / "c"), "--count", "2", "--seed", "3", "--config", str(_small_config(tmp_path)), "--json"])
    assert result.exit_code == 0, result.output
    assert Path(json.loads(result.stdout.strip().splitlines()[-1])["data_yaml"]).exists()


@pytest.mark.parametrize(("args", "code"), [(["--count", "0"], 2), (["--config", "/nonexistent.yaml", "--count", "1"], 2)])
def test_cli_refuses_bad_input(tmp_path, args, code):
    from xscreen.cli import app

    result = CliRunner().invoke(app, ["synth", "--out", str(tmp_path / "x"), *args])
    assert result.exit_code == code


@pytest.mark.parametrize("workers", [1, 2])
def test_a_small_set_still_has_a_validation_scan(tmp_path, workers):
    # seed 0, three scans at val_fraction 0.3: no scan draws val on its own (synth --count 6 left val empty)
    from xscreen.cli import app
    from xscreen.datasets.synth.writer import forced_val_index

    assert forced_val_index(0, 3, 0.3) == 2
    out = tmp_path / "s"
    result = CliRunner().invoke(app, ["synth", "--out", str(out), "--count", "3", "--seed", "0", "--config", str(_small_config(tmp_path)),
                                      "--workers", str(workers), "--json"])
    assert result.exit_code == 0, result.output
    assert [p.name for p in (out / "images" / "val").iterdir()] == ["synth_0000002.jpg"]
    assert len(list((out / "images" / "train").iterdir())) == 2 and (out / "labels" / "val" / "synth_0000002.txt").exists()
    assert yaml.safe_load((out / "data.yaml").read_text())["val"] == "images/val"
