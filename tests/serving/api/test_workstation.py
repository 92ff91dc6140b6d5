"""The workstation's page and image views over real HTTP (the browser tests drive them: tests/serving/browser)."""

from __future__ import annotations

import io

import httpx
import numpy as np
import pytest
from PIL import Image

from tests.serving.api.helpers import assert_error, post_scan
from tests.serving.images import dual_energy_npz_bytes, png_bytes, tiff16_bytes
from xscreen.serving.viewer import ScanCache
from xscreen.vision.scan import Scan


def test_the_page_and_its_files_are_served_but_not_to_station_keys(server, client: httpx.Client) -> None:
    page = httpx.get(f"{server.url}/review")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "/review/app.js" in page.text and "http" not in page.text.replace("http-equiv", "")  # nothing from elsewhere
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for name, kind in (("app.js", "text/javascript"), ("app.css", "text/css")):
        asset = httpx.get(f"{server.url}/review/{name}")
        assert asset.status_code == 200 and asset.headers["content-type"].startswith(kind)
        assert "https://" not in asset.text
    assert_error(httpx.get(f"{server.url}/review/secrets.txt"), 404, "not_found")
    assert_error(client.get("/review"), 403, "forbidden")
    assert_error(client.get("/review/app.js"), 403, "forbidden")


def _jpeg_size(response: httpx.Response) -> tuple[int, int]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/jpeg"
    return Image.open(io.BytesIO(response.content)).size


@pytest.mark.parametrize(
    ("make", "views"),
    [
        (png_bytes, ["display", "gray", "organic", "inorganic", "high", "low"]),
        (dual_energy_npz_bytes, ["display", "gray", "organic", "inorganic", "high", "low"]),
        (tiff16_bytes, ["display", "high"]),
    ],
    ids=["colour", "dual_energy", "gray"],
)
def test_every_view_of_every_kind_renders_whole_and_cropped(client: httpx.Client, officer: httpx.Client, make, views: list[str]) -> None:
    scan_id = f"view-{make.__name__}"
    assert post_scan(client, make(), scan_id=scan_id).status_code == 201
    info = officer.get(f"/v1/scans/{scan_id}/views").json()
    assert info["views"] == views
    w, h = info["width"], info["height"]
    for view in views:
        assert _jpeg_size(officer.get(f"/v1/scans/{scan_id}/view", params={"view": view})) == (w, h)  # never enlarged
        crop = {"x0": w // 4, "y0": h // 4, "x1": w // 4 + 20, "y1": h // 4 + 10}
        assert _jpeg_size(officer.get(f"/v1/scans/{scan_id}/view", params={"view": view, **crop})) == (20, 10)
        assert _jpeg_size(officer.get(f"/v1/scans/{scan_id}/view", params={"view": view, "max_side": 16})) == (16, round(h * 16 / w)) if w >= h else True
    missing = next((v for v in ("organic", "low") if v not in views), None)
    if missing:
        assert_error(officer.get(f"/v1/scans/{scan_id}/view", params={"view": missing}), 422, "invalid_request")
    assert_error(officer.get(f"/v1/scans/{scan_id}/view", params={"x0": w + 5}), 422, "invalid_request")
    assert_error(officer.get(f"/v1/scans/{scan_id}/view", params={"max_side": 100000}), 422, "invalid_request")
    assert client.get(f"/v1/scans/{scan_id}/view").status_code == 200  # the station reads its own scan's views too


def test_organic_view_keeps_orange_and_fades_blue() -> None:
    from xscreen.serving.viewer import render_view
    from xscreen.vision.xray.render import render_pseudocolour

    low = np.full((40, 80), 65535, np.uint16)
    high = low.copy()
    low[:, :40], high[:, :40] = 27000, 30000  # organic: the low channel only a little darker than the high one
    low[:, 40:], high[:, 40:] = 3000, 20000  # metal: far darker at low energy
    scan = Scan(np.stack([low, high], axis=-1), "dual_energy")
    display = render_pseudocolour(low, high)
    organic = render_view(scan, "organic", (0, 0, 80, 40), 512)
    inorganic = render_view(scan, "inorganic", (0, 0, 80, 40), 512)
    assert np.array_equal(organic[:, 5:35], display[:, 5:35]) and np.array_equal(inorganic[:, 45:75], display[:, 45:75])
    faded = organic[:, 45:75].astype(int)
    assert np.ptp(faded, axis=2).max() == 0 and faded.min() > display[:, 45:75].min()  # gray and lighter


def test_scan_cache_keeps_at_most_its_bytes_least_recent_out() -> None:
    def scan(value: int) -> Scan:
        return Scan(np.full((10, 10), value, np.uint8), "gray")  # 100 bytes

    cache = ScanCache(max_bytes=250)
    loads: list[str] = []

    def get(key: str) -> Scan:
        return cache.get(key, lambda: (loads.append(key), scan(len(loads)))[1])

    get("a"), get("b"), get("a"), get("c")  # c pushes out b, the least recently used
    assert loads == ["a", "b", "c"]
    get("a"), get("b")
    assert loads == ["a", "b", "c", "b"]
    assert ScanCache(max_bytes=0).get("x", lambda: scan(1)).pixels[0, 0] == 1  # 0: nothing kept, still answers


def test_cached_view_decodes_once_and_reuses_the_preview() -> None:
    from xscreen.serving.viewer import cached_view

    loads = []
    pixels = np.random.default_rng(0).integers(0, 255, (300, 1000, 3), dtype=np.uint8)

    def load() -> Scan:
        loads.append(1)
        return Scan(pixels, "colour")

    cache = ScanCache(max_bytes=10 * pixels.nbytes)
    first = cached_view(cache, "strip", load, "display", (0, 0, 1000, 300), 500)
    again = cached_view(cache, "strip", load, "high", (0, 0, 1000, 300), 500)
    crop = cached_view(cache, "strip", load, "display", (100, 50, 300, 150), 500)
    assert first.shape == (150, 500, 3) and again.shape == (150, 500) and len(loads) == 1
    assert np.array_equal(crop, pixels[50:150, 100:300])  # a region small enough is sent at full resolution, as stored
    assert set(cache._items) == {"strip", "strip@500x150"}
