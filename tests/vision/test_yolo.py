"""The YOLO format module: label lines, the image-to-label rule, data.yaml names and list files."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from xscreen.errors import DatasetError
from xscreen.vision.yolo import (
    Label,
    boxes_to_labels,
    class_names,
    data_root,
    format_labels,
    image_path,
    label_path,
    load_data_yaml,
    read_labels,
    write_data_yaml,
    write_labels,
)


def test_boxes_round_trip_through_a_label_file(tmp_path: Path) -> None:
    boxes = [(2, 10.0, 20.0, 60.0, 80.0), (0, 0.0, 0.0, 200.0, 100.0)]
    path = write_labels(tmp_path / "labels" / "a.txt", boxes_to_labels(boxes, 200, 100))
    assert path.read_text().splitlines()[0] == "2 0.175000 0.500000 0.250000 0.600000"
    back = [label.to_box(200, 100) for label in read_labels(path)]
    assert back == [pytest.approx(b) for b in boxes]


def test_boxes_past_the_edge_are_clipped_and_no_file_means_no_boxes(tmp_path: Path) -> None:
    (label,) = boxes_to_labels([(1, -10.0, 50.0, 120.0, 150.0)], 100, 100)
    assert label == pytest.approx(Label(1, 0.5, 0.75, 1.0, 0.5))
    assert read_labels(tmp_path / "missing.txt") == []
    assert format_labels([]) == ""


@pytest.mark.parametrize(
    ("image", "label"),
    [
        ("d/images/train/scan.v2.jpg", "d/labels/train/scan.v2.txt"),  # only the last suffix goes
        ("images/a.png", "labels/a.txt"),
        ("images/x/images/b.jpg", "images/x/labels/b.txt"),  # the last `images` folder
        ("d/images.jpg", "d/images.txt"),  # a file called images is no folder
    ],
)
def test_label_path_follows_ultralytics(image: str, label: str) -> None:
    assert label_path(Path(image)) == Path(label)


def test_image_path_keeps_a_dotted_stem() -> None:
    image = image_path(Path("out/images"), "scan.v2", ".png")
    assert image == Path("out/images/scan.v2.png")
    assert label_path(image) == Path("out/labels/scan.v2.txt")


@pytest.mark.parametrize(
    ("bad", "strict_error"),
    [("1 0.5 0.5", "expected `class cx cy w h`"), ("x 0.5 0.5 0.1 0.1", "could not convert")],
)
def test_a_malformed_line_is_an_error_or_dropped(tmp_path: Path, bad: str, strict_error: str) -> None:
    path = tmp_path / "l.txt"
    path.write_text(f"0 0.5 0.5 0.2 0.2 0.93\n\n{bad}\n")
    with pytest.raises(DatasetError, match=f"l.txt:3: .*{strict_error}"):
        read_labels(path)
    assert read_labels(path, strict=False) == [Label(0, 0.5, 0.5, 0.2, 0.2)]  # confidence column ignored


@pytest.mark.parametrize(
    ("raw", "names"),
    [
        (["a", "b", "c"], ["a", "b", "c"]),
        ({2: "c", 0: "a", 1: "b"}, ["a", "b", "c"]),  # by id, whatever order the yaml lists them in
        ({"10": "k", **{str(i): f"n{i}" for i in range(10)}}, [f"n{i}" for i in range(10)] + ["k"]),  # ids, not strings, sort
        (None, []),
    ],
)
def test_names_are_read_in_class_id_order(raw: object, names: list[str]) -> None:
    assert class_names(raw) == names


@pytest.mark.parametrize("raw", [{0: "a", 2: "c"}, {"a": "x"}, "a b"])
def test_names_that_are_not_ids_0_to_n_are_refused(raw: object) -> None:
    with pytest.raises(DatasetError, match="names"):
        class_names(raw)


def test_data_root_follows_path_relative_to_the_yaml(tmp_path: Path) -> None:
    yaml_path = tmp_path / "sets" / "data.yaml"
    assert data_root(yaml_path, {}) == tmp_path / "sets"
    assert data_root(yaml_path, {"path": "../other"}) == tmp_path / "sets" / "../other"
    assert data_root(yaml_path, {"path": str(tmp_path / "abs")}) == tmp_path / "abs"


def test_split_entries_folders_and_list_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "set"
    for name in ("images/val/b.jpg", "images/val/a.png", "images/val/notes.md", "lists/images/c.jpg", "elsewhere/d.jpg"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"x")
    # `./` is relative to the list's folder; any other line is used as written (ultralytics: the working directory).
    (root / "lists" / "val.txt").write_text(f"./images/c.jpg\n\n{root / 'elsewhere/d.jpg'}\nelsewhere/d.jpg\n")
    monkeypatch.chdir(root)
    yaml_path = write_data_yaml(root / "data.yaml", names=["a", "b"], splits={"train": "images/val", "val": "lists/val.txt"})
    spec = load_data_yaml(yaml_path)
    assert spec.names == ["a", "b"] and spec.root == root and set(spec.splits) == {"train", "val"}
    assert spec.images("train") == [root / "images/val/a.png", root / "images/val/b.jpg"]
    assert spec.images("val") == [root / "lists/images/c.jpg", root / "elsewhere/d.jpg", Path("elsewhere/d.jpg")]
    assert yaml.safe_load(yaml_path.read_text())["names"] == {0: "a", 1: "b"}
    with pytest.raises(DatasetError, match="no 'test' split"):
        spec.images("test")


@pytest.mark.parametrize(("text", "error"), [(None, "does not exist"), ("[1, 2]", "must be a mapping"), ("a: [", "not valid YAML")])
def test_a_bad_data_yaml_is_one_clear_error(tmp_path: Path, text: str | None, error: str) -> None:
    path = tmp_path / "data.yaml"
    if text is not None:
        path.write_text(text)
    with pytest.raises(DatasetError, match=error):
        load_data_yaml(path)
