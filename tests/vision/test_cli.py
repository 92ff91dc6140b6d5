"""`xscreen predict` end to end on the tiny registry model and real scans."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from xscreen.settings import get_settings


@pytest.fixture
def cli_env(tiny_models_dir: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("XSCREEN_MODELS_DIR", str(tiny_models_dir))
    get_settings.cache_clear()
    from xscreen.cli import app

    return app


def _scans(shared_data: Path, n: int) -> list[Path]:
    return sorted((shared_data / "sixray-subset" / "val").glob("*.jpg"))[:n]


def test_predict_json_one_object_per_input_in_order(cli_env, shared_data: Path, tmp_path: Path) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_text("not a scan")
    files = [*_scans(shared_data, 2), bad, *_scans(shared_data, 3)[2:]]
    result = CliRunner().invoke(cli_env, ["predict", *map(str, files), "--json", "--model", "tiny:1"])
    assert result.exit_code == 1, result.output  # one input failed
    rows = json.loads(result.stdout)
    assert [r["path"] for r in rows] == [str(f) for f in files]
    assert rows[2]["error"]["code"] == "unsupported_media"
    for r in rows[:2] + rows[3:]:
        assert r["model"] == "tiny:1" and r["kind"] == "colour" and isinstance(r["detections"], list)
        for d in r["detections"]:
            assert set(d) == {"class_id", "class_name", "category", "score", "box"}


def test_predict_saves_annotated_pngs_and_prints_a_table(cli_env, shared_data: Path, tmp_path: Path) -> None:
    folder = tmp_path / "scans"
    folder.mkdir()
    for src in _scans(shared_data, 2):
        (folder / src.name).write_bytes(src.read_bytes())
    out = tmp_path / "annotated"
    result = CliRunner().invoke(cli_env, ["predict", str(folder), "--save-annotated", str(out)])
    assert result.exit_code == 0, result.output
    assert "xscreen predict" in result.stdout
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{Path(s.name).stem}.png" for s in _scans(shared_data, 2))


def test_predict_unknown_model_is_one_sentence(cli_env, shared_data: Path) -> None:
    result = CliRunner().invoke(cli_env, ["predict", str(_scans(shared_data, 1)[0]), "--model", "nope"])
    assert result.exit_code == 3
    assert "model_not_found" in result.output


def test_predict_tiled(cli_env, shared_data: Path) -> None:
    result = CliRunner().invoke(cli_env, ["predict", str(_scans(shared_data, 1)[0]), "--json", "--tile"])
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)) == 1


def test_allow_errors_exits_0_and_still_reports_the_failed_input(cli_env, shared_data: Path, tmp_path: Path) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_text("not a scan")
    result = CliRunner().invoke(cli_env, ["predict", str(_scans(shared_data, 1)[0]), str(bad), "--json", "--allow-errors"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)[1]["error"]["code"] == "unsupported_media"
