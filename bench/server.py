"""Benchmark the screening service: N concurrent stations on loopback for T seconds, with and without
micro-batching, against the raw engine's throughput on the same model.

1. Raw engine: `Engine.predict_scans` on already decoded scans, at batch 1 and at the service's
   `max_batch_size`, each from one thread and from `engine_instances` threads at once (`--instances`), in
   this process, nothing else running: the fastest of these is the ceiling each service run is rated against.
2. Service: `xscreen serve` in a subprocess (its own interpreter, so the load generator does not share its
   GIL), a fresh SQLite database and image store, access log off. N station tasks (httpx, asyncio) each
   send one scan after another (a unique scan_id each) for T seconds; every answer's status and latency
   is recorded. Bodies are the image bytes as read from disk (`--body raw`, metadata as query parameters:
   the client encodes nothing per request) or multipart. Runs alternate configurations: micro-batching
   (`max_batch_size` B, `max_queue_delay_ms` D) and none (`max_batch_size` 1); `--rounds` repeats the
   whole sequence, raw engine included, and the report gives medians and ranges.
3. CPU: the service process's user + system time (every thread, from /proc), the load generator's and the
   raw engine's, each per scan: on a shared host these hold still while scans/s moves with the others' load.

Scans are real SIXray JPEGs (mixed sizes, decoded by the service as a station's would be) when the shared
data is there, else synthetic PNGs. On a small shared CPU the load generator, the HTTP stack, decoding
and SQLite's fsync all take cores from inference, so the ratio is a floor for a dedicated host.

    nice -n 10 .venv/bin/python bench/server.py --stations 8 --seconds 20 --out docs/bench/server.md
Without `--models-dir` holding a model, a randomly initialised YOLO11n with the taxonomy's classes is
exported at `--imgsz` into a temporary registry (speed only: it detects nothing meaningful).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from engine import peak_rss_mb  # bench/engine.py, beside this script

REPO = Path(__file__).resolve().parent.parent
SIXRAY = REPO.parent / "shared" / "data" / "sixray-subset" / "val"
logger = logging.getLogger("bench.server")
METRICS_TOKEN = "bench"  # the service under test's metrics_token
RAW_HEADERS = {"Content-Type": "application/octet-stream"}


# ---- model and scans --------------------------------------------------------------------------------------


def random_model_registry(root: Path, imgsz: int) -> Path:
    """A registry holding `bench:1`, a randomly initialised YOLO11n exported to ONNX (speed only)."""
    from xscreen.training.offline import prepare_ultralytics

    prepare_ultralytics()
    from ultralytics import YOLO
    from ultralytics.nn.tasks import DetectionModel

    from xscreen.training.export import ExportOptions
    from xscreen.training.export import run as export_run
    from xscreen.training.registry import promote
    from xscreen.vision.taxonomy import load_taxonomy

    names = load_taxonomy().names
    model = YOLO("yolo11n.yaml")
    model.model = DetectionModel("yolo11n.yaml", nc=len(names), verbose=False)
    model.model.names = dict(enumerate(names))
    model.model.args = {"imgsz": imgsz}
    pt = root / "bench.pt"
    model.save(str(pt))
    models_dir = root / "models"
    export_run(ExportOptions(weights=pt, name="bench", version=1, models_dir=models_dir, imgsz=imgsz, check_parity=False))
    promote("bench:1", models_dir=models_dir)
    return models_dir


def load_scan_files(count: int) -> tuple[list[bytes], str]:
    if SIXRAY.is_dir():
        files = sorted(SIXRAY.glob("*.jpg"))[:count]
        if files:
            return [f.read_bytes() for f in files], f"{len(files)} real SIXray val JPEGs"
    import cv2

    rng = np.random.default_rng(0)
    out = []
    for _ in range(count):
        img = np.full((700, 1100, 3), 230, np.uint8)
        for _ in range(6):
            x, y = int(rng.integers(0, 1000)), int(rng.integers(0, 600))
            cv2.rectangle(img, (x, y), (x + 90, y + 60), tuple(int(c) for c in rng.integers(0, 255, 3)), -1)
        out.append(cv2.imencode(".png", img)[1].tobytes())
    return out, f"{count} synthetic 1100x700 PNGs"


# ---- raw engine --------------------------------------------------------------------------------------------


def raw_engine(models_dir: Path, model: str, scans_bytes: list[bytes], *, batch: int, seconds: float, threads: int,
               variant: str = "fp32", instances: int = 1) -> tuple[float, float]:
    """(scans per second, CPU ms per scan) through `Engine.predict_scans` alone (decoded beforehand), from
    `instances` threads at once on the one session, each call on `threads` onnxruntime threads."""
    from concurrent.futures import ThreadPoolExecutor

    from xscreen.vision.engine import Engine
    from xscreen.vision.io import read_scan

    engine = Engine.load(model, models_dir=models_dir, providers=["CPUExecutionProvider"], intra_op_threads=threads, variant=variant)
    scans = [read_scan(b, max_pixels=80_000_000) for b in scans_bytes]
    engine.predict_scans(scans[:batch])

    def loop(first: int) -> int:
        done, i = 0, first
        while time.perf_counter() < stop_at:
            engine.predict_scans([scans[(i + k) % len(scans)] for k in range(batch)])
            done += batch
            i += batch
        return done

    cpu = time.process_time()  # this process's CPU, every thread's (ONNX Runtime's included)
    started = time.perf_counter()
    stop_at = started + seconds
    with ThreadPoolExecutor(max_workers=instances) as pool:
        done = sum(pool.map(loop, [k * len(scans) // instances for k in range(instances)]))
    return done / (time.perf_counter() - started), (time.process_time() - cpu) / done * 1000


# ---- the service -------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Config:
    name: str
    max_batch_size: int
    max_queue_delay_ms: float
    instances: int = 0  # engine_instances (0: the service's auto choice)
    threads: int = 0  # intra_op_threads per instance (0: onnxruntime's choice)


@dataclass
class Result:
    config: Config
    seconds: float
    raw: float = float("nan")  # raw engine scans/s measured just before this run, at its best batch size and instances
    raw_cpu_ms: float = float("nan")  # the raw engine's CPU ms per scan there
    raw_best: str = ""  # which raw configuration that was
    service_cpu_s: float = float("nan")  # the service process's CPU (all its threads) during the timed run
    loadgen_cpu_s: float = float("nan")  # this process's CPU (the stations) during the timed run
    latencies: list[float] = field(default_factory=list)
    timings: dict[str, list[float]] = field(default_factory=dict)  # the service's own timings_ms per answer
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    batch_mean: float = float("nan")
    peak_rss_mb: float = float("nan")  # the service process's high-water resident memory (VmHWM) at the end

    @property
    def ok(self) -> int:
        return sum(n for s, n in self.statuses.items() if s in (200, 201))

    @property
    def rate(self) -> float:
        return self.ok / self.seconds

    def per_scan_ms(self, cpu_s: float) -> float:
        return cpu_s / self.ok * 1000 if self.ok else float("nan")

    def pct(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        return float(np.percentile(self.latencies, q) * 1000)


def start_service(
    workdir: Path, models_dir: Path, model: str, config: Config, variant: str = "fp32", extra_env: dict[str, str] | None = None
) -> tuple[subprocess.Popen, str, str]:
    """`xscreen serve` on a free loopback port with a fresh database and a station key; `extra_env` wins."""
    data_dir = workdir / f"data-{config.name}-{time.monotonic_ns()}"
    env = {
        **os.environ,
        "XSCREEN_DATA_DIR": str(data_dir),
        "XSCREEN_MODELS_DIR": str(models_dir),
        "XSCREEN_DEFAULT_MODEL": model,
        "XSCREEN_PROVIDERS": '["CPUExecutionProvider"]',
        "XSCREEN_INTRA_OP_THREADS": str(config.threads),
        "XSCREEN_ENGINE_INSTANCES": str(config.instances),
        "XSCREEN_MAX_BATCH_SIZE": str(config.max_batch_size),
        "XSCREEN_MAX_QUEUE_DELAY_MS": str(config.max_queue_delay_ms),
        "XSCREEN_MAX_QUEUE_SIZE": "1024",
        "XSCREEN_VARIANT": variant,
        "XSCREEN_METRICS_TOKEN": METRICS_TOKEN,
    }
    env.update(extra_env or {})
    from xscreen.serving.auth import create_key
    from xscreen.serving.store.db import open_database

    engine, sessions = open_database(f"sqlite:///{data_dir / 'xscreen.db'}")
    with sessions() as session:
        key, _ = create_key(session=session, station="bench")
    engine.dispose()
    port = free_port()
    xscreen = Path(sys.executable).parent / "xscreen"
    command = [str(xscreen)] if xscreen.exists() else [sys.executable, "-c", "from xscreen.cli import app; app()"]
    log = open(workdir / f"serve-{config.name}.log", "w")
    process = subprocess.Popen([*command, "serve", "--port", str(port), "--no-access-log"], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    import httpx

    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return process, url, key
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"service did not start; see {log.name}")
        time.sleep(0.2)


async def stations(url: str, key: str, scans: list[bytes], *, n: int, seconds: float, result: Result, body: str = "raw") -> None:
    """`n` stations, each sending one scan after another; `body` raw (the image as the body, metadata as query
    parameters: nothing to encode per request) or multipart (field `file`, metadata as form fields)."""
    import httpx

    stop_at = time.perf_counter() + seconds
    counter = iter(range(10**9))
    run_id = os.urandom(4).hex()  # scan ids unique across runs: a repeated id would be a replay, not a screening

    async def station(index: int, client: httpx.AsyncClient) -> None:
        while time.perf_counter() < stop_at:
            i = next(counter)
            data = scans[i % len(scans)]
            started = time.perf_counter()
            try:
                if body == "raw":
                    response = await client.post("/v1/scans", content=data, params={"scan_id": f"{run_id}-{index}-{i}"},
                                                 headers=RAW_HEADERS)
                else:
                    response = await client.post("/v1/scans", files={"file": ("scan.jpg", data, "application/octet-stream")},
                                                 data={"scan_id": f"{run_id}-{index}-{i}"})
                result.statuses[response.status_code] = result.statuses.get(response.status_code, 0) + 1
                if response.status_code in (200, 201):
                    result.latencies.append(time.perf_counter() - started)
                    for name, ms in response.json()["timings_ms"].items():
                        result.timings.setdefault(name, []).append(ms)
            except httpx.HTTPError:
                result.errors += 1

    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    async with httpx.AsyncClient(base_url=url, headers={"X-API-Key": key}, timeout=120, limits=limits) as client:
        started = time.perf_counter()
        await asyncio.gather(*(station(i, client) for i in range(n)))
        result.seconds = time.perf_counter() - started


def batch_mean(url: str) -> float:
    import httpx

    text = httpx.get(f"{url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).text
    values = {line.split()[0]: float(line.split()[1]) for line in text.splitlines() if line.startswith("xscreen_batch_size_")}
    count = values.get("xscreen_batch_size_count", 0.0)
    return values.get("xscreen_batch_size_sum", float("nan")) / count if count else float("nan")


def process_cpu_s(pid: int) -> float:
    """CPU seconds (user + system, every thread) a process has used so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_service(workdir: Path, models_dir: Path, model: str, config: Config, scans: list[bytes], *, n: int, seconds: float,
                variant: str = "fp32", body: str = "raw") -> Result:
    process, url, key = start_service(workdir, models_dir, model, config, variant)
    try:
        result = Result(config=config, seconds=seconds)
        asyncio.run(stations(url, key, scans[:8], n=n, seconds=1.5, result=Result(config=config, seconds=0), body=body))  # warm caches
        service_cpu, loadgen_cpu = process_cpu_s(process.pid), time.process_time()
        asyncio.run(stations(url, key, scans, n=n, seconds=seconds, result=result, body=body))
        result.service_cpu_s = process_cpu_s(process.pid) - service_cpu
        result.loadgen_cpu_s = time.process_time() - loadgen_cpu
        result.batch_mean = batch_mean(url)
        result.peak_rss_mb = peak_rss_mb(process.pid)
        return result
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()


