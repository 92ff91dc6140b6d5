"""One settings object: environment over YAML over defaults, derived values, refusals at start-up."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from xscreen.settings import Settings, get_settings


def test_defaults_derive_from_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XSCREEN_DATA_DIR", str(tmp_path))
    s = Settings()
    assert s.effective_database_url == f"sqlite:///{tmp_path / 'xscreen.db'}"
    assert s.effective_scan_store_url == (tmp_path / "scans").as_uri()
    assert s.describe()["database_url"] == s.effective_database_url


def test_env_beats_yaml_beats_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "settings.yaml"
    config.write_text("port: 9001\nmax_batch_size: 4\n")
    monkeypatch.setenv("XSCREEN_CONFIG", str(config))
    monkeypatch.setenv("XSCREEN_PORT", "9002")
    s = Settings()
    assert (s.port, s.max_batch_size, s.max_queue_size) == (9002, 4, 64)


@pytest.mark.parametrize(
    "env, value",
    [
        ("XSCREEN_PORT", "70000"),
        ("XSCREEN_MAX_BATCH_SIZE", "0"),
        ("XSCREEN_DATABASE_URL", "just-a-path.db"),
        ("XSCREEN_MAX_SCANS_IN_FLIGHT", "0"),
        ("XSCREEN_MAX_SCAN_BYTES_IN_FLIGHT", str(1024**3)),  # less than one largest scan (50 MB body + 1 GiB decoded)
    ],
)
def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch, env: str, value: str) -> None:
    monkeypatch.setenv(env, value)
    with pytest.raises(ValidationError):
        Settings()


def test_unknown_yaml_key_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "settings.yaml"
    config.write_text("prot: 9001\n")
    monkeypatch.setenv("XSCREEN_CONFIG", str(config))
    with pytest.raises(ValidationError, match="prot"):
        Settings()


def test_get_settings_is_cached_until_cleared(monkeypatch: pytest.MonkeyPatch) -> None:
    first = get_settings()
    monkeypatch.setenv("XSCREEN_PORT", "8123")
    assert get_settings() is first
    get_settings.cache_clear()
    assert get_settings().port == 8123


def test_the_shipped_example_names_every_setting_and_loads_uncommented(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import re

    from xscreen.checkout import CONFIGS_DIR

    example = (CONFIGS_DIR / "settings.example.yaml").read_text()
    keys = re.findall(r"^# (\w+):", example, flags=re.M)
    assert sorted(keys) == sorted(Settings.model_fields)  # no setting undocumented, none that does not exist
    uncommented = re.sub(r"^# (\w+:)", r"\1", example, flags=re.M).replace("DATA_DIR", str(tmp_path))
    config = tmp_path / "settings.yaml"
    config.write_text(uncommented)
    monkeypatch.setenv("XSCREEN_CONFIG", str(config))
    s = Settings()
    assert s.port == 8000 and s.max_queue_size == 64 and s.database_url == f"sqlite:///{tmp_path}/xscreen.db"


def test_the_docs_name_only_settings_and_models_that_exist() -> None:
    """docs/service.md once suggested `--model tiny:1` (a test fixture) and an `api_keys_file` setting."""
    import re

    from xscreen.checkout import REPO_ROOT
    from xscreen.vision.registry import list_models

    shipped = {f"{name}:{version}" for name, version in list_models(REPO_ROOT / "models")}
    for doc in ("README.md", "docs/service.md", "docs/batch.md"):
        text = (REPO_ROOT / doc).read_text()
        assert "api_keys_file" not in text, doc
        for ref in re.findall(r"--model ([\w.-]+:\d+)", text):
            assert ref in shipped, (doc, ref)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"webhook_url": "http://127.0.0.1:9/hook"}, "go together"),
        ({"webhook_secret": "s" * 20}, "go together"),
        ({"webhook_url": "http://127.0.0.1:9/hook", "webhook_secret": "short"}, "16 characters"),
        ({"webhooks": [{"name": "a", "url": "ftp://x", "secret": "s" * 20}]}, "url"),
        ({"webhook_url": "http://h/x", "webhook_secret": "s" * 20, "webhooks": [{"name": "default", "url": "http://h/y", "secret": "t" * 20}]},
         "unique"),
    ],
)
def test_bad_webhook_receivers_are_refused(values: dict, message: str) -> None:

    with pytest.raises(ValidationError, match=message):
        Settings(**values)


def test_webhook_receivers_from_environment_and_file_and_secrets_stay_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XSCREEN_WEBHOOK_URL", "https://inv.example/hook")
    monkeypatch.setenv("XSCREEN_WEBHOOK_SECRET", "env-secret-0123456789")
    s = Settings(webhooks=[{"name": "hq", "url": "https://hq.example/h", "secret": "file-secret-0123456789"}])
    assert [(r.name, r.url) for r in s.receivers] == [("default", "https://inv.example/hook"), ("hq", "https://hq.example/h")]
    assert s.receivers[0].secret.get_secret_value() == "env-secret-0123456789"
    described = json.dumps(s.describe())
    assert "env-secret" not in described and "file-secret" not in described
