"""Everything one running service instance holds, built by the app's lifespan and reached through deps."""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import Engine as DBEngine
from sqlalchemy.orm import Session, sessionmaker

from xscreen.serving.admission import Admission
from xscreen.serving.batcher import MicroBatcher
from xscreen.serving.metrics import ServiceMetrics
from xscreen.serving.store.db import open_database, ping
from xscreen.serving.store.images import ImageStore
from xscreen.serving.store.records import CaseRecord, ScanRecord, utcnow
from xscreen.serving.viewer import ScanCache
from xscreen.serving.webhooks import DeliveryWorker, enqueue
from xscreen.settings import Settings
from xscreen.vision.policy import Policy, load_policy
from xscreen.vision.scan import Scan
from xscreen.vision.screening import Screening, ScreeningEngine, screen
from xscreen.vision.taxonomy import Taxonomy, load_taxonomy

if TYPE_CHECKING:  # imported where the model loads (open_service), so importing this module loads no onnxruntime
    from xscreen.vision.engine import Engine

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Inference:
    """One scan's screening (detections, decision or error) and the batch it rode in (for the response's timings)."""

    screening: Screening
    batch_size: int
    batch_started: float  # time.perf_counter()
    batch_seconds: float  # the whole batch, retries of a failed batch included


@dataclass
class Service:
    settings: Settings
    taxonomy: Taxonomy
    policy: Policy
    engine: Engine
    batcher: MicroBatcher[Scan, Inference]
    db: DBEngine
    sessions: sessionmaker[Session]
    images: ImageStore
    metrics: ServiceMetrics
    deliveries: DeliveryWorker
    admission: Admission
    scan_cache: ScanCache = field(default_factory=lambda: ScanCache(0))  # decoded scans for the workstation's views
    warmed_up: bool = False

    def open_case(self, session: Session, scan: ScanRecord, categories: list[str]) -> str:
        """For `save_scan`'s `within` on a hold that opens a case: the case (or the attachment to its parcel's
        open case) and the outbox rows of its notification, in the scan's transaction. Returns the event."""
        from xscreen.serving.store.cases import open_or_attach

        case, event = open_or_attach(session=session, scan=scan, categories=categories, now=scan.received_at)
        self.notify(session, case, event, scan_id=scan.id)
        return event

    def committed(self, events: list[str]) -> None:
        """After the commit that wrote case events: count them and let the delivery worker send at once."""
        for event in events:
            self.metrics.cases.labels(event=event.removeprefix("case.")).inc()
        if events:
            self.deliveries.wake()

    def notify(self, session: Session, case: CaseRecord, event: str, *, scan_id: str | None = None) -> None:
        """Outbox rows for `event` on `case`, in the caller's transaction; the payload is the case as the API shows it."""
        from xscreen.serving.api.convert import case_out

        payload = {"case": case_out(case, self.taxonomy, self.settings.public_url or "").model_dump(mode="json"), "scan_id": scan_id}
        enqueue(session=session, receivers=self.settings.receivers, event=event, case_id=case.id, payload=payload, now=utcnow())

    def ready(self) -> tuple[bool, dict[str, bool]]:
        checks = {"model": self.warmed_up, "batcher": self.batcher.running, "database": ping(self.db), "disk": self.disk_has_room()}
        return all(checks.values()), checks

    def local_storage(self) -> list[Path]:
        """Local folders the service writes scans into: the SQLite file's and the image store's (not PostgreSQL or object stores)."""
        out = []
        if self.db.dialect.name == "sqlite" and self.db.url.database not in (None, "", ":memory:"):
            out.append(Path(self.db.url.database).expanduser().parent)
        if self.images.local:
            out.append(Path(self.images.root))
        return out

    def disk_has_room(self) -> bool:
        minimum = self.settings.min_free_disk_bytes
        if minimum == 0:
            return True
        try:
            return all([disk_free_bytes(path) >= minimum for path in self.local_storage()])
        except OSError:  # the folder vanished or its mount went away: not a place to store scans in
            return False


