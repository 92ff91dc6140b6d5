"""Database engines and schema migrations: SQLite (WAL) by default, PostgreSQL by URL.

Built when the service or a command starts, never at import. `open_database(url)` returns a ready
session factory after bringing the schema to Alembic's head, so `keys create` and `serve` can run in
either order against a fresh data dir.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, Select, create_engine, event, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from xscreen.errors import ConfigError, ServiceUnavailable

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL: readers never block the writer. synchronous=FULL: a commit is on disk before it returns,
    # which is what "stored before the response" means. busy_timeout: writers queue instead of failing.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_engine(url: str) -> Engine:
    """A SQLAlchemy engine for `url`; SQLite files get their folder created and WAL switched on."""
    try:
        parsed = make_url(url)
    except Exception as exc:  # noqa: BLE001 - sqlalchemy raises ArgumentError and friends
        raise ConfigError(f"invalid database URL {url!r}: {exc}") from exc
    if parsed.drivername.startswith("postgresql") and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")  # psycopg 3, the one we install
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": 30}
    engine = create_engine(parsed, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


MIGRATION_LOCK_TIMEOUT_S = 300.0
PG_MIGRATION_LOCK = 0x78736372  # "xscr": pg_advisory_xact_lock key held while migrating


def _alembic(engine: Engine, action: str, revision: str) -> None:
    # Alembic logs its context and each step at INFO on every command that opens the database (three lines
    # before `keys list` printed anything); its warnings and errors still show. `-v` brings them back.
    logging.getLogger("alembic").setLevel(logging.WARNING if logging.getLogger().getEffectiveLevel() > logging.DEBUG else logging.DEBUG)
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_MIGRATION_LOCK})
        config.attributes["connection"] = connection
        getattr(command, action)(config, revision)


def migrate(engine: Engine, revision: str = "head") -> None:
    """Upgrade the schema to `revision` with Alembic (the migrations ship inside the package).

    Under a lock: two or three processes starting at once on a fresh database each saw no tables and the
    slower one failed "table api_keys already exists". SQLite files take a file lock beside the database;
    PostgreSQL an advisory lock inside the migration's transaction."""
    database = engine.url.database
    if engine.dialect.name == "sqlite" and database and database != ":memory:":
        from filelock import FileLock, Timeout

        lock_path = f"{Path(database).expanduser()}.migrate.lock"
        try:
            with FileLock(lock_path, timeout=MIGRATION_LOCK_TIMEOUT_S):
                _alembic(engine, "upgrade", revision)
        except Timeout as exc:
            raise ServiceUnavailable(f"another process has held the migration lock {lock_path} for {MIGRATION_LOCK_TIMEOUT_S:.0f} s") from exc
    else:
        _alembic(engine, "upgrade", revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Take the schema back to `revision` (`base`: no tables), for rollbacks and migration tests."""
    _alembic(engine, "downgrade", revision)


def open_database(url: str, *, run_migrations: bool = True) -> tuple[Engine, sessionmaker[Session]]:
    engine = make_engine(url)
    try:
        if run_migrations:
            migrate(engine)
    except SQLAlchemyError as exc:
        engine.dispose()
        raise ServiceUnavailable(f"database {engine.url.render_as_string(hide_password=True)} is not usable: {exc}") from exc
    return engine, sessionmaker(engine, expire_on_commit=False)


T = TypeVar("T")


def page(session: Session, query: Select[T], order: tuple[Any, ...], limit: int, offset: int) -> tuple[list[T], int]:
    """One page of `query` in `order` and the total matching (the listings of scans, cases and deliveries)."""
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    return list(session.scalars(query.order_by(*order).limit(limit).offset(offset)).all()), total


def ping(engine: Engine) -> bool:
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return True
    except SQLAlchemyError:
        return False
