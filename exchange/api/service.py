"""Service routes for operators (issue #15): ``/ready`` says whether this process can serve requests now.

``/health`` (exchange.app) answers while the process is alive, without touching the database: a liveness
probe. ``/ready`` is the readiness probe a load balancer routes on: 200 only when the database answers, its
schema is at this code's latest Alembic revision and the structures are loaded; else 503 with the reasons.
"""

from __future__ import annotations

import functools

from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from exchange.api.contract import hub_errors
from exchange.api.unavailable import RETRY_AFTER_S
from exchange.hub import Hub
from exchange.settings import resource_dir

router = APIRouter(tags=["service"])


@functools.lru_cache(maxsize=4)
def _expected_heads(script_location: str) -> frozenset[str]:
    """The latest revisions of the migrations this code ships (read once per process)."""
    config = Config()
    config.set_main_option("script_location", script_location)
    return frozenset(ScriptDirectory.from_config(config).get_heads())


def readiness(hub: Hub) -> list[str]:
    """Why this process cannot serve now (empty when it can)."""
    expected = _expected_heads(str(resource_dir("alembic")))
    try:
        with hub.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            current = set(MigrationContext.configure(conn).get_current_heads())
        hub.refresh()
    except DBAPIError as exc:
        return [f"the database cannot be used: {type(exc.orig).__name__}"]
    reasons = []
    if current != expected:
        reasons.append(f"the database schema is at {sorted(current) or 'no revision'}, not at the latest migration "
                       f"{sorted(expected)}: run `exchange db upgrade`")
    if not hub.catalog.dataflows:
        reasons.append("no dataflows are loaded: check EXCHANGE_STRUCTURES_DIR")
    return reasons


@router.get("/ready", summary="Readiness: database reachable, schema at the latest migration, structures loaded",
            responses={200: {"description": "Ready to serve."}, **hub_errors()})
async def ready(request: Request) -> JSONResponse:
    hub: Hub = request.app.state.hub
    reasons = await run_in_threadpool(readiness, hub)
    if reasons:
        return JSONResponse({"status": "unavailable", "code": 503, "message": "; ".join(reasons), "reasons": reasons},
                            status_code=503, headers={"Retry-After": str(RETRY_AFTER_S)})
    return JSONResponse({"status": "ready", "dataflows": len(hub.catalog.dataflows),
                         "structures_generation": list(hub.generation)})
