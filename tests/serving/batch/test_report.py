from __future__ import annotations

from pathlib import Path

from PIL import Image

from xscreen.serving.batch.report import summarize, write_report
from xscreen.serving.batch.rows import rows_to_table


def test_summary_counts_and_top_flagged(make_row) -> None:
    table = rows_to_table([
        make_row("a", "clear"),
        make_row("b", "hold", score=0.6),
        make_row("c", "inspect", score=0.3, class_name="knife"),
        make_row("d", "hold", score=0.9, class_name="drug_bulk"),
        make_row("e", None),
        make_row("f", "clear", score=0.1, class_name="scissors"),
    ])
    s = summarize(table, top=2)
    assert s["by_decision"] == {"clear": 2, "inspect": 1, "hold": 2}
    assert s["errors"] == {"scan_undecodable": 1}
    by_class = {c["class_name"]: c for c in s["by_class"]}
    assert (by_class["scissors"]["scans"], by_class["scissors"]["alarmed_scans"]) == (1, 0)
    assert (by_class["firearm"]["detections"], by_class["firearm"]["alarmed_scans"]) == (1, 1)
    assert [r["source"] for r in s["top_flagged"]] == ["d", "b"]


def test_report_markdown_and_charts(tmp_path: Path, make_row) -> None:
    table = rows_to_table([make_row("x|y", "hold", score=0.7), make_row("z", "clear")])
    path = write_report(table, tmp_path, title="Batch t")
    text = path.read_text()
    assert text.startswith("# Batch t")
    assert "| hold | 1 |" in text and "x\\|y" in text
    for chart in ("decisions.png", "classes.png"):
        assert f"charts/{chart}" in text
        with Image.open(tmp_path / "charts" / chart) as im:
            assert im.format == "PNG" and im.width > 100


def test_report_of_an_empty_run(tmp_path: Path) -> None:
    text = write_report(rows_to_table([]), tmp_path, title="empty").read_text()
    assert "0 scans" in text and "No scan was flagged." in text
