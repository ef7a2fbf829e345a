"""The only SELECT builder for observations: a ``DataQuery`` against a DSD's table, streamed."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ColumnElement,
    Connection,
    Float,
    Integer,
    Table,
    Text,
    and_,
    case,
    cast,
    false,
    func,
    not_,
    or_,
    select,
    true,
    tuple_,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.visitors import InternalTraversal

from exchange.catalog import DsdSchema
from exchange.periods import parse_period
from exchange.query import DataQuery, Filter, KeyPattern, QueryError
from exchange.render import number, text
from exchange.render.blocks import Block, Layout


def _state(table: Table, query: DataQuery) -> ColumnElement[bool]:
    """Which versions: current (default), as they stood at ``asOf``, or changed since ``updatedAfter``."""
    c = table.c
    if query.include_history:  # every version ever disseminated; tombstones show the deletions
        live = true() if query.as_of is None else c._recorded_at <= query.as_of
        return live if query.updated_after is None else and_(live, c._recorded_at > query.updated_after)
    if query.updated_after is not None and query.as_of is None:  # deletions included: a Delete dataset
        return and_(c._superseded_at.is_(None), c._recorded_at > query.updated_after)
    return visible(table, query.as_of)


def visible(table: Table, as_of: datetime | None = None) -> ColumnElement[bool]:
    """The observations as they stand now, or as they stood at ``as_of`` (from the stored history)."""
    c = table.c
    if as_of is None:
        return and_(c._superseded_at.is_(None), c._deleted == false())
    live = and_(c._recorded_at <= as_of, or_(c._superseded_at.is_(None), c._superseded_at > as_of))
    return and_(live, c._deleted == false())


class _Parenthesised(ColumnElement[bool]):
    """A condition written in parentheses, kept as one operand: ``or_`` flattens nested ORs (even a
    ``Grouping``) into one chain, which is what ``any_of`` must avoid."""

    inherit_cache = True
    _traverse_internals = [("element", InternalTraversal.dp_clauseelement)]
    type = Boolean()

    def __init__(self, element: ColumnElement[bool]) -> None:
        self.element = element


@compiles(_Parenthesised)
def _compile_parenthesised(element: _Parenthesised, compiler: Any, **kw: Any) -> str:
    return f"({compiler.process(element.element, **kw)})"


def any_of(conditions: list[ColumnElement[bool]]) -> ColumnElement[bool]:
    """OR over ``conditions`` as a balanced tree of parenthesised halves.

    ``a OR b OR c ...`` parses as a left-deep tree, one level per term, and SQLite refuses expressions
    deeper than 1,000 levels (SQLITE_MAX_EXPR_DEPTH, limits.html: "Expression tree is too large"); halves
    keep the depth at log2 of the number of terms, so a query with thousands of keys still runs.
    """
    if not conditions:
        return false()
    if len(conditions) <= 2:
        return or_(*conditions)
    middle = len(conditions) // 2
    return or_(_Parenthesised(any_of(conditions[:middle])), _Parenthesised(any_of(conditions[middle:])))


def _merged(patterns: list[KeyPattern]) -> list[KeyPattern]:
    """The same keys in fewer patterns: patterns equal but at one position become one pattern with the union
    of their codes there (``A.KAZ,A.KGZ`` is ``A.KAZ+KGZ``), so a long key list is a few IN lists."""
    for position in range(len(patterns[0]) if patterns else 0):
        groups: dict[KeyPattern, frozenset[str] | None] = {}
        for pattern in patterns:
            rest = pattern[:position] + pattern[position + 1:]
            codes, seen = pattern[position], groups.get(rest, frozenset())
            groups[rest] = None if codes is None or seen is None else seen | codes
        patterns = [rest[:position] + (codes,) + rest[position:] for rest, codes in groups.items()]
    return patterns


#: From this many full keys on (after ``_merged``), one row-value IN list instead of an OR of key conditions:
#: SQLAlchemy takes about 1 ms per condition to build and as much again to compile (measured: 1,200 keys took
#: 9 s on /data and 78 s on /availability, which builds one statement per dimension).
MANY_KEYS = 64


def _keys(table: Table, schema: DsdSchema, query: DataQuery, skip: str | None = None) -> ColumnElement[bool]:
    """The key patterns as a condition; ``skip`` leaves one dimension's selection out (availability)."""
    alternatives = []
    full_keys: dict[tuple[str, ...], list[tuple[str, ...]]] = {}  # dimensions given -> their single codes
    for pattern in _merged(query.key_patterns(schema.dimensions)):
        given = [(d, sorted(codes)) for d, codes in zip(schema.dimensions, pattern, strict=True)
                 if codes is not None and d != skip]
        if len(given) > 1 and all(len(codes) == 1 for _d, codes in given):
            full_keys.setdefault(tuple(d for d, _c in given), []).append(tuple(codes[0] for _d, codes in given))
        else:
            alternatives.append(and_(true(), *[table.c[d.lower()].in_(codes) for d, codes in given]))
    for dimensions, rows in full_keys.items():
        columns = [table.c[d.lower()] for d in dimensions]
        if len(rows) >= MANY_KEYS:
            alternatives.append(tuple_(*columns).in_(sorted(rows)))
        else:
            alternatives.extend(and_(*[c == v for c, v in zip(columns, row, strict=True)]) for row in rows)
    return any_of(alternatives) if alternatives else true()


