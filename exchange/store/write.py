"""Apply staged segments to the observation tables, keeping history. Never commits: the caller owns the transaction.

Semantics follow the REST maintenance draft (rest-api/draft, "Maintaining related Data"):
Merge updates or inserts the values given and keeps the others; Replace replaces observation-level
values (omitted ones become empty) and merges higher-level attributes; Delete removes observations
(or only the attribute/measure values given), with omitted dimensions as wildcards. Nothing is
overwritten: a new version is inserted and the previous one gets ``_superseded_at`` - first the old
version is closed, then the new one inserted, so at no moment are two versions of a key current.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    MetaData,
    Select,
    Table,
    and_,
    delete,
    false,
    func,
    insert,
    literal,
    or_,
    select,
    true,
    update,
)

from exchange.catalog import DsdSchema
from exchange.rows import Action, Issue
from exchange.store.stage import Segment
from exchange.store.tables import plan_table
from exchange.validate import make_issue


@dataclass
class Counts:
    inserted: int = 0
    replaced: int = 0
    deleted: int = 0
    unchanged: int = 0

    def add(self, other: Counts) -> None:
        self.inserted += other.inserted
        self.replaced += other.replaced
        self.deleted += other.deleted
        self.unchanged += other.unchanged


@dataclass
class WriteContext:
    conn: Connection
    submission_id: str
    provider: str
    now: datetime
    _plan: Table | None = field(default=None, repr=False)

    def plan(self) -> Table:
        """The temporary table of planned versions (created on first use, on this connection)."""
        if self._plan is None:
            table = plan_table(MetaData())
            table.drop(self.conn, checkfirst=True)
            table.create(self.conn)
            self._plan = table
        return self._plan

    def close(self) -> None:
        if self._plan is not None:
            self._plan.drop(self.conn)
            self._plan = None


def _current(table: Any) -> ColumnElement[bool]:
    return and_(table.c._superseded_at.is_(None), table.c._deleted == false())


def _key_match(obs: Any, stage: Any, schema: DsdSchema, wildcard: bool = False) -> ColumnElement[bool]:
    parts = []
    for component in schema.key_components:
        o, s = obs.c[component.lower()], stage.c[component.lower()]
        parts.append(or_(s.is_(None), o == s) if wildcard else o == s)
    return and_(*parts)


def _value_columns(schema: DsdSchema) -> list[str]:
    return [schema.measure.lower()] + [a.lower() for a in schema.attributes]


def _obs_level(schema: DsdSchema) -> set[str]:
    names = {schema.measure.lower()}
    names.update(a.lower() for a in schema.attributes if schema.components[a].attachment == "obs")
    return names


def apply_segment(ctx: WriteContext, segment: Segment, obs: Table, stage: Table) -> tuple[Counts, list[Issue]]:
    if segment.action is Action.DELETE:
        return _delete(ctx, segment, obs, stage)
    return _upsert(ctx, segment, obs, stage), []


def _plan(ctx: WriteContext, rows: Select[Any]) -> Table:
    """Fill the plan with ``rows`` (stage ``seq``, current version ``old_id``): what this step will write.

    Every step plans first, then closes the versions it replaces (``_supersede``), then inserts the new ones
    (``_insert_planned``): the new version only becomes current once the old one no longer is, as the
    store's unique index over the current rows requires.
    """
    plan = ctx.plan()
    ctx.conn.execute(delete(plan))
    ctx.conn.execute(insert(plan).from_select(["seq", "old_id"], rows))
    return plan


def _supersede(ctx: WriteContext, obs: Table, plan: Table) -> tuple[int, int]:
    """Close the current versions the plan replaces. Returns (planned rows, observations replaced).

    Primary-key look-ups only: the cost follows the size of the message, not of the table. Replaced
    observations do not count tombstones (a deleted observation written again is an insertion).
    """
    planned, replaced = ctx.conn.execute(
        select(func.count(), func.count(obs.c._id))
        .select_from(plan.outerjoin(obs, and_(obs.c._id == plan.c.old_id, obs.c._deleted == false())))
    ).one()
    ctx.conn.execute(
        update(obs).where(obs.c._id.in_(select(plan.c.old_id).where(plan.c.old_id.is_not(None))))
        .values(_superseded_at=ctx.now, _superseded_by=ctx.submission_id)
    )
    return int(planned), int(replaced)


def _insert_planned(ctx: WriteContext, obs: Table, columns: list[str], rows: Select[Any]) -> None:
    meta = ["_submission", "_provider", "_recorded_at", "_replaces", "_deleted"]
    ctx.conn.execute(insert(obs).from_select([*columns, *meta], rows))


def _stamp(ctx: WriteContext, replaces: Any, deleted: bool) -> list[Any]:
    """The bookkeeping columns of a new version, in ``_insert_planned``'s order."""
    return [literal(ctx.submission_id), literal(ctx.provider), literal(ctx.now), replaces, literal(deleted)]


