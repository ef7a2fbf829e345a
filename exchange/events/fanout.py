"""Fan-out: the delivery rows of one event, inserted by ``emit`` in the transaction that writes the event, so an
event that commits has its deliveries committed with it (nothing to lose on ``kill -9``) and a rolled-back event
has none. One set-based INSERT ... SELECT per channel: webhooks (matching active subscriptions) and e-mail
(contact addresses of the providers the event concerns). Both statements are built once, with bound
parameters, so SQLAlchemy compiles them once (an emit costs two cached statements)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Connection,
    DateTime,
    Insert,
    Integer,
    String,
    bindparam,
    func,
    insert,
    literal,
    or_,
    select,
    true,
)

from exchange.store.tables import delivery, provider_contact, subscription

#: events every data provider may see and subscribe to (they concern no provider in particular)
PUBLIC_TYPES = frozenset({"structure.registered"})
COLUMNS = ["event_id", "channel", "subscription_id", "state", "attempts", "next_attempt_at"]


def contains(padded: ColumnElement[Any], code: ColumnElement[Any]) -> ColumnElement[bool]:
    """SQL: the space-padded list ``padded`` (" KAZ RUS ") holds ``code`` (LIKE with its wildcards escaped)."""
    escaped = func.replace(func.replace(func.replace(code, "!", "!!"), "%", "!%"), "_", "!_")
    return padded.like(literal("% ", String) + escaped + " %", escape="!")


def _statements() -> tuple[Insert, Insert]:
    providers = bindparam("providers", type_=String)
    head = (bindparam("event_id", type_=Integer), bindparam("channel", type_=String))
    tail = (literal("pending"), literal(0), bindparam("now", type_=DateTime(timezone=True)))
    webhooks = select(*head, subscription.c.id, *tail).where(
        subscription.c.active.is_(True), subscription.c.deleted_at.is_(None),
        contains(subscription.c.event_types, bindparam("type", type_=String)),
        or_(bindparam("public", type_=Boolean) == true(), subscription.c.owner.is_(None),
            contains(providers, subscription.c.owner)),
        or_(subscription.c.dataflow.is_(None), subscription.c.dataflow == bindparam("dataflow", type_=String)),
        or_(subscription.c.partner.is_(None), contains(providers, subscription.c.partner)))
    mail = select(*head, provider_contact.c.provider, *tail).where(contains(providers, provider_contact.c.provider))
    return (insert(delivery).from_select(COLUMNS, webhooks),
            insert(delivery).from_select([*COLUMNS[:2], "provider", *COLUMNS[3:]], mail))


WEBHOOKS, MAIL = _statements()


def fan_out(conn: Connection, event_id: int, type_: str, providers: str, dataflow: str | None,
            now: datetime) -> None:
    """Insert a pending delivery per matching subscription and per concerned provider with a contact address."""
    params = {"event_id": event_id, "providers": providers, "now": now, "type": type_,
              "public": type_ in PUBLIC_TYPES, "dataflow": dataflow}
    conn.execute(WEBHOOKS, {**params, "channel": "webhook"})
    if providers:
        conn.execute(MAIL, {"event_id": event_id, "providers": providers, "now": now, "channel": "email"})
