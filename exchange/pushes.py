"""Pushes sent with ``Prefer: respond-async`` (RFC 7240 section 4.1; issue #15): run on worker threads.

``start`` records the push (phase ``received``) and hands it to a worker; the client polls GET /submissions/{id}.
A flusher thread writes the live pushes' counters every ``EXCHANGE_PROGRESS_INTERVAL_S`` (the heartbeat); on
SQLite it gives up at once when another writer holds the database, and tries again at the next tick.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import DBAPIError

from exchange.body import Body
from exchange.ingest import Ingestor, Outcome, Principal
from exchange.progress import RUNNING, Progress, interrupted_answer, owner_gone, process_owner, running_answer
from exchange.settings import Settings
from exchange.store.engine import begin_write, make_engine
from exchange.store.tables import submission_progress

log = logging.getLogger(__name__)


@dataclass
class _Job:
    progress: Progress
    body: Body
    content_type: str | None
    principal: Principal


class AsyncPushes:
    """The worker threads and the flusher of one hub process."""

    def __init__(self, engine: Engine, settings: Settings, ingestor: Callable[[], Ingestor]) -> None:
        self.engine = engine
        self.owner = process_owner()
        self.interval = settings.progress_interval_s
        self._ingestor = ingestor
        self._quick = engine
        if engine.dialect.name == "sqlite":  # the heartbeat never waits for another writer
            self._quick = make_engine(settings.model_copy(update={"sqlite_busy_timeout_s": 0.05}))
        self._executor = ThreadPoolExecutor(settings.async_push_workers, thread_name_prefix="exchange-push")
        self.live: dict[str, _Job] = {}
        self._stop = threading.Event()
        self._flusher = threading.Thread(target=self._flush_loop, name="exchange-progress", daemon=True)
        self._flusher.start()

    def start(self, body: Body, content_type: str | None, principal: Principal) -> Progress:
        """Record the push as received and queue it; the caller answers 202 with its id."""
        progress = Progress(str(uuid.uuid4()), datetime.now(UTC), principal.reporter, body.size)
        with begin_write(self.engine) as conn:
            conn.execute(insert(submission_progress).values(
                id=progress.submission_id, provider=progress.provider, received_at=progress.received_at,
                owner=self.owner, heartbeat_at=datetime.now(UTC), **progress.row()))
        job = _Job(progress, body, content_type, principal)
        self.live[progress.submission_id] = job
        self._executor.submit(self._run, job)
        return progress

    def _run(self, job: _Job) -> None:
        progress = job.progress
        try:
            progress.watch_body(job.body.file)
            outcome = self._ingestor().submit(job.body, job.content_type, job.principal, progress=progress)
            progress.finish("done", outcome.status, _final(outcome))
        except DBAPIError as exc:
            log.warning("async push %s failed: database error %s", progress.submission_id, type(exc.orig).__name__)
            progress.finish("failed", 503, _failure(progress, 503, "The database could not be used"))
        except Exception:
            log.exception("async push %s failed", progress.submission_id)
            progress.finish("failed", 500, _failure(progress, 500, "The hub failed"))
        finally:
            job.body.close()
            self._save(progress, self.engine)
            self.live.pop(progress.submission_id, None)

    def _save(self, progress: Progress, engine: Engine) -> bool:
        try:
            with begin_write(engine) as conn:
                conn.execute(update(submission_progress).where(submission_progress.c.id == progress.submission_id)
                             .values(heartbeat_at=datetime.now(UTC), **progress.row()))
            return True
        except DBAPIError:
            return False

    def _flush_loop(self) -> None:
        while not self._stop.wait(self.interval):
            for job in list(self.live.values()):
                if job.progress.phase in RUNNING:
                    self._save(job.progress, self._quick)

    def report(self, conn: Connection, submission_id: str, principal: Principal) -> dict[str, Any] | None:
        """The progress answer of a push without a submission row yet, or None (unknown, or not the caller's)."""
        job = self.live.get(submission_id)
        if job is not None and job.progress.phase in RUNNING:
            if principal.is_admin or job.progress.provider == principal.provider:
                p = job.progress
                return running_answer(p.submission_id, p.provider, p.received_at, p.phase, p.counters())
            return None
        return stored_report(conn, submission_id, principal)

    def close(self) -> None:
        """Stop taking pushes: queued ones are dropped (and shown interrupted), running ones finish."""
        self._stop.set()
        self._executor.shutdown(wait=True, cancel_futures=True)
        for job in list(self.live.values()):
            job.body.close()
            job.progress.finish("interrupted", 503, interrupted_answer(job.progress.submission_id))
            self._save(job.progress, self.engine)
        if self._quick is not self.engine:
            self._quick.dispose()


def stored_report(conn: Connection, submission_id: str, principal: Principal) -> dict[str, Any] | None:
    """From the ``submission_progress`` row (another process's push, or a finished one)."""
    where = [submission_progress.c.id == submission_id]
    if not principal.is_admin:
        where.append(submission_progress.c.provider == principal.provider)
    row = conn.execute(select(submission_progress).where(*where)).first()
    if row is None:
        return None
    if row.phase in RUNNING:
        if owner_gone(row.owner, row.heartbeat_at, datetime.now(UTC)):
            return interrupted_answer(row.id)
        counters = {k: getattr(row, k) for k in ("observations_read", "observations_validated",
                                                 "observations_written", "bytes_read", "bytes_total")}
        return running_answer(row.id, row.provider, row.received_at, row.phase, counters)
    answer: dict[str, Any] = json.loads(row.result) if row.result else interrupted_answer(row.id)
    return answer


def sweep_interrupted(engine: Engine) -> int:
    """At start-up: mark the running pushes whose process is gone as interrupted. Returns how many."""
    now = datetime.now(UTC)
    with engine.connect() as conn:
        rows = conn.execute(select(submission_progress.c.id, submission_progress.c.owner,
                                   submission_progress.c.heartbeat_at)
                            .where(submission_progress.c.phase.in_(RUNNING))).all()
    gone = [row.id for row in rows if owner_gone(row.owner, row.heartbeat_at, now)]
    if gone:
        with begin_write(engine) as conn:
            for submission_id in gone:
                conn.execute(update(submission_progress).where(submission_progress.c.id == submission_id).values(
                    phase="interrupted", http_status=503, result=json.dumps(interrupted_answer(submission_id))))
    return len(gone)


def _final(outcome: Outcome) -> dict[str, Any]:
    body = dict(outcome.body)
    body.setdefault("code", outcome.status)
    body["phase"] = "done"
    if outcome.replayed:
        body["replayed"] = True
    return body


def _failure(progress: Progress, status: int, what: str) -> dict[str, Any]:
    return {"submission": progress.submission_id, "status": "failed", "phase": "failed", "code": status,
            "message": f"{what} while processing this push, so nothing of it was stored. Push the same message "
                       "again; if it fails again, tell the hub's administrator."}
