"""Mirror pairs and asymmetry measures (mirror-statistics.md sections 3 and 4.8).

A mirror pair is the flow from origin A to destination B in one period and breakdown, seen twice:
``E`` = emigration to B reported by A (MIGR_FLOW=EMI, REF_AREA=A, COUNTERPART_AREA=B) and ``I`` =
immigration from A reported by B (MIGR_FLOW=IMM, REF_AREA=B, COUNTERPART_AREA=A). On the citizenship
or birth basis the immigration side is B's immigrants who are citizens of (born in) A: a proxy, and
labelled so.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from exchange.periods import parse_period

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
    origin_dur_crit: str | None = None  # series attributes of the E side: why the two sides may differ
    origin_source_type: str | None = None
    destination_dur_crit: str | None = None  # ... of the I side
    destination_source_type: str | None = None

    @property
    def both(self) -> bool:
        return self.emigration is not None and self.immigration is not None


MEASURE_NAMES = ("diff", "rel_e", "rel_i", "ratio_ei", "ln_ratio", "sym_pct", "asym_share")
FLAGS = np.array(["consistent", "moderate", "large", "severe"], dtype=object)


def measure_columns(e: np.ndarray, i: np.ndarray, small_count: float = DEFAULT_SMALL_COUNT,
                    thresholds: tuple[float, float, float] = DEFAULT_THRESHOLDS) -> dict[str, np.ndarray]:
    """All measures of many pairs at once (NaN = missing side or undefined measure, flag None).

    ``diff`` is defined whenever both sides are; relative measures are withheld (``suppressed``) when
    I+E < ``small_count``; the ratio-type ones need a positive denominator, ``ln_ratio`` and the flag both
    sides positive (mirror-statistics.md 3: zero and one-sided cases).
    """
    e, i = np.asarray(e, dtype=float), np.asarray(i, dtype=float)
    both = ~np.isnan(e) & ~np.isnan(i)
    total = e + i
    suppressed = both & (total < small_count)
    shown = both & ~suppressed
    with np.errstate(divide="ignore", invalid="ignore"):
        columns = {
            "diff": np.where(both, i - e, np.nan),
            "rel_e": np.where(shown & (e > 0), (i - e) / e, np.nan),
            "rel_i": np.where(shown & (i > 0), (i - e) / i, np.nan),
            "ratio_ei": np.where(shown & (i > 0), e / i, np.nan),
            "ln_ratio": np.where(shown & (e > 0) & (i > 0), np.log(i / e), np.nan),
            "sym_pct": np.where(shown & (total > 0), 200.0 * (i - e) / total, np.nan),
            "asym_share": np.where(shown & (total > 0), np.abs(i - e) / total, np.nan),
        }
    ln = columns["ln_ratio"]
    flag = FLAGS[np.searchsorted(np.asarray(thresholds), np.abs(np.nan_to_num(ln)), side="left")]
    flag[np.isnan(ln)] = None
    columns["flag"] = flag
    columns["suppressed"] = suppressed
    return columns


def _nullable(values: np.ndarray) -> list[float | None]:
    """Floats with NaN as None (what JSON and the SDMX writers expect)."""
    out = values.astype(object)
    out[np.isnan(values)] = None
    return list(out.tolist())


def _side(value: float | None) -> float:
    return np.nan if value is None else float(value)


def measures(e: float | None, i: float | None, small_count: float = DEFAULT_SMALL_COUNT,
             thresholds: tuple[float, float, float] = DEFAULT_THRESHOLDS) -> dict[str, Any]:
    """All measures of one pair; undefined ones are None.

    >>> m = measures(2608.0, 2610.0)
    >>> m["diff"], round(m["ln_ratio"], 6), round(m["sym_pct"], 6), m["flag"]
    (2.0, 0.000767, 0.076658, 'consistent')
    >>> measures(0, 12)["ln_ratio"] is None, measures(0, 12)["asym_share"]
    (True, None)
    """
    columns = measure_columns(np.array([_side(e)]), np.array([_side(i)]), small_count, thresholds)
    return _record_measures(columns, 0)


def _record_measures(columns: dict[str, np.ndarray], k: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in MEASURE_NAMES:
        value = float(columns[name][k])
        out[name] = None if math.isnan(value) else value
    out["flag"] = columns["flag"][k]
    out["suppressed"] = bool(columns["suppressed"][k])
    return out


RECORD_KEYS = ("origin", "destination", "period", *(b.lower() for b in BREAKDOWN), "basis", "proxy",
               "emigration_reported_by_origin", "immigration_reported_by_destination", "origin_dur_crit",
               "destination_dur_crit", "origin_source_type", "destination_source_type", *MEASURE_NAMES, "flag",
               "suppressed")


def pair_records(pairs: Sequence[Pair], small_count: float = DEFAULT_SMALL_COUNT,
                 thresholds: tuple[float, float, float] = DEFAULT_THRESHOLDS) -> list[dict[str, Any]]:
    """One JSON-ready record per pair: both sides, both sides' criteria and sources, and every measure."""
    columns = measure_columns(np.array([_side(p.emigration) for p in pairs]),
                              np.array([_side(p.immigration) for p in pairs]), small_count, thresholds)
    as_lists = {name: _nullable(columns[name]) for name in MEASURE_NAMES}
    flags, suppressed = columns["flag"].tolist(), columns["suppressed"].tolist()
    measure_values = zip(*(as_lists[name] for name in MEASURE_NAMES), flags, suppressed, strict=True)
    return [dict(zip(RECORD_KEYS, (pair.origin, pair.destination, pair.period, *pair.breakdown, pair.basis,
                                   pair.basis != "residence", pair.emigration, pair.immigration, pair.origin_dur_crit,
                                   pair.destination_dur_crit, pair.origin_source_type, pair.destination_source_type,
                                   *values), strict=True))
            for pair, values in zip(pairs, measure_values, strict=True)]


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


