"""`Detections`: the one result type every part of xscreen speaks (after supervision's, kept small)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np

from xscreen.vision.taxonomy import Taxonomy


@dataclass(frozen=True)
class Detections:
    """Parallel arrays; boxes are xyxy in original-image pixels, class ids in taxonomy order."""

    xyxy: np.ndarray  # (n, 4) float32
    scores: np.ndarray  # (n,) float32
    class_ids: np.ndarray  # (n,) int64

    def __post_init__(self) -> None:
        xyxy = np.asarray(self.xyxy, dtype=np.float32).reshape(-1, 4) if np.size(self.xyxy) == 0 else np.asarray(self.xyxy, dtype=np.float32)
        scores = np.asarray(self.scores, dtype=np.float32).reshape(-1)
        class_ids = np.asarray(self.class_ids, dtype=np.int64).reshape(-1)
        if xyxy.ndim != 2 or xyxy.shape[1] != 4:
            raise ValueError(f"xyxy must have shape (n, 4), got {xyxy.shape}")
        n = len(xyxy)
        if scores.shape != (n,):
            raise ValueError(f"scores must have shape ({n},), got {scores.shape}")
        if class_ids.shape != (n,):
            raise ValueError(f"class_ids must have shape ({n},), got {class_ids.shape}")
        object.__setattr__(self, "xyxy", xyxy)
        object.__setattr__(self, "scores", scores)
        object.__setattr__(self, "class_ids", class_ids)

    @classmethod
    def empty(cls) -> "Detections":
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64))

    @classmethod
    def merge(cls, parts: list["Detections"]) -> "Detections":
        if not parts:
            return cls.empty()
        return cls(
            np.concatenate([p.xyxy for p in parts]),
            np.concatenate([p.scores for p in parts]),
            np.concatenate([p.class_ids for p in parts]),
        )

    @classmethod
    def from_ultralytics(cls, result: Any) -> "Detections":
        """From an ultralytics `Results` (duck-typed: this module never imports torch)."""
        boxes = result.boxes
        return cls(
            np.asarray(boxes.xyxy.cpu().numpy(), np.float32),
            np.asarray(boxes.conf.cpu().numpy(), np.float32),
            np.asarray(boxes.cls.cpu().numpy(), np.int64),
        )

    def __len__(self) -> int:
        return len(self.scores)

    def __getitem__(self, index: Any) -> "Detections":
        if isinstance(index, (int, np.integer)):
            index = [int(index)]
        return Detections(self.xyxy[index], self.scores[index], self.class_ids[index])

    def __iter__(self) -> Iterator[tuple[np.ndarray, float, int]]:
        for i in range(len(self)):
            yield self.xyxy[i], float(self.scores[i]), int(self.class_ids[i])

    def to_records(self, taxonomy: Taxonomy) -> list[dict[str, Any]]:
        """JSON-ready rows with class names and categories looked up in the taxonomy."""
        rows = []
        for box, score, class_id in self:
            cls_ = taxonomy.by_id(class_id)
            rows.append(
                {
                    "class_id": class_id,
                    "class_name": cls_.name,
                    "category": cls_.category,
                    "score": round(score, 5),
                    "box": [round(float(v), 2) for v in box],
                }
            )
        return rows

    @classmethod
    def from_records(cls, rows: list[dict[str, Any]]) -> "Detections":
        if not rows:
            return cls.empty()
        return cls(
            np.array([r["box"] for r in rows], np.float32),
            np.array([r["score"] for r in rows], np.float32),
            np.array([r["class_id"] for r in rows], np.int64),
        )
