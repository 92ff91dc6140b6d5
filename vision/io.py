"""Decode what a scanner station sends into a `Scan`.

Formats are recognised by their leading bytes, never by the file name (stations mislabel):
- JPEG, PNG, BMP, WebP: 8-bit colour or gray display images; 16-bit PNG is a raw single-energy scan.
  Decoded by OpenCV, as ultralytics decodes training images, so pixels match what the model trained on.
- TIFF: 8-bit colour / gray, 16-bit or float single-energy raw, or two channels / two pages = dual-energy raw
  (low energy first).
- NPZ: arrays `low` and `high` (dual-energy raw), or one array laid out as a TIFF would be; an optional
  scalar `pixel_pitch_mm`.
- DICOM (uncompressed pixel data): monochrome = single-energy raw, RGB = colour, two frames = dual-energy.

EXIF / TIFF orientation is applied. The pixel count and the decoded size are checked from the header before
any pixel is decoded, so a decompression bomb costs a header read; a caller that budgets memory across
requests (the service's admission) passes `reserve`, which gets the decoded size before it is allocated.
Errors are typed: `ScanDecodeError` (known format, bad bytes), `UnsupportedMedia` (unknown format),
`ScanTooLarge` (over the pixel or byte limit); `reserve` may raise its own (the service's 429).
"""

from __future__ import annotations

import io
import logging
import re
import zipfile
from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

from xscreen.errors import ScanDecodeError, ScanTooLarge, UnsupportedMedia, XscreenError
from xscreen.vision.scan import Scan, ScanKind
from xscreen.vision.yolo import IMAGE_SUFFIXES

logger = logging.getLogger(__name__)

_EXIF_ORIENTATION = 0x0112

# File suffixes a walk of a folder of scans picks up (decoding itself goes by the leading bytes, never the
# name): a dataset's display images (what ultralytics reads) and the raw formats stations send.
SCAN_SUFFIXES = IMAGE_SUFFIXES | {".npz", ".dcm", ".dicom"}


