"""Tables never cut their key column: every path, model ref and score reads whole at 80 columns.

Each table is rendered on a rich Console of an explicit width, never the terminal the tests run in.
"""

from __future__ import annotations

import io
import re

from rich.console import Console

LONG = "../shared/data/sixray-subset/val/" + "a-long-folder-name/" * 3


def render(table, width: int = 80) -> str:
    console = Console(width=width, file=io.StringIO(), color_system=None)
    console.print(table)
    return console.file.getvalue()  # type: ignore[attr-defined]


def column_text(text: str, column: int) -> str:
    """One column's cells joined back: folded text continues on the next line of the same column."""
    cells = [line.split("│")[column + 1].strip() for line in text.splitlines() if line.count("│") > column + 1]
    return "".join(cells)


def assert_whole(text: str, *values: str, column: int = 0) -> None:
    assert "…" not in text, text
    assert all(len(line) <= 80 for line in text.splitlines()), text
    joined = column_text(text, column).replace(" ", "")  # a cell wrapped at a space loses that space here
    for value in values:
        assert value.replace(" ", "") in joined, (value, text)


def test_predict_table_keeps_paths_whole() -> None:
    from xscreen.vision.cli import results_table

    paths = [f"{LONG}P{i:05d}.jpg" for i in range(3)]
    results = [
        {"path": paths[0], "width": 1200, "height": 800, "kind": "colour", "detections": [
            {"class_name": "firearm_handgun", "score": 0.91}, {"class_name": "knife", "score": 0.4}], "decision": {"verdict": "hold"}},
        {"path": paths[1], "width": 640, "height": 480, "kind": "gray", "detections": [], "decision": {"verdict": "clear"}},
        {"path": paths[2], "error": {"code": "scan_undecodable", "message": f"{paths[2]}: truncated JPEG (no end-of-image marker)"}},
    ]
    assert_whole(render(results_table(results)), *paths)


def test_models_table_keeps_refs_whole() -> None:
    from xscreen.training.cli import models_table

    rows = [{"ref": f"xscreen-yolo11n-xray-stage{i}:{i + 10}", "default": i == 1, "architecture": "yolo11n", "imgsz": 640,
             "classes": 14, "variants": ["fp16", "fp32", "int8"], "created": "2026-11-30T12:00:00+00:00"} for i in range(2)]
    text = render(models_table(rows, title="models in /somewhere/models"))
    assert_whole(text, "xscreen-yolo11n-xray-stage0:10", "xscreen-yolo11n-xray-stage1:11")
    assert_whole(text, "2026-11-30", column=6)


def test_batch_diff_table_keeps_sources_whole() -> None:
    from xscreen.serving.batch.cli import changes_table
    from xscreen.serving.batch.diff import DecisionChange

    sources = [f"s3://archive/2026-10/{LONG}scan-{i}.jpg" for i in range(2)]
    changes = [DecisionChange(s, None, "clear", "hold", 0.1, 0.93, [], ["firearm_handgun", "ammunition"]) for s in sources]
    assert_whole(render(changes_table(changes)), *sources)


def test_evaluate_summary_keeps_every_value_at_80_columns() -> None:
    from xscreen.training.evaluate import Summary

    class Report:
        def __init__(self, dataset: str, view: str) -> None:
            self.dataset, self.view = dataset, view
            classes = {n: {"AP50": 0.9512} for n in ("firearm_handgun", "firearm_long", "gun_part", "ammunition", "knife", "drug_bulk")}
            categories = {c: {"detection_rate": 0.975, "false_alarm_rate": 0.0071} for c in ("firearms", "drugs", "weapons")}
            self.metrics = {"model": "xscreen-yolo11n:2", "images": 320, "mAP50": 0.7123, "mAP50-95": 0.4456, "classes": classes, "categories": categories}

    summary = Summary(reports=[Report("default-sixray", "as-is"), Report("default-sixray", "gray"), Report("opixray", "as-is")])  # type: ignore[list-item]
    text = render(summary.table())
    assert_whole(text, "AP50 firearm_handgun", "firearms FAR")
    assert re.findall(r"0\.951", text) and len(re.findall(r"0\.951", text)) == 6 * 3
    assert "0.007" in text and "0.446" in text
