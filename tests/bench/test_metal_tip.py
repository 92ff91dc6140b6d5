"""bench/metal_tip.py: stars, blades and knives projected into the gun-free real scans only, reproducibly, and
each object's firearm score read at its place in any rendering's pixels (issue 18.4)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from tests.factories import load_bench


@pytest.fixture(scope="module")
def bench():
    return load_bench("metal_tip")


@pytest.fixture()
def scans(shared_data: Path, tmp_path: Path) -> list[Path]:
    """Four real SIXray scans in a YOLO layout: the first labelled as holding a firearm, the others clean."""
    (tmp_path / "real" / "images" / "val").mkdir(parents=True)
    (tmp_path / "real" / "labels" / "val").mkdir(parents=True)
    out = []
    for k, src in enumerate(sorted((shared_data / "sixray-subset" / "val").glob("*.jpg"))[:4]):
        bgr = cv2.imread(str(src), cv2.IMREAD_COLOR)
        image = tmp_path / "real" / "images" / "val" / f"scan{k}.jpg"
        cv2.imwrite(str(image), bgr[::2, ::2])
        (tmp_path / "real" / "labels" / "val" / f"scan{k}.txt").write_text("0 0.5 0.5 0.2 0.2\n" if k == 0 else "")
        out.append(image)
    return out


def test_composites_touch_only_the_gun_free_scans_and_repeat(bench, scans: list[Path], tmp_path: Path) -> None:
    from xscreen.vision.taxonomy import load_taxonomy

    images, inserted = bench.composite_set(scans, tmp_path / "a")
    again, inserted_again = bench.composite_set(scans, tmp_path / "b")
    assert images[0].read_bytes() == scans[0].read_bytes()  # the gun scan, as it was
    assert [o.kind for o in inserted] == list(bench.KINDS)  # one object per clean scan, kinds in turn
    assert [o.__dict__ for o in inserted] == [o.__dict__ for o in inserted_again]
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(images, again))
    knife = str(load_taxonomy().id_of("knife"))
    for obj, image in zip(inserted, images[1:]):
        assert image.name == obj.scan and all(0.0 <= v <= 1.0 for v in obj.box)
        rows = (tmp_path / "a" / "labels" / "val" / f"{image.stem}.txt").read_text().splitlines()
        assert [r.split()[0] for r in rows] == ([knife] if obj.kept else [])
        before = cv2.imread(str(scans[images.index(image)]), cv2.IMREAD_COLOR).astype(int)
        after = cv2.imread(str(image), cv2.IMREAD_COLOR).astype(int)
        h, w = after.shape[:2]
        changed = np.abs(after - before).max(axis=2) > 12  # beyond JPEG noise: the object
        ys, xs = np.nonzero(changed)
        x0, y0, x1, y1 = obj.box
        assert len(xs) and xs.min() >= x0 * w - 2 and xs.max() <= x1 * w + 2 and ys.min() >= y0 * h - 2 and ys.max() <= y1 * h + 2


def test_an_object_is_scored_where_it_lies_in_a_smaller_rendering(bench, tmp_path: Path) -> None:
    image = tmp_path / "r.png"
    cv2.imwrite(str(image), np.zeros((60, 100), np.uint8))  # the rendering at 0.5x a 120 x 200 composite
    obj = bench.Inserted("r.png", "throwing_star", (0.5, 0.5, 0.7, 0.9), True, "", 0.8, {})
    detections = [{"class_name": "firearm", "score": 0.7, "box": [50, 30, 70, 54]},  # on it
                  {"class_name": "firearm", "score": 0.9, "box": [0, 0, 20, 20]},  # elsewhere
                  {"class_name": "knife", "score": 0.95, "box": [50, 30, 70, 54]}]
    predictions = tmp_path / "predictions.jsonl"
    predictions.write_text(json.dumps({"path": str(image), "kind": "gray", "detections": detections}) + "\n")
    sample = SimpleNamespace(image=image, boxes=np.zeros((0, 4), np.float32), class_names=[])
    assert bench.inserted_scores(predictions, [sample], [obj]) == [pytest.approx(0.7)]
