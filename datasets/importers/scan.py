"""Finding images in a source tree and naming the subset (split folder) each one sits in."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})
# Folder names that say "images" rather than which split they hold.
GENERIC_DIRS = frozenset({"images", "image", "jpegimages", "imgs", "img", "data"})


def find_images(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file():
            yield path


def subset_of(image: Path, root: Path) -> str | None:
    """The nearest non-generic folder between the image and the source root, e.g. `train`."""
    rel = image.relative_to(root).parent.parts
    for part in reversed(rel):
        if part.lower() not in GENERIC_DIRS:
            return part.removesuffix("_image")  # HiXray/OPIXray: train/train_image
    return None
