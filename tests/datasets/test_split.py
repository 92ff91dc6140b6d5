from collections import Counter

import pytest

from xscreen.datasets.split import assign_splits, check_ratios, group_ids, hash_fraction, split_for
from xscreen.errors import ConfigError


def test_split_is_a_function_of_key_and_seed():
    ratios = check_ratios({"train": 0.8, "val": 0.1, "test": 0.1})
    keys = [f"{i:064x}" for i in range(2000)]
    first = [split_for(k, ratios, 0) for k in keys]
    assert first == [split_for(k, ratios, 0) for k in keys]
    assert first != [split_for(k, ratios, 1) for k in keys]
    counts = Counter(first)
    assert 1500 < counts["train"] < 1700 and 130 < counts["val"] < 270 and 130 < counts["test"] < 270


def test_zero_ratio_split_never_chosen():
    ratios = check_ratios({"train": 3, "val": 1})
    assert ratios == {"train": 0.75, "val": 0.25, "test": 0.0}
    assert {split_for(str(i), ratios, 7) for i in range(500)} == {"train", "val"}


@pytest.mark.parametrize("ratios", [{"train": 0.8, "dev": 0.2}, {"train": -1, "val": 2}, {"train": 0, "val": 0}, {}])
def test_check_ratios_refuses(ratios):
    with pytest.raises(ConfigError):
        check_ratios(ratios)


def test_hash_fraction_range():
    assert all(0 <= hash_fraction(str(i), 3) < 1 for i in range(100))


def test_group_ids_joins_transitively_and_ignores_unknown_ids():
    groups = group_ids(["a", "b", "c", "d"], [("b", "c"), ("c", "d"), ("d", "zz")])
    assert groups == {"a": "a", "b": "b", "c": "b", "d": "b"}


def test_assign_splits_keeps_linked_ids_together_and_pinned_eval_wins():
    ratios = check_ratios({"train": 0.5, "val": 0.5})
    fixed = {f"k{i}": None for i in range(200)}
    links = [(f"k{i}", f"k{i + 1}") for i in range(0, 200, 2)]
    out = assign_splits(fixed, ratios, 0, links)
    assert all(out[a] == out[b] for a, b in links)
    assert set(out.values()) == {"train", "val"}

    pinned = {"a": "train", "b": "val", "c": None, "d": "train", "e": "test"}
    out = assign_splits(pinned, ratios, 0, [("a", "b"), ("b", "c"), ("d", "e")])
    assert out == {"a": "val", "b": "val", "c": "val", "d": "test", "e": "test"}
