"""Alembic: the migrations build exactly the schema the records declare, and go down and up again."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect
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
