"""Export writes an immutable, checksummed registry version; loading refuses tampered files."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from xscreen.errors import ConfigError, ModelIntegrityError, ModelNotFound
from xscreen.training.registry import next_version, promote, write_version
from xscreen.vision.registry import list_models, resolve_model
from xscreen.vision.taxonomy import load_taxonomy


def test_tiny_model_is_registered_and_default(tiny_models_dir: Path) -> None:
    model = resolve_model("default", models_dir=tiny_models_dir)
    assert model.ref == "tiny:1"
    assert model.card.classes == load_taxonomy().names
    assert model.card.output.layout == "yolo_raw"
    assert model.card.input.imgsz == 64
    assert set(model.card.files) == {"model.onnx"}
    assert model.card.software["ultralytics"].startswith("8.4")


def test_version_folder_is_readable_by_other_users(tiny_models_dir: Path) -> None:
    """Regression: the version folder kept mkdtemp's 0700, so a service user other than the exporter got EACCES."""
    assert (tiny_models_dir / "tiny" / "1").stat().st_mode & 0o777 == 0o755


def test_tampered_model_is_refused(tiny_models_dir: Path, tmp_path: Path) -> None:
    models = tmp_path / "models"
    shutil.copytree(tiny_models_dir, models)
    onnx = models / "tiny" / "1" / "model.onnx"
    onnx.write_bytes(onnx.read_bytes() + b"\0")
    with pytest.raises(ModelIntegrityError, match="does not match its card"):
        resolve_model("tiny:1", models_dir=models)


def test_versions_are_immutable_and_numbered(tiny_models_dir: Path, tmp_path: Path) -> None:
    models = tmp_path / "models"
    shutil.copytree(tiny_models_dir, models)
    card = resolve_model("tiny:1", models_dir=models).card
    assert next_version(models, "tiny") == 2
    with pytest.raises(ConfigError, match="immutable"):
        write_version(models_dir=models, card=card, files={"model.onnx": models / "tiny" / "1" / "model.onnx"})
    v2 = write_version(models_dir=models, card=card.model_copy(update={"version": 2}), files={"model.onnx": models / "tiny" / "1" / "model.onnx"})
    assert resolve_model("tiny", models_dir=models).version == 2  # bare name: highest version
    assert v2.card.files["model.onnx"] == card.files["model.onnx"]
    assert list_models(models) == [("tiny", 1), ("tiny", 2)]
    assert promote("tiny:2", models_dir=models).ref == "tiny:2"
    assert resolve_model("default", models_dir=models).ref == "tiny:2"


@pytest.mark.parametrize("ref, message", [("nope", "no model named"), ("tiny:7", "has no version 7"), ("tiny:x", "must be a number")])
def test_unknown_refs(tiny_models_dir: Path, ref: str, message: str) -> None:
    with pytest.raises(ModelNotFound, match=message):
        resolve_model(ref, models_dir=tiny_models_dir)


def test_model_without_card_is_not_listed(tmp_path: Path) -> None:
    (tmp_path / "m" / "1").mkdir(parents=True)
    (tmp_path / "m" / "1" / "model.onnx").write_bytes(b"x")
    assert list_models(tmp_path) == []
    with pytest.raises(ModelNotFound):
        resolve_model("m", models_dir=tmp_path)


def test_card_metrics_from_an_evaluate_dir(tmp_path: Path) -> None:
    import json

    from xscreen.training.export import read_evaluation

    (tmp_path / "sixray").mkdir()
    (tmp_path / "sixray" / "metrics.json").write_text(json.dumps({"mAP50": 0.5}))
    (tmp_path / "summary.json").write_text(json.dumps([{"dataset": "sixray", "mAP50": 0.5}]))
    assert read_evaluation(tmp_path) == {"summary": [{"dataset": "sixray", "mAP50": 0.5}], "datasets": {"sixray": {"mAP50": 0.5}}}
    assert read_evaluation(tmp_path / "sixray" / "metrics.json") == {"mAP50": 0.5}
    with pytest.raises(ConfigError, match="does not exist"):
        read_evaluation(tmp_path / "nope")


def _export_cli(tiny_models_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Path, str]:
    """A CLI runner exporting into a copy of the tiny registry: (runner, models dir, the tiny checkpoint)."""
    from typer.testing import CliRunner

    from xscreen.settings import get_settings

    models = tmp_path / "models"
    shutil.copytree(tiny_models_dir, models)
    monkeypatch.setenv("XSCREEN_MODELS_DIR", str(models))
    get_settings.cache_clear()
    return CliRunner(), models, str(tiny_models_dir / "tiny.pt")


