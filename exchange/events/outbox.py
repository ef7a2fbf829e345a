"""The transactional outbox (issue #10): an event is one row of ``event``, inserted by ``emit`` on the very
connection and transaction that makes the change it reports. It commits with the change or not at all, so a
hub killed after the commit still has the event to deliver when it restarts, and a rolled-back change never
announces itself.

On PostgreSQL each row also records its transaction id (``txid``), so the feed can hold back events of
transactions still in flight and serve every event in commit order (ids alone are assigned at insert time).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert, text

from exchange.events.fanout import fan_out
from exchange.store.tables import event

#: Every event type, with what it means (the README lists the same; tests/test_docs.py checks).
EVENT_TYPES: Mapping[str, str] = {
    "submission.accepted": "a push was accepted and stored",
    "submission.rejected": "a push was rejected; nothing was stored",
    "data.partner_revised": "a partner revised data that mirrors yours",
    "structure.registered": "structures were registered",
    "case.opened": "a reconciliation case was opened",
    "case.acknowledged": "a partner acknowledged a case",
    "case.explained": "a partner explained a case with a reason code",
    "case.revised": "a submission revised values of a case",
    "case.resolved": "every period of a case is within policy or explained",
    "case.reopened": "a period of a resolved or closed case is out of policy again",
    "case.closed": "the difference is explained and accepted",
    "case.commented": "someone commented on a case",
    "subscription.disabled": "a webhook subscription was disabled after a run of failed deliveries",
}


#: one statement object, so SQLAlchemy compiles it once (emit may run a thousand times in one transaction)
INSERT_EVENT = insert(event)


def new_uid() -> str:
    return "evt_" + uuid.uuid4().hex


@dataclass(frozen=True)
class Event:
    """One event to record: its type, the providers it concerns, its JSON payload (with links) and its scope."""

    type: str
    providers: Iterable[str | None]
    payload: Mapping[str, Any]
    dataflow: str | None = None
    subject: str | None = None
    at: datetime | None = None


def emit(conn: Connection, type_: str, providers: Iterable[str | None], payload: Mapping[str, Any], *,
         dataflow: str | None = None, subject: str | None = None, at: datetime | None = None) -> str:
    """Record one event in the caller's transaction and return its public id.

    ``providers`` are the data providers it concerns (None and "ADMIN" are dropped: administrators see all).
    Its deliveries (webhook subscriptions, e-mail contacts) are inserted in the same transaction (fanout.py).
    """
    return emit_many(conn, [Event(type_, providers, payload, dataflow, subject, at)])[0]


def emit_many(conn: Connection, events: Sequence[Event]) -> list[str]:
    """Record many events in the caller's transaction, in order: one INSERT for the events (ids returned) and
    two for all their deliveries, so a push that opens 1,000 cases does not pay three round trips per event."""
    unknown = sorted({e.type for e in events} - set(EVENT_TYPES))
    if unknown:
        raise ValueError(f"unknown event types {unknown}")
    if not events:
        return []
    txid, now = _transaction_id(conn), datetime.now(UTC)
    rows = [_row(e, txid, now) for e in events]
    ids = [r.id for r in conn.execute(INSERT_EVENT.returning(event.c.id, sort_by_parameter_order=True), rows)]
    fan_out(conn, ids)
    return [r["uid"] for r in rows]


def _row(e: Event, txid: int | None, now: datetime) -> dict[str, Any]:
    concerned = sorted({p for p in e.providers if p and p != "ADMIN"})
    return {"uid": new_uid(), "type": e.type, "occurred_at": e.at or now,
            "providers": f" {' '.join(concerned)} " if concerned else "", "dataflow": e.dataflow,
            "subject": e.subject, "payload": json.dumps(e.payload, sort_keys=True, default=str), "txid": txid}


def _transaction_id(conn: Connection) -> int | None:
    """PostgreSQL's id of the current transaction, asked once per transaction (emit may run a thousand times)."""
    if conn.dialect.name != "postgresql":
        return None  # SQLite has one writer at a time: insert order is commit order
    transaction = conn.get_transaction()
    known = conn.info.get("exchange_txid")
    if known is not None and known[0] is transaction:
        return int(known[1])
    txid = int(conn.execute(text("SELECT pg_current_xact_id()::text::bigint")).scalar_one())
    conn.info["exchange_txid"] = (transaction, txid)
    return txid
