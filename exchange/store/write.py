"""Apply staged segments to the observation tables, keeping history. Never commits: the caller owns the transaction.

Semantics follow the REST maintenance draft (rest-api/draft, "Maintaining related Data"):
Merge updates or inserts the values given and keeps the others; Replace replaces observation-level
values (omitted ones become empty) and merges higher-level attributes; Delete removes observations
(or only the attribute/measure values given), with omitted dimensions as wildcards. Nothing is
overwritten: a new version is inserted and the previous one gets ``_superseded_at``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Table,
    and_,
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


def _watermark(conn: Connection, obs: Table) -> int:
    return int(conn.execute(select(func.coalesce(func.max(obs.c._id), 0))).scalar_one())


def _supersede(ctx: WriteContext, obs: Table, watermark: int) -> int:
    """Close the versions that the rows this submission wrote after ``watermark`` replace (``_replaces``).

    Primary-key look-ups only: the cost follows the size of the message, not of the table. Returns how
    many observations (not tombstones) were replaced.
    """
    new, old = obs.alias("new"), obs.alias("old")
    mine = and_(new.c._id > watermark, new.c._submission == ctx.submission_id, new.c._replaces.is_not(None))
    replaced = ctx.conn.execute(
        select(func.count()).select_from(new.join(old, old.c._id == new.c._replaces))
        .where(mine, old.c._deleted == false())
    ).scalar_one()
    ctx.conn.execute(
        update(obs).where(obs.c._id.in_(select(new.c._replaces).where(mine)))
        .values(_superseded_at=ctx.now, _superseded_by=ctx.submission_id)
    )
    return int(replaced)


def _upsert(ctx: WriteContext, segment: Segment, obs: Table, stage: Table) -> Counts:
    """Write the staged rows that are new or differ from the current version; one join pass.

    The current version may be a tombstone (a deleted observation): its values are all empty, so the new
    row is written in full, and counted as inserted.
    """
    schema = segment.schema
    old = obs.alias("old")
    join_on = and_(_key_match(old, stage, schema), old.c._superseded_at.is_(None))
    obs_level = _obs_level(schema)
    new_values: dict[str, Any] = {}
    for name in _value_columns(schema):
        if segment.action is Action.REPLACE and name in obs_level:
            new_values[name] = stage.c[name]
        else:
            new_values[name] = func.coalesce(stage.c[name], old.c[name])
    differs = or_(old.c._deleted == true(), *[new_values[n].is_distinct_from(old.c[n]) for n in new_values])
    time_col = stage.c[schema.time_dimension.lower()] if schema.time_dimension else None
    in_segment = and_(stage.c.segment == segment.index, time_col.is_not(None) if time_col is not None else true())
    watermark = _watermark(ctx.conn, obs)
    keys = [k.lower() for k in schema.key_components]
    columns = [*keys, "_period_start", "_period_end", *new_values]
    selected = select(
        *[stage.c[k] for k in keys], stage.c._period_start, stage.c._period_end,
        *[new_values[n].label(n) for n in new_values],
        literal(ctx.submission_id), literal(ctx.provider), literal(ctx.now), old.c._id, literal(False),
    ).select_from(stage.outerjoin(old, join_on)).where(in_segment, or_(old.c._id.is_(None), differs))
    ctx.conn.execute(insert(obs).from_select(
        [*columns, "_submission", "_provider", "_recorded_at", "_replaces", "_deleted"], selected))
    written = _written_since(ctx, obs, watermark)
    replaced = _supersede(ctx, obs, watermark)
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
    watermark = _watermark(ctx.conn, obs)
    keys = [k.lower() for k in schema.key_components]
    matches_whole_delete = (
        select(literal(1)).select_from(stage)
        .where(in_segment, whole, _key_match(obs, stage, schema, wildcard=True)).exists()
    )
    tombstones = select(
        *[obs.c[k] for k in keys], obs.c._period_start, obs.c._period_end,
        literal(ctx.submission_id), literal(ctx.provider), literal(ctx.now), obs.c._id, literal(True),
    ).where(_current(obs), obs.c._id <= watermark, matches_whole_delete)
    ctx.conn.execute(insert(obs).from_select(
        [*keys, "_period_start", "_period_end", "_submission", "_provider", "_recorded_at", "_replaces", "_deleted"],
        tombstones))
    counts.deleted += _supersede(ctx, obs, watermark)
    for row in ctx.conn.execute(select(stage).where(in_segment, ~whole).order_by(stage.c.seq)).mappings():
        counts.replaced += _delete_values(ctx, schema, obs, row, values)
    return counts, issues


def _delete_values(ctx: WriteContext, schema: DsdSchema, obs: Table, row: Any, values: list[str]) -> int:
    """Delete only the measure/attribute values a Delete row names, on every observation it matches."""
    keys = [k.lower() for k in schema.key_components]
    match = and_(*[obs.c[k] == row[k] for k in keys if row[k] is not None], _current(obs))
    watermark = _watermark(ctx.conn, obs)
    new_values = [literal(None).label(n) if row[n] is not None else obs.c[n] for n in values]
    ctx.conn.execute(insert(obs).from_select(
        [*keys, "_period_start", "_period_end", *values, "_submission", "_provider", "_recorded_at", "_replaces",
         "_deleted"],
        select(*[obs.c[k] for k in keys], obs.c._period_start, obs.c._period_end, *new_values,
               literal(ctx.submission_id), literal(ctx.provider), literal(ctx.now), obs.c._id,
               literal(False)).where(match, obs.c._id <= watermark),
    ))
    return _supersede(ctx, obs, watermark)


def _written_since(ctx: WriteContext, obs: Table, watermark: int) -> int:
    """Rows this submission wrote after ``watermark`` (driver-independent; DBAPI rowcount is not, for INSERT..SELECT)."""
    query = select(func.count()).where(obs.c._id > watermark, obs.c._submission == ctx.submission_id)
    return int(ctx.conn.execute(query).scalar_one())


def _not_found(row: Any, schema: DsdSchema) -> Issue:
    key = ".".join(row._mapping[d.lower()] or "*" for d in schema.dimensions)
    period = row._mapping[schema.time_dimension.lower()] if schema.time_dimension else None
    return make_issue("DELETE_NOT_FOUND", f"Delete of {key} {period or '(all periods)'}: no such observation is stored.",
                      where=row._mapping["location"], series_key=key, period=period)
