"""Evaluate a model on one or more datasets: the loop; the arithmetic is in `xscreen.training.metrics`.

`xscreen evaluate --model REF --data A.yaml [--data B.yaml ...] --out DIR [--gray]`
- REF: a registry model (`NAME`, `NAME:VERSION`, `default`) or an `.onnx` file, run through the stations'
  screening path (`xscreen.vision.screening`: the same decoder, kind detection and conversions, the same engine
  call), so the numbers are those of what stations get; or a `.pt` checkpoint (ultralytics predict, shown the
  same converted image).
- Classes are matched by NAME between model and dataset. Dataset classes the model lacks and model classes
  the dataset lacks (or holds no instance of) are listed and left out of the averages.
- `DIR/<dataset>/metrics.json`: per class precision, recall, AP50, AP50-95, instances; the confusion between
  classes at the operating thresholds (rows predicted, columns true, plus background); per threat category
  the image-level detection and false-alarm rates at the model's operating thresholds, the thresholds
  that reach 90% / 95% detection with the false-alarm rate there, and the best detection rate at most 5%
  false alarms allow. PNG plots beside it.
- `DIR/<dataset>/predictions.jsonl`: one line per image (path, scan kind, every box down to the scoring
  floor, as `xscreen predict --json` writes them), so anyone can rescore or compare with `predict`.
- `--gray` adds a physics-gray rendering of each dataset (single-energy view by attenuation), sent through
  the same conversion a station's gray scan gets. This check grades the project's own forward model with its
  own inverse; `bench/gray_stations.py` measures gray renderings made by other methods. `DIR/summary.{json,md}`: one row per dataset (and view).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from xscreen.errors import ConfigError, DatasetError, XscreenError
from xscreen.training.metrics import ImageResult, box_iou, class_metrics, screening_metrics
from xscreen.vision.detections import Detections
from xscreen.vision.scan import Scan
from xscreen.vision.taxonomy import THREAT_CATEGORIES, Taxonomy, load_taxonomy
from xscreen.vision.yolo import label_path, load_data_yaml, read_labels

logger = logging.getLogger(__name__)
SCORE_FLOOR = 0.001  # keep low-scoring boxes: AP integrates over every threshold


@dataclass
class EvaluateOptions:
    model: str
    data: list[Path]
    out: Path
    models_dir: Path
    imgsz: int | None = None
    split: str = "val"
    gray: bool = False
    batch: int = 8


class Predictor(Protocol):
    name: str
    class_names: list[str]

    def operating_threshold(self, class_name: str, kind: str | None = None) -> float: ...

    def predict(self, scans: list[Scan]) -> list[Detections]: ...


@dataclass
class EnginePredictor:
    """A registry model or an .onnx file, run through `xscreen.vision.engine` as stations run it."""

    engine: Any
    name: str
    class_names: list[str]

    def __post_init__(self) -> None:
        # AP needs every box; the card's operating thresholds still decide precision, recall and flagging.
        self.scoring_engine = self.engine.with_thresholds(SCORE_FLOOR)

    def operating_threshold(self, class_name: str, kind: str | None = None) -> float:
        return float(self.engine.card.thresholds.for_class(class_name, kind))

    def predict(self, scans: list[Scan]) -> list[Detections]:
        from xscreen.vision.screening import screen

        out = []
        for scan, result in zip(scans, screen(self.scoring_engine, scans)):
            if result.error is not None:
                raise ConfigError(f"the model failed on {scan.source}: {type(result.error).__name__}: {result.error}") from result.error
            out.append(result.detections)
        return out


@dataclass
class CheckpointPredictor:
    """A `.pt` checkpoint through ultralytics predict; class ids mapped to the taxonomy by name."""

    model: Any
    name: str
    class_names: list[str]
    imgsz: int
    taxonomy: Taxonomy
    conf: float = 0.25

    def operating_threshold(self, class_name: str, kind: str | None = None) -> float:
        return self.conf

    def predict(self, scans: list[Scan]) -> list[Detections]:
        from xscreen.vision.engine import model_image
        from xscreen.vision.registry import InputSpec

        spec = InputSpec(imgsz=self.imgsz)  # the card export will write: a colour model
        images = [model_image(scan, spec) for scan in scans]  # what the engine shows it
        to_taxonomy = np.array([self.taxonomy.id_of(n) for n in self.class_names], np.int64)
        results = self.model.predict([img[..., ::-1] for img in images], imgsz=self.imgsz, conf=SCORE_FLOOR, device="cpu", verbose=False)
        out = []
        for r in results:
            d = Detections.from_ultralytics(r)
            out.append(Detections(d.xyxy, d.scores, to_taxonomy[d.class_ids]))
        return out


def load_predictor(ref: str, *, models_dir: Path, imgsz: int | None) -> Predictor:
    taxonomy = load_taxonomy()
    if ref.endswith(".pt"):
        from xscreen.training.offline import prepare_ultralytics

        prepare_ultralytics()
        from ultralytics import YOLO

        model = YOLO(ref)
        names = [model.names[i] for i in range(len(model.names))]
        train_imgsz = int((getattr(model, "ckpt", {}) or {}).get("train_args", {}).get("imgsz", 640))
        return CheckpointPredictor(model, Path(ref).name, names, imgsz or train_imgsz, taxonomy)
    from xscreen.vision.engine import Engine

    engine = Engine.load(ref, models_dir=models_dir)
    if imgsz is not None and imgsz != engine.card.input.imgsz:
        raise ConfigError(f"{ref} runs at imgsz {engine.card.input.imgsz} (its card); --imgsz applies to .pt checkpoints only")
    return EnginePredictor(engine, engine.ref, list(engine.card.classes))


@dataclass
class Sample:
    image: Path
    boxes: np.ndarray  # (n, 4) xyxy pixels
    class_names: list[str]


def load_samples(data_yaml: Path, split: str) -> tuple[str, list[str], list[Sample]]:
    """Images and YOLO labels of one split of an ultralytics dataset."""
    try:
        spec = load_data_yaml(data_yaml)
    except DatasetError as exc:
        raise ConfigError(str(exc)) from exc
    if split not in spec.splits:
        raise ConfigError(f"{data_yaml} has no {split!r} split")
    samples = []
    for image in spec.images(split):
        h, w = _image_size(image)
        labels = read_labels(label_path(image))
        boxes = np.array([label.to_box(w, h)[1:] for label in labels], np.float32).reshape(-1, 4)
        samples.append(Sample(image, boxes, [spec.names[label.class_id] for label in labels]))
    return str(spec.raw.get("name") or dataset_name(data_yaml)), spec.names, samples


def dataset_name(data_yaml: Path) -> str:
    """`data.yaml` is named by its folder; the builder's per-source views by folder and source: default-sixray."""
    folder = data_yaml.resolve().parent.name
    return folder if data_yaml.stem == "data" else f"{folder}-{data_yaml.stem.removeprefix('data-')}"


