"""The engine on a real (tiny) registry model: loading, providers, batching, class mapping, kinds, tiling."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from xscreen.errors import ConfigError, ModelIntegrityError, ModelNotFound
from xscreen.vision.detections import Detections
from xscreen.vision.engine import Engine, available_providers
from xscreen.vision.io import read_scan
from xscreen.vision.registry import Thresholds, sha256_file
from xscreen.vision.scan import Scan
from xscreen.vision.taxonomy import load_taxonomy

LOW_CONF = Thresholds(conf=0.001, iou=0.45)  # the tiny model is barely trained: low scores, so a low threshold


@pytest.fixture(scope="module")
def engine(tiny_models_dir: Path) -> Engine:
    return Engine.load("default", models_dir=tiny_models_dir, providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def low_conf_engine(engine: Engine) -> Engine:
    card = engine.card.model_copy(update={"thresholds": LOW_CONF})
    return Engine(session=engine.session, card=card, model_path=engine.model_path, variant=engine.variant)


@pytest.fixture(scope="module")
def real_images(shared_data: Path) -> list[np.ndarray]:
    paths = sorted((shared_data / "sixray-subset" / "val").glob("*.jpg"))[:4] + sorted((shared_data / "opixray-roboflow-subset" / "images").glob("*.jpg"))[:3]
    return [read_scan(p.read_bytes(), filename=p.name).pixels for p in paths]


def _copy_version(models_dir: Path, dest: Path, **card_updates) -> Path:
    """A copy of tiny:1 with its card edited (checksums stay valid: only card.json changes)."""
    version_dir = dest / "tiny" / "1"
    shutil.copytree(models_dir / "tiny" / "1", version_dir)
    card = json.loads((version_dir / "card.json").read_text())
    for key, value in card_updates.items():
        target = card
        *parents, leaf = key.split(".")
        for p in parents:
            target = target[p]
        target[leaf] = value
    (version_dir / "card.json").write_text(json.dumps(card))
    return dest


@pytest.mark.parametrize("ref", ["default", "tiny", "tiny:1"])
def test_load_by_registry_ref(tiny_models_dir: Path, ref: str) -> None:
    engine = Engine.load(ref, models_dir=tiny_models_dir, warmup=False)
    assert (engine.name, engine.version, engine.ref) == ("tiny", 1, "tiny:1")
    assert engine.card.input.imgsz == 64 and engine.input_hw == (64, 64)


def test_load_by_onnx_path(tiny_models_dir: Path) -> None:
    engine = Engine.load(tiny_models_dir / "tiny" / "1" / "model.onnx", models_dir=tiny_models_dir)
    assert engine.ref == "tiny:1" and engine.variant == "fp32"


def test_falls_back_to_cpu_and_says_so(tiny_models_dir: Path) -> None:
    # Default order asks for TensorRT and CUDA first; without a usable GPU the session must still come up.
    engine = Engine.load("default", models_dir=tiny_models_dir, providers=None)
    assert engine.provider in available_providers()
    assert engine.describe()["provider"] == engine.provider
    assert available_providers(["NoSuchExecutionProvider"]) == ["CPUExecutionProvider"]


@pytest.mark.parametrize(
    ("ref", "error"),
    [("missing", ModelNotFound), ("tiny:7", ModelNotFound), ("tiny:x", ModelNotFound), ("/nowhere/model.onnx", ModelNotFound)],
)
def test_bad_refs(tiny_models_dir: Path, ref: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        Engine.load(ref, models_dir=tiny_models_dir, warmup=False)


def test_missing_variant(tiny_models_dir: Path) -> None:
    with pytest.raises(ModelNotFound, match="int8"):
        Engine.load("tiny:1", models_dir=tiny_models_dir, variant="int8")
    with pytest.raises(ConfigError):
        Engine.load("tiny:1", models_dir=tiny_models_dir, variant="fp8")


def test_tampered_model_is_refused(tiny_models_dir: Path, tmp_path: Path) -> None:
    models = _copy_version(tiny_models_dir, tmp_path)
    with open(models / "tiny" / "1" / "model.onnx", "ab") as fh:
        fh.write(b"\0")
    with pytest.raises(ModelIntegrityError):
        Engine.load("tiny:1", models_dir=models)
    with pytest.raises(ModelIntegrityError):
        Engine.load(models / "tiny" / "1" / "model.onnx", models_dir=models)


def test_predict_returns_taxonomy_ids_in_original_pixels(low_conf_engine: Engine, real_images: list[np.ndarray]) -> None:
    results = low_conf_engine.predict(real_images)
    assert len(results) == len(real_images)
    taxonomy = load_taxonomy()
    assert sum(len(d) for d in results) > 0
    for image, det in zip(real_images, results):
        assert isinstance(det, Detections)
        h, w = image.shape[:2]
        assert (det.xyxy[:, [0, 2]] >= 0).all() and (det.xyxy[:, [0, 2]] <= w).all()
        assert (det.xyxy[:, [1, 3]] >= 0).all() and (det.xyxy[:, [1, 3]] <= h).all()
        assert (det.scores > LOW_CONF.conf).all()
        assert all(0 <= c < len(taxonomy) for c in det.class_ids)


def test_one_batch_equals_one_by_one(low_conf_engine: Engine, real_images: list[np.ndarray]) -> None:
    batched = low_conf_engine.predict(real_images)
    for image, det in zip(real_images, batched):
        (single,) = low_conf_engine.predict([image])
        np.testing.assert_allclose(det.xyxy, single.xyxy, atol=1e-3)
        np.testing.assert_allclose(det.scores, single.scores, atol=1e-5)
        np.testing.assert_array_equal(det.class_ids, single.class_ids)


def test_batches_larger_than_max_batch_size(tiny_models_dir: Path, tmp_path: Path, real_images: list[np.ndarray]) -> None:
    models = _copy_version(tiny_models_dir, tmp_path, max_batch_size=2, **{"thresholds.conf": 0.001})
    engine = Engine.load("tiny:1", models_dir=models)
    results = engine.predict(real_images)  # 7 images: batches of 2, 2, 2, 1
    assert len(results) == len(real_images)
    assert engine.predict([]) == []


def test_class_ids_follow_names_not_positions(tiny_models_dir: Path, tmp_path: Path, low_conf_engine: Engine, real_images: list[np.ndarray]) -> None:
    taxonomy = load_taxonomy()
    reordered = list(reversed(taxonomy.names))  # pretend the model's output order is the taxonomy reversed
    models = _copy_version(tiny_models_dir, tmp_path, classes=reordered, **{"thresholds.conf": 0.001})
    engine = Engine.load("tiny:1", models_dir=models)
    np.testing.assert_array_equal(engine.class_ids, [taxonomy.id_of(n) for n in reordered])
    ours, base = engine.predict(real_images[:2]), low_conf_engine.predict(real_images[:2])
    for a, b in zip(ours, base):
        np.testing.assert_array_equal(a.class_ids, len(taxonomy) - 1 - b.class_ids)


@pytest.mark.parametrize(
    "updates",
    [
        {"classes": ["firearm", "unicorn"]},
        {"thresholds.per_class": {"unicorn": 0.5}},
        {"classes": ["firearm", "knife"]},  # the model has 9 outputs
        {"output.layout": "end2end"},  # the model's head is raw
    ],
)
def test_cards_that_do_not_fit_the_model_or_taxonomy_are_refused(tiny_models_dir: Path, tmp_path: Path, updates: dict) -> None:
    models = _copy_version(tiny_models_dir, tmp_path, **updates)
    with pytest.raises(ConfigError):
        Engine.load("tiny:1", models_dir=models)


def test_per_class_thresholds(tiny_models_dir: Path, tmp_path: Path, low_conf_engine: Engine, real_images: list[np.ndarray]) -> None:
    base = Detections.merge(low_conf_engine.predict(real_images))
    assert len(base) > 0
    taxonomy = load_taxonomy()
    # Silence the most frequent class with a threshold above any score; the rest must stay as they were.
    top = int(np.bincount(base.class_ids).argmax())
    name = taxonomy.by_id(top).name
    models = _copy_version(tiny_models_dir, tmp_path, thresholds={"conf": 0.001, "iou": 0.45, "per_class": {name: 0.999}})
    merged = Detections.merge(Engine.load("tiny:1", models_dir=models).predict(real_images))
    assert top not in merged.class_ids
    assert len(merged) == int((base.class_ids != top).sum())


def test_per_kind_thresholds_apply_to_scans_of_that_kind_only(
    tiny_models_dir: Path, tmp_path: Path, low_conf_engine: Engine, real_images: list[np.ndarray]
) -> None:
    """A gray station runs at the card's gray thresholds; colour scans and plain images keep the others."""
    from xscreen.vision.xray.convert import colour_to_gray

    gray_scans = [Scan(pixels=colour_to_gray(im), kind="gray") for im in real_images[:4]]
    colour_scans = [Scan(pixels=im, kind="colour") for im in real_images[:4]]
    base_gray = Detections.merge(low_conf_engine.predict_scans(gray_scans))
    assert len(base_gray) > 0
    name = load_taxonomy().by_id(int(np.bincount(base_gray.class_ids).argmax())).name
    models = _copy_version(tiny_models_dir, tmp_path, thresholds={"conf": 0.001, "iou": 0.45, "per_kind": {"gray": {name: 0.999}}})
    engine = Engine.load("tiny:1", models_dir=models)
    top = load_taxonomy().id_of(name)
    gray = Detections.merge(engine.predict_scans(gray_scans))
    assert top not in gray.class_ids
    assert len(gray) == int((base_gray.class_ids != top).sum())
    for a, b in zip(engine.predict_scans(colour_scans), low_conf_engine.predict_scans(colour_scans)):
        np.testing.assert_array_equal(a.scores, b.scores)
    # A per-kind threshold below the plain one reaches gray scans only.
    models = _copy_version(tiny_models_dir, tmp_path / "low", thresholds={"conf": 0.999, "iou": 0.45, "per_kind": {"gray": {name: 0.001}}})
    engine = Engine.load("tiny:1", models_dir=models)
    assert set(Detections.merge(engine.predict_scans(gray_scans)).class_ids) == {top}
    assert len(Detections.merge(engine.predict_scans(colour_scans))) == 0


