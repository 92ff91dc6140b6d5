"""The commit protocol: whatever moment a run dies at, a resume sees each scan in one part or none."""

from __future__ import annotations

from pathlib import Path

from xscreen.serving.batch.manifest import Manifest
from xscreen.serving.batch.rows import rows_to_table


def _commit(run: Path, make_row, sources: list[str]) -> Manifest:
    manifest = Manifest(run).load()
    manifest.commit(rows_to_table([make_row(s, "clear") for s in sources]))
    return manifest


def test_commits_are_read_back_in_order(tmp_path: Path, make_row) -> None:
    _commit(tmp_path, make_row, ["a", "b"])
    _commit(tmp_path, make_row, ["c"])
    manifest = Manifest(tmp_path).load()
    assert [e.part for e in manifest.entries] == ["part-000000.parquet", "part-000001.parquet"]
    assert manifest.done == {"a", "b", "c"}
    assert manifest.next_part_name() == "part-000002.parquet"


def test_part_renamed_but_never_committed_is_removed(tmp_path: Path, make_row) -> None:
    """Killed after the part's rename, before its manifest line: the part goes, its scans are redone."""
    manifest = _commit(tmp_path, make_row, ["a"])
    orphan = manifest.parts_dir / "part-000001.parquet"
    orphan.write_bytes((manifest.parts_dir / "part-000000.parquet").read_bytes())
    (manifest.parts_dir / "part-000002.parquet.tmp").write_bytes(b"half a parquet file")
    reloaded = Manifest(tmp_path).load()
    assert reloaded.done == {"a"}
    assert sorted(p.name for p in reloaded.parts_dir.iterdir()) == ["part-000000.parquet"]


def test_torn_manifest_line_is_dropped_with_its_part(tmp_path: Path, make_row) -> None:
    """Killed inside the manifest write: the line's tail never reached disk."""
    manifest = _commit(tmp_path, make_row, ["a"])
    _commit(tmp_path, make_row, ["b", "c"])
    raw = manifest.path.read_bytes()
    manifest.path.write_bytes(raw[: len(raw) - 7])  # cut inside the second line
    reloaded = Manifest(tmp_path).load()
    assert reloaded.done == {"a"}
    assert [p.name for p in reloaded.parts_dir.iterdir()] == ["part-000000.parquet"]
    assert reloaded.path.read_bytes().endswith(b"\n")
    reloaded.commit(rows_to_table([make_row("b", "hold", score=0.9)]))  # the redo gets the next free name
    assert Manifest(tmp_path).load().done == {"a", "b"}
