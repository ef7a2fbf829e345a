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
    fixed = ["dataflow", _flow_id(out)]
    header = ["STRUCTURE", "STRUCTURE_ID"]
    if out.labels == "name":  # SDMX-CSV 2.0.0: STRUCTURE_NAME right after the artefact identification
        header.append("STRUCTURE_NAME")
        fixed.append(out.schema.name)
    series_key, obs_key = out.keys in ("series", "both"), out.keys in ("obs", "both")
    header += ["ACTION", *["SERIES_KEY"] * series_key, *["OBS_KEY"] * obs_key]
    key = [c.lower() for c in out.schema.key_components]
    at_obs = set(key) if out.dimension_at_observation == "AllDimensions" else {out.dimension_at_observation.lower()}
    series_columns = [c for c in key if c not in at_obs]

    def prefix(row: dict[str, Any]) -> list[str]:
        # ACTION: I (information) for current data, D for deletions reported by updatedAfter (SDMX-CSV 2.0.0).
        cells = [*fixed, "D" if row.get("_deleted") else "I"]
        if series_key:  # the key values joined by "." in DSD order (SDMX-CSV 2.0.0, optional parameters)
            cells.append(".".join(str(row[c]) for c in series_columns))
        if obs_key:
            cells.append(".".join(str(row[c]) for c in key))
        return cells

    yield from _render(out, rows, header, prefix)


def _render(out: Output, rows: Iterator[dict[str, Any]], lead: list[str], prefix: Any) -> Iterator[bytes]:
    columns = _columns(out)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")  # RFC 4180
    both, name_columns = out.labels == "both", out.labels == "name"
    concept = out.names.get("", {}) if out.names else {}
    header = []
    for c in columns:
        header.append(f"{c}: {concept.get(c, c)}" if both else c)
        if name_columns:  # labels=name: the component's name in a column of its own, after its id column
            header.append(concept.get(c, c))
    writer.writerow(lead + header)
    names = [c.lower() for c in columns]
    labels = (out.names or {}) if both or name_columns else {}
    time_column = out.schema.time_dimension.lower() if out.schema.time_dimension else None
    normalized = out.time_format == "normalized"
    for row in rows:
        cells = []
        for component, column in zip(columns, names, strict=True):
            value = text(out.schema, component, row.get(column)) or ""
            if normalized and column == time_column and value:
                value = row["_period_start"]
            if name_columns:
                cells += [value, labels.get(component, {}).get(value, "") if value else ""]
                continue
            if value and component in labels:
                value = f"{value}: {labels[component].get(value, value)}"
            cells.append(value)
        writer.writerow(prefix(row) + cells)
        if buffer.tell() > FLUSH_BYTES:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()