def _time_condition(table: Table, op: str, value: str) -> ColumnElement[bool]:
    period = parse_period(value)
    if period is None:
        raise QueryError(f"c[TIME_PERIOD]: {value!r} is not an SDMX time period.")
    c = table.c
    conditions = {
        "eq": and_(c._period_start == period.start, c._period_end == period.end),
        "ne": or_(c._period_start != period.start, c._period_end != period.end),
        "ge": c._period_start >= period.start, "gt": c._period_start > period.end,
        "le": c._period_end <= period.end, "lt": c._period_end < period.start,
    }
    if op not in conditions:
        raise QueryError(f"c[TIME_PERIOD] takes eq, ne, lt, le, gt or ge, not {op}.")
    return conditions[op]


def _component_condition(table: Table, schema: DsdSchema, component: str, op: str, value: str) -> ColumnElement[bool]:
    if component == schema.time_dimension:
        return _time_condition(table, op, value)
    if component not in schema.components:
        raise QueryError(f"c[{component}]: {component} is not a component of {schema.ref}.")
    column: Any = table.c[component.lower()]
    operand: Any = value
    if schema.components[component].numeric and schema.components[component].codes is None:
        try:
            operand = float(value)
        except ValueError as exc:
            raise QueryError(f"c[{component}]: {value!r} is not a number.") from exc
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return {
        "eq": lambda: column == operand, "ne": lambda: column != operand, "lt": lambda: column < operand,
        "le": lambda: column <= operand, "gt": lambda: column > operand, "ge": lambda: column >= operand,
        "co": lambda: column.like(f"%{escaped}%", escape="\\"), "nc": lambda: not_(column.like(f"%{escaped}%",
                                                                                               escape="\\")),
        "sw": lambda: column.like(f"{escaped}%", escape="\\"), "ew": lambda: column.like(f"%{escaped}", escape="\\"),
    }[op]()


def _filter(table: Table, schema: DsdSchema, component: str, alternatives: Filter) -> ColumnElement[bool]:
    """One ``c[ID]=...`` filter: the plain ``eq`` alternatives of a coded component as one IN list, the others
    OR-ed as a balanced tree (``any_of``): a filter listing every country stays a shallow expression."""
    plain = sorted({group[0][1] for group in alternatives if len(group) == 1 and group[0][0] == "eq"})
    as_list = component in schema.components and component != schema.time_dimension and len(plain) > 1 \
        and not (schema.components[component].numeric and schema.components[component].codes is None)
    rest = [group for group in alternatives if not (as_list and len(group) == 1 and group[0][0] == "eq")]
    conditions = [and_(*[_component_condition(table, schema, component, op, value) for op, value in group])
                  for group in rest]
    if as_list:
        conditions.insert(0, table.c[component.lower()].in_(plain))
    return any_of(conditions)


