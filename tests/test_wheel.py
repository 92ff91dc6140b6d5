"""A scanner-station host installs the wheel, not a checkout: build it, install `xscreen[serve]` into a
fresh virtualenv, and screen a real SIXray scan through `xscreen serve` run from outside the checkout.

About a minute (most of it pip copying onnxruntime, OpenCV, pyarrow, ... from its cache), so it stays in
the default suite. Needs pip to reach a package index (PyPI, or this machine's local one).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import httpx

from tests.factories import DEFAULT_POLICY_VERSION, free_port, wait_until_ready
from xscreen.checkout import REPO_ROOT
from xscreen.vision.registry import default_ref

# What `pip wheel` needs of the checkout; copied so the build writes nothing into the source tree.
SOURCES = ("pyproject.toml", "README.md", "xscreen", "configs", "vision", "datasets", "training", "serving")


def _run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{args}: {done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    return done.stdout


def test_the_wheel_installs_without_torch_and_screens_a_real_scan(tmp_path: Path, shared_data: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for name in SOURCES:
        if (REPO_ROOT / name).is_dir():
            shutil.copytree(REPO_ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(REPO_ROOT / name, src / name)
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", tmp_path / "dist", src, cwd=tmp_path)
    (wheel,) = (tmp_path / "dist").glob("xscreen-*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    assert {"xscreen/configs/taxonomy.yaml", "xscreen/configs/policy/default.yaml", "xscreen/configs/scanners/dual-160kv.yaml",
            "xscreen/configs/display/gray-reference.yaml"} <= shipped  # the default model matches gray displays to it

    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", venv, cwd=tmp_path)
    _run(venv / "bin" / "python", "-m", "pip", "install", "-q", f"{wheel}[serve]", cwd=tmp_path)
    installed = {line.split("==")[0].lower() for line in _run(venv / "bin" / "python", "-m", "pip", "freeze", cwd=tmp_path).split()}
    assert not installed & {"torch", "torchvision", "ultralytics"}, "xscreen[serve] pulled in the training stack"

    # Outside the checkout, with nothing of it on the path: only the models directory is pointed at.
    run_dir = tmp_path / "station"
    run_dir.mkdir()
    env = {
        "PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path / "home"),
        "XSCREEN_DATA_DIR": str(run_dir / "data"), "XSCREEN_MODELS_DIR": str(REPO_ROOT / "models"),
        "XSCREEN_PROVIDERS": '["CPUExecutionProvider"]', "XSCREEN_INTRA_OP_THREADS": "1",
    }
    xscreen = venv / "bin" / "xscreen"
    key = json.loads(_run(xscreen, "keys", "create", "--station", "lane-1", "--json", cwd=run_dir, env=env))["key"]
    port = free_port()
    process = subprocess.Popen([str(xscreen), "serve", "--port", str(port)], cwd=run_dir, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_until_ready(port, process, timeout_s=120)
        scan = (shared_data / "sixray-subset" / "val" / "0007.jpg").read_bytes()  # labelled: a knife
        response = httpx.post(f"http://127.0.0.1:{port}/v1/scans", headers={"X-API-Key": key},
                              files={"file": ("0007.jpg", scan, "image/jpeg")}, data={"scan_id": "sixray-0007"}, timeout=60)
    finally:
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=30)[0]
    assert response.status_code == 201, response.text
    body = response.json()
    assert f'{body["model"]["name"]}:{body["model"]["version"]}' == default_ref(REPO_ROOT / "models")  # the promoted model
    assert "knife" in {d["class_name"] for d in body["detections"]}
    # The packaged default policy decided: a knife sends the parcel to an officer.
    assert (body["decision"]["verdict"], body["decision"]["policy_version"]) == ("inspect", DEFAULT_POLICY_VERSION)
    assert process.returncode in (0, -signal.SIGTERM), output
    assert os.fspath(venv) in _run(venv / "bin" / "python", "-c", "import xscreen.resources as r; print(r.DEFAULT_POLICY_FILE)", cwd=run_dir, env=env)
