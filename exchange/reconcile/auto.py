"""Automatic cases (issue #10, "Cases", 1.): each accepted push re-examines exactly the pairs it touched and opens,
joins, revises, resolves (naming the submission) or reopens cases, inside the push's own transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Table, select

from exchange.catalog import DsdSchema
from exchange.events.outbox import emit_many
from exchange.ingest import PushRecord
from exchange.reconcile import store
from exchange.reconcile.examine import (
    Examined,
    PairKey,
    PeriodView,
    country_groups,
    examine,
    is_flow_table,
    touched_keys,
)
from exchange.reconcile.policy import Policy, current
from exchange.stats.mirror import BASES, BREAKDOWN
from exchange.store.read import visible

_BREAKDOWN = tuple(b.lower() for b in BREAKDOWN)
RESOLVED = ("within", "explained")


class Reconciler:
    """The push listener (exchange.ingest.PushListener) registered by ``open_hub`` when reconciliation is on."""

    def __call__(self, conn: Connection, push: PushRecord) -> None:
        if not push.accepted:
            return
        seen = set()
        for segment in push.written:
            if segment.table.name in seen or not is_flow_table(segment.schema.dimensions):
                continue
            seen.add(segment.table.name)
            reconcile(conn, segment.schema, segment.table, push.submission_id, push.principal.reporter)


@dataclass
class _Run:
    conn: Connection
    schema: DsdSchema
    dataflow: str
    submission_id: str
    actor: str
    version: int
    at: datetime = field(default_factory=lambda: datetime.now(UTC))
    sources: dict[tuple[str, ...], str] = field(default_factory=dict)
    timeline: list[dict[str, Any]] = field(default_factory=list)


def reconcile(conn: Connection, schema: DsdSchema, table: Table, submission_id: str, actor: str) -> int:
    """Apply the policy to the pairs ``submission_id`` touched in ``table``; returns how many cases it opened."""
    dataflow = schema.ref
    version, policy = current(conn, dataflow)
    keys = touched_keys(conn, table, submission_id, policy)
    if not keys:
        return 0
    cases = store.cases_for(conn, dataflow, keys)
    examined = examine(conn, table, keys, policy, {k: {p for c in v for p in c["periods"]} for k, v in cases.items()})
    run = _Run(conn, schema, dataflow, submission_id, actor, version)
    run.sources = _sources(conn, table, examined, cases, policy)
    new: list[tuple[PairKey, list[PeriodView]]] = []
    for key in sorted(keys):
        views = examined.periods.get(key, {})
        history = cases.get(key, [])
        live = next((c for c in history if c["state"] in store.OPEN_STATES), None)
        if live is not None:
            _revise(run, live, views)
            continue
        fresh = _fresh_out(views, history)
        last = history[-1] if history else None
        if last is not None and _moved_out(last, views):
            _reopen(run, last, views)
        elif fresh:
            new.append((key, fresh))
    _open(run, new)
    store.append_timeline(conn, run.timeline)
    return len(new)


def _fresh_out(views: dict[str, PeriodView], history: list[dict[str, Any]]) -> list[PeriodView]:
    """Out-of-policy periods in the window that no earlier case of the pair already settled with these values."""
    settled = {p: v for case in history for p, v in case["periods"].items()}
    return [v for p, v in sorted(views.items())
            if v.out and v.in_window and not (p in settled and _same(settled[p], v))]


def _same(period: dict[str, Any], view: PeriodView) -> bool:
    return period["e_now"] == view.e and period["i_now"] == view.i


def _moved_out(case: dict[str, Any], views: dict[str, PeriodView]) -> bool:
    """A later revision moved a period of this resolved (or closed) case out of policy again."""
    return any(p in views and views[p].out and not _same(row, views[p]) for p, row in case["periods"].items())


def _sources(conn: Connection, table: Table, examined: Examined, cases: dict[PairKey, list[dict[str, Any]]],
             policy: Policy) -> dict[tuple[str, ...], str]:
    """The submission that brought each current value: (side, origin, destination, breakdown, basis, period) -> id."""
    wanted = [k for k, views in examined.periods.items() if any(v.out for v in views.values()) or k in cases]
    periods = sorted({p for k in wanted for p in examined.periods[k]})
    c = table.c
    out: dict[tuple[str, ...], str] = {}
    for basis in sorted({k[3] for k in wanted}):
        of_basis = [k for k in wanted if k[3] == basis]
        partner = c[BASES[basis].lower()]
        others = [c[col.lower()] == "_T" for col in BASES.values() if col != BASES[basis]]
        for origins, destinations in country_groups(of_basis):
            e_rows = select(c.ref_area, c.counterpart_area, c.time_period, *[c[b] for b in _BREAKDOWN], c._submission) \
                .where(visible(table), c.migr_flow == "EMI", c.citizenship == "_T", c.cob == "_T",
                       c.time_period.in_(periods),
                       c.ref_area.in_(sorted(origins)), c.counterpart_area.in_(sorted(destinations)))
            i_rows = select(partner, c.ref_area, c.time_period, *[c[b] for b in _BREAKDOWN], c._submission) \
                .where(visible(table), c.migr_flow == "IMM", *others, c.time_period.in_(periods),
                       partner.in_(sorted(origins)), c.ref_area.in_(sorted(destinations)))
            for side, statement in (("e", e_rows), ("i", i_rows)):
                for row in conn.execute(statement):
                    out[(side, row[0], row[1], ".".join(row[3:-1]), basis, row[2])] = row[-1]
    return out


def _period_values(run: _Run, key: PairKey, view: PeriodView) -> dict[str, Any]:
    origin, destination, breakdown, basis = key
    return {"e_now": view.e, "i_now": view.i, "flag_now": view.flag, "ln_ratio_now": view.ln_ratio,
            "e_dur_crit": view.e_dur_crit, "i_dur_crit": view.i_dur_crit, "e_source_type": view.e_source_type,
            "i_source_type": view.i_source_type,
            "e_submission": run.sources.get(("e", origin, destination, breakdown, basis, view.period)),
            "i_submission": run.sources.get(("i", origin, destination, breakdown, basis, view.period)),
            "updated_at": run.at}


def _new_period(run: _Run, case_id: int, key: PairKey, view: PeriodView, rule: str | None = None) -> dict[str, Any]:
    return {"case_id": case_id, "period": view.period, "state": "out", "rule": rule or view.rule or "flag",
            "e_open": view.e, "i_open": view.i, "flag_open": view.flag, **_period_values(run, key, view)}


def _snapshot(view: PeriodView | dict[str, Any]) -> dict[str, Any]:
    if isinstance(view, PeriodView):
        return {"E": view.e, "I": view.i, "flag": view.flag}
    return {"E": view["e_now"], "I": view["i_now"], "flag": view["flag_now"], "state": view["state"]}


def _open(run: _Run, new: list[tuple[PairKey, list[PeriodView]]]) -> None:
    """Open one case per pair with out-of-policy periods: set-based inserts (cases, periods, timeline)."""
    rows = [{"dataflow": run.dataflow, "origin": k[0], "destination": k[1], "breakdown": k[2], "basis": k[3],
             "state": "open", "kind": "automatic", "policy_version": run.version,
             "opened_by_submission": run.submission_id, "close_agreed": "", "opened_at": run.at,
             "updated_at": run.at} for k, _ in new]
    ids = store.insert_cases(run.conn, rows)
    periods: list[dict[str, Any]] = []
    events = []
    for case_id, row, (key, views) in zip(ids, rows, new, strict=True):
        row["id"] = case_id
        periods.extend(_new_period(run, case_id, key, v) for v in views)
        after = {v.period: {**_snapshot(v), "rule": v.rule} for v in views}
        run.timeline.append(store.timeline_row(case_id, run.at, run.actor, "opened", submission=run.submission_id,
                                               after=after))
        events.append(store.case_event("case.opened", row, run.schema.dimensions, [run.submission_id],
                                       submission=run.submission_id, policy_version=run.version, periods=after))
    emit_many(run.conn, events)  # one INSERT for the events, two for their deliveries, however many cases
    store.insert_periods(run.conn, periods)


def _apply(run: _Run, case: dict[str, Any], views: dict[str, PeriodView]
           ) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """Bring the case's periods to the current values; add new out-of-policy periods. Returns before, after, joined."""
    key = store.case_key(case)
    before, after = {}, {}
    for period, row in case["periods"].items():
        view = views.get(period)
        if view is None or _same(row, view):
            continue  # unchanged values keep their state (an explained period stays explained)
        state = "out" if view.out else "within"
        values = {**_period_values(run, key, view), "state": state}
        before[period], after[period] = _snapshot(row), {**_snapshot(view), "state": state}
        store.update_period(run.conn, case["id"], period, values)
        row.update(values)
    joined = [v for p, v in sorted(views.items()) if v.out and v.in_window and p not in case["periods"]]
    store.insert_periods(run.conn, [_new_period(run, case["id"], key, v) for v in joined])
    for v in joined:
        case["periods"][v.period] = {"state": "out"}
        after[v.period] = {**_snapshot(v), "state": "out", "rule": v.rule}
    return before, after, [v.period for v in joined]


