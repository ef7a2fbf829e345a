"""Which mirror pairs a submission touched, and how each of their periods stands against the policy (issue #10).

A push touches a pair when it wrote (or deleted) either side: rows with ``_submission`` = the submission id
select exactly those keys. The pairs are then read with ``exchange.stats.pairing.read_pairs`` restricted to the
touched countries, measured with ``exchange.stats.mirror.measure_columns`` and judged by the policy - set-based,
one statement per side and basis, never a sweep over the store.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import Connection, Table, func, select

from exchange.reconcile.policy import Policy
from exchange.stats.mirror import BASES, BREAKDOWN, Pair, measure_columns
from exchange.stats.pairing import NOT_A_COUNTRY, read_pairs
from exchange.store.read import equal_to, visible

_BREAKDOWN = tuple(b.lower() for b in BREAKDOWN)
#: (origin, destination, breakdown "A._T._T._T.PS", basis)
PairKey = tuple[str, str, str, str]
FLOW_DIMENSIONS = frozenset({"REF_AREA", "MIGR_FLOW", "COUNTERPART_AREA", "CITIZENSHIP", "COB", *BREAKDOWN})


def is_flow_table(dimensions: Iterable[str]) -> bool:
    """Only a DSD with both sides of migration flows (the shared MIGR_FLOW shape) has mirror pairs."""
    return FLOW_DIMENSIONS <= set(dimensions)


@dataclass(slots=True)
class PeriodView:
    """One period of a pair as it stands now, judged by the policy."""

    period: str
    e: float | None
    i: float | None
    flag: str | None
    ln_ratio: float | None
    e_dur_crit: str | None
    e_source_type: str | None
    i_dur_crit: str | None
    i_source_type: str | None
    out: bool = False
    rule: str | None = None  # flag | missing_side
    in_window: bool = False


@dataclass
class Examined:
    """Every period of each touched pair (newest last)."""

    periods: dict[PairKey, dict[str, PeriodView]] = field(default_factory=dict)


def touched_keys(conn: Connection, table: Table, submission_id: str, policy: Policy) -> set[PairKey]:
    """The pairs whose E or I side the submission wrote or deleted (on the policy's bases and breakdowns)."""
    c = table.c
    rows = conn.execute(select(c.ref_area, c.migr_flow, c.counterpart_area, c.citizenship, c.cob,
                               *[c[b] for b in _BREAKDOWN])
                        .where(c._submission == submission_id, *equal_to(table, policy.breakdowns)).distinct())
    keys: set[PairKey] = set()
    for row in rows:
        breakdown = ".".join(row[5:])
        if row.migr_flow == "EMI" and row.citizenship == "_T" and row.cob == "_T":
            keys.update((row.ref_area, row.counterpart_area, breakdown, basis) for basis in policy.bases)
        elif row.migr_flow == "IMM":
            for basis in policy.bases:
                partner = _immigration_partner(row, basis)
                if partner is not None:
                    keys.add((partner, row.ref_area, breakdown, basis))
    return {k for k in keys if k[0] not in NOT_A_COUNTRY and k[1] not in NOT_A_COUNTRY and k[0] != k[1]}


def _immigration_partner(row: object, basis: str) -> str | None:
    """The origin an immigration row names on ``basis`` (its partner column; the other two are totals)."""
    values = {"COUNTERPART_AREA": row.counterpart_area, "CITIZENSHIP": row.citizenship, "COB": row.cob}  # type: ignore[attr-defined]
    partner = BASES[basis]
    if any(v != "_T" for k, v in values.items() if k != partner):
        return None
    return values[partner]


def examine(conn: Connection, table: Table, keys: set[PairKey], policy: Policy,
            also: Mapping[PairKey, Collection[str]] | None = None) -> Examined:
    """Read the touched pairs in their window (the latest periods either side reported) and in the periods ``also``
    lists (an existing case's), and judge the window by the policy. Only those periods are read."""
    window = windows(conn, table, keys, policy)
    wanted = {k: set(window.get(k, ())) | set((also or {}).get(k, ())) for k in keys}
    periods = set().union(*wanted.values()) if wanted else set()
    pairs: list[Pair] = []
    for basis in sorted({k[3] for k in keys}):
        of_basis = [k for k in keys if k[3] == basis and wanted[k]]
        for origins, destinations in country_groups(of_basis):
            pairs.extend(p for p in read_pairs(conn, table, basis, periods=periods, filters=_filters(of_basis),
                                               origins=origins, destinations=destinations)
                         if p.period in wanted.get((p.origin, p.destination, ".".join(p.breakdown), basis), ()))
    result = Examined()
    if not pairs:
        return result
    columns = measure_columns(np.array([np.nan if p.emigration is None else p.emigration for p in pairs]),
                              np.array([np.nan if p.immigration is None else p.immigration for p in pairs]))
    flags, ln = columns["flag"].tolist(), columns["ln_ratio"].tolist()
    for k, p in enumerate(pairs):
        key = (p.origin, p.destination, ".".join(p.breakdown), p.basis)
        result.periods.setdefault(key, {})[p.period] = PeriodView(
            p.period, p.emigration, p.immigration, flags[k], None if np.isnan(ln[k]) else ln[k],
            p.origin_dur_crit, p.origin_source_type, p.destination_dur_crit, p.destination_source_type,
            in_window=p.period in window.get(key, ()))
    _judge(conn, table, result, policy)
    return result


def _filters(keys: Collection[PairKey]) -> dict[str, list[str]]:
    """Breakdown restrictions covering the keys (each component: the codes the keys use)."""
    return {b: sorted({k[2].split(".")[n] for k in keys}) for n, b in enumerate(BREAKDOWN)}


def windows(conn: Connection, table: Table, keys: set[PairKey], policy: Policy) -> dict[PairKey, list[str]]:
    """The latest ``policy.latest_periods`` periods either side of each pair reported: ranked per series in SQL
    (ROW_NUMBER), so only that many rows per series come back however long the series are."""
    c = table.c
    latest: dict[PairKey, set[str]] = defaultdict(set)
    for basis in sorted({k[3] for k in keys}):
        of_basis = [k for k in keys if k[3] == basis]
        partner = c[BASES[basis].lower()]
        others = [c[col.lower()] == "_T" for col in BASES.values() if col != BASES[basis]]
        for origins, destinations in country_groups(of_basis):
            sides = (
                (c.ref_area, c.counterpart_area, [c.migr_flow == "EMI", c.citizenship == "_T", c.cob == "_T"]),
                (partner, c.ref_area, [c.migr_flow == "IMM", *others]),
            )
            for origin, destination, where in sides:
                series = [origin, destination, *[c[b] for b in _BREAKDOWN]]
                ranked = select(*series, c.time_period, func.row_number().over(
                    partition_by=series, order_by=c.time_period.desc()).label("rank")).where(
                    visible(table), *where, origin.in_(sorted(origins)), destination.in_(sorted(destinations)),
                    *equal_to(table, _filters(of_basis))).subquery()
                for row in conn.execute(select(ranked).where(ranked.c.rank <= policy.latest_periods)):
                    key = (row[0], row[1], ".".join(row[2:2 + len(_BREAKDOWN)]), basis)
                    if key in keys:
                        latest[key].add(row[-2])
    return {k: sorted(v)[-policy.latest_periods:] for k, v in latest.items()}


def country_groups(keys: list[PairKey]) -> list[tuple[set[str], set[str]]]:
    """Few (origins, destinations) restrictions covering the keys: one per origin when origins are few (a push by
    one country's emigration side), else one per destination, so the cross product read stays close to the keys."""
    by_origin: dict[str, set[str]] = defaultdict(set)
    by_destination: dict[str, set[str]] = defaultdict(set)
    for origin, destination, _, _ in keys:
        by_origin[origin].add(destination)
        by_destination[destination].add(origin)
    if len(by_origin) <= len(by_destination):
        return [({o}, d) for o, d in sorted(by_origin.items())]
    return [(o, {d}) for d, o in sorted(by_destination.items())]


def _judge(conn: Connection, table: Table, result: Examined, policy: Policy) -> None:
    one_sided = []
    for periods in result.periods.values():
        for view in periods.values():
            if not view.in_window:
                continue
            total = (view.e or 0.0) + (view.i or 0.0)
            if policy.out_of_policy(view.flag, total):
                view.out, view.rule = True, "flag"
            elif (view.e is None) != (view.i is None) and policy.missing_side:
                one_sided.append(view)
    if not one_sided:
        return
    reported = _reporting(conn, table, result, policy)
    for key, periods in result.periods.items():
        origin, destination, breakdown, basis = key
        for view in periods.values():
            if view.in_window and not view.out and (view.e is None) != (view.i is None):
                # the missing side's reporter reported other partners in that period (and breakdown)
                missing = (destination, "IMM", basis) if view.i is None else (origin, "EMI", "residence")
                if (*missing, view.period, breakdown) in reported:
                    view.out, view.rule = True, "missing_side"


def _reporting(conn: Connection, table: Table, result: Examined, policy: Policy) -> set[tuple[str, ...]]:
    """(reporter, flow, basis, period, breakdown) for which the reporter reported at least one partner country."""
    c = table.c
    countries = {k[0] for k in result.periods} | {k[1] for k in result.periods}
    periods = {p for views in result.periods.values() for p, v in views.items() if v.in_window}
    out: set[tuple[str, ...]] = set()
    for flow, bases in (("EMI", ("residence",)), ("IMM", policy.bases)):
        for basis in bases:
            partner = c[BASES[basis].lower()]
            others = [c[col.lower()] == "_T" for col in BASES.values() if col != BASES[basis]]
            statement = (select(c.ref_area, c.time_period, *[c[b] for b in _BREAKDOWN])
                         .where(visible(table), c.migr_flow == flow, c.ref_area.in_(sorted(countries)),
                                c.time_period.in_(sorted(periods)), partner.notin_(NOT_A_COUNTRY), *others)
                         .distinct())
            for row in conn.execute(statement):
                out.add((row[0], flow, basis, row[1], ".".join(row[2:])))
    return out
