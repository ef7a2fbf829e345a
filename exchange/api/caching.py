"""HTTP validators for SDMX answers (REST "Security and caching": ETag / Last-Modified, 304 on a match).

Data answers change only when a push is accepted, structures only when one is registered: the
validators are derived from that state plus the request (path, query, Accept), so a client polling
with ``If-None-Match`` or ``If-Modified-Since`` gets 304 without the hub running the query.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

from fastapi import Request
from sqlalchemy import func, select

from exchange.hub import Hub
from exchange.store.tables import structure_document, submission


def _etag(*parts: str) -> str:
    return '"' + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32] + '"'


def _request_parts(request: Request) -> list[str]:
    return [request.url.path, str(request.url.query), request.headers.get("accept", "")]


def data_validators(hub: Hub, request: Request) -> dict[str, str]:
    with hub.engine.connect() as conn:
        changed, count = conn.execute(select(func.max(submission.c.received_at), func.count())
                                      .where(submission.c.status == "accepted")).one()
    last = _aware(changed) if changed is not None else datetime(2000, 1, 1, tzinfo=UTC)
    return {"ETag": _etag(last.isoformat(), str(count), *_request_parts(request)),
            "Last-Modified": format_datetime(last, usegmt=True)}


def structure_validators(hub: Hub, request: Request) -> dict[str, str]:
    with hub.engine.connect() as conn:
        changed = conn.execute(select(func.max(structure_document.c.submitted_at))).scalar_one()
    sources = hashlib.sha256(b"".join(hashlib.sha256(s).digest() for s in hub.catalog.sources)).hexdigest()
    headers = {"ETag": _etag(sources, *_request_parts(request))}
    if changed is not None:
        headers["Last-Modified"] = format_datetime(_aware(changed), usegmt=True)
    return headers


def _aware(moment: datetime) -> datetime:
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def not_modified(request: Request, validators: dict[str, str]) -> bool:
    """RFC 9110 13.1: If-None-Match wins over If-Modified-Since."""
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        return validators["ETag"] in {tag.strip() for tag in if_none_match.split(",")} or if_none_match.strip() == "*"
    since = request.headers.get("if-modified-since")
    if since and "Last-Modified" in validators:
        try:
            return parsedate_to_datetime(validators["Last-Modified"]) <= parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
    return False
