"""Reconciliation cases over HTTP (issue #10): list, show, request, ack, explain, close, comment, summary, policy.

Details and timelines are visible to the case's two partner countries and administrators; anyone else gets the
404 an unknown case gets. The summary (counts per pair, state and reason) needs no token.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, func, or_, select, true
from sqlalchemy.exc import IntegrityError

from exchange.api.contract import hub_errors
from exchange.api.deps import AdminDep, HubDep, PrincipalDep
from exchange.hub import Hub
from exchange.ingest import Principal
from exchange.locks import is_unique_violation
from exchange.reconcile import lifecycle, policy, store
from exchange.reconcile.diagnose import evidence
from exchange.reconcile.lifecycle import Action, CaseError
from exchange.reconcile.request import Request, file_request
from exchange.store.engine import begin_write
from exchange.store.tables import recon_case, recon_timeline

router = APIRouter(prefix="/reconciliations", tags=["reconciliation"])
CODE = r"^[A-Z0-9_]{1,40}$"
BREAKDOWN = r"^[A-Za-z0-9_]{1,40}(\.[A-Za-z0-9_]{1,40}){4}$"
FLOW = r"^[A-Za-z0-9_@$.\-]+:[A-Za-z0-9_@$.\-]+\([A-Za-z0-9_.+\-]+\)$"
PERIOD = r"^[0-9A-Z\-]{4,20}$"
#: Case ids are positive 32-bit integers; anything else is a 422 before any query.
CaseId = Annotated[int, Path(ge=1, le=2**31 - 1)]


class TextBody(BaseModel):
    text: str = Field(min_length=1, max_length=1_000_000)


class ExplainBody(BaseModel):
    reason: str = Field(max_length=100, description="A code of UNECE:CL_RECON_REASON (structures/).")
    text: str | None = Field(None, max_length=1_000_000)
    periods: list[Annotated[str, Field(pattern=PERIOD)]] | None = Field(
        None, max_length=1000, description="Periods explained (default: all out).")


class CloseBody(BaseModel):
    text: str | None = Field(None, max_length=1_000_000)


class RequestBody(BaseModel):
    origin: str = Field(pattern=CODE)
    destination: str = Field(pattern=CODE)
    dataflow: str = Field(policy.DEFAULT_DATAFLOW, pattern=FLOW)
    breakdown: str = Field("A._T._T._T.PS", pattern=BREAKDOWN, description="FREQ.MIGRANT_TYPE.SEX.AGE.UNIT_MEASURE")
    basis: str = Field("residence", pattern="^(residence|citizenship|birth)$")
    periods: list[Annotated[str, Field(pattern=PERIOD)]] | None = Field(None, max_length=100)
    data: bool = Field(False, description="A data request: the periods the partner has not reported.")
    text: str | None = Field(None, max_length=1_000_000)


class PolicyBody(BaseModel):
    flag_level: str = Field("large", pattern="^(moderate|large|severe)$")
    min_total: float = Field(100.0, ge=0)
    latest_periods: int = Field(5, ge=1, le=100)
    bases: list[Annotated[str, Field(pattern="^(residence|citizenship|birth)$")]] = Field(["residence"], min_length=1)
    breakdowns: dict[Annotated[str, Field(pattern=CODE)], list[Annotated[str, Field(pattern=CODE)]]] = {}
    missing_side: bool = True


def _visible(principal: Principal) -> ColumnElement[bool]:
    if principal.is_admin:
        return true()
    return or_(recon_case.c.origin == principal.provider, recon_case.c.destination == principal.provider)


def _case_json(case: dict[str, Any]) -> dict[str, Any]:
    out = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in case.items() if k != "periods"}
    out["close_agreed"] = case.get("close_agreed", "").split()
    out["allowed_actions"] = lifecycle.allowed(case["state"])
    out["url"] = f"/reconciliations/{case['id']}"
    return out


@router.get("", summary="The reconciliation cases the caller may read", responses=hub_errors(401, 422))
def list_cases(hub: HubDep, principal: PrincipalDep,
               state: Annotated[str | None, Query(pattern=r"^[a-z]{1,20}$")] = None,
               partner: Annotated[str | None, Query(pattern=CODE)] = None,
               dataflow: Annotated[str | None, Query(pattern=FLOW)] = None,
               period: Annotated[str | None, Query(pattern=PERIOD)] = None,
               offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
               limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
    """A provider's token lists its country's cases; ``partner`` keeps those with that country on either side."""
    c = recon_case.c
    where = [_visible(principal)]
    if state:
        where.append(c.state == state)
    if partner:
        where.append(or_(c.origin == partner, c.destination == partner))
    if dataflow:
        where.append(c.dataflow == dataflow)
    with hub.engine.connect() as conn:
        if period:
            from exchange.store.tables import recon_period
            where.append(c.id.in_(select(recon_period.c.case_id).where(recon_period.c.period == period)))
        total = conn.execute(select(func.count()).select_from(recon_case).where(*where)).scalar_one()
        rows = conn.execute(select(recon_case).where(*where).order_by(c.id).offset(offset).limit(limit)).all()
    return {"offset": offset, "limit": limit, "total": total, "items": [_case_json(dict(r._mapping)) for r in rows]}


@router.get("/summary", summary="Counts of cases per pair, state and reason (no token needed)",
            responses=hub_errors(422))
def summary(hub: HubDep, dataflow: Annotated[str | None, Query(pattern=FLOW)] = None) -> dict[str, Any]:
    """For reporting on reconciliation: no values, no comments, no timeline."""
    c = recon_case.c
    statement = select(c.dataflow, c.origin, c.destination, c.state, c.reason, func.count().label("cases")) \
        .group_by(c.dataflow, c.origin, c.destination, c.state, c.reason) \
        .order_by(c.dataflow, c.origin, c.destination, c.state)
    if dataflow:
        statement = statement.where(c.dataflow == dataflow)
    with hub.engine.connect() as conn:
        rows = conn.execute(statement).all()
    return {"items": [dict(r._mapping) for r in rows]}


@router.get("/policy", summary="The reconciliation policy in force and its history", responses=hub_errors(422))
def get_policy(hub: HubDep, dataflow: Annotated[str, Query(pattern=FLOW)] = policy.DEFAULT_DATAFLOW
               ) -> dict[str, Any]:
    with hub.engine.connect() as conn:
        version, current = policy.current(conn, dataflow)
        return {"dataflow": dataflow, "version": version, "policy": current.as_json(),
                "history": policy.history(conn, dataflow)}


@router.put("/policy", summary="Set a new version of the policy (administrators)",
            responses=hub_errors(401, 403, 422))
def put_policy(body: PolicyBody, hub: HubDep, admin: AdminDep,
               dataflow: Annotated[str, Query(pattern=FLOW)] = policy.DEFAULT_DATAFLOW) -> dict[str, Any]:
    data = body.model_dump()
    problems = policy.policy_problems(data)
    if problems:
        raise CaseError(422, "Invalid policy: " + "; ".join(problems) + ". Nothing was changed.")
    with begin_write(hub.engine) as conn:
        version = policy.put(conn, dataflow, policy.from_json(data), admin.reporter)
    return {"dataflow": dataflow, "version": version, "policy": policy.from_json(data).as_json()}


@router.post("", summary="File a request about a pair, periods, or a partner's missing data",
             status_code=201, responses=hub_errors(401, 403, 404, 409, 422))
def request_case(body: RequestBody, hub: HubDep, principal: PrincipalDep) -> dict[str, Any]:
    """201 with the new requested case, or 200... the open case of the pair the request joined (``created``)."""
    lifecycle.check_text(body.text, hub.settings.reconciliation_text_max_chars, "request text")
    req = Request(body.origin, body.destination, body.dataflow, body.breakdown, body.basis, body.periods, body.data,
                  body.text)
    try:
        with begin_write(hub.engine) as conn:
            case, created = file_request(conn, hub.catalog, hub.tables.table, principal, req)
    except IntegrityError as exc:
        if not is_unique_violation(exc):
            raise
        raise CaseError(409, "Another request or push opened a case for this pair at the same moment; "
                             "retry (your request will join it).") from exc
    return {"created": created, **_case_json(case)}


@router.get("/{case_id}", summary="A case: periods, evidence and suggestions, timeline",
            responses=hub_errors(401, 404, 422))
def show_case(case_id: CaseId, hub: HubDep, principal: PrincipalDep) -> dict[str, Any]:
    with hub.engine.connect() as conn:
        case = lifecycle.visible_case(conn, case_id, principal)
        periods = store.periods_of(conn, [case_id]).get(case_id, {})
        timeline = conn.execute(select(recon_timeline).where(recon_timeline.c.case_id == case_id)
                                .order_by(recon_timeline.c.id)).all()
        _, current = policy.current(conn, case["dataflow"])
        schema = lifecycle.schema_of(hub.catalog, case["dataflow"])
        found = evidence(conn, hub.tables.table(schema), case, sorted(periods), current) if schema else {}
    out = _case_json(case)
    out["periods"] = [{k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in p.items() if k != "case_id"}
                      for _, p in sorted(periods.items())]
    out["evidence"] = found
    out["links"] = store.data_queries(case, lifecycle.dimensions(hub.catalog, case["dataflow"]))
    out["timeline"] = [{"at": t.at.isoformat(), "actor": t.actor, "action": t.action, "submission": t.submission,
                        "reason": t.reason, "text": t.text, "before": json.loads(t.before) if t.before else None,
                        "after": json.loads(t.after) if t.after else None} for t in timeline]
    return out


def _act(hub: Hub, case_id: CaseId, principal: Principal, action: Action) -> dict[str, Any]:
    lifecycle.check_text(action.text, hub.settings.reconciliation_text_max_chars, "text")
    with begin_write(hub.engine) as conn:
        case = lifecycle.act(conn, hub.catalog, case_id, principal, action)
    return _case_json(case)


ACTION_ERRORS = hub_errors(401, 404, 409, 422)


@router.post("/{case_id}/ack", summary="Acknowledge a case", responses=ACTION_ERRORS)
def ack(case_id: CaseId, hub: HubDep, principal: PrincipalDep) -> dict[str, Any]:
    return _act(hub, case_id, principal, Action("ack"))


@router.post("/{case_id}/explain", summary="Explain a case with a reason code", responses=ACTION_ERRORS)
def explain(case_id: CaseId, body: ExplainBody, hub: HubDep, principal: PrincipalDep) -> dict[str, Any]:
    return _act(hub, case_id, principal, Action("explain", body.text, body.reason, body.periods))


@router.post("/{case_id}/close", summary="Agree to close (both partners, or an administrator)",
             responses=ACTION_ERRORS)
def close(case_id: CaseId, hub: HubDep, principal: PrincipalDep, body: CloseBody | None = None) -> dict[str, Any]:
    return _act(hub, case_id, principal, Action("close", body.text if body else None))


@router.post("/{case_id}/comment", summary="Comment on a case", responses=ACTION_ERRORS)
def comment(case_id: CaseId, body: TextBody, hub: HubDep, principal: PrincipalDep) -> dict[str, Any]:
    return _act(hub, case_id, principal, Action("comment", body.text))
