"""Alembic environment: the hub's fixed tables; the URL comes from the caller or EXCHANGE_DATABASE_URL."""

from __future__ import annotations

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
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations()
