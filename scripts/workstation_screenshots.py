"""The screenshots of docs/workstation.md: `xscreen serve` on the default model in a fresh data dir, a few real
SIXray validation scans (../shared/data/sixray-subset) sent by a station, and the page at /review in headless
Debian Chromium (Playwright), signed in as an officer. Writes docs/img/workstation-{queue,scan}.png.

    PYTHONPATH=. .venv/bin/python scripts/workstation_screenshots.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx

from tests.factories import free_port, wait_until_ready
from tests.serving.browser.conftest import CHROMIUM, CHROMIUM_ARGS, VIEWPORT

ROOT = Path(__file__).resolve().parents[1]
SIXRAY = ROOT.parent / "shared" / "data" / "sixray-subset"
OUT = ROOT / "docs" / "img"
COLOURS = 96  # PNG palette: a screenshot in about a third of its full-colour size


def save_small(page: object, path: Path) -> None:
    import io

    from PIL import Image

    shot = Image.open(io.BytesIO(page.screenshot()))  # type: ignore[attr-defined]  # a Playwright page
    shot.convert("RGB").quantize(COLOURS, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


def gun_scans(limit: int) -> list[Path]:
    """Validation scans whose labels hold a gun, in file order (the same ones each run)."""
    found = []
    for image in sorted((SIXRAY / "val").glob("*.jpg")):
        annotation = SIXRAY / "Annotation" / f"{image.stem}.xml"
        if annotation.exists() and any(n.text == "Gun" for n in ET.parse(annotation).iter("name")):
            found.append(image)
        if len(found) == limit:
            break
    return found


def xscreen(env: dict[str, str], *args: str) -> dict:
    done = subprocess.run([str(ROOT / ".venv" / "bin" / "xscreen"), *args, "--json"], env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def main() -> None:
    from playwright.sync_api import expect, sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "XSCREEN_DATA_DIR": str(Path(tmp) / "data"), "XSCREEN_MODELS_DIR": str(ROOT / "models"),
               "XSCREEN_PROVIDERS": '["CPUExecutionProvider"]'}
        key = xscreen(env, "keys", "create", "--station", "lane-3")["key"]
        password = xscreen(env, "officers", "create", "--name", "k.meyer")["password"]
        port = free_port()
        server = subprocess.Popen([str(ROOT / ".venv" / "bin" / "xscreen"), "serve", "--port", str(port), "--no-access-log"], env=env, text=True)
        try:
            wait_until_ready(port, server, timeout_s=180)
            url = f"http://127.0.0.1:{port}"
            with httpx.Client(base_url=url, headers={"X-API-Key": key}, timeout=120) as station:
                for i, image in enumerate(gun_scans(6)):
                    fields = {"scan_id": f"LANE3-{1201 + i:06d}", "item_ref": f"CP{400120 + i:09d}DE", "origin": ["CN", "US", "TR", "NL", "BR", "TH"][i],
                              "declared_contents": ["toys", "books", "clothes", "tools", "shoes", "gift"][i]}
                    response = station.post("/v1/scans", files={"file": (image.name, image.read_bytes(), "image/jpeg")}, data=fields)
                    response.raise_for_status()
                    print(fields["scan_id"], image.name, response.json()["decision"]["verdict"], file=sys.stderr)
            with sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
                browser = p.chromium.launch_persistent_context(profile, executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True, viewport=VIEWPORT)
                page = browser.new_page()
                page.goto(f"{url}/review")
                page.fill("#login-name", "k.meyer")
                page.fill("#login-password", password)
                page.click("#login-form button[type=submit]")
                viewer = page.locator("#viewer")
                expect(viewer).to_have_attribute("data-preview", "display")
                OUT.mkdir(parents=True, exist_ok=True)
                save_small(page, OUT / "workstation-queue.png")
                page.keyboard.press("4")  # inorganic only: the pistol and the metal parts keep their colour
                expect(viewer).to_have_attribute("data-preview", "inorganic")
                page.keyboard.press("m")  # start from the model's boxes, as an officer adjusting them would
                page.fill("#note", "pistol beside the cables, upper right")
                viewer.focus()
                save_small(page, OUT / "workstation-scan.png")
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=60)
    for name in ("workstation-queue.png", "workstation-scan.png"):
        print(OUT / name, (OUT / name).stat().st_size, "bytes")


if __name__ == "__main__":
    main()
