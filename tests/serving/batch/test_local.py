"""The local engine end to end on real scans with the tiny registry model."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from PIL import Image

from tests.factories import DEFAULT_POLICY_VERSION
from tests.serving.batch.conftest import BROKEN
from xscreen.errors import ConfigError
from xscreen.serving.batch.manifest import Manifest
from xscreen.serving.batch.run import BatchOptions, run
from xscreen.vision.engine import Engine
from xscreen.vision.io import read_scan
from xscreen.vision.policy import VERDICTS
from xscreen.vision.taxonomy import load_taxonomy

CPU = ["CPUExecutionProvider"]


def _options(src: Path | str, out: Path, models_dir: Path, policy_file: Path, **kw) -> BatchOptions:
    base = dict(src=str(src), out=out, models_dir=models_dir, policy_file=policy_file, providers=CPU, workers=2,
                batch_size=4, commit_every=5)
    return BatchOptions(**{**base, **kw})


def test_every_scan_gets_one_row_and_broken_files_their_error(scan_tree: Path, tiny_models_dir: Path, policy_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    summary = run(_options(scan_tree, out, tiny_models_dir, policy_file, jsonl=True))
    rows = pq.read_table(out / "results.parquet").to_pylist()
    files = sorted(p for p in scan_tree.rglob("*") if p.is_file() and p.suffix != ".md")
    assert [r["source"] for r in rows] == [str(p) for p in files]  # README skipped, sorted, once each
    assert (summary.total, summary.screened, summary.skipped, summary.errors) == (13, 13, 0, 3)
    for row, path in zip(rows, files):
        assert row["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert (row["model"], row["policy_version"]) == ("tiny:1", DEFAULT_POLICY_VERSION)
        rel = path.relative_to(scan_tree).as_posix()
        if rel in BROKEN:
            assert (row["error_code"], row["decision"], row["detections"]) == (BROKEN[rel], None, [])
            assert row["error"]
        else:
            assert row["error_code"] is None and row["decision"] in VERDICTS
            with Image.open(path) as im:
                assert (row["width"], row["height"]) == im.size
    assert [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()] == rows
    manifest = Manifest(out).load()
    assert len(manifest.entries) == 2  # batches of 4, committed once 5 rows wait: 8 + 5
    assert sum(len(e.sources) for e in manifest.entries) == len(set().union(*(e.sources for e in manifest.entries))) == 13
    assert "13 scans, 3 with errors" in (out / "report.md").read_text()
    assert json.loads((out / "run.json").read_text())["summary"]["screened"] == 13


def test_rows_hold_what_the_engine_and_policy_say(scan_tree: Path, lowconf_models_dir: Path, flag_all_policy: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    run(_options(scan_tree, out, lowconf_models_dir, flag_all_policy))
    engine = Engine.load("tiny:1", models_dir=lowconf_models_dir, providers=CPU)
    taxonomy = load_taxonomy()
    good = [r for r in pq.read_table(out / "results.parquet").to_pylist() if r["error_code"] is None]
    assert len(good) == 10
    for row in good:
        expected = engine.predict_scans([read_scan(Path(row["source"]).read_bytes())])[0]
        assert row["detections"] == expected.to_records(taxonomy)
        assert len(expected) > 0 and row["max_score"] == pytest.approx(float(expected.scores.max()))
        assert row["decision"] == "inspect" and row["policy_version"] == "flag-all:1"
        assert {r["class_name"] for r in row["reasons"]} <= {d["class_name"] for d in row["detections"]}


def test_engine_instances_screen_the_same_rows(scan_tree: Path, lowconf_models_dir: Path, flag_all_policy: Path,
                                                                  tmp_path: Path) -> None:
    """Issue 20: with two batches on the engine at once, every row is what one instance gives."""
    tables = {}
    for instances in (1, 2):
        out = tmp_path / f"run-{instances}"
        summary = run(_options(scan_tree, out, lowconf_models_dir, flag_all_policy, instances=instances, intra_op_threads=1, batch_size=2))
        assert (summary.instances, summary.intra_op_threads, summary.screened) == (instances, 1, 13)
        assert json.loads((out / "run.json").read_text())["summary"]["instances"] == instances
        tables[instances] = pq.read_table(out / "results.parquet").to_pylist()
    assert tables[1] == tables[2]
    assert sum(len(r["detections"]) for r in tables[2]) > 0


def test_save_annotated_writes_a_png_per_flagged_scan(scan_tree: Path, lowconf_models_dir: Path, flag_all_policy: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    run(_options(scan_tree, out, lowconf_models_dir, flag_all_policy, save_annotated=True))
    rows = pq.read_table(out / "results.parquet").to_pylist()
    for row in rows:
        if row["decision"] in (None, "clear"):
            assert row["annotated"] is None
            continue
        assert row["annotated"] == f"annotated/{row['sha256']}.png"
        with Image.open(out / row["annotated"]) as im:
            assert im.format == "PNG" and im.size == (row["width"], row["height"])
    assert "[png](annotated/" in (out / "report.md").read_text()


def test_a_finished_run_resumed_screens_nothing_more(scan_tree: Path, tiny_models_dir: Path, policy_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    run(_options(scan_tree, out, tiny_models_dir, policy_file))
    first = pq.read_table(out / "results.parquet")
    summary = run(_options(scan_tree, out, tiny_models_dir, policy_file, resume=True))
    assert (summary.skipped, summary.screened) == (13, 0)
    assert pq.read_table(out / "results.parquet").equals(first)


def test_new_files_in_the_source_are_screened_on_resume(scan_tree: Path, tiny_models_dir: Path, policy_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    run(_options(scan_tree, out, tiny_models_dir, policy_file))
    extra = scan_tree / "2024-03" / "late.jpg"
    extra.parent.mkdir()
    extra.write_bytes(next((scan_tree / "2024-01").iterdir()).read_bytes())
    summary = run(_options(scan_tree, out, tiny_models_dir, policy_file, resume=True))
    assert (summary.skipped, summary.screened, summary.total) == (13, 1, 14)
    assert pq.read_table(out / "results.parquet").num_rows == 14


@pytest.mark.parametrize(
    ("second", "message"),
    [
        (dict(), "pass --resume"),
        (dict(resume=True, policy="name: default\nversion: 9\ncategories: {firearms: {hold: 0.4}, drugs: {hold: 0.4}, weapons: {inspect: 0.3}}\n"),
         "policy_version"),
    ],
    ids=["existing-run-without-resume", "resume-with-another-policy"],
)
def test_a_run_directory_is_not_mixed(scan_tree: Path, tiny_models_dir: Path, policy_file: Path, tmp_path: Path, second: dict, message: str) -> None:
    out = tmp_path / "run"
    run(_options(scan_tree, out, tiny_models_dir, policy_file))
    if "policy" in second:
        policy_file.write_text(second.pop("policy"))
    with pytest.raises(ConfigError, match=message):
        run(_options(scan_tree, out, tiny_models_dir, policy_file, **second))


def test_scans_over_the_pixel_limit_are_recorded_not_decoded(scan_tree: Path, tiny_models_dir: Path, policy_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    run(_options(scan_tree, out, tiny_models_dir, policy_file, max_pixels=300_000))  # OPIXray 416 x 416 passes, these SIXray scans do not
    rows = {r["source"]: r for r in pq.read_table(out / "results.parquet").to_pylist()}
    for path in (scan_tree / "2024-02").iterdir():
        assert (rows[str(path)]["error_code"], rows[str(path)]["decision"]) == ("scan_too_large", None)
    assert all(rows[str(p)]["decision"] in VERDICTS for p in (scan_tree / "2024-01").iterdir())


def test_an_fsspec_url_source_is_screened_and_named_by_url(shared_data: Path, tiny_models_dir: Path, policy_file: Path, tmp_path: Path) -> None:
    import fsspec

    fs = fsspec.filesystem("memory")
    images = sorted((shared_data / "opixray-roboflow-subset" / "images").glob("*.jpg"))[:3]
    fs.pipe({f"/bucket/scans/{p.name}": p.read_bytes() for p in images} | {"/bucket/scans/zz-corrupt.png": b"\x89PNG\r\n\x1a\n broken"})
    try:
        out = tmp_path / "run"
        summary = run(_options("memory://bucket/scans", out, tiny_models_dir, policy_file))
        rows = pq.read_table(out / "results.parquet").to_pylist()
    finally:
        fs.rm("/bucket", recursive=True)
    assert [r["source"] for r in rows] == [f"memory:///bucket/scans/{p.name}" for p in images] + ["memory:///bucket/scans/zz-corrupt.png"]
    assert [r["sha256"] for r in rows[:3]] == [hashlib.sha256(p.read_bytes()).hexdigest() for p in images]
    assert (summary.errors, rows[-1]["error_code"]) == (1, "scan_undecodable")
