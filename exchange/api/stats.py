"""Mirror statistics and regional aggregates as JSON (hub extensions, outside the SDMX REST namespace)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from exchange.api.deps import HubDep
from exchange.hub import Hub
from exchange.stats import aggregate as agg
from exchange.stats import factors as fac
from exchange.stats import mirror
from exchange.store.read import flow_rows

router = APIRouter(prefix="/stats", tags=["mirror statistics"])


def load(hub: Hub, periods: set[str] | None, filters: dict[str, str]) -> list[dict[str, Any]]:
    schema = hub.catalog.schema_for_ref("UNECE", "MIGR_FLOW")
    if schema is None:
        raise LookupError("the hub has no UNECE:MIGR_FLOW dataflow")
    with hub.engine.connect() as conn:
        return flow_rows(conn, hub.tables.table(schema), periods, filters)


def breakdown(sex: str, age: str, migrant_type: str, freq: str) -> dict[str, str]:
    return {"SEX": sex, "AGE": age, "MIGRANT_TYPE": migrant_type, "FREQ": freq}


Period = Annotated[list[str] | None, Query(description="Periods (repeat the parameter), e.g. 2016")]


@router.get("/mirror/pairs", summary="Mirror pairs with asymmetry measures")
def pairs(hub: HubDep, period: Period = None, origin: str | None = None, destination: str | None = None,
          basis: Annotated[str, Query(pattern="^(residence|citizenship|birth)$")] = "residence",
          both_only: bool = False, small_count: float = mirror.DEFAULT_SMALL_COUNT,
          consistent: float = mirror.DEFAULT_THRESHOLDS[0], moderate: float = mirror.DEFAULT_THRESHOLDS[1],
          large: float = mirror.DEFAULT_THRESHOLDS[2], sex: str = "_T", age: str = "_T", migrant_type: str = "_T",
          freq: str = "A") -> dict[str, Any]:
    """E (reported by the origin) against I (reported by the destination) for each origin-destination-period.

    Measures: diff = I-E, rel_e = (I-E)/E, rel_i = (I-E)/I, ratio_ei = E/I, ln_ratio = ln(I/E),
    sym_pct = 200(I-E)/(I+E), asym_share = |I-E|/(I+E); relative ones withheld when I+E < small_count;
    flag from |ln_ratio| against the thresholds (consistent / moderate / large / severe).
    """
    rows = load(hub, set(period) if period else None, breakdown(sex, age, migrant_type, freq))
    found = [p for p in mirror.form_pairs(rows, basis) if (origin in (None, p.origin))
             and (destination in (None, p.destination)) and (p.both or not both_only)]
    thresholds = (consistent, moderate, large)
    return {"basis": basis, "proxy": basis != "residence", "count": len(found),
            "pairs": [mirror.pair_record(p, small_count, thresholds) for p in found]}


@router.get("/mirror/coverage", summary="A country's emigration and immigration coverage against its partners")
def coverage(hub: HubDep, country: str, period: str, sex: str = "_T", age: str = "_T", migrant_type: str = "_T",
             freq: str = "A") -> dict[str, Any]:
    found = mirror.form_pairs(load(hub, {period}, breakdown(sex, age, migrant_type, freq)))
    return vars(mirror.coverage(found, country, period))


@router.get("/mirror/estimate", summary="A country's emigration estimated from partners' immigration")
def estimate(hub: HubDep, country: str, period: str, duration_adjust: bool = False, sex: str = "_T",
             age: str = "_T", migrant_type: str = "_T", freq: str = "A") -> dict[str, Any]:
    found = mirror.form_pairs(load(hub, {period}, breakdown(sex, age, migrant_type, freq)))
    return mirror.mirror_emigration(found, country, period, duration_adjust)


def _factors(hub: Hub, period: str, benchmark: str, weighted: bool, duration_adjust: bool,
             filters: dict[str, str]) -> tuple[list[mirror.Pair], fac.Factors] | JSONResponse:
    """Pairs and factors of one period, or the 422 answer naming the countries cut off from the benchmark."""
    found = mirror.form_pairs(load(hub, {period}, filters))
    try:
        return found, fac.estimate([p for p in found if p.both], benchmark, weighted, duration_adjust)
    except fac.Disconnected as exc:
        return JSONResponse({"message": str(exc), "cut_off": exc.countries}, status_code=422)


@router.get("/mirror/factors", summary="Correction factors (weighted least squares on log ratios)")
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


@router.get("/mirror/harmonised", summary="Harmonised flows: the mean of the adjusted sides")
def harmonised(hub: HubDep, period: str, benchmark: str = "SWE", weighted: bool = True,
               duration_adjust: bool = False, sex: str = "_T", age: str = "_T", migrant_type: str = "_T",
               freq: str = "A") -> Any:
    estimated = _factors(hub, period, benchmark, weighted, duration_adjust, breakdown(sex, age, migrant_type, freq))
    if isinstance(estimated, JSONResponse):
        return estimated
    flows = fac.harmonised(*estimated)
    return {"period": period, "benchmark": benchmark, "count": len(flows), "flows": flows}


@router.get("/aggregates", summary="Regional totals with members reporting, coverage and status")
def aggregates(hub: HubDep, region: str, flow: Annotated[str, Query(pattern="^(EMI|IMM)$")] = "EMI",
               period: Period = None,
               partner_scope: Annotated[str, Query(pattern="^(all|intra|extra)$")] = "all",
               min_coverage: Annotated[float, Query(ge=0, le=1)] = 0.0, fill_from_mirror: bool = False,
               sex: str = "_T", age: str = "_T", migrant_type: str = "_T", freq: str = "A") -> Any:
    try:
        memberships = agg.region_members(hub.catalog, region)
    except KeyError as exc:
        return JSONResponse({"message": str(exc)}, status_code=404)
    rows = load(hub, set(period) if period else None, breakdown(sex, age, migrant_type, freq))
    fill = None
    if fill_from_mirror:
        found = mirror.form_pairs(rows)
        fill = {}
        for member in {m.member for m in memberships}:
            for p in sorted({pair.period for pair in found}):
                estimate = mirror.mirror_emigration(found, member, p)
                if estimate["estimate"] is not None:
                    fill[(member, p)] = estimate["estimate"]
    totals = agg.aggregate(rows, memberships, region, flow, partner_scope, min_coverage, fill)
    return {"region": region, "count": len(totals), "totals": totals}
