"""Scan files of every kind a station may send, made on the fly."""

from __future__ import annotations

import io

import cv2
import numpy as np
import tifffile


def parcel_rgb(width: int = 160, height: int = 120, seed: int = 0) -> np.ndarray:
    """A light background with dark blocks, like `tests.factories.tiny_yolo_dataset`'s training images."""
    rng = np.random.default_rng(seed)
    img = np.full((height, width, 3), 230, np.uint8)
    for _ in range(2):
        w, h = rng.integers(width // 6, width // 2), rng.integers(height // 6, height // 2)
        x0, y0 = rng.integers(0, width - w), rng.integers(0, height - h)
        cv2.rectangle(img, (int(x0), int(y0)), (int(x0 + w), int(y0 + h)), (20, 120, 220), -1)
    return img


def png_bytes(img: np.ndarray | None = None, seed: int = 0) -> bytes:
    img = parcel_rgb(seed=seed) if img is None else img
    return cv2.imencode(".png", cv2.cvtColor(img, cv2.COLOR_RGB2BGR))[1].tobytes()


def jpeg_bytes(seed: int = 0) -> bytes:
    return cv2.imencode(".jpg", cv2.cvtColor(parcel_rgb(seed=seed), cv2.COLOR_RGB2BGR))[1].tobytes()


def tiff16_bytes(width: int = 96, height: int = 64) -> bytes:
    """A raw single-energy scan: 16-bit transmission, bright where X-rays pass."""
    raw = np.full((height, width), 60000, np.uint16)
    raw[10:40, 20:60] = 9000
    buf = io.BytesIO()
    tifffile.imwrite(buf, raw)
    return buf.getvalue()


def dual_energy_npz_bytes(width: int = 96, height: int = 64) -> bytes:
    low = np.full((height, width), 0.9, np.float32)
    high = np.full((height, width), 0.95, np.float32)
    low[10:40, 20:60], high[10:40, 20:60] = 0.2, 0.4
    buf = io.BytesIO()
    np.savez(buf, low=low, high=high)
    return buf.getvalue()


def dicom_bytes(array: np.ndarray, *, rle: bool = False) -> bytes:
    """A 16-bit monochrome DICOM; `rle`: RLE Lossless pixel data, which pydicom inflates on its own."""
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, RLELossless, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(None, {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.Rows, ds.Columns = array.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit, ds.PixelRepresentation = 15, 0
    ds.PixelData = np.ascontiguousarray(array, dtype="<u2").tobytes()
    if rle:
        ds.compress(RLELossless)
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def bomb_files(side: int) -> dict[str, tuple[bytes, int]]:
    """Solid side x side scans in every compressing format a station may send, as (file, decoded bytes its
    header declares): a few KB each that inflate to megabytes (issue 19.2's bombs, scaled down)."""
    from PIL import Image

    def pil(fmt: str, **kwargs: object) -> bytes:
        buf = io.BytesIO()
        Image.new("RGB", (side, side), (200, 30, 30)).save(buf, format=fmt, **kwargs)
        return buf.getvalue()

    pages = io.BytesIO()
    tifffile.imwrite(pages, np.full((2, side, side), 30000, np.uint16), compression="zlib", photometric="minisblack")
    npz = io.BytesIO()
    plane = np.full((side, side), 0.5, np.float32)
    np.savez_compressed(npz, low=plane, high=plane)
    return {
        "png": (pil("PNG"), side * side * 3),
        "jpeg": (pil("JPEG", quality=50), side * side * 3),
        "webp": (pil("WEBP", lossless=True), side * side * 3),
        "tiff": (pages.getvalue(), side * side * 2 * 2),  # a dual-energy pair of zlib pages
        "npz": (npz.getvalue(), side * side * 4 * 2),
        "dicom": (dicom_bytes(np.full((side, side), 30000, np.uint16), rle=True), side * side * 2),
    }
