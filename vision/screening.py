"""One screening path: a scan -> the model's detections -> the policy's decision.

The service (`serving/api`), batch re-screening (`serving/batch/screening.py`), `xscreen predict` and
`xscreen evaluate` all go through here, so none of them decodes, converts or calls the engine its own way:
- `read_scan_file` (or `vision.io.read_scan` on bytes that came another way): the kind is detected from the
  pixels, so a gray PNG is kind `gray` wherever it is read;
- `screen`: one engine call per batch (`Engine.predict_scans`, which applies the card's conversion from the
  scan's kind to the model's input), retried scan by scan when it fails so one bad scan fails alone, then the
  decision when a policy is given.

Why this lives in `vision`: evaluation (`training`) must run exactly what stations run, and `training` may
not import `serving`. The decision is a pure function of `Detections` and the taxonomy, so the policy sits
beside them in `vision/policy.py` (no web framework) instead of reaching this module as a callback: `predict`
can then show a station's verdict as well.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, Sequence

from xscreen.errors import ScanUnreadable
from xscreen.vision.detections import Detections
from xscreen.vision.io import read_scan
from xscreen.vision.policy import Decision, Policy
from xscreen.vision.scan import Scan

logger = logging.getLogger(__name__)


class ScreeningEngine(Protocol):
    """What `screen` needs of `xscreen.vision.engine.Engine` (tests pass small fakes)."""

    def predict_scans(self, scans: Sequence[Scan]) -> list[Detections]: ...


@dataclass(frozen=True)
class Screening:
    """One scan's outcome: its detections and decision, or the engine error that stopped it (alone)."""

    detections: Detections
    decision: Decision | None = None  # None without a policy (evaluation scores every box itself)
    error: Exception | None = None


def read_scan_file(path: Path, *, max_pixels: int | None = None) -> Scan:
    """A scan file from disk through the stations' decoder; a file that cannot be read is `ScanUnreadable`."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ScanUnreadable(f"{path}: {exc.strerror or exc}") from exc
    return read_scan(data, filename=Path(path).name, max_pixels=max_pixels)


def _run(engine: Any, scans: Sequence[Scan], pixel_pitch_mm: float | None, tile: bool) -> list[Detections]:
    if tile:
        return [engine.predict_tiled(engine.model_image(scan)) for scan in scans]
    if pixel_pitch_mm is not None:
        return list(engine.predict_scans(scans, pixel_pitch_mm=pixel_pitch_mm))
    return list(engine.predict_scans(scans))


def detect(engine: ScreeningEngine, scans: Sequence[Scan], *, pixel_pitch_mm: float | None = None, tile: bool = False) -> list[Detections | Exception]:
    """One engine call for the batch; if it fails, each scan alone, so one pathological scan fails by itself."""
    if not scans:
        return []
    try:
        return list(_run(engine, scans, pixel_pitch_mm, tile))
    except Exception as exc:  # noqa: BLE001 - kept per scan below
        if len(scans) == 1:
            logger.warning("engine failed on scan %s", scans[0].source, exc_info=True)
            return [exc]
        logger.warning("engine failed on a batch of %d; running its scans one by one", len(scans), exc_info=True)
    out: list[Detections | Exception] = []
    for scan in scans:
        try:
            out.append(_run(engine, [scan], pixel_pitch_mm, tile)[0])
        except Exception as exc:  # noqa: BLE001 - reported for this scan only
            logger.warning("engine failed on scan %s: %s", scan.source, exc)
            out.append(exc)
    return out


def screen(
    engine: ScreeningEngine,
    scans: Sequence[Scan],
    *,
    policy: Policy | None = None,
    pixel_pitch_mm: float | None = None,
    tile: bool = False,
) -> list[Screening]:
    """Scans -> one `Screening` each, in order: detections through the engine, then `policy.decide` (detections
    and the policy's image rules)."""
    out = []
    for scan, result in zip(scans, detect(engine, scans, pixel_pitch_mm=pixel_pitch_mm, tile=tile), strict=True):
        if isinstance(result, Exception):
            out.append(Screening(Detections.empty(), error=result))
        else:
            out.append(Screening(result, policy.decide(result, scan) if policy is not None else None))
    return out
