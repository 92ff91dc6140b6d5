"""Naming the subset (split folder) an image of a source tree sits in. Finding the images:
`xscreen.vision.yolo.find_images`."""

from __future__ import annotations

from pathlib import Path

# Folder names that say "images" rather than which split they hold.
GENERIC_DIRS = frozenset({"images", "image", "jpegimages", "imgs", "img", "data"})


def subset_of(image: Path, root: Path) -> str | None:
    """The nearest non-generic folder between the image and the source root, e.g. `train`."""
    rel = image.relative_to(root).parent.parts
    for part in reversed(rel):
        if part.lower() not in GENERIC_DIRS:
            return part.removesuffix("_image")  # HiXray/OPIXray: train/train_image
    return None
