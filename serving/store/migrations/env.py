"""Alembic environment: run against the connection xscreen hands in (`serving.store.db.migrate`), or
against `-x url=...` when called from the alembic command line to write a new revision."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from xscreen.serving.store.records import Base

config = context.config
target_metadata = Base.metadata


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = context.get_x_argument(as_dictionary=True).get("url")
    if not url:
        raise SystemExit("pass the database with: alembic -x url=sqlite:///path.db ...")
    engine = create_engine(url)
    with engine.begin() as conn:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


run()