def _filters(table: Table, schema: DsdSchema, query: DataQuery) -> list[ColumnElement[bool]]:
    out = []
    for component, alternatives in query.filters:
        out.append(_filter(table, schema, component, alternatives))
    if query.start_period:
        out.append(table.c._period_end >= query.start_period)
    if query.end_period:
        out.append(table.c._period_start <= query.end_period)
    if query.providers is not None:
        out.append(table.c._provider.in_(sorted(query.providers)))
    return out


def availability(conn: Connection, table: Table, schema: DsdSchema, query: DataQuery, components: list[str],
                 mode: str) -> tuple[dict[str, list[str]], tuple[str, str] | None, int]:
    """Values present per dimension, the time range and the number of observations matching ``query``.

    ``mode=exact``: the values in the matching data; ``available``: for each dimension, the values that
    remain possible when that dimension's own selection is dropped (REST 1.5 4_6_1_other_queries.md).
    """
    values: dict[str, list[str]] = {}
    for component in components:
        if component == schema.time_dimension:
            continue
        skip = component if mode == "available" else None
        where = and_(_state(table, query), _keys(table, schema, query, skip), *_filters(table, schema, query))
        column = table.c[component.lower()]
        values[component] = [v for (v,) in conn.execute(select(column).where(where).distinct().order_by(column))]
    where = and_(_state(table, query), _keys(table, schema, query), *_filters(table, schema, query))
    first, last, count = conn.execute(
        select(func.min(table.c._period_start), func.max(table.c._period_end), func.count()).where(where)).one()
    return values, ((first, last) if first else None), int(count)


def distinct_values(conn: Connection, table: Table, schema: DsdSchema, query: DataQuery,
                    layout: Layout) -> dict[str, list[Any]]:
    """The values each component takes in the answer to ``query``, as texts and as ``series_blocks`` will
    give them (for formats that index values up front, such as SDMX-JSON): periods in period order, other
    values sorted.

    One scan, grouped as the blocks are: the key, the attributes above the observation (``_latest``), and per
    series the distinct values of each observation-level component (measured on 1M observations: 1.6 s,
    against 2.9 s for a series scan plus a GROUP BY of the observation-level combinations, and 10.4 s for
    one SELECT DISTINCT per component).
    """
    series = _Series(table, schema, query, layout, conn.dialect.name == "postgresql")
    obs_components = [layout.obs_dimension, *layout.obs_attributes]
    statement = series.select([series.array(series.text(c), distinct=True) for c in obs_components], order=False)
    numeric = {c for c in obs_components if series.numeric(c)}
    found: dict[str, set[Any]] = {c: set() for c in [*schema.key_components, *schema.attributes]}
    per_series = [*layout.group_dimensions, *layout.block_attributes]
    for row in conn.execute(statement):
        fields = iter(row[len(series.state):])
        for component in per_series:
            found[component].add(text(schema, component, next(fields)))
        for _ in range(series.extra):
            next(fields)
        for component in obs_components:
            raw = next(fields)
            found[component].update(_numbers(raw) if component in numeric else json.loads(raw))
    out = {}
    for component, values in found.items():
        values.discard(None)
        key = _period_start if component == schema.time_dimension else None
        out[component] = sorted(values, key=key)
    return out


def _period_start(period: str) -> tuple[str, str]:
    parsed = parse_period(period)
    return (parsed.start if parsed else period), period