def _image_size(path: Path) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as im:
        return im.height, im.width


def read_dataset_scan(path: Path, *, gray: bool) -> Scan:
    """A dataset image as a station decodes it (kind from the pixels); `gray`: its single-energy view."""
    from xscreen.vision.screening import read_scan_file

    try:
        scan = read_scan_file(path, max_pixels=1 << 31)  # the dataset is ours: no station upload limit
    except XscreenError as exc:
        raise ConfigError(f"cannot read {path}: {exc.message}") from exc
    return Scan(scan.display_gray(), "gray", source=scan.source, format=scan.format) if gray else scan


@dataclass
class DatasetReport:
    dataset: str
    view: str
    metrics: dict[str, Any]
    out_dir: Path


def evaluate_dataset(predictor: Predictor, dataset: str, names: list[str], samples: list[Sample], *, gray: bool, out_dir: Path, batch: int = 8) -> DatasetReport:
    taxonomy = load_taxonomy()
    model_classes = set(predictor.class_names)
    instances = {n: 0 for n in names}
    for s in samples:
        for n in s.class_names:
            instances[n] += 1
    evaluated = [n for n in predictor.class_names if instances.get(n, 0) > 0]
    missing_in_model = sorted(n for n in names if instances[n] > 0 and n not in model_classes)
    missing_in_data = sorted(n for n in predictor.class_names if instances.get(n, 0) == 0)

    results: list[ImageResult] = []
    predictions: list[str] = []
    for start in range(0, len(samples), batch):
        chunk = samples[start:start + batch]
        scans = [read_dataset_scan(s.image, gray=gray) for s in chunk]
        for s, scan, det in zip(chunk, scans, predictor.predict(scans)):
            keep = np.array([taxonomy.by_id(int(c)).name in model_classes for c in det.class_ids], bool) if len(det) else np.zeros(0, bool)
            det = det[keep] if len(det) else det
            predictions.append(json.dumps({"path": str(s.image), "kind": scan.kind, "detections": det.to_records(taxonomy)}))
            gt_keep = [i for i, n in enumerate(s.class_names) if n in model_classes]
            results.append(ImageResult(
                s.boxes[gt_keep].reshape(-1, 4), np.array([taxonomy.id_of(s.class_names[i]) for i in gt_keep], np.int64),
                det.xyxy, det.scores, det.class_ids, kind=scan.kind,
            ))

    per_class = {}
    curves = {}
    for n in evaluated:
        m = class_metrics(results, taxonomy.id_of(n), partial(predictor.operating_threshold, n))
        per_class[n] = {"precision": m.precision, "recall": m.recall, "AP50": m.ap50, "AP50-95": m.ap50_95, "instances": m.instances}
        curves[n] = m.pr_curve

    per_category = {}
    sweeps = {}
    for category in THREAT_CATEGORIES:
        cat_classes = {c.id for c in taxonomy.in_category(category) if c.name in model_classes}
        if not cat_classes:
            continue
        holds = np.array([bool(set(r.gt_classes.tolist()) & cat_classes) for r in results])
        scores, flags = [], []
        for r in results:
            sel = np.isin(r.pred_classes, list(cat_classes))
            scores.append(float(r.pred_scores[sel].max()) if sel.any() else 0.0)
            flags.append(any(float(s) >= predictor.operating_threshold(taxonomy.by_id(int(c)).name, r.kind) for s, c in zip(r.pred_scores[sel], r.pred_classes[sel])))
        if not holds.any():
            continue
        sm = screening_metrics(holds, np.array(scores), np.array(flags))
        per_category[category] = {
            "scans_with_threat": sm.scans_with_threat, "scans_without_threat": sm.scans_without_threat,
            "detection_rate": sm.detection_rate, "false_alarm_rate": sm.false_alarm_rate,
            "threshold_for_90": sm.threshold_for_90, "false_alarm_at_90": sm.false_alarm_at_90,
            "threshold_for_95": sm.threshold_for_95, "false_alarm_at_95": sm.false_alarm_at_95,
            "detection_at_false_alarm_5": sm.detection_at(0.05),
        }
        sweeps[category] = sm.curve

    aps50 = [v["AP50"] for v in per_class.values()]
    aps = [v["AP50-95"] for v in per_class.values()]
    # At the operating thresholds: which true class each kept box landed on (a firearm box on a wrench, say).
    confusion = _confusion(results, [taxonomy.id_of(n) for n in evaluated], predictor, taxonomy)
    metrics = {
        "model": predictor.name, "dataset": dataset, "view": "gray" if gray else "as-is", "images": len(samples),
        "mAP50": float(np.mean(aps50)) if aps50 else None, "mAP50-95": float(np.mean(aps)) if aps else None,
        "classes": per_class, "categories": per_category,
        "dataset_classes_missing_from_model": missing_in_model, "model_classes_missing_from_dataset": missing_in_data,
        "confusion": {"labels": [*evaluated, "background"], "rows": "predicted", "columns": "true", "matrix": confusion.tolist()},
        "operating_thresholds": {n: predictor.operating_threshold(n) for n in predictor.class_names},
        "operating_thresholds_by_kind": {
            kind: {n: predictor.operating_threshold(n, kind) for n in predictor.class_names} for kind in sorted({r.kind for r in results if r.kind})
        },
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    (out_dir / "predictions.jsonl").write_text("".join(line + "\n" for line in predictions))
    _plot(out_dir, curves, sweeps, confusion, evaluated)
    return DatasetReport(dataset, "gray" if gray else "as-is", metrics, out_dir)


def _plot(out_dir: Path, curves: dict, sweeps: dict, matrix: np.ndarray, classes: list[str]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 5))
    for n, (r, p) in curves.items():
        ax.plot(r, p, label=n)
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02), title="precision-recall at IoU 0.5")
    ax.legend(fontsize=8)
    fig.savefig(out_dir / "pr_curves.png", dpi=100, bbox_inches="tight")
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 5))
    for category, (thresholds, drs, fars) in sweeps.items():
        ax.plot(fars, drs, label=category)
    ax.set(xlabel="false-alarm rate (scans without the threat, flagged)", ylabel="detection rate", xlim=(0, 1), ylim=(0, 1.02), title="image-level detection vs false alarm")
    ax.legend(fontsize=8)
    fig.savefig(out_dir / "detection_vs_false_alarm.png", dpi=100, bbox_inches="tight")
    plt.close(fig)

    labels = classes + ["background"]
    fig, ax = plt.subplots(figsize=(1 + 0.7 * len(labels), 1 + 0.6 * len(labels)))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.set(xlabel="true", ylabel="predicted", title="confusion at operating thresholds, IoU 0.5")
    for (i, j), v in np.ndenumerate(matrix):
        if v:
            ax.text(j, i, str(int(v)), ha="center", va="center", fontsize=7)
    fig.savefig(out_dir / "confusion_matrix.png", dpi=100, bbox_inches="tight")
    plt.close(fig)


