"""Export a trained checkpoint to ONNX, verify parity, and write a registry version.

Recipe (`xscreen export --weights runs/NAME/weights/best.pt --name NAME --version V [--half] [--int8 --calib DIR]`):
1. ultralytics exports fp32 ONNX with a dynamic batch axis (and an fp16 variant on request: onnxruntime's
   float16 converter, float32 inputs and outputs). The INT8 variant is `xscreen.training.quantize` (static QDQ,
   the head's output layers kept in float), calibrated on `--calib` scans preprocessed by our engine.
2. Parity: the fp32 ONNX model run through xscreen's own engine and the PyTorch model run through
   ultralytics' predict must find the same boxes on the same real scans (class equal, box corners within
   `BOX_TOL_PX`, scores within `SCORE_TOL`); otherwise the export fails and says by how much.
3. The files are copied into `models/NAME/V/` with a card (classes, input spec, output layout, thresholds,
   training data card, metrics, sha256, software versions). Versions are immutable.
"""

from __future__ import annotations

import importlib.metadata as md
import json
import logging
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from xscreen.errors import ConfigError, ParityError
from xscreen.training.offline import prepare_ultralytics
from xscreen.vision.registry import CARD_FILE, InputSpec, ModelCard, OutputSpec, PostprocessSpec, RegistryModel, Thresholds, sha256_file
from xscreen.vision.taxonomy import load_taxonomy
from xscreen.vision.yolo import find_images

logger = logging.getLogger(__name__)

BOX_TOL_PX = 1.0
SCORE_TOL = 1e-3
PARITY_CONF = 0.05  # below the operating threshold, so a young model still yields boxes to compare


@dataclass
class ExportOptions:
    weights: Path
    name: str
    models_dir: Path
    version: int | None = None  # None: next free version
    half: bool = False
    int8: bool = False
    calib: Path | None = None
    imgsz: int | None = None  # None: the imgsz the checkpoint was trained at
    conf: float = 0.25
    iou: float = 0.45
    class_conf: dict[str, float] = field(default_factory=dict)  # NAME or KIND:NAME -> operating threshold (chosen on validation)
    image_kind: str = "colour"
    gray_display: str = "as_is"  # how gray scans' display is prepared (InputSpec.gray_display), chosen by bench/gray_stations.py
    parity_images: list[Path] = field(default_factory=list)
    check_parity: bool = True
    metrics_file: Path | None = None  # `xscreen evaluate` output (its --out dir, or one metrics.json), stored in the card
    data_card_file: Path | None = None  # dataset card of the training data, stored in the card
    postprocess: PostprocessSpec | None = None  # decoding rules (configs/postprocess/); None: none


def class_thresholds(class_conf: dict[str, float], names: list[str]) -> Thresholds:
    """`--class-conf` keys, `NAME` or `KIND:NAME` (a scan kind's own value, e.g. `gray:firearm`), checked
    against the model's classes; returned as a Thresholds without conf/iou."""
    from xscreen.vision.scan import SCAN_KINDS

    per_class: dict[str, float] = {}
    per_kind: dict[str, dict[str, float]] = {}
    for key, value in class_conf.items():
        kind, sep, name = key.rpartition(":")
        if sep and kind not in SCAN_KINDS:
            raise ConfigError(f"per-class threshold {key!r}: the scan kind must be one of {', '.join(SCAN_KINDS)}")
        if name not in names:
            raise ConfigError(f"per-class threshold for {name!r}: not a class of this model ({', '.join(names)})")
        if not 0.0 < value < 1.0:
            raise ConfigError(f"per-class thresholds must lie between 0 and 1, got {key}={value}")
        (per_kind.setdefault(kind, {}) if sep else per_class)[name] = value
    return Thresholds(per_class=per_class, per_kind=per_kind)


