"""Scan trees for batch tests: real X-ray images from the shared sets, plus files that are not scans."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

# Each broken file and the error code its row must carry.
BROKEN = {
    "broken/truncated.jpg": "scan_undecodable",  # a real JPEG cut to its first 600 bytes
    "broken/empty.png": "scan_undecodable",
    "broken/notes.jpg": "unsupported_media",  # text with an image name
}


@pytest.fixture
def scan_tree(tmp_path: Path, shared_data: Path) -> Path:
    """A directory tree of 10 real scans (OPIXray and SIXray, two folders), 3 broken files and a README."""
    root = tmp_path / "archive"
    opix = sorted((shared_data / "opixray-roboflow-subset" / "images").glob("*.jpg"))[:6]
    six = sorted((shared_data / "sixray-subset" / "val").glob("*.jpg"))[:4]
    for folder, files in (("2024-01", opix), ("2024-02", six)):
        (root / folder).mkdir(parents=True)
        for f in files:
            shutil.copy(f, root / folder / f.name)
    (root / "broken").mkdir()
    (root / "broken" / "truncated.jpg").write_bytes(opix[0].read_bytes()[:600])
    (root / "broken" / "empty.png").write_bytes(b"")
    (root / "broken" / "notes.jpg").write_text("not an image\n")
    (root / "README.md").write_text("archive index; not a scan, so a tree walk skips it\n")
    return root


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    """A copy of the default policy (tests that change its version write their own)."""
    from xscreen.resources import DEFAULT_POLICY_FILE

    path = tmp_path / "policy.yaml"
    shutil.copy(DEFAULT_POLICY_FILE, path)
    return path


def result_row(source: str, decision: str | None, *, score: float | None = None, class_name: str = "firearm",
               sha256: str | None = None, model: str = "m:1") -> dict:
    """One result row (rows.ROW_SCHEMA) without running a model: for manifest, diff and report tests."""
    from xscreen.vision.taxonomy import load_taxonomy

    cls = load_taxonomy().by_name(class_name)
    detections = [] if score is None else [
        {"class_id": cls.id, "class_name": cls.name, "category": cls.category, "score": score, "box": [1.0, 2.0, 3.0, 4.0]}
    ]
    reasons = [] if decision in (None, "clear") or score is None else [
        {"detection": 0, "class_name": cls.name, "category": cls.category, "score": score, "threshold": 0.2, "verdict": decision}
    ]
    return {
        "source": source, "sha256": sha256 or f"sha-{source}", "width": 10, "height": 10, "detections": detections,
        "max_score": score, "decision": decision, "reasons": reasons, "model": model, "policy_version": "default:1",
        "error_code": None if decision else "scan_undecodable", "error": None if decision else "bad bytes",
    }


@pytest.fixture
def make_row():
    return result_row


@pytest.fixture(scope="session")
def lowconf_models_dir(tiny_models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`tiny:1` with its operating threshold at 0.001, so the barely trained model reports boxes on every scan.

    The card is not among the checksummed files, so this is the same ONNX model with a different card.
    """
    import json

    models_dir = tmp_path_factory.mktemp("lowconf") / "models"
    shutil.copytree(tiny_models_dir, models_dir)
    card_path = models_dir / "tiny" / "1" / "card.json"
    card = json.loads(card_path.read_text())
    card["thresholds"]["conf"] = 0.001
    card_path.write_text(json.dumps(card))
    return models_dir


@pytest.fixture
def flag_all_policy(tmp_path: Path) -> Path:
    """A policy that sends any threat detection at all to inspection."""
    path = tmp_path / "flag-all.yaml"
    path.write_text("name: flag-all\nversion: 1\ncategories:\n  firearms: {inspect: 0.0001}\n  drugs: {inspect: 0.0001}\n  weapons: {inspect: 0.0001}\n")
    return path
