"""Decoding station uploads into Scans: every supported format, orientation, limits and typed errors."""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image

from tests.serving.images import bomb_files
from xscreen.errors import QueueFull, ScanDecodeError, ScanTooLarge, UnsupportedMedia
from xscreen.vision.io import apply_orientation, read_scan, sniff_format

RNG = np.random.default_rng(0)
COLOUR = RNG.integers(0, 256, size=(40, 60, 3), dtype=np.uint8)
GRAY8 = RNG.integers(0, 256, size=(40, 60), dtype=np.uint8)
RAW16 = RNG.integers(0, 65536, size=(40, 60), dtype=np.uint16)
DUAL16 = RNG.integers(0, 65536, size=(40, 60, 2), dtype=np.uint16)


def _png(array: np.ndarray) -> bytes:
    if array.ndim == 3:
        array = cv2.cvtColor(array, cv2.COLOR_RGB2BGR)
    return cv2.imencode(".png", array)[1].tobytes()


def _jpeg(array: np.ndarray, quality: int = 95) -> bytes:
    if array.ndim == 3:
        array = cv2.cvtColor(array, cv2.COLOR_RGB2BGR)
    return cv2.imencode(".jpg", array, [cv2.IMWRITE_JPEG_QUALITY, quality])[1].tobytes()


def _tiff(array: np.ndarray, **kwargs) -> bytes:
    buf = io.BytesIO()
    tifffile.imwrite(buf, array, **kwargs)
    return buf.getvalue()


def _npz(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


def _dicom(array: np.ndarray, *, photometric: str = "MONOCHROME2", frames: int = 1, spacing: list[float] | None = None) -> bytes:
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(None, {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Rows, ds.Columns = array.shape[-2], array.shape[-1]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    if frames > 1:
        ds.NumberOfFrames = frames
    if spacing:
        ds.PixelSpacing = spacing
    ds.PixelData = np.ascontiguousarray(array, dtype="<u2").tobytes()
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def _exif_jpeg(array: np.ndarray, orientation: int) -> bytes:
    im = Image.fromarray(array)
    exif = im.getexif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=95, exif=exif.tobytes())
    return buf.getvalue()


@pytest.mark.parametrize(
    ("data", "kind", "fmt", "dtype", "shape"),
    [
        (_png(COLOUR), "colour", "png", np.uint8, (40, 60, 3)),
        (_png(GRAY8), "gray", "png", np.uint8, (40, 60)),
        (_png(RAW16), "gray", "png", np.uint16, (40, 60)),
        (_jpeg(COLOUR), "colour", "jpeg", np.uint8, (40, 60, 3)),
        (_jpeg(GRAY8), "gray", "jpeg", np.uint8, (40, 60)),
        (_jpeg(np.repeat(GRAY8[..., None], 3, axis=2)), "gray", "jpeg", np.uint8, (40, 60)),  # gray saved as RGB
        (cv2.imencode(".bmp", COLOUR)[1].tobytes(), "colour", "bmp", np.uint8, (40, 60, 3)),
        (_tiff(COLOUR), "colour", "tiff", np.uint8, (40, 60, 3)),
        (_tiff(RAW16), "gray", "tiff", np.uint16, (40, 60)),
        (_tiff(RAW16.astype(np.float32) / 65535), "gray", "tiff", np.float32, (40, 60)),
        (_tiff(DUAL16, photometric="minisblack", planarconfig="contig"), "dual_energy", "tiff", np.uint16, (40, 60, 2)),
        (_tiff(np.moveaxis(DUAL16, -1, 0)), "dual_energy", "tiff", np.uint16, (40, 60, 2)),  # two pages
        (_npz(low=DUAL16[..., 0], high=DUAL16[..., 1]), "dual_energy", "npz", np.uint16, (40, 60, 2)),
        (_npz(low=DUAL16[..., 0] / 65535.0, high=DUAL16[..., 1] / 65535.0), "dual_energy", "npz", np.float32, (40, 60, 2)),
        (_npz(pixels=RAW16), "gray", "npz", np.uint16, (40, 60)),
        (_npz(image=COLOUR), "colour", "npz", np.uint8, (40, 60, 3)),
        (_dicom(RAW16), "gray", "dicom", np.uint16, (40, 60)),
        (_dicom(np.moveaxis(DUAL16, -1, 0), frames=2), "dual_energy", "dicom", np.uint16, (40, 60, 2)),
    ],
)
def test_decodes_each_format(data: bytes, kind: str, fmt: str, dtype: type, shape: tuple[int, ...]) -> None:
    scan = read_scan(data, filename="x")
    assert (scan.kind, scan.format, scan.pixels.dtype, scan.pixels.shape) == (kind, fmt, dtype, shape)
    assert scan.source == "x" and (scan.height, scan.width) == (40, 60)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (_png(COLOUR), COLOUR),
        (_png(GRAY8), GRAY8),
        (_png(RAW16), RAW16),
        (_tiff(DUAL16, photometric="minisblack", planarconfig="contig"), DUAL16),
        (_npz(low=DUAL16[..., 0], high=DUAL16[..., 1]), DUAL16),
        (_dicom(RAW16), RAW16),
        (_dicom(65535 - RAW16, photometric="MONOCHROME1"), RAW16),
    ],
)
def test_lossless_formats_keep_every_value(data: bytes, expected: np.ndarray) -> None:
    np.testing.assert_array_equal(read_scan(data).pixels, expected)


