from __future__ import annotations

import json
from pathlib import Path

import pyarrow.csv as pacsv
import pytest
from typer.testing import CliRunner

from xscreen.cli import app
from xscreen.serving.batch.diff import diff_runs
from xscreen.serving.batch.output import RunDir
from xscreen.serving.batch.rows import rows_to_table


def _run(path: Path, model: str, rows: list[dict]) -> Path:
    run = RunDir(path)
    manifest = run.open({"model": model, "policy_version": "default:1"}, resume=False)
    manifest.commit(rows_to_table(rows))
    run.finish(manifest, jsonl=False)
    return path


def _two_runs(tmp_path: Path, make_row) -> tuple[Path, Path]:
    old = _run(tmp_path / "old", "m:1", [
        make_row("s/same", "clear"),
        make_row("s/up-small", "clear", score=0.1),
        make_row("s/up-big-weak", "clear"),
        make_row("s/up-big-strong", "clear"),
        make_row("s/down", "hold", score=0.8),
        make_row("s/broke", "inspect", score=0.3),
        make_row("s/rewritten", "clear", sha256="old-bytes"),
        make_row("s/only-old", "clear"),
    ])
    new = _run(tmp_path / "new", "m:2", [
        make_row("s/same", "clear"),
        make_row("s/up-small", "inspect", score=0.3),
        make_row("s/up-big-weak", "hold", score=0.5),
        make_row("s/up-big-strong", "hold", score=0.95),
        make_row("s/down", "clear"),
        make_row("s/broke", None),
        make_row("s/rewritten", "hold", score=0.9, sha256="new-bytes"),
        make_row("s/only-new", "hold", score=0.9),
    ])
    return old, new


def test_changes_are_listed_escalations_first(tmp_path: Path, make_row) -> None:
    old, new = _two_runs(tmp_path, make_row)
    diff = diff_runs(old, new)
    assert [c.source for c in diff.changed] == ["s/up-big-strong", "s/up-big-weak", "s/up-small", "s/down", "s/broke"]
    assert [c.escalated for c in diff.changed] == [True, True, True, False, False]
    assert diff.transitions == {"clear->hold": 2, "clear->inspect": 1, "hold->clear": 1, "inspect->error": 1}
    assert diff.compared == 6
    assert (diff.only_in_a, diff.only_in_b, diff.content_changed) == (["s/only-old"], ["s/only-new"], ["s/rewritten"])
    assert (diff.run_a["model"], diff.run_b["model"]) == ("m:1", "m:2")
    assert diff.changed[0].classes_b == ["firearm"]


def test_cli_diff_json_and_csv(tmp_path: Path, make_row) -> None:
    old, new = _two_runs(tmp_path, make_row)
    out = tmp_path / "changes.csv"
    result = CliRunner().invoke(app, ["batch", "diff", str(old), str(new / "results.parquet"), "--json", "--out", str(out)])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert [c["source"] for c in body["changed"]][:2] == ["s/up-big-strong", "s/up-big-weak"]
    assert pacsv.read_csv(out).column("source").to_pylist() == [c["source"] for c in body["changed"]]


@pytest.mark.parametrize("columns", ["20", "400"])
def test_cli_diff_human_output(tmp_path: Path, make_row, columns: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", columns)  # the sentences are plain lines: rich wrapped their paths at the width
    old, new = _two_runs(tmp_path, make_row)
    result = CliRunner().invoke(app, ["batch", "diff", str(old), str(new), "--limit", "2"])
    assert result.exit_code == 0, result.output
    assert f"A: {old} (m:1, policy default:1)\nB: {new} (m:2, policy default:1)\n" in result.stdout
    assert "5 of 6 scans change decision" in result.stdout
    assert "3 more" in result.stdout


def test_diff_of_something_that_is_not_a_run(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["batch", "diff", str(tmp_path), str(tmp_path)])
    assert result.exit_code == 2  # ConfigError
    assert "results.parquet" in result.output
