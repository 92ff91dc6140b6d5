"""Train a detector: a thin, readable layer over ultralytics.

Recipe (`xscreen train --config configs/train/default.yaml [--epochs N] [--imgsz PX] [--batch B] [--time HOURS]
[--device cpu|0] [--resume]`; the flags override the config; `configs/train/smoke-cpu.yaml` is a CPU smoke run):
- the config names a model yaml (trained from scratch: there are no pretrained weights here), the dataset's
  data.yaml (built by `xscreen data build`), imgsz, epochs or a time budget in hours, batch, seed, and the
  X-ray augmentation (`xscreen.training.augment`: physics-breaking photometric tricks off, physics gray and
  scanner-profile variation on);
- the run directory `runs/train/NAME/` holds the config used (`xscreen-config.yaml`), the taxonomy it was
  trained against, ultralytics' `results.csv` and `args.yaml`, and `weights/last.pt` + `best.pt`;
- `--resume` continues `runs/train/NAME/weights/last.pt` (optimizer, epoch and schedule included), so a
  long CPU run goes in chunks: stop it any time, start it again with `--resume` (on a finished run it only
  says so; a run that failed before its first checkpoint is simply started again).
A run with `time:` set lets ultralytics fit the epoch count to the budget (the LR schedule follows it).
`mix:` picks and weights the training scans by source from the build's manifest: `{sixray: 2, synth: 1}`
repeats SIXray twice and leaves every other source out; `tip:sixray` names the threat-image-projection
composites on SIXray backgrounds (so a "train without OPIXray" run sees no OPIXray pixel at all).
"""

from __future__ import annotations

import logging
import os
import shutil
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator

import yaml
from pydantic import ConfigDict, TypeAdapter, ValidationError

from xscreen.checkout import REPO_ROOT
from xscreen.datasets.layout import MANIFEST, read_manifest
from xscreen.errors import ConfigError, validation_summary
from xscreen.settings import get_settings
from xscreen.training.augment import XRAY_HYPERPARAMETERS, XrayAugment, install
from xscreen.training.offline import prepare_ultralytics
from xscreen.training.recover import is_registry_ref, start_from_registry
from xscreen.vision.taxonomy import DEFAULT_TAXONOMY_PATH, load_taxonomy
from xscreen.vision.yolo import load_data_yaml

logger = logging.getLogger(__name__)


@dataclass
class TrainOptions:
    name: str
    model: str  # ultralytics model yaml (from scratch, e.g. yolo11n.yaml), our own checkpoint (.pt) or a registry model (NAME:VERSION)
    data: Path  # data.yaml
    imgsz: int = 512
    epochs: int = 100
    time: float | None = None  # hours; overrides epochs
    batch: int = 16
    seed: int = 0
    device: str = "cpu"
    workers: int = 2
    patience: int = 100
    project: Path = REPO_ROOT / "runs" / "train"
    resume: bool = False
    close_mosaic: int = 10
    val: bool = True  # validate each epoch (best.pt by fitness); off for CPU budgets: `xscreen evaluate` after
    cache: bool | str = False
    plots: bool = True
    plain: bool = False  # the plain-ultralytics reference: default hyperparameters, no X-ray augmentation
    hyp: dict[str, Any] = field(default_factory=dict)  # overrides of XRAY_HYPERPARAMETERS
    xray_augment: dict[str, Any] | None = field(default_factory=dict)  # XrayAugment fields; {} = defaults; None = off
    mix: dict[str, int] | None = None  # training scans by source -> repeat count (module docstring); None: all once
    verbose: bool = True  # ultralytics' per-epoch losses and validation metrics on stdout, as `yolo train` prints them

    __pydantic_config__ = ConfigDict(coerce_numbers_to_str=True)  # `device: 0` in YAML means "0"

    @property
    def run_dir(self) -> Path:
        return self.project / self.name


def load_options(config: Path, **overrides: Any) -> TrainOptions:
    """Read a train config YAML; relative paths resolve against the repository root."""
    try:
        raw = yaml.safe_load(config.read_text()) or {}
    except FileNotFoundError as exc:
        raise ConfigError(f"train config {config} does not exist") from exc
    raw.update({k: v for k, v in overrides.items() if v is not None})
    known = set(TrainOptions.__dataclass_fields__)
    unknown = set(raw) - known
    if unknown:
        raise ConfigError(f"{config}: unknown keys {sorted(unknown)}; known: {sorted(known)}")
    for key in ("data", "project"):
        if key in raw:
            path = Path(raw[key])
            raw[key] = path if path.is_absolute() else REPO_ROOT / path
    if str(raw.get("model", "")).endswith(".pt") and not Path(raw["model"]).is_absolute():
        raw["model"] = str(REPO_ROOT / raw["model"])  # continue from our own checkpoint (e.g. stage 1)
    try:  # types checked here, in one sentence, not by a traceback from inside ultralytics' first epoch
        return TypeAdapter(TrainOptions).validate_python(raw)
    except ValidationError as exc:
        raise ConfigError(f"{config}: {validation_summary(exc.errors())}") from exc


