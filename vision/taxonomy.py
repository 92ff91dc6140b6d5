"""Class names, ids and categories, read from `configs/taxonomy.yaml` (package data)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml

from xscreen.errors import ConfigError
from xscreen.resources import TAXONOMY_FILE

Category = Literal["drugs", "firearms", "weapons", "benign"]
CATEGORIES: tuple[Category, ...] = ("drugs", "firearms", "weapons", "benign")
THREAT_CATEGORIES: tuple[Category, ...] = ("drugs", "firearms", "weapons")
DEFAULT_TAXONOMY_PATH = TAXONOMY_FILE


@dataclass(frozen=True)
class TaxonomyClass:
    id: int
    name: str
    category: Category
    description: str = ""

    @property
    def is_threat(self) -> bool:
        return self.category in THREAT_CATEGORIES


@dataclass(frozen=True)
class Taxonomy:
    version: int
    classes: tuple[TaxonomyClass, ...]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.classes]

    def __len__(self) -> int:
        return len(self.classes)

    def by_name(self, name: str) -> TaxonomyClass:
        for c in self.classes:
            if c.name == name:
                return c
        raise KeyError(f"unknown class {name!r}; taxonomy classes: {', '.join(self.names)}")

    def by_id(self, class_id: int) -> TaxonomyClass:
        if not 0 <= class_id < len(self.classes):
            raise KeyError(f"class id {class_id} outside taxonomy (0..{len(self.classes) - 1})")
        return self.classes[class_id]

    def id_of(self, name: str) -> int:
        return self.by_name(name).id

    def in_category(self, category: Category) -> list[TaxonomyClass]:
        return [c for c in self.classes if c.category == category]


def parse_taxonomy(data: dict) -> Taxonomy:
    """Validate a taxonomy mapping: ids contiguous from 0, unique names, known categories. Verdict levels
    are the decision policy's; an older file's per-class `alarm:` is not read."""
    try:
        raw = data["classes"]
        classes = tuple(
            TaxonomyClass(
                id=int(c["id"]),
                name=str(c["name"]),
                category=c["category"],
                description=str(c.get("description", "")),
            )
            for c in raw
        )
    except (KeyError, TypeError) as exc:
        raise ConfigError(f"taxonomy is missing a field: {exc}") from exc
    ids = [c.id for c in classes]
    if ids != list(range(len(classes))):
        raise ConfigError(f"taxonomy ids must be 0..{len(classes) - 1} in order, got {ids}")
    names = [c.name for c in classes]
    if len(set(names)) != len(names):
        raise ConfigError(f"taxonomy class names must be unique, got {names}")
    for c in classes:
        if c.category not in CATEGORIES:
            raise ConfigError(f"class {c.name!r}: category {c.category!r} not one of {CATEGORIES}")
    return Taxonomy(version=int(data.get("version", 1)), classes=classes)


def load_taxonomy(path: Path | str | None = None) -> Taxonomy:
    path = Path(path) if path is not None else DEFAULT_TAXONOMY_PATH
    if path == DEFAULT_TAXONOMY_PATH:
        return _default_taxonomy()
    return parse_taxonomy(yaml.safe_load(Path(path).read_text()))


@lru_cache(maxsize=1)
def _default_taxonomy() -> Taxonomy:
    return parse_taxonomy(yaml.safe_load(DEFAULT_TAXONOMY_PATH.read_text()))
