"""Mirror statistics and regional aggregates as JSON (hub extensions, outside the SDMX REST namespace)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from sqlalchemy import Table

from exchange.api.contract import hub_errors
from exchange.api.deps import HubDep
from exchange.hub import Hub
from exchange.stats import aggregate as agg
from exchange.stats import factors as fac
from exchange.stats import mirror
from exchange.stats.pairing import read_pairs
from exchange.store.read import diaspora, flow_rows

router = APIRouter(prefix="/stats", tags=["mirror statistics"])
STATS_ERRORS = hub_errors(404, 422)


def flow_table(hub: Hub) -> Table:
    schema = hub.catalog.schema_for_ref("UNECE", "MIGR_FLOW")
    if schema is None:
        raise LookupError("the hub has no UNECE:MIGR_FLOW dataflow")
    return hub.tables.table(schema)


def load(hub: Hub, periods: set[str] | None, filters: Mapping[str, str | Collection[str]]) -> list[dict[str, Any]]:
    with hub.engine.connect() as conn:
        return flow_rows(conn, flow_table(hub), periods, filters)


def load_pairs(hub: Hub, periods: Collection[str] | None, filters: Mapping[str, str], basis: str = "residence",
               origins: Collection[str] | None = None, destinations: Collection[str] | None = None
               ) -> list[mirror.Pair]:
    with hub.engine.connect() as conn:
        return read_pairs(conn, flow_table(hub), basis, periods, filters, origins, destinations)


def breakdown(sex: str, age: str, migrant_type: str, freq: str) -> dict[str, str]:
    return {"SEX": sex, "AGE": age, "MIGRANT_TYPE": migrant_type, "FREQ": freq}


Period = Annotated[list[str] | None, Query(description="Periods (repeat the parameter), e.g. 2016")]
Countries = Annotated[list[str] | None, Query(description="CL_AREA codes (repeat the parameter)")]
Flags = Annotated[list[str] | None, Query(description="Only pairs with these flags: consistent, moderate, large, "
                                                      "severe (repeat the parameter)")]


def _region_members(hub: Hub, region: str) -> list[agg.Membership] | JSONResponse:
    try:
        return agg.region_members(hub.catalog, region)
    except KeyError as exc:
        return JSONResponse({"message": str(exc)}, status_code=404)


@router.get("/mirror/pairs", summary="Mirror pairs with asymmetry measures",
            responses=STATS_ERRORS)
def pairs(hub: HubDep, period: Period = None, origin: Countries = None, destination: Countries = None,
          region: Annotated[str | None, Query(description="Only pairs between two members of this region "
                                                          "(membership on the period's first day)")] = None,
          basis: Annotated[str, Query(pattern="^(residence|citizenship|birth)$")] = "residence",
          both_only: bool = False, flag: Flags = None, small_count: float = mirror.DEFAULT_SMALL_COUNT,
          consistent: float = mirror.DEFAULT_THRESHOLDS[0], moderate: float = mirror.DEFAULT_THRESHOLDS[1],
          large: float = mirror.DEFAULT_THRESHOLDS[2], sex: str = "_T", age: str = "_T", migrant_type: str = "_T",
          freq: str = "A") -> Any:
    """E (reported by the origin) against I (reported by the destination) for each origin-destination-period.

    Measures: diff = I-E, rel_e = (I-E)/E, rel_i = (I-E)/I, ratio_ei = E/I, ln_ratio = ln(I/E),
    sym_pct = 200(I-E)/(I+E), asym_share = |I-E|/(I+E); relative ones withheld when I+E < small_count;
    flag from |ln_ratio| against the thresholds (consistent / moderate / large / severe).
    """
    memberships = _region_members(hub, region) if region else None
    if isinstance(memberships, JSONResponse):
        return memberships
    origins: Collection[str] | None = origin
    destinations: Collection[str] | None = destination
    if memberships is not None:
        members = {m.member for m in memberships}
        origins = members & set(origin) if origin else members
        destinations = members & set(destination) if destination else members
    found = load_pairs(hub, set(period) if period else None, breakdown(sex, age, migrant_type, freq), basis,
                       origins, destinations)
    if memberships is not None:
        found = [p for p in found if {p.origin, p.destination} <= agg.members_on(memberships, p.period)]
    if both_only:
        found = [p for p in found if p.both]
    records = mirror.pair_records(found, small_count, (consistent, moderate, large))
    if flag:
        records = [r for r in records if r["flag"] in flag]
    return {"basis": basis, "proxy": basis != "residence", "count": len(records), "pairs": records}


@router.get("/mirror/coverage", summary="A country's emigration and immigration coverage against its partners",
            responses=STATS_ERRORS)
def coverage(hub: HubDep, country: str, period: str, sex: str = "_T", age: str = "_T", migrant_type: str = "_T",
             freq: str = "A") -> dict[str, Any]:
    found = load_pairs(hub, {period}, breakdown(sex, age, migrant_type, freq))
    return vars(mirror.coverage(found, country, period))


@router.get("/mirror/estimate", summary="A country's emigration estimated from partners' immigration",
            responses=STATS_ERRORS)
def estimate(hub: HubDep, country: str, period: str, duration_adjust: bool = False, gross_up: bool = False,
             sex: str = "_T", age: str = "_T", migrant_type: str = "_T", freq: str = "A") -> dict[str, Any]:
    """Sum of the partners' immigration from ``country`` (previous residence, else the citizenship or birth
    proxy, per partner), optionally times the IMEM coefficient of each partner's DUR_CRIT; coverage from the
    MIGR_STOCK stocks of ``country``-born abroad, and with ``gross_up`` the estimate divided by it."""
    filters = breakdown(sex, age, migrant_type, freq)
    found = [pair for basis in mirror.BASES
             for pair in load_pairs(hub, {period}, filters, basis, origins={country})]
    stock_schema = hub.catalog.schema_for_ref("UNECE", "MIGR_STOCK")
    stocks = None
    if stock_schema is not None:
        with hub.engine.connect() as conn:
            stocks = diaspora(conn, hub.tables.table(stock_schema), country)
    return mirror.mirror_emigration(found, country, period, duration_adjust, stocks, gross_up)


def _factors(hub: Hub, period: str, benchmark: str, weighted: bool, duration_adjust: bool,
             filters: dict[str, str]) -> tuple[list[mirror.Pair], fac.Factors] | JSONResponse:
    """Pairs and factors of one period, or the 422 answer naming the countries cut off from the benchmark."""
    found = load_pairs(hub, {period}, filters)
    try:
        return found, fac.estimate([p for p in found if p.both], benchmark, weighted, duration_adjust)
    except fac.Disconnected as exc:
        return JSONResponse({"message": str(exc), "cut_off": exc.countries}, status_code=422)


@router.get("/mirror/factors", summary="Correction factors (weighted least squares on log ratios)",
            responses=STATS_ERRORS)
def factors(hub: HubDep, period: str, benchmark: str = "SWE", weighted: bool = True, duration_adjust: bool = False,
            residuals: bool = False, sex: str = "_T", age: str = "_T", migrant_type: str = "_T",
            freq: str = "A") -> Any:
    estimated = _factors(hub, period, benchmark, weighted, duration_adjust, breakdown(sex, age, migrant_type, freq))
    if isinstance(estimated, JSONResponse):
        return estimated
    result = estimated[1]
    body = {"period": period, "benchmark": benchmark, "method": "WLS_LOG" if weighted else "LOG_LS",
            "duration_adjusted": duration_adjust, "pairs_used": result.pairs_used,
            "countries": [{"country": c, "imm_factor_r": result.immigration.get(c),
                           "emi_factor_s": result.emigration.get(c), "se_ln_r": result.immigration_se.get(c),
                           "se_ln_s": result.emigration_se.get(c)}
                          for c in sorted(set(result.immigration) | set(result.emigration))]}
    if residuals:
        body["residuals"] = result.residuals
    return body


@router.get("/mirror/harmonised", summary="Harmonised flows: the mean of the adjusted sides",
            responses=STATS_ERRORS)
def harmonised(hub: HubDep, period: str, benchmark: str = "SWE", weighted: bool = True,
               duration_adjust: bool = False, sex: str = "_T", age: str = "_T", migrant_type: str = "_T",
               freq: str = "A") -> Any:
    estimated = _factors(hub, period, benchmark, weighted, duration_adjust, breakdown(sex, age, migrant_type, freq))
    if isinstance(estimated, JSONResponse):
        return estimated
    flows = fac.harmonised(*estimated)
    return {"period": period, "benchmark": benchmark, "count": len(flows), "flows": flows}


@router.get("/aggregates", summary="Regional totals with members reporting, coverage and status",
            responses=STATS_ERRORS)
def aggregates(hub: HubDep, region: str, flow: Annotated[str, Query(pattern="^(EMI|IMM)$")] = "EMI",
               period: Period = None,
               partner_scope: Annotated[str, Query(pattern="^(all|intra|extra)$")] = "all",
               min_coverage: Annotated[float, Query(ge=0, le=1)] = 0.0, fill_from_mirror: bool = False,
               sex: str = "_T", age: str = "_T", migrant_type: str = "_T", freq: str = "A") -> Any:
    memberships = _region_members(hub, region)
    if isinstance(memberships, JSONResponse):
        return memberships
    members = {m.member for m in memberships}
    periods = set(period) if period else None
    filters = breakdown(sex, age, migrant_type, freq)
    rows = load(hub, periods, {**filters, "MIGR_FLOW": flow, "REF_AREA": members})
    fill = None
    if fill_from_mirror:
        by_origin: dict[tuple[str, str], list[mirror.Pair]] = {}
        for pair in load_pairs(hub, periods, filters, origins=members):  # residence basis only
            by_origin.setdefault((pair.origin, pair.period), []).append(pair)
        fill = {}
        for (member, p), found in by_origin.items():
            estimate = mirror.mirror_emigration(found, member, p)
            if estimate["estimate"] is not None:
                fill[(member, p)] = estimate["estimate"]
    totals = agg.aggregate(rows, memberships, region, flow, partner_scope, min_coverage, fill)
    return {"region": region, "count": len(totals), "totals": totals}
