"""Webhook subscriptions, the event feed and providers' contact addresses (issue #10, "Telling people and
machines"). A data provider sees and changes only its own subscriptions and the events that concern it; another
provider's subscription is answered as not found, so its existence does not leak."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy import delete, insert, select, update

from exchange.api.contract import hub_errors
from exchange.api.deps import AdminDep, HubDep, PrincipalDep
from exchange.auth import AuthError
from exchange.events import feed, subscriptions
from exchange.events.outbox import EVENT_TYPES
from exchange.events.ssrf import UnsafeUrl
from exchange.hub import Hub
from exchange.ingest import Principal
from exchange.store.engine import begin_write
from exchange.store.tables import provider_contact

router = APIRouter(tags=["events"])

CODE = r"^[A-Z][A-Z0-9_]{1,63}$"
SUB_ID = r"^sub_[0-9a-f]{32}$"
EVENT_ID = r"^evt_[0-9a-f]{32}$"
FLOW = r"^[A-Za-z0-9_@$.\-]+:[A-Za-z0-9_@$.\-]+\([A-Za-z0-9_.+\-]+\)$"
EMAIL = re.compile(r"[^@\s<>\"',;]{1,64}@[A-Za-z0-9.\-]{1,253}\.[A-Za-z]{2,63}|[^@\s<>\"',;]{1,64}@localhost")
POLL_EVERY_S = 0.5


class Refused(AuthError):
    """A 4xx in the hub's JSON error shape (``{"status": "rejected", "code", "message"}``)."""


class SubscriptionIn(BaseModel):
    url: str = Field(max_length=2000, description="https:// (or http://) URL that receives signed POSTs.")
    event_types: list[str] = Field(min_length=1, max_length=len(EVENT_TYPES), description="Event types to receive.")
    dataflow: str | None = Field(None, pattern=FLOW, description="Only events of this dataflow (AGENCY:ID(VERSION)).")
    partner: str | None = Field(None, pattern=CODE, description="Only events that also concern this provider.")


class ContactIn(BaseModel):
    email: str = Field(max_length=320, description="Where the hub sends this provider's notifications.")


@router.post("/subscriptions", status_code=201, summary="Subscribe a URL to event types (the secret is shown once)",
             responses=hub_errors(401, 422))
def subscribe(body: SubscriptionIn, hub: HubDep, principal: PrincipalDep) -> dict[str, Any]:
    """Deliveries are signed as Standard Webhooks specifies, with the ``secret`` answered here and never again.
    URLs on loopback, private, link-local, multicast, reserved or unspecified addresses are refused (422)."""
    request = subscriptions.Request(body.url, body.event_types, body.dataflow, body.partner)
    try:
        with begin_write(hub.engine) as conn:
            return subscriptions.create(conn, principal, request, hub.settings.webhook_allow_private)
    except (UnsafeUrl, ValueError) as exc:
        raise Refused(422, str(exc)) from exc


@router.get("/subscriptions", summary="The caller's subscriptions (an administrator's token: all)",
            responses=hub_errors(401))
def list_subscriptions(hub: HubDep, principal: PrincipalDep) -> dict[str, Any]:
    with hub.engine.connect() as conn:
        return {"items": subscriptions.list_for(conn, principal)}


def _found(call: Any, hub: Hub, principal: Principal, *args: Any) -> Any:
    try:
        with begin_write(hub.engine) as conn:
            return call(conn, principal, *args)
    except subscriptions.NotFound as exc:
        raise Refused(404, str(exc)) from exc
    except ValueError as exc:
        raise Refused(409, str(exc)) from exc


@router.get("/subscriptions/{sub_id}", summary="One subscription", responses=hub_errors(401, 404))
def get_subscription(sub_id: str, hub: HubDep, principal: PrincipalDep) -> dict[str, Any]:
    return subscriptions.public(_found(subscriptions.get, hub, principal, sub_id))


@router.delete("/subscriptions/{sub_id}", status_code=204, summary="Remove a subscription (its log is kept)",
               responses=hub_errors(401, 404))
def remove_subscription(sub_id: str, hub: HubDep, principal: PrincipalDep) -> Response:
    _found(subscriptions.remove, hub, principal, sub_id)
    return Response(status_code=204)


@router.get("/subscriptions/{sub_id}/deliveries", summary="The delivery log of a subscription, newest first",
            responses=hub_errors(401, 404, 422))
def list_deliveries(sub_id: str, hub: HubDep, principal: PrincipalDep,
                    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                    before: Annotated[int | None, Query(ge=1, le=2**62)] = None) -> dict[str, Any]:
    """``before``: a delivery id from a previous page, for the next (older) page."""
    items = _found(subscriptions.deliveries, hub, principal, sub_id, limit, before)
    out: dict[str, Any] = {"items": items}
    if len(items) == limit:
        out["next"] = f"/subscriptions/{sub_id}/deliveries?limit={limit}&before={items[-1]['id']}"
    return out