# ---- report ------------------------------------------------------------------------------------------------


def _spread(values: list[float], fmt: str = ".1f") -> str:
    """Median, with the range over rounds when there is more than one."""
    med = format(statistics.median(values), fmt)
    return med if len(values) == 1 else f"{med} ({format(min(values), fmt)}-{format(max(values), fmt)})"


def report(args: argparse.Namespace, model_desc: str, scans_desc: str, raw: dict[tuple[int, int, int], list[tuple[float, float]]],
           results: list[Result]) -> str:
    by_config: dict[str, list[Result]] = {}
    for r in results:
        by_config.setdefault(r.config.name, []).append(r)
    lines = [
        "# Screening service throughput (`bench/server.py`)",
        "",
        f"Run {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')} on {platform.machine()} with {os.cpu_count()} CPU cores "
        f"(load average {os.getloadavg()[0]:.1f} at the end, this benchmark's own load included), no GPU, onnxruntime CPU provider; "
        f"niceness {os.nice(0)}. Model: {model_desc}. Scans: {scans_desc}. {args.stations} concurrent stations, "
        f"{args.seconds:.0f} s per run, {args.rounds} round(s) alternating the raw engine and every configuration, {args.body} request "
        "bodies; service and load generator on one loopback host. Medians over rounds, ranges in brackets.",
        "",
        "## Raw engine (the ceiling), measured before each service run",
        "",
        "| batch | instances x onnxruntime threads | scans/s, one value per service run | CPU ms per scan |",
        "| --- | --- | --- | --- |",
        *[f"| {b} | {n} x {t or 'auto'} | {', '.join(f'{v:.1f}' for v, _ in r)} | {_spread([c for _, c in r], '.0f')} |"
          for (b, n, t), r in sorted(raw.items())],
        "",
        "## Service",
        "",
        "| configuration | max_batch_size | max_queue_delay_ms | instances x threads | scans/s | best raw engine just before | ratio | "
        "mean batch | p50 ms | p99 ms | service CPU ms/scan | raw engine CPU ms/scan | load generator CPU ms/scan (share of a core) | "
        "service peak RSS MB | non-2xx | transport errors |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, rs in by_config.items():
        c = rs[0].config
        bad = sum(n for r in rs for s, n in r.statuses.items() if s not in (200, 201))
        loadgen = [r.per_scan_ms(r.loadgen_cpu_s) for r in rs]
        share = statistics.median(r.loadgen_cpu_s / r.seconds for r in rs)
        lines.append(
            f"| {name} | {c.max_batch_size} | {c.max_queue_delay_ms:g} | {c.instances} x {c.threads or 'auto'} | {_spread([r.rate for r in rs])} | "
            f"{_spread([r.raw for r in rs])} ({', '.join(sorted(set(r.raw_best for r in rs)))}) | "
            f"{_spread([r.rate / r.raw for r in rs], '.0%')} | {_spread([r.batch_mean for r in rs], '.2f')} | "
            f"{_spread([r.pct(50) for r in rs], '.0f')} | {_spread([r.pct(99) for r in rs], '.0f')} | "
            f"{_spread([r.per_scan_ms(r.service_cpu_s) for r in rs], '.0f')} | {_spread([r.raw_cpu_ms for r in rs], '.0f')} | "
            f"{_spread(loadgen, '.1f')} ({share:.0%}) | {_spread([r.peak_rss_mb for r in rs], '.0f')} | {bad} | {sum(r.errors for r in rs)} |"
        )
    lines += [
        "",
        "Where a scan's time goes, from the service's own `timings_ms` (means over every answer, ms; `inference` is the whole batch's):",
        "",
        "| configuration | receive | decode | queue | inference | store | total (server) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        *[
            f"| {name} | " + " | ".join(f"{statistics.fmean([v for r in rs for v in r.timings.get(k, [])] or [float('nan')]):.0f}"
                                        for k in ("receive", "decode", "queue", "inference", "store", "total")) + " |"
            for name, rs in by_config.items()
        ],
        "",
        "Every answered scan was decoded, screened, decided, and stored (image fsynced, SQLite WAL with `synchronous=FULL`) "
        "before its answer. The goal (issue 20) is at least 90% of the raw engine at saturation; each run's ratio is against "
        "the fastest raw configuration measured just before it (every batch size and instance count in the raw table). CPU per scan is the "
        "process's user + system time over the timed run divided by the scans answered (the service: every thread of "
        "`xscreen serve`; the raw engine: this process while it ran alone), so it does not move with other jobs' load "
        "the way scans/s does.",
        "",
        f"Command: `nice -n 10 .venv/bin/python bench/server.py {' '.join(sys.argv[1:])}`",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models-dir", type=Path, default=None, help="Registry holding --model (default: a random YOLO11n).")
    parser.add_argument("--model", default="default")
    parser.add_argument("--imgsz", type=int, default=320, help="Input size of the random model.")
    parser.add_argument("--stations", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--batch", type=int, default=8, help="max_batch_size with micro-batching.")
    parser.add_argument("--delays", default="5,20", help="max_queue_delay_ms values to try with micro-batching.")
    parser.add_argument("--instances", default="1,0", help="engine_instances values to run (0: the service's auto choice, "
                        "plan_instances); the raw engine runs each the same way.")
    parser.add_argument("--scans", type=int, default=64)
    parser.add_argument("--raw-seconds", type=float, default=8.0, help="Raw engine timing before each service run.")
    parser.add_argument("--variant", default="fp32", choices=["fp32", "int8"], help="Model file, for the service (settings.variant) and the raw engine.")
    parser.add_argument("--rounds", type=int, default=1, help="Repetitions of (raw engine, service) for every configuration, alternating.")
    parser.add_argument("--body", default="raw", choices=["raw", "multipart"], help="How stations send a scan (both are the API's).")
    parser.add_argument("--configs", default="all", help="Comma-separated subset of: none, or the delays (default: all).")
    parser.add_argument("--out", type=Path, default=None, help="Markdown report (default: print).")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)

    workdir = Path(tempfile.mkdtemp(prefix="xscreen-bench-server-"))
    try:
        if args.models_dir is None:
            logger.info("exporting a random YOLO11n at %d px", args.imgsz)
            models_dir, model = random_model_registry(workdir, args.imgsz), "default"
            model_desc = f"YOLO11n, random init, {args.imgsz} px, fp32 ONNX"
        else:
            models_dir, model = args.models_dir, args.model
            from xscreen.vision.registry import resolve_model

            found = resolve_model(model, models_dir=models_dir)
            model_desc = f"{found.ref} ({found.card.architecture}, {found.card.input.imgsz} px, {args.variant} ONNX)"
        scans, scans_desc = load_scan_files(args.scans)
        from xscreen.vision.engine import plan_instances

        plans = sorted({plan_instances(int(n), 0, providers=["CPUExecutionProvider"]) for n in args.instances.split(",")})
        shapes = [("no batching", 1, 0.0)] + [(f"micro-batching {d} ms", args.batch, float(d)) for d in args.delays.split(",")]
        if args.configs != "all":
            wanted = set(args.configs.split(","))
            shapes = [c for c in shapes if ("none" if c[1] == 1 else f"{c[2]:g}") in wanted]
        # One instance keeps onnxruntime's own thread choice, as the service did before instances existed.
        configs = [Config(f"{name}, {n} instance(s)", b, d, n, t if n > 1 else 0) for n, t in plans for name, b, d in shapes]
        batches = sorted({1, *(c.max_batch_size for c in configs)})
        raw: dict[tuple[int, int, int], list[tuple[float, float]]] = {(b, c.instances, c.threads): [] for b in batches for c in configs}
        results = []
        # The machine's load comes and goes: measure the ceiling right before each service run, and compare
        # each run with its own ceiling; rounds repeat the whole sequence.
        for _ in range(args.rounds):
            for config in configs:
                for (b, n, t), values in raw.items():
                    values.append(raw_engine(models_dir, model, scans, batch=b, seconds=args.raw_seconds, threads=t, variant=args.variant, instances=n))
                    logger.info("raw engine batch %d, %d x %s threads: %.1f scans/s, %.0f CPU ms a scan", b, n, t or "auto", *values[-1])
                result = run_service(workdir, models_dir, model, config, scans, n=args.stations, seconds=args.seconds, variant=args.variant,
                                     body=args.body)
                best = max(raw, key=lambda k: raw[k][-1][0])
                result.raw, result.raw_cpu_ms = raw[best][-1]
                result.raw_best = f"batch {best[0]}, {best[1]} x {best[2] or 'auto'}"
                logger.info("%s: %.1f scans/s (%.0f%% of raw), p50 %.0f ms, p99 %.0f ms, mean batch %.2f, statuses %s; CPU ms a scan: service %.0f, "
                            "raw %.0f, load generator %.1f (%.0f%% of a core)", config.name, result.rate, 100 * result.rate / result.raw,
                            result.pct(50), result.pct(99), result.batch_mean, result.statuses, result.per_scan_ms(result.service_cpu_s),
                            result.raw_cpu_ms, result.per_scan_ms(result.loadgen_cpu_s), 100 * result.loadgen_cpu_s / result.seconds)
                results.append(result)
        text = report(args, model_desc, scans_desc, raw, results)
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(text)
            logger.info("wrote %s", args.out)
        else:
            print(text)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
