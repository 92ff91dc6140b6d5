"""Splits by content hash: a scan's split depends on its bytes and the seed, never on file order, so
copies of one scan (and, when grouped, its perceptual near-duplicates, e.g. the second view of a
dual-view scanner) always share a split.

A sample may arrive with a fixed split (the source's own val/ folder, honoured as the evaluation set).
A group holding members with different fixed splits goes wholly to the evaluation-most of them (test,
then val, then train): the evaluation set stays intact and none of its scans leak into training.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping

from xscreen.errors import ConfigError

SPLITS = ("train", "val", "test")
_EVAL_ORDER = {"test": 0, "val": 1, "train": 2}


def check_ratios(ratios: Mapping[str, float]) -> dict[str, float]:
    """Normalised ratios over known split names; refuse unknown names, negatives and an all-zero set."""
    unknown = set(ratios) - set(SPLITS)
    if unknown:
        raise ConfigError(f"split ratios name unknown splits {sorted(unknown)}; use {', '.join(SPLITS)}")
    if any(v < 0 for v in ratios.values()) or sum(ratios.values()) <= 0:
        raise ConfigError(f"split ratios must be non-negative with a positive sum, got {dict(ratios)}")
    total = sum(ratios.values())
    return {s: ratios.get(s, 0.0) / total for s in SPLITS}


def hash_fraction(key: str, seed: int) -> float:
    """A number in [0, 1) fixed by the key and seed alone."""
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split_for(key: str, ratios: Mapping[str, float], seed: int) -> str:
    """The split a key falls in under normalised `ratios` (see `check_ratios`)."""
    x = hash_fraction(key, seed)
    edge = 0.0
    for name in SPLITS:
        edge += ratios.get(name, 0.0)
        if x < edge:
            return name
    return next(s for s in reversed(SPLITS) if ratios.get(s, 0.0) > 0)


def group_ids(ids: Iterable[str], links: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Union-find over links: each id -> its group's smallest id."""
    parent = {i: i for i in ids}

    def find(i: str) -> str:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in links:
        if a in parent and b in parent:
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    return {i: find(i) for i in parent}


def assign_splits(
    fixed: Mapping[str, str | None],
    ratios: Mapping[str, float],
    seed: int,
    links: Iterable[tuple[str, str]] = (),
) -> dict[str, str]:
    """Split for every id in `fixed` (id -> fixed split or None); linked ids share one split."""
    groups = group_ids(fixed, links)
    members: dict[str, list[str]] = {}
    for i, g in groups.items():
        members.setdefault(g, []).append(i)
    out: dict[str, str] = {}
    for g, ids in members.items():
        pinned = [s for s in (fixed[i] for i in ids) if s is not None]
        split = min(pinned, key=_EVAL_ORDER.__getitem__) if pinned else split_for(g, ratios, seed)
        out.update(dict.fromkeys(ids, split))
    return out
