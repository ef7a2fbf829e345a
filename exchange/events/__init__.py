"""Events: what happened in the hub, written to an outbox in the transaction that caused it, then delivered
(webhooks, e-mail) and served as a feed (``GET /events``)."""

from exchange.events.outbox import EVENT_TYPES, Event, emit, emit_many

__all__ = ["EVENT_TYPES", "Event", "emit", "emit_many"]