def software_versions() -> dict[str, str]:
    out = {}
    for pkg in ("ultralytics", "torch", "onnx", "onnxruntime-gpu", "onnxruntime", "numpy", "opencv-python-headless"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    try:
        out["xscreen"] = md.version("xscreen")
    except md.PackageNotFoundError:
        pass
    return out


def _checkpoint_info(model: Any) -> tuple[list[str], int, str, dict[str, Any]]:
    """Class names in output order, training imgsz, architecture name and the training args."""
    names = [model.names[i] for i in range(len(model.names))]
    train_args = dict(getattr(model, "ckpt", {}) or {}).get("train_args", {}) or {}
    imgsz = int(train_args.get("imgsz") or model.overrides.get("imgsz") or 640)
    yaml_file = (getattr(model.model, "yaml", {}) or {}).get("yaml_file", "") or train_args.get("model", "")
    arch = Path(str(yaml_file)).stem or "yolo"
    return names, imgsz, arch, train_args


def _check_names(names: list[str]) -> None:
    taxonomy = load_taxonomy()
    unknown = [n for n in names if n not in taxonomy.names]
    if unknown:
        raise ConfigError(f"model classes {unknown} are not in configs/taxonomy.yaml; train on taxonomy-named data")


def _output_layout(onnx_path: Path) -> tuple[str, str]:
    import onnx

    graph = onnx.load(str(onnx_path), load_external_data=False).graph
    out = graph.output[0]
    dims = [d.dim_value or d.dim_param for d in out.type.tensor_type.shape.dim]
    layout = "end2end" if dims[-1] == 6 else "yolo_raw"
    return out.name, layout


def _calibration_blobs(engine: Any, calib: Path, limit: int = 64) -> Iterator[np.ndarray]:
    """Calibration inputs preprocessed exactly as the engine preprocesses station scans."""
    import cv2

    images = list(find_images(calib))[:limit]
    if not images:
        raise ConfigError(f"--calib {calib} holds no images")
    for path in images:
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is not None:
            yield engine.preprocess([np.ascontiguousarray(bgr[..., ::-1])])[0]


def _staged_engine(onnx_path: Path, card: ModelCard) -> Any:
    """Load the fp32 export through our engine from a card beside it, as an operator's unregistered model."""
    from xscreen.vision.engine import Engine

    card = card.model_copy(update={"files": {onnx_path.name: sha256_file(onnx_path)}})
    (onnx_path.parent / CARD_FILE).write_text(card.model_dump_json(indent=2))
    return Engine.load(onnx_path, models_dir=onnx_path.parent, providers=["CPUExecutionProvider"])


def _export_variant(weights: Path, imgsz: int, workdir: Path, *, quantize: int | None = None) -> Path:
    from ultralytics import YOLO

    # ultralytics writes beside the weights: give each variant its own copy in the work dir.
    stem = {None: "fp32", 16: "fp16"}[quantize]
    local = workdir / stem / "model.pt"
    local.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(weights, local)
    kwargs: dict[str, Any] = dict(format="onnx", imgsz=imgsz, dynamic=True, simplify=True, device="cpu", batch=1)
    if quantize is not None:
        kwargs["quantize"] = quantize
    return Path(YOLO(str(local)).export(**kwargs))


def verify_parity(torch_model: Any, engine: Any, images: list[Path]) -> dict[str, float]:
    """Compare PyTorch (the loaded ultralytics YOLO's predict) against our engine on the fp32 ONNX model; raise on mismatch."""
    import cv2

    card = engine.card
    engine = engine.with_thresholds(PARITY_CONF)
    worst_box = worst_score = 0.0
    compared = boxes = 0
    for path in images:
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            continue
        ours = engine.predict([cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)])[0]
        # One image at a time: the engine letterboxes it to its minimal rectangle where it runs `rect` (a
        # dynamic model on the CPU), else the square; PyTorch must see the same geometry.
        result = torch_model.predict(bgr, imgsz=card.input.imgsz, conf=PARITY_CONF, iou=card.thresholds.iou, rect=engine.rect, device="cpu", verbose=False)[0]
        theirs_xyxy = result.boxes.xyxy.cpu().numpy()
        theirs_scores = result.boxes.conf.cpu().numpy()
        if len(theirs_xyxy) != len(ours):
            raise ParityError(f"{path.name}: PyTorch found {len(theirs_xyxy)} boxes, ONNX engine {len(ours)}")
        for box, score in zip(theirs_xyxy, theirs_scores):
            if len(ours) == 0:
                break
            deltas = np.abs(ours.xyxy - box).max(axis=1)
            j = int(deltas.argmin())
            worst_box = max(worst_box, float(deltas[j]))
            worst_score = max(worst_score, abs(float(ours.scores[j]) - float(score)))
        compared += 1
        boxes += len(ours)
    if compared == 0:
        raise ParityError("no readable parity images")
    if boxes == 0:
        logger.warning("parity compared no boxes (the model finds nothing at conf %.2f on these scans): the check is vacuous", PARITY_CONF)
    if worst_box > BOX_TOL_PX or worst_score > SCORE_TOL:
        raise ParityError(f"ONNX and PyTorch disagree: max box delta {worst_box:.3f} px (tolerance {BOX_TOL_PX}), max score delta {worst_score:.5f} (tolerance {SCORE_TOL})")
    return {"images": compared, "boxes": boxes, "conf": PARITY_CONF, "max_box_delta_px": worst_box, "max_score_delta": worst_score}


