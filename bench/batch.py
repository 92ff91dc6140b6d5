"""Batch re-screening throughput: the local engine and Ray local mode against the raw engine.

    nice -n 10 python bench/batch.py --files 200 --out docs/bench/batch.md
    nice -n 10 python bench/batch.py --models-dir models --model default --files 500 --ray

All modes run the same model on the same files (real SIXray and OPIXray scans from /work/shared/data):
- `raw, pixels in memory`: `engine.predict_scans` on scans decoded beforehand; the inference ceiling.
- `raw, read+decode+infer loop`: a thread reading, decoding and inferring in turn, as a plain script would (with
  N instances, N such threads on their shares of the batches, one engine session).
- `local engine`: `xscreen batch` (decode threads, policy, Parquet parts, manifest), screening time only.
- `ray local mode`: the same run on Ray Data in this machine, Ray already started.
Without --models-dir a throw-away YOLO11n is trained for one epoch at --imgsz and exported: inference cost
does not depend on what the weights learned. Goal: local engine >= 90% of the raw engine.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from xscreen.checkout import SHARED_DATA

SHARED = SHARED_DATA
CPU = ["CPUExecutionProvider"]


def bench_model(root: Path, imgsz: int) -> tuple[Path, str]:
    from tests.factories import build_tiny_model

    return build_tiny_model(root, epochs=1, imgsz=imgsz), "tiny:1"


def pick_files(n: int, which: str) -> list[Path]:
    folder = {"opixray": SHARED / "opixray-roboflow-subset" / "images", "sixray": SHARED / "sixray-subset" / "train"}[which]
    return sorted(folder.glob("*.jpg"))[:n]


def raw_rates(files: list[Path], *, models_dir: Path, model: str, batch_size: int, intra_op_threads: int,
              variant: str = "fp32", instances: int = 1) -> dict[str, tuple[float, float]]:
    """{mode: (scans/s, CPU ms per scan)} of the two raw modes, each from `instances` threads at once on one session."""
    from concurrent.futures import ThreadPoolExecutor

    from xscreen.vision.engine import Engine
    from xscreen.vision.io import read_scan

    engine = Engine.load(model, models_dir=models_dir, providers=CPU, intra_op_threads=intra_op_threads, variant=variant)
    starts = range(0, len(files), batch_size)

    def timed(work: object) -> tuple[float, float]:
        started, cpu = time.perf_counter(), time.process_time()
        with ThreadPoolExecutor(max_workers=instances) as pool:
            list(pool.map(work, starts))  # type: ignore[arg-type]
        return len(files) / (time.perf_counter() - started), (time.process_time() - cpu) / len(files) * 1000

    loop = timed(lambda i: engine.predict_scans([read_scan(f.read_bytes()) for f in files[i : i + batch_size]]))
    scans = [read_scan(f.read_bytes()) for f in files]
    memory = timed(lambda i: engine.predict_scans(scans[i : i + batch_size]))
    threads = f"{instances} x {intra_op_threads} ORT thread(s)" if intra_op_threads else f"{instances} x ORT default threads"
    return {f"raw, pixels in memory, {threads}": memory, f"raw, read+decode+infer loop, {threads}": loop}


def pipeline_rate(files: list[Path], *, engine: str, models_dir: Path, model: str, batch_size: int, workers: int, tmp: Path,
                  variant: str = "fp32") -> tuple[float, float, float | None]:
    """(scans/s, CPU ms per scan, engine thread's screening share) of one `xscreen batch` run."""
    from xscreen.resources import DEFAULT_POLICY_FILE
    from xscreen.serving.batch.run import BatchOptions, run

    listing = tmp / f"files-{engine}-{len(files)}.txt"
    listing.write_text("".join(f"{f}\n" for f in files))
    out = tmp / f"run-{engine}-{time.monotonic_ns()}"
    summary = run(BatchOptions(src=str(listing), out=out, models_dir=models_dir, model=model, engine=engine,  # type: ignore[arg-type]
                               policy_file=DEFAULT_POLICY_FILE, providers=CPU, batch_size=batch_size,
                               workers=workers, report=False, variant=variant))  # type: ignore[arg-type]
    return summary.scans_per_s, summary.cpu_seconds / summary.screened * 1000, summary.screening_share


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models-dir", type=Path)
    parser.add_argument("--model", default="default")
    parser.add_argument("--imgsz", type=int, default=320, help="input size of the throw-away model (without --models-dir)")
    parser.add_argument("--files", type=int, default=200, help="scans per set")
    parser.add_argument("--sets", nargs="+", default=["opixray", "sixray"], choices=["opixray", "sixray"])
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--workers", type=int, default=0, help="decode threads of the local engine (0: CPU count - 1)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved repetitions; medians reported")
    parser.add_argument("--ray", action="store_true", help="also measure Ray local mode")
    parser.add_argument("--variant", default="fp32", choices=["fp32", "int8"], help="model file (batch --variant)")
    parser.add_argument("--out", type=Path, help="write a Markdown table here")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="xscreen-bench-batch-"))
    models_dir, model = (args.models_dir, args.model) if args.models_dir else bench_model(tmp / "model", args.imgsz)
    from xscreen.vision.registry import resolve_model

    card = resolve_model(model, models_dir=models_dir).card
    if args.ray:
        import ray

        started = time.perf_counter()
        ray.init(include_dashboard=False, logging_level="WARNING", log_to_driver=False)
        ray_start = time.perf_counter() - started
    from xscreen.serving.batch.run import BatchOptions, default_workers, engine_threads

    workers = args.workers or default_workers()
    instances, threads = engine_threads(BatchOptions(src="", out=tmp, models_dir=models_dir, policy_file=tmp, providers=CPU))
    raw_configs = sorted({(1, 0), (instances, threads)})  # onnxruntime's own threading, and the local engine's
    results: list[tuple[str, str, float, float]] = []
    shares: dict[str, list[float]] = {}
    per_round: list[str] = []
    paired: dict[tuple[str, str], list[float]] = {}  # (set, mode) -> per-round rates
    cpus: dict[tuple[str, str], list[float]] = {}
    for which in args.sets:
        files = pick_files(args.files, which)
        samples: dict[str, list[float]] = {}
        cpu_ms: dict[str, list[float]] = {}
        # Rounds interleave the modes, so a change in the machine's load hits every mode alike; medians reported.
        # Odd rounds run the local engine first, so neither side always follows the other.
        for round_no in range(args.rounds):
            def raw_side() -> None:
                for n, t in raw_configs:
                    for mode, (rate, ms) in raw_rates(files, models_dir=models_dir, model=model, batch_size=args.batch_size,
                                                      intra_op_threads=t, variant=args.variant, instances=n).items():
                        samples.setdefault(mode, []).append(rate)
                        cpu_ms.setdefault(mode, []).append(ms)

            def local_side() -> None:
                rate, ms, share = pipeline_rate(files, engine="local", models_dir=models_dir, model=model, batch_size=args.batch_size,
                                                workers=workers, tmp=tmp, variant=args.variant)
                samples.setdefault("local engine", []).append(rate)
                cpu_ms.setdefault("local engine", []).append(ms)
                shares.setdefault(which, []).append(share or 0.0)

            for side in (raw_side, local_side) if round_no % 2 == 0 else (local_side, raw_side):
                side()
            if args.ray:
                rate, ms, _ = pipeline_rate(files, engine="ray", models_dir=models_dir, model=model, batch_size=args.batch_size,
                                            workers=1, tmp=tmp)
                samples.setdefault("ray local mode, 1 actor", []).append(rate)
                cpu_ms.setdefault("ray local mode, 1 actor", []).append(ms)  # the driver's CPU only: Ray's workers are other processes
        for mode, rates in samples.items():
            paired[(which, mode)], cpus[(which, mode)] = rates, cpu_ms[mode]
            results.append((which, mode, statistics.median(rates), statistics.median(cpu_ms[mode])))
            per_round.append(f"{which:8s} {mode:50s} {statistics.median(rates):5.1f} scans/s {[round(r, 1) for r in rates]}  "
                             f"CPU {statistics.median(cpu_ms[mode]):.0f} ms/scan {[round(c) for c in cpu_ms[mode]]}")
            print(per_round[-1], flush=True)
    lines = [
        f"Model {card.ref} ({card.architecture}, input {card.input.imgsz}, {args.variant}), batch {args.batch_size}, "
        f"{args.files} scans per set, median of {args.rounds} interleaved rounds, onnxruntime CPU; {platform.machine()}, {os.cpu_count()} cores, no GPU, load average "
        f"{os.getloadavg()[0]:.1f} at the end.",
        "",
        f"Local engine: {workers} decode thread(s), {instances} engine instance(s) of {threads} ORT thread(s). Ratios are "
        "against the best raw configuration of each kind.",
        "",
        "| set | mode | scans/s | vs best raw in memory | vs best raw loop | CPU ms per scan |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for which in args.sets:
        rows = {m: (r, c) for w, m, r, c in results if w == which}
        memory = max(r for m, (r, _) in rows.items() if m.startswith("raw, pixels"))
        loop = max(r for m, (r, _) in rows.items() if m.startswith("raw, read"))
        for mode, (rate, ms) in rows.items():
            lines.append(f"| {which} | {mode} | {rate:.1f} | {rate / memory:.0%} | {rate / loop:.0%} | {ms:.0f} |")
    same = f"raw, read+decode+infer loop, {instances} x {threads} ORT thread(s)"
    lines += ["", f"Local engine against the raw loop with its own ORT threads ({same!r}), paired within each round:"]
    for which in args.sets:
        rates = {m: v for (w, m), v in paired.items() if w == which}
        ratios = [a / b for a, b in zip(rates["local engine"], rates[same])]
        cpu = [a / b for a, b in zip(cpus[(which, "local engine")], cpus[(which, same)])]
        lines.append(f"{which}: scans/s median {statistics.median(ratios):.0%} (rounds: {', '.join(f'{r:.0%}' for r in ratios)}); "
                     f"CPU per scan median {statistics.median(cpu):.0%} of the raw loop's (rounds: {', '.join(f'{r:.0%}' for r in cpu)})")
    lines += ["", "Local engine, share of its main thread's time spent waiting on the engine instances (the rest: waiting for decode, writing parts):"]
    lines += [f"{which}: median {statistics.median(v):.1%} (rounds: {', '.join(f'{x:.1%}' for x in v)})" for which, v in shares.items()]
    lines += ["", "Per-round rates and CPU per scan (this process, every thread), in round order:", "", "```", *per_round, "```"]
    if args.ray:
        lines += ["", f"Ray start-up (ray.init, not in the rates): {ray_start:.1f} s."]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
