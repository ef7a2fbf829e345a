"""Registering shared structures (administrators): POST /structure, after the SDMX REST 2.x maintenance API."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy import insert

from exchange.api.contract import hub_errors
from exchange.api.deps import AdminDep, HubDep
from exchange.body import open_decoded, spool_async
from exchange.catalog import Catalog, CatalogError, load_catalog
from exchange.events.producers import structure_registered
from exchange.hub import Hub
from exchange.ingest import Principal
from exchange.parse.xmlsafe import check_prolog, refuse_dtd
from exchange.store.registry import ensure_all, stored_structures
from exchange.store.tables import structure_document

router = APIRouter(tags=["structure maintenance"])


@router.post("/structure", summary="Add or replace shared structures (SDMX-ML 2.1 structure message)",
             responses={201: {"description": "The structures are registered."}, **hub_errors(401, 403, 409, 413)})
@router.post("/structure/", include_in_schema=False)
async def push_structure(request: Request, hub: HubDep, admin: AdminDep) -> JSONResponse:
    """201 with the artefacts registered; 400 unreadable; 409 when a reference cannot be resolved.

    New DSDs get their observation table at once; data for them can be pushed without a restart.
    """
    body = await spool_async(request.stream(), hub.settings.max_upload_bytes)
    try:
        stream = open_decoded(body, hub.settings.max_upload_bytes)
        check_prolog(stream)
        data = stream.read()
    finally:
        body.close()
    await run_in_threadpool(refuse_dtd, data)  # the whole prolog: a DOCTYPE may hide after 64 KB of comments
    status, answer = await run_in_threadpool(_register, hub, data, admin)
    return JSONResponse(answer, status_code=status)


def _register(hub: Hub, data: bytes, admin: Principal) -> tuple[int, dict[str, Any]]:
    label = f"pushed {datetime.now(UTC).isoformat()} by token {admin.token_id}"
    with hub.structure_lock:
        stored = stored_structures(hub.engine)
        try:
            catalog = load_catalog(Path(hub.settings.structures_dir), [*stored, (data, label)])
        except CatalogError as exc:
            status = 409 if "dangling" in str(exc) else 400
            return status, {"status": "Failure", "code": status, "message": str(exc)}
        added = Catalog().add_message(data, label)  # the URNs this message brings (for the answer)
        with hub.engine.execution_options(write=True).begin() as conn:
            conn.execute(insert(structure_document).values(
                label=label, content=data, sha256=hashlib.sha256(data).hexdigest(), submitted_by=admin.token_id,
                submitted_at=datetime.now(UTC)))
            structure_registered(conn, hub.settings, added, label)
        ensure_all(hub.engine, catalog, hub.tables)
        hub.catalog = catalog
    return 201, {"status": "Success", "code": 201, "artefacts": [{"urn": u, "action": "Replace"} for u in added]}
