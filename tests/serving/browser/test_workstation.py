"""The officers' workstation in a real browser (headless Chromium): sign in, work the queue, use the image
tools, correct a box, confirm, go on; then the review in the database and in `reviews export`. No sleeps:
every wait is Playwright waiting for a condition on the page."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.serving.browser.conftest import Desk
from xscreen.cli import app
from xscreen.serving.store.db import open_database
from xscreen.serving.store.records import ReviewRecord

pytestmark = pytest.mark.browser
SCREENSHOTS = os.environ.get("XSCREEN_SCREENSHOTS")  # a folder: the docs' screenshots are written there


def sign_in(page: Any, desk: Desk) -> None:
    from playwright.sync_api import expect

    page.goto(f"{desk.url}/review")
    expect(page.locator("#login")).to_be_visible()
    page.fill("#login-name", "k.meyer")
    page.fill("#login-password", desk.password)
    page.click("#login-form button[type=submit]")
    expect(page.locator("#app")).to_be_visible()


def queue_order(desk: Desk) -> list[str]:
    """hold first, then inspect, oldest first (the order the page must show)."""
    scans = sorted(desk.scans.values(), key=lambda s: (s["decision"]["verdict"] != "hold", s["received_at"]))
    return [s["scan_id"] for s in scans]


def test_officer_reviews_a_held_scan_with_a_corrected_box_and_it_is_exported(chromium: Any, desk: Desk, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    page = chromium.new_page()
    sign_in(page, desk)
    order = queue_order(desk)
    expect(page.locator("#queue-count")).to_have_text("3")
    expect(page.locator("#queue-list li")).to_have_count(3)
    assert [li.get_attribute("data-scan-id") for li in page.locator("#queue-list li").all()] == order
    if SCREENSHOTS:
        page.screenshot(path=str(Path(SCREENSHOTS) / "workstation-queue.png"))

    # Open the dual-energy strip (2400 pixels wide: a preview, then full resolution on zoom; all six views).
    target = "LANE1-0002"
    page.click(f"#queue-list li[data-scan-id='{target}']")
    expect(page.locator("#scan-title")).to_have_text(target)
    expect(page.locator("#declared")).to_contain_text("CP100000002DE")
    expect(page.locator("#declared")).to_contain_text("books")
    expect(page.locator("#decision")).to_contain_text(desk.scans[target]["decision"]["verdict"])
    viewer = page.locator("#viewer")
    expect(viewer).to_have_attribute("data-preview", "display")
    expect(page.locator("#views button")).to_have_count(6)

    # Zoom past the preview's resolution: the visible region comes at full resolution.
    for _ in range(4):
        page.keyboard.press("+")
    expect(viewer).to_have_attribute("data-detail", _region_pattern())
    # Views by key: organic (3), then high penetration (5); inverse and boxes toggle.
    page.keyboard.press("3")
    expect(viewer).to_have_attribute("data-preview", "organic")
    page.keyboard.press("5")
    expect(viewer).to_have_attribute("data-preview", "high")
    expect(viewer).to_have_attribute("data-detail", _region_pattern())
    page.keyboard.press("i")
    expect(page.locator("#invert")).to_be_checked()
    page.keyboard.press("b")
    expect(page.locator("#show-boxes")).not_to_be_checked()
    page.keyboard.press("b")
    page.keyboard.press("i")
    page.keyboard.press("1")
    page.keyboard.press("0")  # fit the whole scan again, then draw a box over part of it
    expect(viewer).to_have_attribute("data-detail", "none")

    page.select_option("#threat-class", "firearm_part")
    page.keyboard.press("d")
    box = viewer.bounding_box()
    assert box is not None
    width, height = desk.scans[target]["image"]["width"], desk.scans[target]["image"]["height"]
    scale = min(box["width"] / width, box["height"] / height)
    left, top = box["x"] + (box["width"] - width * scale) / 2, box["y"] + (box["height"] - height * scale) / 2
    page.mouse.move(left + 400 * scale, top + 100 * scale)
    page.mouse.down()
    page.mouse.move(left + 1000 * scale, top + 200 * scale, steps=5)
    page.mouse.move(left + 1600 * scale, top + 300 * scale, steps=5)
    page.mouse.up()
    expect(page.locator("#box-list li.corrected")).to_have_count(1)
    expect(page.locator("#box-list li.corrected")).to_contain_text("firearm_part")
    page.fill("#note", "frame in a hollowed book")
    page.locator("#viewer").focus()
    if SCREENSHOTS:
        page.screenshot(path=str(Path(SCREENSHOTS) / "workstation-scan.png"))
    page.keyboard.press("c")
    expect(page.locator("#action-status")).to_contain_text(f"reviewed {target}: threat_confirmed")
    expect(page.locator("#scan-title")).not_to_have_text(target)  # on to the next scan
    expect(page.locator("#queue-count")).to_have_text("2")
    review_id = int(page.locator("#action-status").get_attribute("data-review-id") or 0)

    # The database: the officer who made it, the corrected box in the scan's pixels.
    engine, sessions = open_database(desk.server.settings.effective_database_url)
    try:
        with sessions() as session:
            stored = session.get(ReviewRecord, review_id)
            assert stored is not None and stored.scan_id == target and stored.outcome == "threat_confirmed"
            assert stored.officer == "k.meyer" and stored.officer_id is not None and stored.note == "frame in a hollowed book"
            assert stored.boxes is not None and len(stored.boxes) == 1 and stored.boxes[0]["class_id"] == 1
            x0, y0, x1, y1 = stored.boxes[0]["box"]
            assert (x0, y0, x1, y1) == pytest.approx((400, 100, 1600, 300), abs=6)
    finally:
        engine.dispose()

    # reviews export: the corrected box replaces the model's, as a label ultralytics reads for this image.
    out = tmp_path / "export"
    result = CliRunner().invoke(app, ["reviews", "export", "--out", str(out), "--json"], env={"XSCREEN_DATA_DIR": str(desk.server.settings.data_dir)})
    assert result.exit_code == 0, result.stdout
    assert json.loads(result.stdout)["confirmed"] == 1
    from ultralytics.data.utils import img2label_paths, verify_image_label

    image = next((out / "images").iterdir())
    label = Path(img2label_paths([str(image)])[0])
    assert label.exists() and image.stem == target
    checked = verify_image_label((str(image), str(label), "", False, 9, 0, 0, False))
    lb, shape = checked[1], checked[2]
    assert shape == (height, width) and lb.shape == (1, 5) and int(lb[0][0]) == 1
    assert lb[0][1:] == pytest.approx([(x0 + x1) / 2 / width, (y0 + y1) / 2 / height, (x1 - x0) / width, (y1 - y0) / height], abs=1e-4)
    page.close()


def _region_pattern() -> Any:
    import re

    return re.compile(r"^\d+,\d+,\d+,\d+$")


def test_false_alarm_clear_filters_and_sign_out_by_keyboard(chromium: Any, desk: Desk) -> None:
    from playwright.sync_api import expect

    page = chromium.new_page()
    page.goto(f"{desk.url}/review")
    page.fill("#login-name", "k.meyer")
    page.fill("#login-password", "not the password")
    page.click("#login-form button[type=submit]")
    expect(page.locator("#login-error")).to_contain_text("wrong password")
    sign_in(page, desk)
    order = queue_order(desk)
    expect(page.locator("#scan-title")).to_have_text(order[0])  # the first scan in the queue opens
    page.fill("#filters [name=item_ref]", "CP100000003DE")
    expect(page.locator("#queue-count")).to_have_text("1")
    page.fill("#filters [name=item_ref]", "")
    expect(page.locator("#queue-count")).to_have_text("3")
    page.locator("#viewer").focus()
    page.keyboard.press("f")  # false alarm on the first, then the next opens
    expect(page.locator("#action-status")).to_contain_text(f"reviewed {order[0]}: false_alarm")
    expect(page.locator("#scan-title")).to_have_text(order[1])
    page.keyboard.press("n")  # skip to the next without reviewing
    expect(page.locator("#scan-title")).to_have_text(order[2])
    page.keyboard.press("x")
    expect(page.locator("#action-status")).to_contain_text(f"reviewed {order[2]}: clear")
    expect(page.locator("#queue-count")).to_have_text("1")
    page.click("#sign-out")
    expect(page.locator("#login")).to_be_visible()
    page.reload()
    expect(page.locator("#login")).to_be_visible()  # the session ended on the server too
    page.close()


def test_a_station_key_is_refused_on_the_page_and_on_review(chromium: Any, desk: Desk) -> None:
    from playwright.sync_api import expect

    page = chromium.new_page()
    page.set_extra_http_headers({"X-API-Key": desk.key})
    response = page.goto(f"{desk.url}/review")
    assert response is not None and response.status == 403
    expect(page.locator("body")).to_contain_text("forbidden")
    review = page.request.post(f"{desk.url}/v1/scans/LANE1-0001/review", data={"outcome": "false_alarm"}, headers={"X-API-Key": desk.key})
    assert review.status == 403 and review.json()["error"]["code"] == "forbidden"
    page.close()


def test_officer_adjusts_a_model_box_by_its_corner(chromium: Any, desk: Desk) -> None:
    from playwright.sync_api import expect

    boxed = [s for s in desk.scans.values() if s["detections"] and s["image"]["kind"] == "colour"]
    assert boxed, "the eager model boxes something on the colour test scans"
    scan = boxed[0]
    page = chromium.new_page()
    sign_in(page, desk)
    page.click(f"#queue-list li[data-scan-id='{scan['scan_id']}']")
    expect(page.locator("#scan-title")).to_have_text(scan["scan_id"])
    expect(page.locator("#viewer")).to_have_attribute("data-preview", "display")
    page.locator("#viewer").focus()
    page.keyboard.press("m")  # the model's boxes become corrected boxes, to adjust
    expect(page.locator("#box-list li.corrected")).to_have_count(len(scan["detections"]))
    fitted = page.locator("#zoom-level").inner_text()
    page.keyboard.press("-")  # zoomed out a step, the scan's edges (where the box corners are) lie inside the canvas
    expect(page.locator("#zoom-level")).not_to_have_text(fitted)
    box = page.locator("#viewer").bounding_box()
    assert box is not None

    def on_screen(x: float, y: float) -> tuple[float, float]:
        sx, sy = page.evaluate(f"toScreen({x}, {y})")  # the page's own image -> canvas mapping
        return box["x"] + sx, box["y"] + sy

    # The last corrected box is the one on top where boxes share a corner: drag its lower right corner.
    x0, y0, x1, y1 = scan["detections"][-1]["box"]
    target = (x0 + (x1 - x0) / 2, y0 + (y1 - y0) / 2)
    page.mouse.move(*on_screen(x1, y1))
    page.mouse.down()
    page.mouse.move(*on_screen(*target), steps=5)
    page.mouse.up()
    expect(page.locator("#box-list li.corrected").last).to_contain_text(f"{round(target[0])}, {round(target[1])}]")
    page.keyboard.press("c")
    expect(page.locator("#action-status")).to_contain_text(f"reviewed {scan['scan_id']}: threat_confirmed")
    review_id = int(page.locator("#action-status").get_attribute("data-review-id") or 0)
    engine, sessions = open_database(desk.server.settings.effective_database_url)
    try:
        with sessions() as session:
            stored = session.get(ReviewRecord, review_id)
            assert stored is not None and stored.boxes is not None and len(stored.boxes) == len(scan["detections"])
            assert stored.boxes[-1]["box"] == pytest.approx([x0, y0, *target], abs=1.0)
    finally:
        engine.dispose()
    page.close()
