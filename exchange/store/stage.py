"""Stage a message's validated rows in temporary tables, then run the whole-message checks in SQL.

Staging keeps memory flat whatever the message size (rows go to the database in batches) and lets
duplicate detection and series-attribute consistency run as set operations. ``exchange validate``
stages into a throwaway SQLite file, so the CLI applies exactly the server's rules.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, MetaData, Table, and_, func, or_, select

from exchange.catalog import DsdSchema
from exchange.rows import Action, DataSet, Issue
from exchange.store.tables import stage_table
from exchange.validate import make_issue


@dataclass
class Segment:
    """A dataset (or a run of CSV rows) staged for one DSD, applied in message order."""

    index: int
    schema: DsdSchema
    action: Action
    structure: str
    rows: int = 0


@dataclass
class _Staged:
    table: Table
    columns: list[str]  # "seq", "segment", then the rest, in table order
    buffer: list[list[Any]] = field(default_factory=list)
    series_row: dict[str, Any] | None = None
    template: list[Any] = field(default_factory=list)

    @property
    def position(self) -> dict[str, int]:
        return self._position

    def __post_init__(self) -> None:
        self._position = {name: i for i, name in enumerate(self.columns)}


class Stage:
    def __init__(self, conn: Connection, batch_size: int = 10_000) -> None:
        self.conn = conn
        self.batch_size = batch_size
        self.metadata = MetaData()
        self.staged: dict[str, _Staged] = {}
        self.segments: list[Segment] = []
        self._seq = 0

    def table(self, schema: DsdSchema) -> Table:
        return self._staged(schema).table

    @property
    def rows_staged(self) -> int:
        """Observations staged so far (read by other threads for progress reports)."""
        return self._seq

    def _staged(self, schema: DsdSchema) -> _Staged:
        staged = self.staged.get(schema.ref)
        if staged is None:
            table = stage_table(schema, self.metadata)
            table.drop(self.conn, checkfirst=True)
            table.create(self.conn)
            staged = self.staged[schema.ref] = _Staged(table, [c.name for c in table.columns])
        return staged

    def add(self, schema: DsdSchema, dataset: DataSet, series_row: dict[str, Any], row: dict[str, Any]) -> None:
        """Stage one observation: the series part (one dict per series) plus the observation's own values."""
        if not self.segments or self.segments[-1].index != dataset.index:
            self.segments.append(Segment(dataset.index, schema, dataset.action, str(dataset.structure)))
        self.segments[-1].rows += 1
        staged = self._staged(schema)
        if series_row is not staged.series_row:  # build the series' row template once
            staged.series_row = series_row
            staged.template = [series_row.get(c) for c in staged.columns]
        values = staged.template.copy()
        self._seq += 1
        values[0], values[1] = self._seq, dataset.index
        position = staged.position
        for name, value in row.items():
            values[position[name]] = value
        staged.buffer.append(values)
        if len(staged.buffer) >= self.batch_size:
            self._flush(staged)

    def flush(self) -> None:
        for staged in self.staged.values():
            self._flush(staged)

    def _flush(self, staged: _Staged) -> None:
        if not staged.buffer:
            return
        if self.conn.dialect.name == "postgresql":
            cursor = self.conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            names = ", ".join(f'"{c}"' for c in staged.columns)
            with cursor.copy(f'COPY "{staged.table.name}" ({names}) FROM STDIN') as copy:
                for row in staged.buffer:
                    copy.write_row(row)
        else:
            marks = ", ".join("?" * len(staged.columns))
            cursor = self.conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            cursor.executemany(f'INSERT INTO "{staged.table.name}" VALUES ({marks})', staged.buffer)
            cursor.close()
        staged.buffer.clear()

    def drop(self) -> None:
        for staged in self.staged.values():
            staged.table.drop(self.conn, checkfirst=True)

    # --- whole-message checks ---------------------------------------------------------------

    def checks(self, segments: set[int]) -> Iterator[Issue]:
        """Duplicates within a dataset, and series attributes with several values in one series.

        Only for the datasets (indices) the validator could not check as it read them.
        """
        self.flush()
        for segment in self.segments:
            if segment.action is Action.DELETE or segment.index not in segments:
                continue
            yield from self._duplicates(segment)
            yield from self._series_conflicts(segment)

    def _duplicates(self, segment: Segment) -> Iterator[Issue]:
        schema, table = segment.schema, self.table(segment.schema)
        keys = [table.c[k.lower()] for k in schema.key_components]
        first = (
            select(*keys, func.min(table.c.seq).label("first_seq"))
            .where(table.c.segment == segment.index).group_by(*keys).having(func.count() > 1).subquery()
        )
        original = table.alias("original")
        query = (
            select(table.c.location, original.c.location.label("first_location"), *keys)
            .join(first, and_(*[k == first.c[k.name] for k in keys]))
            .join(original, original.c.seq == first.c.first_seq)
            .where(table.c.segment == segment.index, table.c.seq > first.c.first_seq)
            .order_by(table.c.seq)
        )
        for row in self.conn.execute(query):
            key = ".".join(str(row._mapping[k.name]) for k in keys[: len(schema.dimensions)])
            period = row._mapping[keys[-1].name] if schema.time_dimension else None
            yield make_issue("DUPLICATE_OBSERVATION", f"Observation {key} {period or ''} already given at "
                             f"{row.first_location}.", where=row.location, series_key=key, period=period)

    def _series_conflicts(self, segment: Segment) -> Iterator[Issue]:
        """Series-level attributes with more than one value in a series: one grouped pass for all of them."""
        schema, table = segment.schema, self.table(segment.schema)
        attrs = [a for a in schema.attributes if schema.level(a, schema.time_dimension or "AllDimensions") == "series"]
        if not attrs:
            return
        dims = [table.c[d.lower()] for d in schema.dimensions]
        counts = [func.count(table.c[a.lower()].distinct()).label(a) for a in attrs]
        query = (
            select(*dims, *counts, func.min(table.c.location).label("at"))
            .where(table.c.segment == segment.index).group_by(*dims)
            .having(or_(*[func.count(table.c[a.lower()].distinct()) > 1 for a in attrs]))
        )
        for row in self.conn.execute(query):
            key = ".".join(str(row._mapping[d.name]) for d in dims)
            for attr in attrs:
                if row._mapping[attr] > 1:
                    yield make_issue("ATTRIBUTE_CONFLICT", f"Series {key} has {row._mapping[attr]} different values "
                                     f"of {attr}.", component=attr, where=row.at, series_key=key)