def test_per_kind_thresholds_for_unknown_classes_are_refused(tiny_models_dir: Path, tmp_path: Path) -> None:
    models = _copy_version(tiny_models_dir, tmp_path, thresholds={"conf": 0.25, "iou": 0.45, "per_kind": {"gray": {"unicorn": 0.5}}})
    with pytest.raises(ConfigError, match="unicorn"):
        Engine.load("tiny:1", models_dir=models)


@pytest.mark.parametrize(
    "image",
    [np.zeros((10, 10), np.uint8), np.zeros((10, 10, 4), np.uint8), np.zeros((10, 10, 3), np.float32), [[1, 2, 3]]],
)
def test_bad_images_are_refused(engine: Engine, image) -> None:
    with pytest.raises(ValueError):
        engine.predict([image])


def test_predict_scans_colour_equals_predict(low_conf_engine: Engine, real_images: list[np.ndarray]) -> None:
    scans = [Scan(pixels=im, kind="colour") for im in real_images[:3]]
    for a, b in zip(low_conf_engine.predict_scans(scans), low_conf_engine.predict(real_images[:3])):
        np.testing.assert_array_equal(a.xyxy, b.xyxy)


def test_predict_scans_converts_raw_dual_energy(low_conf_engine: Engine) -> None:
    pytest.importorskip("xscreen.vision.xray.render")
    rng = np.random.default_rng(0)
    raw = rng.integers(20000, 65535, size=(120, 200, 2), dtype=np.uint16)
    det = low_conf_engine.predict_scans([Scan(pixels=raw, kind="dual_energy")])[0]
    assert len(det) == 0 or det.xyxy[:, 2].max() <= 200