def _datasets(table: Any, query: DataQuery) -> list[Any]:
    """The columns that split an answer into datasets, in dataset order: one dataset per dissemination
    (4_4_data_queries.md, includeHistory); deletions (updatedAfter) in a dataset of their own, last.

    Without them the ORDER BY is the series order alone, which the key index gives (on PostgreSQL with an
    incremental sort; a constant deletion mark leading it cost a full sort: 6.6 s against 1.1 s on 1M rows).
    """
    with_deletions = query.include_history or (query.updated_after is not None and query.as_of is None)
    columns = [table.c._recorded_at, table.c._submission] if query.include_history else []
    return columns + ([table.c._deleted] if with_deletions else [])


def _source(table: Table, schema: DsdSchema, query: DataQuery) -> Any:
    """The matching rows: the table itself, or (first/lastNObservations) a subquery keeping the first or
    last N of each series (4_4_data_queries.md)."""
    where = and_(_state(table, query), _keys(table, schema, query), *_filters(table, schema, query))
    if query.first_n is None and query.last_n is None:
        return table, where
    dims = [table.c[d.lower()] for d in schema.dimensions]
    position = func.row_number().over(partition_by=[table.c._deleted, *dims], order_by=table.c._period_start.asc())
    from_end = func.row_number().over(partition_by=[table.c._deleted, *dims], order_by=table.c._period_start.desc())
    ranked = select(table, position.label("_first"), from_end.label("_last")).where(where).subquery()
    keep = []
    if query.first_n is not None:
        keep.append(ranked.c._first <= query.first_n)
    if query.last_n is not None:
        keep.append(ranked.c._last <= query.last_n)
    return ranked, or_(*keep)


def count_rows(conn: Connection, table: Table, schema: DsdSchema, query: DataQuery) -> int:
    """How many observations the answer to ``query`` holds (for the response cap)."""
    source, where = _source(table, schema, query)
    return int(conn.execute(select(func.count()).select_from(source).where(where)).scalar_one())


def series_blocks(conn: Connection, table: Table, schema: DsdSchema, query: DataQuery,
                  layout: Layout) -> Iterator[Block]:
    """The answer to ``query`` as series blocks, in answer order: one aggregate row per series.

    Each observation component comes as one JSON array per series (``json_group_array`` on SQLite,
    ``json_agg`` on PostgreSQL; see ``_Series``), numbers already as text; so the driver builds one row per
    series, not per observation.
    """
    series = _Series(table, schema, query, layout, conn.dialect.name == "postgresql")
    observation_columns = [*layout.obs_components, "_period_start"]
    statement = series.select([series.array(series.text(name)) for name in observation_columns])
    state_names = [c.name for c in series.state]
    numeric = {name for name in observation_columns if series.numeric(name)}
    for row in conn.execution_options(stream_results=True, yield_per=500).execute(statement):
        fields = iter(row)
        marks = {name: next(fields) for name in state_names}
        key = {c: next(fields) for c in layout.group_dimensions}
        attributes = {}
        for name in layout.block_attributes:
            value = next(fields)
            if value is not None:
                attributes[name] = text(schema, name, value) or ""
        for _ in range(series.extra):
            next(fields)
        columns: dict[str, list[Any]] = {}
        for name in observation_columns:
            raw = next(fields)
            if not _all_null(raw):  # a component nobody reported in this series: absent from the block
                columns[name] = _numbers(raw) if name in numeric else json.loads(raw)
        block = Block(key, attributes, columns, columns.pop("_period_start"), bool(marks.get("_deleted")),
                      marks.get("_submission"), marks.get("_recorded_at"))
        if series.postgres and not _ascending(block.period_starts):
            # The attributes above were read as the last value in this order (see _Series): never guess.
            raise RuntimeError(f"PostgreSQL fed series {key} to its aggregates out of period order; "
                               "the query plan changed, report it (store/read.py, _Series).")
        _in_order(block, layout)
        yield block


