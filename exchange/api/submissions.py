"""Pushing data (POST /data, after the SDMX REST maintenance draft) and reading submission reports."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from datetime import UTC
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse
from sqlalchemy import ColumnElement, Connection, Row, func, literal, or_, select, true

from exchange.api.contract import hub_errors
from exchange.api.deps import HubDep, PrincipalDep
from exchange.body import Body, spool_async
from exchange.ingest import Principal
from exchange.rows import MessageError
from exchange.store.tables import submission, submission_issue

router = APIRouter(tags=["data submission"])

LIST_FIELDS = ["id", "received_at", "provider", "dataflows", "status", "http_status", "observations", "issue_count",
               "media_type", "size_bytes"]
DEFAULT_LIST, MAX_LIST, MAX_OFFSET = 100, 1000, 2**31 - 1
#: Dataflow references as stored (AGENCY:ID(VERSION)) or shortened; anything else is a 422 before any query.
FLOW_PATTERN = r"^[A-Za-z0-9_@$.\-]+(:[A-Za-z0-9_@$.\-]+)?(\([A-Za-z0-9_.+\-]+\))?$"
#: Submission ids are UUIDs; anything else cannot name one (and never reaches the database, NUL included).
SUBMISSION_ID = re.compile(r"[0-9A-Za-z-]{1,64}")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")
PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
ACCEPTED_ASYNC = ("Prefer: respond-async: the message was received and is processed in the background; "
                  "GET the Location (/submissions/{id}) for its phase and counters, then its final answer.")
ISSUE_FIELDS = ["seq", "code", "severity", "component", "value", "series_key", "period", "location", "message", "fix"]


@router.post("/data", summary="Push an SDMX data message (one transaction)",
             responses={202: {"description": ACCEPTED_ASYNC}, **hub_errors(401, 403, 404, 409, 413, 415, 422)})
@router.post("/data/", include_in_schema=False)
async def push_data(request: Request, hub: HubDep, principal: PrincipalDep,
                    content_type: Annotated[str | None, Header()] = None) -> JSONResponse:
    """Validate and store an SDMX-ML 2.1 or SDMX-CSV 1.0/2.x data message (gzip accepted).

    200: accepted, with counts per dataset; 400 malformed; 401/403 auth; 404 unknown dataflow; 409 another push
    for the same dataflow and provider is running; 413 too large; 415 unsupported media type; 422 invalid, with
    the validation report (complete list at /submissions/{id}/issues). A rejected message stores nothing.
    With ``Prefer: respond-async``: 202 once the body is received, processed in the background (issue #15).
    """
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > hub.settings.max_upload_bytes:
        raise MessageError("TOO_LARGE", f"The message ({declared} bytes) is larger than the hub accepts "
                           f"({hub.settings.max_upload_bytes} bytes).", "Split the message into several pushes.", 413)
    body = await spool_async(request.stream(), hub.settings.max_upload_bytes)
    if respond_async(request.headers.getlist("prefer")):
        return await _start_async(hub, body, content_type, principal)
    try:
        outcome = await run_in_threadpool(hub.ingestor.submit, body, content_type, principal)
    finally:
        body.close()
    headers = {"X-Exchange-Replay": "true"} if outcome.replayed else {}
    return JSONResponse(outcome.body, status_code=outcome.status, headers=headers)


def respond_async(prefer: list[str]) -> bool:
    """True when a Prefer header asks for ``respond-async`` (RFC 7240 section 4.1; preference names are
    case-insensitive, several may share one header, each may carry parameters after ``;``)."""
    tokens = (item.split(";", 1)[0].split("=", 1)[0].strip().lower() for value in prefer for item in value.split(","))
    return "respond-async" in tokens


async def _start_async(hub: HubDep, body: Body, content_type: str | None, principal: Principal) -> JSONResponse:
    try:
        progress = await run_in_threadpool(hub.pushes.start, body, content_type, principal)
    except BaseException:
        body.close()
        raise
    report = f"/submissions/{progress.submission_id}"
    answer = {"submission": progress.submission_id, "status": "running", "code": 202, "phase": progress.phase,
              "provider": progress.provider, "received_at": progress.received_at.isoformat(),
              "message": f"received {body.size} bytes; GET {report} shows the progress, then the final answer",
              "report": report}
    return JSONResponse(answer, status_code=202,
                        headers={"Location": report, "Preference-Applied": "respond-async"})


@router.get("/submissions", summary="The submissions the caller may read, newest first",
            responses=hub_errors(401, 422))
@router.get("/submissions/", include_in_schema=False)
def list_submissions(hub: HubDep, principal: PrincipalDep,
                     offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
                     limit: Annotated[int, Query(ge=1, le=MAX_LIST)] = DEFAULT_LIST,
                     dataflow: Annotated[str | None, Query(pattern=FLOW_PATTERN, max_length=200)] = None,
                     status: Annotated[str | None, Query(pattern="^(accepted|rejected)$")] = None) -> dict[str, Any]:
    """A data provider's token lists that provider's submissions, an administrator's every submission.

    ``dataflow`` is ``AGENCY:ID(VERSION)``, ``AGENCY:ID`` or ``ID``; ``status`` is accepted or rejected.
    """
    where = [_visible_to(principal)]
    if dataflow:
        where.append(_names_flow(dataflow))
    if status:
        where.append(submission.c.status == status)
    with hub.engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(submission).where(*where)).scalar_one()
        rows = conn.execute(select(*[submission.c[c] for c in LIST_FIELDS]).where(*where)
                            .order_by(submission.c.received_at.desc(), submission.c.id.desc())
                            .offset(offset).limit(limit)).all()
    page: dict[str, Any] = {"offset": offset, "limit": limit, "total": total, "items": [_summary(r) for r in rows]}
    if offset + limit < total:
        query = {"offset": offset + limit, "limit": limit, "dataflow": dataflow, "status": status}
        page["next"] = "/submissions?" + urlencode({k: v for k, v in query.items() if v is not None})
    return page


@router.get("/submissions/{submission_id}", summary="A submission's result and the first page of its issues",
            responses=hub_errors(401, 404, 422))
def get_submission(submission_id: str, hub: HubDep, principal: PrincipalDep,
                   offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
                   limit: Annotated[int | None, Query(ge=1, le=100_000)] = None) -> dict[str, Any]:
    """The submitting data provider and administrators only; any other token gets 404, as for an unknown id."""
    limit = limit or hub.settings.issues_page_size
    with hub.engine.connect() as conn:
        row = _find_submission(conn, submission_id, principal)
        if row is None:
            pending = hub.push_report(conn, submission_id, principal) if SUBMISSION_ID.fullmatch(submission_id) \
                else None
            if pending is None:
                raise _unknown(submission_id)
            return pending
        issues = [dict(r._mapping) for r in conn.execute(_issues_query(submission_id).offset(offset).limit(limit))]
        total = conn.execute(select(func.count()).select_from(submission_issue)
                             .where(submission_issue.c.submission_id == submission_id)).scalar_one()
    result = json.loads(row.result)
    result["received_bytes"], result["sha256"], result["media_type"] = row.size_bytes, row.sha256, row.media_type
    page: dict[str, Any] = {"offset": offset, "limit": limit, "total": total, "items": issues}
    if offset + limit < total:
        page["next"] = f"/submissions/{submission_id}?offset={offset + limit}&limit={limit}"
    result["issue_page"] = page
    return result


@router.get("/submissions/{submission_id}/issues", summary="Every issue of a submission (CSV or JSON lines)",
            responses=hub_errors(401, 404, 422))
def download_issues(submission_id: str, hub: HubDep, principal: PrincipalDep,
                    format: Annotated[str, Query(pattern="^(csv|jsonl)$")] = "csv") -> StreamingResponse:
    """The CSV is meant for spreadsheets: text cells they would run as formulas get a leading apostrophe."""
    with hub.engine.connect() as conn:
        _readable_submission(conn, submission_id, principal)
    media = "text/csv; charset=utf-8" if format == "csv" else "application/x-ndjson"
    return StreamingResponse(_stream_issues(hub, submission_id, format), media_type=media, headers={
        "Content-Disposition": f'attachment; filename="issues-{submission_id}.{format}"'})


def _visible_to(principal: Principal) -> ColumnElement[bool]:
    """Administrators read every submission; a data provider only those pushed under its own code (any of its
    tokens). Administrators' pushes are stored as "ADMIN", which no data provider code can be (ISO alpha-3)."""
    if principal.is_admin:
        return true()
    return submission.c.provider == principal.provider


def _readable_submission(conn: Connection, submission_id: str, principal: Principal) -> Row[Any]:
    """The submission row, or 404 when it does not exist or the caller may not read it (one answer for both,
    so that ids of other providers' submissions cannot be probed)."""
    row = _find_submission(conn, submission_id, principal)
    if row is None:
        raise _unknown(submission_id)
    return row


def _find_submission(conn: Connection, submission_id: str, principal: Principal) -> Row[Any] | None:
    if not SUBMISSION_ID.fullmatch(submission_id):
        return None
    return conn.execute(select(submission).where(submission.c.id == submission_id, _visible_to(principal))).first()


def _unknown(submission_id: str) -> MessageError:
    return MessageError("UNKNOWN_SUBMISSION", f"No submission {submission_id[:64]!r} that this token may read.",
                        "Use the id returned by POST /data, with a token of the data provider that pushed it "
                        "(or an administrator's); GET /submissions lists the submissions your token may read.",
                        status=404)


def _names_flow(dataflow: str) -> ColumnElement[bool]:
    """``dataflows`` holds the space-separated references the datasets gave (``dataflow=AGENCY:ID(VERSION)``,
    kind optional); match a full ``AGENCY:ID(VERSION)``, an ``AGENCY:ID`` (any version) or an ``ID``."""
    padded = literal(" ") + submission.c.dataflows + literal(" ")
    if "(" in dataflow:
        return or_(padded.contains(f" {dataflow} ", autoescape=True), padded.contains(f"={dataflow} ", autoescape=True))
    if ":" in dataflow:
        return or_(padded.contains(f" {dataflow}(", autoescape=True), padded.contains(f"={dataflow}(", autoescape=True))
    return padded.contains(f":{dataflow}(", autoescape=True)


def _summary(row: Row[Any]) -> dict[str, Any]:
    item = dict(row._mapping)
    received = item["received_at"]
    item["received_at"] = (received if received.tzinfo else received.replace(tzinfo=UTC)).isoformat()
    item["dataflows"] = item["dataflows"].split()
    item["report"] = f"/submissions/{item['id']}"
    item["complete_report"] = f"/submissions/{item['id']}/issues"
    return item


def _issues_query(submission_id: str) -> Any:
    cols = [submission_issue.c[f] for f in ISSUE_FIELDS]
    return select(*cols).where(submission_issue.c.submission_id == submission_id).order_by(submission_issue.c.seq)


def spreadsheet_safe(cell: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``, tab, CR, LF first)
    gets a leading apostrophe, which spreadsheets show as text (OWASP "CSV Injection"). Plain numbers such
    as ``-12.5`` or ``+3`` are left alone, so they stay numbers."""
    if not isinstance(cell, str) or not cell.startswith(FORMULA_STARTS) or PLAIN_NUMBER.fullmatch(cell):
        return cell
    return "'" + cell


def _stream_issues(hub: HubDep, submission_id: str, fmt: str) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    if fmt == "csv":
        writer.writerow(ISSUE_FIELDS)
    with hub.engine.connect().execution_options(stream_results=True, yield_per=5000) as conn:
        for row in conn.execute(_issues_query(submission_id)):
            if fmt == "csv":
                writer.writerow([spreadsheet_safe(cell) for cell in row])
            else:
                buffer.write(json.dumps(dict(row._mapping)) + "\n")
            if buffer.tell() > 64 * 1024:
                yield buffer.getvalue().encode()
                buffer.seek(0)
                buffer.truncate()
    yield buffer.getvalue().encode()
