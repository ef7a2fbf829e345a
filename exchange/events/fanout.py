"""Fan-out: the delivery rows of one event, inserted by ``emit`` in the transaction that writes the event, so an
event that commits has its deliveries committed with it (nothing to lose on ``kill -9``) and a rolled-back event
has none. One set-based INSERT ... SELECT per channel over the new event rows: webhooks (matching active subscriptions)
and e-mail (contact addresses of the providers each event concerns). Both statements are built once, so
SQLAlchemy compiles them once, and a batch of events (``emit_many``: a submission opening 1,000 cases) costs two
statements, not two per event."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Connection, Insert, String, bindparam, func, insert, literal, or_, select

from exchange.store.tables import delivery, event, provider_contact, subscription

#: events every data provider may see and subscribe to (they concern no provider in particular)
PUBLIC_TYPES = frozenset({"structure.registered"})
COLUMNS = ["event_id", "channel", "subscription_id", "state", "attempts", "next_attempt_at"]


def contains(padded: ColumnElement[Any], code: ColumnElement[Any]) -> ColumnElement[bool]:
    """SQL: the space-padded list ``padded`` (" KAZ RUS ") holds ``code`` (LIKE with its wildcards escaped)."""
    escaped = func.replace(func.replace(func.replace(code, "!", "!!"), "%", "!%"), "_", "!_")
    return padded.like(literal("% ", String) + escaped + " %", escape="!")


def _statements() -> tuple[Insert, Insert]:
    """INSERT ... SELECT over the event rows named by ``ids``: one statement per channel, however many events."""
    ids: Any = bindparam("ids", expanding=True)
    webhooks = select(event.c.id, literal("webhook"), subscription.c.id, literal("pending"), literal(0),
                      event.c.occurred_at).where(
        event.c.id.in_(ids), subscription.c.active.is_(True), subscription.c.deleted_at.is_(None),
        contains(subscription.c.event_types, event.c.type),
        or_(event.c.type.in_(sorted(PUBLIC_TYPES)), subscription.c.owner.is_(None),
            contains(event.c.providers, subscription.c.owner)),
        or_(subscription.c.dataflow.is_(None), subscription.c.dataflow == event.c.dataflow),
        or_(subscription.c.partner.is_(None), contains(event.c.providers, subscription.c.partner)))
    mail = select(event.c.id, literal("email"), provider_contact.c.provider, literal("pending"), literal(0),
                  event.c.occurred_at).where(event.c.id.in_(ids), event.c.providers != "",
                                             contains(event.c.providers, provider_contact.c.provider))
    return (insert(delivery).from_select(COLUMNS, webhooks),
            insert(delivery).from_select([*COLUMNS[:2], "provider", *COLUMNS[3:]], mail))


WEBHOOKS, MAIL = _statements()


def fan_out(conn: Connection, event_ids: list[int]) -> None:
    """Insert a pending delivery per matching subscription and per concerned provider with a contact address,
    for every event of ``event_ids`` at once (two statements in all)."""
    if event_ids:
        conn.execute(WEBHOOKS, {"ids": event_ids})
        conn.execute(MAIL, {"ids": event_ids})
