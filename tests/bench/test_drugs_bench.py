"""bench/drugs.py's 5 % false-alarm threshold: at most 5 % of untouched scans carry a detection at or above it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.factories import load_bench
from xscreen.vision.detections import Detections


@pytest.fixture(scope="module")
def bench():
    return load_bench("drugs")


def _negatives(top_scores: list[float], class_id: int = 5) -> list[Detections]:
    return [Detections(np.array([[0, 0, 10, 10]]), np.array([s]), np.array([class_id])) if s > 0 else Detections(np.zeros((0, 4)), np.zeros(0), np.zeros(0))
            for s in top_scores]


@pytest.mark.parametrize("n", [20, 40, 100])
def test_far_threshold_allows_at_most_five_percent(bench, n: int) -> None:
    rng = np.random.default_rng(n)
    scores = list(rng.uniform(0.01, 0.9, n).astype(np.float32))  # as Detections carries them
    t = bench._far_threshold(_negatives(scores), 5)
    assert sum(float(s) >= t for s in scores) <= 0.05 * n
    assert sum(float(s) >= t * 0.999 for s in scores) >= int(0.05 * n)  # and no stricter than it must be


def test_far_threshold_ignores_other_classes_and_empty_scans(bench) -> None:
    negs = _negatives([0.0] * 19 + [0.8], class_id=5) + _negatives([0.99] * 5, class_id=0)
    assert bench._far_threshold(negs, 5) <= 0.8 + 1e-6  # one of 25 scans (4 %) may alarm
    assert bench._far_threshold(_negatives([0.0] * 10), 5) < 0.01


def _composite(tmp_path: Path) -> Path:
    """One 100x80 composite with a kept drug_bulk item and a too-faint one, as drug_tip writes them."""
    import json

    from PIL import Image

    root = tmp_path / "comp"
    for sub in ("images/val", "labels/val", "meta/val"):
        (root / sub).mkdir(parents=True)
    Image.new("RGB", (100, 80), "white").save(root / "images/val/c0.jpg")
    (root / "labels/val/c0.txt").write_text("5 0.3 0.375 0.2 0.25\n")  # box 20,20 - 40,40
    items = [{"label": "drug_bulk", "box_xyxy": [20, 20, 40, 40], "kept": True, "form": "pillow", "contrast": 0.2},
             {"label": "drug_bulk", "box_xyxy": [60, 40, 90, 70], "kept": False, "form": "card", "contrast": 0.03}]
    (root / "meta/val/c0.json").write_text(json.dumps({"rendering": "colour", "projected": items}))
    return root


def test_score_reports_any_detector_on_composites_and_untouched_scans(bench, tmp_path: Path) -> None:
    root = _composite(tmp_path)
    paths = [root / "images/val/c0.jpg"]
    found = [Detections(np.array([[21.0, 20, 40, 41]]), np.array([0.9]), np.array([5]))]
    missed = [Detections(np.array([[60.0, 0, 90, 20]]), np.array([0.9]), np.array([5]))]
    quiet = _negatives([0.0] * 20)
    good = bench.score("perfect", root, paths, found, tmp_path, quiet, operating=lambda _c: 0.5)["classes"]["drug_bulk"]
    assert (good["instances"], good["ap50"], good["dr_at_far5"], good["dr_at_operating"]) == (1, 1.0, 1.0, 1.0)
    assert good["by_form"] == {"pillow": {"n": 1, "dr_at_far5": 1.0, "dr_at_operating": 1.0}}  # the faint item is not counted
    assert good["by_scan_share"] == {">=5.0%": {"n": 1, "dr_at_far5": 1.0, "dr_at_operating": 1.0}}  # 20x20 of 100x80
    bad = bench.score("blind", root, paths, missed, tmp_path, quiet, operating=lambda _c: 0.5)["classes"]["drug_bulk"]
    assert (bad["ap50"], bad["dr_at_far5"]) == (0.0, 0.0)


def test_loose_overlaps_count_what_is_seen_but_boxed_too_loosely(bench, tmp_path: Path) -> None:
    root = _composite(tmp_path)
    paths = [root / "images/val/c0.jpg"]
    # the item is 20,20 - 40,40; this box covers it and one and a half times as much beside it: IoU 0.4
    loose = [Detections(np.array([[20.0, 20, 40, 70]]), np.array([0.9]), np.array([5]))]
    m = bench.score("loose", root, paths, loose, tmp_path, _negatives([0.0] * 20), operating=lambda _c: 0.5)["classes"]["drug_bulk"]
    assert m["dr_at_far5"] == 0.0
    assert m["dr_at_far5_by_iou"] == {"0.5": 0.0, "0.3": 1.0, "0.1": 1.0}


def test_the_rate_by_false_alarms_rises_as_more_untouched_scans_may_alarm(bench, tmp_path: Path) -> None:
    root = _composite(tmp_path)
    paths = [root / "images/val/c0.jpg"]
    found = [Detections(np.array([[21.0, 20, 40, 41]]), np.array([0.3]), np.array([5]))]  # the item, at 0.3
    # 20 untouched scans: two alarm above the item's score (10 %), four more below it (30 %)
    negatives = _negatives([0.6, 0.5, 0.2, 0.2, 0.2, 0.2] + [0.0] * 14)
    curve = bench.score("curve", root, paths, found, tmp_path, negatives, operating=lambda _c: 0.5)["classes"]["drug_bulk"]["dr_by_far"]
    assert {far: (row["all"], row["large"]) for far, row in curve.items()} == {
        "0.01": (0.0, 0.0), "0.05": (0.0, 0.0), "0.1": (1.0, 1.0), "0.2": (1.0, 1.0), "0.5": (1.0, 1.0)}  # the item is 6 % of the scan
    assert curve["0.05"]["threshold"] >= 0.5 and curve["0.1"]["threshold"] <= 0.3


def test_renderings_draw_colour_composites_and_negatives_and_scale_their_boxes(bench, tmp_path: Path) -> None:
    import json

    from PIL import Image

    root = _composite(tmp_path)
    Image.new("L", (100, 80), 128).save(root / "images/val/g0.jpg")  # a gray composite: already our own gray
    (root / "labels/val/g0.txt").write_text("")
    (root / "meta/val/g0.json").write_text(json.dumps({"rendering": "gray", "projected": []}))
    negatives = tmp_path / "neg"
    negatives.mkdir()
    Image.new("RGB", (50, 40), "white").save(negatives / "n0.jpg")
    comp, neg = bench.render_composites(root, negatives, "pitch-0.6", tmp_path / "out")
    assert sorted(p.name for p in (comp / "images/val").iterdir()) == ["c0.png"]
    with Image.open(comp / "images/val/c0.png") as im:
        assert (im.mode, im.size) == ("L", (60, 48))
    meta = json.loads((comp / "meta/val/c0.json").read_text())
    assert meta["rendering"] == "pitch-0.6"
    assert meta["projected"][0]["box_xyxy"] == pytest.approx([12, 12, 24, 24])
    assert (comp / "labels/val/c0.txt").read_text() == "5 0.3 0.375 0.2 0.25\n"
    assert [p.name for p in neg.iterdir()] == ["n0.png"]
