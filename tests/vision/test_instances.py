"""Engine instances (issue 20): on a CPU, one single-threaded engine call per core at once; the model session
is shared, so concurrent calls must give exactly the boxes the same scans give one after another."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from xscreen.vision import engine as engine_module
from xscreen.vision.engine import Engine, plan_instances
from xscreen.vision.scan import Scan

CPU = ["CPUExecutionProvider"]


@pytest.mark.parametrize(
    ("instances", "threads", "cores", "expected"),
    [
        (0, 0, 2, (2, 1)),  # auto: one single-threaded call per core
        (0, 0, 16, (4, 4)),  # at most four at once, the cores shared out between them
        (0, 0, 1, (1, 1)),
        (1, 0, 2, (1, 2)),  # one instance gets every core
        (3, 0, 2, (3, 1)),
        (0, 2, 8, (4, 2)),  # an explicit thread count is kept
    ],
)
def test_auto_instances_share_the_cores_on_a_cpu(instances: int, threads: int, cores: int, expected: tuple[int, int]) -> None:
    assert plan_instances(instances, threads, providers=CPU, cores=cores) == expected


def test_a_gpu_runs_one_instance_and_leaves_threads_to_onnxruntime(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_module, "available_providers", lambda requested=None: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    assert plan_instances(0, 0, cores=16) == (1, 0)
    assert plan_instances(2, 0, cores=16) == (2, 0)


def test_concurrent_calls_on_one_session_give_the_sequential_boxes(tiny_models_dir: Path) -> None:
    engine = Engine.load("tiny:1", models_dir=tiny_models_dir, providers=CPU, intra_op_threads=1).with_thresholds(0.001)
    rng = np.random.default_rng(5)
    scans = [Scan(rng.integers(0, 256, (int(rng.integers(120, 400)), int(rng.integers(120, 400)), 3), dtype=np.uint8), "colour")
             for _ in range(12)]
    batches = [scans[i : i + 3] for i in range(0, len(scans), 3)]
    sequential = [engine.predict_scans(batch) for batch in batches]
    with ThreadPoolExecutor(max_workers=2) as pool:
        concurrent = list(pool.map(engine.predict_scans, batches))
    assert sum(len(d) for batch in sequential for d in batch) > 0
    for seq, con in zip(sequential, concurrent, strict=True):
        for a, b in zip(seq, con, strict=True):
            np.testing.assert_array_equal(a.xyxy, b.xyxy)
            np.testing.assert_array_equal(a.scores, b.scores)
            np.testing.assert_array_equal(a.class_ids, b.class_ids)
