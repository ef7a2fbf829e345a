"""The dispatcher: a thread in each hub process that delivers due deliveries (webhooks, e-mail), at least once.

Claiming: one short write transaction moves the due rows' ``next_attempt_at`` forward by a lease and returns
them; on PostgreSQL the rows are picked with ``SELECT ... FOR UPDATE SKIP LOCKED``, so two hub processes never
claim the same row, and a claimed row is not due again until its lease ends. A process killed after claiming
leaves the row to be retried when the lease ends (at least once); one killed before leaves it due. Each
attempt's outcome is written in its own transaction. Failed attempts are retried after the delays of
``webhook_retry_schedule``; a subscription failing ``webhook_disable_after`` times in a row, for longer than the
whole schedule, is disabled with a ``subscription.disabled`` event.
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, func, select, update

from exchange.events import links, mail
from exchange.events.outbox import emit
from exchange.events.webhook import Attempt, body, post
from exchange.settings import Settings
from exchange.store.engine import begin_write
from exchange.store.tables import delivery, event, provider_contact, subscription

log = logging.getLogger("exchange.events")
BATCH = 20


class Dispatcher:
    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def lease(self) -> timedelta:
        """How long a claimed batch stays out of other processes' reach: every attempt timing out, and a margin."""
        return timedelta(seconds=BATCH * self.settings.webhook_timeout_s + 60)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="exchange-dispatcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.settings.webhook_timeout_s + 5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self.run_once()
            except Exception:  # the database may be away for a while: keep trying, never die
                log.exception("event dispatcher: a round failed; retrying")
                busy = 0
            if not busy:
                self._stop.wait(self.settings.dispatch_interval_s)

    def run_once(self) -> int:
        """Claim and attempt one batch of due deliveries; returns how many were attempted."""
        claimed = self.claim()
        for delivery_id in claimed:
            if self._stop.is_set():
                break  # the lease brings the rest back
            self.attempt(delivery_id)
        return len(claimed)

    def claim(self) -> list[int]:
        now = datetime.now(UTC)
        due = (select(delivery.c.id).where(delivery.c.state == "pending", delivery.c.next_attempt_at <= now)
               .order_by(delivery.c.next_attempt_at, delivery.c.id).limit(BATCH))
        with self.engine.connect() as conn:  # a read first: an idle hub never takes SQLite's write lock
            if conn.execute(due).first() is None:
                return []
        with begin_write(self.engine) as conn:
            rows = conn.execute(update(delivery).where(delivery.c.id.in_(due.with_for_update(skip_locked=True)))
                                .values(next_attempt_at=now + self.lease).returning(delivery.c.id))
            return sorted(r.id for r in rows)

    def attempt(self, delivery_id: int) -> None:
        with self.engine.connect() as conn:
            row = conn.execute(select(delivery, event.c.uid, event.c.type, event.c.occurred_at, event.c.payload,
                                      event.c.providers, event.c.dataflow, event.c.subject)
                               .join(event, event.c.id == delivery.c.event_id).where(delivery.c.id == delivery_id)).one()
            target, why = self._target(conn, row)
        if why:
            return self._skip(delivery_id, why)
        try:
            outcome = self._send(row, target)
        except Exception as exc:  # a bug composing one delivery must not hold back the others of its batch
            log.exception("event dispatcher: delivery %s of event %s failed inside the hub", delivery_id, row.uid)
            outcome = Attempt(False, None, f"the hub could not compose this delivery ({type(exc).__name__}); "
                                           "it is retried on the schedule")
        self._record(row, outcome)

    def _target(self, conn: Connection, row: Any) -> tuple[Any, str | None]:
        """(the subscription row or contact address to deliver to, None) or (None, why the delivery is skipped)."""
        if row.channel == "webhook":
            sub = conn.execute(select(subscription).where(subscription.c.id == row.subscription_id)).one()
            return (sub, None) if sub.active else (None, "the subscription is disabled or removed")
        if not self.settings.smtp_host:
            return None, "no SMTP server configured (EXCHANGE_SMTP_HOST)"
        address = conn.execute(select(provider_contact.c.email)
                               .where(provider_contact.c.provider == row.provider)).scalar_one_or_none()
        return (address, None) if address else (None, f"{row.provider} has no contact address any more")

    def _send(self, row: Any, target: Any) -> Attempt:
        payload = json.loads(row.payload)
        if row.channel == "email":
            subject, text = mail.compose(row.type, row.uid, row.provider, payload, links.base(self.settings))
            return mail.send(self.settings, target, subject, text)
        data = {**payload, "providers": row.providers.split(), "dataflow": row.dataflow, "subject": row.subject}
        occurred = row.occurred_at.replace(tzinfo=row.occurred_at.tzinfo or UTC).isoformat()
        return post(target.url, target.secret, row.uid, body(row.uid, row.type, occurred, data),
                    timeout=self.settings.webhook_timeout_s, allow_private=self.settings.webhook_allow_private)

    def _skip(self, delivery_id: int, why: str) -> None:
        with begin_write(self.engine) as conn:
            conn.execute(update(delivery).where(delivery.c.id == delivery_id).values(state="skipped", last_error=why))

    def _record(self, row: Any, outcome: Attempt) -> None:
        now = datetime.now(UTC)
        attempts = row.attempts + 1
        values: dict[str, Any] = {"attempts": attempts, "last_attempt_at": now, "last_status": outcome.status,
                                  "last_error": outcome.error}
        schedule = self.settings.webhook_retry_schedule
        if outcome.ok:
            values.update(state="delivered", delivered_at=now)
        elif attempts <= len(schedule):
            values.update(next_attempt_at=now + timedelta(seconds=schedule[attempts - 1]))
        else:
            values.update(state="failed")
        with begin_write(self.engine) as conn:
            conn.execute(update(delivery).where(delivery.c.id == row.id).values(**values))
            if row.channel == "webhook":
                self._follow_subscription(conn, row.subscription_id, outcome.ok, now)

    def _follow_subscription(self, conn: Connection, sub_id: str, ok: bool, now: datetime) -> None:
        """Count consecutive failures; disable the subscription after a run of them spanning the retry schedule."""
        if ok:
            conn.execute(update(subscription).where(subscription.c.id == sub_id).values(failures=0, failing_since=None))
            return
        sub = conn.execute(update(subscription).where(subscription.c.id == sub_id).values(
            failures=subscription.c.failures + 1, failing_since=func.coalesce(subscription.c.failing_since, now))
            .returning(subscription)).one()
        since = sub.failing_since
        span = (now - since.replace(tzinfo=since.tzinfo or UTC)).total_seconds()
        if sub.active and sub.failures >= self.settings.webhook_disable_after and span >= sum(
                self.settings.webhook_retry_schedule):
            disable(conn, sub, f"{sub.failures} consecutive failed deliveries over {span:.0f} s", now)


def disable(conn: Connection, sub: Any, reason: str, now: datetime) -> None:
    """Disable a subscription, skip its pending deliveries and say so with a ``subscription.disabled`` event."""
    conn.execute(update(subscription).where(subscription.c.id == sub.id).values(
        active=False, disabled_at=now, disabled_reason=reason))
    conn.execute(update(delivery).where(delivery.c.subscription_id == sub.id, delivery.c.state == "pending")
                 .values(state="skipped", last_error="subscription disabled"))
    emit(conn, "subscription.disabled", [sub.owner], {"subscription": sub.id, "url": sub.url, "reason": reason},
         subject=sub.id)
