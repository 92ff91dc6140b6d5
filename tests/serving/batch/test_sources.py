from __future__ import annotations

from pathlib import Path

import fsspec
import pytest

from xscreen.errors import InvalidRequest
from xscreen.serving.batch.sources import list_sources, read_source


def _tree(root: Path) -> Path:
    for rel in ("a/1.jpg", "a/2.PNG", "b/c/3.tif", "b/notes.md", "4.npz"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(rel.encode())
    return root


def test_directory_tree_takes_scan_suffixes_sorted(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    assert list_sources(str(root)) == [str(root / p) for p in ("4.npz", "a/1.jpg", "a/2.PNG", "b/c/3.tif")]


def test_file_url_names_the_same_sources_as_the_path(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    assert list_sources(root.as_uri()) == list_sources(str(root))


def test_glob_takes_whatever_it_matches(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    assert list_sources(str(root / "b" / "*")) == [str(root / "b" / "notes.md")]
    assert list_sources(str(root / "**" / "*.jpg")) == [str(root / "a" / "1.jpg")]


def test_list_file_keeps_order_resolves_relative_and_drops_duplicates(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    listing = root / "todo.txt"
    listing.write_text(f"# rescreen\nb/c/3.tif\n\n{root / 'a' / '1.jpg'}\nb/c/3.tif\nmemory://bucket/x.jpg\n")
    assert list_sources(str(listing)) == [str(root / "b/c/3.tif"), str(root / "a/1.jpg"), "memory:///bucket/x.jpg"]


def test_single_file_is_one_source(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    assert list_sources(str(root / "a" / "1.jpg")) == [str(root / "a" / "1.jpg")]


def test_fsspec_url_prefix_keeps_its_scheme_and_reads() -> None:
    fs = fsspec.filesystem("memory")
    fs.pipe({"/archive/2024/x.jpg": b"X", "/archive/2024/y.png": b"Y", "/archive/index.csv": b"i"})
    try:
        sources = list_sources("memory://archive")
        assert sources == ["memory:///archive/2024/x.jpg", "memory:///archive/2024/y.png"]
        assert [read_source(s) for s in sources] == [b"X", b"Y"]
    finally:
        fs.rm("/archive", recursive=True)


@pytest.mark.parametrize("src", ["{tmp}/does/not/exist", "{tmp}/nothing-here.txt", "memory://absent/prefix"])
def test_a_source_that_is_not_there_is_refused(tmp_path: Path, src: str) -> None:
    with pytest.raises(InvalidRequest):
        list_sources(src.format(tmp=tmp_path))


@pytest.mark.parametrize("src", ["{tmp}/*.jpg", "{tmp}"], ids=["pattern", "empty-folder"])
def test_a_source_naming_no_scans_is_an_error(tmp_path: Path, src: str) -> None:
    with pytest.raises(InvalidRequest, match="names no scans"):  # issue 16: an empty SRC is a mistake, not a run
        list_sources(src.format(tmp=tmp_path))