def disk_free_bytes(path: Path) -> int:
    """Free bytes an unprivileged writer may use on the file system holding `path` (the /readyz probe)."""
    return shutil.disk_usage(path).free


def run_engine(engine: ScreeningEngine, scans: list[Scan], policy: Policy | None = None) -> list[Inference]:
    """The batcher's `run_batch`: the one screening path (`vision.screening.screen`) for the whole batch, timed."""
    started = time.perf_counter()
    screenings = screen(engine, scans, policy=policy)
    seconds = time.perf_counter() - started
    return [Inference(s, len(scans), started, seconds) for s in screenings]


def open_service(settings: Settings, metrics: ServiceMetrics) -> Service:
    """Open database and image store, read policy, load and check the model (blocking: call off the loop)."""
    from xscreen.vision.engine import Engine, plan_instances

    taxonomy = load_taxonomy()
    policy = load_policy(settings.policy_file, taxonomy=taxonomy)
    db, sessions = open_database(settings.effective_database_url)
    try:
        images = ImageStore(settings.effective_scan_store_url)
        instances, threads = plan_instances(settings.engine_instances, settings.intra_op_threads, providers=settings.providers)
        # The engine maps the card's classes onto taxonomy ids by name and refuses unknown ones.
        engine = Engine.load(
            settings.default_model,
            models_dir=settings.models_dir,
            providers=settings.providers,
            variant=settings.variant,
            intra_op_threads=threads,
            trt_cache_dir=settings.effective_trt_cache_dir,
            max_batch_size=settings.max_batch_size,
            warmup=False,  # warm_up() below runs the whole scan path, then every batch size
        )
    except BaseException:
        db.dispose()
        raise
    batcher: MicroBatcher[Scan, Inference] = MicroBatcher(
        lambda scans: run_engine(engine, scans, policy),
        max_batch_size=min(settings.max_batch_size, engine.max_batch_size),
        max_queue_delay_ms=settings.max_queue_delay_ms,
        max_queue_size=settings.max_queue_size,
        on_batch=metrics.observe_batch,
        name="engine",
        instances=instances,
    )
    admission = Admission(
        # Admit no more than the queue holds, so an admitted scan is never refused after its body was read and
        # decoded (with 80 admitted for 64 places, 429s were found at submit; the running batch may be of one).
        max_scans_in_flight=settings.max_scans_in_flight or batcher.max_queue_size,
        max_bytes_in_flight=settings.max_scan_bytes_in_flight,
        queue_full=lambda: batcher.queue_depth >= batcher.max_queue_size,
    )
    metrics.set_model(name=engine.name, version=engine.version, policy_version=policy.version)
    metrics.track_queue(lambda: batcher.queue_depth)
    metrics.track_admission(scans=lambda: admission.scans_in_flight, nbytes=lambda: admission.budget.in_use)
    logger.info(
        "serving model %s:%s (%s, %d instance(s) of %s thread(s)) with policy %s; database %s; images %s",
        engine.name, engine.version, engine.variant, instances, threads or "onnxruntime's choice of", policy.version, db.url.render_as_string(hide_password=True), images.url,
    )
    deliveries = DeliveryWorker.from_settings(settings, sessions=sessions, metrics=metrics)
    return Service(settings, taxonomy, policy, engine, batcher, db, sessions, images, metrics, deliveries, admission, scan_cache=ScanCache(settings.viewer_cache_bytes))


def warm_up(service: Service) -> None:
    """One inference before reporting ready (Triton's warm-up): the first real scan pays no start-up cost."""
    size = service.engine.card.input.imgsz
    service.engine.predict_scans([Scan(np.full((size, size, 3), 114, np.uint8), "colour", source="warm-up")])
    sizes = service.engine.warmup(service.batcher.max_batch_size)  # on a GPU every batch size: no engine build while serving
    logger.info("warm-up done (batch sizes %s)", ", ".join(map(str, sizes)))
    service.warmed_up = True