def sniff_format(data: bytes) -> str | None:
    """The container format from the leading bytes, or None when unknown."""
    if data[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if data[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "tiff"
    if data[:4] == b"PK\x03\x04":
        return "npz"
    if len(data) >= 132 and data[128:132] == b"DICM":
        return "dicom"
    if data[:2] == b"BM":
        return "bmp"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def read_scan(
    data: bytes,
    *,
    filename: str | None = None,
    max_pixels: int | None = None,
    max_bytes: int | None = None,
    reserve: Callable[[int], None] | None = None,
) -> Scan:
    """Decode image bytes into a `Scan`; `max_pixels` defaults to `settings.max_image_pixels`.

    `max_bytes` caps the decoded arrays (default and ceiling `MAX_BYTES_PER_PIXEL * max_pixels`); `reserve`,
    when given, is called once with the decoded size read from the header, before the pixels are decoded."""
    name = filename or "<bytes>"
    if not data:
        raise ScanDecodeError(f"{name}: empty file")
    if max_pixels is None:
        from xscreen.settings import get_settings

        max_pixels = get_settings().max_image_pixels
    fmt = sniff_format(data)
    if fmt is None:
        raise UnsupportedMedia(
            f"{name}: not a supported scan format (JPEG, PNG, BMP, WebP, TIFF, NPZ, DICOM); starts with {data[:8]!r}"
        )
    ceiling = MAX_BYTES_PER_PIXEL * max_pixels
    limits = DecodeLimits(max_pixels, ceiling if max_bytes is None else min(max_bytes, ceiling), reserve)
    decoder = _DECODERS[fmt]
    try:
        pixels, kind, pitch = decoder(data, name, limits)
    except XscreenError:  # ours, and whatever `reserve` refuses with
        raise
    except Exception as exc:  # any library's complaint about malformed bytes is a decode error for the caller
        # without the library's reprs of its buffers (`<_io.BytesIO object at 0x7f...>`): they name no file
        reason = re.sub(r"<[^<>]* at 0x[0-9a-fA-F]+>", "the data", str(exc))
        raise ScanDecodeError(f"{name}: cannot decode {fmt}: {reason}") from exc
    # a float64 sum is NaN or Inf exactly when a value is (float32 values cannot overflow it), with no full-size mask
    if pixels.dtype.kind == "f" and not np.isfinite(np.sum(pixels, dtype=np.float64)):
        bad = int(np.count_nonzero(~np.isfinite(pixels)))
        # NaN or Inf would reach the model as garbage and the scan be cleared: the detector output is unusable
        raise ScanDecodeError(f"{name}: raw data holds {bad:,} NaN or infinite values of {pixels.size:,}; the scan cannot be screened")
    return Scan(pixels=pixels, kind=kind, source=filename, format=fmt, pixel_pitch_mm=pitch)


# ---- shared helpers -------------------------------------------------------------------------------------


# Limits checked from headers, before any pixel data is inflated (issue 19.2: inside the upload limit, a
# 1.9 MB NPZ of |V1000000 x 2000 became 1.9 GB, and a 1.2 MB TIFF of 1000 zlib pages 0.9 GB).
MAX_NPZ_MEMBERS = 4  # low, high, pixel_pitch_mm, and one spare; an image NPZ needs two
MAX_VALUES_PER_PIXEL = 4  # TIFF pages x samples: RGBA at most, or a dual-energy pair of pages
MAX_BYTES_PER_PIXEL = 16  # the largest scan a station sends: two channels of float64 (read as float32)


@dataclass(frozen=True)
class DecodeLimits:
    max_pixels: int
    max_bytes: int  # the decoded arrays, as the header declares them
    reserve: Callable[[int], None] | None = None

    def admit_bytes(self, name: str, nbytes: int) -> None:
        """Called by every decoder with its header's decoded size, after the pixel check and before decoding."""
        if nbytes > self.max_bytes:
            raise ScanTooLarge(f"{name}: its arrays would take {nbytes:,} bytes decoded; the limit is {self.max_bytes:,}")
        if self.reserve is not None:
            self.reserve(nbytes)


def _check_pixels(name: str, height: int, width: int, max_pixels: int) -> None:
    if height <= 0 or width <= 0:
        raise ScanDecodeError(f"{name}: image has no pixels ({width} x {height})")
    if height * width > max_pixels:
        raise ScanTooLarge(f"{name}: {width} x {height} = {height * width:,} pixels exceeds the limit of {max_pixels:,}")


def apply_orientation(pixels: np.ndarray, orientation: int | None) -> np.ndarray:
    """Turn stored pixels upright per the EXIF/TIFF orientation tag (1..8), as PIL's `exif_transpose` does."""
    ops: dict[int, Callable[[np.ndarray], np.ndarray]] = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.swapaxes(0, 1),
        6: lambda a: np.rot90(a, k=-1),
        7: lambda a: a[::-1, ::-1].swapaxes(0, 1),
        8: lambda a: np.rot90(a, k=1),
    }
    op = ops.get(int(orientation or 1))
    return pixels if op is None else np.ascontiguousarray(op(pixels))


def _same_channels(rgb: np.ndarray, tolerance: int = 2) -> bool:
    """A colour file whose channels agree is a gray scan saved as RGB (checked on a subsample, it is cheap)."""
    step = max(1, int(np.sqrt(rgb.shape[0] * rgb.shape[1] / 250_000)))
    sub = rgb[::step, ::step].astype(np.int16)
    return bool(np.abs(sub[..., 0] - sub[..., 1]).max() <= tolerance and np.abs(sub[..., 1] - sub[..., 2]).max() <= tolerance)


def _from_array(array: np.ndarray, name: str) -> tuple[np.ndarray, ScanKind]:
    """Interpret a decoded array by layout: gray (H, W), colour (H, W, 3|4), dual-energy (H, W, 2) or (2, H, W)."""
    a = np.asarray(array)
    if a.ndim == 3 and a.shape[0] == 1:
        a = a[0]
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim == 3 and a.shape[0] in (2, 3, 4) and a.shape[-1] not in (2, 3, 4):
        a = np.moveaxis(a, 0, -1)  # planar (C, H, W)
    if a.ndim == 2:
        if a.dtype == np.uint8:
            return np.ascontiguousarray(a), "gray"
        if a.dtype == np.uint16:
            return np.ascontiguousarray(a), "gray"
        if a.dtype.kind in "fiu":
            return np.ascontiguousarray(a, dtype=np.float32), "gray"
    if a.ndim == 3 and a.shape[-1] == 2 and a.dtype.kind in "fiu":
        dtype = np.uint16 if a.dtype == np.uint16 else np.float32
        return np.ascontiguousarray(a, dtype=dtype), "dual_energy"
    if a.ndim == 3 and a.shape[-1] in (3, 4) and a.dtype.kind in "fiu":
        rgb = a[..., :3]
        if rgb.dtype == np.uint16:
            rgb = (rgb >> 8).astype(np.uint8)
        elif rgb.dtype != np.uint8:
            raise ScanDecodeError(f"{name}: colour images must be 8 or 16 bits per channel, got {a.dtype}")
        rgb = np.ascontiguousarray(rgb)
        return (np.ascontiguousarray(rgb[..., 0]), "gray") if _same_channels(rgb) else (rgb, "colour")
    raise ScanDecodeError(f"{name}: cannot tell what kind of scan an array of shape {a.shape} {a.dtype} is")


# ---- decoders: (data, name, limits) -> (pixels, kind, pixel_pitch_mm) ------------------------------------

# Bytes a pixel of PIL's header modes decodes to through OpenCV (colour as RGB; 16-bit gray kept deep).
_RASTER_BYTES_PER_PIXEL = {"1": 1, "L": 1, "LA": 1, "I;16": 2, "I;16B": 2, "I;16L": 2, "I": 4, "F": 4}


def _decode_raster(data: bytes, name: str, limits: DecodeLimits) -> tuple[np.ndarray, ScanKind, float | None]:
    """JPEG / PNG / BMP / WebP: header through PIL (size, mode, orientation), pixels through OpenCV."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            width, height = im.size
            mode = im.mode
            # Pillow's getexif() on a PNG without an eXIf chunk before its pixels decodes the whole image
            # looking for one: 240 MB before any limit was checked for an 8944 x 8944 solid PNG.
            late_exif = im.format == "PNG" and "exif" not in im.info
            orientation = None if late_exif else im.getexif().get(_EXIF_ORIENTATION)
    except Image.DecompressionBombError as exc:  # PIL's own guard fires first above ~179 Mpx
        raise ScanTooLarge(f"{name}: {exc}") from exc
    except Image.UnidentifiedImageError as exc:  # PIL's text names its BytesIO object, not the file
        raise ScanDecodeError(f"{name}: starts as {sniff_format(data)} but its header is corrupt") from exc
    _check_pixels(name, height, width, limits.max_pixels)
    if data[:3] == b"\xff\xd8\xff" and b"\xff\xd9" not in data[-4096:]:
        # libjpeg fills a truncated scan with gray and carries on: screening half a parcel is worse than refusing.
        raise ScanDecodeError(f"{name}: truncated JPEG (no end-of-image marker)")
    limits.admit_bytes(name, height * width * _RASTER_BYTES_PER_PIXEL.get(mode, 3))
    buf = np.frombuffer(data, np.uint8)
    kind: ScanKind
    if mode.startswith("I;16") or mode in ("I", "F"):  # 16-bit single-energy raw
        pixels = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
        if pixels is not None and pixels.ndim == 3:
            pixels = pixels[..., 0]
        kind = "gray"
    elif mode in ("L", "LA", "1"):
        pixels = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE | cv2.IMREAD_IGNORE_ORIENTATION)
        kind = "gray"
    else:
        # Decoded straight to RGB: no second pass swapping channels (half of a JPEG's decoding time) and no
        # second full-size buffer (cvtColor took one: 240 MB more for an 8944 x 8944 scan).
        pixels = cv2.imdecode(buf, cv2.IMREAD_COLOR_RGB | cv2.IMREAD_IGNORE_ORIENTATION)
        kind = "colour"
    if pixels is None:
        raise ScanDecodeError(f"{name}: corrupt or truncated image data")
    if pixels.shape[:2] != (height, width):
        raise ScanDecodeError(f"{name}: decoded {pixels.shape[1]} x {pixels.shape[0]}, header says {width} x {height}")
    pixels = apply_orientation(pixels, orientation)
    if kind == "colour" and _same_channels(pixels):
        pixels, kind = np.ascontiguousarray(pixels[..., 0]), "gray"
    return pixels, kind, None


def _decode_tiff(data: bytes, name: str, limits: DecodeLimits) -> tuple[np.ndarray, ScanKind, float | None]:
    import tifffile

    with tifffile.TiffFile(io.BytesIO(data)) as tif:
        if not tif.series:
            raise ScanDecodeError(f"{name}: TIFF holds no image")
        series = tif.series[0]
        page = tif.pages[0]
        shape = series.shape
        axes = series.axes
        spatial = [n for n, ax in zip(shape, axes) if ax in "YX"]
        if len(spatial) != 2:
            raise ScanDecodeError(f"{name}: TIFF series with axes {axes!r} has no 2-D image")
        _check_pixels(name, spatial[0], spatial[1], limits.max_pixels)
        elements = int(np.prod(shape, dtype=np.int64))
        per_pixel = elements // (spatial[0] * spatial[1])  # pages x samples
        if per_pixel > MAX_VALUES_PER_PIXEL:
            raise ScanDecodeError(f"{name}: TIFF holds {per_pixel} pages or samples a pixel; a scan is one image (up to RGBA) or a dual-energy pair")
        limits.admit_bytes(name, elements * series.dtype.itemsize)
        array = series.asarray()
        orientation = page.tags.get("Orientation")  # type: ignore[union-attr]  # pages[0] is a TiffPage, never a TiffFrame
        photometric = page.photometric  # type: ignore[union-attr]
    if int(photometric) == 0 and array.dtype.kind in "u":  # MINISWHITE: 0 means white
        array = np.iinfo(array.dtype).max - array
    pixels, kind = _from_array(array, name)
    pixels = apply_orientation(pixels, orientation.value if orientation is not None else None)
    return pixels, kind, None


def _decode_npz(data: bytes, name: str, limits: DecodeLimits) -> tuple[np.ndarray, ScanKind, float | None]:
    """NPZ: every member's .npy header is checked (count, type, elements, bytes in all) before any data is inflated."""
    arrays: dict[str, np.ndarray] = {}
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        entries = zf.namelist()
        if len(entries) > MAX_NPZ_MEMBERS:
            raise ScanDecodeError(f"{name}: NPZ holds {len(entries)} entries; a scan has at most {MAX_NPZ_MEMBERS} (low, high, pixel_pitch_mm)")
        members = [m for m in entries if m.endswith(".npy")]
        if not members:
            raise ScanDecodeError(f"{name}: zip archive holds no .npy arrays")
        total_bytes = 0
        for member in members:
            with zf.open(member) as fh:
                version = np.lib.format.read_magic(fh)
                read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
                shape, _, dtype = read_header(fh)  # header only: no data inflated yet
                if dtype.hasobject:
                    raise ScanDecodeError(f"{name}: {member} holds Python objects; only numeric arrays are read")
                if dtype.kind not in "biuf":
                    raise ScanDecodeError(f"{name}: {member} holds {dtype} values; only numeric arrays are read")
                elements = int(np.prod(shape, dtype=np.int64))
                if elements > 2 * limits.max_pixels:  # two channels at most per pixel
                    raise ScanTooLarge(f"{name}: array {member} of shape {shape} exceeds the limit of {limits.max_pixels:,} pixels")
                total_bytes += elements * dtype.itemsize
        limits.admit_bytes(name, total_bytes)
        for member in members:
            with zf.open(member) as fh:
                arrays[member[:-4]] = np.lib.format.read_array(fh, allow_pickle=False)
    pitch = float(arrays.pop("pixel_pitch_mm")) if "pixel_pitch_mm" in arrays else None
    if "low" in arrays and "high" in arrays:
        low, high = arrays["low"], arrays["high"]
        if low.shape != high.shape or low.ndim != 2:
            raise ScanDecodeError(f"{name}: low and high must be 2-D arrays of one shape, got {low.shape} and {high.shape}")
        _check_pixels(name, low.shape[0], low.shape[1], limits.max_pixels)
        pixels, kind = _from_array(np.stack([low, high], axis=-1), name)
        return pixels, kind, pitch
    named = [k for k in ("pixels", "image", "arr_0") if k in arrays]
    if not named and len(arrays) != 1:
        raise ScanDecodeError(f"{name}: NPZ must hold `low` and `high`, or one image array; found {sorted(arrays)}")
    array = arrays[named[0] if named else next(iter(arrays))]
    hw = array.shape[:2] if array.ndim == 2 or array.shape[-1] in (2, 3, 4) else array.shape[-2:]
    _check_pixels(name, int(hw[0]), int(hw[1]) if len(hw) > 1 else 0, limits.max_pixels)
    pixels, kind = _from_array(array, name)
    return pixels, kind, pitch


def _decode_dicom(data: bytes, name: str, limits: DecodeLimits) -> tuple[np.ndarray, ScanKind, float | None]:
    import pydicom

    ds = pydicom.dcmread(io.BytesIO(data))
    rows, cols = int(ds.get("Rows", 0)), int(ds.get("Columns", 0))
    _check_pixels(name, rows, cols, limits.max_pixels)
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    if frames > 2:
        raise ScanDecodeError(f"{name}: DICOM with {frames} frames; expected one (single-energy) or two (dual-energy)")
    samples, bits = int(ds.get("SamplesPerPixel", 1) or 1), int(ds.get("BitsAllocated", 16) or 16)
    if not 1 <= samples <= MAX_VALUES_PER_PIXEL:
        raise ScanDecodeError(f"{name}: DICOM with {samples} samples a pixel; a scan has 1 (monochrome) or 3 (RGB)")
    limits.admit_bytes(name, rows * cols * frames * samples * max(1, bits // 8))
    array = ds.pixel_array
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2"))
    if photometric == "MONOCHROME1" and array.dtype.kind == "u":
        array = np.iinfo(array.dtype).max - array
    if frames == 2:
        array = np.moveaxis(array, 0, -1)
    if array.dtype.kind == "i":
        array = array.astype(np.float32)
    pixels, kind = _from_array(array, name)
    spacing = ds.get("PixelSpacing") or ds.get("ImagerPixelSpacing")
    pitch = float(np.mean([float(v) for v in spacing])) if spacing else None
    return pixels, kind, pitch


_DECODERS: dict[str, Callable[[bytes, str, DecodeLimits], tuple[np.ndarray, ScanKind, float | None]]] = {
    "jpeg": _decode_raster,
    "png": _decode_raster,
    "bmp": _decode_raster,
    "webp": _decode_raster,
    "tiff": _decode_tiff,
    "npz": _decode_npz,
    "dicom": _decode_dicom,
}
