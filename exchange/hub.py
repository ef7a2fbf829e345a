"""The running hub's state: engine, catalog, derived tables and the ingestor, built once from Settings."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, func, inspect, select

from alembic import command
from exchange.catalog import Catalog, load_catalog
from exchange.events.producers import push_events
from exchange.ingest import Ingestor, Principal, PushListener
from exchange.mapping import Mappings
from exchange.pushes import AsyncPushes, stored_report
from exchange.settings import Settings, resource_dir
from exchange.store.engine import make_engine
from exchange.store.registry import DataTables, ensure_all, stored_structures
from exchange.store.tables import structure_document

#: Which registered structures a catalog reflects: (how many structure documents, the highest id).
Generation = tuple[int, int]


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


def structures_generation(conn: Connection) -> Generation:
    """The registered structures' state, cheap to ask on every request (issue #15: several hub processes).

    The count as well as the highest id: a PostgreSQL sequence hands out ids before commit, so a lower id
    can become visible after a higher one; the count still moves when it does (documents are never deleted).
    """
    count, highest = conn.execute(select(func.count(), func.coalesce(func.max(structure_document.c.id), 0))).one()
    return int(count), int(highest)


@dataclass
class Hub:
    settings: Settings
    engine: Engine
    catalog: Catalog
    tables: DataTables
    mappings: Mappings
    structure_lock: threading.Lock = field(default_factory=threading.Lock)
    #: the registered structures ``catalog`` and ``tables`` reflect; see ``refresh``
    generation: Generation = (0, 0)
    #: called in the transaction that records each push (reconciliation, events): see exchange.ingest.PushListener
    push_listeners: list[PushListener] = field(default_factory=list)
    _pushes: AsyncPushes | None = field(default=None, repr=False)
    _pushes_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def ingestor(self) -> Ingestor:
        return Ingestor(self.engine, self.catalog, self.tables, self.settings, self.mappings, self.push_listeners)

    @property
    def pushes(self) -> AsyncPushes:
        """The worker threads of asynchronous pushes (Prefer: respond-async), started on first use."""
        with self._pushes_lock:
            if self._pushes is None:
                self._pushes = AsyncPushes(self.engine, self.settings, lambda: self.ingestor)
            return self._pushes

    def push_report(self, conn: Connection, submission_id: str, principal: Principal) -> dict[str, Any] | None:
        """An asynchronous push's progress or final answer (None: unknown, or not the caller's), without starting
        the worker threads when this process has run none."""
        if self._pushes is None:
            return stored_report(conn, submission_id, principal)
        return self._pushes.report(conn, submission_id, principal)

    def refresh(self) -> None:
        """Reload catalog and tables when another hub process (or this one) registered structures since.

        Called before each request, so every process on one database answers with the same structures
        without a restart (issue #15). Costs one indexed query when nothing changed.
        """
        with self.engine.connect() as conn:
            current = structures_generation(conn)
        if current == self.generation:
            return
        with self.structure_lock:
            if current != self.generation:
                self.reload()

    def reload(self) -> None:
        """Catalog and observation tables from the shipped and registered structures, as they are now."""
        with self.engine.connect() as conn:
            generation = structures_generation(conn)
        catalog = load_catalog(Path(self.settings.structures_dir), stored_structures(self.engine))
        ensure_all(self.engine, catalog, self.tables)
        self.catalog, self.generation = catalog, generation

    def close(self) -> None:
        if self._pushes is not None:
            self._pushes.close()
        self.engine.dispose()


def open_hub(settings: Settings, *, migrate: bool = True) -> Hub:
    """Connect, create or migrate the fixed tables (an empty or older database), load structures (shipped and pushed)."""
    engine = make_engine(settings)
    if migrate and database_is_behind(engine, settings):
        upgrade_database(settings)
    with engine.connect() as conn:
        generation = structures_generation(conn)  # read first: a structure registered meanwhile reloads later
    catalog = load_catalog(Path(settings.structures_dir), stored_structures(engine))
    tables = DataTables()
    ensure_all(engine, catalog, tables)
    hub = Hub(settings, engine, catalog, tables, Mappings.load(Path(settings.mappings_dir)), generation=generation)
    # a hub opened without migrating an older database (migrate=False) has no event or case tables to write to
    if inspect(engine).has_table("event"):
        hub.push_listeners.append(push_events(settings))  # submission and partner-revision events (issue #10)
    if settings.reconciliation and inspect(engine).has_table("recon_case"):
        from exchange.reconcile.auto import Reconciler

        hub.push_listeners.append(Reconciler())
    return hub