@router.post("/subscriptions/{sub_id}/deliveries/{event_id}/redeliver", status_code=202,
             summary="Deliver an event to a subscription again, now", responses=hub_errors(401, 404, 409))
def redeliver(sub_id: str, event_id: str, hub: HubDep, principal: PrincipalDep) -> dict[str, Any]:
    """202: the delivery is pending again and the dispatcher sends it at its next round (409: disabled)."""
    return dict(_found(subscriptions.redeliver, hub, principal, sub_id, event_id))


@router.get("/events", summary="The event feed: events after a cursor, in commit order, with long polling",
            responses=hub_errors(401, 422))
async def events(hub: HubDep, principal: PrincipalDep,
                 after: Annotated[str | None, Query(max_length=40, description="'next' of the previous page")] = None,
                 type: Annotated[list[str] | None, Query(description="repeatable")] = None,
                 dataflow: Annotated[str | None, Query(pattern=FLOW)] = None,
                 partner: Annotated[str | None, Query(pattern=CODE)] = None,
                 limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                 wait: Annotated[float, Query(ge=0, le=300, description="seconds to wait for an event")] = 0
                 ) -> dict[str, Any]:
    """A data provider sees the events that concern it (and public ones), an administrator all. With ``wait``
    (capped by EXCHANGE_EVENTS_MAX_WAIT_S) an empty page waits until an event arrives or the time is up."""
    unknown = sorted(set(type or []) - set(EVENT_TYPES))
    if unknown:
        raise Refused(422, f"Unknown event types {unknown}: choose among {sorted(EVENT_TYPES)}.")
    try:
        feed.parse_cursor(after)
    except feed.BadCursor as exc:
        raise Refused(422, str(exc)) from exc
    filters = feed.Filters(tuple(type or ()), dataflow, partner)
    deadline = time.monotonic() + min(wait, hub.settings.events_max_wait_s)
    while True:
        result = await run_in_threadpool(_page, hub, principal, after, filters, limit)
        if result["events"] or time.monotonic() >= deadline:
            return result
        await asyncio.sleep(min(POLL_EVERY_S, max(0.0, deadline - time.monotonic())))


def _page(hub: Hub, principal: Principal, after: str | None, filters: feed.Filters, limit: int) -> dict[str, Any]:
    with hub.engine.connect() as conn:
        return feed.page(conn, principal, after, filters, limit)


@router.put("/providers/{code}/contact", summary="Set a provider's e-mail contact address (administrators)",
            responses=hub_errors(401, 403, 422))
def set_contact(code: str, body: ContactIn, hub: HubDep, _admin: AdminDep) -> dict[str, Any]:
    """Notifications of the events that concern the provider go there (when SMTP is configured)."""
    save_contact(hub, code, body.email)
    return {"provider": code, "email": body.email}


@router.get("/providers/{code}/contact", summary="A provider's contact address (the provider or administrators)",
            responses=hub_errors(401, 404))
def get_contact(code: str, hub: HubDep, principal: PrincipalDep) -> dict[str, Any]:
    with hub.engine.connect() as conn:
        email = conn.execute(select(provider_contact.c.email).where(provider_contact.c.provider == code)).scalar()
    if email is None or not (principal.is_admin or principal.provider == code):
        raise Refused(404, f"No contact address of {code[:64]!r} that this token may read.")
    return {"provider": code, "email": email}


@router.delete("/providers/{code}/contact", status_code=204, summary="Remove a provider's contact address",
               responses=hub_errors(401, 403))
def remove_contact(code: str, hub: HubDep, _admin: AdminDep) -> Response:
    with begin_write(hub.engine) as conn:
        conn.execute(delete(provider_contact).where(provider_contact.c.provider == code))
    return Response(status_code=204)


def save_contact(hub: Hub, code: str, email: str) -> None:
    """Insert or replace a provider's contact address (API and CLI); ValueError-free: checks raise Refused."""
    if not re.fullmatch(CODE, code):
        raise Refused(422, f"{code[:64]!r} is not a data provider code (capital letters, digits, _), e.g. KAZ.")
    if not EMAIL.fullmatch(email):
        raise Refused(422, f"{email[:320]!r} is not an e-mail address, e.g. migration@stat.example.")
    now = datetime.now(UTC)
    with begin_write(hub.engine) as conn:
        done = conn.execute(update(provider_contact).where(provider_contact.c.provider == code)
                            .values(email=email, updated_at=now)).rowcount
        if not done:
            conn.execute(insert(provider_contact).values(provider=code, email=email, updated_at=now))
