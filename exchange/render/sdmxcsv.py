"""SDMX-CSV 1.0 and 2.0 output (sdmx-csv field guides): one row per observation, written block by block."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from exchange.render import Output
from exchange.render.blocks import Block, Layout, literal, needs_escaping

FLUSH_OBSERVATIONS = 2000  # observations per chunk sent


def _columns(out: Output) -> list[str]:
    schema = out.schema
    attrs = [] if out.detail == "dataonly" else list(schema.attributes)
    return [*schema.dimensions, *([schema.time_dimension] if schema.time_dimension else []), schema.measure, *attrs]


def _flow_id(out: Output) -> str:
    flow_id = f"{out.agency}:{out.flow}({out.version})"
    return f"{flow_id}: {out.schema.name}" if out.labels == "both" else flow_id


def render_v1(out: Output, blocks: Iterator[Block]) -> Iterator[bytes]:
    flow_id = _flow_id(out)
    yield from _render(out, blocks, ["DATAFLOW"], lambda block: [flow_id])


def render_v2(out: Output, blocks: Iterator[Block]) -> Iterator[bytes]:
    fixed = [out.kind, _flow_id(out)]
    header = ["STRUCTURE", "STRUCTURE_ID"]
    if out.labels == "name":  # SDMX-CSV 2.0.0: STRUCTURE_NAME right after the artefact identification
        header.append("STRUCTURE_NAME")
        fixed.append(out.schema.name)
    series_key, obs_key = out.keys in ("series", "both"), out.keys in ("obs", "both")
    header += ["ACTION", *["SERIES_KEY"] * series_key, *["OBS_KEY"] * obs_key]
    layout = Layout(out)

    def lead(block: Block) -> list[Cell]:
        # ACTION: I (information) for current data, D for deletions reported by updatedAfter (SDMX-CSV 2.0.0).
        cells: list[Cell] = [*fixed, "D" if block.deleted else "I"]
        if series_key:  # the key values joined by "." in DSD order (SDMX-CSV 2.0.0, optional parameters)
            cells.append("" if layout.flat else ".".join(block.key.values()))
        if obs_key:
            template = ".".join(literal(block.key[c]) if c in block.key else "{}" for c in out.schema.key_components)
            cells.append(list(map(template.format, block.observations[layout.obs_dimension])))
        return cells

    yield from _render(out, blocks, header, lead)


#: a cell of a block's rows: one text for every row, or one text per row
Cell = str | list[str]


def _render(out: Output, blocks: Iterator[Block], lead: list[str], lead_cells: Any) -> Iterator[bytes]:
    columns = _columns(out)
    both, name_columns = out.labels == "both", out.labels == "name"
    concept = out.names.get("", {}) if out.names else {}
    header = []
    for c in columns:
        header.append(f"{c}: {concept.get(c, c)}" if both else c)
        if name_columns:  # labels=name: the component's name in a column of its own, after its id column
            header.append(concept.get(c, c))
    chunks = [",".join(map(_quoted, lead + header)) + "\r\n"]  # RFC 4180
    labels = (out.names or {}) if both or name_columns else {}
    quoted = _quoted_positions(out, columns, len(lead), labels)
    size = 0
    for block in blocks:
        cells: list[Cell] = [*lead_cells(block)]
        for component in columns:
            value = _values(out, block, component)
            if name_columns:  # the code, then its name
                cells += [value, _each(value, _NameOf(labels.get(component, {})))]
            elif both and component in labels:  # "code: name"
                cells.append(_each(value, _CodeAndName(labels[component])))
            else:
                cells.append(value)
        # what can hold a comma, a quote or a line break is quoted per row; constant cells once, in _lines
        for position in quoted:
            if isinstance(cells[position], list):
                cells[position] = list(map(_quoted, cells[position]))
        chunks.append(_lines(cells))
        size += len(block)
        if size >= FLUSH_OBSERVATIONS:
            yield "".join(chunks).encode()
            chunks, size = [], 0
    yield "".join(chunks).encode()


def _quoted_positions(out: Output, columns: list[str], lead: int, labels: dict[str, Any]) -> list[int]:
    """The cells that may need quoting: free text, and code names (labels=both or name)."""
    positions, position = [], lead
    for component in columns:
        if out.labels == "name":
            positions += [position] if needs_escaping(out, component) else []
            positions += [position + 1] if component in labels else []
            position += 2
        else:
            positions += [position] if needs_escaping(out, component) or component in labels else []
            position += 1
    return positions


def _values(out: Output, block: Block, component: str) -> Cell:
    """A component's texts in a block: one for the block (key, attributes above the observation) or one
    per observation; ``timeFormat=normalized`` gives each period's start date instead of the period."""
    if component not in block.observations:
        return block.key.get(component) or block.attributes.get(component) or ""
    values = block.observations[component]
    if out.time_format == "normalized" and component == out.schema.time_dimension:
        return [(start or "") if v else "" for v, start in zip(values, block.period_starts, strict=True)]
    return [v or "" for v in values]


class _NameOf:
    def __init__(self, names: dict[str, str]) -> None:
        self.names = names

    def __call__(self, code: str) -> str:
        return self.names.get(code, "") if code else ""


class _CodeAndName(_NameOf):
    def __call__(self, code: str) -> str:
        return f"{code}: {self.names.get(code, code)}" if code else ""


def _each(cell: Cell, function: Callable[[str], str]) -> Cell:
    return function(cell) if isinstance(cell, str) else list(map(function, cell))


def _lines(cells: list[Cell]) -> str:
    """The block's rows: constant cells baked into one ``str.format`` template, the varying ones filled in."""
    template, varying = [], []
    for cell in cells:
        if isinstance(cell, str):
            template.append(literal(_quoted(cell)))
        else:
            template.append("{}")
            varying.append(cell)
    return "".join(map((",".join(template) + "\r\n").format, *varying))


def _quoted(value: str) -> str:
    """RFC 4180: a field holding a comma, a quote or a line break goes in quotes, quotes doubled."""
    if any(c in value for c in ',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value
