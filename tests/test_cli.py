"""The root command: every package's commands are reachable; doctor says what the service lacks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from xscreen.cli import app
from xscreen.settings import get_settings

runner = CliRunner()


def test_help_lists_every_package_command() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("doctor", "predict", "synth", "data", "train", "evaluate", "export", "models", "serve", "keys", "reviews", "batch"):
        assert command in result.output, command


def test_doctor_passes_with_a_default_model(tiny_models_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XSCREEN_MODELS_DIR", str(tiny_models_dir))
    get_settings.cache_clear()
    result = runner.invoke(app, ["doctor", "--json"])
    report = json.loads(result.output)
    assert result.exit_code == 0, result.output
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["default_model"]["ok"] and "tiny:1" in checks["default_model"]["detail"]
    assert "CPUExecutionProvider" in checks["onnxruntime"]["detail"]
    assert report["packages"]["onnxruntime-gpu"]


def test_doctor_fails_in_plain_words_without_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XSCREEN_MODELS_DIR", str(tmp_path / "empty"))
    get_settings.cache_clear()
    result = runner.invoke(app, ["doctor"])
    assert result.exit_code == 1
    assert "The service needs default_model" in result.output
    assert "The service needs models_dir" in result.output


@pytest.mark.parametrize("columns", ["20", "80", "400"])
def test_errors_are_one_unwrapped_line_at_any_width(columns: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A long path in the message: rich used to wrap it at the terminal's width, wherever the path ended.
    from xscreen.errors import ConfigError
    from xscreen.cli import run_command
    import typer

    monkeypatch.setenv("COLUMNS", columns)
    long_path = tmp_path / ("deep" * 30) / "train.yaml"
    probe = typer.Typer()

    @probe.command()
    def fail() -> None:
        def body() -> None:
            raise ConfigError(f"{long_path}: unknown keys ['bogus']\n(see configs/train/)")

        run_command(body)

    result = CliRunner().invoke(probe, [])
    assert result.exit_code == 2
    assert result.output == f"error (config_error): {long_path}: unknown keys ['bogus'] (see configs/train/)\n"
