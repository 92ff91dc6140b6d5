"""Memory stays flat over many scans of varied sizes (issue 20), in bounds that run in CI.

Peak RSS is the kernel's high-water mark (VmHWM), reset before each measured run (`/proc/self/clear_refs`),
so a run that holds what it no longer needs shows in its peak even when it frees everything at the end.
Each check runs a short stretch and a stretch five times longer through the same path; what a scan leaves
behind (decoded pixels kept alive, one arena or memory plan per input shape) grows with the number of
scans, so the longer stretch's peak must not rise above the shorter one's by more than a few MB. The
sizes are drawn so that the short stretch already sees most batch rectangles: the check is on growth, not
on the first visit to a shape.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from xscreen.vision.engine import Engine
from xscreen.vision.scan import Scan
from xscreen.vision.screening import screen

SLACK_MB = 12.0  # allocator noise on a shared CI host; one 900 x 700 colour scan kept alive per scan would be ~1.9 MB each


def _peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM in /proc/self/status")


def _reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # Linux: VmHWM := current RSS


def _sizes(n: int, seed: int) -> list[tuple[int, int]]:
    rng = np.random.default_rng(seed)
    return [(int(h), int(w)) for h, w in rng.integers(80, 900, size=(n, 2))]


def _peak_over(run, n: int, seed: int) -> float:
    _reset_peak()
    run(_sizes(n, seed))
    return _peak_rss_mb()


@pytest.fixture(scope="module")
def engine(tiny_models_dir: Path) -> Engine:
    # The tiny model has a dynamic input: at 256 px its batch rectangles take 8 x 8 shapes, as a real model's do.
    return Engine.load("tiny:1", models_dir=tiny_models_dir, providers=["CPUExecutionProvider"], intra_op_threads=1).with_thresholds(imgsz=256)


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc")
def test_the_screening_path_holds_no_memory_per_scan(engine: Engine) -> None:
    rng = np.random.default_rng(1)

    def run(sizes: list[tuple[int, int]]) -> None:
        for start in range(0, len(sizes), 4):  # batches of up to 4 scans, as the service's micro-batches
            scans = [Scan(rng.integers(0, 255, (h, w, 3), dtype=np.uint8), "colour") for h, w in sizes[start : start + 4]]
            assert len(screen(engine, scans)) == len(scans)

    run(_sizes(60, 0))  # the first visits to the shapes, the arena grown to its working size
    short = _peak_over(run, 60, 2)
    long = _peak_over(run, 300, 3)
    assert long - short <= SLACK_MB, f"peak RSS {short:.0f} MB over 60 scans, {long:.0f} MB over 300"


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc")
def test_predict_holds_no_decoded_scan_beyond_its_batch(tiny_models_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`predict_files` over a folder: the card's batch limit (32) once kept 32 decoded scans and a results list
    of them; now a scan is dropped when screened, and the results are a few numbers per scan.

    One engine instance: with two, each call's onnxruntime arena grows with the pairs of batch shapes that
    happen to run at the same time (in power-of-two steps), which a 150-scan stretch meets more of than a
    30-scan one; that is not memory per scan. How many scans two instances keep alive is counted exactly in
    `test_predict_with_instances_keeps_only_the_batches_in_flight`."""
    from xscreen.settings import get_settings
    from xscreen.vision.cli import predict_files

    monkeypatch.setenv("XSCREEN_MODELS_DIR", str(tiny_models_dir))
    monkeypatch.setenv("XSCREEN_PROVIDERS", '["CPUExecutionProvider"]')
    monkeypatch.setenv("XSCREEN_ENGINE_INSTANCES", "1")
    get_settings.cache_clear()
    rng = np.random.default_rng(4)
    folders = {}
    for name, count, seed in (("warm", 30, 5), ("short", 30, 6), ("long", 150, 7)):
        folder = tmp_path / name
        folder.mkdir()
        for i, (h, w) in enumerate(_sizes(count, seed)):
            image = np.full((h, w, 3), 200, np.uint8)
            image[h // 4 : h // 2, w // 4 : w // 2] = rng.integers(0, 255, 3)
            cv2.imwrite(str(folder / f"{i:04d}.jpg"), image)
        folders[name] = sorted(folder.iterdir())

    def run(files: list[Path]) -> None:
        results = predict_files(files, model="tiny:1", imgsz=256)
        assert len(results) == len(files) and all("decision" in r for r in results)

    run(folders["warm"])
    _reset_peak()
    run(folders["short"])
    short = _peak_rss_mb()
    _reset_peak()
    run(folders["long"])
    long = _peak_rss_mb()
    assert long - short <= SLACK_MB, f"peak RSS {short:.0f} MB over 30 scans, {long:.0f} MB over 150"


@pytest.mark.parametrize(("instances", "batch"), [(2, 1), (2, 3), (3, 2)])
def test_predict_with_instances_keeps_only_the_batches_in_flight(tiny_models_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  instances: int, batch: int) -> None:
    """With `instances` batches on the engine at once, at most those batches and the one being read are alive
    when a scan is read, and none once `predict_files` returns (counted with weak references, not RSS)."""
    import weakref

    from xscreen.settings import get_settings
    from xscreen.vision import screening
    from xscreen.vision.cli import predict_files

    monkeypatch.setenv("XSCREEN_MODELS_DIR", str(tiny_models_dir))
    monkeypatch.setenv("XSCREEN_PROVIDERS", '["CPUExecutionProvider"]')
    monkeypatch.setenv("XSCREEN_ENGINE_INSTANCES", str(instances))
    get_settings.cache_clear()
    files = []
    for i, (h, w) in enumerate(_sizes(24, 8)):
        files.append(tmp_path / f"{i:04d}.png")
        cv2.imwrite(str(files[-1]), np.full((h, w, 3), (90, 160, 220), np.uint8))
    refs: list[weakref.ref] = []
    most = 0
    real_read = screening.read_scan_file

    def counting_read(path: Path, **kwargs):
        nonlocal most
        scan = real_read(path, **kwargs)
        refs.append(weakref.ref(scan))
        most = max(most, sum(r() is not None for r in refs))
        return scan

    monkeypatch.setattr(screening, "read_scan_file", counting_read)
    results = predict_files(files, model="tiny:1", imgsz=256, batch=batch)
    assert len(results) == len(files) and all("decision" in r for r in results)
    assert len(refs) == len(files)
    assert most <= (instances + 1) * batch, f"{most} scans alive at once"
    assert all(r() is None for r in refs)
