"""The drug fine-tune's set-up scripts: mining hard negatives and repeating them in the training list."""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.factories import load_script


def _run(module: ModuleType, argv: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", [module.__name__, *argv])
    module.main()


def _touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def test_each_hard_negative_is_added_hard_repeat_more_times(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = tmp_path / "real"
    sixray = [_touch(real / "images" / "train" / f"s{k}.jpg") for k in range(4)]
    opixray = [_touch(real / "images" / "train" / f"o{k}.jpg") for k in range(3)]
    for name, files in (("train-sixray", sixray), ("train-opixray", opixray), ("val-sixray", sixray[:1])):
        (real / f"{name}.txt").write_text("".join(f"./images/train/{p.name}\n" for p in files))
    drugs = [_touch(tmp_path / "drugs" / "images" / "train" / f"d{k}.jpg") for k in range(5)]
    hard = tmp_path / "hard.txt"
    hard.write_text(f"{sixray[1].resolve()}\n{opixray[2].resolve()}\n")
    out = tmp_path / "ft"
    _run(load_script("drug_training_set"), ["--real", str(real), "--drugs", str(tmp_path / "drugs"), "--out", str(out), "--opixray", "3",
                                         "--drug-count", "5", "--hard-negatives", str(hard), "--hard-repeat", "2"], monkeypatch)
    listed = [Path(line) for line in (out / "train.txt").read_text().splitlines()]
    counts = {p: listed.count(p.resolve()) for p in sixray + opixray + drugs}
    assert counts.pop(sixray[1]) == 3 and counts.pop(opixray[2]) == 3
    assert set(counts.values()) == {1}  # every other scan once
    assert len(listed) == 4 + 3 + 5 + 2 * 2


class _FakeEngine:
    """Boxes that depend on the scan: a drug box scored by its width, and a firearm box scored higher, which
    the mining must ignore."""

    def __init__(self, taxonomy) -> None:
        self.drug, self.firearm = taxonomy.id_of("drug_tablets"), taxonomy.id_of("firearm")

    def with_thresholds(self, _: float) -> "_FakeEngine":
        return self

    def predict_scans(self, scans):
        from xscreen.vision.detections import Detections

        return [Detections([[0, 0, 9, 9], [0, 0, 5, 5]], [scan.width % 89 / 100, 0.99], [self.drug, self.firearm]) for scan in scans]


def test_hard_negatives_are_the_scans_with_the_highest_drug_scores(shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from xscreen.vision.io import read_scan
    from xscreen.vision.taxonomy import load_taxonomy

    mine = load_script("mine_drug_negatives")
    monkeypatch.setattr(mine.Engine, "load", lambda *a, **k: _FakeEngine(load_taxonomy()))
    scans = sorted((shared_data / "sixray-subset" / "train").glob("*.jpg"))[:6]
    listing = tmp_path / "train.txt"
    listing.write_text("".join(f"{p}\n" for p in scans))
    out = tmp_path / "hard.txt"
    _run(mine, ["--lists", str(listing), "--top", "3", "--out", str(out)], monkeypatch)
    drug_score = {p: read_scan(p.read_bytes()).width % 89 / 100 for p in scans}
    assert len(set(drug_score.values())) == len(scans)  # a ranking to test, not a tie
    # written resolved, so that a list built where the data is a link still names the files
    assert [Path(line) for line in out.read_text().splitlines()] == [p.resolve() for p in sorted(scans, key=lambda p: -drug_score[p])[:3]]
