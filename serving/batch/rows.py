"""The batch result row: one per scan, the same for the local and the Ray engine.

Detections are a nested list of structs (queryable in DuckDB, Spark or pandas without JSON parsing);
their names and categories come from `Detections.to_records(taxonomy)`, never from literals here.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

DETECTION_TYPE = pa.struct(
    [
        ("class_id", pa.int64()),
        ("class_name", pa.string()),
        ("category", pa.string()),
        ("score", pa.float64()),
        ("box", pa.list_(pa.float64())),
    ]
)

# The policy's Reason (xscreen.vision.policy.Reason.to_dict()): which detection passed which threshold.
REASON_TYPE = pa.struct(
    [
        ("detection", pa.int64()),
        ("class_name", pa.string()),
        ("category", pa.string()),
        ("score", pa.float64()),
        ("threshold", pa.float64()),
        ("verdict", pa.string()),
        ("rule", pa.string()),  # detection, an image rule (detection and class then null) or a declaration rule
        ("detail", pa.string()),  # what a declaration rule compared; null otherwise
    ]
)

ROW_SCHEMA = pa.schema(
    [
        ("source", pa.string()),  # path or URL: the scan's identity in the manifest and in `batch diff`
        ("sha256", pa.string()),  # of the file's bytes; null when it could not be read
        ("width", pa.int32()),
        ("height", pa.int32()),
        ("detections", pa.list_(DETECTION_TYPE)),
        ("max_score", pa.float64()),  # highest detection score, null without detections
        ("decision", pa.string()),  # the policy's verdict; null when the scan failed
        ("reasons", pa.list_(REASON_TYPE)),
        ("model", pa.string()),  # NAME:VERSION
        ("policy_version", pa.string()),
        ("error_code", pa.string()),  # xscreen error code (scan_undecodable, unreadable, ...), null when it went well
        ("error", pa.string()),  # one sentence, null when it went well
        ("annotated", pa.string()),  # annotated PNG, relative to the run directory, when saved
    ]
)


def rows_to_table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=ROW_SCHEMA)
