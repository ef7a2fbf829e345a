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
from collections.abc import Iterable, Mapping
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


def emit(conn: Connection, type_: str, providers: Iterable[str | None], payload: Mapping[str, Any], *,
         dataflow: str | None = None, subject: str | None = None, at: datetime | None = None) -> str:
    """Record one event in the caller's transaction and return its public id.

    ``providers`` are the data providers it concerns (None and "ADMIN" are dropped: administrators see all).
    Its deliveries (webhook subscriptions, e-mail contacts) are inserted in the same transaction (fanout.py).
    """
    if type_ not in EVENT_TYPES:
        raise ValueError(f"unknown event type {type_!r}")
    uid = new_uid()
    concerned = sorted({p for p in providers if p and p != "ADMIN"})
    now = at or datetime.now(UTC)
    padded = f" {' '.join(concerned)} " if concerned else ""
    result = conn.execute(INSERT_EVENT, {
        "uid": uid, "type": type_, "occurred_at": now, "providers": padded, "dataflow": dataflow, "subject": subject,
        "payload": json.dumps(payload, sort_keys=True, default=str), "txid": _transaction_id(conn)})
    fan_out(conn, int(result.inserted_primary_key[0]), type_, padded, dataflow, now)  # type: ignore[index]
    return uid


def _transaction_id(conn: Connection) -> int | None:
    if conn.dialect.name != "postgresql":
        return None  # SQLite has one writer at a time: insert order is commit order
    return int(conn.execute(text("SELECT pg_current_xact_id()::text::bigint")).scalar_one())
