"""The Ray engine: the same screening on Ray Data, for an archive bigger than one machine.

Stages: the source list -> read tasks (bytes and sha256, I/O-bound, many in flight) -> an actor pool
where each actor holds one ONNX session (one GPU each when the cluster has GPUs) and decodes, infers and
decides with the very functions the local engine uses -> rows streamed back to the driver, which
commits them to the same manifest. Result rows are ~1 KB per scan, so writing on the driver costs
little, and it keeps the exactly-once resume of the local engine; `ray.data.read_binary_files` is not
used because one unreadable file fails its whole read and its `path` column drops the URL scheme,
while here every source keeps its name and its own error.

Workers must see the model registry (and, with --save-annotated, the run directory) at the same path
as the driver: a shared file system on a real cluster, nothing to do in local mode.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, cast

import pyarrow as pa

from xscreen.serving.batch.local import Advance, RowCommitter
from xscreen.serving.batch.manifest import Manifest
from xscreen.serving.batch.rows import rows_to_table
from xscreen.serving.batch.screening import Loaded, decode, fetch, screen
from xscreen.vision.policy import Policy

if TYPE_CHECKING:
    from xscreen.serving.batch.run import BatchOptions

logger = logging.getLogger(__name__)

FETCH_SCHEMA = pa.schema(
    [("source", pa.string()), ("sha256", pa.string()), ("data", pa.large_binary()), ("error_code", pa.string()), ("error", pa.string())]
)


def fetch_batch(batch: pa.Table) -> pa.Table:
    """Ray read stage: bytes and hash of each source, or its read error."""
    rows = []
    for source in batch.column("source").to_pylist():
        loaded, data = fetch(source)
        rows.append({"source": source, "sha256": loaded.sha256, "data": data, "error_code": loaded.error_code, "error": loaded.error})
    return pa.Table.from_pylist(rows, schema=FETCH_SCHEMA)


class ScreenActor:
    """One ONNX session per actor, loaded once; each call screens one batch into result rows."""

    def __init__(self, *, model_ref: str, models_dir: str, providers: list[str] | None, variant: str,
                 intra_op_threads: int, policy: Policy, max_pixels: int | None, annotate_dir: str | None) -> None:
        from xscreen.vision.engine import Engine
        from xscreen.vision.taxonomy import load_taxonomy

        self.engine = Engine.load(model_ref, models_dir=Path(models_dir), providers=providers, variant=variant,
                                  intra_op_threads=intra_op_threads)
        self.policy = policy
        self.taxonomy = load_taxonomy()
        self.max_pixels = max_pixels
        self.annotate_dir = Path(annotate_dir) if annotate_dir else None

    def __call__(self, batch: pa.Table) -> pa.Table:
        loaded = [
            decode(Loaded(r["source"], sha256=r["sha256"], error_code=r["error_code"], error=r["error"]), r["data"],
                   max_pixels=self.max_pixels)
            for r in batch.to_pylist()
        ]
        rows = screen(loaded, engine=self.engine, policy=self.policy, taxonomy=self.taxonomy, annotate_dir=self.annotate_dir)
        return rows_to_table(rows)


def _providers(options: "BatchOptions", gpus: float) -> list[str] | None:
    if options.providers is not None:
        return options.providers
    return None if gpus else ["CPUExecutionProvider"]


def run_ray(
    pending: list[str],
    *,
    manifest: Manifest,
    model_ref: str,
    policy: Policy,
    options: "BatchOptions",
    batch_size: int,
    workers: int,
    intra_op_threads: int,
    annotate_dir: Path | None,
    advance: Advance | None = None,
) -> None:
    """Screen `pending` on Ray: joins `options.address`, or uses the Ray already started in this
    process, or starts a local one for the run and stops it after."""
    import ray
    from ray.data import ActorPoolStrategy

    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=options.address, include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
    try:
        gpus = ray.cluster_resources().get("GPU", 0)
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False  # the CLI draws its own bar from `advance`
        ds: ray.data.Dataset = ray.data.from_items([{"source": s} for s in pending])
        ds = ds.map_batches(fetch_batch, batch_size=batch_size, batch_format="pyarrow")
        ds = ds.map_batches(
            ScreenActor,
            fn_constructor_kwargs={
                "model_ref": model_ref,
                "models_dir": str(options.models_dir),
                "providers": _providers(options, gpus),
                "variant": options.variant,
                "intra_op_threads": intra_op_threads,
                "policy": policy,  # the driver's, checked against run.json: every actor decides alike
                "max_pixels": options.max_pixels,
                "annotate_dir": str(annotate_dir) if annotate_dir else None,
            },
            batch_size=batch_size,
            batch_format="pyarrow",
            compute=ActorPoolStrategy(size=workers),
            num_gpus=1 if gpus else 0,
        )
        committer = RowCommitter(manifest, every=options.commit_every, seconds=options.commit_seconds)
        for batch in ds.iter_batches(batch_size=None, batch_format="pyarrow"):
            table = cast(pa.Table, batch)  # batch_format="pyarrow": Ray's union return type, narrowed
            committer.add(table.to_pylist())
            if advance is not None:
                advance(table.num_rows)
        committer.flush()
    finally:
        if started_here:
            ray.shutdown()
