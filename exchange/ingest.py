"""The push use case: detect -> parse -> map -> validate -> stage -> whole-message checks -> apply, all or nothing.

PostgreSQL runs it in one transaction; SQLite commits the staging (temporary tables only) and applies in a
second, BEGIN IMMEDIATE, transaction, so the database's single write lock is not held while a body is read.

A rejected or failed message leaves the observation tables exactly as they were; its report is still
kept (``submission`` and ``submission_issue``, written in their own short transaction).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, Table, insert, select, text
from sqlalchemy.exc import IntegrityError

from exchange.body import Body, open_decoded, peek
from exchange.catalog import Catalog, DsdSchema
from exchange.locks import ScopeBusy, ScopeLocks, WriteConflict, is_unique_violation
from exchange.mapping import Mappings
from exchange.media import detect
from exchange.parse import parser_for
from exchange.progress import Progress
from exchange.rows import DataSet, MessageError, Obs
from exchange.settings import Settings
from exchange.store.engine import begin_write
from exchange.store.registry import DataTables
from exchange.store.stage import Segment, Stage
from exchange.store.tables import submission, submission_issue
from exchange.store.write import Counts, WriteContext, apply_segment
from exchange.validate import NOT_FOUND_CODES, IssueLog, Validator, make_issue

PREVIEW_ISSUES = 100
#: pushes at least this large refresh the planner statistics of the tables they wrote (PostgreSQL)
ANALYZE_AFTER_OBSERVATIONS = 10_000


@dataclass(frozen=True)
class Principal:
    """Who pushes: a data provider (country) or an administrator."""

    token_id: int | None
    provider: str | None
    is_admin: bool

    @property
    def reporter(self) -> str:
        return self.provider or "ADMIN"


@dataclass
class Outcome:
    status: int
    body: dict[str, Any]
    replayed: bool = False


@dataclass(frozen=True)
class WrittenSegment:
    """One dataset of an accepted push: its DSD, the observation table it wrote and what it did there.

    Every row the push wrote (new versions and deletion tombstones) carries ``_submission`` = the submission id,
    so ``table.c._submission == submission_id`` selects exactly the keys it touched.
    """

    schema: DsdSchema
    table: Table
    action: str
    counts: Counts


@dataclass(frozen=True)
class PushRecord:
    """What listeners learn about a finished push: accepted (``written`` filled) or rejected."""

    submission_id: str
    principal: Principal
    received_at: datetime
    status: int
    body: dict[str, Any]
    written: tuple[WrittenSegment, ...] = ()

    @property
    def accepted(self) -> bool:
        return self.status == 200


class PushListener(Protocol):
    """Called inside the transaction that records a push, so whatever it writes commits with the push or not at all
    (accepted: the data write's own transaction, after the submission row; rejected: the report's transaction)."""

    def __call__(self, conn: Connection, push: PushRecord) -> None: ...


class _Rejected(Exception):
    """Raised inside the write transaction so that it rolls back."""


@dataclass
class _Run:
    submission_id: str
    received_at: datetime
    principal: Principal
    log: IssueLog = field(default_factory=IssueLog)
    segments: list[Segment] = field(default_factory=list)
    counts: dict[int, Counts] = field(default_factory=dict)
    observations: int = 0
    progress: Progress = field(default_factory=Progress.untracked)


class Ingestor:
    def __init__(self, engine: Engine, catalog: Catalog, tables: DataTables, settings: Settings,
                 mappings: Mappings | None = None, listeners: Sequence[PushListener] = ()) -> None:
        self.engine = engine
        self.catalog = catalog
        self.tables = tables
        self.settings = settings
        self.mappings = mappings or Mappings.empty()
        self.listeners = tuple(listeners)

    def submit(self, body: Body, content_type: str | None, principal: Principal,
               progress: Progress | None = None) -> Outcome:
        """Process one push. ``progress`` (an asynchronous push, exchange.pushes) gives the submission id and
        time, and is kept up to date with the phase and counters."""
        replay = self._replay(body, principal)
        if replay is not None:
            return replay
        if progress is None:
            run = _Run(str(uuid.uuid4()), datetime.now(UTC), principal)
        else:
            run = _Run(progress.submission_id, progress.received_at, principal, progress=progress)
        try:
            status = self._process(run, body, content_type)
        except MessageError as exc:
            run.log.add(exc.issue)
            status = exc.status
        except ScopeBusy as exc:
            return Outcome(409, {"status": "rejected", "code": 409, "message": str(exc), "scope": exc.scope})
        except WriteConflict as exc:
            return Outcome(409, {"status": "rejected", "code": 409, "message": str(exc)})
        try:
            outcome = self._outcome(run, status)
            if status != 200:
                self._record(run, body, content_type, outcome)
            return outcome
        finally:
            run.log.close()

    # --- the transaction ----------------------------------------------------------------

    def _process(self, run: _Run, body: Body, content_type: str | None) -> int:
        run.progress.phase = "validating"
        stream = open_decoded(body, self.settings.max_upload_bytes)
        fmt = detect(content_type, peek(stream))
        observations = self.mappings.remap(parser_for(fmt)(stream), run.principal.provider, self.catalog)
        with self.engine.connect() as conn:
            locks = ScopeLocks(conn)
            try:
                status = self._in_transaction(conn, locks, run, observations, body, content_type)
                conn.commit()
            except BaseException as exc:
                _abandon(conn, locks)
                if isinstance(exc, _Rejected):
                    return self._rejection_status(run)
                if isinstance(exc, IntegrityError) and is_unique_violation(exc):
                    raise WriteConflict from exc
                raise
        self._refresh_statistics(run)
        return status

    def _refresh_statistics(self, run: _Run) -> None:
        """ANALYZE the tables a large push wrote (PostgreSQL). Until autovacuum gets to a freshly loaded
        table the planner assumes it nearly empty: measured after a 1M-observation push, a full-dataflow
        query then sorted the table on disk (7 s) instead of reading the key index."""
        if self.engine.dialect.name != "postgresql" or run.observations < ANALYZE_AFTER_OBSERVATIONS:
            return
        with self.engine.connect() as conn:
            for name in sorted({self.tables.table(segment.schema).name for segment in run.segments}):
                conn.execute(text(f'ANALYZE "{name}"'))
            conn.commit()

    def check(self, conn: Connection, run: _Run, observations: Iterator[Obs]) -> Stage:
        """Validate every observation and stage the good ones; whole-message checks included. Writes no data."""
        stage = Stage(conn, self.settings.insert_batch_size)
        provider = None if run.principal.is_admin else run.principal.provider
        validator = Validator(self.catalog, run.log, provider, self.settings.max_value_length)
        run.progress.watch(validator, stage)
        for schema, dataset, series_row, row in validator.rows(observations):
            stage.add(schema, dataset, series_row, row)
        run.observations = validator.seen
        for issue in stage.checks(validator.sql_checks):
            run.log.add(issue)
        run.segments = stage.segments
        return stage

    def _in_transaction(self, conn: Connection, locks: ScopeLocks, run: _Run, observations: Iterator[Obs],
                        body: Body, content_type: str | None) -> int:
        """Read, validate and stage the message, then take the write locks of its tables and apply it.

        Only the apply step holds the write lock (exchange.locks): a large message being read never blocks
        another country's push.
        """
        stage = self.check(conn, run, self._locked(observations, locks, run))
        if run.log.errors:
            raise _Rejected
        run.progress.phase = "writing"
        locks.begin_writing(self.tables.table(segment.schema).name for segment in stage.segments)
        # versions are stamped once the write lock is held, so their times follow the order they were applied in
        ctx = WriteContext(conn, run.submission_id, run.principal.reporter, datetime.now(UTC))
        written = []
        for segment in stage.segments:
            table = self.tables.ensure(conn, segment.schema)
            counts, warnings = apply_segment(ctx, segment, table, stage.table(segment.schema))
            run.counts[segment.index] = counts
            run.progress.written += counts.inserted + counts.replaced + counts.deleted
            written.append(WrittenSegment(segment.schema, table, segment.action.value, counts))
            for issue in warnings:
                run.log.add(issue)
        ctx.close()
        stage.drop()
        if run.observations == 0:
            run.log.add(make_issue("EMPTY_MESSAGE", "The message holds no observation."))
        outcome = self._outcome(run, 200)
        self._write_submission(conn, run, body, content_type, outcome)
        self._tell(conn, run, outcome, tuple(written))
        return 200

    def _tell(self, conn: Connection, run: _Run, outcome: Outcome, written: tuple[WrittenSegment, ...] = ()) -> None:
        record = PushRecord(run.submission_id, run.principal, run.received_at, outcome.status, outcome.body, written)
        for listener in self.listeners:
            listener(conn, record)

    def _locked(self, observations: Iterator[Obs], locks: ScopeLocks, run: _Run) -> Iterator[Obs]:
        """Take the (dataflow, provider) lock as each new structure appears, before its rows are staged."""
        last: DataSet | None = None
        for obs in observations:
            if obs.dataset is not last:
                last = obs.dataset
                if last.structure is not None:
                    locks.acquire(f"{last.structure.agency}:{last.structure.id}/{run.principal.reporter}")
            yield obs

    def _rejection_status(self, run: _Run) -> int:
        codes = {code for code, n in run.log.counts.items() if n}
        return 404 if codes and codes <= NOT_FOUND_CODES | {"EMPTY_MESSAGE"} else 422

    # --- answers and records ------------------------------------------------------------

    def _outcome(self, run: _Run, status: int) -> Outcome:
        accepted = status == 200
        datasets = []
        for segment in run.segments:
            counts = run.counts.get(segment.index, Counts())
            datasets.append({
                "index": segment.index, "structure": segment.structure, "dsd": segment.schema.ref,
                "action": segment.action.value, "observations": segment.rows,
                "inserted": counts.inserted, "replaced": counts.replaced, "deleted": counts.deleted,
                "unchanged": counts.unchanged, "status": "Success" if accepted else "Failure",
            })
        preview = []
        for i, issue in enumerate(run.log):
            if i >= PREVIEW_ISSUES:
                break
            preview.append(issue)
        body = {
            "submission": run.submission_id, "status": "accepted" if accepted else "rejected", "code": status,
            "provider": run.principal.reporter, "received_at": run.received_at.isoformat(),
            "observations": run.observations,
            "message": _summary(accepted, run, datasets),
            "datasets": datasets,
            "issues": {"errors": run.log.errors, "warnings": run.log.warnings, "by_code": run.log.summary(),
                       "first": preview, "complete_report": f"/submissions/{run.submission_id}/issues"},
        }
        return Outcome(status, body)

    def _write_submission(self, conn: Connection, run: _Run, body: Body, content_type: str | None,
                          outcome: Outcome) -> None:
        flows = sorted({s.schema.ref if not s.structure else s.structure for s in run.segments})
        conn.execute(insert(submission).values(
            id=run.submission_id, received_at=run.received_at, provider=run.principal.reporter,
            token_id=run.principal.token_id, dataflows=" ".join(flows), media_type=(content_type or "")[:200],
            sha256=body.sha256, size_bytes=body.size, status=outcome.body["status"], http_status=outcome.status,
            observations=run.observations, issue_count=len(run.log), result=json.dumps(outcome.body),
        ))
        batch = []
        for seq, issue in enumerate(run.log):
            batch.append({
                "submission_id": run.submission_id, "seq": seq, "code": issue["code"], "severity": issue["severity"],
                "component": _fits(issue["component"], COMPONENT_CHARS), "value": issue["value"],
                "series_key": issue["series_key"], "period": _fits(issue["period"], PERIOD_CHARS),
                "location": issue["where"], "message": issue["message"], "fix": issue["fix"],
            })
            if len(batch) >= self.settings.insert_batch_size:
                conn.execute(insert(submission_issue), batch)
                batch.clear()
        if batch:
            conn.execute(insert(submission_issue), batch)

    def _record(self, run: _Run, body: Body, content_type: str | None, outcome: Outcome) -> None:
        with begin_write(self.engine) as conn:
            self._write_submission(conn, run, body, content_type, outcome)
            self._tell(conn, run, outcome)

    def _replay(self, body: Body, principal: Principal) -> Outcome | None:
        """Re-pushing the same bytes answers as the first time and writes nothing, if nothing changed since."""
        with self.engine.connect() as conn:
            last = conn.execute(
                select(submission.c.sha256, submission.c.provider, submission.c.result, submission.c.http_status)
                .where(submission.c.status == "accepted").order_by(submission.c.received_at.desc()).limit(1)
            ).first()
        if last is None or last.sha256 != body.sha256 or last.provider != principal.reporter:
            return None
        return Outcome(last.http_status, json.loads(last.result), replayed=True)


#: widths of submission_issue's bounded columns (exchange/store/tables.py); PostgreSQL refuses longer values
COMPONENT_CHARS, PERIOD_CHARS = 100, 40


def _fits(value: str | None, width: int) -> str | None:
    """A message may name a component or period of any length (it is refused for it); its report keeps the
    start, marked as cut, so the refusal is recorded instead of failing with a database error."""
    if value is None or len(value) <= width:
        return value
    return value[: width - 1] + "…"


def _abandon(conn: Connection, locks: ScopeLocks) -> None:
    """Roll a failed push back. Once SQLite's staging was committed (the write phase began), close the connection
    instead, so that its temporary tables and their rows go with it rather than wait in the pool."""
    if locks.writing and conn.dialect.name == "sqlite":
        conn.invalidate()
    else:
        conn.rollback()


def _summary(accepted: bool, run: _Run, datasets: list[dict[str, Any]]) -> str:
    if accepted:
        stored = sum(d["inserted"] + d["replaced"] for d in datasets)
        deleted = sum(d["deleted"] for d in datasets)
        return f"accepted: {stored} observations stored, {deleted} deleted, {run.log.warnings} warnings"
    return f"rejected: {run.log.errors} errors, {run.log.warnings} warnings; nothing was stored"



def validate_only(catalog: Catalog, settings: Settings, stream_factory: Any, content_type: str | None,
                  provider: str | None, mappings: Mappings | None = None) -> tuple[int, dict[str, Any], IssueLog]:
    """Run exactly the server's parse, mapping and validation rules with no hub database.

    Rows are staged in a throwaway SQLite file (for the whole-message checks); nothing is stored. Returns
    (the HTTP status the hub would answer, the answer body, the issue log) - the log must be closed by the caller.
    """
    import tempfile
    from pathlib import Path

    from exchange.store.engine import make_engine

    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(Settings(database_url=f"sqlite:///{Path(tmp) / 'stage.db'}"))
        ingestor = Ingestor(engine, catalog, DataTables(), settings, mappings)
        principal = Principal(None, provider, provider is None)
        run = _Run("(not submitted)", datetime.now(UTC), principal)
        status = 200
        try:
            stream = stream_factory()
            fmt = detect(content_type, peek(stream))
            with begin_write(engine) as conn:
                ingestor.check(conn, run, ingestor.mappings.remap(parser_for(fmt)(stream), provider, catalog))
                conn.rollback()
            if run.log.errors:
                status = ingestor._rejection_status(run)
        except MessageError as exc:
            run.log.add(exc.issue)
            status = exc.status
        finally:
            engine.dispose()
        outcome = ingestor._outcome(run, status)
        if status == 200:
            outcome.body["status"] = "valid"
            outcome.body["message"] = f"valid: {run.observations} observations would be accepted"
        else:
            outcome.body["message"] = outcome.body["message"].replace("nothing was stored", "the hub would reject it")
        return status, outcome.body, run.log