class _Series:
    """The matching rows grouped as the blocks are (by dataset, then series key), for one dialect.

    SQLite reads the table directly: the GROUP BY walks the key index, so rows reach the aggregates in key
    and stored period order. Each attribute attached above the observation is taken as reported with the
    series' latest observation: bare columns beside exactly one ``max(_period_start)``, which SQLite
    documents to take their values from the row holding that maximum (lang_select.html, bare columns in
    an aggregate query; 0.5 s less per million observations than one ``max()`` per attribute).

    PostgreSQL reads a subquery sorted once (key index, then period; no join above it, which is when the
    manual says "supplying the input values from a sorted subquery will usually work", 9.21), and takes
    each such attribute as the last of its values in that order. ``series_blocks`` checks every series'
    periods arrived ascending and fails loudly otherwise. Measured on 1M observations: 3.6 s for the
    statement, against 21 s with ordered aggregates (``json_agg(... ORDER BY)`` sorts its input once per
    aggregate) and 8.6 s with ``last_value`` windows for the attributes.

    Blocks whose observations are not in the order of the observation dimension (SQLite's index order
    differs from period order, or another dimension is at the observation) are re-sorted in Python.
    """

    def __init__(self, table: Table, schema: DsdSchema, query: DataQuery, layout: Layout, postgres: bool) -> None:
        source, where = _source(table, schema, query)
        self.postgres = postgres
        state, groups = _datasets(source, query), [source.c[c.lower()] for c in layout.group_dimensions]
        start = source.c._period_start
        if not postgres:
            self.rows, self.where = source, where
            self.attributes = [*[source.c[a.lower()] for a in layout.block_attributes], func.max(start)]
            self.extra = 1  # max(_period_start): read past it
        else:
            partition = [*state, *groups]
            needed = {c.name: c for c in [*partition, *[source.c[n.lower()] for n in layout.obs_components],
                                          *[source.c[a.lower()] for a in layout.block_attributes], start]}
            self.rows = select(*needed.values()).where(where).order_by(*partition, start).subquery()
            self.where = true()
            # the last of the series' values in period order (PostgreSQL arrays count from 1)
            self.attributes = [func.array_agg(self.rows.c[a.lower()])[func.count()] for a in layout.block_attributes]
            self.extra = 0
        self.state = [self.rows.c[c.name] for c in state]
        self.groups = [self.rows.c[c.name] for c in groups]

    def numeric(self, component: str) -> bool:
        return isinstance(self.rows.c[component.lower()].type, Float)

    def text(self, component: str) -> Any:
        """A component's values as the blocks carry them (numbers as text, see ``_number_text``)."""
        column = self.rows.c[component.lower()]
        return _number_text(column, self.postgres) if self.numeric(component) else column

    def array(self, values: Any, distinct: bool = False) -> Any:
        """A JSON array of the series' values, as text."""
        values = values.distinct() if distinct else values
        return cast(func.json_agg(values), Text) if self.postgres else func.json_group_array(values)

    def select(self, arrays: list[Any], order: bool = True) -> Any:
        """One row per series: dataset columns, key, attributes (then ``extra`` columns), arrays."""
        statement = select(*self.state, *self.groups, *self.attributes, *arrays).where(self.where).group_by(
            *self.state, *self.groups)
        return statement.order_by(*self.state, *self.groups) if order else statement


def _number_text(column: Any, postgres: bool) -> Any:
    """A float column as text in SQL: integral values as integers (as ``render.number`` writes them), others
    in a lossless form (SQLite: 17 significant digits; PostgreSQL: its shortest exact form) that
    ``_numbers`` rewrites in Python as ``render.number`` does."""
    if postgres:
        return case((func.abs(column) >= 1e15, cast(column, Text)),
                    (column == cast(column, BigInteger), cast(cast(column, BigInteger), Text)),
                    else_=cast(column, Text))
    exact = func.printf("%!.17g", column)
    return case((column.is_(None), None), (func.abs(column) >= 1e15, exact),
                (column == cast(column, Integer), cast(cast(column, Integer), Text)), else_=exact)


