"""Alembic owns the fixed tables: head matches the metadata, and the migration goes down and up again."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from alembic import command
from exchange.hub import alembic_config, upgrade_database
from exchange.store.engine import make_engine
from exchange.store.tables import metadata


def test_head_matches_metadata(settings):
    upgrade_database(settings)
    engine = make_engine(settings)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()
    assert diff == []


def test_downgrade_and_upgrade_again(settings):
    config = alembic_config(settings)
    command.upgrade(config, "head")
    command.downgrade(config, "base")
    engine = make_engine(settings)
    assert not inspect(engine).has_table("submission")
    command.upgrade(config, "head")
    assert inspect(engine).has_table("submission")
    engine.dispose()
