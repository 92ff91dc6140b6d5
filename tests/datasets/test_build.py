"""`build_dataset` on the real recipe (configs/data/real.yaml) and on tiny recipes."""

import hashlib
import json
from collections import Counter, defaultdict
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from xscreen.checkout import CONFIGS_DIR
from xscreen.datasets.build import build_dataset
from xscreen.datasets.recipe import BuildRecipe, load_recipe
from xscreen.errors import ConfigError, DatasetError
from xscreen.vision.taxonomy import load_taxonomy


@pytest.fixture(scope="module")
def real(shared_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("real")
    return build_dataset(load_recipe(CONFIGS_DIR / "data/real.yaml"), out)


def _manifest(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]


def test_real_counts_per_source_and_split(real):
    # SIXray: 947 distinct scans; its val/ folder (218) plus 49 train-folder scans that are copies or
    # second views of val scans make val. OPIXray: 994 scans split 80/10/10 by content hash.
    assert real.counts == {"sixray": {"train": 680, "val": 267, "test": 0}, "opixray": {"train": 803, "val": 101, "test": 90}}
    assert real.duplicates_across_sources == 0
    for split, n in (("train", 1483), ("val", 368), ("test", 90)):
        assert len(list((real.out / "images" / split).iterdir())) == n
        assert len(list((real.out / "labels" / split).glob("*.txt"))) == n


def test_real_split_never_separates_copies_of_a_scan(real, shared_data):
    split_of_file: dict[str, set[str]] = defaultdict(set)
    for rec in _manifest(real.out):
        root = shared_data / ("sixray-subset" if rec["source"] == "sixray" else "opixray-roboflow-subset")
        for origin in rec["origins"]:
            split_of_file[hashlib.md5((root / origin).read_bytes()).hexdigest()].add(rec["split"])
            if rec["source"] == "sixray" and origin.startswith("val/"):
                assert rec["split"] == "val", origin  # the SIXray val folder is honoured as validation
    assert all(len(s) == 1 for s in split_of_file.values())
    assert len(split_of_file) == 947 + 994
    sixray_files = sum(len(r["origins"]) for r in _manifest(real.out) if r["source"] == "sixray")
    assert sixray_files == 990


def test_real_near_duplicate_views_share_a_split(real, shared_data):
    report = json.loads((real.out / "sources" / "sixray.import.json").read_text())
    split = {o: r["split"] for r in _manifest(real.out) if r["source"] == "sixray" for o in r["origins"]}
    pairs = report["hygiene"]["near_duplicates"]
    assert len(pairs) == 218
    assert all(split[a] == split[b] for a, b, _ in pairs)


def test_real_labels_use_taxonomy_ids(real):
    tx = load_taxonomy()
    data = yaml.safe_load(real.data_yaml.read_text())
    assert data["names"] == dict(enumerate(tx.names)) and data["nc"] == len(tx)
    assert "path" not in data  # resolved beside the file, so the folder can move
    counts = Counter()
    for label in (real.out / "labels").rglob("*.txt"):
        for line in label.read_text().splitlines():
            cid, *xywh = line.split()
            counts[tx.names[int(cid)]] += 1
            assert all(0 <= float(v) <= 1 for v in xywh)
    assert counts == {"firearm": 483, "knife": 237 + 790, "tool": 270, "scissors": 204}


def test_real_images_capped_at_640(real):
    stats = json.loads((real.out / "stats.json").read_text())
    assert stats["image_width"]["max"] <= 640 and stats["image_height"]["max"] <= 640
    assert stats["splits"]["val"]["sources"] == {"sixray": 267, "opixray": 101}


def test_real_per_source_lists_and_card(real):
    sixray = yaml.safe_load((real.out / "data-sixray.yaml").read_text())
    assert sixray["val"] == "val-sixray.txt" and "test" not in sixray
    listed = (real.out / "val-sixray.txt").read_text().split()
    assert len(listed) == 267 and all((real.out / p).is_file() for p in listed)
    card = (real.out / "README.md").read_text()
    assert "CC BY 4.0" in card and "43 groups of byte-identical copies merged" in card
    assert {p.name for p in (real.out / "plots").iterdir()} == {"class_counts.png", "box_sizes.png", "image_sizes.png"}
    build = json.loads((real.out / "build.json").read_text())
    assert build["split"] == {"ratios": {"train": 0.8, "val": 0.1, "test": 0.1}, "seed": 0, "group_near_duplicates": True}


def _tiny_imported(tmp_path: Path) -> Path:
    """A YOLO source of four 100 x 200 scans imported with taxonomy names."""
    from xscreen.datasets.importers.imported import import_dataset
    from xscreen.datasets.importers.names import NameMap

    src = tmp_path / "src"
    (src / "images").mkdir(parents=True)
    (src / "labels").mkdir()
    for i in range(4):
        img = np.full((100, 200, 3), 220, np.uint8)
        cv2.rectangle(img, (10 + 30 * i, 20), (60 + 30 * i, 80), (20, 80, 200), -1)
        cv2.imwrite(str(src / "images" / f"{i}.png"), img)
        (src / "labels" / f"{i}.txt").write_text("4 0.5 0.5 0.25 0.6\n")
    tx = load_taxonomy()
    import_dataset("yolo", src, tmp_path / "imported", name_map=NameMap({"4": "knife"}), taxonomy=tx)
    return tmp_path / "imported"


def test_build_from_imported_folder_resizes_and_scales_boxes(tmp_path):
    recipe = BuildRecipe.model_validate(
        {"name": "tiny", "max_side": 50, "split": {"ratios": {"train": 1}}, "sources": [{"name": "t", "imported": str(_tiny_imported(tmp_path))}]}
    )
    result = build_dataset(recipe, tmp_path / "ds")
    assert result.counts == {"t": {"train": 4, "val": 0, "test": 0}}
    for image in (tmp_path / "ds" / "images" / "train").iterdir():
        assert cv2.imread(str(image)).shape[:2] == (25, 50)
        label = tmp_path / "ds" / "labels" / "train" / f"{image.stem}.txt"
        assert label.read_text().split()[0] == "4"
        np.testing.assert_allclose([float(v) for v in label.read_text().split()[1:]], [0.5, 0.5, 0.25, 0.6], atol=1e-5)

    with pytest.raises(DatasetError, match="--overwrite"):
        build_dataset(recipe, tmp_path / "ds")
    build_dataset(recipe, tmp_path / "ds", overwrite=True)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "x").write_text("x")
    with pytest.raises(DatasetError, match="not a built dataset"):
        build_dataset(recipe, tmp_path / "other", overwrite=True)


