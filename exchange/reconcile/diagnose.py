"""Evidence and a first diagnosis of a case (issue #10, "Evidence and a first diagnosis").

Every rule is a *suggestion*, shown with the figures behind it; partners confirm it or give their own reason:

- ``DUR_CRIT``: the two sides use different duration criteria and the IMEM 12-month adjustment
  (exchange.stats.mirror.IMEM, mirror-statistics.md 4.1) brings the period within the policy;
- ``TIMING``: the origin's figure for year t is close (``consistent``, within 10 %) to the destination's
  figure for t+1 (or t-1) while the same-year pair is out of policy: registrations counted a year apart;
- ``CITIZENSHIP``: the case is on a proxy basis (citizenship or country of birth instead of residence);
- ``COVERAGE``: the two sides come from different source types (a register against a survey, ...).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, Table, select

from exchange.reconcile.policy import FLAG_RANK, Policy
from exchange.stats.mirror import BASES, BREAKDOWN, DEFAULT_THRESHOLDS, Pair, duration_coefficient
from exchange.stats.pairing import read_pairs


def within(ln_ratio: float, policy: Policy) -> bool:
    """|ln(I/E)| below the policy's flag level (the flag classes of exchange.stats.mirror)."""
    return abs(ln_ratio) <= DEFAULT_THRESHOLDS[FLAG_RANK[policy.flag_level] - 1]


def _ln(i: float | None, e: float | None) -> float | None:
    return math.log(i / e) if i and e and i > 0 and e > 0 else None


def duration_rule(pair: Pair, policy: Policy) -> dict[str, Any] | None:
    r_e, r_i = duration_coefficient(pair.origin_dur_crit), duration_coefficient(pair.destination_dur_crit)
    raw = _ln(pair.immigration, pair.emigration)
    if raw is None or r_e is None or r_i is None or pair.origin_dur_crit == pair.destination_dur_crit:
        return None
    adjusted = _ln(pair.immigration * r_i, pair.emigration * r_e)  # type: ignore[operator]
    if adjusted is None or within(raw, policy) or not within(adjusted, policy):
        return None
    return {"suggestion": "DUR_CRIT", "period": pair.period, "figures": {
        "origin_dur_crit": pair.origin_dur_crit, "destination_dur_crit": pair.destination_dur_crit,
        "imem_origin": r_e, "imem_destination": r_i, "ln_ratio": raw, "ln_ratio_imem_adjusted": adjusted}}


def timing_rule(pair: Pair, series: Mapping[str, Pair], policy: Policy) -> dict[str, Any] | None:
    raw = _ln(pair.immigration, pair.emigration)
    if raw is None or within(raw, policy) or not pair.period.isdigit():
        return None
    for shift in (1, -1):
        other = series.get(str(int(pair.period) + shift))
        shifted = _ln(other.immigration if other else None, pair.emigration)
        if shifted is not None and abs(shifted) <= DEFAULT_THRESHOLDS[0]:  # close: "consistent" (within 10 %)
            assert other is not None
            return {"suggestion": "TIMING", "period": pair.period, "figures": {
                "E": pair.emigration, "I": pair.immigration, "ln_ratio": raw, "I_period": other.period,
                "I_shifted": other.immigration, "ln_ratio_shifted": shifted}}
    return None


def source_rule(pair: Pair) -> dict[str, Any] | None:
    if not pair.origin_source_type or not pair.destination_source_type:
        return None
    if pair.origin_source_type == pair.destination_source_type:
        return None
    return {"suggestion": "COVERAGE", "period": pair.period, "figures": {
        "origin_source_type": pair.origin_source_type, "destination_source_type": pair.destination_source_type}}


def diagnose(pairs: list[Pair], periods: list[str], basis: str, policy: Policy) -> list[dict[str, Any]]:
    """Suggestions for the case's periods, from the pair's series (all periods, for the timing rule)."""
    series = {p.period: p for p in pairs}
    out: list[dict[str, Any]] = []
    if basis != "residence":
        out.append({"suggestion": "CITIZENSHIP", "period": None, "figures": {"basis": basis, "proxy": True}})
    for period in periods:
        pair = series.get(period)
        if pair is None:
            continue
        out.extend(r for r in (duration_rule(pair, policy), timing_rule(pair, series, policy), source_rule(pair)) if r)
    return out


def evidence(conn: Connection, table: Table, case: Mapping[str, Any], periods: list[str], policy: Policy
             ) -> dict[str, Any]:
    """The pair's series, the suggestions, and the history of both sides across revisions."""
    filters = dict(zip(BREAKDOWN, case["breakdown"].split("."), strict=True))
    pairs = read_pairs(conn, table, case["basis"], filters=filters, origins={case["origin"]},
                       destinations={case["destination"]})
    return {"label": "suggestions inferred by the hub: confirm or replace them with your own explanation",
            "suggestions": diagnose(pairs, periods, case["basis"], policy),
            "series": [{"period": p.period, "E": p.emigration, "I": p.immigration, "origin_dur_crit": p.origin_dur_crit,
                        "destination_dur_crit": p.destination_dur_crit, "origin_source_type": p.origin_source_type,
                        "destination_source_type": p.destination_source_type} for p in pairs],
            "history": history(conn, table, case)}


def history(conn: Connection, table: Table, case: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every stored version of both sides (current, superseded and deletions), oldest first."""
    c = table.c
    breakdown = [c[b.lower()] == v for b, v in zip(BREAKDOWN, case["breakdown"].split("."), strict=True)]
    partner = BASES[case["basis"]].lower()
    e_side = [c.migr_flow == "EMI", c.ref_area == case["origin"], c.counterpart_area == case["destination"],
              c.citizenship == "_T", c.cob == "_T"]
    i_side = [c.migr_flow == "IMM", c.ref_area == case["destination"], c[partner] == case["origin"],
              *[c[col.lower()] == "_T" for col in BASES.values() if col.lower() != partner]]
    out: list[dict[str, Any]] = []
    for side, where in (("E", e_side), ("I", i_side)):
        rows = conn.execute(select(c.time_period, c.obs_value, c._submission, c._recorded_at, c._superseded_at,
                                   c._deleted).where(*where, *breakdown).order_by(c._recorded_at, c._id))
        out.extend({"side": side, "period": r.time_period, "value": r.obs_value, "submission": r._submission,
                    "recorded_at": r._recorded_at.isoformat(), "current": r._superseded_at is None,
                    "deleted": r._deleted} for r in rows)
    return sorted(out, key=lambda r: (r["recorded_at"], r["side"], r["period"]))
