"""A real `xscreen batch` process killed with SIGKILL mid-run, then resumed: no scan lost, none twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
from typer.testing import CliRunner

from xscreen.cli import app
from xscreen.serving.batch.manifest import Manifest
from xscreen.serving.batch.sources import list_sources


def _committed_lines(manifest: Path) -> int:
    try:
        return manifest.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def test_sigkill_mid_run_then_resume(shared_data: Path, tiny_models_dir: Path, tmp_path: Path, monkeypatch) -> None:
    images = sorted((shared_data / "opixray-roboflow-subset" / "images").glob("*.jpg"))[:300]
    src = tmp_path / "todo.txt"  # a list file naming the archive's scans where they are
    src.write_text("".join(f"{p}\n" for p in images))
    expected = sorted(list_sources(str(src)))
    assert len(expected) == 300
    out = tmp_path / "run"
    monkeypatch.setenv("XSCREEN_MODELS_DIR", str(tiny_models_dir))
    monkeypatch.setenv("XSCREEN_PROVIDERS", json.dumps(["CPUExecutionProvider"]))
    cmd = [str(Path(sys.executable).parent / "xscreen"), "batch", str(src), "--out", str(out), "--commit-every", "8", "--workers", "2"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ.copy())
    try:
        deadline = time.monotonic() + 120
        while _committed_lines(out / "manifest.jsonl") < 3:
            assert proc.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "the run committed nothing in 120 s"
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not (out / "results.parquet").exists()
    first = Manifest(out).load().done
    assert 0 < len(first) < len(expected)

    result = CliRunner().invoke(app, ["batch", str(src), "--out", str(out), "--resume", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["skipped"] == len(first) and summary["screened"] == len(expected) - len(first)

    sources = pq.read_table(out / "results.parquet").column("source").to_pylist()
    assert sources == expected  # every scan, once, sorted
    parts = Manifest(out).load().part_paths()
    in_parts = [s for p in parts for s in pq.read_table(p).column("source").to_pylist()]
    assert sorted(in_parts) == expected  # and no stray copy left in any committed part
    assert sorted(p.name for p in (out / "parts").iterdir()) == sorted(p.name for p in parts)