def _confusion(results: list[ImageResult], ids: list[int], predictor: Predictor, taxonomy: Taxonomy) -> np.ndarray:
    """Rows predicted, columns true; the last row/column is background (missed / spurious)."""
    index = {c: i for i, c in enumerate(ids)}
    bg = len(ids)
    m = np.zeros((bg + 1, bg + 1), np.int64)
    for r in results:
        keep = np.array([s >= predictor.operating_threshold(taxonomy.by_id(int(c)).name, r.kind) and int(c) in index for s, c in zip(r.pred_scores, r.pred_classes)], bool)
        boxes, classes = r.pred_boxes[keep] if len(keep) else r.pred_boxes, r.pred_classes[keep] if len(keep) else r.pred_classes
        gt_used = np.zeros(len(r.gt_classes), bool)
        iou = box_iou(boxes, r.gt_boxes)
        for i in np.argsort(-iou.max(axis=1) if iou.size else np.zeros(len(boxes))):
            j = int(iou[i].argmax()) if iou.shape[1] else -1
            if j >= 0 and iou[i, j] >= 0.5 and not gt_used[j]:
                gt_used[j] = True
                m[index[int(classes[i])], index.get(int(r.gt_classes[j]), bg)] += 1
            else:
                m[index[int(classes[i])], bg] += 1
        for unmatched in np.nonzero(~gt_used)[0]:
            m[bg, index.get(int(r.gt_classes[unmatched]), bg)] += 1
    return m