def run(options: ExportOptions) -> RegistryModel:
    from xscreen.training.registry import next_version, write_version

    if options.int8 and options.calib is None:
        raise ConfigError("--int8 needs --calib DIR with representative scans for calibration")
    if not options.weights.exists():
        raise ConfigError(f"weights {options.weights} do not exist")
    prepare_ultralytics()
    from ultralytics import YOLO

    model = YOLO(str(options.weights))
    names, trained_imgsz, arch, train_args = _checkpoint_info(model)
    _check_names(names)
    imgsz = options.imgsz or trained_imgsz
    version = options.version or next_version(options.models_dir, options.name)

    with tempfile.TemporaryDirectory(prefix="xscreen-export-") as tmp:
        workdir = Path(tmp)
        files = {"model.onnx": _export_variant(options.weights, imgsz, workdir)}
        if options.half:
            files["model-fp16.onnx"] = _export_variant(options.weights, imgsz, workdir, quantize=16)
        output_name, layout = _output_layout(files["model.onnx"])
        card = ModelCard(
            name=options.name,
            version=version,
            created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            architecture=arch,
            classes=names,
            input=InputSpec(imgsz=imgsz, image_kind=options.image_kind, gray_display=options.gray_display),
            output=OutputSpec(name=output_name, layout=layout),
            thresholds=class_thresholds(options.class_conf, names).model_copy(update={"conf": options.conf, "iou": options.iou}),
            files={},
            training={"args": _jsonable(train_args), "weights": options.weights.name},
            metrics=read_evaluation(options.metrics_file),
            software=software_versions(),
        )
        if options.postprocess is not None:
            from xscreen.vision.engine import confusable_rules

            # A rule naming a class this model lacks is refused here, not when a station loads it.
            confusable_rules(card.model_copy(update={"postprocess": options.postprocess}))
        if options.data_card_file is not None:
            card.training["data_card"] = _read_json(options.data_card_file)
        if options.check_parity or options.int8:
            engine = _staged_engine(files["model.onnx"], card)
        if options.check_parity:
            if not options.parity_images:
                raise ConfigError("parity check needs real scans: pass parity images (or disable the check explicitly)")
            card.training["export_parity"] = verify_parity(model, engine, options.parity_images)
            logger.info("parity: %s", card.training["export_parity"])
        else:
            card.training["export_parity"] = {"skipped": True}  # said in the card: nobody compared this export
        if options.int8:
            from xscreen.training.quantize import quantize_int8

            files["model-int8.onnx"] = quantize_int8(files["model.onnx"], workdir / "model-int8.onnx", _calibration_blobs(engine, options.calib))  # type: ignore[arg-type]
        if options.postprocess is not None:
            # Only now: parity compares the decoding PyTorch also does, and a rule that drops a firearm box under
            # a tool box would make the two disagree by design.
            card.postprocess = options.postprocess
        return write_version(models_dir=options.models_dir, card=card, files=files)


def read_evaluation(path: Path | None) -> dict[str, Any]:
    """An evaluation for the card: one metrics.json, or an evaluate --out dir (summary table + each dataset)."""
    if path is None:
        return {}
    if not path.exists():
        raise ConfigError(f"evaluation {path} does not exist")
    if path.is_file():
        return _read_json(path)
    datasets = {p.parent.name: _read_json(p) for p in sorted(path.glob("*/metrics.json"))}
    if (path / "metrics.json").exists():
        datasets[path.name] = _read_json(path / "metrics.json")
    summary = json.loads((path / "summary.json").read_text()) if (path / "summary.json").exists() else []
    return {"summary": summary, "datasets": datasets}


def _read_json(path: Path | None) -> dict[str, Any]:
    return json.loads(path.read_text()) if path is not None and path.exists() else {}


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))
