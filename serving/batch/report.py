"""The summary of a batch run: report.md with charts/*.png beside it.

Counts by decision and by class, errors by code, and the highest-scoring flagged scans, which are the
first an officer opens. Classes are listed in taxonomy order and verdicts in the policy's order of
severity, so two reports read side by side line up.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa

from xscreen.vision.policy import VERDICTS
from xscreen.vision.taxonomy import Taxonomy, load_taxonomy

CHARTS_DIR = "charts"
REPORT_FILE = "report.md"


def summarize(table: pa.Table, *, taxonomy: Taxonomy | None = None, top: int = 20) -> dict[str, Any]:
    """The numbers of the report, as plain data (also what `--json` prints)."""
    taxonomy = taxonomy or load_taxonomy()
    decisions = Counter(d for d in table.column("decision").to_pylist() if d is not None)
    errors = Counter(e for e in table.column("error_code").to_pylist() if e is not None)
    detections: Counter[str] = Counter()
    scans_with: Counter[str] = Counter()
    alarms: Counter[str] = Counter()
    for dets, reasons in zip(table.column("detections").to_pylist(), table.column("reasons").to_pylist()):
        names = [d["class_name"] for d in dets or []]
        detections.update(names)
        scans_with.update(set(names))
        alarms.update({r["class_name"] for r in reasons or [] if r["class_name"] is not None})
    flagged = [
        row
        for row in table.select(["source", "decision", "max_score", "reasons", "annotated"]).to_pylist()
        if row["decision"] is not None and row["decision"] != VERDICTS[0]
    ]
    flagged.sort(key=lambda r: (-(r["max_score"] or 0.0), r["source"]))
    return {
        "scans": table.num_rows,
        "by_decision": {v: decisions.get(v, 0) for v in VERDICTS},
        "errors": dict(sorted(errors.items())),
        "by_class": [
            {
                "class_name": c.name,
                "category": c.category,
                "detections": detections.get(c.name, 0),
                "scans": scans_with.get(c.name, 0),
                "alarmed_scans": alarms.get(c.name, 0),
            }
            for c in taxonomy.classes
        ],
        "top_flagged": [
            {
                "source": r["source"],
                "decision": r["decision"],
                "max_score": r["max_score"],
                "classes": sorted({x["class_name"] for x in r["reasons"] or [] if x["class_name"] is not None}),
                "annotated": r["annotated"],
            }
            for r in flagged[:top]
        ],
    }


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _bar_chart(path: Path, labels: list[str], values: list[int], *, title: str, xlabel: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 0.45 * max(len(labels), 3) + 1.2))
    ax.barh(labels[::-1], values[::-1], color="#4477aa")
    for y, v in enumerate(values[::-1]):
        ax.text(v, y, f" {v}", va="center", fontsize=8)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.margins(x=0.15)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_report(table: pa.Table, run_dir: Path, *, title: str, taxonomy: Taxonomy | None = None, top: int = 20) -> Path:
    """Write report.md and its charts into `run_dir`; returns the report's path."""
    s = summarize(table, taxonomy=taxonomy, top=top)
    charts = run_dir / CHARTS_DIR
    charts.mkdir(parents=True, exist_ok=True)
    _bar_chart(charts / "decisions.png", list(s["by_decision"]), list(s["by_decision"].values()), title="Scans by decision", xlabel="scans")
    _bar_chart(
        charts / "classes.png",
        [c["class_name"] for c in s["by_class"]],
        [c["scans"] for c in s["by_class"]],
        title="Scans with a detection of each class",
        xlabel="scans",
    )
    lines = [f"# {title}", "", f"{s['scans']} scans, {sum(s['errors'].values())} with errors.", ""]
    lines += ["## Decisions", "", f"![decisions]({CHARTS_DIR}/decisions.png)", "", "| decision | scans |", "|---|---:|"]
    lines += [f"| {v} | {n} |" for v, n in s["by_decision"].items()]
    lines += ["", "## Classes", "", f"![classes]({CHARTS_DIR}/classes.png)", ""]
    lines += ["| class | category | detections | scans | scans alarmed |", "|---|---|---:|---:|---:|"]
    lines += [f"| {c['class_name']} | {c['category']} | {c['detections']} | {c['scans']} | {c['alarmed_scans']} |" for c in s["by_class"]]
    if s["errors"]:
        lines += ["", "## Errors", "", "| error | scans |", "|---|---:|"]
        lines += [f"| {code} | {n} |" for code, n in s["errors"].items()]
    lines += ["", f"## Highest-scoring flagged scans (top {top})", ""]
    if s["top_flagged"]:
        lines += ["| source | decision | max score | alarming classes | annotated |", "|---|---|---:|---|---|"]
        for r in s["top_flagged"]:
            link = f"[png]({r['annotated']})" if r["annotated"] else ""
            lines.append(f"| `{_cell(r['source'])}` | {r['decision']} | {r['max_score']:.3f} | {', '.join(r['classes'])} | {link} |")
    else:
        lines.append("No scan was flagged.")
    path = run_dir / REPORT_FILE
    path.write_text("\n".join(lines) + "\n")
    return path
