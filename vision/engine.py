"""The inference engine: a registry model in an ONNX Runtime session, from pixels to `Detections`.

Everything that runs a model goes through here (service, batch re-screening, evaluation, export parity),
so a metric measured offline is the metric of what stations run. The card says how: input size and
preprocessing, output layout, class order, thresholds, decoding rules (`postprocess`), image kind and pixel scale.

Providers: `settings.providers` order (TensorRT -> CUDA -> CPU) filtered to what this onnxruntime build
offers; a provider the build lists but cannot start (no GPU, missing CUDA libraries) is dropped by
onnxruntime, and `engine.provider` says what actually runs. Variants: fp16 is meant for GPUs, fp32 and
INT8 for CPUs. On a GPU, inputs and outputs go through IO binding.

Batches: `predict` takes any number of RGB images of any sizes, letterboxes each into one slot of a batch
buffer and runs `max_batch_size` images per session call (a model exported with a fixed batch of 1 runs
one at a time). Boxes come back in each image's own pixels, class ids in taxonomy order.

Input shape: a model exported with dynamic height and width runs each scan on the CPU at its smallest
stride-aligned rectangle at the square input's scale (`letterbox.rect_shape`, as ultralytics' predict does):
a typical 5:3 scan costs 62 % of the square's compute, with the same scale and so the same objects' sizes.
Scans batch only with scans of the same rectangle, so a scan's result never depends on its batch. GPU providers keep the full square, one shape per batch size, so TensorRT builds its engines
once (and caches them, `trt_cache_dir`) and warm-up covers every shape (`warmup`).
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from xscreen.errors import ConfigError, ModelIntegrityError, ModelNotFound
from xscreen.vision.detections import Detections
from xscreen.vision.letterbox import LetterboxMapping, letterbox, rect_shape
from xscreen.vision.postprocess import Confusable, RawDetections, decode
from xscreen.vision.registry import VARIANT_FILES, InputSpec, ModelCard, read_card, resolve_model, sha256_file
from xscreen.vision.scan import Scan
from xscreen.vision.taxonomy import Taxonomy, load_taxonomy
from xscreen.vision.tiling import merge_tiles, tile_windows

logger = logging.getLogger(__name__)

GPU_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider")
PITCH_TOLERANCE = 0.05  # relative pitch difference below which a scan is not resampled
STRIDE = 32  # YOLO's largest stride: a dynamic input's sides must be multiples of it


def available_providers(requested: Sequence[str] | None = None) -> list[str]:
    """`requested` (default: settings' order) filtered to what this onnxruntime build offers; CPU always last."""
    import onnxruntime as ort

    if requested is None:
        from xscreen.settings import get_settings

        requested = get_settings().providers
    offered = set(ort.get_available_providers())
    unknown = [p for p in requested if p not in offered]
    if unknown:
        logger.debug("providers not offered by this onnxruntime build: %s", ", ".join(unknown))
    chosen = [p for p in requested if p in offered]
    if "CPUExecutionProvider" not in chosen:
        chosen.append("CPUExecutionProvider")
    return chosen


def trt_profile(input_name: str, *, max_batch_size: int, input_hw: tuple[int, int]) -> dict[str, str]:
    """TensorRT optimisation-profile options covering batch 1 to `max_batch_size` at the square input: one
    engine serves every batch the service forms, so no batch size triggers an engine build while serving."""
    h, w = input_hw
    return {
        "trt_profile_min_shapes": f"{input_name}:1x3x{h}x{w}",
        "trt_profile_opt_shapes": f"{input_name}:{max_batch_size}x3x{h}x{w}",
        "trt_profile_max_shapes": f"{input_name}:{max_batch_size}x3x{h}x{w}",
    }


def trt_cache_path(cache_root: Path, card: ModelCard, variant: str) -> Path:
    """Where one model version's TensorRT engines live under the configured cache: the same folder on every
    start (Triton's onnxruntime backend is known for rebuilding them), and one per model and variant, so a
    new version never picks up an engine built from another graph."""
    return cache_root / f"{card.name}-{card.version}-{variant}"


def _provider_options(
    provider: str, *, variant: str, trt_cache_dir: Path | None, device_id: int = 0, trt_shapes: dict[str, str] | None = None
) -> dict[str, Any]:
    if provider == "TensorrtExecutionProvider":
        opts: dict[str, Any] = {"trt_fp16_enable": variant == "fp16", "device_id": device_id, **(trt_shapes or {})}
        if trt_cache_dir is not None:
            trt_cache_dir.mkdir(parents=True, exist_ok=True)
            opts.update(trt_engine_cache_enable=True, trt_engine_cache_path=str(trt_cache_dir),
                        trt_timing_cache_enable=True, trt_timing_cache_path=str(trt_cache_dir))
        return opts
    if provider == "CUDAExecutionProvider":
        return {"arena_extend_strategy": "kSameAsRequested", "cudnn_conv_algo_search": "HEURISTIC", "device_id": device_id}
    return {}


def warmup_batch_sizes(provider: str, max_batch_size: int) -> list[int]:
    """Batch sizes warm-up runs: all of them on a GPU (each is a shape TensorRT / cuDNN set up on first use),
    one on the CPU (its kernels do not depend on the shape; the arena grows with the first large batch)."""
    return list(range(1, max_batch_size + 1)) if provider in GPU_PROVIDERS else [1]


MAX_AUTO_INSTANCES = 4  # measured on 2 cores only; more concurrent runs mean more activation memory at once


def usable_cores() -> int:
    """Cores this process may run on (its affinity mask, which containers and `taskset` narrow)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def plan_instances(instances: int, intra_op_threads: int, *, providers: Sequence[str] | None = None, cores: int | None = None) -> tuple[int, int]:
    """(engine instances, onnxruntime threads per call) for `instances` / `intra_op_threads` settings of 0 (auto).

    On a CPU, one single-threaded call per core: onnxruntime's parallel sections on two threads kept 1.7 of 2
    cores busy at 44-56 ms of CPU a scan, two single-threaded calls at once 1.97 cores at 41-46 ms, 1.2-1.45x
    the scans per second (docs/bench/server.md). A GPU runs one instance and lets onnxruntime choose."""
    gpu = available_providers(providers)[0] in GPU_PROVIDERS
    cores = cores or usable_cores()
    if gpu:
        return instances or 1, intra_op_threads
    instances = instances or max(1, min(cores, MAX_AUTO_INSTANCES))
    return instances, intra_op_threads or max(1, cores // instances)


def create_session(
    model_path: Path,
    *,
    providers: Sequence[str] | None = None,
    variant: str = "fp32",
    intra_op_threads: int = 0,
    trt_cache_dir: Path | None = None,
    device_id: int = 0,
    trt_shapes: dict[str, str] | None = None,
) -> Any:
    """An `InferenceSession` on the first provider that starts, CPU as the last resort (GPU `device_id`)."""
    import onnxruntime as ort

    chosen = available_providers(providers)
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.intra_op_num_threads = intra_op_threads
    so.inter_op_num_threads = 1
    so.enable_cpu_mem_arena = True
    wants_gpu = any(p in GPU_PROVIDERS for p in chosen)
    # A memory pattern is planned and kept per input shape; on the CPU every batch rectangle is a shape of its
    # own (`Engine.rect`). Without patterns, 300 scans of random sizes held 176 MB RSS, flat, instead of 209 MB
    # and creeping, at the same speed (docs/engine.md). GPUs run the square: one shape per batch size.
    so.enable_mem_pattern = wants_gpu
    so.log_severity_level = 3
    # Idle intra-op threads spin-wait by default; on a shared CPU (service threads, decoders, other processes)
    # the spinning steals the cores the next batch needs. Measured: ~10-20% faster per call under load.
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if wants_gpu:
        # A GPU build without a usable GPU prints a page of library-load errors before falling back to CPU;
        # we report the outcome ourselves, in one line, below.
        ort.set_default_logger_severity(4)
    session = None
    try:
        # onnxruntime's own fallback prints to stdout and drops provider options; walk the list ourselves.
        for start in range(len(chosen)):
            candidates = chosen[start:]
            try:
                session = ort.InferenceSession(
                    str(model_path),
                    sess_options=so,
                    providers=[(p, _provider_options(p, variant=variant, trt_cache_dir=trt_cache_dir, device_id=device_id, trt_shapes=trt_shapes))
                               for p in candidates],
                    enable_fallback=0,
                )
                break
            except (RuntimeError, ValueError) as exc:
                if candidates[0] == "CPUExecutionProvider":
                    raise
                logger.debug("%s failed to start: %s", candidates[0], exc)
    finally:
        if wants_gpu:
            ort.set_default_logger_severity(2)  # onnxruntime's default
    assert session is not None  # the CPU attempt either returned a session or raised
    active = session.get_providers()
    dropped = [p for p in chosen if p not in active]
    if dropped:
        logger.info("execution providers that could not start: %s; running on %s", ", ".join(dropped), active[0])
    return session


def _resolve(ref: str | Path, *, models_dir: Path, variant: str, verify: bool) -> tuple[Path, ModelCard, str]:
    """(onnx file, card, variant) for a registry ref or an .onnx path with card.json beside it."""
    path = Path(ref)
    if path.suffix == ".onnx" or path.is_file():
        if not path.is_file():
            raise ModelNotFound(f"model file {path} does not exist")
        card = read_card(path.parent)
        by_file = {f: v for v, f in VARIANT_FILES.items()}
        variant = by_file.get(path.name, variant)
        expected = card.files.get(path.name)
        if expected is None:
            logger.warning("%s is not listed in its card's checksums; loading it unverified", path)
        elif verify and sha256_file(path) != expected:
            raise ModelIntegrityError(f"{path} does not match the sha256 in its card")
        return path, card, variant
    if variant not in VARIANT_FILES:
        raise ConfigError(f"variant must be one of {', '.join(VARIANT_FILES)}, got {variant!r}")
    model = resolve_model(str(ref), models_dir=models_dir, verify=verify)
    return model.file(variant), model.card, variant


def model_image(scan: Scan, spec: InputSpec) -> np.ndarray:
    """A scan of any kind as the (H, W, 3) uint8 RGB a model with input `spec` (its card's) is shown.

    colour model: colour as is; raw dual-energy through the renderer; gray (8-bit, or raw through
    `render_gray`) as `spec.gray_input` says: `gray_to_colour`, or three equal channels.
    gray model: colour through `colour_to_gray` (attenuation, not an RGB mean); raw through `render_gray`.
    A gray scan's display is first matched to the training display when `spec.gray_display` is `matched`.
    Gray is fed as three equal channels, as ultralytics trains on gray images. The one owner of these
    conversions: the engine, evaluation's checkpoint path and training's gray augmentation call it.
    """
    if spec.image_kind == "colour":
        if scan.kind == "colour":
            return scan.pixels
        if scan.kind == "dual_energy":
            return scan.display_rgb()
    gray = scan.display_gray()
    if scan.kind == "gray" and spec.gray_display == "matched":
        from xscreen.vision.xray.gray_display import match_display

        gray = match_display(gray)
    if spec.image_kind == "colour" and spec.gray_input == "pseudo_colour":
        from xscreen.vision.xray.convert import gray_to_colour

        return gray_to_colour(gray)
    return np.repeat(gray[..., None], 3, axis=2)


def confusable_rules(card: ModelCard) -> tuple[Confusable, ...]:
    """The card's look-alike rules (`postprocess.confusable`, class names) as model class indices for the
    decoder; a rule the card's classes or output layout cannot carry is a `ConfigError`."""
    index = {n: i for i, n in enumerate(card.classes)}
    rules = []
    for spec in card.postprocess.confusable:
        unknown = sorted({spec.target, *spec.rivals} - set(index))
        if unknown:
            raise ConfigError(f"model {card.ref}: postprocess.confusable names classes it lacks: {unknown}")
        if spec.target in spec.rivals:
            raise ConfigError(f"model {card.ref}: postprocess.confusable: {spec.target} cannot be its own rival")
        if card.output.layout == "end2end" and (spec.margin > 0 or spec.discount):
            raise ConfigError(f"model {card.ref}: a confusable margin or discount needs every class's score (yolo_raw); end2end gives one per box")
        rules.append(Confusable(index[spec.target], tuple(index[r] for r in spec.rivals), margin=spec.margin,
                                discount=spec.discount, suppress_iou=spec.suppress_iou, suppress_ratio=spec.suppress_ratio))
    return tuple(rules)


class Engine:
    """One loaded model. Build it with `Engine.load`; it is safe to call from several threads."""

    def __init__(self, *, session: Any, card: ModelCard, model_path: Path, variant: str, taxonomy: Taxonomy | None = None) -> None:
        self.session = session
        self.card = card
        self.model_path = model_path
        self.variant = variant
        self.taxonomy = taxonomy or load_taxonomy()
        self.provider: str = session.get_providers()[0]

        inp = session.get_inputs()[0]
        names = [i.name for i in session.get_inputs()]
        self.input_name = card.input.name if card.input.name in names else inp.name
        shape = list(inp.shape)
        if len(shape) != 4:
            raise ConfigError(f"{model_path.name}: expected an NCHW image input, got shape {shape}")
        h, w = shape[2], shape[3]
        self.dynamic_input = not (isinstance(h, int) and h > 0 and isinstance(w, int) and w > 0)
        self.input_hw: tuple[int, int] = (
            h if isinstance(h, int) and h > 0 else card.input.imgsz,
            w if isinstance(w, int) and w > 0 else card.input.imgsz,
        )
        fixed_batch = shape[0] if isinstance(shape[0], int) and shape[0] > 0 else None
        self.max_batch_size = fixed_batch or card.max_batch_size
        self._fixed_batch = fixed_batch
        self.input_dtype = np.float16 if "float16" in inp.type else np.float32
        outputs = {o.name: o for o in session.get_outputs()}
        self.output_name = card.output.name if card.output.name in outputs else next(iter(outputs))
        out_shape = list(outputs[self.output_name].shape)
        if card.output.layout == "yolo_raw" and len(out_shape) == 3 and isinstance(out_shape[1], int) and out_shape[1] != 4 + len(card.classes):
            raise ConfigError(f"{model_path.name}: output has {out_shape[1] - 4} classes, its card lists {len(card.classes)}")
        if card.output.layout == "end2end" and (len(out_shape) != 3 or out_shape[2] != 6):
            raise ConfigError(f"{model_path.name}: card says end2end (B, N, 6) but the output is {out_shape}")

        # Output class index -> taxonomy id, by name, so Detections never carry a model's private numbering.
        try:
            self.class_ids = np.array([self.taxonomy.id_of(n) for n in card.classes], dtype=np.int64)
        except KeyError as exc:
            raise ConfigError(f"model {card.ref} has a class outside the taxonomy: {exc}") from exc
        t = card.thresholds
        unknown = sorted((set(t.per_class) | {n for kind in t.per_kind.values() for n in kind}) - set(card.classes))
        if unknown:
            raise ConfigError(f"model {card.ref}: per-class thresholds for classes it lacks: {unknown}")
        # Decoding keeps every box some kind of scan may keep; `_operating` then applies the scan kind's own
        # thresholds, indexed by taxonomy id (what Detections carry).
        self.decode_conf = t.floor()
        self._uniform = not t.per_class and not t.per_kind
        self._operating_conf: dict[str | None, np.ndarray] = {}
        for kind in (None, *t.per_kind):
            by_id = np.ones(int(self.class_ids.max()) + 1, np.float32)
            by_id[self.class_ids] = [t.for_class(n, kind) for n in card.classes]
            self._operating_conf[kind] = by_id
        self.confusable = confusable_rules(card)
        self.use_io_binding = self.provider in GPU_PROVIDERS
        # Minimal rectangles where shapes are free (CPU): see the module docstring.
        self.rect = self.dynamic_input and self.provider not in GPU_PROVIDERS

    # ---- construction ------------------------------------------------------------------------------------

    @classmethod
    def load(
        cls,
        ref: str | Path,
        *,
        models_dir: Path,
        providers: list[str] | None = None,
        variant: str = "fp32",
        intra_op_threads: int = 0,
        verify: bool = True,
        warmup: bool = True,
        trt_cache_dir: Path | None = None,
        device_id: int = 0,
        max_batch_size: int | None = None,
    ) -> "Engine":
        """Load a registry model (`default`, `NAME`, `NAME:V`) or an .onnx file with its card.json beside it.

        `trt_cache_dir`: the root of the TensorRT engine cache (`trt_cache_path` picks this model's folder);
        `max_batch_size`: the largest batch the caller will send (default the card's), for TensorRT's profile
        and the warm-up."""
        path, card, variant = _resolve(ref, models_dir=models_dir, variant=variant, verify=verify)
        started = time.perf_counter()
        largest = min(max_batch_size or card.max_batch_size, card.max_batch_size)
        session = create_session(
            path, providers=providers, variant=variant, intra_op_threads=intra_op_threads, device_id=device_id,
            trt_cache_dir=None if trt_cache_dir is None else trt_cache_path(trt_cache_dir, card, variant),
            trt_shapes=trt_profile(card.input.name, max_batch_size=largest, input_hw=(card.input.imgsz, card.input.imgsz)),
        )
        engine = cls(session=session, card=card, model_path=path, variant=variant)
        if variant == "fp16" and engine.provider not in GPU_PROVIDERS:
            logger.warning("fp16 variant running on %s: fp16 is for GPUs; on a CPU fp32 or int8 is faster", engine.provider)
        if warmup:
            engine.warmup(largest)
        logger.info(
            "loaded %s:%s (%s) on %s in %.2fs, input %dx%d, batch <= %d",
            card.name, card.version, variant, engine.provider, time.perf_counter() - started, *engine.input_hw, engine.max_batch_size,
        )
        return engine

    def with_thresholds(self, conf: float | None = None, *, iou: float | None = None, imgsz: int | None = None) -> "Engine":
        """The same session with every class's score threshold set to `conf`, another NMS `iou`, or another
        square input side `imgsz` (a model exported with a dynamic input; `predict --imgsz`). Evaluation and
        parity need the boxes below the operating threshold; the card's own values stay on `self`."""
        from xscreen.vision.registry import Thresholds

        t = self.card.thresholds
        thresholds = Thresholds(conf=t.conf if conf is None else conf, iou=t.iou if iou is None else iou,
                                per_class=t.per_class if conf is None else {}, per_kind=t.per_kind if conf is None else {})
        card = self.card.model_copy(update={"thresholds": thresholds})
        engine = Engine(session=self.session, card=card, model_path=self.model_path, variant=self.variant, taxonomy=self.taxonomy)
        if imgsz is not None and (imgsz, imgsz) != engine.input_hw:
            if not engine.dynamic_input:
                raise ConfigError(f"{self.ref} takes a fixed {engine.input_hw[0]} x {engine.input_hw[1]} input; it cannot run at imgsz {imgsz}")
            if imgsz % STRIDE:
                raise ConfigError(f"imgsz must be a multiple of 32 (the model's largest stride), got {imgsz}")
            engine.input_hw = (imgsz, imgsz)
        return engine

    def warmup(self, max_batch_size: int = 1) -> list[int]:
        """Blank inputs at each batch size `warmup_batch_sizes` names (up to `max_batch_size`), so no real scan
        pays for allocation, kernel choice or an engine build; returns the sizes run."""
        h, w = self.input_hw
        sizes = warmup_batch_sizes(self.provider, min(max_batch_size, self.max_batch_size))
        for n in sizes:
            self._run(np.full((self._fixed_batch or n, 3, h, w), 114 / 255, dtype=self.input_dtype))
        return sizes

    # ---- what it is --------------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.card.name

    @property
    def version(self) -> int:
        return self.card.version

    @property
    def ref(self) -> str:
        return self.card.ref

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "variant": self.variant,
            "provider": self.provider,
            "input": {"height": self.input_hw[0], "width": self.input_hw[1], "image_kind": self.card.input.image_kind},
            "max_batch_size": self.max_batch_size,
            "classes": [self.taxonomy.by_id(int(i)).name for i in self.class_ids],
            "thresholds": self.card.thresholds.model_dump(),
            "postprocess": self.card.postprocess.model_dump(),
        }

    # ---- inference ---------------------------------------------------------------------------------------

    def predict(self, images: Sequence[np.ndarray]) -> list[Detections]:
        """RGB uint8 (H, W, 3) images of any sizes -> one `Detections` per image, boxes in its own pixels, at the
        card's thresholds for images of unknown kind (`per_class`, else `conf`)."""
        return [self._operating(det, None) for det in self._predict(images, scaleup=True)]

    def predict_scans(self, scans: Sequence[Scan], *, pixel_pitch_mm: float | None = None) -> list[Detections]:
        """Scans of any kind, converted to the image kind the card asks for, then predicted.

        When the station's pixel pitch is known (`pixel_pitch_mm`, else the file's own) and the card gives the
        pitch the model expects at its input, the scan is resampled to that scale: a small scan is padded, not
        blown up, and a scan larger than the input is tiled, so objects reach the model at the size it learned.
        """
        images = [self.model_image(scan) for scan in scans]
        results: list[Detections | None] = [None] * len(scans)
        plain = []
        for i, (scan, image) in enumerate(zip(scans, images)):
            factor = self._pitch_factor(pixel_pitch_mm if pixel_pitch_mm is not None else scan.pixel_pitch_mm)
            if factor is None:
                plain.append(i)
            else:
                results[i] = self._predict_at_scale(image, factor)
        for i, det in zip(plain, self._predict([images[i] for i in plain], scaleup=True)):
            results[i] = det
        return [self._operating(det, scan.kind) for det, scan in zip(results, scans)]  # type: ignore[arg-type]

    def predict_tiled(self, image: np.ndarray, *, tile: int | None = None, overlap: float = 0.2) -> Detections:
        """Cut a large RGB image into overlapping `tile`-pixel windows, predict each, merge in original pixels.

        `tile` defaults to the image's short side: a long conveyor strip becomes parcel-sized squares, each
        letterboxed like the scans the model was trained on.
        """
        return self._operating(self._tiled(image, tile=tile, overlap=overlap), None)

    def _tiled(self, image: np.ndarray, *, tile: int | None, overlap: float) -> Detections:
        self._check_image(image, 0)
        height, width = image.shape[:2]
        windows = tile_windows((height, width), tile=tile or min(height, width), overlap=overlap)
        parts = self._predict([w.crop(image) for w in windows], scaleup=True)
        shifted = [
            Detections(det.xyxy + np.array([w.x0, w.y0, w.x0, w.y0], np.float32), det.scores, det.class_ids)
            for det, w in zip(parts, windows)
        ]
        return merge_tiles(shifted, windows, image_shape=(height, width), iou=self.card.thresholds.iou)

    # ---- conversions -------------------------------------------------------------------------------------

    def model_image(self, scan: Scan) -> np.ndarray:
        """The scan as the (H, W, 3) uint8 RGB this model expects (`model_image` with the card's input)."""
        return model_image(scan, self.card.input)

    def _pitch_factor(self, pitch_mm: float | None) -> float | None:
        """Resampling factor from station pixels to the model's input scale, or None when not applicable."""
        model_pitch = self.card.input.pixel_pitch_mm
        if pitch_mm is None or model_pitch is None:
            return None
        if pitch_mm <= 0:
            raise ValueError(f"pixel pitch must be positive, got {pitch_mm}")
        return pitch_mm / model_pitch

    def _predict_at_scale(self, image: np.ndarray, factor: float) -> Detections:
        from xscreen.vision.xray.convert import rescale_pitch

        height, width = image.shape[:2]
        scaled = image if abs(factor - 1.0) <= PITCH_TOLERANCE else rescale_pitch(image, factor, 1.0)
        new_h, new_w = scaled.shape[:2]
        in_h, in_w = self.input_hw
        if new_h <= in_h and new_w <= in_w:
            det = self._predict([scaled], scaleup=False)[0]
        else:
            det = self._tiled(scaled, tile=min(in_h, in_w), overlap=0.2)
        if scaled is image:
            return det
        back = LetterboxMapping((height, width), (new_h, new_w), (new_h, new_w), 0, 0)  # a plain resize: no padding
        return Detections(back.to_original(det.xyxy), det.scores, det.class_ids)

    # ---- the batch loop ----------------------------------------------------------------------------------

    @staticmethod
    def _check_image(image: np.ndarray, index: int) -> None:
        if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            got = f"{image.shape} {image.dtype}" if isinstance(image, np.ndarray) else type(image).__name__
            raise ValueError(f"image {index}: expected RGB uint8 (H, W, 3), got {got}")

    def _predict(self, images: Sequence[np.ndarray], *, scaleup: bool) -> list[Detections]:
        for i, image in enumerate(images):
            self._check_image(image, i)
        # With `rect`, scans run in batches of their own rectangle only: a scan padded to a neighbour's larger
        # rectangle scored differently, so its verdict depended on which scans shared its batch (evaluate's
        # batches of 8 disagreed with predict's single scans).
        groups: dict[tuple[int, int], list[int]] = {}
        for i, image in enumerate(images):
            shape = rect_shape(image.shape[:2], self.input_hw, stride=STRIDE, scaleup=scaleup) if self.rect else self.input_hw
            groups.setdefault(shape, []).append(i)
        results: list[Detections | None] = [None] * len(images)
        for indices in groups.values():
            for start in range(0, len(indices), self.max_batch_size):
                chunk = indices[start : start + self.max_batch_size]
                blob, mappings = self.preprocess([images[i] for i in chunk], scaleup=scaleup)
                for i, r, m in zip(chunk, self._decode(self._run(blob)), mappings):
                    results[i] = self._to_detections(r, m)
        return results  # type: ignore[return-value]

    def preprocess(self, images: Sequence[np.ndarray], *, scaleup: bool = True) -> tuple[np.ndarray, list[LetterboxMapping]]:
        """Letterbox each image into one slot of an (N, H, W, 3) buffer, then NCHW float scaled as in training.

        (H, W) is `input_hw`, or with `rect` the smallest rectangle holding every image at that scale."""
        spec = self.card.input
        h, w = self.input_hw
        if self.rect and images:
            shapes = [rect_shape(image.shape[:2], self.input_hw, stride=STRIDE, scaleup=scaleup) for image in images]
            h, w = max(s[0] for s in shapes), max(s[1] for s in shapes)
        n = len(images) if self._fixed_batch is None else self._fixed_batch
        buffer = np.empty((n, h, w, 3), np.uint8)
        mappings = []
        for i, image in enumerate(images):
            _, mapping = letterbox(image, (h, w), fit=self.input_hw, pad_value=spec.pad_value, interpolation=spec.interpolation,
                                   scaleup=scaleup, out=buffer[i])
            mappings.append(mapping)
        if len(images) < n:
            buffer[len(images) :] = spec.pad_value
        if spec.channel_order == "BGR":
            buffer = buffer[..., ::-1]
        blob = np.empty((n, 3, h, w), np.float32)
        # Divide (not multiply by 1/255) to match ultralytics' `.float().div_(255)` to the last bit.
        np.divide(buffer.transpose(0, 3, 1, 2), np.float32(1.0 / spec.scale), out=blob)
        return (blob if self.input_dtype == np.float32 else blob.astype(self.input_dtype)), mappings

    def _run(self, blob: np.ndarray) -> np.ndarray:
        if not self.use_io_binding:
            return self.session.run([self.output_name], {self.input_name: blob})[0]
        binding = self.session.io_binding()
        binding.bind_cpu_input(self.input_name, blob)
        binding.bind_output(self.output_name, "cuda")
        self.session.run_with_iobinding(binding)
        return binding.copy_outputs_to_cpu()[0]

    def _decode(self, output: np.ndarray) -> list[RawDetections]:
        return decode(output, layout=self.card.output.layout, conf=self.decode_conf, iou=self.card.thresholds.iou, confusable=self.confusable)

    def _operating(self, det: Detections, kind: str | None) -> Detections:
        """Boxes above the card's operating threshold for their class on a scan of `kind` (None: unknown)."""
        if self._uniform or len(det) == 0:
            return det
        conf = self._operating_conf.get(kind, self._operating_conf[None])
        return det[det.scores > conf[det.class_ids]]

    def _to_detections(self, raw: RawDetections, mapping: LetterboxMapping) -> Detections:
        if len(raw) == 0:
            return Detections.empty()
        nc = len(self.class_ids)
        if raw.classes.max() >= nc:
            raise ConfigError(f"model output class {int(raw.classes.max())} beyond the card's {nc} classes")
        return Detections(mapping.to_original(raw.xyxy), raw.scores, self.class_ids[raw.classes])