#: what only a non-integral number's text holds (a decimal point, an exponent, Inf/Infinity, NaN)
_NOT_INTEGRAL = (".", "e", "I", "N")


def _all_null(raw: str) -> bool:
    """Whether a JSON array holds only nulls, read off its text: n nulls take 5n+1 characters (cheaper
    than counting each column in SQL, measured: 0.3 s per million observations)."""
    return raw.startswith("[null") and raw.count("null") * 5 + 1 == len(raw)


def _numbers(raw: str) -> list[Any]:
    """A float column's texts: integers pass as SQL wrote them; any other number is rewritten exactly."""
    values = json.loads(raw)
    if not any(mark in raw for mark in _NOT_INTEGRAL):
        return values
    return [None if v is None else number(float(v)) for v in values]


def _sortable(values: list[Any]) -> list[Any]:
    return values if None not in values else [value or "" for value in values]


def _ascending(values: list[Any]) -> bool:
    values = _sortable(values)
    return sorted(values) == values  # linear on sorted input (timsort), and in C


def _in_order(block: Block, layout: Layout) -> None:
    """Sort a block's observations by period start (or observation dimension) if they did not come so."""
    raw: list[Any] = block.period_starts if layout.time_ordered else block.observations[layout.obs_dimension]
    if _ascending(raw):
        return
    order = _sortable(raw)
    permutation = sorted(range(len(order)), key=order.__getitem__)
    block.period_starts = [block.period_starts[i] for i in permutation]
    block.observations = {c: [values[i] for i in permutation] for c, values in block.observations.items()}


STATS_COLUMNS = ("freq", "ref_area", "migr_flow", "migrant_type", "counterpart_area", "citizenship", "cob", "sex",
                 "age", "unit_measure", "time_period", "obs_value", "dur_crit", "source_type", "obs_status")


def flow_rows(conn: Connection, table: Table, periods: set[str] | None = None,
              filters: Mapping[str, str | Collection[str]] | None = None,
              as_of: datetime | None = None) -> list[dict[str, Any]]:
    """Observations of a migration-flow table for the statistics (current, or at ``as_of``): only the columns
    they use, fetched as plain tuples (SQLAlchemy row objects cost more than the statistics themselves).
    A filter value is one code or a collection of codes."""
    where = [visible(table, as_of), *equal_to(table, filters or {})]
    if periods:
        where.append(table.c.time_period.in_(sorted(periods)))
    columns = [table.c[c] for c in STATS_COLUMNS]
    return [dict(zip(STATS_COLUMNS, row, strict=True)) for row in conn.execute(select(*columns).where(*where))]


def equal_to(table: Table | Any, filters: Mapping[str, str | Collection[str]]) -> list[ColumnElement[bool]]:
    """``component = code`` (or ``IN codes``) conditions on a table or an alias of one."""
    return [table.c[component.lower()] == value if isinstance(value, str)
            else table.c[component.lower()].in_(sorted(value)) for component, value in filters.items()]


def diaspora(conn: Connection, table: Table, country: str, as_of: datetime | None = None) -> dict[str, dict[str, float]]:
    """Stocks of people born in ``country`` by host country, per period, from a MIGR_STOCK table (totals of
    sex and age, persons): {period: {host: stock}}. The denominator of mirror-estimate coverage (note 4.8)."""
    c = table.c
    statement = select(c.time_period, c.ref_area, c.obs_value).where(
        visible(table, as_of), c.stock_basis == "COB", c.counterpart_area == country, c.sex == "_T", c.age == "_T",
        c.unit_measure == "PS", c.obs_value.is_not(None), c.ref_area != country)
    out: dict[str, dict[str, float]] = {}
    for period, host, value in conn.execute(statement):
        out.setdefault(period, {})[host] = value
    return out
