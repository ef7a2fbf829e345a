"""SDMX-CSV 1.0 and 2.0 output (sdmx-csv field guides): one row per observation, streamed."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from exchange.render import Output, text

FLUSH_BYTES = 64 * 1024


def _columns(out: Output) -> list[str]:
    schema = out.schema
    attrs = [] if out.detail == "dataonly" else list(schema.attributes)
    return [*schema.dimensions, *([schema.time_dimension] if schema.time_dimension else []), schema.measure, *attrs]


def render_v1(out: Output, rows: Iterator[dict[str, Any]]) -> Iterator[bytes]:
    yield from _render(out, rows, ["DATAFLOW"], lambda row: [f"{out.agency}:{out.flow}({out.version})"])


def render_v2(out: Output, rows: Iterator[dict[str, Any]]) -> Iterator[bytes]:
    structure_id = f"{out.agency}:{out.flow}({out.version})"
    # ACTION: I (information) for current data, D for deletions reported by updatedAfter (SDMX-CSV 2.0.0).
    yield from _render(out, rows, ["STRUCTURE", "STRUCTURE_ID", "ACTION"],
                       lambda row: ["dataflow", structure_id, "D" if row.get("_deleted") else "I"])


def _render(out: Output, rows: Iterator[dict[str, Any]], lead: list[str], prefix: Any) -> Iterator[bytes]:
    columns = _columns(out)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")  # RFC 4180
    writer.writerow(lead + columns)
    names = [c.lower() for c in columns]
    for row in rows:
        writer.writerow(prefix(row) + [text(out.schema, c, row.get(n)) or "" for c, n in zip(columns, names, strict=True)])
        if buffer.tell() > FLUSH_BYTES:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()