def test_model_image_kinds(low_conf_engine: Engine) -> None:
    pytest.importorskip("xscreen.vision.xray.convert")
    gray = np.full((30, 40), 128, np.uint8)
    colour_model_input = low_conf_engine.model_image(Scan(pixels=gray, kind="gray"))
    assert colour_model_input.shape == (30, 40, 3) and colour_model_input.dtype == np.uint8
    card = low_conf_engine.card.model_copy(update={"input": low_conf_engine.card.input.model_copy(update={"image_kind": "gray"})})
    gray_engine = Engine(session=low_conf_engine.session, card=card, model_path=low_conf_engine.model_path, variant="fp32")
    rgb = np.zeros((30, 40, 3), np.uint8)
    rgb[..., 2] = 200
    out = gray_engine.model_image(Scan(pixels=rgb, kind="colour"))
    assert out.shape == (30, 40, 3) and (out[..., 0] == out[..., 1]).all() and (out[..., 1] == out[..., 2]).all()


def test_pixel_pitch_rescaling(low_conf_engine: Engine, real_images: list[np.ndarray]) -> None:
    image = real_images[0]
    h, w = image.shape[:2]
    card = low_conf_engine.card.model_copy(update={"input": low_conf_engine.card.input.model_copy(update={"pixel_pitch_mm": 1.0})})
    pitched = Engine(session=low_conf_engine.session, card=card, model_path=low_conf_engine.model_path, variant="fp32")
    scan = Scan(pixels=image, kind="colour")
    # No pitch known: the plain letterbox.
    np.testing.assert_array_equal(pitched.predict_scans([scan])[0].xyxy, low_conf_engine.predict([image])[0].xyxy)
    # Coarse pitch: the scan shrinks below the input and is padded, not blown up.
    small = pitched.predict_scans([scan], pixel_pitch_mm=0.05)[0]
    # Fine pitch: larger than the input, so tiled. Boxes are in the scan's own pixels either way.
    large = pitched.predict_scans([scan], pixel_pitch_mm=0.2)[0]
    for det in (small, large):
        assert (det.xyxy[:, [0, 2]] <= w).all() and (det.xyxy[:, [1, 3]] <= h).all() and (det.xyxy >= 0).all()
    with pytest.raises(ValueError):
        pitched.predict_scans([scan], pixel_pitch_mm=0.0)


