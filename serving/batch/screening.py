"""Screen scans into result rows: the steps both batch engines share, so their rows are identical.

`load` (read the bytes, hash them, decode with the stations' `read_scan`) runs in decode threads or Ray
tasks; `screen` (the one screening path, `xscreen.vision.screening.screen`, for a batch, then an annotated
PNG when asked) runs where the engine lives.
A scan that cannot be read or decoded becomes a row with its error; it never stops the batch.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Protocol, Sequence

from xscreen.errors import ScanDecodeError, ScanUnreadable, XscreenError
from xscreen.serving.batch.sources import read_source
from xscreen.serving.store.images import sha256_bytes
from xscreen.vision.detections import Detections
from xscreen.vision.policy import VERDICTS, Policy
from xscreen.vision.scan import Scan
from xscreen.vision.screening import ScreeningEngine
from xscreen.vision.screening import screen as screen_scans
from xscreen.vision.taxonomy import Taxonomy

logger = logging.getLogger(__name__)

INFERENCE_FAILED = "inference_failed"
CLEAR = VERDICTS[0]  # the least severe verdict: no annotated image for these


class _Engine(ScreeningEngine, Protocol):
    @property
    def ref(self) -> str: ...


@dataclass
class Loaded:
    """One source after reading and decoding: a scan, or the error that stopped it."""

    source: str
    sha256: str | None = None
    scan: Scan | None = None
    error_code: str | None = None
    error: str | None = None


def fetch(source: str) -> tuple[Loaded, bytes | None]:
    """Read and hash one source; an unreadable one comes back with its error and no bytes."""
    try:
        data = read_source(source)
    except (OSError, ValueError) as exc:  # missing, permission, network, bad URL
        return Loaded(source, error_code=ScanUnreadable.code, error=f"{type(exc).__name__}: {exc}"), None
    return Loaded(source, sha256=sha256_bytes(data)), data


def decode(loaded: Loaded, data: bytes | None, *, max_pixels: int | None) -> Loaded:
    """Decode fetched bytes into `loaded.scan`, or record why they are not a scan."""
    from xscreen.vision.io import read_scan

    if data is None:
        return loaded
    try:
        loaded.scan = read_scan(data, filename=PurePosixPath(loaded.source).name, max_pixels=max_pixels)
    except XscreenError as exc:
        loaded.error_code, loaded.error = exc.code, exc.message
    except Exception as exc:  # noqa: BLE001 - a decoder bug on one archived file must not stop months of re-screening
        logger.warning("unexpected error decoding %s", loaded.source, exc_info=True)
        loaded.error_code, loaded.error = ScanDecodeError.code, f"{type(exc).__name__}: {exc}"
    return loaded


def load(source: str, *, max_pixels: int | None) -> Loaded:
    """Fetch and decode one source; every failure is caught and kept on the result."""
    loaded, data = fetch(source)
    return decode(loaded, data, max_pixels=max_pixels)


def screen(
    loaded: Sequence[Loaded],
    *,
    engine: _Engine,
    policy: Policy,
    taxonomy: Taxonomy,
    annotate_dir: Path | None = None,
) -> list[dict[str, Any]]:
    """Rows (rows.ROW_SCHEMA) for a batch of loaded sources, in the same order."""
    base: dict[str, Any] = {"model": engine.ref, "policy_version": str(policy.version)}
    ok = [(item, item.scan) for item in loaded if item.scan is not None]
    results = {id(item): result for (item, _), result in zip(ok, screen_scans(engine, [scan for _, scan in ok], policy=policy))}
    rows = []
    for item in loaded:
        row: dict[str, Any] = {
            **base,
            "source": item.source,
            "sha256": item.sha256,
            "detections": [],
            "reasons": [],
            "error_code": item.error_code,
            "error": item.error,
        }
        result = results.get(id(item))
        if result is not None and item.scan is not None:  # screened, so decoded
            row["width"], row["height"] = item.scan.width, item.scan.height
        if result is not None and result.error is not None:
            row.update(error_code=INFERENCE_FAILED, error=f"{type(result.error).__name__}: {result.error}")
        elif result is not None and result.decision is not None:
            det, decision = result.detections, result.decision
            row.update(
                detections=det.to_records(taxonomy),
                max_score=float(det.scores.max()) if len(det) else None,
                decision=decision.verdict,
                reasons=[r.to_dict() for r in decision.reasons],
                policy_version=decision.policy_version,
            )
            if annotate_dir is not None and decision.verdict != CLEAR and item.sha256 and item.scan is not None:
                row["annotated"] = _save_annotated(item.scan, det, taxonomy, annotate_dir, item.sha256)
        rows.append(row)
    return rows


def _save_annotated(scan: Scan, det: Detections, taxonomy: Taxonomy, annotate_dir: Path, sha256: str) -> str:
    """Content-addressed PNG (identical scans share one file); returns its path relative to the run dir."""
    from xscreen.vision.draw import annotated_png

    annotate_dir.mkdir(parents=True, exist_ok=True)
    path = annotate_dir / f"{sha256}.png"
    if not path.exists():
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(annotated_png(scan.display_rgb(), det, taxonomy=taxonomy))
        tmp.replace(path)
    return f"{annotate_dir.name}/{path.name}"
