"""What the renderers consume: an answer as a stream of series blocks, held column-wise.

A ``Block`` is one series of an answer (for ``includeHistory``, one series within one dissemination): its
key, the attributes attached above the observation, and the observations as aligned lists of texts, one
list per component. The store fills blocks with one aggregate query (``store.read.series_blocks``: one row
per series, the observations as JSON arrays), so per observation neither the database driver nor Python
builds a row object; the renderers turn the columns into text with ``str.format`` over ``zip``-ed lists.
Measured on 1M observations (bench/query.py): the per-row path spent about 5 s in the driver alone.

``Layout`` says, for one ``Output``, which components group observations into blocks and which vary
within one; ``blocks_from_rows`` builds the same blocks from computed rows (the derived dataflows).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from exchange.render import Output, text


@dataclass(slots=True)
class Block:
    """One series, column-wise. Texts are final (numbers already as ``render.number`` writes them)."""

    key: dict[str, str]  # the grouping components (every key component but the observation one) -> code
    attributes: dict[str, str]  # attributes attached above the observation that have a value
    observations: dict[str, list[str | None]]  # observation component -> one text (or None) per observation
    period_starts: list[str | None] = field(default_factory=list)  # ISO date each observation's period starts
    deleted: bool = False  # updatedAfter: these observations were deleted (a Delete dataset)
    submission: str | None = None  # includeHistory: the dissemination these versions came from
    recorded_at: datetime | None = None

    def __len__(self) -> int:
        return len(self.period_starts)


class Layout:
    """How one ``Output`` groups its observations.

    The observation component is ``dimensionAtObservation`` (for ``AllDimensions``, the time dimension: a
    flat message is rendered from the same series blocks, every observation carrying the whole key).
    An attribute varies within a block when SDMX attaches it to that component (``DsdSchema.level``).
    """

    def __init__(self, out: Output) -> None:
        schema = out.schema
        self.flat = out.dimension_at_observation == "AllDimensions"
        key = list(schema.key_components)
        self.obs_dimension = (schema.time_dimension or key[-1]) if self.flat else out.dimension_at_observation
        self.group_dimensions = [c for c in key if c != self.obs_dimension]
        self.attributes = [] if out.detail == "dataonly" else list(schema.attributes)
        self.obs_attributes = [a for a in self.attributes if schema.level(a, self.obs_dimension) == "obs"]
        self.block_attributes = [a for a in self.attributes if a not in self.obs_attributes]
        self.measure = schema.measure
        #: the components held per observation, in message order: observation dimension, measure, attributes
        self.obs_components = [self.obs_dimension, self.measure, *self.obs_attributes]
        self.time_ordered = self.obs_dimension == schema.time_dimension


def blocks_from_rows(out: Output, rows: Iterable[dict[str, Any]]) -> Iterator[Block]:
    """Group rows (dicts of lower-case columns, in block order) into blocks: for rows computed in Python."""
    layout = Layout(out)
    schema = out.schema
    group_columns = [c.lower() for c in layout.group_dimensions]
    current: tuple[Any, ...] | None = None
    block: Block | None = None
    for row in rows:
        identity = (row.get("_submission") if out.history else None, bool(row.get("_deleted")),
                    *[row.get(c) for c in group_columns])
        if identity != current:
            if block is not None:
                yield block
            current = identity
            attributes = {a: value for a in layout.block_attributes
                          if (value := text(schema, a, row.get(a.lower()))) is not None}
            block = Block({c: str(row.get(c.lower())) for c in layout.group_dimensions}, attributes,
                          {c: [] for c in layout.obs_components}, [], bool(row.get("_deleted")),
                          row.get("_submission") if out.history else None,
                          row.get("_recorded_at") if out.history else None)
        assert block is not None
        for component, values in block.observations.items():
            values.append(text(schema, component, row.get(component.lower())))
        block.period_starts.append(row.get("_period_start"))
    if block is not None:
        yield block


def literal(text: str) -> str:
    """Text to bake into a ``str.format`` template (the renderers' per-block row templates)."""
    return text.replace("{", "{{").replace("}", "}}")


def xml_attribute(value: str) -> str:
    """Escape a text for an XML attribute value (XML 1.0 §2.4, §3.3.3: whitespace is kept as references)."""
    if not any(c in value for c in '&<>"\n\r\t'):
        return value
    return (value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
            .replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;"))


def needs_escaping(out: Output, component: str) -> bool:
    """Free text can hold any character; codes, periods and numbers cannot hold XML or CSV specials."""
    rule = out.schema.components[component]
    return rule.codes is None and not rule.numeric and component != out.schema.time_dimension
