"""Mirror pairs formed by the database (mirror-statistics.md 3): one join instead of a Python pass over rows.

For each emigration observation E (MIGR_FLOW=EMI, REF_AREA=A, COUNTERPART_AREA=B) the statement looks up
the immigration observation I reported by B about A (MIGR_FLOW=IMM, REF_AREA=B, and A in the partner
column of the basis) with the same period and breakdown, through the key index; the immigration
observations nobody matched follow (``NOT EXISTS``). SQLite and PostgreSQL both run it as index lookups;
a ``FULL OUTER JOIN`` of two filtered subqueries is planned far worse by SQLite (minutes, not a second).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Table, and_, exists, null, select, union_all

from exchange.stats.mirror import BASES, BREAKDOWN, Pair
from exchange.store.read import equal_to, visible

#: Partner codes that are not a country: totals, unknowns, groups (never one side of a mirror pair).
NOT_A_COUNTRY = ("_T", "UNK", "OTH", "NAT", "FOR", "FOR_EU27", "STLS", "NAT_BORN", "FOR_BORN", "_Z")
PARTNER_COLUMNS = ("counterpart_area", "citizenship", "cob")
_BREAKDOWN = tuple(b.lower() for b in BREAKDOWN)


def read_pairs(conn: Connection, table: Table, basis: str = "residence", periods: Collection[str] | None = None,
               filters: Mapping[str, str | Collection[str]] | None = None, origins: Collection[str] | None = None,
               destinations: Collection[str] | None = None, as_of: datetime | None = None) -> list[Pair]:
    """Every mirror pair (both sides, or one) among the observations current now or at ``as_of``.

    ``filters`` restrict breakdown components (SEX, AGE, ...) to one code or a collection of codes;
    ``origins``/``destinations`` restrict the pair's countries. Emigration is always by next residence; the
    immigration side follows ``basis`` (previous residence, or the citizenship / country-of-birth proxies,
    the other two partner columns being totals). Pairs come ordered by period, origin, destination, breakdown.
    """
    e, i = table.alias("e"), table.alias("i")
    partner = BASES[basis].lower()
    others = [c for c in PARTNER_COLUMNS if c != partner]

    def emigration(t: Any) -> list[ColumnElement[bool]]:
        return [t.c.migr_flow == "EMI", t.c.citizenship == "_T", t.c.cob == "_T", visible(t, as_of)]

    def immigration(t: Any) -> list[ColumnElement[bool]]:
        return [t.c.migr_flow == "IMM", *[t.c[c] == "_T" for c in others], visible(t, as_of)]

    def mirrored() -> list[ColumnElement[bool]]:  # i is the mirror of e
        return [i.c.ref_area == e.c.counterpart_area, i.c[partner] == e.c.ref_area,
                i.c.time_period == e.c.time_period, *[i.c[c] == e.c[c] for c in _BREAKDOWN]]

    def scope(t: Any, origin: Any, destination: Any) -> list[ColumnElement[bool]]:
        where = [destination.notin_(NOT_A_COUNTRY), *equal_to(t, filters or {})]
        if periods is not None:
            where.append(t.c.time_period.in_(sorted(periods)))
        if origins is not None:
            where.append(origin.in_(sorted(origins)))
        if destinations is not None:
            where.append(destination.in_(sorted(destinations)))
        return where

    both_or_emigration = (
        select(e.c.ref_area, e.c.counterpart_area, e.c.time_period, *[e.c[c] for c in _BREAKDOWN],
               e.c.obs_value, i.c.obs_value, e.c.dur_crit, e.c.source_type, i.c.dur_crit, i.c.source_type)
        .select_from(e.outerjoin(i, and_(*immigration(i), *mirrored())))
        .where(*emigration(e), *scope(e, e.c.ref_area, e.c.counterpart_area)))
    immigration_only = (
        select(i.c[partner], i.c.ref_area, i.c.time_period, *[i.c[c] for c in _BREAKDOWN],
               null(), i.c.obs_value, null(), null(), i.c.dur_crit, i.c.source_type)
        .where(*immigration(i), *scope(i, i.c[partner], i.c.ref_area),
               i.c[partner].notin_(NOT_A_COUNTRY), ~exists().where(*emigration(e), *mirrored())))
    width = len(_BREAKDOWN)
    pairs = []
    _prefer_hash_joins(conn)
    for row in conn.execute(union_all(both_or_emigration, immigration_only)):
        origin, destination, period = row[0], row[1], row[2]
        e_value, i_value, e_dur, e_source, i_dur, i_source = row[3 + width:]
        pairs.append(Pair(origin, destination, period, tuple(row[3:3 + width]), basis, e_value, i_value,
                          e_dur, e_source, i_dur, i_source))
    pairs.sort(key=lambda p: (p.period, p.origin, p.destination, p.breakdown))
    return pairs


def _prefer_hash_joins(conn: Connection) -> None:
    """PostgreSQL: every observation has its mirror, so hash joins beat the index loops the planner picks.

    Measured by ``bench/mirror.py`` (92k pairs): 1.2 s with the planner's nested loops and merge anti-join,
    0.2 s with hash joins. Disabling the others raises the estimated cost, which would trigger JIT compilation
    (seconds), so JIT is off too. ``SET LOCAL`` ends with the read's transaction.
    """
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL enable_nestloop = off; SET LOCAL enable_mergejoin = off; SET LOCAL jit = off;"
                             " SET LOCAL work_mem = '64MB'")
