"""``exchange export DIR``: write the whole store, read in one snapshot, streamed (memory stays flat)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic.migration import MigrationContext
from sqlalchemy import Connection, Table, inspect, select

from exchange import __version__
from exchange.backup.layout import (
    FORMAT,
    MANIFEST,
    PROVENANCE,
    HashingWriter,
    component_columns,
    file_digest,
    to_json,
    to_text,
)
from exchange.catalog import DsdSchema
from exchange.hub import Hub
from exchange.store.tables import metadata, structure_document

BATCH = 5000


class ExportRefused(Exception):
    """The target folder cannot take an export (it is not empty)."""


def export_store(hub: Hub, folder: Path) -> dict[str, Any]:
    """Write the store into ``folder`` (new or empty) and return the manifest (also written as manifest.json)."""
    if folder.exists() and any(folder.iterdir()):
        raise ExportRefused(f"{folder} is not empty: export into a new or empty folder.")
    folder.mkdir(parents=True, exist_ok=True)
    options = {"isolation_level": "REPEATABLE READ"} if hub.engine.dialect.name == "postgresql" else {}
    with hub.engine.connect().execution_options(**options) as conn, conn.begin():  # one snapshot for every file
        manifest: dict[str, Any] = {
            "format": FORMAT, "exported_at": datetime.now(UTC).isoformat(), "hub_version": __version__,
            "database": {"dialect": hub.engine.dialect.name,
                         "revision": sorted(MigrationContext.configure(conn).get_current_heads())},
            "shared_structures": _shared_structures(hub), "files": {}, "counts": {}, "observations": {}}
        for table in metadata.sorted_tables:
            _export_table(conn, table, folder, manifest)
        for schema in sorted(hub.catalog.all_dsd_schemas(), key=lambda s: s.ref):
            _export_data(conn, hub, schema, folder, manifest)
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def _shared_structures(hub: Hub) -> list[dict[str, Any]]:
    """The identities (file name, SHA-256) of the shared structure files the store's data were validated with."""
    out = []
    for path in sorted(Path(hub.settings.structures_dir).glob("*.xml")):
        digest, size = file_digest(path)
        out.append({"file": path.name, "sha256": digest, "bytes": size})
    return out


def _export_table(conn: Connection, table: Table, folder: Path, manifest: dict[str, Any]) -> None:
    """One fixed table as JSON lines; a pushed structure message goes to structures/ as the bytes pushed."""
    name = f"tables/{table.name}.jsonl"
    writer = HashingWriter(folder / name)
    rows = 0
    for row in _stream(conn, select(table).order_by(*table.primary_key.columns)):
        record = {key: to_json(value) for key, value in row._mapping.items()}
        if table is structure_document:
            record["content"] = _export_structure(folder, row, manifest)
        writer.write((json.dumps(record, sort_keys=True) + "\n").encode())
        rows += 1
    manifest["files"][name] = {**writer.close(), "rows": rows}
    manifest["counts"][table.name] = rows


def _export_structure(folder: Path, row: Any, manifest: dict[str, Any]) -> str:
    name = f"structures/{row.id:06d}.xml"
    writer = HashingWriter(folder / name)
    writer.write(bytes(row.content))
    manifest["files"][name] = {**writer.close(), "rows": 1}
    return name


def _export_data(conn: Connection, hub: Hub, schema: DsdSchema, folder: Path, manifest: dict[str, Any]) -> None:
    """Every version of every observation of one DSD, in the order written, as SDMX-CSV 2.0 (ACTION ``I`` for a
    version, ``D`` for a deletion) with the HUB_* provenance columns."""
    table = hub.tables.table(schema)
    if not inspect(conn).has_table(table.name):
        return
    components = component_columns(table, [*schema.key_components, schema.measure, *schema.attributes])
    header = ["STRUCTURE", "STRUCTURE_ID", "ACTION", *[c for c, _ in components], *PROVENANCE]
    columns = [column for _, column in components] + list(PROVENANCE.values())
    name = f"data/{table.name}.csv"
    writer, buffer = HashingWriter(folder / name), io.StringIO()
    out = csv.writer(buffer, lineterminator="\r\n")
    out.writerow(header)
    counts = {"versions": 0, "current": 0, "deleted": 0}
    for row in _stream(conn, select(table).order_by(table.c._id)):
        values = row._mapping
        out.writerow(["datastructure", schema.ref, "D" if values["_deleted"] else "I",
                      *[to_text(values[c]) for c in columns]])
        counts["versions"] += 1
        counts["deleted"] += bool(values["_deleted"])
        counts["current"] += values["_superseded_at"] is None and not values["_deleted"]
        if buffer.tell() > 1 << 16:
            writer.write(buffer.getvalue().encode())
            buffer.seek(0)
            buffer.truncate()
    writer.write(buffer.getvalue().encode())
    if counts["versions"] == 0:
        writer.close()
        (folder / name).unlink()
        return
    manifest["files"][name] = {**writer.close(), "rows": counts["versions"], "dsd": schema.ref}
    manifest["observations"][schema.ref] = counts


def _stream(conn: Connection, query: Any) -> Iterator[Any]:
    result = conn.execution_options(stream_results=True, yield_per=BATCH).execute(query)
    yield from result
