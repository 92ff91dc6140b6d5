from collections import Counter

import pytest

from xscreen.checkout import CONFIGS_DIR
from xscreen.datasets.importers.names import NameMap, check_names, load_name_map
from xscreen.errors import ConfigError, DatasetError
from xscreen.vision.taxonomy import load_taxonomy


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("source: x\n", "non-empty `map:`"),
        ("map: {}\n", "non-empty `map:`"),
        ("map: [a, b]\n", "non-empty `map:`"),
        ("map: {Gun: pistol}\n", "outside the taxonomy: pistol"),
        ("map: {Gun: firearm\n", "cannot read"),
    ],
)
def test_load_name_map_refuses(tmp_path, text, message):
    path = tmp_path / "names.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_name_map(path, load_taxonomy())


@pytest.mark.parametrize("name", ["sixray", "opixray", "opixray-txt", "hixray", "pidray"])
def test_shipped_name_maps_load(name):
    load_name_map(CONFIGS_DIR / "names" / f"{name}.yaml", load_taxonomy())


def test_yolo_ids_read_as_strings_and_null_drops():
    tx = load_taxonomy()
    m = load_name_map(CONFIGS_DIR / "names/opixray.yaml", tx)
    assert m.mapping == {"0": "scissors", "1": "knife", "2": "knife", "3": "knife", "4": "knife"}
    assert m.class_id("0", tx) == tx.id_of("scissors")
    assert load_name_map(CONFIGS_DIR / "names/hixray.yaml", tx).class_id("Laptop", tx) is None


def test_unknown_names_listed_in_one_error_or_ignored():
    m = NameMap({"Gun": "firearm"})
    seen = Counter({"Gun": 3, "Baton": 2, "Taser": 1})
    with pytest.raises(DatasetError) as err:
        check_names(seen, m, ignore_unknown=False)
    assert "'Baton' (2 boxes)" in err.value.message and "'Taser' (1 boxes)" in err.value.message
    assert "--ignore-unknown" in err.value.message
    assert check_names(seen, m, ignore_unknown=True) == {"Baton", "Taser"}
