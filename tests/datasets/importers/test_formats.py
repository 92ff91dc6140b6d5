"""Each reader on a tiny set written in its format, and the import's hygiene on crafted flaws."""

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from xscreen.datasets.importers.imported import import_dataset
from xscreen.datasets.importers.names import NameMap
from xscreen.errors import DatasetError
from xscreen.vision.taxonomy import load_taxonomy

TX = load_taxonomy()
MAP = NameMap({"Gun": "firearm", "Knife": "knife", "Scissor": "scissors", "Laptop": None})


def _image(path: Path, seed: int, size: tuple[int, int] = (80, 120)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = np.full((*size, 3), 230, np.uint8)
    cv2.circle(img, (20 + seed * 7 % 60, 30), 10 + seed % 5, (30, 90, 200), -1)
    cv2.rectangle(img, (seed % 40, 50), (seed % 40 + 30, 70), (200, 60, 10), -1)
    cv2.imwrite(str(path), img)
    return path


def _voc(path: Path, objects: list[tuple[str, tuple[float, float, float, float]]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    objs = "".join(
        f"<object><name>{n}</name><bndbox><xmin>{b[0]}</xmin><ymin>{b[1]}</ymin><xmax>{b[2]}</xmax><ymax>{b[3]}</ymax></bndbox></object>"
        for n, b in objects
    )
    path.write_text(f"<annotation><filename>x.jpg</filename>{objs}</annotation>")


def test_voc_merges_copies_clips_and_drops_degenerate_boxes(tmp_path):
    src = tmp_path / "src"
    a = _image(src / "train" / "0001.png", 1)
    (src / "val").mkdir()
    (src / "val" / "0002.png").write_bytes(a.read_bytes())  # the same scan again, listed with its other box
    _image(src / "train" / "0003.png", 3)
    (src / "train" / "0004.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    _voc(src / "Annotation" / "0001.xml", [("Gun", (10, 10, 50, 40))])
    _voc(src / "Annotation" / "0002.xml", [("Knife", (-8.5, 20, 60.25, 95)), ("Gun", (10, 10, 50, 40))])
    _voc(src / "Annotation" / "0003.xml", [("Knife", (30, 30, 30.5, 60)), ("Laptop", (1, 1, 20, 20))])
    _voc(src / "Annotation" / "0004.xml", [("Gun", (1, 1, 20, 20))])

    result = import_dataset("voc", src, tmp_path / "out", name_map=MAP, taxonomy=TX)
    r = result.report
    assert (r.images_listed, r.unique_images) == (4, 2)
    assert r.unreadable == ["train/0004.png"]
    assert r.identical_groups == [["train/0001.png", "val/0002.png"]] and r.identical_across_subsets == 1
    assert (r.boxes_clipped, r.boxes_degenerate, r.boxes_merged_away) == (1, 1, 1)
    assert r.boxes_unmapped == {"Laptop": 1}
    merged = next(s for s in result.samples if len(s.origins) == 2)
    assert merged.subset == "val"
    assert sorted(merged.boxes) == [(TX.id_of("firearm"), 10, 10, 50, 40), (TX.id_of("knife"), 0, 20, 60.25, 80)]
    other = next(s for s in result.samples if len(s.origins) == 1)
    assert other.boxes == [] and other.subset == "train"
    lines = (tmp_path / "out" / "samples.jsonl").read_text().splitlines()
    assert len(lines) == 2 and json.loads((tmp_path / "out" / "import.json").read_text())["hygiene"]["unreadable"] == ["train/0004.png"]


def test_unknown_names_fail_listing_them_or_are_dropped(tmp_path):
    src = tmp_path / "src"
    _image(src / "JPEGImages" / "a.png", 1)
    _voc(src / "Annotations" / "a.xml", [("Gun", (1, 1, 30, 30)), ("Baton", (2, 2, 40, 40)), ("Taser", (2, 2, 40, 40))])
    with pytest.raises(DatasetError, match="'Baton' \\(1 boxes\\), 'Taser' \\(1 boxes\\)"):
        import_dataset("voc", src, tmp_path / "out", name_map=MAP, taxonomy=TX)
    assert not (tmp_path / "out").exists()
    result = import_dataset("voc", src, tmp_path / "out", name_map=MAP, taxonomy=TX, ignore_unknown=True)
    assert result.report.boxes_unmapped == {"Baton": 1, "Taser": 1}
    assert [b[0] for b in result.samples[0].boxes] == [TX.id_of("firearm")]
    assert result.samples[0].subset is None  # JPEGImages names no split


def test_yolo_names_from_data_yaml_subfolders_and_backgrounds(tmp_path):
    src = tmp_path / "src"
    _image(src / "images" / "train" / "a.png", 1, (100, 200))
    _image(src / "images" / "val" / "b.png", 2)
    (src / "labels" / "train").mkdir(parents=True)
    (src / "labels" / "train" / "a.txt").write_text("1 0.5 0.5 0.2 0.4\n0 0.95 0.5 0.2 0.2\nbad line\n")
    (src / "data.yaml").write_text("names: {0: Gun, 1: Knife}\n")
    result = import_dataset("yolo", src, tmp_path / "out", name_map=MAP, taxonomy=TX)
    a = next(s for s in result.samples if s.subset == "train")
    assert a.boxes == [(TX.id_of("knife"), 80.0, 30.0, 120.0, 70.0), (TX.id_of("firearm"), 170.0, 40.0, 200.0, 60.0)]
    assert result.report.boxes_clipped == 1
    b = next(s for s in result.samples if s.subset == "val")
    assert b.boxes == []  # no label file: a background image


def test_coco_json_stem_is_subset_and_crowd_skipped(tmp_path):
    src = tmp_path / "pidray"
    _image(src / "train" / "x1.png", 1)
    _image(src / "easy" / "x2.png", 2)
    coco = {
        "images": [{"id": 1, "file_name": "x1.png", "width": 120, "height": 80}],
        "categories": [{"id": 7, "name": "Gun"}, {"id": 9, "name": "Laptop"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 7, "bbox": [10, 20, 30, 40], "iscrowd": 0},
            {"id": 2, "image_id": 1, "category_id": 9, "bbox": [0, 0, 5, 5], "iscrowd": 0},
            {"id": 3, "image_id": 1, "category_id": 7, "bbox": [0, 0, 50, 50], "iscrowd": 1},
        ],
    }
    (src / "annotations").mkdir()
    (src / "annotations" / "xray_train.json").write_text(json.dumps(coco))
    test = {"images": [{"id": 5, "file_name": "easy/x2.png"}], "categories": coco["categories"],
            "annotations": [{"id": 9, "image_id": 5, "category_id": 7, "bbox": [1, 2, 3, 4]}]}
    (src / "annotations" / "xray_test_easy.json").write_text(json.dumps(test))
    result = import_dataset("coco", src, tmp_path / "out", name_map=MAP, taxonomy=TX)
    by_subset = {s.subset: s for s in result.samples}
    assert by_subset["xray_train"].boxes == [(TX.id_of("firearm"), 10.0, 20.0, 40.0, 60.0)]
    assert by_subset["xray_test_easy"].boxes == [(TX.id_of("firearm"), 1.0, 2.0, 4.0, 6.0)]


@pytest.mark.parametrize("fmt", ["hixray", "opixray"])
def test_txt_layout(tmp_path, fmt):
    src = tmp_path / "src"
    _image(src / "train" / "train_image" / "009000.png", 1)
    _image(src / "test" / "test_image" / "009001.png", 2)
    _image(src / "test" / "test_image" / "009002.png", 3)  # no annotation file: not part of the set
    (src / "train" / "train_annotation").mkdir(parents=True)
    (src / "test" / "test_annotation").mkdir(parents=True)
    (src / "train" / "train_annotation" / "009000.txt").write_text("009000.png Scissor 5 6 50 60\n009000.png Knife 1 2 3 40\n009000.png Knife x 2 3 40\n\n")
    (src / "test" / "test_annotation" / "009001.txt").write_text("009001.png Knife 10 10 40 40\n")
    result = import_dataset(fmt, src, tmp_path / "out", name_map=MAP, taxonomy=TX)
    assert {s.subset: s.boxes for s in result.samples} == {
        "train": [(TX.id_of("scissors"), 5.0, 6.0, 50.0, 60.0), (TX.id_of("knife"), 1.0, 2.0, 3.0, 40.0)],
        "test": [(TX.id_of("knife"), 10.0, 10.0, 40.0, 40.0)],
    }


@pytest.mark.parametrize(
    ("fmt", "make", "message"),
    [
        ("voc", lambda p: _image(p / "a.png", 1), "no Pascal VOC"),
        ("yolo", lambda p: _image(p / "a.png", 1), "no images/ folder"),
        ("coco", lambda p: _image(p / "a.png", 1), "no COCO"),
        ("hixray", lambda p: _image(p / "a.png", 1), "annotation"),
        ("coco", lambda p: (p / "bad.json").write_text("{}"), "not COCO detection json"),
        ("pascal", lambda p: None, "unknown format"),
    ],
)
def test_import_refuses(tmp_path, fmt, make, message):
    src = tmp_path / "src"
    src.mkdir()
    make(src)
    with pytest.raises(DatasetError, match=message):
        import_dataset(fmt, src, tmp_path / "out", name_map=MAP, taxonomy=TX)


def test_import_will_not_overwrite_a_foreign_folder(tmp_path):
    src = tmp_path / "src"
    _image(src / "images" / "a.png", 1)
    out = tmp_path / "out"
    out.mkdir()
    (out / "precious.txt").write_text("keep")
    with pytest.raises(DatasetError, match="not an imported set"):
        import_dataset("yolo", src, out, name_map=MAP, taxonomy=TX)
    assert (out / "precious.txt").read_text() == "keep"
    out2 = tmp_path / "out2"
    import_dataset("yolo", src, out2, name_map=MAP, taxonomy=TX)
    import_dataset("yolo", src, out2, name_map=MAP, taxonomy=TX)  # re-import replaces its own output
    assert len(list((out2 / "images").iterdir())) == 1
