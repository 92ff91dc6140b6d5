"""X-ray training augmentation keeps the image a 3-channel uint8 of the same size (boxes stay valid)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from xscreen.training.augment import XRAY_HYPERPARAMETERS, XrayAugment, apply_profile
from xscreen.vision.xray.profiles import list_profiles, load_profile


@pytest.fixture(scope="module")
def real_bgr(shared_data: Path) -> np.ndarray:
    path = sorted((shared_data / "sixray-subset" / "val").glob("*.jpg"))[0]
    return cv2.imread(str(path), cv2.IMREAD_COLOR)


@pytest.mark.parametrize("profile", list_profiles())
def test_every_profile_keeps_three_channels(real_bgr: np.ndarray, profile: str) -> None:
    # Regression: single-energy profiles returned a 2-D gray image, which crashed ultralytics' collate.
    aug = XrayAugment(p_gray=0.0, p_profile=1.0, profiles=[profile])
    out = aug({"img": real_bgr.copy()})["img"]
    assert out.shape == real_bgr.shape and out.dtype == np.uint8


def test_gray_view_is_the_engines_gray_path(real_bgr: np.ndarray) -> None:
    """Training shows a gray view exactly as an engine running an exported card shows a station's gray scan."""
    from xscreen.vision.engine import model_image
    from xscreen.vision.registry import InputSpec
    from xscreen.vision.scan import Scan
    from xscreen.vision.xray.convert import colour_to_gray

    out = XrayAugment(p_gray=1.0, p_profile=0.0)({"img": real_bgr.copy()})["img"]
    gray = Scan(colour_to_gray(np.ascontiguousarray(real_bgr[..., ::-1])), "gray")
    expected = model_image(gray, InputSpec(imgsz=512))[..., ::-1]
    assert np.array_equal(out, expected)


def test_off_means_untouched(real_bgr: np.ndarray) -> None:
    out = XrayAugment(p_gray=0.0, p_profile=0.0)({"img": real_bgr.copy()})["img"]
    assert np.array_equal(out, real_bgr)


def test_physics_breaking_photometrics_are_off() -> None:
    assert XRAY_HYPERPARAMETERS["hsv_h"] == 0 and XRAY_HYPERPARAMETERS["hsv_s"] == 0 and XRAY_HYPERPARAMETERS["mixup"] == 0


def test_apply_profile_kinds_and_determinism(real_bgr: np.ndarray) -> None:
    rgb = np.ascontiguousarray(real_bgr[..., ::-1])
    gray_p = load_profile("single-160kv-gray")
    out = apply_profile(rgb, gray_p, np.random.default_rng(1), source_pitch_mm=0.8)
    assert out.ndim == 2 and out.dtype == np.uint8
    assert out.shape[1] == pytest.approx(rgb.shape[1] * 0.8 / gray_p.detector.pixel_pitch_mm, rel=0.25)
    cool = load_profile("dual-140kv-cool")
    a = apply_profile(rgb, cool, np.random.default_rng(2))
    b = apply_profile(rgb, cool, np.random.default_rng(2))
    assert a.shape == rgb.shape and np.array_equal(a, b)
    assert not np.array_equal(a, rgb)
