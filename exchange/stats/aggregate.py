"""Regional aggregates with explicit coverage (mirror-statistics.md 7.2; style.md recommendation 10).

Members come from the region's ``MEMBER`` annotations in CL_AREA, each with a validity ``from/to``: a
country counts for a period when it was a member on the period's first day. A total is never a silent
partial sum: it carries the members reporting and expected, the coverage ratio, and an OBS_STATUS:
``A`` complete, ``U`` (low reliability) when members are missing, ``E`` when a missing member's
emigration was filled from its mirror estimate; below ``min_coverage`` the value is withheld (``O``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from exchange.catalog import Catalog
from exchange.periods import parse_period


@dataclass(frozen=True)
class Membership:
    member: str
    valid_from: str  # ISO date or ""
    valid_to: str

    def on(self, day: str) -> bool:
        return (not self.valid_from or day >= self.valid_from) and (not self.valid_to or day <= self.valid_to)


def region_members(catalog: Catalog, region: str) -> list[Membership]:
    codelist = next((cl for key, cl in catalog.codelists.items() if key[:2] == ("UNECE", "CL_AREA")), None)
    if codelist is None or region not in codelist:
        raise KeyError(f"{region} is not a region of UNECE:CL_AREA")
    out = []
    for annotation in codelist[region].annotations:
        if annotation.type == "MEMBER":
            start, _, end = str(annotation.text).partition("/")
            out.append(Membership(str(annotation.title), start, end))
    if not out:
        raise KeyError(f"{region} is a code of UNECE:CL_AREA but not a region (no MEMBER annotations)")
    return out


def members_on(memberships: Iterable[Membership], period: str) -> set[str]:
    parsed = parse_period(period)
    day = parsed.start if parsed else period
    return {m.member for m in memberships if m.on(day)}


def aggregate(rows: Iterable[Mapping[str, Any]], memberships: list[Membership], region: str, flow: str,
              partner_scope: str = "all", min_coverage: float = 0.0,
              fill: Mapping[tuple[str, str], float] | None = None) -> list[dict[str, Any]]:
    """Sum ``flow`` (EMI or IMM) reported by the region's members, per period and breakdown.

    ``partner_scope``: ``all`` (COUNTERPART_AREA=_T), ``intra`` (partners inside the region, summed) or
    ``extra`` (all minus intra, for members that report both). ``fill`` maps (member, period) to a mirror
    estimate used for members that did not report (EMI only).
    """
    cells: dict[tuple[Any, ...], dict[str, float]] = {}  # (period, breakdown) -> member -> value
    intra: dict[tuple[Any, ...], dict[str, float]] = {}
    members_in: dict[str, set[str]] = {}  # period -> members then
    for row in rows:
        if row["migr_flow"] != flow or row["citizenship"] != "_T" or row["cob"] != "_T" or row["obs_value"] is None:
            continue
        period = row["time_period"]
        members = members_in.get(period)
        if members is None:
            members = members_in[period] = members_on(memberships, period)
        if row["ref_area"] not in members:
            continue
        cell = (period, row["freq"], row["migrant_type"], row["sex"], row["age"], row["unit_measure"])
        if row["counterpart_area"] == "_T":
            cells.setdefault(cell, {})[row["ref_area"]] = row["obs_value"]
        elif row["counterpart_area"] in members:
            intra.setdefault(cell, {}).setdefault(row["ref_area"], 0.0)
            intra[cell][row["ref_area"]] += row["obs_value"]
    source = intra if partner_scope == "intra" else cells
    out = []
    for cell in sorted(set(source) | (set(cells) if partner_scope == "extra" else set())):
        period = cell[0]
        expected = members_on(memberships, period)
        if partner_scope == "extra":
            values = {m: cells[cell][m] - intra.get(cell, {}).get(m, 0.0) for m in cells.get(cell, {})}
        else:
            values = dict(source.get(cell, {}))
        estimated = []
        if fill and flow == "EMI" and partner_scope == "all":
            for member in sorted(expected - set(values)):
                if (member, period) in fill:
                    values[member] = fill[(member, period)]
                    estimated.append(member)
        out.append(_total(region, flow, partner_scope, cell, values, expected, estimated, min_coverage))
    return out


def _total(region: str, flow: str, scope: str, cell: tuple[Any, ...], values: dict[str, float], expected: set[str],
           estimated: list[str], min_coverage: float) -> dict[str, Any]:
    reporting = sorted(set(values) - set(estimated))
    coverage = len(values) / len(expected) if expected else 0.0
    status = "A" if coverage == 1.0 and not estimated else ("E" if estimated else "U")
    total: float | None = sum(values.values())
    if coverage < min_coverage:
        total, status = None, "O"
    return {"region": region, "flow": flow, "partner_scope": scope, "period": cell[0], "freq": cell[1],
            "migrant_type": cell[2], "sex": cell[3], "age": cell[4], "unit_measure": cell[5], "value": total,
            "members_reporting": len(reporting), "members_expected": len(expected), "coverage": coverage,
            "missing": sorted(expected - set(values)), "estimated": estimated, "obs_status": status}