def test_jpeg_decodes_like_opencv_imread_does_for_training() -> None:
    data = _jpeg(COLOUR, quality=80)
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    np.testing.assert_array_equal(read_scan(data).pixels, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_matches_pil(orientation: int) -> None:
    from PIL import ImageOps

    image = np.zeros((40, 60, 3), np.uint8)
    image[:10, :20] = (255, 0, 0)  # a marker in one corner
    data = _exif_jpeg(image, orientation)
    expected = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB"))
    got = read_scan(data).pixels
    assert got.shape == expected.shape
    assert np.abs(got.astype(int) - expected.astype(int)).max() <= 2


def test_apply_orientation_identity_and_unknown() -> None:
    assert apply_orientation(GRAY8, None) is GRAY8
    assert apply_orientation(GRAY8, 1) is GRAY8
    assert apply_orientation(GRAY8, 6).shape == (60, 40)


def test_pitch_from_npz_and_dicom() -> None:
    assert read_scan(_npz(low=DUAL16[..., 0], high=DUAL16[..., 1], pixel_pitch_mm=np.float64(0.8))).pixel_pitch_mm == pytest.approx(0.8)
    assert read_scan(_dicom(RAW16, spacing=[0.5, 0.5])).pixel_pitch_mm == pytest.approx(0.5)
    assert read_scan(_png(COLOUR)).pixel_pitch_mm is None


def _bomb_png(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims a huge image."""
    im = Image.new("L", (width, height))
    buf = io.BytesIO()
    im.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("data", "max_pixels"),
    [
        (_png(COLOUR), 40 * 60 - 1),
        (_jpeg(COLOUR), 1000),
        (_tiff(RAW16), 100),
        (_npz(low=DUAL16[..., 0], high=DUAL16[..., 1]), 100),
        (_dicom(RAW16), 100),
        (_bomb_png(20000, 20000), None),  # 400 Mpx against the settings' default of 80 Mpx
    ],
)
def test_pixel_limit(data: bytes, max_pixels: int | None) -> None:
    with pytest.raises(ScanTooLarge):
        read_scan(data, max_pixels=max_pixels)


def test_pixel_limit_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from xscreen.settings import get_settings

    monkeypatch.setenv("XSCREEN_MAX_IMAGE_PIXELS", "100")
    get_settings.cache_clear()
    with pytest.raises(ScanTooLarge):
        read_scan(_png(COLOUR))
    assert read_scan(_png(COLOUR), max_pixels=10_000).kind == "colour"


def _zip_with(name: str, payload: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(name, payload)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", ScanDecodeError),
        (b"hello world, not an image", UnsupportedMedia),
        (b"GIF89a" + b"\0" * 40, UnsupportedMedia),
        (b"%PDF-1.4 ...", UnsupportedMedia),
        (_jpeg(COLOUR)[:300], ScanDecodeError),  # truncated
        (_png(COLOUR)[:100], ScanDecodeError),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 50, ScanDecodeError),
        (b"II*\x00" + b"\xff" * 50, ScanDecodeError),
        (_tiff(np.zeros((40, 60, 5), np.uint8)), ScanDecodeError),  # five channels: no kind
        (_zip_with("readme.txt", b"hi"), ScanDecodeError),
        (_npz(a=RAW16, b=RAW16), ScanDecodeError),  # two arrays, neither low/high
        (_npz(low=RAW16, high=RAW16[:10]), ScanDecodeError),
        (_npz(pixels=np.array(["a", "b"])), ScanDecodeError),
        (_dicom(np.zeros((3, 40, 60), np.uint16), frames=3), ScanDecodeError),
        # issue 19.12: non-finite raw data was screened and cleared
        (_npz(pixels=np.full((40, 60), np.nan, np.float32)), ScanDecodeError),
        (_npz(low=np.full((40, 60), np.inf, np.float32), high=np.full((40, 60), 0.5, np.float32)), ScanDecodeError),
        (_npz(pixels=np.where(np.eye(40, 60) > 0, -np.inf, 0.5).astype(np.float64)), ScanDecodeError),
        (_tiff(np.full((40, 60), np.nan, np.float32)), ScanDecodeError),
    ],
)
def test_bad_inputs_raise_typed_errors(data: bytes, error: type[Exception]) -> None:
    with pytest.raises(error) as caught:
        read_scan(data, filename="upload.bin")
    # the file's name and what is wrong, never a library's repr (`cannot identify image file <_io.BytesIO ...>`)
    assert str(caught.value).startswith("upload.bin: ")
    assert " at 0x" not in str(caught.value) and "BytesIO" not in str(caught.value)


@pytest.mark.parametrize(
    ("head", "fmt"),
    [(b"\xff\xd8\xff\xe0", "jpeg"), (b"\x89PNG\r\n\x1a\n", "png"), (b"II*\x00", "tiff"), (b"MM\x00*", "tiff"), (b"PK\x03\x04", "npz"), (b"BM", "bmp"), (b"RIFF\0\0\0\0WEBP", "webp"), (b"\0" * 128 + b"DICM", "dicom"), (b"xyz", None)],
)
def test_sniff_format(head: bytes, fmt: str | None) -> None:
    assert sniff_format(head) == fmt


def test_real_scans_decode(shared_data) -> None:
    for path in sorted((shared_data / "sixray-subset" / "val").glob("*.jpg"))[:3] + sorted((shared_data / "opixray-roboflow-subset" / "images").glob("*.jpg"))[:3]:
        scan = read_scan(path.read_bytes(), filename=path.name)
        assert scan.kind == "colour" and scan.pixels.dtype == np.uint8 and scan.format == "jpeg"


def _npy_header_only(**members: tuple[tuple[int, ...], str]) -> bytes:
    """An NPZ whose members are only .npy headers (shape, dtype): what a bomb declares, without its data."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for member, (shape, dtype) in members.items():
            head = io.BytesIO()
            np.lib.format.write_array_header_1_0(head, {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False, "shape": shape})
            zf.writestr(f"{member}.npy", head.getvalue())
    return buf.getvalue()


def _multipage_tiff(pages: int, size: int = 8) -> bytes:
    """One series of `pages` zlib pages, as the bomb was (tifffile reads it as a single (pages, H, W) array)."""
    return _tiff(np.full((pages, size, size), 30000, np.uint16), compression="zlib", photometric="minisblack")


@pytest.mark.parametrize(
    ("data", "max_pixels", "error", "message"),
    [
        # issue 19.2's reproducer: 2000 elements of 1 MB each passed the element count (1.9 GB decoded)
        (_npy_header_only(pixels=((2000,), "|V1000000")), None, ScanDecodeError, "only numeric arrays"),
        (_npy_header_only(pixels=((2000,), "<S1000000")), None, ScanDecodeError, "only numeric arrays"),
        # each array within the pixel count, all of them together over the bytes a scan may take
        (_npy_header_only(low=((1500,), "<f8"), high=((1500,), "<f8"), spare=((1500,), "<f8")), 1000, ScanTooLarge, "bytes decoded"),
        (_npz(**{f"a{i}": np.zeros(2, np.float32) for i in range(5)}), None, ScanDecodeError, "5 entries"),
        (_multipage_tiff(5), None, ScanDecodeError, "5 pages"),
        (_multipage_tiff(1000), None, ScanDecodeError, "1000 pages"),  # the 1000-page bomb, pages of 8x8
        (_tiff(np.full((8, 8, 6), 7, np.uint8), planarconfig="contig", photometric="minisblack"), None, ScanDecodeError, "6 pages or samples"),
    ],
)
def test_limits_are_checked_before_anything_is_decoded(data: bytes, max_pixels: int | None, error: type[Exception], message: str) -> None:
    assert len(data) < 200_000
    with pytest.raises(error, match=message):
        read_scan(data, filename="upload.bin", max_pixels=max_pixels)


def test_within_the_limits_still_decodes() -> None:
    assert read_scan(_multipage_tiff(2)).kind == "dual_energy"  # a low/high pair of pages
    assert read_scan(_npz(low=DUAL16[..., 0], high=DUAL16[..., 1], pixel_pitch_mm=np.float32(0.8))).pixel_pitch_mm == pytest.approx(0.8)
    f8 = np.full((20, 30), 0.5)
    assert read_scan(_npz(low=f8, high=f8), max_pixels=600).kind == "dual_energy"  # 16 bytes a pixel: exactly the limit


BOMBS = bomb_files(2048)  # 17 KB to 130 KB each, 8 to 34 MB decoded


# Run in a fresh interpreter: in this one, the heap already holds the freed buffers of earlier tests, which a
# decode reuses without the peak RSS moving. Unlike tracemalloc, the peak RSS sees what C libraries
# (Pillow, OpenCV, libpng) allocate.
PEAK_RSS_GROWTH = """
import sys
from pathlib import Path
from xscreen.errors import QueueFull
from xscreen.vision.io import read_scan
def kb(field):
    return next(int(line.split()[1]) for line in Path("/proc/self/status").read_text().splitlines() if line.startswith(field))
def refuse(nbytes):
    raise QueueFull("no room in flight")
read_scan(Path(sys.argv[1]).read_bytes())  # the format's libraries imported and warm
data = Path(sys.argv[2]).read_bytes()
Path("/proc/self/clear_refs").write_text("5")
before = kb("VmRSS:")
try:
    read_scan(data, reserve=refuse)
except QueueFull:
    pass
print((kb("VmHWM:") - before) * 1024)
"""


def _peak_rss_growth(tmp_path: Path, fmt: str, data: bytes) -> int:
    """Bytes the peak RSS of a fresh process grows by while refusing to decode `data` from its header."""
    small, big = tmp_path / "small", tmp_path / "big"
    small.write_bytes(bomb_files(16)[fmt][0])
    big.write_bytes(data)
    out = subprocess.run([sys.executable, "-c", PEAK_RSS_GROWTH, str(small), str(big)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return int(out.stdout)


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="peak RSS is read from /proc (Linux)")
@pytest.mark.parametrize("fmt", sorted(BOMBS))
def test_every_format_reserves_its_decoded_size_from_the_header_before_decoding(tmp_path: Path, fmt: str) -> None:
    # Issue 19.2: the service's budget of decoded bytes in flight is only a budget if the decoder asks it
    # before inflating anything; a refusal must cost a header read, not the pixels. (Pillow's getexif()
    # decoded a whole PNG before the pixel limit was even checked.)
    data, declared = BOMBS[fmt]
    assert sniff_format(data) == fmt and len(data) * 50 < declared
    seen: list[int] = []

    def refuse(nbytes: int) -> None:
        seen.append(nbytes)
        raise QueueFull("no room in flight")

    with pytest.raises(QueueFull):
        read_scan(data, reserve=refuse)
    assert seen == [declared]
    growth = _peak_rss_growth(tmp_path, fmt, data)
    assert growth < declared / 4, f"peak RSS grew {growth:,} bytes before refusing a {declared:,}-byte decode"
    with pytest.raises(ScanTooLarge, match="bytes decoded"):
        read_scan(data, max_bytes=declared - 1)
    reserved: list[int] = []
    scan = read_scan(data, max_bytes=declared, reserve=reserved.append)
    assert reserved == [declared] and scan.pixels.nbytes == declared
