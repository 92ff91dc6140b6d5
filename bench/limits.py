"""Measure the service's limits under abuse (issue 19.1-19.3), on the default settings unless told otherwise:

1. connections: N connections that never finish their headers (`GET /healthz HTTP/1.1\\r\\nHost: x\\r\\n`):
   how many the server still holds over time, when it has closed them all, and `/healthz` latency meanwhile.
2. bombs: eight 8944 x 8944 solid PNGs (about 250 KB each, 240 MB decoded) sent at once, as in the issue:
   the server process's RSS before, at its peak (sampled every 10 ms) and 5 s after the burst, and the
   statuses. Run with the default `max_scan_bytes_in_flight` and with it raised out of the way.
3. overload: C clients sending real scans back to back for T seconds against the default queue and
   admission limits: latency of the 429s (p50, p95) and of the 201s, and the count of each.

`xscreen serve` runs in a subprocess (its own interpreter), the load generator here.

    nice -n 10 .venv/bin/python bench/limits.py --out docs/bench/limits.md
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import select
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.server import Config, load_scan_files, start_service  # noqa: E402  (bench/ is not a package on the path)
from xscreen.settings import Settings  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
logger = logging.getLogger("bench.limits")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q) * 1000) if values else float("nan")


# ---- 1. connections ----------------------------------------------------------------------------------------


def connections(url: str, n: int) -> dict[str, float]:
    import httpx

    host, port = url.removeprefix("http://").split(":")
    socks = []
    opened_at = time.monotonic()
    for _ in range(n):
        sock = socket.create_connection((host, int(port)), timeout=30)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        sock.setblocking(False)
        socks.append(sock)
    opened_s = time.monotonic() - opened_at
    health: list[float] = []
    closed_at: dict[int, float] = {}
    held_at_5s = -1
    while len(closed_at) < n and time.monotonic() - opened_at < 60:
        started = time.perf_counter()
        ok = httpx.get(f"{url}/healthz", timeout=10).status_code == 200
        health.append(time.perf_counter() - started if ok else float("inf"))
        for i, sock in enumerate(socks):
            if i in closed_at:
                continue
            try:
                if sock.recv(4096) == b"":
                    closed_at[i] = time.monotonic() - opened_at
            except BlockingIOError:
                pass
            except OSError:
                closed_at[i] = time.monotonic() - opened_at
        if held_at_5s < 0 and time.monotonic() - opened_at >= 5:
            held_at_5s = n - len(closed_at)
        time.sleep(0.1)
    for sock in socks:
        sock.close()
    return {
        "n": n, "opened_s": opened_s, "held_at_5s": held_at_5s, "closed": len(closed_at),
        "last_closed_s": max(closed_at.values(), default=float("nan")),
        "healthz_p50_ms": pct(health, 50), "healthz_max_ms": max(health) * 1000,
    }


# ---- 2. bombs ----------------------------------------------------------------------------------------------


def solid_png(side: int) -> bytes:
    import cv2

    ok, buf = cv2.imencode(".png", np.full((side, side, 3), (30, 30, 200), np.uint8), [cv2.IMWRITE_PNG_COMPRESSION, 9])
    assert ok
    return buf.tobytes()


def bombs(url: str, key: str, pid: int, data: bytes, count: int) -> dict[str, object]:
    import httpx

    before = rss_mb(pid)
    samples: list[float] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            samples.append(rss_mb(pid))
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    statuses: list[int] = []

    def send(i: int) -> None:
        with httpx.Client(base_url=url, headers={"X-API-Key": key}, timeout=300) as client:
            response = client.post("/v1/scans", files={"file": ("bomb.png", data + bytes([i]), "application/octet-stream")}, data={"scan_id": f"bomb-{i}-{time.monotonic_ns()}"})
            statuses.append(response.status_code)

    started = time.perf_counter()
    senders = [threading.Thread(target=send, args=(i,)) for i in range(count)]
    for t in senders:
        t.start()
    for t in senders:
        t.join()
    seconds = time.perf_counter() - started
    time.sleep(5)  # idle after the burst: what stays held
    done.set()
    sampler.join()
    return {"before": before, "peak": max(samples), "after": rss_mb(pid), "seconds": seconds,
            "statuses": {s: statuses.count(s) for s in sorted(set(statuses))}}


# ---- 3. overload -------------------------------------------------------------------------------------------


async def overload(url: str, key: str, scans: list[bytes], *, clients: int, seconds: float) -> dict[str, object]:
    import httpx

    latencies: dict[int, list[float]] = {}
    refusals: dict[str, int] = {}  # 429s by the limit that refused them
    health: list[float] = []
    errors = 0
    stop_at = time.perf_counter() + seconds
    run_id = os.urandom(4).hex()

    async def client_loop(index: int, client: httpx.AsyncClient) -> None:
        nonlocal errors
        i = 0
        while time.perf_counter() < stop_at:
            i += 1
            started = time.perf_counter()
            try:
                response = await client.post("/v1/scans", files={"file": ("scan.jpg", scans[(index + i) % len(scans)], "application/octet-stream")},
                                             data={"scan_id": f"{run_id}-{index}-{i}"})
                latencies.setdefault(response.status_code, []).append(time.perf_counter() - started)
                if response.status_code == 429:
                    message = response.json()["error"]["message"]
                    kind = next((k for k in ("max_scans_in_flight", "max_scan_bytes_in_flight", "engine queue is full", "already waiting") if k in message), message)
                    refusals[kind] = refusals.get(kind, 0) + 1
            except httpx.HTTPError:
                errors += 1

    async def probe(client: httpx.AsyncClient) -> None:
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            await client.get("/healthz")
            health.append(time.perf_counter() - started)
            await asyncio.sleep(0.2)

    headers_only: list[tuple[int, float]] = []  # (status, seconds to the status line) of uploads that send no body

    def probe_once(host: str, port: int, head: bytes, body: bytes) -> None:
        with socket.create_connection((host, port), timeout=120) as sock:
            started = time.perf_counter()
            sock.sendall(head)
            if select.select([sock], [], [], 2.0)[0]:
                line = sock.recv(64)
                headers_only.append((int(line.split(b" ", 2)[1]) if line else 0, time.perf_counter() - started))
            else:
                sock.sendall(body)
                sock.recv(64)
                headers_only.append((-1, time.perf_counter() - started))  # admitted: answered after its body

    def probe_headers() -> None:
        # Threads of their own, not the load generator's event loop: the server's time to refuse from the headers
        # alone, once the load has built up (3 s). An upload admitted instead (no answer within 2 s) sends its body.
        host, port = url.removeprefix("http://").split(":")
        head = f"POST /v1/scans HTTP/1.1\r\nHost: x\r\nX-API-Key: {key}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(scans[0])}\r\n\r\n".encode()
        time.sleep(3.0)
        probes = []
        while time.perf_counter() < stop_at:
            probes.append(threading.Thread(target=probe_once, args=(host, int(port), head, scans[0]), daemon=True))
            probes[-1].start()
            time.sleep(0.2)
        for probe_thread in probes:
            probe_thread.join()

    prober_thread = threading.Thread(target=probe_headers, daemon=True)
    prober_thread.start()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, headers={"X-API-Key": key}, timeout=120, limits=limits) as client:
        async with httpx.AsyncClient(base_url=url, timeout=120) as prober:
            await asyncio.gather(probe(prober), *(client_loop(i, client) for i in range(clients)))
    prober_thread.join()
    return {"latencies": latencies, "refusals": refusals, "health": health, "headers_only": headers_only, "errors": errors, "seconds": seconds}


# ---- main --------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models-dir", type=Path, default=REPO / "models")
    parser.add_argument("--model", default="default")
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--bomb-side", type=int, default=8944)
    parser.add_argument("--bombs", type=int, default=8)
    parser.add_argument("--budgets-gib", type=float, nargs="+", default=[2.0, 1.0, 64.0], help="max_scan_bytes_in_flight values for the bombs.")
    parser.add_argument("--clients", type=int, default=128)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--only", choices=["connections", "bombs", "overload"], nargs="+", default=["connections", "bombs", "overload"])
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    workdir = Path(tempfile.mkdtemp(prefix="xscreen-bench-limits-"))
    defaults = Config("defaults", 8, 20.0)
    default_env = {"XSCREEN_MAX_QUEUE_SIZE": "64"}  # bench/server.py raises it; here the default holds
    lines = [
        "# Service limits under abuse (`bench/limits.py`)",
        "",
        f"Run {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')} on {platform.machine()} with {os.cpu_count()} CPU cores shared "
        f"with other work (load average {os.getloadavg()[0]:.1f} at the start), no GPU; model `{args.model}` from `{args.models_dir.name}/`; "
        "default settings except where a row says otherwise; service and load generator on one loopback host.",
        "",
    ]

    if "connections" in args.only:
        logger.info("connections: %d half-open", args.connections)
        process, url, key = start_service(workdir, args.models_dir, args.model, defaults, extra_env={**default_env, "XSCREEN_LIMIT_CONCURRENCY": "10000"})
        try:
            c = connections(url, args.connections)
        finally:
            stop(process)
        lines += [
            "## Connections that never finish their headers",
            "",
            "| connections | held 5 s after opening | closed by the server | last closed after | /healthz p50 meanwhile | /healthz max |",
            "| --- | --- | --- | --- | --- | --- |",
            f"| {c['n']} | {c['held_at_5s']} | {c['closed']} | {c['last_closed_s']:.1f} s | {c['healthz_p50_ms']:.1f} ms | {c['healthz_max_ms']:.0f} ms |",
            "",
            f"`header_timeout_s` 10 (default), `limit_concurrency` raised to 10000 so that all {c['n']} are accepted (at the default 1000, "
            "connections beyond it get 503 at once).",
            "",
        ]

    if "bombs" in args.only:
        data = solid_png(args.bomb_side)
        lines += ["## Decompression bombs inside the upload limit", "",
                  f"{args.bombs} solid {args.bomb_side} x {args.bomb_side} PNGs of {len(data) / 1000:.0f} KB each "
                  f"({args.bomb_side**2 * 3 / 1e6:.0f} MB decoded each), sent at once.", "",
                  "`max_scan_decoded_bytes` is half the budget, at most 1 GiB.", "",
                  "| max_scan_bytes_in_flight | RSS before | RSS peak | RSS 5 s after | statuses | seconds |", "| --- | --- | --- | --- | --- | --- |"]
        for gib in args.budgets_gib:
            label = f"{gib:g} GiB" + (" (default)" if gib * 1024**3 == Settings.model_fields["max_scan_bytes_in_flight"].default else "")
            env = {"XSCREEN_MAX_SCAN_BYTES_IN_FLIGHT": str(int(gib * 1024**3)), "XSCREEN_MAX_SCAN_DECODED_BYTES": str(min(int(gib * 1024**3) // 2, 1024**3))}
            logger.info("bombs: %s", label)
            process, url, key = start_service(workdir, args.models_dir, args.model, defaults, extra_env={**default_env, **env})
            try:
                b = bombs(url, key, process.pid, data, args.bombs)
            finally:
                stop(process)
            statuses = ", ".join(f"{n} x {s}" for s, n in b["statuses"].items())  # type: ignore[attr-defined]
            lines.append(f"| {label} | {b['before']:.0f} MB | {b['peak']:.0f} MB | {b['after']:.0f} MB | {statuses} | {b['seconds']:.1f} |")
        lines.append("")

    if "overload" in args.only:
        scans, scans_desc = load_scan_files(64)
        logger.info("overload: %d clients for %.0f s", args.clients, args.seconds)
        process, url, key = start_service(workdir, args.models_dir, args.model, defaults, extra_env=default_env)
        try:
            o = asyncio.run(overload(url, key, scans, clients=args.clients, seconds=args.seconds))
        finally:
            stop(process)
        lat: dict[int, list[float]] = o["latencies"]  # type: ignore[assignment]
        lines += [
            "## Overload",
            "",
            f"{args.clients} clients sending {scans_desc} back to back for {args.seconds:.0f} s (`max_queue_size` 64, so `max_scans_in_flight` 64).",
            "",
            "| status | count | p50 | p95 | max |",
            "| --- | --- | --- | --- | --- |",
            *[f"| {s} | {len(v)} | {pct(v, 50):.0f} ms | {pct(v, 95):.0f} ms | {max(v) * 1000:.0f} ms |" for s, v in sorted(lat.items())],
            "",
            "Uploads that send their headers and wait, one every 0.2 s from 3 s on, each from a thread of its own (the server's time to refuse, "
            "without the load generator's event loop in the measurement):",
            "",
            "| status | count | p50 | p95 | max |",
            "| --- | --- | --- | --- | --- |",
            *[f"| {'admitted, body sent after 2 s' if st == -1 else st} | {len(v)} | {pct(v, 50):.1f} ms | {pct(v, 95):.1f} ms | {max(v) * 1000:.1f} ms |"
              for st, v in sorted({st: [t for s2, t in o["headers_only"] if s2 == st] for st, _ in o["headers_only"]}.items())],  # type: ignore[attr-defined]
            "",
            f"429s by the limit that refused them: {', '.join(f'{k} {n}' for k, n in sorted(o['refusals'].items()))}. "  # type: ignore[attr-defined]
            f"`/healthz` from a separate client every 0.2 s meanwhile: p50 {pct(o['health'], 50):.0f} ms, p95 {pct(o['health'], 95):.0f} ms. "  # type: ignore[arg-type]
            f"Transport errors: {o['errors']}. Scans answered 201 per second: {len(lat.get(201, [])) / args.seconds:.1f}; "
            f"mean 201 latency {statistics.fmean(lat.get(201, [float('nan')])) * 1000:.0f} ms.",
            "",
        ]
    lines += [
        f"Command: `nice -n 10 .venv/bin/python bench/limits.py {' '.join(sys.argv[1:])}`",
        "",
    ]
    text = "\n".join(lines)
    if args.out:
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
