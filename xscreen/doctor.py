"""`xscreen doctor`: what this machine has, where things live, and what the service lacks."""

from __future__ import annotations

import importlib.metadata as md
import json
import platform
from dataclasses import dataclass

import typer
from rich.console import Console

from xscreen import clitools
from xscreen.clitools import run_command
from xscreen.settings import Settings, get_settings

KEY_PACKAGES = (
    "numpy", "opencv-python-headless", "onnxruntime-gpu", "onnxruntime", "onnx", "fastapi", "sqlalchemy",
    "pydantic-settings", "xraydb", "spekpy", "torch", "torchvision", "ultralytics", "ray",
)


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    required: bool = True  # False: reported, but the service runs without it


def package_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in KEY_PACKAGES:
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = None
    return out


def check_runtime() -> list[Check]:
    checks: list[Check] = []
    try:
        import onnxruntime as ort

        providers = ort.get_available_providers()
        checks.append(Check("onnxruntime", True, f"{ort.__version__}; providers: {', '.join(providers)}"))
        gpu = _cuda_usable(ort)
        checks.append(Check("gpu", gpu[0], gpu[1], required=False))
    except ImportError as exc:
        checks.append(Check("onnxruntime", False, f"onnxruntime is not installed ({exc}); install xscreen[serve]"))
    return checks


def _cuda_usable(ort) -> tuple[bool, str]:
    """CUDAExecutionProvider being listed only means the wheel has it; a GPU must also be present."""
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        return False, "no CUDA provider in this onnxruntime build: inference runs on the CPU"
    try:
        import ctypes

        lib = ctypes.CDLL("libcuda.so.1")
        count = ctypes.c_int(0)
        if lib.cuInit(0) != 0 or lib.cuDeviceGetCount(ctypes.byref(count)) != 0 or count.value == 0:
            return False, "CUDA provider present but no usable GPU: inference runs on the CPU"
        return True, f"{count.value} CUDA device(s) usable"
    except OSError:
        return False, "CUDA provider present but no NVIDIA driver (libcuda): inference runs on the CPU"


def check_locations(settings: Settings) -> list[Check]:
    checks = []
    data_dir = settings.data_dir
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        probe = data_dir / ".doctor-write-test"
        probe.write_text("ok")
        probe.unlink()
        checks.append(Check("data_dir", True, f"{data_dir} (writable)"))
    except OSError as exc:
        checks.append(Check("data_dir", False, f"{data_dir} is not writable: {exc}. Set XSCREEN_DATA_DIR."))
    checks.append(Check("database", True, settings.effective_database_url))
    checks.append(Check("scan_store", True, settings.effective_scan_store_url))
    policy = settings.policy_file
    checks.append(Check("policy", policy.exists(), str(policy) if policy.exists() else f"decision policy {policy} does not exist; set XSCREEN_POLICY_FILE"))
    models = settings.models_dir
    checks.append(Check("models_dir", models.is_dir(), str(models) if models.is_dir() else f"model registry {models} does not exist; set XSCREEN_MODELS_DIR"))
    checks.append(check_real_data(settings))
    return checks


def check_real_data(settings: Settings) -> Check:
    """The real scans export's parity check and the README's evaluations read (not needed to serve)."""
    from xscreen.checkout import real_val_scans
    from xscreen.vision.yolo import find_images

    folder = real_val_scans(settings.real_data_dir)
    count = sum(1 for _ in find_images(folder)) if folder.is_dir() else 0
    if count:
        return Check("real_data", True, f"{count} real validation scans in {folder} (export's parity check)", required=False)
    return Check("real_data", False, f"no real scans in {folder}: export needs --parity DIR or --no-parity; set XSCREEN_REAL_DATA_DIR", required=False)


def check_default_model(settings: Settings) -> Check:
    """Load the default model exactly as the service does (checksums, classes against the taxonomy, outputs)."""
    try:
        from xscreen.vision.engine import Engine
    except ImportError as exc:  # engine not installed in this build
        return Check("default_model", False, f"model engine code unavailable: {exc}")
    try:
        engine = Engine.load(settings.default_model, models_dir=settings.models_dir, providers=["CPUExecutionProvider"], warmup=False)
        return Check("default_model", True, f"{engine.ref} loads, sha256 matches its card")
    except Exception as exc:  # noqa: BLE001 - report any failure in plain words; doctor never crashes
        return Check("default_model", False, f"default model {settings.default_model!r} is not usable: {exc}")


def run_doctor(settings: Settings) -> list[Check]:
    return [*check_runtime(), *check_locations(settings), check_default_model(settings)]


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)


def doctor(as_json: bool = typer.Option(False, "--json", help="Machine-readable output on stdout.")) -> None:
    """Check this installation: packages, providers, GPU, locations, default model."""
    settings = run_command(get_settings)
    checks = run_doctor(settings)
    versions = package_versions()
    failed = [c for c in checks if c.required and not c.ok]
    if as_json:
        typer.echo(json.dumps({
            "python": platform.python_version(),
            "packages": versions,
            "checks": [c.__dict__ for c in checks],
            "ok": not failed,
        }, indent=2))
    else:
        console = Console()
        table = clitools.table("package", "version", title="packages")
        for name, version in versions.items():
            table.add_row(name, version or "[dim]not installed[/]")
        typer.echo(f"python {platform.python_version()} on {platform.platform()}")
        console.print(table)
        checks_table = clitools.table("check", "status", "detail", title="checks")
        for c in checks:
            status = "[green]ok[/]" if c.ok else ("[red]MISSING[/]" if c.required else "[yellow]no[/]")
            checks_table.add_row(c.name, status, c.detail)
        console.print(checks_table)
        for c in failed:
            typer.echo(f"The service needs {c.name}: {c.detail}")  # plain: one unwrapped line each
    if failed:
        raise typer.Exit(1)
