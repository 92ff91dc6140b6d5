"""The store under test on each backend: SQLite always; PostgreSQL when XSCREEN_TEST_POSTGRES_URL names a
reachable server (`.ci/run` starts one), each test in a schema of its own, dropped afterwards."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from tests.serving.postgres import postgres_schema_url, postgres_url_or_skip
from xscreen.serving.store.db import open_database


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    yield from postgres_schema_url(postgres_url_or_skip())


@pytest.fixture
def database(database_url: str) -> Iterator[tuple[Engine, sessionmaker[Session]]]:
    engine, sessions = open_database(database_url)
    yield engine, sessions
    engine.dispose()


@pytest.fixture
def sessions(database: tuple[Engine, sessionmaker[Session]]) -> sessionmaker[Session]:
    return database[1]
