"""Fan-out: the delivery rows of one event, inserted by ``emit`` in the transaction that writes the event, so an
event that commits has its deliveries committed with it (nothing to lose on ``kill -9``) and a rolled-back event
has none. One set-based INSERT ... SELECT per channel: webhooks (matching active subscriptions) and e-mail
(contact addresses of the providers the event concerns)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, String, false, func, insert, literal, or_, select, true

from exchange.store.tables import delivery, provider_contact, subscription

#: events every data provider may see and subscribe to (they concern no provider in particular)
PUBLIC_TYPES = frozenset({"structure.registered"})


def contains(padded: ColumnElement[Any], code: ColumnElement[Any]) -> ColumnElement[bool]:
    """SQL: the space-padded list ``padded`` (" KAZ RUS ") holds ``code`` (LIKE with its wildcards escaped)."""
    escaped = func.replace(func.replace(func.replace(code, "!", "!!"), "%", "!%"), "_", "!_")
    return padded.like(literal("% ", String) + escaped + " %", escape="!")


def fan_out(conn: Connection, event_id: int, type_: str, providers: str, dataflow: str | None,
            now: datetime) -> None:
    """Insert a pending delivery per matching subscription and per concerned provider with a contact address."""
    padded = literal(providers, String)
    visible = true() if type_ in PUBLIC_TYPES else or_(subscription.c.owner.is_(None),
                                                       contains(padded, subscription.c.owner))
    webhooks = select(literal(event_id), literal("webhook"), subscription.c.id, literal("pending"), literal(0),
                      literal(now)).where(
        subscription.c.active.is_(True), subscription.c.deleted_at.is_(None),
        contains(subscription.c.event_types, literal(type_, String)), visible,
        or_(subscription.c.dataflow.is_(None), subscription.c.dataflow == dataflow if dataflow else false()),
        or_(subscription.c.partner.is_(None), contains(padded, subscription.c.partner)))
    columns = ["event_id", "channel", "subscription_id", "state", "attempts", "next_attempt_at"]
    conn.execute(insert(delivery).from_select(columns, webhooks))
    mail = select(literal(event_id), literal("email"), provider_contact.c.provider, literal("pending"), literal(0),
                  literal(now)).where(contains(padded, provider_contact.c.provider))
    columns[2] = "provider"
    conn.execute(insert(delivery).from_select(columns, mail))