def _revise(run: _Run, case: dict[str, Any], views: dict[str, PeriodView]) -> None:
    """A push touched a pair with an open case: it records itself on the case; resolve when nothing is left out."""
    before, after, joined = _apply(run, case, views)
    if not after:
        return
    run.timeline.append(store.timeline_row(case["id"], run.at, run.actor, "revised", submission=run.submission_id,
                                           before=before, after=after))
    done = all(p["state"] in RESOLVED for p in case["periods"].values())
    values: dict[str, Any] = {"updated_at": run.at}
    if done:
        values.update(state="resolved", resolved_by_submission=run.submission_id, resolved_at=run.at)
    store.update_case(run.conn, case["id"], values)
    case.update(values)
    store.announce(run.conn, "case.revised", {**case, "state": case["state"]}, run.schema.dimensions,
                   [run.submission_id], submission=run.submission_id, before=before, after=after, joined=joined)
    if done:
        run.timeline.append(store.timeline_row(case["id"], run.at, run.actor, "resolved", submission=run.submission_id,
                                               after={"state": "resolved"}))
        store.announce(run.conn, "case.resolved", case, run.schema.dimensions, [run.submission_id],
                       resolved_by_submission=run.submission_id)


def _reopen(run: _Run, case: dict[str, Any], views: dict[str, PeriodView]) -> None:
    """A later revision moved a period of a resolved or closed case out of policy again."""
    previous = case["state"]
    before, after, joined = _apply(run, case, views)
    values = {"state": "reopened", "resolved_by_submission": None, "resolved_at": None, "close_agreed": "",
              "updated_at": run.at}
    store.update_case(run.conn, case["id"], values)
    case.update(values)
    run.timeline.append(store.timeline_row(case["id"], run.at, run.actor, "reopened", submission=run.submission_id,
                                           before={"state": previous, "periods": before},
                                           after={"state": "reopened", "periods": after}))
    store.announce(run.conn, "case.reopened", case, run.schema.dimensions, [run.submission_id],
                   submission=run.submission_id, before=before, after=after, joined=joined)
