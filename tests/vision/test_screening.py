"""The one screening path: scan -> detections -> decision, a failing scan alone, one error code, one suffix list."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.factories import OneBadScanEngine, colour_scan
from xscreen.errors import ScanUnreadable
from xscreen.settings import get_settings
from xscreen.vision.policy import load_policy
from xscreen.vision.screening import read_scan_file, screen


def test_screen_decides_under_the_policy_and_a_bad_scan_fails_alone() -> None:
    engine = OneBadScanEngine()
    policy = load_policy(get_settings().policy_file)
    results = screen(engine, [colour_scan("a"), colour_scan("bad"), colour_scan("c")], policy=policy)
    assert engine.calls == [3, 1, 1, 1]
    assert [r.error is None for r in results] == [True, False, True]
    assert results[0].decision is not None and results[0].decision.verdict == "hold"
    assert results[0].decision.policy_version == policy.version
    assert results[1].decision is None and len(results[1].detections) == 0


def test_screen_without_a_policy_gives_detections_only() -> None:
    (result,) = screen(OneBadScanEngine(), [colour_scan("a")])
    assert result.decision is None and len(result.detections) == 1
    assert screen(OneBadScanEngine(), []) == []


def test_a_missing_file_is_unreadable(tmp_path: Path) -> None:
    with pytest.raises(ScanUnreadable) as info:
        read_scan_file(tmp_path / "gone.png")
    assert info.value.code == "unreadable" and "gone.png" in info.value.message


def test_every_folder_walk_takes_the_same_scan_suffixes(tmp_path: Path) -> None:
    """predict and batch once disagreed (.dicom found by batch only); dataset importers take what ultralytics reads."""
    from xscreen.serving.batch.sources import list_sources
    from xscreen.vision.cli import expand_paths
    from xscreen.vision.yolo import find_images

    for suffix in (".png", ".JPG", ".tiff", ".npz", ".dcm", ".dicom", ".txt"):
        (tmp_path / f"a{suffix}").write_bytes(b"x")
    expected = sorted(p.name for p in tmp_path.iterdir() if p.suffix.lower() != ".txt")
    assert sorted(p.name for p in expand_paths([tmp_path])) == expected
    assert sorted(Path(s).name for s in list_sources(str(tmp_path))) == expected
    assert sorted(p.name for p in find_images(tmp_path)) == ["a.JPG", "a.png", "a.tiff"]
