"""`xscreen batch SRC` and `xscreen batch run SRC` are one command; `batch diff` is another."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from xscreen.cli import app


@pytest.fixture
def cli_env(tiny_models_dir: Path, policy_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from xscreen.settings import get_settings

    monkeypatch.setenv("XSCREEN_MODELS_DIR", str(tiny_models_dir))
    monkeypatch.setenv("XSCREEN_POLICY_FILE", str(policy_file))
    monkeypatch.setenv("XSCREEN_PROVIDERS", json.dumps(["CPUExecutionProvider"]))
    get_settings.cache_clear()


@pytest.mark.parametrize("words", [[], ["run"]], ids=["batch-SRC", "batch-run-SRC"])
def test_batch_src_runs(cli_env: None, scan_tree: Path, tmp_path: Path, words: list[str]) -> None:
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["batch", *words, str(scan_tree), "--out", str(out), "--jsonl", "--json", "--model", "tiny:1"])
    assert result.exit_code == 1, result.output  # three scans could not be screened: predict's rule
    summary = json.loads(result.stdout)
    assert (summary["total"], summary["errors"], summary["model"]) == (13, 3, "tiny:1")
    assert (out / "results.parquet").exists() and (out / "results.jsonl").exists() and (out / "report.md").exists()


def test_allow_errors_exits_0_with_the_error_rows_kept(cli_env: None, scan_tree: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["batch", str(scan_tree), "--out", str(tmp_path / "run"), "--json", "--allow-errors"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["errors"] == 3


def test_human_summary(cli_env: None, scan_tree: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["batch", str(scan_tree / "2024-01"), "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    assert "6 scans" in result.stdout and "tiny:1" in result.stdout


@pytest.mark.parametrize(
    ("args", "exit_code", "message"),
    [
        (["--address", "auto"], 2, "--engine ray"),
        (["--engine", "spark"], 2, "spark"),
        (["--model", "absent:1"], 3, "model_not_found"),
        (["--workers", "-1"], 2, "workers"),
    ],
)
def test_bad_arguments(cli_env: None, scan_tree: Path, tmp_path: Path, args: list[str], exit_code: int, message: str) -> None:
    result = CliRunner().invoke(app, ["batch", str(scan_tree), "--out", str(tmp_path / "run"), *args])
    assert result.exit_code == exit_code, result.output
    assert message in result.output


def test_missing_source(cli_env: None, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["batch", str(tmp_path / "nowhere"), "--out", str(tmp_path / "run")])
    assert result.exit_code == 1 and "invalid_request" in result.output


@pytest.mark.parametrize("pattern", ["", "*.jpg"], ids=["empty-folder", "pattern-matching-nothing"])
def test_empty_source_is_an_error(cli_env: None, tmp_path: Path, pattern: str) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no scans here")
    result = CliRunner().invoke(app, ["batch", str(tmp_path / "empty" / pattern), "--out", str(tmp_path / "run")])
    assert result.exit_code == 1, result.output
    last = result.output.splitlines()[-1]  # after the progress bar's line
    assert last.startswith("error (invalid_request): batch source") and "names no scans" in last
    assert not (tmp_path / "run" / "results.parquet").exists()


@pytest.mark.parametrize(
    ("completed", "start_done", "elapsed", "finished", "rate"),
    [(120, 20, 10.0, None, 10.0), (120, 20, 99.0, 40.0, 2.5), (20, 20, 5.0, None, None), (0, 0, 0.0, None, None)],
)
def test_the_bar_rate_is_the_summary_rate(completed: int, start_done: int, elapsed: float, finished: float | None, rate: float | None) -> None:
    """scans screened by this attempt / seconds since screening started, as BatchSummary.scans_per_s."""
    from types import SimpleNamespace

    from xscreen.serving.batch.cli import screening_rate
    from xscreen.serving.batch.run import BatchSummary

    task = SimpleNamespace(completed=completed, elapsed=elapsed, finished_time=finished, fields={"start_done": start_done})
    assert screening_rate(task) == rate
    if rate is not None:
        summary = BatchSummary(out=Path("."), model="m:1", policy_version="p:1", engine="ray", total=completed, skipped=start_done,
                               screened=completed - start_done, errors=0, seconds=finished or elapsed)
        assert summary.scans_per_s == rate


def test_variant_comes_from_the_settings_and_is_recorded_in_run_json(
    tiny_int8_models_dir: Path, policy_file: Path, scan_tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 20: batch runs the INT8 file when `variant` says so (settings or --variant), and run.json says which."""
    from xscreen.settings import get_settings

    monkeypatch.setenv("XSCREEN_MODELS_DIR", str(tiny_int8_models_dir))
    monkeypatch.setenv("XSCREEN_POLICY_FILE", str(policy_file))
    monkeypatch.setenv("XSCREEN_PROVIDERS", json.dumps(["CPUExecutionProvider"]))
    monkeypatch.setenv("XSCREEN_VARIANT", "int8")
    get_settings.cache_clear()
    src = str(scan_tree / "2024-01")
    result = CliRunner().invoke(app, ["batch", src, "--out", str(tmp_path / "int8"), "--json"])
    assert result.exit_code == 0, result.output
    meta = json.loads((tmp_path / "int8" / "run.json").read_text())
    assert (meta["variant"], meta["options"]["variant"], meta["summary"]["screened"]) == ("int8", "int8", 6)
    assert meta["summary"]["cpu_seconds"] > 0  # what screening cost the host, beside its wall-clock seconds

    result = CliRunner().invoke(app, ["batch", src, "--out", str(tmp_path / "int8"), "--resume", "--variant", "fp32"])
    assert result.exit_code == 2 and "variant 'int8'" in result.output  # a resume cannot mix two model files

    result = CliRunner().invoke(app, ["batch", src, "--out", str(tmp_path / "fp32"), "--variant", "fp32"])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "fp32" / "run.json").read_text())["variant"] == "fp32"


@pytest.mark.parametrize(("variant", "exit_code", "message"), [("int4", 2, "variant must be one of"), ("int8", 3, "has no int8 variant")])
def test_a_variant_it_cannot_run_is_refused_before_the_run(
    cli_env: None, scan_tree: Path, tmp_path: Path, variant: str, exit_code: int, message: str
) -> None:
    result = CliRunner().invoke(app, ["batch", str(scan_tree), "--out", str(tmp_path / "run"), "--variant", variant])
    assert result.exit_code == exit_code, result.output
    assert message in result.output and not (tmp_path / "run" / "run.json").exists()
