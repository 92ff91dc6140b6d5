"""The typed errors of xscreen, each with a stable `code`.

The service maps them to an HTTP status in one place (`xscreen.serving.api.errors`) and the CLI maps
them to an exit code and one sentence (`xscreen.clitools`). Nothing below raises bare exceptions at users.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping


class XscreenError(Exception):
    """Base of every error xscreen reports to a person or a station."""

    code = "xscreen_error"
    http_status = 500
    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def validation_summary(errors: Iterable[Mapping[str, Any]], *, skip_loc: tuple[str, ...] = (), limit: int = 5) -> str:
    """pydantic's `ValidationError.errors()` as one sentence: `field.sub: what is wrong; ...`.

    pydantic's own text spans lines, repeats the input and links to errors.pydantic.dev; a person needs
    which field and why. Messages of validators that raised ValueError lose pydantic's "Value error, ".
    """
    parts = []
    errors = list(errors)
    for err in errors[:limit]:
        msg = str(err.get("msg", "invalid"))
        for prefix in ("Value error, ", "Assertion failed, "):
            msg = msg.removeprefix(prefix)
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in skip_loc)
        parts.append(f"{where}: {msg}" if where else msg)
    if len(errors) > limit:
        parts.append(f"and {len(errors) - limit} more")
    return "; ".join(parts) or "invalid"


class ConfigError(XscreenError):
    code = "config_error"
    exit_code = 2


class ScanDecodeError(XscreenError):
    """The bytes are an image format we know but cannot be decoded, or are empty."""

    code = "scan_undecodable"
    http_status = 422


class ScanUnreadable(XscreenError):
    """The scan's bytes could not be fetched at all (missing file, permission, network): nothing to decode."""

    code = "unreadable"


class UnsupportedMedia(XscreenError):
    code = "unsupported_media"
    http_status = 415


class ScanTooLarge(XscreenError):
    code = "scan_too_large"
    http_status = 413


class ModelNotFound(XscreenError):
    code = "model_not_found"
    http_status = 404
    exit_code = 3


class ModelIntegrityError(XscreenError):
    """A model's files do not match the checksums in its card."""

    code = "model_integrity"
    exit_code = 3


class ScanNotFound(XscreenError):
    code = "scan_not_found"
    http_status = 404


class QueueFull(XscreenError):
    code = "queue_full"
    http_status = 429


class AuthError(XscreenError):
    code = "unauthorized"
    http_status = 401


class MetricsUnauthorized(AuthError):
    """/metrics without its bearer token (the `metrics_token` setting): a station key does not open it."""


class KeyRevoked(XscreenError):
    code = "key_revoked"
    http_status = 403


class Forbidden(XscreenError):
    """Authenticated, but this role may not do this (a station key reviewing, an officer submitting a scan)."""

    code = "forbidden"
    http_status = 403


class CsrfRejected(XscreenError):
    """A change through an officer's session cookie without the session's CSRF token (X-CSRF-Token)."""

    code = "csrf_rejected"
    http_status = 403


class InvalidRequest(XscreenError):
    code = "invalid_request"
    http_status = 422


class DatasetError(XscreenError):
    code = "dataset_error"
    exit_code = 4


class ParityError(XscreenError):
    """An exported ONNX model does not compute what its PyTorch checkpoint computes (boxes or scores differ)."""

    code = "export_parity"
    exit_code = 5


class ScanConflict(XscreenError):
    """A scan_id re-sent with another image or from another station: an idempotency key reused."""

    code = "scan_conflict"
    http_status = 409


class ServiceUnavailable(XscreenError):
    """The service is starting, shutting down, or its model or database is unreachable."""

    code = "service_unavailable"
    http_status = 503


class ScanUnprocessable(XscreenError):
    """The scan decoded, but the engine failed on it (alone: the other scans of its batch were answered)."""

    code = "scan_unprocessable"
    http_status = 422


class CaseNotFound(XscreenError):
    code = "case_not_found"
    http_status = 404


class CaseStateConflict(XscreenError):
    """A case state change that its current state does not allow (a closed case, seizing an unassigned one)."""

    code = "case_state_conflict"
    http_status = 409


class DeliveryNotFound(XscreenError):
    code = "delivery_not_found"
    http_status = 404


class DeliveryNotDead(XscreenError):
    code = "delivery_not_dead"
    http_status = 409
