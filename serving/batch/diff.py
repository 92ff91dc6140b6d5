"""`batch diff RUN_A RUN_B`: which scans change decision between two runs (typically two models).

For the officer deciding whether to reopen cases: escalations (clear -> inspect -> hold) come first,
strongest evidence first, then relaxations. Scans are matched by `source`; a source whose bytes differ
between the runs (its sha256 changed: the archive was rewritten) is reported apart, not compared.
A scan that failed in a run has the decision `error` there.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from xscreen.serving.batch.output import RUN_FILE, read_results
from xscreen.vision.policy import VERDICTS

ERROR = "error"
_RANK: dict[str, int] = {v: i for i, v in enumerate(VERDICTS)}


@dataclass(frozen=True)
class DecisionChange:
    source: str
    sha256: str | None
    decision_a: str
    decision_b: str
    max_score_a: float | None
    max_score_b: float | None
    classes_a: list[str]
    classes_b: list[str]

    @property
    def escalated(self) -> bool:
        """True when run B is more severe (an error counts as neither)."""
        return _RANK.get(self.decision_b, -1) > _RANK.get(self.decision_a, -1) and self.decision_b != ERROR


@dataclass
class RunDiff:
    run_a: dict[str, Any]  # model and policy of each run, from run.json
    run_b: dict[str, Any]
    compared: int
    changed: list[DecisionChange]
    transitions: dict[str, int]  # "clear->hold": n, over changed scans only
    only_in_a: list[str] = field(default_factory=list)
    only_in_b: list[str] = field(default_factory=list)
    content_changed: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["changed"] = [{**asdict(c), "escalated": c.escalated} for c in self.changed]
        return out


def _describe(run: Path) -> dict[str, Any]:
    meta_path = (run if run.is_dir() else run.parent) / RUN_FILE
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    return {"run": str(run), "model": meta.get("model"), "policy_version": meta.get("policy_version")}


def _index(run: Path) -> dict[str, dict[str, Any]]:
    table = read_results(run).select(["source", "sha256", "decision", "max_score", "reasons"])
    return {row["source"]: row for row in table.to_pylist()}


def _classes(row: dict[str, Any]) -> list[str]:
    return sorted({r["class_name"] for r in row["reasons"] or [] if r["class_name"] is not None})


def _officer_order(c: DecisionChange) -> tuple[int, int, float, str]:
    """Escalations first, biggest jump and strongest new evidence first; then relaxations, biggest drop first."""
    jump = _RANK.get(c.decision_b, -1) - _RANK.get(c.decision_a, -1)
    if c.escalated:
        return (0, -jump, -(c.max_score_b or 0.0), c.source)
    return (1, jump, -(c.max_score_a or 0.0), c.source)


def diff_runs(run_a: Path, run_b: Path) -> RunDiff:
    """Compare two finished runs (directories or their results.parquet)."""
    a, b = _index(run_a), _index(run_b)
    changed, content_changed = [], []
    compared = 0
    for source in sorted(a.keys() & b.keys()):
        ra, rb = a[source], b[source]
        if ra["sha256"] and rb["sha256"] and ra["sha256"] != rb["sha256"]:
            content_changed.append(source)
            continue
        compared += 1
        da, db = ra["decision"] or ERROR, rb["decision"] or ERROR
        if da != db:
            changed.append(
                DecisionChange(source, ra["sha256"] or rb["sha256"], da, db, ra["max_score"], rb["max_score"], _classes(ra), _classes(rb))
            )
    changed.sort(key=_officer_order)
    transitions = Counter(f"{c.decision_a}->{c.decision_b}" for c in changed)
    return RunDiff(
        run_a=_describe(run_a),
        run_b=_describe(run_b),
        compared=compared,
        changed=changed,
        transitions=dict(sorted(transitions.items())),
        only_in_a=sorted(a.keys() - b.keys()),
        only_in_b=sorted(b.keys() - a.keys()),
        content_changed=content_changed,
    )
