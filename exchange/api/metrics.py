"""Prometheus metrics at ``GET /metrics`` (issue #15), in the text exposition format.

With several worker processes (``exchange serve --workers N``) every process writes its samples to files in
``PROMETHEUS_MULTIPROC_DIR`` (set by ``exchange serve`` when it is not) and ``/metrics`` sums them, so any
worker answers for all. Names follow the Prometheus naming practice: ``exchange_`` prefix, base units
(seconds), ``_total`` for counters.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import Connection, Engine, event

from exchange.api.contract import hub_errors
from exchange.hub import Hub
from exchange.ingest import PushRecord

router = APIRouter(tags=["service"])

REQUESTS = Counter("exchange_http_requests_total", "HTTP requests answered, by method, route template and status.",
                   ["method", "route", "status"])
LATENCY = Histogram("exchange_http_request_duration_seconds", "Time to answer an HTTP request (until the last byte).",
                    ["method", "route"], buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300))
PUSHES = Counter("exchange_pushes_total", "Data pushes recorded: accepted (rule empty), or rejected, once per "
                 "error rule code the report holds (HTTP_<status> when it holds none).", ["outcome", "rule"])
OBSERVATIONS = Counter("exchange_observations_written_total", "Observation versions written by accepted pushes "
                       "(inserted, replaced and deletion tombstones), by DSD.", ["dsd"])
POOL_IN_USE = Gauge("exchange_db_connections_in_use", "Database connections checked out of the pool now.",
                    multiprocess_mode="livesum")

#: Functions giving the event delivery backlog (undelivered events) from a connection: exchange.events fills it
#: (issue #10); ``exchange_event_delivery_backlog`` is exported once one is registered.
EVENT_BACKLOG: list[Callable[[Connection], int]] = []


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    REQUESTS.labels(method, route, str(status)).inc()
    LATENCY.labels(method, route).observe(seconds)


def observe_push(conn: Connection, push: PushRecord) -> None:
    """A push listener (exchange.ingest.PushListener): counts the push and what it wrote."""
    if push.accepted:
        PUSHES.labels("accepted", "").inc()
        for segment in push.written:
            counts = segment.counts
            OBSERVATIONS.labels(segment.schema.ref).inc(counts.inserted + counts.replaced + counts.deleted)
        return
    rules = {c["code"] for c in push.body.get("issues", {}).get("by_code", []) if c.get("severity") == "error"}
    for rule in sorted(rules) or [f"HTTP_{push.status}"]:
        PUSHES.labels("rejected", rule).inc()


def watch_pool(engine: Engine) -> None:
    """Keep ``exchange_db_connections_in_use`` up to date from the engine's pool events."""
    if event.contains(engine, "checkout", _checked_out):
        return
    event.listen(engine, "checkout", _checked_out)
    event.listen(engine, "checkin", _checked_in)


def _checked_out(*_args: Any) -> None:
    POOL_IN_USE.inc()


def _checked_in(*_args: Any) -> None:
    POOL_IN_USE.dec()


class BacklogCollector(Collector):
    """The event delivery backlog, read from the database at scrape time (the same for every process)."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    def collect(self) -> Iterator[GaugeMetricFamily]:
        if not EVENT_BACKLOG:
            return
        with self.hub.engine.connect() as conn:
            backlog = sum(count(conn) for count in EVENT_BACKLOG)
        yield GaugeMetricFamily("exchange_event_delivery_backlog", "Events not yet delivered to subscribers.", backlog)


def exposition(hub: Hub) -> bytes:
    """This process's metrics, or every worker's when PROMETHEUS_MULTIPROC_DIR is set."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        registry = CollectorRegistry()
        registry.register(_Default())
    registry.register(BacklogCollector(hub))
    return generate_latest(registry)


class _Default(Collector):
    """The process-wide default registry (this module's metrics, process and platform collectors)."""

    def collect(self) -> Iterator[Any]:
        yield from REGISTRY.collect()


@router.get("/metrics", summary="Metrics in the Prometheus text format",
            responses={200: {"description": "The Prometheus text exposition format.",
                             "content": {CONTENT_TYPE_LATEST.split(";")[0]: {}}}, **hub_errors()})
def metrics(request: Request) -> Response:
    return Response(exposition(request.app.state.hub), media_type=CONTENT_TYPE_LATEST)
