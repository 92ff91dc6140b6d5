"""The Ray engine in local mode gives the local engine's rows, row for row."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from xscreen.serving.batch.run import BatchOptions, run


@pytest.fixture(scope="module")
def ray_local():
    ray = pytest.importorskip("ray")
    # Loopback only: the test process blocks other addresses, and a cluster of one needs none.
    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1", logging_level="WARNING", log_to_driver=False)
    yield ray
    ray.shutdown()


def test_ray_rows_equal_local_rows(ray_local, scan_tree: Path, lowconf_models_dir: Path, flag_all_policy: Path, tmp_path: Path) -> None:
    common = dict(src=str(scan_tree), models_dir=lowconf_models_dir, policy_file=flag_all_policy,
                  providers=["CPUExecutionProvider"], batch_size=4, commit_every=4, save_annotated=True)
    local = run(BatchOptions(out=tmp_path / "local", engine="local", workers=2, **common))
    on_ray = run(BatchOptions(out=tmp_path / "ray", engine="ray", workers=1, **common))
    assert (on_ray.total, on_ray.screened, on_ray.errors) == (local.total, local.screened, local.errors) == (13, 13, 3)
    local_rows = pq.read_table(tmp_path / "local" / "results.parquet")
    ray_rows = pq.read_table(tmp_path / "ray" / "results.parquet")
    assert ray_rows.to_pylist() == local_rows.to_pylist()
    assert sum(len(r["detections"]) for r in ray_rows.to_pylist()) > 0  # the comparison covers real detections


def test_address_needs_the_ray_engine(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="--engine ray"):
        BatchOptions(src="x", out=tmp_path, models_dir=tmp_path, policy_file=tmp_path, address="auto")
