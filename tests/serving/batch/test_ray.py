"""The Ray engine in local mode gives the local engine's rows, row for row."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from xscreen.serving.batch.run import BatchOptions, run
from xscreen.serving.batch.sources import list_sources


@pytest.fixture(scope="module")
def ray_local():
    ray = pytest.importorskip("ray")
    # Loopback only: the test process blocks other addresses, and a cluster of one needs none.
    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1", logging_level="WARNING", log_to_driver=False)
    yield ray
    ray.shutdown()


def test_ray_rows_equal_local_rows_and_ray_resumes(ray_local, scan_tree: Path, lowconf_models_dir: Path, flag_all_policy: Path,
                                                   tmp_path: Path) -> None:
    """One Ray run (actor start-up is the slow part) checks both: it finishes a run another attempt began,
    skipping what that attempt committed, and its rows equal the local engine's for the same scans."""
    every = list_sources(str(scan_tree))
    first = tmp_path / "first.txt"
    first.write_text("".join(f"{s}\n" for s in every[:5]))
    common = dict(models_dir=lowconf_models_dir, policy_file=flag_all_policy, providers=["CPUExecutionProvider"],
                  batch_size=4, commit_every=4, save_annotated=True)
    local = run(BatchOptions(src=str(scan_tree), out=tmp_path / "local", engine="local", workers=2, **common))
    run(BatchOptions(src=str(first), out=tmp_path / "ray", engine="local", **common))
    on_ray = run(BatchOptions(src=str(scan_tree), out=tmp_path / "ray", engine="ray", workers=1, resume=True, **common))
    assert (on_ray.skipped, on_ray.screened) == (5, 8)
    assert (on_ray.total, on_ray.errors) == (local.total, local.errors) == (13, 3)
    local_rows = pq.read_table(tmp_path / "local" / "results.parquet").to_pylist()
    ray_rows = pq.read_table(tmp_path / "ray" / "results.parquet").to_pylist()
    assert [r["source"] for r in ray_rows] == every
    assert ray_rows == local_rows
    assert sum(len(r["detections"]) for r in ray_rows if r["source"] in every[5:]) > 0  # Ray's rows hold real detections


def test_address_needs_the_ray_engine(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="--engine ray"):
        BatchOptions(src="x", out=tmp_path, models_dir=tmp_path, policy_file=tmp_path, address="auto")
