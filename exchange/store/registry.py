"""Derived storage: create the observation table of each DSD when it is registered, and find it again."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, MetaData, Table, insert, inspect, select, text

from exchange.catalog import Catalog, DsdSchema
from exchange.store.tables import data_table, dsd_table, structure_document


class DataTables:
    """Observation tables by DSD reference, built from the compiled schemas (never hand-written per DSD)."""

    def __init__(self) -> None:
        self.metadata = MetaData()

    def table(self, schema: DsdSchema) -> Table:
        return data_table(schema, self.metadata)

    def ensure(self, conn: Connection, schema: DsdSchema) -> Table:
        table = self.table(schema)
        if not inspect(conn).has_table(table.name):
            table.create(conn)
            conn.execute(insert(dsd_table).values(dsd=schema.ref, table_name=table.name, created_at=datetime.now(UTC)))
        return table


#: One creator of observation tables at a time across hub processes on one PostgreSQL database and schema
#: (SQLite: BEGIN IMMEDIATE already serialises writers). Else two workers starting together both create a table.
DDL_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended(current_database() || '.' || "
                "coalesce(current_schema(), '') || '.exchange-derived-tables', 0))")


def ensure_all(engine: Engine, catalog: Catalog, tables: DataTables) -> None:
    with engine.execution_options(write=True).begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(DDL_LOCK)
        for schema in catalog.all_dsd_schemas():
            tables.ensure(conn, schema)


def stored_structures(engine: Engine) -> list[tuple[bytes, str]]:
    """Structure messages pushed by administrators, oldest first (loaded after structures/)."""
    with engine.connect() as conn:
        rows = conn.execute(select(structure_document.c.content, structure_document.c.label)
                            .order_by(structure_document.c.id)).all()
    return [(bytes(r.content), r.label) for r in rows]
