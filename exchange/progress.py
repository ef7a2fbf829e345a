"""How far a push has got: its phase and the observations read, validated and written so far (issue #15).

The ingest thread only sets ``phase`` and adds to ``written`` once per dataset written; the observations read and
validated are the validator's and the stage's own counters, and the bytes read the body file's position, sampled
by whoever asks (the flusher thread, a GET). So counting costs the ingest nothing per observation.

A running push's row in ``submission_progress`` names the hub process running it (``owner``: host, pid and a
per-process instance id) and is refreshed every ``EXCHANGE_PROGRESS_INTERVAL_S`` (``heartbeat_at``). A row whose
process is gone (same host: the pid is dead or reused; another host: no heartbeat for ``STALE_AFTER_S``) is a push
that was interrupted: its transaction never committed, so nothing of it was stored.
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

RUNNING = ("received", "validating", "writing")
FINISHED = ("done", "failed", "interrupted")
#: a running push of another host whose heartbeat is older than this is taken as interrupted
STALE_AFTER_S = 120.0
INSTANCE = uuid.uuid4().hex[:12]


def _zero() -> int:
    return 0


@dataclass
class Progress:
    """One push's phase and counters; ``untracked()`` for synchronous pushes (nobody samples them)."""

    submission_id: str
    received_at: datetime
    provider: str = ""
    bytes_total: int = 0
    phase: str = "received"
    written: int = 0
    http_status: int | None = None
    result: dict[str, Any] | None = None
    read: Callable[[], int] = field(default=_zero, repr=False)
    validated: Callable[[], int] = field(default=_zero, repr=False)
    bytes_read: Callable[[], int] = field(default=_zero, repr=False)

    @classmethod
    def untracked(cls) -> Progress:
        return cls("", datetime.now(UTC))

    def watch(self, validator: Any, stage: Any) -> None:
        """Sample the validator's observations seen and the stage's rows staged (exchange.validate, .store.stage)."""
        self.read = lambda: int(validator.seen)
        self.validated = lambda: int(stage.rows_staged)

    def watch_body(self, file: Any) -> None:
        """Sample the position in the spooled request body (bytes as received, before any gunzip)."""
        def position() -> int:
            try:
                return int(file.tell())
            except (ValueError, OSError):  # closed: read to the end
                return self.bytes_total
        self.bytes_read = position

    def finish(self, phase: str, status: int, result: dict[str, Any]) -> None:
        """The final state; the counters are frozen at their last values."""
        values = self.counters()
        self.read, self.validated = (lambda: values["observations_read"]), (lambda: values["observations_validated"])
        self.bytes_read = lambda: values["bytes_read"]
        self.phase, self.http_status, self.result = phase, status, result

    def counters(self) -> dict[str, int]:
        return {"observations_read": self.read(), "observations_validated": self.validated(),
                "observations_written": self.written, "bytes_read": self.bytes_read(), "bytes_total": self.bytes_total}

    def row(self) -> dict[str, Any]:
        """The ``submission_progress`` columns this progress sets (not the owner and heartbeat)."""
        result = None if self.result is None else json.dumps(self.result)
        return {"phase": self.phase, **self.counters(), "http_status": self.http_status, "result": result}


def process_owner() -> str:
    """``host|pid|instance`` of this hub process."""
    return f"{socket.gethostname()}|{os.getpid()}|{INSTANCE}"


def owner_gone(owner: str, heartbeat_at: datetime, now: datetime) -> bool:
    """True when the process named by ``owner`` is no longer running the push (see the module docstring)."""
    host, _, rest = owner.partition("|")
    pid_text, _, instance = rest.partition("|")
    if host != socket.gethostname():
        beat = heartbeat_at if heartbeat_at.tzinfo else heartbeat_at.replace(tzinfo=UTC)
        return now - beat > timedelta(seconds=STALE_AFTER_S)
    pid = int(pid_text) if pid_text.isdigit() else -1
    if pid == os.getpid():
        return instance != INSTANCE
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError, ValueError):
        return pid <= 0
    return False


def interrupted_answer(submission_id: str) -> dict[str, Any]:
    return {"submission": submission_id, "status": "failed", "phase": "interrupted", "code": 503,
            "message": "The hub stopped while it was processing this push, so nothing of it was stored. "
                       "Push the same message again."}


def running_answer(submission_id: str, provider: str, received_at: datetime, phase: str,
                   counters: dict[str, int]) -> dict[str, Any]:
    """What GET /submissions/{id} shows while the push runs (202 until the final answer replaces it)."""
    received = received_at if received_at.tzinfo else received_at.replace(tzinfo=UTC)
    message = (f"{phase}: {counters['observations_read']} observations read, {counters['observations_validated']} "
               f"validated, {counters['observations_written']} written")
    return {"submission": submission_id, "status": "running", "code": 202, "phase": phase, "provider": provider,
            "received_at": received.isoformat(), "message": message, "progress": counters,
            "report": f"/submissions/{submission_id}"}