def test_predict_tiled_on_a_long_strip(low_conf_engine: Engine, real_images: list[np.ndarray]) -> None:
    height = 300
    parts = [np.ascontiguousarray(im[:height]) for im in real_images[:4] if im.shape[0] >= height]
    strip = np.concatenate(parts, axis=1)
    det = low_conf_engine.predict_tiled(strip, overlap=0.25)
    assert len(det) > 0
    assert (det.xyxy[:, 2] <= strip.shape[1]).all() and (det.xyxy[:, 3] <= height).all()
    # Boxes found in the first window's interior must match a prediction on that window alone.
    (first,) = low_conf_engine.predict([strip[:, :height]])
    assert len(first) > 0


@pytest.mark.gpu
def test_gpu_with_io_binding_matches_cpu(tiny_models_dir: Path, low_conf_engine: Engine, real_images: list[np.ndarray]) -> None:
    gpu = Engine.load("tiny:1", models_dir=tiny_models_dir, providers=["CUDAExecutionProvider", "CPUExecutionProvider"])
    assert gpu.provider == "CUDAExecutionProvider" and gpu.use_io_binding
    gpu = Engine(session=gpu.session, card=low_conf_engine.card, model_path=gpu.model_path, variant="fp32")
    for a, b in zip(gpu.predict(real_images), low_conf_engine.predict(real_images)):
        assert len(a) == len(b)
        np.testing.assert_allclose(a.xyxy, b.xyxy, atol=1.0)
        np.testing.assert_allclose(a.scores, b.scores, atol=1e-3)


def test_fixed_batch_model_runs_one_image_per_call(tiny_models_dir: Path, tmp_path: Path, low_conf_engine: Engine, real_images: list[np.ndarray]) -> None:
    onnx = pytest.importorskip("onnx")
    models = _copy_version(tiny_models_dir, tmp_path, **{"thresholds.conf": 0.001})
    path = models / "tiny" / "1" / "model.onnx"
    model = onnx.load(str(path))
    for dim, value in zip(model.graph.input[0].type.tensor_type.shape.dim, (1, 3, 64, 64)):
        dim.Clear()
        dim.dim_value = value
    onnx.save(model, str(path))
    card_path = path.parent / "card.json"
    card = json.loads(card_path.read_text())
    card["files"]["model.onnx"] = sha256_file(path)
    card_path.write_text(json.dumps(card))
    engine = Engine.load("tiny:1", models_dir=models)
    assert engine.max_batch_size == 1
    for a, b in zip(engine.predict(real_images[:3]), low_conf_engine.predict(real_images[:3])):
        np.testing.assert_allclose(a.xyxy, b.xyxy, atol=1e-3)


