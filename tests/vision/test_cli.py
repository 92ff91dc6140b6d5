"""`xscreen predict` end to end on the tiny registry model and real scans."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.factories import DEFAULT_POLICY_VERSION
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


@pytest.fixture
def shipped_env(monkeypatch: pytest.MonkeyPatch):
    """The shipped default model: the tiny one finds nothing on real scans, and these tests filter what is found."""
    from xscreen.checkout import REPO_ROOT

    monkeypatch.setenv("XSCREEN_MODELS_DIR", str(REPO_ROOT / "models"))
    monkeypatch.setenv("XSCREEN_PROVIDERS", json.dumps(["CPUExecutionProvider"]))
    get_settings.cache_clear()
    from xscreen.cli import app

    return app


def _rows(result) -> list[dict]:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_ultralytics_flags_filter_what_is_found(shipped_env, shared_data: Path) -> None:
    scans = list(map(str, _scans(shared_data, 3)))
    runner = CliRunner()
    low = _rows(runner.invoke(shipped_env, ["predict", *scans, "--json", "--conf", "0.01"]))
    default = _rows(runner.invoke(shipped_env, ["predict", *scans, "--json"]))
    assert sum(map(len, (r["detections"] for r in low))) > sum(map(len, (r["detections"] for r in default)))
    assert all(d["score"] >= 0.01 for r in low for d in r["detections"])
    one = _rows(runner.invoke(shipped_env, ["predict", *scans, "--json", "--conf", "0.01", "--max-det", "1"]))
    assert [len(r["detections"]) for r in one] == [min(1, len(r["detections"])) for r in low]
    assert [r["detections"][0]["score"] for r in one if r["detections"]] == [max(d["score"] for d in r["detections"]) for r in low if r["detections"]]
    wanted = {d["class_name"] for r in low for d in r["detections"]}
    name = sorted(wanted)[0]
    only = _rows(runner.invoke(shipped_env, ["predict", *scans, "--json", "--conf", "0.01", "--classes", name]))
    assert {d["class_name"] for r in only for d in r["detections"]} == {name}
    assert _rows(runner.invoke(shipped_env, ["predict", *scans, "--json", "--imgsz", "96", "--iou", "0.3", "--device", "cpu"]))


def test_each_result_carries_the_decision_under_the_policy_given(shipped_env, shared_data: Path, tmp_path: Path) -> None:
    import yaml

    from xscreen.checkout import REPO_ROOT

    strict = yaml.safe_load((REPO_ROOT / "configs" / "policy" / "default.yaml").read_text())
    strict.update(name="everything-holds", version=7)
    strict["categories"] = {c: {"hold": 0.0} for c in strict["categories"]}
    strict["classes"] = {}
    policy = tmp_path / "strict.yaml"
    policy.write_text(yaml.safe_dump(strict))
    scans = list(map(str, _scans(shared_data, 2)))
    default = _rows(CliRunner().invoke(shipped_env, ["predict", *scans, "--json"]))
    assert all(r["decision"]["verdict"] in ("clear", "inspect", "hold") and r["decision"]["policy_version"] == DEFAULT_POLICY_VERSION for r in default)
    held = _rows(CliRunner().invoke(shipped_env, ["predict", *scans, "--json", "--conf", "0.01", "--policy", str(policy)]))
    for r in held:
        assert r["decision"]["policy_version"] == "everything-holds:7"
        threats = [d for d in r["detections"] if d["category"] != "benign"]
        assert r["decision"]["verdict"] == ("hold" if threats else "clear")
        assert len(r["decision"]["reasons"]) == len(threats)


def test_jsonl_and_csv_formats(shipped_env, shared_data: Path, tmp_path: Path) -> None:
    import csv
    import io

    bad = tmp_path / "notes.txt"
    bad.write_text("not a scan")
    args = ["predict", *map(str, _scans(shared_data, 2)), str(bad), "--conf", "0.01", "--allow-errors"]
    lines = CliRunner().invoke(shipped_env, [*args, "--format", "jsonl"]).stdout.splitlines()
    objects = [json.loads(line) for line in lines]
    assert len(objects) == 3 and objects[2]["error"]["code"] == "unsupported_media"
    result = CliRunner().invoke(shipped_env, [*args, "--format", "csv"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    detections = sum(len(o.get("detections", [])) for o in objects)
    assert len(rows) == detections + sum(1 for o in objects[:2] if not o["detections"]) + 1
    assert rows[-1]["error_code"] == "unsupported_media" and {r["decision"] for r in rows[:-1]} <= {"clear", "inspect", "hold"}


def test_saved_outputs_never_overwrite_each_other(shipped_env, shared_data: Path, tmp_path: Path) -> None:
    from PIL import Image

    from xscreen.vision.yolo import read_labels

    src = _scans(shared_data, 2)
    (tmp_path / "in" / "a").mkdir(parents=True)
    (tmp_path / "in" / "b").mkdir()
    (tmp_path / "in" / "a" / "x.jpg").write_bytes(src[0].read_bytes())
    Image.open(src[1]).save(tmp_path / "in" / "a" / "x.png")
    (tmp_path / "in" / "b" / "x.jpg").write_bytes(src[1].read_bytes())
    annotated, labels = tmp_path / "annotated", tmp_path / "labels"
    rows = _rows(CliRunner().invoke(shipped_env, ["predict", str(tmp_path / "in"), "--json", "--conf", "0.01",
                                              "--save-annotated", str(annotated), "--save-txt", str(labels)]))
    assert sorted(str(p.relative_to(annotated)) for p in annotated.rglob("*.png")) == ["a/x.jpg.png", "a/x.png.png", "b/x.png"]
    assert sorted(str(p.relative_to(labels)) for p in labels.rglob("*.txt")) == ["a/x.jpg.txt", "a/x.png.txt", "b/x.txt"]
    for r in rows:
        saved = read_labels(Path(r["labels"]))
        assert len(saved) == len(r["detections"])
        assert all(0 <= v <= 1 for label in saved for v in label[1:])


@pytest.mark.parametrize(
    "args, message",
    [(["--device", "gpu7"], "--device must be cpu"), (["--imgsz", "100"], "multiple of 32"), (["--classes", "bazooka"], "unknown class 'bazooka'")],
)
def test_bad_flags_are_one_sentence(cli_env, shared_data: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli_env, ["predict", str(_scans(shared_data, 1)[0]), *args])
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error (config_error): ") and message in result.output and result.output.count("\n") == 1


def test_device_0_without_a_gpu_is_refused_not_run_on_the_cpu(cli_env, shared_data: Path) -> None:
    import onnxruntime as ort

    from xscreen.doctor import _cuda_usable

    if _cuda_usable(ort)[0]:
        pytest.skip("a CUDA GPU is usable here: --device 0 runs on it")
    result = CliRunner().invoke(cli_env, ["predict", str(_scans(shared_data, 1)[0]), "--device", "0"])
    assert result.exit_code == 2, result.output
    assert "no usable CUDA GPU" in result.output and "--device cpu" in result.output
