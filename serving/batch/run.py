"""`run(options)`: re-screen an archive of scans with one model and one policy, resumably.

The procedure, top to bottom: list the sources; resolve the model to one `NAME:VERSION` (so a promotion
during a long run cannot mix models) and load the policy; open the run directory (new, or `resume`:
same model and policy required, finished scans skipped); screen the rest with the local or the Ray
engine, committing rows to the manifest as they come; gather results.parquet; write the report.

A run killed at any point is finished by running the same command again with `resume=True`.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal, get_args

from xscreen.serving.batch.output import RunDir, now_utc
from xscreen.serving.batch.sources import list_sources
from xscreen.settings import Variant

logger = logging.getLogger(__name__)

EngineName = Literal["local", "ray"]
Progress = Callable[[int, int], None]  # (scans finished so far, total scans), called after every batch


@dataclass(frozen=True)
class BatchOptions:
    """Everything a batch run needs; the CLI fills it from its flags and the settings."""

    src: str
    out: Path
    models_dir: Path
    policy_file: Path
    model: str = "default"
    engine: EngineName = "local"
    address: str | None = None  # Ray cluster to join; None starts Ray on this machine
    workers: int = 0  # decode threads (local) or engine actors (Ray); 0 picks from the CPU count
    batch_size: int = 8  # scans per engine call, capped by the model card's max_batch_size
    save_annotated: bool = False
    resume: bool = False
    jsonl: bool = False
    max_pixels: int | None = None
    providers: list[str] | None = None
    variant: Variant = "fp32"  # the model file (settings.variant); a resume must use the same one
    intra_op_threads: int = 0  # ONNX Runtime threads per engine call; 0 picks from the CPU count
    instances: int = 0  # local engine: batches screened at once (settings.engine_instances); 0 picks from the CPU count
    trt_cache_dir: Path | None = None  # TensorRT engine cache root (settings.effective_trt_cache_dir)
    commit_every: int = 256  # rows per committed part: the most a kill can cost in re-screening
    commit_seconds: float = 30.0
    report: bool = True

    def __post_init__(self) -> None:
        if self.engine not in ("local", "ray"):
            raise ValueError(f"engine must be 'local' or 'ray', got {self.engine!r}")
        if self.address is not None and self.engine != "ray":
            raise ValueError("--address joins a Ray cluster; it needs --engine ray")
        if self.variant not in get_args(Variant):
            raise ValueError(f"variant must be one of {', '.join(get_args(Variant))}, got {self.variant!r}")
        if self.workers < 0 or self.instances < 0 or self.batch_size < 1 or self.commit_every < 1:
            raise ValueError("workers and instances must be >= 0, batch size and commit interval >= 1")


@dataclass
class BatchSummary:
    out: Path
    model: str
    policy_version: str
    engine: str
    total: int  # sources named by SRC
    skipped: int  # already finished by an earlier attempt (resume)
    screened: int  # screened by this attempt
    errors: int  # rows with an error, over the whole run
    by_decision: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # this process's CPU (every thread) over `seconds`: what the screening cost the host
    screening_share: float | None = None  # local engine: share of the main thread's time spent waiting on the engine
    instances: int | None = None  # local engine: batches screened at once
    intra_op_threads: int | None = None  # ONNX Runtime threads per engine call

    @property
    def scans_per_s(self) -> float:
        return self.screened / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "out": str(self.out), "scans_per_s": round(self.scans_per_s, 2)}


def default_workers() -> int:
    """Half the cores, for either engine: local decode threads (the model uses all of them), or Ray's
    single-threaded actors, one per two cores."""
    return max(1, (os.cpu_count() or 1) // 2)


def engine_threads(options: BatchOptions) -> tuple[int, int]:
    """(instances, ONNX Runtime threads per call) when the options leave them to us (0).

    Local: `plan_instances`, one single-threaded call per core on a CPU. Decoding a scan costs a fraction of
    screening it, and the engine's sessions do not spin-wait, so the decode threads fit in the gaps.
    Ray: one thread per actor; scale with more actors.
    """
    if options.engine == "ray":
        return 1, options.intra_op_threads or 1
    from xscreen.vision.engine import plan_instances

    return plan_instances(options.instances, options.intra_op_threads, providers=options.providers)


def run(options: BatchOptions, *, progress: Progress | None = None) -> BatchSummary:
    from xscreen.vision.policy import VERDICTS, load_policy
    from xscreen.vision.registry import resolve_model
    from xscreen.vision.taxonomy import load_taxonomy

    sources = list_sources(options.src)
    model = resolve_model(options.model, models_dir=options.models_dir)
    model.file(options.variant)  # a variant the model does not ship fails here, before a run directory exists
    policy = load_policy(options.policy_file)
    taxonomy = load_taxonomy()
    out = RunDir(options.out)
    meta = {
        "source": options.src,
        "model": model.ref,
        "model_files": model.card.files,
        "variant": options.variant,
        "policy_version": policy.version,
        "policy_sha256": policy.sha256,
        "engine": options.engine,
        "started_at": now_utc(),
        "options": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(options).items()},
    }
    manifest = out.open(meta, resume=options.resume)
    pending = [s for s in sources if s not in manifest.done]
    skipped = len(sources) - len(pending)
    if skipped:
        logger.info("resuming %s: %d of %d scans already screened", out.path, skipped, len(sources))
    batch_size = min(options.batch_size, model.card.max_batch_size)
    workers = options.workers or default_workers()
    instances, intra_op_threads = engine_threads(options)
    annotate_dir = out.annotated if options.save_annotated else None

    done = skipped
    if progress is not None:
        progress(done, len(sources))

    def advance(n: int) -> None:
        nonlocal done
        done += n
        if progress is not None:
            progress(done, len(sources))

    started, cpu = time.perf_counter(), time.process_time()
    stats = None
    if pending and options.engine == "local":
        from xscreen.serving.batch.local import run_local
        from xscreen.vision.engine import Engine

        engine = Engine.load(
            model.ref,
            models_dir=options.models_dir,
            providers=options.providers,
            variant=options.variant,
            intra_op_threads=intra_op_threads,
            trt_cache_dir=options.trt_cache_dir,
            max_batch_size=batch_size,
        )
        from xscreen.serving.batch.rows import rows_to_table

        rows_to_table([])  # pyarrow imports pandas on its first table (0.3 s): start-up, like loading the model
        started, cpu = time.perf_counter(), time.process_time()  # the rate is of screening; loading the model is paid once per run
        if progress is not None:
            progress(done, len(sources))  # the bar's clock starts here too
        stats = run_local(
            pending,
            manifest=manifest,
            engine=engine,
            policy=policy,
            taxonomy=taxonomy,
            batch_size=batch_size,
            workers=workers,
            max_pixels=options.max_pixels,
            annotate_dir=annotate_dir,
            commit_every=options.commit_every,
            commit_seconds=options.commit_seconds,
            advance=advance,
            instances=instances,
        )
    elif pending:
        from xscreen.serving.batch.ray_engine import run_ray

        run_ray(
            pending,
            manifest=manifest,
            model_ref=model.ref,
            policy=policy,
            options=options,
            intra_op_threads=intra_op_threads,
            batch_size=batch_size,
            workers=workers,
            annotate_dir=annotate_dir,
            advance=advance,
        )
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu

    table = out.finish(manifest, jsonl=options.jsonl)
    decisions = [d for d in table.column("decision").to_pylist() if d is not None]
    summary = BatchSummary(
        out=out.path,
        model=model.ref,
        policy_version=policy.version,
        engine=options.engine,
        total=len(sources),
        skipped=skipped,
        screened=len(pending),
        errors=sum(e is not None for e in table.column("error_code").to_pylist()),
        by_decision={v: decisions.count(v) for v in VERDICTS if v in decisions},
        seconds=seconds,
        cpu_seconds=round(cpu_seconds, 3),
        screening_share=round(stats.screening_share, 4) if stats else None,
        instances=instances if options.engine == "local" else None,
        intra_op_threads=intra_op_threads,
    )
    if stats:
        logger.info(
            "main thread: %.1fs waiting on %d engine instance(s), %.1fs waiting for decode threads, %.1fs writing parts",
            stats.screening_s, instances, stats.waiting_s, stats.committing_s,
        )
    if options.report:
        from xscreen.serving.batch.report import write_report

        write_report(table, out.path, title=f"Batch {out.path.name}: {model.ref}, policy {policy.version}")
    out.write_meta({**out.read_meta(), "finished_at": now_utc(), "summary": summary.to_dict()})
    return summary
