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


def _flow_id(out: Output) -> str:
    flow_id = f"{out.agency}:{out.flow}({out.version})"
    return f"{flow_id}: {out.schema.name}" if out.labels == "both" else flow_id


def render_v1(out: Output, rows: Iterator[dict[str, Any]]) -> Iterator[bytes]:
    flow_id = _flow_id(out)
    yield from _render(out, rows, ["DATAFLOW"], lambda row: [flow_id])


def render_v2(out: Output, rows: Iterator[dict[str, Any]]) -> Iterator[bytes]:
    structure_id = _flow_id(out)
    # ACTION: I (information) for current data, D for deletions reported by updatedAfter (SDMX-CSV 2.0.0).
    yield from _render(out, rows, ["STRUCTURE", "STRUCTURE_ID", "ACTION"],
                       lambda row: ["dataflow", structure_id, "D" if row.get("_deleted") else "I"])


def _render(out: Output, rows: Iterator[dict[str, Any]], lead: list[str], prefix: Any) -> Iterator[bytes]:
    columns = _columns(out)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")  # RFC 4180
    both = out.labels == "both"
    concept = out.names.get("", {}) if out.names else {}
    writer.writerow(lead + [f"{c}: {concept.get(c, c)}" if both else c for c in columns])
    names = [c.lower() for c in columns]
    labels = (out.names or {}) if both else {}
    time_column = out.schema.time_dimension.lower() if out.schema.time_dimension else None
    normalized = out.time_format == "normalized"
    for row in rows:
        cells = []
        for component, column in zip(columns, names, strict=True):
            value = text(out.schema, component, row.get(column)) or ""
            if normalized and column == time_column and value:
                value = row["_period_start"]
            elif value and component in labels:
                value = f"{value}: {labels[component].get(value, value)}"
            cells.append(value)
        writer.writerow(prefix(row) + cells)
        if buffer.tell() > FLUSH_BYTES:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()
