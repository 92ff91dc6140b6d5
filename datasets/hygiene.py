"""Data hygiene for imported sets: byte-identical copies, perceptual near-duplicates, boxes outside the
image or too small to be objects, and images that do not decode.

Each check is a small pure function so the importer and the builder apply the same rules; what they
found is gathered in a `HygieneReport` written beside the data.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import asdict, dataclass, field

import numpy as np

# Above this many differing bits of a 64-bit pHash two images are different scans. 0..4 catches
# re-encodes and small crops of one scan without merging different bags of the same scanner.
DEFAULT_NEAR_DUPLICATE_BITS = 4
# A box narrower or lower than this (pixels, after clipping) is not an object anyone can label.
DEFAULT_MIN_BOX_PX = 2.0


@dataclass
class HygieneReport:
    images_listed: int = 0  # annotated image files the reader found
    unique_images: int = 0  # distinct contents among them that decode
    unreadable: list[str] = field(default_factory=list)
    identical_groups: list[list[str]] = field(default_factory=list)  # files sharing one content, >1 each
    identical_across_subsets: int = 0  # of those groups, how many straddled the source's split folders
    near_duplicates: list[tuple[str, str, int]] = field(default_factory=list)  # (file, file, bits)
    boxes_read: int = 0
    boxes_unmapped: dict[str, int] = field(default_factory=dict)  # source name -> boxes dropped by the map
    boxes_merged_away: int = 0  # exact repeats of a box on a copy of the same scan
    boxes_clipped: int = 0
    boxes_degenerate: int = 0
    boxes_kept: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def inspect_image(data: bytes) -> tuple[int, int, int] | None:
    """(width, height, 64-bit pHash) of an encoded image, or None when it does not decode."""
    import imagehash
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            width, height = img.size
            # JPEG DCT scaling: pHash looks at 32 x 32, so decoding at 1/8 scale is enough and ~10x faster.
            img.draft("L", (max(64, width // 8), max(64, height // 8)))
            img.load()
            digest = imagehash.phash(img)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return None
    bits = np.packbits(digest.hash.flatten())
    return width, height, int.from_bytes(bits.tobytes(), "big")


def near_duplicate_pairs(hashes: list[int], max_bits: int = DEFAULT_NEAR_DUPLICATE_BITS) -> list[tuple[int, int, int]]:
    """Index pairs (i < j) whose pHashes differ in at most `max_bits` bits, with the distance."""
    if len(hashes) < 2:
        return []
    h = np.array(hashes, dtype=np.uint64)
    pairs: list[tuple[int, int, int]] = []
    for i in range(len(h) - 1):
        x = np.bitwise_xor(h[i + 1 :], h[i])
        bits = np.unpackbits(x.view(np.uint8).reshape(-1, 8), axis=1).sum(axis=1)
        for j in np.nonzero(bits <= max_bits)[0]:
            pairs.append((i, i + 1 + int(j), int(bits[j])))
    return pairs


def clip_boxes(xyxy: np.ndarray, width: int, height: int, min_px: float = DEFAULT_MIN_BOX_PX) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Clip (n, 4) pixel boxes to the image: (clipped boxes, keep mask, number clipped, number degenerate).

    A box is degenerate when, after clipping, it is narrower or lower than `min_px` or not finite.
    """
    xyxy = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
    finite = np.isfinite(xyxy).all(axis=1)
    ordered = np.concatenate([np.minimum(xyxy[:, :2], xyxy[:, 2:]), np.maximum(xyxy[:, :2], xyxy[:, 2:])], axis=1)
    clipped = ordered.copy()
    clipped[:, [0, 2]] = clipped[:, [0, 2]].clip(0, width)
    clipped[:, [1, 3]] = clipped[:, [1, 3]].clip(0, height)
    changed = finite & (np.abs(clipped - ordered) > 1e-6).any(axis=1)
    wh = clipped[:, 2:] - clipped[:, :2]
    keep = finite & (wh >= min_px).all(axis=1)
    return clipped, keep, int((changed & keep).sum()), int((~keep).sum())


def unique_boxes(boxes: list[tuple[int, float, float, float, float]], tol_px: float = 0.5) -> list[tuple[int, float, float, float, float]]:
    """Drop repeats of one box (same class, corners within `tol_px`), as copies of one scan carry."""
    kept: list[tuple[int, float, float, float, float]] = []
    for box in boxes:
        if not any(k[0] == box[0] and max(abs(a - b) for a, b in zip(k[1:], box[1:])) <= tol_px for k in kept):
            kept.append(box)
    return kept
