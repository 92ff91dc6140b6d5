"""Importers for public X-ray label formats into one imported-set layout (see `imported.py`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from xscreen.datasets.importers.coco import read_coco
from xscreen.datasets.importers.records import SourceBox, SourceSample
from xscreen.datasets.importers.txt_layout import read_txt_layout
from xscreen.datasets.importers.voc import read_voc
from xscreen.datasets.importers.yolo import read_yolo

Reader = Callable[[Path], Iterator[SourceSample]]

# Format name -> reader. HiXray and the original OPIXray release share one txt layout.
READERS: dict[str, Reader] = {
    "voc": read_voc,
    "yolo": read_yolo,
    "coco": read_coco,
    "hixray": read_txt_layout,
    "opixray": read_txt_layout,
}

__all__ = ["READERS", "Reader", "SourceBox", "SourceSample"]