def _trainer_class(augment: XrayAugment | None) -> type:
    from ultralytics.models.yolo.detect import DetectionTrainer

    class XrayDetectionTrainer(DetectionTrainer):
        def build_dataset(self, img_path: str, mode: str = "train", batch: int | None = None) -> Any:
            dataset = super().build_dataset(img_path, mode, batch)
            if mode == "train" and augment is not None:
                install(dataset, augment)
            return dataset

    return XrayDetectionTrainer


def _check_data(data: Path) -> None:
    if not data.exists():
        raise ConfigError(f"dataset {data} does not exist; build it with `xscreen data build`")
    names = load_data_yaml(data).names
    if names != load_taxonomy().names:
        raise ConfigError(f"{data} classes {names} differ from the taxonomy {load_taxonomy().names}; rebuild the dataset")


def _check_model(model: str) -> None:
    """A checkpoint to continue must exist: stage 2 configs name the stage-1 run's last.pt."""
    if not model.endswith(".pt") or Path(model).exists():
        return
    path = Path(model)
    if path.parent.name == "weights":
        raise ConfigError(
            f"model {model} does not exist: this config continues the run {path.parent.parent.name}; "
            f"train that one first (the config's header says how)"
        )
    raise ConfigError(f"model checkpoint {model} does not exist")


def _continues_checkpoint(model: str) -> bool:
    """ultralytics' `pretrained`: True keeps a .pt model's weights. False (from scratch) for a model yaml; it
    must not be False for a .pt, where ultralytics 8.4 then rebuilds the architecture and drops the weights."""
    return str(model).endswith(".pt")


def _source_keys(entry: dict[str, Any]) -> set[str]:
    """A manifest entry's mix keys: its source, and for composites also `source:background-source`."""
    keys = {entry["source"]}
    origin = (entry.get("origins") or [""])[0]
    if ":" in origin:
        keys.add(f"{entry['source']}:{origin.split(':', 1)[0]}")
    return keys


def mixed_data(data: Path, mix: dict[str, int], run_dir: Path) -> Path:
    """Write `run_dir/train.txt` (training scans chosen and repeated by `mix`) and a data.yaml that trains on
    it and validates as `data` does; return that data.yaml."""
    manifest = data.parent / MANIFEST
    train = [e for e in read_manifest(data.parent) if e["split"] == "train"]
    if not train:
        raise ConfigError(f"mix needs the build's manifest with training scans; {manifest} has none")
    known = set().union(*(_source_keys(e) for e in train))
    unknown = sorted(set(mix) - known)
    if unknown:
        raise ConfigError(f"mix names {unknown}, not in {manifest}; known: {sorted(known)}")
    files: list[str] = []
    for entry in train:
        # An entry matched by both its source and source:background takes the larger count, not the sum.
        files += [str(data.parent / entry["file"])] * max((mix.get(k, 0) for k in _source_keys(entry)), default=0)
    if not files:
        raise ConfigError(f"mix {mix} selects no training scans from {manifest}")
    data_spec = load_data_yaml(data)
    spec, root = dict(data_spec.raw), data_spec.root
    spec.pop("path", None)
    for key in ("val", "test"):
        if key in spec and not Path(spec[key]).is_absolute():
            spec[key] = str(root / spec[key])
    (run_dir / "train.txt").write_text("\n".join(files) + "\n")
    spec["train"] = str(run_dir / "train.txt")
    out = run_dir / "data.yaml"
    out.write_text(yaml.safe_dump(spec, sort_keys=False))
    logger.info("mix %s: %d training scans (with repeats)", mix, len(files))
    return out


def completed_epochs(run_dir: Path) -> int | None:
    """The epochs a finished run trained, or None while it can still be resumed (or has no checkpoint).

    ultralytics marks the final `last.pt` with epoch -1 when training ends (budget or epochs reached).
    Resuming such a run made ultralytics fall back to its default dataset and download coco8.
    """
    last = run_dir / "weights" / "last.pt"
    if not last.exists():
        return None
    prepare_ultralytics()
    import torch

    if torch.load(last, map_location="cpu", weights_only=False).get("epoch", -1) != -1:
        return None
    results = run_dir / "results.csv"
    return max(len(results.read_text().splitlines()) - 1, 0) if results.exists() else 0