@pytest.mark.parametrize("gray_input", ["pseudo_colour", "gray"])
def test_gray_input_is_the_one_switch_for_gray_scans(gray_input: str) -> None:
    """The card's `input.gray_input` decides how a colour model sees a gray scan (8-bit or raw); colour is untouched."""
    from xscreen.vision.engine import model_image
    from xscreen.vision.registry import InputSpec
    from xscreen.vision.xray.convert import gray_to_colour
    from xscreen.vision.xray.render import render_gray

    spec = InputSpec(imgsz=64, gray_input=gray_input)
    gray = np.tile(np.arange(0, 256, 4, dtype=np.uint8), (8, 1))
    raw = np.tile(np.linspace(1000, 65000, 64).astype(np.uint16), (8, 1))
    for scan, shown in ((Scan(gray, "gray"), gray), (Scan(raw, "gray"), render_gray(raw))):
        expected = gray_to_colour(shown) if gray_input == "pseudo_colour" else np.repeat(shown[..., None], 3, axis=2)
        np.testing.assert_array_equal(model_image(scan, spec), expected)
    colour = np.zeros((8, 8, 3), np.uint8)
    assert model_image(Scan(colour, "colour"), spec) is colour


def test_a_scans_result_does_not_depend_on_its_batch(low_conf_engine: Engine, real_images: list[np.ndarray]) -> None:
    """With rectangles on the CPU, a scan batched with a differently shaped one was padded to the larger
    rectangle and scored differently: evaluate (batches of 8) disagreed with predict (one scan at a time)."""
    assert low_conf_engine.rect
    shapes = {im.shape[:2] for im in real_images}
    assert len(shapes) > 1  # SIXray and OPIXray scans: several rectangles in one call
    together = low_conf_engine.predict(real_images)
    for image, det in zip(real_images, together):
        alone = low_conf_engine.predict([image])[0]
        np.testing.assert_allclose(det.scores, alone.scores, atol=1e-5)
        np.testing.assert_allclose(det.xyxy, alone.xyxy, atol=1e-3)


def test_card_postprocess_rules_reach_the_decoder(tiny_models_dir: Path, low_conf_engine: Engine, real_images: list[np.ndarray], tmp_path: Path) -> None:
    """A card's `postprocess.confusable` is applied by the engine (issue 18.4): at margin 1 its target class
    always gives way to its rival, so the class the plain decode finds most disappears, and only it."""
    plain = low_conf_engine.predict(real_images)
    taxonomy = load_taxonomy()
    found = np.concatenate([d.class_ids for d in plain])
    assert len(found) > 0
    target = taxonomy.by_id(int(np.bincount(found).argmax())).name
    rival = next(n for n in low_conf_engine.card.classes if n != target)
    models_dir = _copy_version(tiny_models_dir, tmp_path / "models",
                               postprocess={"confusable": [{"target": target, "rivals": [rival], "margin": 1.0}]})
    loaded = Engine.load("tiny:1", models_dir=models_dir, providers=["CPUExecutionProvider"], warmup=False)
    ruled = loaded.with_thresholds(LOW_CONF.conf).predict(real_images)
    names = {taxonomy.by_id(int(c)).name for d in ruled for c in d.class_ids}
    assert target not in names and names  # the target's anchors became their rival (or fell below the floor)
    assert loaded.describe()["postprocess"]["confusable"][0]["target"] == target


@pytest.mark.parametrize(("rule", "message"), [
    ({"target": "firearm", "rivals": ["sword"]}, "lacks: \\['sword'\\]"),
    ({"target": "firearm", "rivals": ["firearm", "knife"]}, "its own rival"),
])
def test_card_postprocess_rules_naming_wrong_classes_are_refused(tiny_models_dir: Path, tmp_path: Path, rule: dict, message: str) -> None:
    models_dir = _copy_version(tiny_models_dir, tmp_path / "models", postprocess={"confusable": [rule]})
    with pytest.raises(ConfigError, match=message):
        Engine.load("tiny:1", models_dir=models_dir, warmup=False)
