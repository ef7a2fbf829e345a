"""Webhook subscriptions and their delivery logs (issue #10). Object-level rights: a data provider sees and
changes only its own subscriptions; another provider's are answered as not found (no existence leak)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Row, insert, select, update

from exchange.events.outbox import EVENT_TYPES
from exchange.events.signing import new_secret
from exchange.events.ssrf import UnsafeUrl, resolve
from exchange.ingest import Principal
from exchange.store.tables import delivery, event, subscription

PUBLIC_FIELDS = ["id", "owner", "url", "event_types", "dataflow", "partner", "active", "created_at", "failures",
                 "disabled_at", "disabled_reason"]


class NotFound(LookupError):
    """No such subscription (or delivery) that the caller may see."""


@dataclass(frozen=True)
class Request:
    """What a caller asks to subscribe."""

    url: str
    event_types: Sequence[str]
    dataflow: str | None = None
    partner: str | None = None


def check(request: Request, allow_private: bool) -> None:
    """Refuse unknown event types and unsafe URLs (exchange.events.ssrf); raises ValueError saying why."""
    unknown = sorted(set(request.event_types) - set(EVENT_TYPES))
    if unknown or not request.event_types:
        raise ValueError(f"Unknown event types {unknown}: choose among {sorted(EVENT_TYPES)}." if unknown
                         else "List at least one event type.")
    resolve(request.url, allow_private)


def create(conn: Connection, principal: Principal, request: Request, allow_private: bool) -> dict[str, Any]:
    """Store a subscription and return it with its signing secret (the only time the secret is shown)."""
    check(request, allow_private)
    row = {"id": "sub_" + uuid.uuid4().hex, "owner": None if principal.is_admin else principal.provider,
           "token_id": principal.token_id, "url": request.url,
           "event_types": " " + " ".join(sorted(set(request.event_types))) + " ", "dataflow": request.dataflow,
           "partner": request.partner, "secret": new_secret(), "active": True, "created_at": datetime.now(UTC),
           "failures": 0}
    conn.execute(insert(subscription).values(**row))
    return {**public(row), "secret": row["secret"]}


def public(row: Any) -> dict[str, Any]:
    """A subscription as the API shows it (never its secret)."""
    data = dict(row._mapping) if isinstance(row, Row) else dict(row)
    out = {k: data.get(k) for k in PUBLIC_FIELDS}
    out["event_types"] = str(out["event_types"]).split()
    out["active"] = bool(out["active"])
    return out


def visible(principal: Principal) -> Any:
    """SQL condition: the subscriptions ``principal`` may see (its own; administrators: all), not removed."""
    alive = subscription.c.deleted_at.is_(None)
    return alive if principal.is_admin else alive & (subscription.c.owner == principal.provider)


def list_for(conn: Connection, principal: Principal) -> list[dict[str, Any]]:
    rows = conn.execute(select(subscription).where(visible(principal)).order_by(subscription.c.created_at))
    return [public(r) for r in rows]


def get(conn: Connection, principal: Principal, sub_id: str) -> Row:
    row = conn.execute(select(subscription).where(visible(principal), subscription.c.id == sub_id)).first()
    if row is None:
        raise NotFound(f"No subscription {sub_id!r} of yours.")
    return row


def remove(conn: Connection, principal: Principal, sub_id: str) -> None:
    """Stop a subscription; its delivery log is kept, its pending deliveries are skipped."""
    get(conn, principal, sub_id)
    now = datetime.now(UTC)
    conn.execute(update(subscription).where(subscription.c.id == sub_id).values(deleted_at=now, active=False))
    conn.execute(update(delivery).where(delivery.c.subscription_id == sub_id, delivery.c.state == "pending")
                 .values(state="skipped", last_error="subscription removed"))


def deliveries(conn: Connection, principal: Principal, sub_id: str, limit: int, before: int | None) -> list[dict]:
    """The delivery log of a subscription, newest first."""
    get(conn, principal, sub_id)
    query = (select(delivery, event.c.uid.label("event"), event.c.type).join(event, event.c.id == delivery.c.event_id)
             .where(delivery.c.subscription_id == sub_id).order_by(delivery.c.id.desc()).limit(limit))
    if before is not None:
        query = query.where(delivery.c.id < before)
    return [log_entry(r) for r in conn.execute(query)]


def log_entry(row: Row) -> dict[str, Any]:
    return {"id": row.id, "event": row.event, "type": row.type, "state": row.state, "attempts": row.attempts,
            "next_attempt_at": row.next_attempt_at if row.state == "pending" else None,
            "last_attempt_at": row.last_attempt_at, "last_status": row.last_status, "last_error": row.last_error,
            "delivered_at": row.delivered_at}


def redeliver(conn: Connection, principal: Principal, sub_id: str, event_uid: str) -> dict[str, Any]:
    """Send an event to a subscription again, now: its delivery row goes back to pending (attempts from zero)."""
    sub = get(conn, principal, sub_id)
    if not sub.active:
        raise ValueError("The subscription is disabled or removed; subscribe again to receive events.")
    found = conn.execute(select(delivery.c.id).join(event, event.c.id == delivery.c.event_id)
                         .where(delivery.c.subscription_id == sub_id, event.c.uid == event_uid)).first()
    if found is None:
        raise NotFound(f"Event {event_uid!r} was never delivered to subscription {sub_id!r}.")
    conn.execute(update(delivery).where(delivery.c.id == found.id).values(
        state="pending", attempts=0, next_attempt_at=datetime.now(UTC), last_error=None))
    row = conn.execute(select(delivery, event.c.uid.label("event"), event.c.type)
                       .join(event, event.c.id == delivery.c.event_id).where(delivery.c.id == found.id)).one()
    return log_entry(row)


__all__ = ["NotFound", "Request", "UnsafeUrl", "create", "deliveries", "get", "list_for", "redeliver", "remove"]
