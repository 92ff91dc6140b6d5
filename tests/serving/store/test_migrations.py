"""Alembic: the migrations build exactly the schema the records declare, and go down and up again."""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, create_engine, inspect
from sqlalchemy.orm import Session, sessionmaker

from xscreen.serving.store.db import downgrade, migrate
from xscreen.serving.store.records import Base


def test_head_matches_the_records(database: tuple[Engine, sessionmaker[Session]]) -> None:
    engine, _ = database
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == [], f"records and migrations disagree; write a migration: {diff}"
    assert {"scans", "detections", "reviews", "api_keys", "alembic_version"} <= set(inspect(engine).get_table_names())


def test_downgrade_to_base_and_upgrade_again(database: tuple[Engine, sessionmaker[Session]]) -> None:
    engine, _ = database
    downgrade(engine, "base")
    assert "scans" not in inspect(engine).get_table_names()
    migrate(engine)
    migrate(engine)  # idempotent at head
    assert "scans" in inspect(engine).get_table_names()


def test_sqlite_runs_in_wal_mode_with_full_sync(tmp_path) -> None:
    from sqlalchemy import text

    from xscreen.serving.store.db import open_database

    engine, _ = open_database(f"sqlite:///{tmp_path / 'nested' / 'x.db'}")
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
    engine.dispose()


def _open_after_barrier(url: str, barrier: Any, results: Any) -> None:
    from xscreen.serving.store.db import open_database

    barrier.wait(timeout=60)
    try:
        engine, _ = open_database(url)
        engine.dispose()
        results.put("ok")
    except Exception as exc:  # noqa: BLE001 - reported to the test, which shows it
        results.put(f"{type(exc).__name__}: {exc}")


def test_processes_starting_together_on_a_fresh_sqlite_database_all_migrate(tmp_path: Path) -> None:
    """Issue 19.11: three processes released at once on a fresh database; one used to fail 'table api_keys
    already exists'. The migration lock lets one migrate and the others find the schema at head."""
    context = multiprocessing.get_context("spawn")
    for attempt in range(2):
        url = f"sqlite:///{tmp_path / f'fresh-{attempt}.db'}"
        barrier, results = context.Barrier(3), context.Queue()
        processes = [context.Process(target=_open_after_barrier, args=(url, barrier, results)) for _ in range(3)]
        for process in processes:
            process.start()
        outcomes = [results.get(timeout=120) for _ in processes]
        for process in processes:
            process.join(timeout=30)
        assert outcomes == ["ok"] * 3, outcomes
        engine = create_engine(url)
        try:
            assert {"scans", "api_keys", "alembic_version"} <= set(inspect(engine).get_table_names())
        finally:
            engine.dispose()