def _upsert(ctx: WriteContext, segment: Segment, obs: Table, stage: Table) -> Counts:
    """Write the staged rows that are new or differ from the current version.

    The current version may be a tombstone (a deleted observation): its values are all empty, so the new
    row is written in full, and counted as inserted.
    """
    schema = segment.schema
    old = obs.alias("old")
    obs_level = _obs_level(schema)

    def merged(name: str) -> ColumnElement[Any]:
        if segment.action is Action.REPLACE and name in obs_level:
            return stage.c[name]
        return func.coalesce(stage.c[name], old.c[name])

    new_values = {name: merged(name) for name in _value_columns(schema)}
    differs = or_(old.c._deleted == true(), *[new_values[n].is_distinct_from(old.c[n]) for n in new_values])
    time_col = stage.c[schema.time_dimension.lower()] if schema.time_dimension else None
    in_segment = and_(stage.c.segment == segment.index, time_col.is_not(None) if time_col is not None else true())
    join_on = and_(_key_match(old, stage, schema), old.c._superseded_at.is_(None))
    plan = _plan(ctx, select(stage.c.seq, old.c._id).select_from(stage.outerjoin(old, join_on))
                 .where(in_segment, or_(old.c._id.is_(None), differs)))
    written, replaced = _supersede(ctx, obs, plan)
    keys = [k.lower() for k in schema.key_components]
    _insert_planned(ctx, obs, [*keys, "_period_start", "_period_end", *new_values], select(
        *[stage.c[k] for k in keys], stage.c._period_start, stage.c._period_end,
        *[new_values[n].label(n) for n in new_values], *_stamp(ctx, plan.c.old_id, False),
    ).select_from(plan.join(stage, stage.c.seq == plan.c.seq).outerjoin(old, old.c._id == plan.c.old_id)))
    series_only = segment.rows - _staged_with_time(ctx, stage, in_segment)
    return Counts(inserted=written - replaced, replaced=replaced, unchanged=segment.rows - series_only - written)


def _staged_with_time(ctx: WriteContext, stage: Table, in_segment: ColumnElement[bool]) -> int:
    return int(ctx.conn.execute(select(func.count()).select_from(stage).where(in_segment)).scalar_one())


def _delete(ctx: WriteContext, segment: Segment, obs: Table, stage: Table) -> tuple[Counts, list[Issue]]:
    schema = segment.schema
    values = _value_columns(schema)
    in_segment = stage.c.segment == segment.index
    match = and_(_key_match(obs, stage, schema, wildcard=True), _current(obs))
    issues = [_not_found(row, schema) for row in ctx.conn.execute(
        select(stage).where(in_segment, ~select(literal(1)).select_from(obs).where(match).exists())
    )]
    whole = and_(*[stage.c[n].is_(None) for n in values])
    counts = Counts()
    matches_whole_delete = (
        select(literal(1)).select_from(stage)
        .where(in_segment, whole, _key_match(obs, stage, schema, wildcard=True)).exists()
    )
    plan = _plan(ctx, select(literal(None), obs.c._id).where(_current(obs), matches_whole_delete))
    counts.deleted += _supersede(ctx, obs, plan)[1]
    keys = [k.lower() for k in schema.key_components]
    _insert_planned(ctx, obs, [*keys, "_period_start", "_period_end"], select(
        *[obs.c[k] for k in keys], obs.c._period_start, obs.c._period_end, *_stamp(ctx, obs.c._id, True),
    ).select_from(plan.join(obs, obs.c._id == plan.c.old_id)))
    for row in ctx.conn.execute(select(stage).where(in_segment, ~whole).order_by(stage.c.seq)).mappings():
        counts.replaced += _delete_values(ctx, schema, obs, row, values)
    return counts, issues


def _delete_values(ctx: WriteContext, schema: DsdSchema, obs: Table, row: Any, values: list[str]) -> int:
    """Delete only the measure/attribute values a Delete row names, on every observation it matches."""
    keys = [k.lower() for k in schema.key_components]
    match = and_(*[obs.c[k] == row[k] for k in keys if row[k] is not None], _current(obs))
    plan = _plan(ctx, select(literal(None), obs.c._id).where(match))
    replaced = _supersede(ctx, obs, plan)[1]
    new_values = [literal(None).label(n) if row[n] is not None else obs.c[n] for n in values]
    _insert_planned(ctx, obs, [*keys, "_period_start", "_period_end", *values], select(
        *[obs.c[k] for k in keys], obs.c._period_start, obs.c._period_end, *new_values,
        *_stamp(ctx, obs.c._id, False),
    ).select_from(plan.join(obs, obs.c._id == plan.c.old_id)))
    return replaced


def _not_found(row: Any, schema: DsdSchema) -> Issue:
    key = ".".join(row._mapping[d.lower()] or "*" for d in schema.dimensions)
    period = row._mapping[schema.time_dimension.lower()] if schema.time_dimension else None
    return make_issue("DELETE_NOT_FOUND", f"Delete of {key} {period or '(all periods)'}: no such observation is stored.",
                      where=row._mapping["location"], series_key=key, period=period)