def test_same_scan_in_two_sources_is_kept_once(tmp_path):
    imported = str(_tiny_imported(tmp_path))
    recipe = BuildRecipe.model_validate({"name": "twice", "max_side": None, "sources": [{"name": "a", "imported": imported}, {"name": "b", "imported": imported}]})
    result = build_dataset(recipe, tmp_path / "ds")
    assert sum(result.counts["a"].values()) == 4 and "b" not in result.counts
    assert result.duplicates_across_sources == 4


@pytest.mark.parametrize(
    ("recipe", "message"),
    [
        ({"name": "x", "sources": []}, "at least 1"),
        ({"name": "x", "sources": [{"name": "a"}]}, "either `imported`"),
        ({"name": "x", "sources": [{"name": "a", "src": "s"}]}, "needs `format` and `names`"),
        ({"name": "x", "sources": [{"name": "a", "imported": "i"}, {"name": "a", "imported": "j"}]}, "unique"),
        ({"name": "x", "sources": [{"name": "a", "imported": "i"}], "colour": "sepia"}, "colour"),
        ({"name": "x", "sources": [{"name": "a", "imported": "i", "subsets": {"val": "dev"}}]}, "subsets"),
        ({"name": "x", "sources": [{"name": "a", "imported": "i"}], "extra": 1}, "extra"),
        ({"name": "x", "sources": [{"name": "t", "kind": "tip", "count": 5, "backgrounds": ["zz"]}]}, "not import sources"),
    ],
)
def test_bad_recipes_refused(tmp_path, recipe, message):
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(recipe))
    with pytest.raises(ConfigError, match=message):
        load_recipe(path)