def test_export_stores_per_class_operating_thresholds(tiny_models_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from xscreen.cli import app

    runner, models, weights = _export_cli(tiny_models_dir, tmp_path, monkeypatch)
    bad = runner.invoke(app, ["export", "--weights", weights, "--name", "tiny", "--class-conf", "drug_bulk=high"])
    assert bad.exit_code == 2 and "NAME=SCORE" in bad.output and "Traceback" not in bad.output
    unknown = runner.invoke(app, ["export", "--weights", weights, "--name", "tiny", "--class-conf", "cocaine=0.2"])
    assert unknown.exit_code == 2 and "cocaine" in unknown.output
    bad_kind = runner.invoke(app, ["export", "--weights", weights, "--name", "tiny", "--class-conf", "infrared:firearm=0.2"])
    assert bad_kind.exit_code == 2 and "infrared" in bad_kind.output and "gray" in bad_kind.output
    bad_display = runner.invoke(app, ["export", "--weights", weights, "--name", "tiny", "--gray-display", "equalised"])
    assert bad_display.exit_code == 2 and "as_is, matched" in bad_display.output
    ok = runner.invoke(app, ["export", "--weights", weights, "--name", "tiny", "--parity-count", "2", "--gray-display", "matched",
                             "--class-conf", "drug_bulk=0.12", "--class-conf", "drug_tablets=0.1", "--class-conf", "gray:firearm=0.3"])
    assert ok.exit_code == 0, ok.output
    card = resolve_model("tiny:2", models_dir=models).card
    assert card.thresholds.per_class == {"drug_bulk": 0.12, "drug_tablets": 0.1}
    assert card.thresholds.per_kind == {"gray": {"firearm": 0.3}} and card.input.gray_display == "matched"
    assert card.thresholds.for_class("firearm", "gray") == 0.3 and card.thresholds.for_class("firearm", "colour") == card.thresholds.conf
    assert not (models / "tiny" / "3").exists()  # the refused exports wrote nothing


def test_export_writes_postprocess_rules_and_refuses_bad_ones(tiny_models_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A retrained model carries the firearm-vs-metal rule from its first version, without a derive step."""
    from xscreen.cli import app
    from xscreen.training import export as export_module

    runner, models, weights = _export_cli(tiny_models_dir, tmp_path, monkeypatch)
    (tmp_path / "sword.yaml").write_text("confusable: [{target: firearm, rivals: [sword]}]\n")
    bad = runner.invoke(app, ["export", "--weights", weights, "--name", "tiny", "--parity-count", "2", "--postprocess", str(tmp_path / "sword.yaml")])
    assert bad.exit_code == 2 and "lacks: ['sword']" in bad.output and "Traceback" not in bad.output
    missing = runner.invoke(app, ["export", "--weights", weights, "--name", "tiny", "--postprocess", str(tmp_path / "none.yaml")])
    assert missing.exit_code == 2 and "cannot read" in missing.output
    assert not (models / "tiny" / "2").exists()  # refused: nothing written
    shipped_rule = Path(__file__).resolve().parents[2] / "configs" / "postprocess" / "firearm-vs-metal.yaml"
    compared_with: list = []
    real_parity = export_module.verify_parity

    def spy(torch_model, engine, images):  # type: ignore[no-untyped-def]
        compared_with.append(engine.confusable)
        return real_parity(torch_model, engine, images)

    monkeypatch.setattr(export_module, "verify_parity", spy)
    ok = runner.invoke(app, ["export", "--weights", weights, "--name", "tiny", "--parity-count", "2", "--postprocess", str(shipped_rule)])
    assert ok.exit_code == 0, ok.output
    # PyTorch knows no look-alike rule: parity compares the plain decoding (a real model's firearm box under a
    # tool box made the first v5 export fail parity), and the stored card carries the rule.
    assert compared_with == [()]
    (spec,) = resolve_model("tiny:2", models_dir=models).card.postprocess.confusable
    assert (spec.target, spec.rivals, spec.suppress_iou, spec.suppress_ratio) == ("firearm", ["knife", "scissors", "tool"], 0.3, 0.8)


def test_parity_without_real_scans_names_the_flags_and_no_parity_skips_it(tiny_models_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from xscreen.cli import app
    from xscreen.settings import get_settings

    models = tmp_path / "models"
    shutil.copytree(tiny_models_dir, models)
    monkeypatch.setenv("XSCREEN_MODELS_DIR", str(models))
    monkeypatch.setenv("XSCREEN_REAL_DATA_DIR", str(tmp_path / "no-real-data"))
    get_settings.cache_clear()
    args = ["export", "--weights", str(tiny_models_dir / "tiny.pt"), "--name", "tiny"]
    refused = CliRunner().invoke(app, args)
    assert refused.exit_code == 2, refused.output
    assert refused.output.startswith("error (config_error): the parity check needs real scans and ")
    assert "--parity DIR" in refused.output and "--no-parity" in refused.output and refused.output.count("\n") == 1
    assert not (models / "tiny" / "2").exists()
    skipped = CliRunner().invoke(app, [*args, "--no-parity"])
    assert skipped.exit_code == 0, skipped.output
    assert resolve_model("tiny:2", models_dir=models).card.training["export_parity"] == {"skipped": True}
    shown = CliRunner().invoke(app, ["models", "show", "tiny:2"])
    assert "export parity: not checked" in shown.output


@pytest.fixture
def scratch_registry(tiny_models_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A copy of the tiny registry that the CLI writes to (XSCREEN_MODELS_DIR)."""
    from xscreen.settings import get_settings

    models = tmp_path / "models"
    shutil.copytree(tiny_models_dir, models)
    monkeypatch.setenv("XSCREEN_MODELS_DIR", str(models))
    get_settings.cache_clear()
    yield models
    get_settings.cache_clear()


def test_models_derive_shares_the_weights_and_edits_only_the_card(scratch_registry: Path) -> None:
    from typer.testing import CliRunner

    from xscreen.cli import app

    models = scratch_registry
    runner = CliRunner()
    before = resolve_model("tiny:1", models_dir=models).card
    bad = runner.invoke(app, ["models", "derive", "tiny:1", "--note", "x", "--class-conf", "gray:unicorn=0.3"])
    assert bad.exit_code == 2 and "unicorn" in bad.output
    bad_display = runner.invoke(app, ["models", "derive", "tiny:1", "--note", "x", "--gray-display", "equalised"])
    assert bad_display.exit_code == 2 and "as_is, matched" in bad_display.output
    assert [v for n, v in list_models(models) if n == "tiny"] == [1]  # refused: nothing written
    ok = runner.invoke(app, ["models", "derive", "tiny:1", "--note", "gray stations: matched display",
                             "--gray-display", "matched", "--class-conf", "gray:firearm=0.3", "--class-conf", "knife=0.4"])
    assert ok.exit_code == 0, ok.output
    derived = resolve_model("tiny:2", models_dir=models)  # verifies the linked files against the new card
    card = derived.card
    assert card.input.gray_display == "matched" and card.thresholds.per_kind == {"gray": {"firearm": 0.3}}
    assert card.thresholds.per_class == {"knife": 0.4} and card.thresholds.conf == before.thresholds.conf
    assert card.files == before.files and card.classes == before.classes
    assert card.training["derived_from"] == "tiny:1" and card.training["derived_note"] == "gray stations: matched display"

    assert resolve_model("tiny:1", models_dir=models).card == before  # the source version is untouched


def test_derived_versions_link_the_first_versions_weights(scratch_registry: Path) -> None:
    """A derived version carries no second copy of the weights (a checkout with versions 2, 3 and 4 of one
    network held three, 42 of the 64 MiB a GPU host's transfer allows): relative links to the version that
    holds the file, never a chain, read and verified as before; the source and the copy stay intact."""
    import os

    from xscreen.training.registry import derive_version

    models = scratch_registry
    first = resolve_model("tiny:1", models_dir=models)
    second = derive_version("tiny:1", models_dir=models, note="another card")
    third = derive_version("tiny:2", models_dir=models, note="and another")
    for derived in (second, third):
        for filename in first.card.files:
            path = derived.path / filename
            assert path.is_symlink() and not os.path.isabs(os.readlink(path))
            assert path.resolve() == (first.path / filename).resolve()  # to version 1 itself, not through version 2
            assert not (first.path / filename).is_symlink()
    assert resolve_model("tiny:3", models_dir=models).card.files == first.card.files  # verified through the links


def test_derive_links_hold_when_the_models_dir_is_itself_a_link(scratch_registry: Path, tmp_path: Path) -> None:
    """A registry reached through a symlinked folder (/srv/models -> /data/models) gets links that resolve in
    the real folder, where the version actually lies."""
    from xscreen.training.registry import derive_version

    linked = tmp_path / "srv" / "xscreen" / "models"  # deeper than the real folder: a relative path must not mix them
    linked.parent.mkdir(parents=True)
    linked.symlink_to(scratch_registry, target_is_directory=True)
    derived = derive_version("tiny:1", models_dir=linked, note="through the link")
    assert resolve_model(derived.ref, models_dir=linked).card.files == resolve_model("tiny:1", models_dir=scratch_registry).card.files


def test_models_derive_writes_postprocess_rules_and_refuses_bad_ones(scratch_registry: Path, tmp_path: Path) -> None:
    """Issue 18.4: the look-alike rule travels in the card of a derived version, so it is versioned with the weights."""
    from typer.testing import CliRunner

    from xscreen.cli import app

    models = scratch_registry
    runner = CliRunner()
    bad_files = {
        "sword.yaml": ("confusable: [{target: firearm, rivals: [sword]}]\n", "lacks: ['sword']"),
        "iou.yaml": ("confusable: [{target: firearm, rivals: [knife], suppress_iou: 1.5}]\n", "confusable.0.suppress_iou"),
        "broken.yaml": ("confusable: [\n", "not valid YAML"),
    }
    for name, (text, message) in bad_files.items():
        (tmp_path / name).write_text(text)
        bad = runner.invoke(app, ["models", "derive", "tiny:1", "--note", "x", "--postprocess", str(tmp_path / name)])
        assert bad.exit_code == 2 and message in bad.output, (name, bad.output)
    missing = runner.invoke(app, ["models", "derive", "tiny:1", "--note", "x", "--postprocess", str(tmp_path / "none.yaml")])
    assert missing.exit_code == 2 and "cannot read" in missing.output
    assert [v for n, v in list_models(models) if n == "tiny"] == [1]  # refused: nothing written

    rule = tmp_path / "rule.yaml"
    rule.write_text("confusable:\n  - {target: firearm, rivals: [knife, scissors, tool], suppress_iou: 0.5}\n")
    ok = runner.invoke(app, ["models", "derive", "tiny:1", "--note", "firearm vs metal", "--postprocess", str(rule)])
    assert ok.exit_code == 0, ok.output
    assert "postprocess: firearm against knife, scissors, tool: suppress_iou 0.5" in ok.output
    card = resolve_model("tiny:2", models_dir=models).card
    (spec,) = card.postprocess.confusable
    assert (spec.target, spec.rivals, spec.suppress_iou, spec.margin, spec.discount) == ("firearm", ["knife", "scissors", "tool"], 0.5, 0.0, False)
    assert resolve_model("tiny:1", models_dir=models).card.postprocess.confusable == []  # old cards: no rule


def test_parity_asks_pytorch_for_the_geometry_the_engine_runs(tiny_models_dir: Path, shared_data: Path) -> None:
    """The engine runs one scan at its minimal rectangle on the CPU (issue 20); parity against PyTorch in the
    square failed every real export ("PyTorch found 1 boxes, ONNX engine 2")."""
    import contextlib
    from types import SimpleNamespace

    import numpy as np

    from xscreen.errors import ParityError
    from xscreen.training.export import verify_parity
    from xscreen.vision.engine import Engine

    engine = Engine.load("tiny:1", models_dir=tiny_models_dir)
    asked: list[bool] = []
    nothing = SimpleNamespace(cpu=lambda: SimpleNamespace(numpy=lambda: np.zeros((0, 4), np.float32)))

    class PyTorch:  # ultralytics' YOLO.predict as parity calls it, finding nothing
        def predict(self, image: np.ndarray, **kwargs: object) -> list[SimpleNamespace]:
            asked.append(bool(kwargs["rect"]))
            return [SimpleNamespace(boxes=SimpleNamespace(xyxy=nothing, conf=nothing))]

    with contextlib.suppress(ParityError):  # only the geometry asked for matters here
        verify_parity(PyTorch(), engine, sorted((shared_data / "sixray-subset" / "val").glob("*.jpg"))[:1])
    assert asked == [engine.rect] and engine.rect  # a dynamic model on the CPU