@dataclass
class Summary:
    reports: list[DatasetReport] = field(default_factory=list)

    def rows(self) -> list[dict[str, Any]]:
        rows = []
        for r in self.reports:
            m = r.metrics
            row = {"dataset": r.dataset, "view": r.view, "images": m["images"], "mAP50": m["mAP50"], "mAP50-95": m["mAP50-95"]}
            row.update({f"AP50 {n}": v["AP50"] for n, v in m["classes"].items()})
            for cat, v in m["categories"].items():
                row[f"{cat} DR"] = v["detection_rate"]
                row[f"{cat} FAR"] = v["false_alarm_rate"]
            rows.append(row)
        return rows

    def table(self, width: int = 80) -> Any:
        return metrics_table(self.rows(), title=f"evaluation of {self.reports[0].metrics['model'] if self.reports else '?'}", width=width)

    def markdown(self) -> str:
        rows = self.rows()
        columns = list(dict.fromkeys(k for r in rows for k in r))
        lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        lines += ["| " + " | ".join(format_value(r.get(c)) for c in columns) + " |" for r in rows]
        return "\n".join(lines) + "\n"


def metrics_table(rows: list[dict[str, Any]], *, title: str, width: int = 80, metrics: list[str] | None = None) -> Any:
    """Summary rows (one per dataset and view) as one row per metric and one column per dataset and view,
    in as many tables as it takes to fit `width` (a rich Group). Also how `xscreen models show` prints a card.

    A row per dataset had a column per class and category, which no terminal holds: at 80 columns every
    value was cut to `0.0…`. Ten datasets side by side do not fit either, hence the chunks.
    """
    from rich.console import Group

    from xscreen.clitools import table

    names = metrics or [k for k in dict.fromkeys(k for r in rows for k in r) if k not in ("dataset", "view")]
    key_width = max([len("metric"), *map(len, names)]) + 3
    per_table = max(1, (width - key_width - 1) // (_VALUE_COLUMN + 3))
    tables = []
    for start in range(0, max(len(rows), 1), per_table):
        chunk = rows[start : start + per_table]
        out = table("metric", *(f"{r.get('dataset', '?')} {r.get('view', '')}".strip() for r in chunk), title=title if start == 0 else None)
        for metric in names:
            out.add_row(metric, *(format_value(r.get(metric)) for r in chunk))
        tables.append(out)
    return Group(*tables)


_VALUE_COLUMN = 14  # wide enough for a dataset name such as `default-sixray` above its values


def format_value(v: Any) -> str:
    """A metric in a table cell: three decimals, or a dash when there is none."""
    if v is None:
        return "–"
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def run(options: EvaluateOptions) -> Summary:
    predictor = load_predictor(options.model, models_dir=options.models_dir, imgsz=options.imgsz)
    summary = Summary()
    for data in options.data:
        dataset, names, samples = load_samples(data, options.split)
        for gray in ([False, True] if options.gray else [False]):
            sub = options.out / (dataset + ("-gray" if gray else "")) if len(options.data) > 1 or options.gray else options.out
            logger.info("evaluating %s on %s (%d images%s)", predictor.name, dataset, len(samples), ", gray" if gray else "")
            summary.reports.append(evaluate_dataset(predictor, dataset, names, samples, gray=gray, out_dir=sub, batch=options.batch))
    options.out.mkdir(parents=True, exist_ok=True)
    (options.out / "summary.json").write_text(json.dumps(summary.rows(), indent=2) + "\n")
    (options.out / "summary.md").write_text(summary.markdown())
    return summary
