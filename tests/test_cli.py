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


@pytest.mark.parametrize("present", [True, False])
def test_doctor_checks_the_real_data_export_needs(present: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    val = tmp_path / "real" / "sixray-subset" / "val"
    val.mkdir(parents=True)
    if present:
        (val / "0001.jpg").write_bytes(b"\xff\xd8\xff")
    monkeypatch.setenv("XSCREEN_REAL_DATA_DIR", str(tmp_path / "real"))
    get_settings.cache_clear()
    report = json.loads(runner.invoke(app, ["doctor", "--json"]).output)
    check = {c["name"]: c for c in report["checks"]}["real_data"]
    assert check["ok"] is present and check["required"] is False  # the service runs without it
    assert str(val) in check["detail"] and (present or "--no-parity" in check["detail"])


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
    import typer

    from xscreen.clitools import run_command
    from xscreen.errors import ConfigError

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


def test_version() -> None:
    from xscreen import __version__

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"xscreen {__version__}\n"


@pytest.mark.parametrize("columns", ["20", "400"])
@pytest.mark.parametrize(
    "argv, message",
    [
        (["predict", "x.jpg", "--no-such-flag"], "error (usage): No such option: --no-such-flag (see 'xscreen predict --help')"),
        (["batch", "run", "src", "--out", "o", "--address", "auto"], "error (usage): Invalid value: --address joins a Ray cluster; it needs --engine ray (see 'xscreen batch run --help')"),
    ],
)
def test_usage_errors_are_one_line(argv: list[str], message: str, columns: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", columns)  # typer's rich panel used to wrap these at the terminal's width
    result = runner.invoke(app, argv)
    assert result.exit_code == 2
    assert result.output == message + "\n"


@pytest.mark.parametrize(
    "env, value, expected",
    [
        ("XSCREEN_PORT", "abc", "port: Input should be a valid integer"),
        ("XSCREEN_DATABASE_URL", "just-a-path.db", "database_url must be a SQLAlchemy URL such as sqlite:///path.db, got 'just-a-path.db'"),
    ],
)
@pytest.mark.parametrize("argv", [["models", "list"], ["doctor"], ["keys", "list"], ["predict", "x.jpg"], ["batch", "src", "--out", "o"]])
def test_bad_settings_are_one_sentence(argv: list[str], env: str, value: str, expected: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(env, value)
    get_settings.cache_clear()
    result = runner.invoke(app, argv)
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error (config_error): invalid settings (XSCREEN_* variables, ")
    assert expected in result.output and result.output.count("\n") == 1
    for internals in ("Value error", "pydantic.dev", "Traceback", "validation error for"):
        assert internals not in result.output


def test_package_clis_import_the_shared_module_and_register_in_one_style() -> None:
    """Leaves never import the root (`xscreen.cli`); each `register(app)` only adds commands and groups."""
    import ast

    from xscreen.checkout import REPO_ROOT
    from xscreen.cli import COMMAND_MODULES

    roots = {"xscreen": "xscreen", "vision": "vision", "datasets": "datasets", "training": "training", "serving": "serving"}
    for folder in roots:
        for path in (REPO_ROOT / folder).rglob("*.py"):
            if path == REPO_ROOT / "xscreen" / "cli.py":
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                names = [node.module] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names] if isinstance(node, ast.Import) else []
                assert "xscreen.cli" not in names, f"{path} imports the root CLI"
    import importlib
    import inspect

    for name in COMMAND_MODULES:
        register = importlib.import_module(name).register
        body = ast.parse(inspect.getsource(register)).body[0].body  # type: ignore[attr-defined]
        for statement in body:
            call = statement.value if isinstance(statement, ast.Expr) else None
            assert isinstance(call, ast.Call), f"{name}.register: {ast.unparse(statement)}"
            target = call.func.func if isinstance(call.func, ast.Call) else call.func
            assert ast.unparse(target) in ("app.command", "app.add_typer"), f"{name}.register: {ast.unparse(statement)}"


@pytest.mark.parametrize(
    "argv_for, text, expected",
    [
        (lambda cfg, out: ["synth", "--out", str(out), "--count", "1", "--config", str(cfg)], "val_fraction: 2\n", "val_fraction: Input should be less than 1"),
        (lambda cfg, out: ["data", "build", "--config", str(cfg), "--out", str(out)], "sources: 3\n", "sources"),
    ],
    ids=["synth-config", "build-recipe"],
)
def test_invalid_config_files_are_one_sentence_without_pydantic_internals(argv_for, text: str, expected: str, tmp_path: Path) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(text)
    result = runner.invoke(app, argv_for(cfg, tmp_path / "out"))
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error (config_error): ") and result.output.count("\n") == 1
    assert expected in result.output
    for internals in ("Value error", "pydantic.dev", "input_value", "validation error for"):
        assert internals not in result.output
