"""The events the hub itself raises (issue #10): ``submission.accepted`` / ``submission.rejected`` and
``data.partner_revised`` from a push listener (called in the push's own transaction, exchange.ingest), and
``structure.registered`` (exchange.api.structures). ``case.*`` events are raised by reconciliation."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Connection, and_, case, false, func, select

from exchange.events.links import base, data_url, submission_url
from exchange.events.outbox import emit
from exchange.ingest import PushListener, PushRecord, WrittenSegment
from exchange.settings import Settings

#: the dimensions a migration flow needs for the partner rule: reporter, partner and direction
MIRROR_DIMENSIONS = ("REF_AREA", "COUNTERPART_AREA", "MIGR_FLOW")
#: partners are countries (ISO 3166 alpha-3): totals, regions and "unknown" codes have no office to tell
COUNTRY = re.compile(r"[A-Z]{3}")
MIRROR_FLOW = {"EMI": "IMM", "IMM": "EMI"}
ISSUES_IN_EVENT = 5


def push_events(settings: Settings) -> PushListener:
    """The listener that records submission events (and partner revisions) with each push."""

    def listener(conn: Connection, push: PushRecord) -> None:
        if push.accepted:
            accepted(conn, settings, push)
            partner_revisions(conn, settings, push)
        else:
            rejected(conn, settings, push)

    return listener


def _dataflow(push: PushRecord) -> str | None:
    flows = {d.get("structure", "").split("=", 1)[-1] or d.get("dsd") for d in push.body.get("datasets", [])}
    return next(iter(flows)) if len(flows) == 1 else None


def _common(settings: Settings, push: PushRecord) -> dict[str, Any]:
    return {"submission": push.submission_id, "provider": push.principal.reporter,
            "received_at": push.received_at.isoformat(), "message": push.body.get("message", ""),
            "links": {"submission": submission_url(settings, push.submission_id),
                      "issues": submission_url(settings, push.submission_id) + "/issues"}}


def accepted(conn: Connection, settings: Settings, push: PushRecord) -> None:
    datasets = [{k: d.get(k) for k in ("structure", "action", "inserted", "replaced", "deleted", "unchanged")}
                for d in push.body.get("datasets", [])]
    payload = {**_common(settings, push), "observations": push.body.get("observations", 0), "datasets": datasets}
    emit(conn, "submission.accepted", [push.principal.provider], payload, dataflow=_dataflow(push),
         subject=push.submission_id)


def rejected(conn: Connection, settings: Settings, push: PushRecord) -> None:
    issues = push.body.get("issues", {})
    first = [{k: i.get(k) for k in ("code", "message", "fix", "where")} for i in issues.get("first", [])[:ISSUES_IN_EVENT]]
    payload = {**_common(settings, push), "status": push.status, "errors": issues.get("errors", 0),
               "by_code": issues.get("by_code", {}), "first_issues": first}
    emit(conn, "submission.rejected", [push.principal.provider], payload, dataflow=_dataflow(push),
         subject=push.submission_id)


def partner_revisions(conn: Connection, settings: Settings, push: PushRecord) -> None:
    """One ``data.partner_revised`` per partner country whose mirror data the push revised or deleted.

    Set-based: one grouped query per dataset over the rows the push wrote that replace an earlier version
    (``_replaces``), never a loop over observations.
    """
    changes: dict[str, list[dict[str, Any]]] = {}
    for segment in push.written:
        if segment.counts.replaced + segment.counts.deleted == 0:
            continue
        if not set(MIRROR_DIMENSIONS) <= set(segment.schema.dimensions) or not segment.schema.time_dimension:
            continue
        for change in _revised(conn, segment, push.submission_id):
            if COUNTRY.fullmatch(change["partner"]) and change["partner"] != change["reporter"]:
                changes.setdefault(change["partner"], []).append(change)
    flow = _dataflow(push)
    for partner, items in sorted(changes.items()):
        payload = {**_common(settings, push), "partner": partner, "changes": [
            {**c, "links": _mirror_links(settings, push, c)} for c in items]}
        emit(conn, "data.partner_revised", [partner], payload, dataflow=flow, subject=push.submission_id)


def _revised(conn: Connection, segment: WrittenSegment, submission_id: str) -> list[dict[str, Any]]:
    table, schema = segment.table, segment.schema
    new, old = table.alias("new"), table.alias("old")
    measure, period = schema.measure.lower(), schema.time_dimension.lower()  # type: ignore[union-attr]
    after = case((new.c._deleted == false(), new.c[measure]), else_=None)
    grouped = (new.c.ref_area, new.c.counterpart_area, new.c.migr_flow)
    rows = conn.execute(
        select(*grouped, func.count(), func.min(new.c[period]), func.max(new.c[period]), func.sum(old.c[measure]),
               func.sum(after), func.sum(case((new.c._deleted == false(), 0), else_=1)))
        .select_from(new.join(old, and_(old.c._id == new.c._replaces, old.c._deleted == false())))
        .where(new.c._submission == submission_id).group_by(*grouped).order_by(*grouped))
    return [{"dsd": schema.ref, "dimensions": list(schema.dimensions), "reporter": r[0], "partner": r[1],
             "flow": r[2], "observations": r[3], "first_period": r[4], "last_period": r[5], "total_before": r[6],
             "total_after": r[7], "deleted": r[8]} for r in rows]


def _mirror_links(settings: Settings, push: PushRecord, change: dict[str, Any]) -> dict[str, str]:
    flow = _dataflow(push) or change["dsd"]
    dims = change.pop("dimensions")
    change.pop("dsd")
    revised = {"REF_AREA": change["reporter"], "COUNTERPART_AREA": change["partner"], "MIGR_FLOW": change["flow"]}
    mirror = {"REF_AREA": change["partner"], "COUNTERPART_AREA": change["reporter"],
              "MIGR_FLOW": MIRROR_FLOW.get(change["flow"], change["flow"])}
    return {"revised_data": data_url(settings, flow, dims, revised), "your_data": data_url(settings, flow, dims, mirror)}


def structure_registered(conn: Connection, settings: Settings, artefacts: list[str], label: str) -> None:
    """Tell everyone (a public event) which structures an administrator registered, each with its REST 2.x link."""
    links = {urn: _structure_url(settings, urn) for urn in artefacts}
    emit(conn, "structure.registered", [], {"artefacts": artefacts, "label": label, "links": links}, subject=label[:300])


def _structure_url(settings: Settings, urn: str) -> str:
    """``urn:...datastructure.DataStructure=A:ID(1.0)`` -> ``/structure/datastructure/A/ID/1.0``."""
    head, _, ref = urn.partition("=")
    kind = head.rpartition(".")[2]
    agency, _, rest = ref.partition(":")
    artefact, _, version = rest.partition("(")
    return f"{base(settings)}/structure/{kind.lower()}/{agency}/{artefact}/{version.rstrip(')')}"