def mirror_emigration(pairs: Iterable[Pair], country: str, period: str, duration_adjust: bool = False,
                      stocks: Mapping[str, Mapping[str, float]] | None = None, gross_up: bool = False
                      ) -> dict[str, Any]:
    """Emigration of ``country`` estimated from its partners' immigration (note 4.8), flagged as an estimate.

        E_A = sum over partners B of R_B * I_AB      (R_B: IMEM coefficient of B's DUR_CRIT, or 1)
        coverage_A = sum over those B of stock(A-born in B) / sum over all B of stock(A-born in B)
        grossed-up E_A = E_A / coverage_A             (optional)

    ``pairs`` may mix bases: for each partner the previous-residence pair is used, else the citizenship
    proxy, else the birth proxy (each partner's basis is reported). ``stocks`` maps a stock period to
    {host country: stock of ``country``-born}; the latest period not after ``period`` is used (else the
    earliest), the same for numerator and denominator.
    """
    preference = {"residence": 0, "citizenship": 1, "birth": 2}
    chosen: dict[str, Pair] = {}
    for pair in pairs:
        if pair.origin != country or pair.period != period or pair.immigration is None:
            continue
        held = chosen.get(pair.destination)
        if held is None or preference[pair.basis] < preference[held.basis]:
            chosen[pair.destination] = pair
    total, unadjusted = 0.0, []
    details: list[dict[str, Any]] = []
    for partner, pair in sorted(chosen.items()):
        assert pair.immigration is not None
        coefficient = duration_coefficient(pair.destination_dur_crit) if duration_adjust else 1.0
        if coefficient is None:
            unadjusted.append(partner)  # no known criterion: counted as reported
            coefficient = 1.0
        total += coefficient * pair.immigration
        details.append({"partner": partner, "basis": pair.basis, "proxy": pair.basis != "residence",
                        "immigration": pair.immigration, "dur_crit": pair.destination_dur_crit,
                        "source_type": pair.destination_source_type, "coefficient": coefficient,
                        "contribution": coefficient * pair.immigration})
    estimate = total if details else None
    stock_period, coverage = _stock_coverage(stocks or {}, period, set(chosen))
    for detail in details:
        detail["stock"] = (stocks or {}).get(stock_period or "", {}).get(detail["partner"])
    return {"country": country, "period": period, "estimate": estimate, "obs_status": "E",
            "method": "DUR_IMEM" if duration_adjust else "RAW", "partners": sorted(chosen),
            "partner_details": details, "partners_without_duration": unadjusted,
            "coverage": coverage, "stock_period": stock_period,
            "estimate_grossed_up": estimate / coverage if gross_up and estimate is not None and coverage else None}


def _stock_coverage(stocks: Mapping[str, Mapping[str, float]], period: str, partners: set[str]
                    ) -> tuple[str | None, float | None]:
    if not stocks:
        return None, None
    start = _start(period)
    earlier = [p for p in stocks if _start(p) <= start]
    stock_period = max(earlier, key=_start) if earlier else min(stocks, key=_start)
    hosts = stocks[stock_period]
    everywhere = sum(hosts.values())
    if not everywhere:
        return stock_period, None
    return stock_period, sum(v for host, v in hosts.items() if host in partners) / everywhere


def _start(period: str) -> str:
    parsed = parse_period(period)
    return parsed.start if parsed else period
