"""Pushing data (POST /data, after the SDMX REST maintenance draft) and reading submission reports."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse
from sqlalchemy import func, select

from exchange.api.contract import hub_errors
from exchange.api.deps import HubDep, PrincipalDep
from exchange.body import spool_async
from exchange.rows import MessageError
from exchange.store.tables import submission, submission_issue

router = APIRouter(tags=["data submission"])

ISSUE_FIELDS = ["seq", "code", "severity", "component", "value", "series_key", "period", "location", "message", "fix"]


@router.post("/data", summary="Push an SDMX data message (one transaction)",
             responses=hub_errors(401, 403, 404, 409, 413, 415, 422))
@router.post("/data/", include_in_schema=False)
async def push_data(request: Request, hub: HubDep, principal: PrincipalDep,
                    content_type: Annotated[str | None, Header()] = None) -> JSONResponse:
    """Validate and store an SDMX-ML 2.1 or SDMX-CSV 1.0/2.x data message (gzip accepted).

    200: accepted, with counts per dataset; 400 malformed; 401/403 auth; 404 unknown dataflow; 409 another push
    for the same dataflow and provider is running; 413 too large; 415 unsupported media type; 422 invalid, with
    the validation report (complete list at /submissions/{id}/issues). A rejected message stores nothing.
    """
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > hub.settings.max_upload_bytes:
        raise MessageError("TOO_LARGE", f"The message ({declared} bytes) is larger than the hub accepts "
                           f"({hub.settings.max_upload_bytes} bytes).", "Split the message into several pushes.", 413)
    body = await spool_async(request.stream(), hub.settings.max_upload_bytes)
    try:
        outcome = await run_in_threadpool(hub.ingestor.submit, body, content_type, principal)
    finally:
        body.close()
    headers = {"X-Exchange-Replay": "true"} if outcome.replayed else {}
    return JSONResponse(outcome.body, status_code=outcome.status, headers=headers)


@router.get("/submissions/{submission_id}", summary="A submission's result and the first page of its issues",
            responses=hub_errors(401, 403, 404, 422))
def get_submission(submission_id: str, hub: HubDep, offset: Annotated[int, Query(ge=0)] = 0,
                   limit: Annotated[int | None, Query(ge=1, le=100_000)] = None) -> dict[str, Any]:
    limit = limit or hub.settings.issues_page_size
    with hub.engine.connect() as conn:
        row = conn.execute(select(submission).where(submission.c.id == submission_id)).first()
        if row is None:
            raise MessageError("UNKNOWN_SUBMISSION", f"No submission {submission_id}.",
                               "Use the id returned by POST /data.", status=404)
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
            responses=hub_errors(401, 403, 404, 422))
def download_issues(submission_id: str, hub: HubDep,
                    format: Annotated[str, Query(pattern="^(csv|jsonl)$")] = "csv") -> StreamingResponse:
    with hub.engine.connect() as conn:
        if conn.execute(select(submission.c.id).where(submission.c.id == submission_id)).first() is None:
            raise MessageError("UNKNOWN_SUBMISSION", f"No submission {submission_id}.",
                               "Use the id returned by POST /data.", status=404)
    media = "text/csv; charset=utf-8" if format == "csv" else "application/x-ndjson"
    return StreamingResponse(_stream_issues(hub, submission_id, format), media_type=media, headers={
        "Content-Disposition": f'attachment; filename="issues-{submission_id}.{format}"'})


def _issues_query(submission_id: str) -> Any:
    cols = [submission_issue.c[f] for f in ISSUE_FIELDS]
    return select(*cols).where(submission_issue.c.submission_id == submission_id).order_by(submission_issue.c.seq)


def _stream_issues(hub: HubDep, submission_id: str, fmt: str) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    if fmt == "csv":
        writer.writerow(ISSUE_FIELDS)
    with hub.engine.connect().execution_options(stream_results=True, yield_per=5000) as conn:
        for row in conn.execute(_issues_query(submission_id)):
            if fmt == "csv":
                writer.writerow(list(row))
            else:
                buffer.write(json.dumps(dict(row._mapping)) + "\n")
            if buffer.tell() > 64 * 1024:
                yield buffer.getvalue().encode()
                buffer.seek(0)
                buffer.truncate()
    yield buffer.getvalue().encode()
