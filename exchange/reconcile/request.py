"""Cases on request (issue #10, "Cases", 2.): a provider of either country asks its partner to check a pair, some
periods or the whole partner, or asks for data the partner has not reported. Same lifecycle, marked requested;
a request about a pair that already has an open case joins that case."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table

from exchange.catalog import Catalog
from exchange.ingest import Principal
from exchange.reconcile import store
from exchange.reconcile.auto import _new_period, _Run, _sources
from exchange.reconcile.examine import PeriodView, examine, is_flow_table
from exchange.reconcile.lifecycle import CaseError, dimensions, schema_of
from exchange.reconcile.policy import current
from exchange.stats.mirror import BASES


@dataclass(frozen=True)
class Request:
    origin: str
    destination: str
    dataflow: str = "UNECE:MIGR_FLOW(1.0)"
    breakdown: str = "A._T._T._T.PS"
    basis: str = "residence"
    periods: Sequence[str] | None = None
    data: bool = False  # a data request: the periods the partner has not reported
    text: str | None = None


def file_request(conn: Connection, catalog: Catalog, table_of: Any, principal: Principal, req: Request
                 ) -> tuple[dict[str, Any], bool]:
    """Open a requested case (or join the pair's open case); returns (case, created)."""
    _check(catalog, principal, req)
    schema = schema_of(catalog, req.dataflow)
    assert schema is not None
    table: Table = table_of(schema)
    version, policy = current(conn, req.dataflow)
    key = (req.origin, req.destination, req.breakdown, req.basis)
    examined = examine(conn, table, {key}, policy)
    views = examined.periods.get(key, {})
    chosen = _periods(req, views, policy.latest_periods, principal)
    run = _Run(conn, schema, req.dataflow, "", principal.reporter, version)
    run.sources = _sources(conn, table, examined, {key: []}, policy)
    history = store.cases_for(conn, req.dataflow, [key]).get(key, [])
    live = next((c for c in history if c["state"] in store.OPEN_STATES), None)
    created = live is None
    if live is None:
        live = {"dataflow": req.dataflow, "origin": req.origin, "destination": req.destination,
                "breakdown": req.breakdown, "basis": req.basis, "state": "open", "kind": "requested",
                "policy_version": version, "requested_by": principal.reporter, "close_agreed": "",
                "opened_at": run.at, "updated_at": run.at}
        live["id"] = store.insert_cases(conn, [dict(live)])[0]
        live["periods"] = {}
    added = [p for p in chosen if p not in live["periods"]]
    store.insert_periods(conn, [_new_period(run, live["id"], key, views.get(p) or _empty(p), "requested")
                                for p in added])
    after = {"periods": added, "data_request": req.data}
    store.append_timeline(conn, [store.timeline_row(live["id"], run.at, principal.reporter,
                                                    "requested" if created else "request_joined",
                                                    text=req.text, after=after)])
    store.announce(conn, "case.opened" if created else "case.revised", live, dimensions(catalog, req.dataflow),
                   requested_by=principal.reporter, requested_periods=added, data_request=req.data, text=req.text)
    return live, created


def _empty(period: str) -> PeriodView:
    return PeriodView(period, None, None, None, None, None, None, None, None)


def _periods(req: Request, views: dict[str, PeriodView], latest: int, principal: Principal) -> list[str]:
    if req.periods:
        return sorted(set(req.periods))
    if req.data:  # the partner's side is missing: I when the origin asks, E when the destination asks
        missing = [p for p, v in views.items()
                   if (principal.provider != req.destination and v.i is None)
                   or (principal.provider != req.origin and v.e is None)]
        if missing:
            return sorted(missing)[-latest:]
        raise CaseError(422, f"Both sides of {req.origin}->{req.destination} are reported for every period the hub "
                             "holds: name the periods you ask for ('periods'). Nothing was changed.")
    if not views:
        raise CaseError(422, f"The hub holds no value for {req.origin}->{req.destination} ({req.breakdown}, "
                             f"{req.basis}): name the periods you ask about ('periods'). Nothing was changed.")
    return sorted(views)[-latest:]


def _check(catalog: Catalog, principal: Principal, req: Request) -> None:
    schema = schema_of(catalog, req.dataflow)
    if schema is None or not is_flow_table(schema.dimensions):
        flows = [s.ref for s in catalog.all_dsd_schemas() if is_flow_table(s.dimensions)]
        raise CaseError(404, f"No migration-flow structure {req.dataflow!r}: use one of {', '.join(flows)}.")
    if req.basis not in BASES:
        raise CaseError(422, f"Unknown basis {req.basis!r}: use one of {', '.join(BASES)}.")
    if len(req.breakdown.split(".")) != 5:
        raise CaseError(422, f"breakdown {req.breakdown!r} must be FREQ.MIGRANT_TYPE.SEX.AGE.UNIT_MEASURE, "
                             "e.g. A._T._T._T.PS.")
    if req.origin == req.destination:
        raise CaseError(422, "origin and destination must be two different countries.")
    if not principal.is_admin and principal.provider not in (req.origin, req.destination):
        raise CaseError(403, f"Your token is for {principal.provider}: you may file requests only about pairs "
                             f"{principal.provider} is part of (as origin or destination). Nothing was changed.")
