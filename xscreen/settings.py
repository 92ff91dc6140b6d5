"""One settings object for every command and the service.

Values come, highest priority first, from: keyword arguments, `XSCREEN_*` environment variables,
the YAML file named by `XSCREEN_CONFIG` (default `configs/settings.yaml` in the working directory, when
it exists), then the defaults below. Read it through `get_settings()`; helpers get values passed in, not
the environment. Nothing here looks into the source tree: an installed wheel points `models_dir` at its
registry, and the decision policy defaults to the one shipped in the package (`xscreen.resources`).
Relative paths are relative to the working directory and made absolute when read.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from xscreen.resources import DEFAULT_POLICY_FILE

# A model's files: fp32 (model.onnx), fp16 for GPUs, int8 for CPUs (`xscreen.vision.registry.VARIANT_FILES`).
Variant = Literal["fp32", "fp16", "int8"]

# Multipart framing and metadata fields ride on top of the image: a body may exceed max_upload_bytes by this.
BODY_SLACK_BYTES = 256 * 1024


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "xscreen"


def _settings_yaml() -> Path:
    return Path(os.environ.get("XSCREEN_CONFIG", Path("configs") / "settings.yaml"))


class WebhookReceiver(BaseModel):
    """One receiver of case notifications: deliveries are signed with its secret (HMAC-SHA256)."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", description="Names its deliveries in the API and /metrics.")
    url: str = Field(pattern=r"^https?://[^\s]+$", description="Where the JSON POST goes.")
    secret: SecretStr = Field(description="Shared with the receiver, which checks X-Xscreen-Signature with it.")

    @field_validator("secret")
    @classmethod
    def _long_enough(cls, secret: SecretStr) -> SecretStr:
        if len(secret.get_secret_value()) < 16:
            raise ValueError("a webhook secret needs at least 16 characters")
        return secret


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="XSCREEN_", extra="forbid")

    # Where things live
    data_dir: Path = Field(default_factory=_default_data_dir, description="Default database (which also holds the station API-key hashes) and stored scans.")
    models_dir: Path = Field(default=Path("models"), description="Model registry: NAME/VERSION/{model.onnx,card.json}.")
    real_data_dir: Path | None = Field(default=None, description="Real labeled scans (export's parity check); default: ../shared/data beside a checkout.")
    default_model: str = Field(default="default", description="Model reference the service and batch use.")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; default: SQLite in data_dir.")
    scan_store_url: str | None = Field(default=None, description="fsspec URL for stored scan images; default: data_dir/scans.")
    policy_file: Path = Field(default=DEFAULT_POLICY_FILE, description="Decision policy; default: the one shipped in the package.")

    # Service
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    max_upload_bytes: int = Field(default=50 * 1024 * 1024, gt=0)
    max_image_pixels: int = Field(default=80_000_000, gt=0, description="Decompression-bomb limit.")
    # Admission (serving.admission; issue 19.2, 19.3): decided before a body is read. Measured: docs/service.md.
    max_scan_decoded_bytes: int = Field(default=1024**3, gt=0, description="One scan's decoded arrays, as its header declares them; larger is 413.")
    max_scan_bytes_in_flight: int = Field(default=2 * 1024**3, gt=0, description="Bodies and decoded pixels of all scans in flight; "
                                          "a scan that does not fit now gets 429 (before its body is read when Content-Length says so).")
    max_scans_in_flight: int | None = Field(default=None, ge=1, description="Scan uploads admitted at once (receiving, decoding, queued, in the engine); "
                                             "more get 429 before their body is read. null: max_queue_size, so an admitted scan always finds room in the queue.")
    # Connections (uvicorn; serving.api.server). A request's headers and body must arrive in time: connections
    # that never finish their headers took the service down (issue 19.1). Production: docs/service.md.
    header_timeout_s: float = Field(default=10.0, gt=0, description="Close a connection whose request line and headers have not all arrived after this long.")
    body_timeout_s: float = Field(default=60.0, gt=0, description="Close a connection whose request body has not all arrived this long after its headers.")
    keep_alive_timeout_s: float = Field(default=5.0, gt=0, description="Close an idle keep-alive connection after this long.")
    limit_concurrency: int | None = Field(default=1000, ge=1, description="Open connections (or requests in progress) beyond which a new request gets 503 at once; null: no limit.")
    backlog: int = Field(default=2048, ge=1, description="Connections the kernel queues before the server accepts them.")
    max_header_bytes: int = Field(default=16 * 1024, ge=1024, description="Request line and headers larger than this are refused (400).")
    metrics_token: SecretStr | None = Field(default=None, description="Bearer token GET /metrics requires (Prometheus: authorization.credentials_file); "
                                             "unset: /metrics answers 401 to everyone, since it listens where the stations do.")
    min_free_disk_bytes: int = Field(default=1024**3, ge=0, description="/readyz is not ready below this much free space where "
                                     "the SQLite database or the stored scans live (a full disk refuses every scan); 0: no check.")
    # Officers' workstation (/review): cookie sessions (serving.officers)
    officer_session_hours: float = Field(default=12.0, gt=0, le=24 * 7, description="A signed-in officer's session lasts this long (a shift), then signs in again.")
    session_cookie_secure: bool = Field(default=False, description="Mark the session cookie Secure (sent over HTTPS only): set it when a TLS proxy fronts the service.")
    viewer_cache_bytes: int = Field(default=512 * 1024**2, ge=0, description="Decoded scans the workstation's image views keep in memory, so zooming "
                                    "an 80-megapixel strip decodes it once; 0: decode on every view.")

    public_url: str | None = Field(default=None, pattern=r"^https?://[^\s]+[^/\s]$", description="The service's address as investigators reach it; "
                                   "links in case notifications start with it (default: paths only).")

    # Case notifications (serving/webhooks.py): XSCREEN_WEBHOOK_URL + XSCREEN_WEBHOOK_SECRET name one receiver
    # ("default"); the settings file may list more under `webhooks`.
    webhook_url: str | None = Field(default=None, description="The default receiver's URL (with webhook_secret).")
    webhook_secret: SecretStr | None = Field(default=None, description="The default receiver's signing secret.")
    webhooks: list[WebhookReceiver] = Field(default_factory=list, description="More receivers: name, url, secret each.")
    webhook_max_attempts: int = Field(default=30, ge=1, description="Attempts before a delivery is a dead letter.")
    webhook_backoff_base_s: float = Field(default=1.0, gt=0, description="Wait after the first failed attempt; doubles per attempt.")
    webhook_backoff_max_s: float = Field(default=30.0, gt=0, description="Longest wait between attempts (before jitter, which takes up to half off).")
    webhook_timeout_s: float = Field(default=10.0, gt=0, description="Connect and read timeout of one delivery attempt.")
    webhook_poll_s: float = Field(default=1.0, gt=0, description="How often the worker looks for due deliveries when nothing woke it.")

    # Inference and batching (Triton's names)
    providers: list[str] = Field(default_factory=lambda: ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"])
    engine_instances: int = Field(default=0, ge=0, description="Batches screened at once (Triton's instance count), each "
                                  "in its own thread on the one model session. 0: one per core (at most 4) on a CPU, one on a GPU.")
    intra_op_threads: int = Field(default=0, ge=0, description="onnxruntime threads per engine call. 0: the cores shared "
                                  "out between the instances on a CPU; onnxruntime's choice on a GPU.")
    trt_cache_dir: Path | None = Field(default=None, description="TensorRT engine and timing cache, kept across restarts so a "
                                       "model's engines are built once per GPU; default DATA_DIR/trt-cache.")
    variant: Variant = Field(
        default="fp32", description="Model file the service and batch run: fp32, int8 (CPU hosts: faster, within 1 AP50 point; "
        "docs/benchmarks.md) or fp16 (GPU hosts); the model must ship that variant.")
    max_batch_size: int = Field(default=8, ge=1)
    max_queue_delay_ms: float = Field(default=20.0, ge=0)  # best of 0/5/20/50 ms on 2 cores: docs/bench/server.md
    max_queue_size: int = Field(default=64, ge=1)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        yaml_file = _settings_yaml()
        if yaml_file.exists():
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=yaml_file))
        return tuple(sources)

    @field_validator("data_dir", "models_dir", "real_data_dir", "policy_file", "trt_cache_dir", mode="after")
    @classmethod
    def _expand(cls, value: Path | None) -> Path | None:
        return value.expanduser().absolute() if value is not None else None

    @model_validator(mode="after")
    def _check(self) -> "Settings":
        if self.database_url is not None and "://" not in self.database_url:
            raise ValueError(f"database_url must be a SQLAlchemy URL such as sqlite:///path.db, got {self.database_url!r}")
        if (self.webhook_url is None) != (self.webhook_secret is None):
            raise ValueError("webhook_url and webhook_secret go together: set both or neither")
        names = [r.name for r in self.receivers]
        if len(set(names)) != len(names):
            raise ValueError(f"webhook receiver names must be unique, got {names}")
        largest_scan = self.max_upload_bytes + BODY_SLACK_BYTES + self.max_scan_decoded_bytes
        if self.max_scan_bytes_in_flight < largest_scan:  # else a scan within the limits could never be admitted
            raise ValueError(f"max_scan_bytes_in_flight ({self.max_scan_bytes_in_flight:,}) must hold at least one largest scan: "
                             f"max_upload_bytes + multipart framing + max_scan_decoded_bytes = {largest_scan:,}")
        return self

    @property
    def receivers(self) -> list[WebhookReceiver]:
        """Every configured webhook receiver: the default one (webhook_url) first, then `webhooks`."""
        default = []
        if self.webhook_url is not None and self.webhook_secret is not None:
            default = [WebhookReceiver(name="default", url=self.webhook_url, secret=self.webhook_secret)]
        return default + list(self.webhooks)

    # Derived values: computed, never stored twice.
    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'xscreen.db'}"

    @property
    def effective_trt_cache_dir(self) -> Path:
        return self.trt_cache_dir or self.data_dir / "trt-cache"

    @property
    def effective_scan_store_url(self) -> str:
        return self.scan_store_url or (self.data_dir / "scans").as_uri()

    def describe(self) -> dict[str, Any]:
        """What an operator needs to see (doctor, logs): every value, derived ones resolved."""
        out = self.model_dump(mode="json")
        out.update(
            database_url=self.effective_database_url,
            scan_store_url=self.effective_scan_store_url,
            trt_cache_dir=str(self.effective_trt_cache_dir),
        )
        return out


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once. Tests call `get_settings.cache_clear()` after changing env.

    A bad value raises ConfigError naming the field (from `XSCREEN_*` or the settings YAML).
    """
    from pydantic import ValidationError

    from xscreen.errors import ConfigError, validation_summary

    try:
        return Settings()
    except ValidationError as exc:
        raise ConfigError(f"invalid settings (XSCREEN_* variables, {_settings_yaml()}): {validation_summary(exc.errors())}") from exc
