"""SDMX REST data queries (API 1.5 and 2.x): URL path and parameters -> a frozen ``DataQuery``. Pure.

1.5: ``/data/{flowRef}/{key}/{providerRef}`` (v1.5.0 docs 4_4_data_queries.md): flowRef ``FLOW``,
``AGENCY,FLOW`` or ``AGENCY,FLOW,VERSION``; key positions separated by ``.``, ``+`` = OR, empty = any,
``all`` = everything; ``startPeriod``, ``endPeriod``, ``updatedAfter``, ``firstNObservations``,
``lastNObservations``, ``dimensionAtObservation``, ``detail``, ``includeHistory``.

2.x: ``/data/{context}/{agencyID}/{resourceID}/{version}/{key}`` (v2.2.2 docs data.md): ``*`` = any,
``,`` separates whole keys (OR); component filters ``c[ID]=op:value`` with ``,`` = OR and ``+`` = AND;
``attributes``, ``measures``, ``asOf`` and the 1.5 parameters that remain.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from exchange.periods import parse_period


class QueryError(ValueError):
    """A syntactically wrong query: HTTP 400 (SDMX error 140)."""


OPERATORS = ("eq", "ne", "lt", "le", "gt", "ge", "co", "nc", "sw", "ew")
#: One key: per dimension position, the accepted codes (None = any).
KeyPattern = tuple[frozenset[str] | None, ...]
#: One component filter: OR over AND-groups of (operator, value).
Filter = tuple[tuple[tuple[str, str], ...], ...]


@dataclass(frozen=True)
class DataQuery:
    api: str  # "1.5" | "2"
    agency: str | None
    flow: str
    version: str | None  # None = latest
    context: str = "dataflow"
    keys: tuple[tuple[str, ...], ...] = ()  # raw key strings split at "." (resolved against the DSD later)
    providers: frozenset[str] | None = None
    filters: tuple[tuple[str, Filter], ...] = ()
    start_period: str | None = None  # ISO date, inclusive
    end_period: str | None = None  # ISO date, inclusive
    updated_after: datetime | None = None
    as_of: datetime | None = None
    first_n: int | None = None
    last_n: int | None = None
    dimension_at_observation: str | None = None
    detail: str = "full"
    attributes: str = "dsd"
    measures: str = "all"
    include_history: bool = False
    extra: tuple[tuple[str, str], ...] = field(default=())  # format=, labels=, timeFormat=... for the renderer

    def key_patterns(self, dimensions: tuple[str, ...]) -> list[KeyPattern]:
        """The keys as per-dimension code sets; QueryError if a key has more positions than the DSD."""
        patterns = []
        for parts in self.keys:
            if len(parts) > len(dimensions):
                raise QueryError(f"The key has {len(parts)} positions; the DSD has {len(dimensions)} dimensions "
                                 f"({'.'.join(dimensions)}).")
            if self.api == "1.5" and len(parts) != len(dimensions) and parts != ("all",):
                raise QueryError(f"The key must have {len(dimensions)} positions ({'.'.join(dimensions)}), "
                                 "empty ones for any value.")
            padded = list(parts) + [""] * (len(dimensions) - len(parts))
            patterns.append(tuple(_codes(p, self.api) for p in padded))
        return patterns


def _codes(part: str, api: str) -> frozenset[str] | None:
    if part in ("", "*", "all"):
        return None
    return frozenset(part.split("+" if api == "1.5" else ","))


#: The largest firstNObservations / lastNObservations taken (a 32-bit signed integer, as in most SQL engines).
MAX_OBSERVATIONS_PARAM = 2**31 - 1


def _int(params: Mapping[str, str], name: str) -> int | None:
    """A positive count in ASCII digits (``str.isdigit`` also takes ``²`` and other digits ``int`` refuses)."""
    if name not in params:
        return None
    value = params[name]
    if not re.fullmatch(r"[0-9]{1,12}", value) or not 1 <= int(value) <= MAX_OBSERVATIONS_PARAM:
        raise QueryError(f"{name} must be a whole number from 1 to {MAX_OBSERVATIONS_PARAM} written in digits 0-9, "
                         f"not {value[:40]!r}.")
    return int(value)


def _datetime(params: Mapping[str, str], name: str) -> datetime | None:
    if name not in params:
        return None
    try:
        value = datetime.fromisoformat(params[name].replace(" ", "+").replace("Z", "+00:00"))
    except ValueError as exc:
        raise QueryError(f"{name} must be an xs:dateTime such as 2024-05-01T12:00:00Z, not {params[name]!r}.") from exc
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _period_bound(params: Mapping[str, str], name: str, end: bool) -> str | None:
    if name not in params:
        return None
    text = params[name]
    period = parse_period(text)
    if period is None:
        try:
            return datetime.fromisoformat(text).date().isoformat()
        except ValueError as exc:
            raise QueryError(f"{name}={text!r} is not an SDMX time period (2020, 2020-Q1, 2020-01, 2020-01-31).") from exc
    return period.end if end else period.start


def _bool(params: Mapping[str, str], name: str) -> bool:
    value = params.get(name, "false").lower()
    if value not in ("true", "false"):
        raise QueryError(f"{name} must be true or false.")
    return value == "true"


def _common(params: Mapping[str, str]) -> dict[str, object]:
    first_n, last_n = _int(params, "firstNObservations"), _int(params, "lastNObservations")
    return {
        "updated_after": _datetime(params, "updatedAfter"), "first_n": first_n, "last_n": last_n,
        "dimension_at_observation": params.get("dimensionAtObservation"),
        "include_history": _bool(params, "includeHistory"),
        "extra": tuple(sorted((k, v) for k, v in params.items() if k in ("format", "formatVersion", "labels",
                                                                          "timeFormat", "compression"))),
    }


_FLOW_REF = re.compile(r"^(?:(?P<agency>[A-Za-z][\w.\-]*),)?(?P<flow>[\w@$\-]+)(?:,(?P<version>latest|[\d.]+))?$")


def parse_v1(flow_ref: str, key: str | None, provider_ref: str | None, params: Mapping[str, str]) -> DataQuery:
    """REST 1.5 ``/data/{flowRef}/{key}/{providerRef}``."""
    match = _FLOW_REF.match(flow_ref)
    if match is None:
        raise QueryError(f"flowRef {flow_ref!r} is not FLOW, AGENCY,FLOW or AGENCY,FLOW,VERSION.")
    agency = match["agency"] if match["agency"] not in (None, "all") else None
    version = match["version"] if match["version"] not in (None, "latest") else None
    providers = None
    if provider_ref and provider_ref != "all":
        providers = frozenset(p.split(",")[-1] for p in provider_ref.split("+"))
    detail = params.get("detail", "full")
    if detail not in ("full", "dataonly", "serieskeysonly", "nodata"):
        raise QueryError("detail must be full, dataonly, serieskeysonly or nodata.")
    keys = () if key in (None, "", "all") else (tuple(key.split(".")),)
    return DataQuery(
        api="1.5", agency=agency, flow=match["flow"], version=version, keys=keys, providers=providers,
        start_period=_period_bound(params, "startPeriod", end=False),
        end_period=_period_bound(params, "endPeriod", end=True), detail=detail, **_common(params),  # type: ignore[arg-type]
    )


_FILTER = re.compile(r"^c\[(?P<component>[A-Za-z][\w\-]*)\]$")


def _filter(text: str) -> Filter:
    groups = []
    for alternative in text.split(","):
        conditions = []
        for condition in alternative.split("+"):
            op, sep, value = condition.partition(":")
            if not sep or op not in OPERATORS:
                op, value = "eq", condition
            conditions.append((op, value))
        groups.append(tuple(conditions))
    return tuple(groups)


def parse_v2(context: str, agency: str, flow: str, version: str, key: str | None,
             params: Mapping[str, str]) -> DataQuery:
    """REST 2.x ``/data/{context}/{agencyID}/{resourceID}/{version}/{key}``."""
    if context not in ("dataflow", "datastructure", "provisionagreement", "*"):
        raise QueryError(f"context {context!r} is not dataflow, datastructure, provisionagreement or *.")
    filters = []
    for name, value in params.items():
        match = _FILTER.match(name)
        if match:
            filters.append((match["component"], _filter(value)))
        elif name.startswith("c[") or name.startswith("c%5B"):
            raise QueryError(f"{name!r} is not a component filter c[ID].")
    keys = () if key in (None, "", "*") else tuple(tuple(k.split(".")) for k in key.split(","))
    return DataQuery(
        api="2", agency=None if agency == "*" else agency, flow=flow, version=None if version in ("~", "*", "+")
        else version, context=context, keys=keys, filters=tuple(sorted(filters)),
        as_of=_datetime(params, "asOf"), attributes=params.get("attributes", "dsd"),
        measures=params.get("measures", "all"), **_common(params),  # type: ignore[arg-type]
    )