@contextmanager
def _ultralytics_output(verbose: bool) -> Iterator[None]:
    """ultralytics' epoch lines and progress bars for this run only: `prepare_ultralytics` keeps it quiet
    (YOLO_VERBOSE=false) for evaluation, export and tests, which left a training run printing one line."""
    import ultralytics.utils as uutils

    logger_, saved = uutils.LOGGER, (uutils.VERBOSE, uutils.LOGGER.level, list(uutils.LOGGER.handlers))
    if verbose:
        uutils.set_logging(uutils.LOGGING_NAME, verbose=True)  # a handler on the current stdout, at INFO
        uutils.VERBOSE = True  # ultralytics' TQDM reads it on each bar
    try:
        yield
    finally:
        uutils.VERBOSE, level, handlers = saved
        logger_.setLevel(level)
        logger_.handlers[:] = handlers


def use_every_cpu_core() -> int:
    """Let CPU training use every core; returns the torch thread count it will get.

    ultralytics' `select_device` gives CPU training `cpu_count - 1` torch threads (one kept for loader workers),
    and its trainer then sets CPU loader workers to 0, so the kept core idles: on a 2-core host every CPU chunk
    of the drug fine-tune ran on one core. Loading and augmenting run in the training thread between steps."""
    import ultralytics.utils.torch_utils as torch_utils

    torch_utils.NUM_THREADS = os.cpu_count() or 1  # read by select_device when training starts
    return torch_utils.NUM_THREADS


def run(options: TrainOptions) -> Path:
    """Train (or resume) and return the run directory."""
    prepare_ultralytics()
    use_every_cpu_core()
    from ultralytics import YOLO

    last = options.run_dir / "weights" / "last.pt"
    use_augment = options.xray_augment is not None and not options.plain
    augment = XrayAugment(**options.xray_augment) if use_augment and options.xray_augment is not None else None
    trainer = _trainer_class(augment)
    if options.resume:
        if not last.exists():
            if options.run_dir.exists():
                raise ConfigError(f"nothing to resume: {options.run_dir} stopped before its first checkpoint; start it again without --resume")
            raise ConfigError(f"nothing to resume: {last} does not exist")
        epochs = completed_epochs(options.run_dir)
        if epochs is not None:
            logger.info("%s is complete (%d epochs): nothing to resume", options.run_dir, epochs)
            return options.run_dir
        logger.info("resuming %s", last)
        with _ultralytics_output(options.verbose):
            YOLO(str(last)).train(resume=True, trainer=trainer, device=options.device, workers=options.workers)
        return options.run_dir

    _check_data(options.data)
    _check_model(options.model)
    if options.run_dir.exists():
        if last.exists():
            raise ConfigError(f"{options.run_dir} exists: pass --resume to continue it, or choose another name")
        # A run that failed before its first checkpoint holds only our own files: nothing to keep or resume.
        logger.warning("%s has no checkpoint (an earlier attempt failed before its first epoch): starting it again", options.run_dir)
        shutil.rmtree(options.run_dir)
    hyp = options.hyp if options.plain else {**XRAY_HYPERPARAMETERS, **options.hyp}
    options.run_dir.mkdir(parents=True)  # ours first (config, taxonomy, mix): hence exist_ok for ultralytics
    data = mixed_data(options.data, options.mix, options.run_dir) if options.mix else options.data
    model = options.model
    if is_registry_ref(model):  # a shipped model: the registry keeps ONNX, so rebuild a trainable checkpoint
        model = str(start_from_registry(model, options.run_dir, data, options.imgsz, models_dir=get_settings().models_dir))
    args: dict[str, Any] = dict(
        data=str(data), imgsz=options.imgsz, epochs=options.epochs, batch=options.batch, seed=options.seed,
        device=options.device, workers=options.workers, patience=options.patience, project=str(options.project),
        name=options.name, exist_ok=True, pretrained=_continues_checkpoint(model), close_mosaic=options.close_mosaic, cache=options.cache, val=options.val,
        plots=options.plots, verbose=options.verbose, **hyp,
    )
    if options.time is not None:
        args["time"] = options.time
    (options.run_dir / "xscreen-config.yaml").write_text(yaml.safe_dump(_plain(asdict(options)), sort_keys=False))
    shutil.copyfile(DEFAULT_TAXONOMY_PATH, options.run_dir / "taxonomy.yaml")
    logger.info("training %s on %s at imgsz %d", options.model, options.data, options.imgsz)
    with _ultralytics_output(options.verbose):
        YOLO(model).train(trainer=trainer, **args)
    return options.run_dir


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, Path):
        return str(value)
    return value
