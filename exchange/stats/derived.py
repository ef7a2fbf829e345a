"""Rows of the hub's derived dataflows (MIGR_MIRROR, MIGR_CORR_FACTOR, MIGR_FLOW_AGG), computed from the
current MIGR_FLOW observations on every query: never stale. Column names follow the derived DSDs."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table

from exchange.catalog import Catalog
from exchange.periods import parse_period
from exchange.stats import aggregate as agg
from exchange.stats import factors as fac
from exchange.stats import mirror
from exchange.stats.pairing import read_pairs
from exchange.store.read import flow_rows

#: CL_MIRROR_MEASURE code -> key of a pair record (mirror.pair_records)
MEASURES = {"E_ORIG": "emigration_reported_by_origin", "I_DEST": "immigration_reported_by_destination",
            "DIFF": "diff", "REL_E": "rel_e", "REL_I": "rel_i", "RATIO_EI": "ratio_ei", "LN_RATIO": "ln_ratio",
            "SYM_PCT": "sym_pct", "ASYM_SHARE": "asym_share"}
REGIONS = ("EU27_2020", "EFTA", "CIS", "EECCA", "UNECE", "W00")
BENCHMARK = "SWE"


def _period(row: dict[str, Any], period: str) -> dict[str, Any]:
    parsed = parse_period(period)
    row["time_period"] = period
    row["_period_start"], row["_period_end"] = (parsed.start, parsed.end) if parsed else (None, None)
    row["_deleted"] = False
    return row


@dataclass(frozen=True)
class Source:
    """Where the derived rows come from: the MIGR_FLOW observations as they are now, or at ``as_of``."""

    conn: Connection
    table: Table
    catalog: Catalog
    as_of: datetime | None = None

    def pairs(self, filters: dict[str, str]) -> list[mirror.Pair]:
        return read_pairs(self.conn, self.table, filters=filters, as_of=self.as_of)

    def rows(self) -> list[dict[str, Any]]:
        return flow_rows(self.conn, self.table, as_of=self.as_of)


PERSONS = {"UNIT_MEASURE": "PS"}
TOTALS = {**PERSONS, "SEX": "_T", "AGE": "_T", "MIGRANT_TYPE": "_T"}


def mirror_rows(source: Source) -> Iterator[dict[str, Any]]:
    pairs = source.pairs(PERSONS)
    for pair, record in zip(pairs, mirror.pair_records(pairs), strict=True):
        freq, migrant_type, sex, age, _unit = pair.breakdown
        for code, field in MEASURES.items():
            value = record[field]
            if value is None:
                continue
            yield _period({"freq": freq, "origin": pair.origin, "destination": pair.destination,
                           "migrant_type": migrant_type, "sex": sex, "age": age, "mirror_measure": code,
                           "obs_value": float(value), "method": "RAW", "dur_crit_orig": record["origin_dur_crit"],
                           "dur_crit_dest": record["destination_dur_crit"]}, pair.period)
    yield from _harmonised_rows([p for p in pairs if _is_total(p)])  # the same read, not a second one


def _is_total(pair: mirror.Pair) -> bool:
    breakdown = dict(zip(mirror.BREAKDOWN, pair.breakdown, strict=True))
    return all(breakdown[component] == code for component, code in TOTALS.items())


def _estimates(totals: list[mirror.Pair]) -> Iterator[tuple[str, list[mirror.Pair], fac.Factors]]:
    periods: dict[str, list[mirror.Pair]] = {}
    for pair in totals:
        periods.setdefault(pair.period, []).append(pair)
    for period, pairs in sorted(periods.items()):
        try:
            yield period, pairs, fac.estimate([p for p in pairs if p.both], BENCHMARK)
        except fac.Disconnected:
            continue  # a year whose pairs do not reach the benchmark has no factors


def _harmonised_rows(totals: list[mirror.Pair]) -> Iterator[dict[str, Any]]:
    for period, pairs, result in _estimates(totals):
        for flow in fac.harmonised(pairs, result):
            for code, field in (("E_ADJ", "adj_emi"), ("I_ADJ", "adj_imm"), ("HARM", "harmonised_flow")):
                if flow[field] is not None:
                    yield _period({"freq": "A", "origin": flow["origin"], "destination": flow["destination"],
                                   "migrant_type": "_T", "sex": "_T", "age": "_T", "mirror_measure": code,
                                   "obs_value": float(flow[field]), "method": "WLS_LOG", "benchmark_area": BENCHMARK,
                                   "obs_status": "E"}, period)


def factor_rows(source: Source) -> Iterator[dict[str, Any]]:
    for period, _pairs, result in _estimates(source.pairs(TOTALS)):
        for direction, values, errors in (("IMM", result.immigration, result.immigration_se),
                                          ("EMI", result.emigration, result.emigration_se)):
            for country, value in values.items():
                yield _period({"freq": "A", "ref_area": country, "migr_flow": direction, "method": "WLS_LOG",
                               "obs_value": value, "benchmark_area": BENCHMARK, "std_err": errors[country],
                               "obs_status": "E"}, period)


def aggregate_rows(source: Source) -> Iterator[dict[str, Any]]:
    flow_rows = source.rows()
    for region in REGIONS:
        memberships = agg.region_members(source.catalog, region)
        for flow in ("EMI", "IMM"):
            for scope in ("all", "intra", "extra"):
                for total in agg.aggregate(flow_rows, memberships, region, flow, scope):
                    yield _period({"freq": total["freq"], "ref_area": region, "migr_flow": flow,
                                   "partner_scope": scope.upper(), "migrant_type": total["migrant_type"],
                                   "sex": total["sex"], "age": total["age"], "unit_measure": total["unit_measure"],
                                   "obs_value": total["value"], "obs_status": total["obs_status"],
                                   "members_reporting": float(total["members_reporting"]),
                                   "members_expected": float(total["members_expected"]),
                                   "coverage_ratio": total["coverage"]}, total["period"])
