"""The event feed (``GET /events``): events in commit order after a cursor, with filters and object-level rights.

Event ids are taken when a row is inserted, not when its transaction commits, so on PostgreSQL an id-ordered
feed could serve id 8 while id 7 is still uncommitted and then never serve 7. The feed therefore orders by
(transaction id, id) and serves only events of transactions older than the oldest one still running
(``pg_snapshot_xmin(pg_current_snapshot())``, PostgreSQL manual 9.27 "Transaction ID and snapshot information"):
every such transaction has ended, so no event can later appear before the cursor. SQLite has one writer at a
time: ids are commit order and the transaction part is 0.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, literal, or_, select, text, tuple_

from exchange.events.fanout import PUBLIC_TYPES, contains
from exchange.ingest import Principal
from exchange.store.tables import event

CURSOR = re.compile(r"(\d{1,19})\.(\d{1,19})")


class BadCursor(ValueError):
    pass


@dataclass(frozen=True)
class Filters:
    types: Sequence[str] = ()
    dataflow: str | None = None
    partner: str | None = None


def parse_cursor(cursor: str | None) -> tuple[int, int]:
    """``"<txid>.<id>"`` as given in a page's ``next``; empty: from the beginning."""
    if not cursor:
        return (-1, 0)
    match = CURSOR.fullmatch(cursor)
    if match is None:
        raise BadCursor("'after' must be a cursor as returned in 'next' (two numbers joined by a dot), e.g. 0.42.")
    return int(match.group(1)), int(match.group(2))


def cursor_of(txid: int | None, event_id: int) -> str:
    return f"{txid or 0}.{event_id}"


def page(conn: Connection, principal: Principal, after: str | None, filters: Filters, limit: int) -> dict[str, Any]:
    """One page of the feed: ``{"events": [...], "next": cursor}`` (``next`` = ``after`` when nothing is new)."""
    position = parse_cursor(after)
    txid = func.coalesce(event.c.txid, 0)
    query = (select(event).where(tuple_(txid, event.c.id) > tuple_(literal(position[0]), literal(position[1])),
                                 *_conditions(principal, filters))
             .order_by(txid, event.c.id).limit(limit))
    if conn.dialect.name == "postgresql":
        horizon = text("pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
        query = query.where(event.c.txid < horizon)
    rows = conn.execute(query).all()
    events = [as_json(r) for r in rows]
    return {"events": events, "next": cursor_of(rows[-1].txid, rows[-1].id) if rows else (after or "0.0")}


def _conditions(principal: Principal, filters: Filters) -> list[Any]:
    conditions: list[Any] = []
    if not principal.is_admin:
        conditions.append(or_(contains(event.c.providers, literal(principal.provider)),
                              event.c.type.in_(sorted(PUBLIC_TYPES))))
    if filters.types:
        conditions.append(event.c.type.in_(list(filters.types)))
    if filters.dataflow:
        conditions.append(event.c.dataflow == filters.dataflow)
    if filters.partner:
        conditions.append(contains(event.c.providers, literal(filters.partner)))
    return conditions


def as_json(row: Any) -> dict[str, Any]:
    occurred = row.occurred_at
    return {"id": row.uid, "cursor": cursor_of(row.txid, row.id), "type": row.type,
            "occurred_at": occurred.isoformat() + ("Z" if occurred.tzinfo is None else ""),
            "providers": row.providers.split(), "dataflow": row.dataflow, "subject": row.subject,
            "payload": json.loads(row.payload)}
