"""The importers on the real SIXray and OPIXray subsets in ../shared/data, with exact expected counts.

The counts were established once by hand (md5 of every file, the XML <name> tags, the YOLO ids) and
cross-checked against the importer; see docs/datasets.md.
"""

import hashlib
from collections import Counter

import pytest

from xscreen.checkout import CONFIGS_DIR
from xscreen.datasets.importers.imported import import_dataset, read_imported
from xscreen.datasets.importers.names import load_name_map
from xscreen.vision.taxonomy import load_taxonomy


@pytest.fixture(scope="module")
def sixray(shared_data, tmp_path_factory):
    tx = load_taxonomy()
    out = tmp_path_factory.mktemp("sixray")
    return import_dataset("voc", shared_data / "sixray-subset", out, name_map=load_name_map(CONFIGS_DIR / "names/sixray.yaml", tx), taxonomy=tx)


@pytest.fixture(scope="module")
def opixray(shared_data, tmp_path_factory):
    tx = load_taxonomy()
    out = tmp_path_factory.mktemp("opixray")
    return import_dataset("yolo", shared_data / "opixray-roboflow-subset", out, name_map=load_name_map(CONFIGS_DIR / "names/opixray.yaml", tx), taxonomy=tx)


def test_sixray_copies_of_one_scan_merge_into_one_sample(sixray):
    r = sixray.report
    assert r.images_listed == 990
    assert r.unique_images == len(sixray.samples) == 947  # 904 single files + 43 pairs of byte-identical copies
    assert len(r.identical_groups) == 43 and all(len(g) == 2 for g in r.identical_groups)
    assert r.identical_across_subsets == 18  # pairs with one copy in train/ and one in val/
    assert r.unreadable == [] and r.boxes_clipped == 0 and r.boxes_degenerate == 0 and r.boxes_merged_away == 0
    # Each copy carried one of the scan's boxes: the merged sample carries both.
    assert Counter(len(s.boxes) for s in sixray.samples) == {1: 904, 2: 43}
    assert all(len(s.origins) == 2 for s in sixray.samples if len(s.boxes) == 2)
    assert r.boxes_read == r.boxes_kept == 990


def test_sixray_class_mapping(sixray):
    tx = load_taxonomy()
    assert sixray.class_counts(tx) == {"firearm": 483, "knife": 237, "tool": 270}  # Gun, Knife, Wrench


def test_sixray_scan_with_a_copy_in_val_counts_as_val(sixray, shared_data):
    assert Counter(s.subset for s in sixray.samples) == {"train": 729, "val": 218}
    val_files = {f"val/{p.name}" for p in (shared_data / "sixray-subset/val").iterdir()}
    for s in sixray.samples:
        assert (s.subset == "val") == any(o in val_files for o in s.origins)


def test_sixray_near_duplicates_reported(sixray):
    # The second view of a dual-view scan is a different file with (nearly) the same pHash.
    assert len(sixray.report.near_duplicates) == 218
    assert ("train/0086.jpg", "val/0087.jpg", 0) in sixray.report.near_duplicates


def test_imported_set_round_trips(sixray):
    samples, meta = read_imported(sixray.out)
    assert [s.id for s in samples] == [s.id for s in sixray.samples]
    assert meta["format"] == "voc" and meta["hygiene"]["unique_images"] == 947
    first = samples[0]
    assert hashlib.sha256((sixray.out / first.file).read_bytes()).hexdigest() == first.id
    assert len(list((sixray.out / "images").iterdir())) == 947


def test_opixray_yolo_ids_map_to_scissors_and_knife(opixray):
    r = opixray.report
    assert r.images_listed == r.unique_images == 994
    assert r.identical_groups == [] and r.unreadable == []
    assert len(r.near_duplicates) == 30
    tx = load_taxonomy()
    # ids 0: 204 scissors; 1..4: 217 + 118 + 229 + 226 knives
    assert opixray.class_counts(tx) == {"knife": 790, "scissors": 204}
    assert {s.subset for s in opixray.samples} == {None}
    # Normalised YOLO boxes became pixels of the 416 x 416 export.
    assert {(s.width, s.height) for s in opixray.samples} == {(416, 416)}
    assert all(0 <= b[1] < b[3] <= 416 and 0 <= b[2] < b[4] <= 416 for s in opixray.samples for b in s.boxes)
