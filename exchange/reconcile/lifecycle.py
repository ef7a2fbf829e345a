"""What partners and administrators do to a case (issue #10, "Lifecycle" and "Who may do what").

``open -> acknowledged -> explained -> resolved | closed``, and ``reopened`` (treated as open). Each action is
checked against the current state (409 naming the state and the actions allowed from it), against the caller's
rights (the two partners and administrators; anyone else gets the 404 an unknown case gets), and appended to
the timeline; nothing is ever deleted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select

from exchange.catalog import Catalog, DsdSchema
from exchange.ingest import Principal
from exchange.reconcile import store
from exchange.rows import XML_ILLEGAL
from exchange.store.tables import recon_case

#: action -> states it is allowed from
TRANSITIONS: Mapping[str, frozenset[str]] = {
    "ack": frozenset({"open", "reopened"}),
    "explain": frozenset({"open", "reopened", "acknowledged", "explained"}),
    "close": frozenset({"explained"}),
    "comment": frozenset({"open", "reopened", "acknowledged", "explained", "resolved", "closed"}),
}
EVENT = {"ack": "case.acknowledged", "explain": "case.explained", "close": "case.closed", "comment": "case.commented"}
REASON_LIST = ("UNECE", "CL_RECON_REASON")


class CaseError(Exception):
    """A refused request: the HTTP status, what is wrong and how to fix it, and extra fields for the answer."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.extra = status, extra


def allowed(state: str) -> list[str]:
    return sorted(a for a, states in TRANSITIONS.items() if state in states)


def may_see(principal: Principal, case: Mapping[str, Any]) -> bool:
    return principal.is_admin or principal.provider in (case["origin"], case["destination"])


def not_found(case_id: object) -> CaseError:
    return CaseError(404, f"No reconciliation case {case_id} that this token may read. GET /reconciliations lists "
                          "the cases of your country (a case is visible to its two partner countries and administrators).")


def visible_case(conn: Connection, case_id: int, principal: Principal, *, lock: bool = False) -> dict[str, Any]:
    """The case, or the same 404 whether it does not exist or belongs to other countries (no leak)."""
    statement = select(recon_case).where(recon_case.c.id == case_id)
    row = conn.execute(statement.with_for_update() if lock else statement).first()
    case = None if row is None else dict(row._mapping)
    if case is None or not may_see(principal, case):
        raise not_found(case_id)
    return case


def reason_codes(catalog: Catalog) -> dict[str, str]:
    """Codes of the shared CL_RECON_REASON list (structures/UNECE-reconciliation.xml), latest version, with names."""
    versions = [k for k in catalog.codelists if k[:2] == REASON_LIST]
    if not versions:
        return {}
    codelist = catalog.codelists[max(versions, key=lambda k: tuple(int(x) for x in k[2].split(".") if x.isdigit()))]
    return {code.id: str(code.name) for code in codelist}


def check_reason(catalog: Catalog, reason: str | None) -> None:
    codes = reason_codes(catalog)
    if reason not in codes:
        raise CaseError(422, f"Unknown reason code {reason!r}: use one of {', '.join(codes)} (UNECE:CL_RECON_REASON). "
                             "Nothing was changed.", valid_codes=list(codes))


def check_text(text: str | None, limit: int, what: str) -> None:
    """Texts are capped (EXCHANGE_RECONCILIATION_TEXT_MAX_CHARS) and must be XML 1.0 text (they are re-served)."""
    if text is not None and (found := XML_ILLEGAL.search(text)):
        raise CaseError(422, f"The {what} holds the character U+{ord(found.group()):04X} at position {found.start()}, "
                             "which XML 1.0 text cannot carry. Remove it; nothing was changed.")
    if text is not None and len(text) > limit:
        raise CaseError(422, f"The {what} is {len(text)} characters long; at most {limit} are accepted "
                             "(EXCHANGE_RECONCILIATION_TEXT_MAX_CHARS). Shorten it; nothing was changed.")


@dataclass(frozen=True)
class Action:
    name: str  # ack | explain | close | comment
    text: str | None = None
    reason: str | None = None
    periods: Sequence[str] | None = None


def act(conn: Connection, catalog: Catalog, case_id: int, principal: Principal, action: Action) -> dict[str, Any]:
    """Apply one action to a case in the caller's transaction; returns the case row as it now stands."""
    case = visible_case(conn, case_id, principal, lock=True)
    if action.name == "explain":
        check_reason(catalog, action.reason)
    if case["state"] not in TRANSITIONS[action.name]:
        now_allowed = ", ".join(allowed(case["state"]))
        raise CaseError(409, f"Case {case_id} is {case['state']}: '{action.name}' is allowed only from "
                             f"{', '.join(sorted(TRANSITIONS[action.name]))}. Allowed now: {now_allowed}. "
                             "Nothing was changed.", state=case["state"], allowed=allowed(case["state"]))
    now, who = datetime.now(UTC), principal.reporter
    before = {"state": case["state"], "reason": case["reason"]}
    values: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    if action.name == "ack":
        values["state"] = "acknowledged"
    elif action.name == "explain":
        values.update(state="explained", reason=action.reason)
        extra["periods"] = _explain_periods(conn, case, action.periods)
        extra["reason"] = action.reason
    elif action.name == "close":
        values.update(_close(case, principal))
    if values:
        values["updated_at"] = now
        store.update_case(conn, case_id, values)
        case.update(values)
    after = {"state": case["state"], "reason": case["reason"], **({"close_agreed": case["close_agreed"].split()}
                                                                   if action.name == "close" else {})}
    store.append_timeline(conn, [store.timeline_row(case_id, now, who, action.name, reason=action.reason,
                                                    text=action.text, before=before, after=after)])
    if action.name == "comment":
        extra["text"] = action.text
    store.announce(conn, EVENT[action.name], case, dimensions(catalog, case["dataflow"]), by=who, **extra)
    return case


def _explain_periods(conn: Connection, case: dict[str, Any], periods: Sequence[str] | None) -> list[str]:
    """Mark the periods explained (all periods still out, by default); unknown periods are refused."""
    known = store.periods_of(conn, [case["id"]]).get(case["id"], {})
    if periods:
        unknown = sorted(set(periods) - set(known))
        if unknown:
            raise CaseError(422, f"Case {case['id']} has no period {', '.join(unknown)}; its periods are "
                                 f"{', '.join(sorted(known))}. Nothing was changed.")
    chosen = sorted(periods) if periods else sorted(p for p, row in known.items() if row["state"] == "out")
    for period in chosen:
        store.update_period(conn, case["id"], period, {"state": "explained", "updated_at": datetime.now(UTC)})
    return chosen


def _close(case: dict[str, Any], principal: Principal) -> dict[str, Any]:
    """``closed`` needs both partners' agreement, or an administrator: a partner's close records its agreement."""
    if principal.is_admin:
        return {"state": "closed", "resolved_at": datetime.now(UTC)}
    agreed = set(case["close_agreed"].split()) | {principal.reporter}
    values: dict[str, Any] = {"close_agreed": f" {' '.join(sorted(agreed))} "}
    if {case["origin"], case["destination"]} <= agreed:
        values.update(state="closed", resolved_at=datetime.now(UTC))
    return values


def dimensions(catalog: Catalog, dataflow: str) -> tuple[str, ...]:
    schema = schema_of(catalog, dataflow)
    return schema.dimensions if schema else ()


def schema_of(catalog: Catalog, dataflow: str) -> DsdSchema | None:
    return next((s for s in catalog.all_dsd_schemas() if s.ref == dataflow), None)