def test_shipped_recipes_load():
    for path in (CONFIGS_DIR / "data").glob("*.yaml"):
        load_recipe(path)


def test_gray_build_hands_rgb_to_the_physics_conversion(tmp_path, monkeypatch):
    convert = pytest.importorskip("xscreen.vision.xray.convert")
    seen = []

    def fake(rgb, profile=None):
        seen.append(rgb[rgb.shape[0] // 2, rgb.shape[1] * 30 // 200].tolist())  # in scan 0's box: BGR (20, 80, 200) on disk
        return rgb[..., 0]

    monkeypatch.setattr(convert, "colour_to_gray", fake)
    imported = _tiny_imported(tmp_path)
    recipe = BuildRecipe.model_validate({"name": "g", "colour": "gray", "max_side": 100, "sources": [{"name": "t", "imported": str(imported)}]})
    build_dataset(recipe, tmp_path / "ds")
    assert len(seen) == 4 and [200, 80, 20] in seen
    for path in (tmp_path / "ds" / "images").rglob("*.jpg"):
        assert cv2.imread(str(path), cv2.IMREAD_UNCHANGED).shape == (50, 100)


@pytest.mark.slow  # the conversion builds its colour -> attenuation table once per process (~10 s)
def test_gray_build_goes_through_the_physics_conversion(tmp_path):
    convert = pytest.importorskip("xscreen.vision.xray.convert")
    imported = _tiny_imported(tmp_path)
    recipe = BuildRecipe.model_validate({"name": "g", "colour": "gray", "max_side": None, "sources": [{"name": "t", "imported": str(imported)}]})
    build_dataset(recipe, tmp_path / "ds")
    outputs = sorted((tmp_path / "ds" / "images").rglob("*.jpg"))
    assert len(outputs) == 4
    for path in outputs:
        gray = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        assert gray.ndim == 2 and gray.shape == (100, 200)
        source = cv2.imread(str(next((imported / "images").glob(f"{path.stem.split('_')[1]}*"))))
        expected = convert.colour_to_gray(cv2.cvtColor(source, cv2.COLOR_BGR2RGB))
        assert np.abs(gray.astype(int) - expected.astype(int)).mean() < 2  # JPEG noise only


def test_reencoded_copy_in_another_source_shares_the_split(tmp_path):
    from xscreen.datasets.importers.imported import import_dataset
    from xscreen.datasets.importers.names import NameMap

    first = _tiny_imported(tmp_path)
    src = tmp_path / "reencoded"
    (src / "images").mkdir(parents=True)
    for i, image in enumerate(sorted((first / "images").iterdir())):
        cv2.imwrite(str(src / "images" / f"r{i}.jpg"), cv2.imread(str(image)), [cv2.IMWRITE_JPEG_QUALITY, 85])
    import_dataset("yolo", src, tmp_path / "second", name_map=NameMap({}), taxonomy=load_taxonomy())
    recipe = BuildRecipe.model_validate(
        {"name": "x", "max_side": None, "split": {"ratios": {"train": 0.5, "val": 0.5}},
         "sources": [{"name": "a", "imported": str(first)}, {"name": "b", "imported": str(tmp_path / "second")}]}
    )
    build_dataset(recipe, tmp_path / "ds")
    record = json.loads((tmp_path / "ds" / "build.json").read_text())
    pairs = record["near_duplicates_across_sources"]
    assert len(pairs) >= 4
    split = {(r["source"], r["origins"][0]): r["split"] for r in _manifest(tmp_path / "ds")}
    assert all(split[(sa, oa)] == split[(sb, ob)] for sa, oa, sb, ob in pairs)
