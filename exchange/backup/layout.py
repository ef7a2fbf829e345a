"""What export and import agree on: file names, the data files' columns, and how values are written as text."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Boolean, Column, DateTime, Float, Integer, LargeBinary, Table

FORMAT = "exchange-export/1"
MANIFEST = "manifest.json"
#: the SDMX-CSV 2.0 custom columns (data-field-guide: "any other custom columns as required") carrying each
#: version's provenance, by the observation table column they hold
PROVENANCE = {"HUB_ID": "_id", "HUB_PERIOD_START": "_period_start", "HUB_PERIOD_END": "_period_end",
              "HUB_SUBMISSION": "_submission", "HUB_PROVIDER": "_provider", "HUB_RECORDED_AT": "_recorded_at",
              "HUB_SUPERSEDED_AT": "_superseded_at", "HUB_SUPERSEDED_BY": "_superseded_by",
              "HUB_REPLACES": "_replaces"}
#: columns that mean nothing in another database and are emptied on import (the event feed's PostgreSQL
#: transaction ids: every imported event is committed)
RESET_ON_IMPORT = {("event", "txid")}


def component_columns(table: Table, components: list[str]) -> list[tuple[str, str]]:
    """(SDMX-CSV column, table column) for the DSD's components, in the table's order."""
    by_column = {c.lower(): c for c in components}
    return [(by_column[c.name], c.name) for c in table.columns if c.name in by_column]


def utc(value: datetime) -> datetime:
    """SQLite gives back naive datetimes; the hub writes them in UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def to_text(value: Any) -> str:
    """One CSV cell: empty for NULL, ISO 8601 in UTC for times, the shortest exact form for floats."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return utc(value).isoformat()
    if isinstance(value, float):
        return repr(value)
    return str(value)


def from_text(column: Column, text: str) -> Any:
    """The inverse of ``to_text`` for a column of an observation table."""
    if text == "":
        return None
    if isinstance(column.type, DateTime):
        return datetime.fromisoformat(text)
    if isinstance(column.type, Float):
        return float(text)
    if isinstance(column.type, Integer):
        return int(text)
    return text


def to_json(value: Any) -> Any:
    if isinstance(value, datetime):
        return utc(value).isoformat()
    if isinstance(value, bytes | memoryview):
        return {"base64": base64.b64encode(bytes(value)).decode()}
    return value


def from_json(column: Column, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(column.type, DateTime):
        return datetime.fromisoformat(value)
    if isinstance(column.type, LargeBinary):
        return base64.b64decode(value["base64"])
    if isinstance(column.type, Boolean):
        return bool(value)
    return value


class HashingWriter:
    """A binary file that counts and hashes what is written to it (the manifest's checksums, in one pass)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.file: IO[bytes] = path.open("wb")
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self.digest.update(data)
        self.size += len(data)
        self.file.write(data)

    def close(self) -> dict[str, Any]:
        self.file.close()
        return {"sha256": self.digest.hexdigest(), "bytes": self.size}


def file_digest(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size
