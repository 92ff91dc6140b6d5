"""The screening service (API, decisions, storage) and batch reprocessing. Needs onnxruntime, never torch."""
