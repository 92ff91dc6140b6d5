"""Class-name mapping files: a source's class names (or YOLO ids) to taxonomy names.

    # configs/names/sixray.yaml
    source: SIXray
    map:
      Gun: firearm
      Knife: knife
      Wrench: tool
      Hammer: null      # known, deliberately dropped

Unknown names are an error that lists them all, unless the caller asks to ignore them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import yaml

from xscreen.errors import ConfigError, DatasetError
from xscreen.vision.taxonomy import Taxonomy


@dataclass(frozen=True)
class NameMap:
    mapping: dict[str, str | None]  # source name -> taxonomy name; None: drop on purpose
    path: Path | None = None

    @classmethod
    def identity(cls, taxonomy: Taxonomy) -> "NameMap":
        """Sources already labelled in taxonomy names (our own exports, synthetic sets)."""
        return cls({name: name for name in taxonomy.names})

    def class_id(self, name: str, taxonomy: Taxonomy) -> int | None:
        """Taxonomy id for a mapped name; None when the map drops it. KeyError when unknown."""
        target = self.mapping[name]
        return None if target is None else taxonomy.id_of(target)


def load_name_map(path: Path | str, taxonomy: Taxonomy) -> NameMap:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read name map {path}: {exc}") from exc
    raw = (data or {}).get("map") if isinstance(data, dict) else None
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(f"name map {path} needs a non-empty `map:` of source name -> taxonomy name")
    # YAML reads YOLO ids as ints; the readers give every name as a string.
    mapping = {str(k): (None if v is None else str(v)) for k, v in raw.items()}
    bad = sorted({v for v in mapping.values() if v is not None and v not in taxonomy.names})
    if bad:
        raise ConfigError(f"name map {path} maps to names outside the taxonomy: {', '.join(bad)}; taxonomy: {', '.join(taxonomy.names)}")
    return NameMap(mapping, path)


def check_names(seen: Counter[str], name_map: NameMap, *, ignore_unknown: bool) -> set[str]:
    """Return the unknown source names; raise listing them all unless they are to be ignored."""
    unknown = {n for n in seen if n not in name_map.mapping}
    if unknown and not ignore_unknown:
        listed = ", ".join(f"{n!r} ({seen[n]} boxes)" for n in sorted(unknown))
        where = f" in {name_map.path}" if name_map.path else ""
        raise DatasetError(f"source class names not in the name map{where}: {listed}; add them to the map or pass --ignore-unknown")
    return unknown
