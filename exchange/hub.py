"""The running hub's state: engine, catalog, derived tables and the ingestor, built once from Settings."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect

from alembic import command
from exchange.catalog import Catalog, load_catalog
from exchange.events.producers import push_events
from exchange.ingest import Ingestor, PushListener
from exchange.mapping import Mappings
from exchange.settings import Settings, resource_dir
from exchange.store.engine import make_engine
from exchange.store.registry import DataTables, ensure_all, stored_structures


def alembic_config(settings: Settings) -> Config:
    config = Config()
    config.set_main_option("script_location", str(resource_dir("alembic")))
    config.set_main_option("file_template", "%%(year)d-%%(month).2d-%%(day).2d_%%(slug)s")
    config.set_main_option("sqlalchemy.url", settings.database_url.replace("%", "%%"))
    return config


def upgrade_database(settings: Settings) -> None:
    command.upgrade(alembic_config(settings), "head")


def database_is_empty(engine: Engine) -> bool:
    return not inspect(engine).has_table("alembic_version")


def database_is_behind(engine: Engine, settings: Settings) -> bool:
    """True when the database is empty or at an older revision than this code's migrations."""
    if database_is_empty(engine):
        return True
    with engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    return current != set(ScriptDirectory.from_config(alembic_config(settings)).get_heads())


@dataclass
class Hub:
    settings: Settings
    engine: Engine
    catalog: Catalog
    tables: DataTables
    mappings: Mappings
    structure_lock: threading.Lock = field(default_factory=threading.Lock)
    #: called in the transaction that records each push (reconciliation, events): see exchange.ingest.PushListener
    push_listeners: list[PushListener] = field(default_factory=list)

    @property
    def ingestor(self) -> Ingestor:
        return Ingestor(self.engine, self.catalog, self.tables, self.settings, self.mappings, self.push_listeners)

    def close(self) -> None:
        self.engine.dispose()


def open_hub(settings: Settings, *, migrate: bool = True) -> Hub:
    """Connect, create or migrate the fixed tables (an empty or older database), load structures (shipped and pushed)."""
    engine = make_engine(settings)
    if migrate and database_is_behind(engine, settings):
        upgrade_database(settings)
    catalog = load_catalog(Path(settings.structures_dir), stored_structures(engine))
    tables = DataTables()
    ensure_all(engine, catalog, tables)
    hub = Hub(settings, engine, catalog, tables, Mappings.load(Path(settings.mappings_dir)))
    # a hub opened without migrating an older database (migrate=False) has no event or case tables to write to
    if inspect(engine).has_table("event"):
        hub.push_listeners.append(push_events(settings))  # submission and partner-revision events (issue #10)
    if settings.reconciliation and inspect(engine).has_table("recon_case"):
        from exchange.reconcile.auto import Reconciler

        hub.push_listeners.append(Reconciler())
    return hub
