"""Alembic environment: the hub's fixed tables; the URL comes from the caller or EXCHANGE_DATABASE_URL."""

from __future__ import annotations

from sqlalchemy import text

from alembic import context
from exchange.settings import Settings
from exchange.store.engine import make_engine
from exchange.store.tables import metadata

config = context.config
url = config.get_main_option("sqlalchemy.url") or Settings().database_url


def run_migrations() -> None:
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(Settings(database_url=url))
    # One migrator at a time, and it reads the current revision only once it holds the lock: hubs started
    # together on a database that is behind never run the same migration twice. SQLite: BEGIN IMMEDIATE.
    with engine.execution_options(write=True).connect() as connection:
        context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":
                key = "hashtext(coalesce(current_schema(), '') || '.alembic')"
                connection.execute(text(f"SELECT pg_advisory_xact_lock({key})"))
            context.run_migrations()
    engine.dispose()


run_migrations()
