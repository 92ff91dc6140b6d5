"""The GPU paths' configuration, checked on a CPU host (issue 20): the TensorRT engine cache is one stable
folder per model version and variant under the configured root (so a restart reuses the engines built
before), TensorRT's optimisation profile covers every batch size the caller will send, and warm-up runs
every batch size on a GPU provider. No GPU figure comes from here: these are the options handed to
onnxruntime, not their effect (docs/benchmarks.md, GPU: not measured)."""

from __future__ import annotations

from pathlib import Path

import pytest

from xscreen.vision.engine import _provider_options, trt_cache_path, trt_profile, warmup_batch_sizes


def test_tensorrt_options_cache_engines_under_a_stable_per_model_folder(tiny_models_dir: Path, tmp_path: Path) -> None:
    from xscreen.vision.registry import resolve_model

    card = resolve_model("tiny:1", models_dir=tiny_models_dir).card
    folder = trt_cache_path(tmp_path / "trt", card, "fp16")
    assert folder == trt_cache_path(tmp_path / "trt", card, "fp16")  # the same on every start
    assert folder != trt_cache_path(tmp_path / "trt", card, "fp32") and folder.parent == tmp_path / "trt"
    shapes = trt_profile(card.input.name, max_batch_size=8, input_hw=(512, 512))
    opts = _provider_options("TensorrtExecutionProvider", variant="fp16", trt_cache_dir=folder, trt_shapes=shapes)
    assert folder.is_dir()
    assert opts["trt_engine_cache_enable"] and opts["trt_engine_cache_path"] == str(folder) and opts["trt_timing_cache_enable"]
    assert opts["trt_fp16_enable"] is True
    assert (opts["trt_profile_min_shapes"], opts["trt_profile_max_shapes"]) == ("images:1x3x512x512", "images:8x3x512x512")
    assert _provider_options("TensorrtExecutionProvider", variant="fp32", trt_cache_dir=None)["trt_fp16_enable"] is False
    assert "trt_engine_cache_path" not in _provider_options("TensorrtExecutionProvider", variant="fp32", trt_cache_dir=None)
    assert _provider_options("CPUExecutionProvider", variant="fp32", trt_cache_dir=folder, trt_shapes=shapes) == {}


@pytest.mark.parametrize(("provider", "expected"), [
    ("TensorrtExecutionProvider", [1, 2, 3, 4]), ("CUDAExecutionProvider", [1, 2, 3, 4]), ("CPUExecutionProvider", [1]),
])
def test_warm_up_covers_every_batch_size_on_a_gpu(provider: str, expected: list[int]) -> None:
    assert warmup_batch_sizes(provider, 4) == expected
