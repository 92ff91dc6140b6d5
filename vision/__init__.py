"""Imaging and inference: decoding, X-ray physics and rendering, pre/post-processing, the ONNX engine.

No torch here: a scanner-station host runs this package with onnxruntime alone.
"""
