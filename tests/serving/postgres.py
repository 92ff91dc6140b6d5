"""A real PostgreSQL for tests when XSCREEN_TEST_POSTGRES_URL names a reachable server (`.ci/run` starts
one); otherwise the tests that need it skip."""

from __future__ import annotations

import os
import uuid
from typing import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

POSTGRES_ENV = "XSCREEN_TEST_POSTGRES_URL"


def postgres_url_or_skip() -> str:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(f"no PostgreSQL for tests: set {POSTGRES_ENV} (.ci/run does)")
    try:
        engine = create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - any failure to reach it means: skip
        pytest.skip(f"PostgreSQL at {make_url(url).render_as_string(hide_password=True)} not reachable: {exc}")
    return url


def postgres_schema_url(url: str) -> Iterator[str]:
    """A URL whose connections live in a fresh schema (search_path), dropped with everything in it after."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield make_url(url).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
