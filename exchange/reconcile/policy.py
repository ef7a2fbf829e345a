"""The reconciliation policy of a dataflow (issue #10, "Cases"): when a mirror pair's period is out of policy.

Each change is a new version (``recon_policy`` rows are only ever added); a dataflow without a stored version
uses ``DEFAULT`` as version 0. Every case records the version that opened it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select

from exchange.stats.mirror import BASES, BREAKDOWN
from exchange.store.tables import recon_policy

FLAG_LEVELS = ("moderate", "large", "severe")
FLAG_RANK = {"consistent": 0, "moderate": 1, "large": 2, "severe": 3}
DEFAULT_DATAFLOW = "UNECE:MIGR_FLOW(1.0)"


@dataclass(frozen=True)
class Policy:
    """Out of policy: flag >= ``flag_level`` and E+I >= ``min_total``; or, with ``missing_side``, one side missing
    while its reporter reported other partners for that period. Only the latest ``latest_periods`` periods that
    either partner reported are examined, on ``bases``, for breakdowns matching ``breakdowns`` (component ->
    allowed codes; empty: every breakdown)."""

    flag_level: str = "large"
    min_total: float = 100.0
    latest_periods: int = 5
    bases: tuple[str, ...] = ("residence",)
    breakdowns: dict[str, tuple[str, ...]] = field(default_factory=dict)
    missing_side: bool = True

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["bases"], out["breakdowns"] = list(self.bases), {k: list(v) for k, v in self.breakdowns.items()}
        return out

    def out_of_policy(self, flag: str | None, total: float) -> bool:
        return flag is not None and FLAG_RANK[flag] >= FLAG_RANK[self.flag_level] and total >= self.min_total


DEFAULT = Policy()


def policy_problems(data: dict[str, Any]) -> list[str]:
    """What is wrong with a policy body (empty when it is valid)."""
    problems = []
    if data.get("flag_level", "large") not in FLAG_LEVELS:
        problems.append(f"flag_level must be one of {', '.join(FLAG_LEVELS)}")
    unknown_bases = set(data.get("bases", ["residence"])) - set(BASES)
    if unknown_bases or not data.get("bases", ["residence"]):
        problems.append(f"bases must be a non-empty list of {', '.join(BASES)}")
    unknown = set(data.get("breakdowns", {})) - set(BREAKDOWN)
    if unknown:
        problems.append(f"breakdowns may restrict only {', '.join(BREAKDOWN)} (not {', '.join(sorted(unknown))})")
    return problems


def from_json(data: dict[str, Any]) -> Policy:
    return Policy(flag_level=data.get("flag_level", "large"), min_total=float(data.get("min_total", 100.0)),
                  latest_periods=int(data.get("latest_periods", 5)), bases=tuple(data.get("bases", ("residence",))),
                  breakdowns={k: tuple(v) for k, v in data.get("breakdowns", {}).items()},
                  missing_side=bool(data.get("missing_side", True)))


def current(conn: Connection, dataflow: str) -> tuple[int, Policy]:
    """The policy version in force for ``dataflow`` and its settings (version 0: the defaults)."""
    row = conn.execute(select(recon_policy.c.version, recon_policy.c.settings)
                       .where(recon_policy.c.dataflow == dataflow)
                       .order_by(recon_policy.c.version.desc()).limit(1)).first()
    return (0, DEFAULT) if row is None else (row.version, from_json(json.loads(row.settings)))


def history(conn: Connection, dataflow: str) -> list[dict[str, Any]]:
    rows = conn.execute(select(recon_policy).where(recon_policy.c.dataflow == dataflow)
                        .order_by(recon_policy.c.version.desc())).all()
    versions = [{"version": r.version, "created_at": r.created_at.isoformat(), "created_by": r.created_by,
                 "policy": json.loads(r.settings)} for r in rows]
    return [*versions, {"version": 0, "created_at": None, "created_by": "default", "policy": DEFAULT.as_json()}]


def put(conn: Connection, dataflow: str, policy: Policy, who: str) -> int:
    """Store ``policy`` as the next version for ``dataflow`` (the unique (dataflow, version) refuses a race)."""
    last = conn.execute(select(func.max(recon_policy.c.version)).where(recon_policy.c.dataflow == dataflow)).scalar()
    version = (last or 0) + 1
    conn.execute(insert(recon_policy).values(dataflow=dataflow, version=version, created_at=datetime.now(UTC),
                                             created_by=who, settings=json.dumps(policy.as_json(), sort_keys=True)))
    return version
