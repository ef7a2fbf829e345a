"""Mirror pairs and asymmetry measures (mirror-statistics.md sections 3 and 4.8).

A mirror pair is the flow from origin A to destination B in one period and breakdown, seen twice:
``E`` = emigration to B reported by A (MIGR_FLOW=EMI, REF_AREA=A, COUNTERPART_AREA=B) and ``I`` =
immigration from A reported by B (MIGR_FLOW=IMM, REF_AREA=B, COUNTERPART_AREA=A). On the citizenship
or birth basis the immigration side is B's immigrants who are citizens of (born in) A: a proxy, and
labelled so.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: Flag classes on |ln(I/E)| (mirror-statistics.md 3, "[ours]" thresholds): consistent, moderate, large, severe.
DEFAULT_THRESHOLDS = (math.log(1.1), math.log(1.5), math.log(2.0))
DEFAULT_SMALL_COUNT = 20.0
BREAKDOWN = ("FREQ", "MIGRANT_TYPE", "SEX", "AGE", "UNIT_MEASURE")
BASES = {"residence": "COUNTERPART_AREA", "citizenship": "CITIZENSHIP", "birth": "COB"}


@dataclass(slots=True)
class Pair:
    origin: str
    destination: str
    period: str
    breakdown: tuple[str, ...]  # values of BREAKDOWN
    basis: str
    emigration: float | None = None  # E, reported by the origin
    immigration: float | None = None  # I, reported by the destination
    origin_meta: dict[str, Any] = field(default_factory=dict)  # DUR_CRIT, SOURCE_TYPE of the E series
    destination_meta: dict[str, Any] = field(default_factory=dict)  # ... of the I series

    @property
    def both(self) -> bool:
        return self.emigration is not None and self.immigration is not None


def measures(e: float | None, i: float | None, small_count: float = DEFAULT_SMALL_COUNT,
             thresholds: tuple[float, float, float] = DEFAULT_THRESHOLDS) -> dict[str, Any]:
    """All measures of one pair; undefined ones are None.

    >>> m = measures(2608.0, 2610.0)
    >>> m["diff"], round(m["ln_ratio"], 6), round(m["sym_pct"], 6), m["flag"]
    (2.0, 0.000767, 0.076658, 'consistent')
    >>> measures(0, 12)["ln_ratio"] is None, measures(0, 12)["asym_share"]
    (True, None)
    """
    out: dict[str, Any] = {"diff": None, "rel_e": None, "rel_i": None, "ratio_ei": None, "ln_ratio": None,
                           "sym_pct": None, "asym_share": None, "flag": None, "suppressed": False}
    if e is None or i is None:
        return out
    out["diff"] = i - e
    total = i + e
    if total < small_count:  # relative measures of tiny cells are noise: keep the counts only
        out["suppressed"] = True
        return out
    if total > 0:
        out["sym_pct"] = 200.0 * (i - e) / total
        out["asym_share"] = abs(i - e) / total
    if e > 0:
        out["rel_e"] = (i - e) / e
    if i > 0:
        out["rel_i"] = (i - e) / i
        out["ratio_ei"] = e / i
    if e > 0 and i > 0:
        ln = math.log(i / e)
        out["ln_ratio"] = ln
        out["flag"] = ("consistent" if abs(ln) <= thresholds[0] else "moderate" if abs(ln) <= thresholds[1]
                       else "large" if abs(ln) <= thresholds[2] else "severe")
    return out


def _meta(row: Mapping[str, Any]) -> dict[str, Any]:
    return {"dur_crit": row.get("dur_crit"), "source_type": row.get("source_type"), "obs_status": row.get("obs_status")}


_NOT_A_COUNTRY = frozenset({"_T", "UNK", "OTH", "NAT", "FOR", "FOR_EU27", "STLS", "NAT_BORN", "FOR_BORN", "_Z"})
_BREAKDOWN_COLUMNS = tuple(b.lower() for b in BREAKDOWN)


def form_pairs(rows: Iterable[Mapping[str, Any]], basis: str = "residence") -> list[Pair]:
    """Pair EMI rows with the matching IMM rows; one-sided pairs are kept (the other side None).

    ``rows`` are current MIGR_FLOW observations (column names in lower case). Emigration is always by
    next residence; the immigration side follows ``basis`` (previous residence, or the citizenship /
    country of birth proxies, the other two partner columns being totals).
    """
    partner = BASES[basis].lower()
    others = tuple(c for c in ("counterpart_area", "citizenship", "cob") if c != partner)
    pairs: dict[tuple[Any, ...], Pair] = {}
    for row in rows:
        flow = row["migr_flow"]
        if flow == "EMI":
            destination = row["counterpart_area"]
            if destination in _NOT_A_COUNTRY or row["citizenship"] != "_T" or row["cob"] != "_T":
                continue
            origin = row["ref_area"]
        elif flow == "IMM":
            origin = row[partner]
            if origin in _NOT_A_COUNTRY or row[others[0]] != "_T" or row[others[1]] != "_T":
                continue
            destination = row["ref_area"]
        else:
            continue
        breakdown = tuple([row[c] for c in _BREAKDOWN_COLUMNS])
        key = (origin, destination, row["time_period"], breakdown)
        pair = pairs.get(key)
        if pair is None:
            pair = pairs[key] = Pair(origin, destination, row["time_period"], breakdown, basis)
        if flow == "EMI":
            pair.emigration, pair.origin_meta = row["obs_value"], _meta(row)
        else:
            pair.immigration, pair.destination_meta = row["obs_value"], _meta(row)
    return sorted(pairs.values(), key=lambda p: (p.period, p.origin, p.destination, p.breakdown))


def pair_record(pair: Pair, small_count: float = DEFAULT_SMALL_COUNT,
                thresholds: tuple[float, float, float] = DEFAULT_THRESHOLDS) -> dict[str, Any]:
    record = {"origin": pair.origin, "destination": pair.destination, "period": pair.period,
              **dict(zip((b.lower() for b in BREAKDOWN), pair.breakdown, strict=True)),
              "basis": pair.basis, "proxy": pair.basis != "residence",
              "emigration_reported_by_origin": pair.emigration, "immigration_reported_by_destination": pair.immigration,
              "origin_dur_crit": pair.origin_meta.get("dur_crit"), "destination_dur_crit": pair.destination_meta.get(
                  "dur_crit"),
              "origin_source_type": pair.origin_meta.get("source_type"),
              "destination_source_type": pair.destination_meta.get("source_type")}
    record.update(measures(pair.emigration, pair.immigration, small_count, thresholds))
    return record


@dataclass
class Coverage:
    country: str
    period: str
    emigration_coverage: float | None  # sum E reported by the country / sum I reported by partners
    immigration_coverage: float | None  # sum I reported by the country / sum E reported by partners
    emigration_partners: list[str]
    immigration_partners: list[str]
    sums: dict[str, float]


def coverage(pairs: Iterable[Pair], country: str, period: str) -> Coverage:
    """Country-level coverage over doubly reported partners only (never mixing one-sided pairs)."""
    e_out = i_out = i_in = e_in = 0.0
    out_partners, in_partners = [], []
    for pair in pairs:
        if not pair.both or pair.period != period:
            continue
        assert pair.emigration is not None and pair.immigration is not None
        if pair.origin == country:
            e_out += pair.emigration
            i_out += pair.immigration
            out_partners.append(pair.destination)
        elif pair.destination == country:
            i_in += pair.immigration
            e_in += pair.emigration
            in_partners.append(pair.origin)
    return Coverage(country, period, e_out / i_out if i_out else None, i_in / e_in if e_in else None,
                    sorted(out_partners), sorted(in_partners),
                    {"emigration_reported": e_out, "partners_immigration": i_out, "immigration_reported": i_in,
                     "partners_emigration": e_in})


#: IMEM duration coefficients (Raymer et al. 2013 as tabulated by Danko; mirror-statistics.md 4.1), by
#: CL_DUR_CRIT code: 12-month-equivalent flow = reported flow x R. M1 (one month or less) takes the 0-month
#: value; M12_OF_12 ("most of the last 12 months", i.e. more than 6 months) the 6-month one.
IMEM = {"M0": 0.53, "M1": 0.53, "M3": 0.63, "M6": 0.73, "M12_OF_12": 0.73, "M12": 1.0, "PERM": 2.26}


def duration_coefficient(dur_crit: str | None) -> float | None:
    return IMEM.get(dur_crit or "")


def mirror_emigration(pairs: Iterable[Pair], country: str, period: str, duration_adjust: bool = False
                      ) -> dict[str, Any]:
    """Emigration of ``country`` estimated from its partners' immigration (note 4.8), flagged as an estimate."""
    total, partners, unadjusted = 0.0, [], []
    for pair in pairs:
        if pair.origin != country or pair.period != period or pair.immigration is None:
            continue
        factor = 1.0
        if duration_adjust:
            coefficient = duration_coefficient(pair.destination_meta.get("dur_crit"))
            if coefficient is None:
                unadjusted.append(pair.destination)
            else:
                factor = coefficient
        total += factor * pair.immigration
        partners.append(pair.destination)
    return {"country": country, "period": period, "estimate": total if partners else None, "obs_status": "E",
            "method": "DUR_IMEM" if duration_adjust else "RAW", "partners": sorted(partners),
            "partners_without_duration": sorted(unadjusted)}
