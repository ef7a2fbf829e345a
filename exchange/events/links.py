"""Links carried by event payloads: the submission report and SDMX REST data queries (REST 1.5 section
"data queries": ``/data/{agency,id,version}/{key}``, key values in DSD order joined by dots, empty = any)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from exchange.settings import Settings


def base(settings: Settings) -> str:
    """The hub's public base URL without a trailing slash (empty: links are relative)."""
    return settings.public_url.rstrip("/")


def submission_url(settings: Settings, submission_id: str) -> str:
    return f"{base(settings)}/submissions/{submission_id}"


def flow_ref(dataflow: str) -> str:
    """``AGENCY:ID(VERSION)`` as the REST path writes it: ``AGENCY,ID,VERSION``."""
    agency, _, rest = dataflow.partition(":")
    flow_id, _, version = rest.partition("(")
    return ",".join(p for p in (agency, flow_id, version.rstrip(")")) if p)


def data_url(settings: Settings, dataflow: str, dimensions: Sequence[str], values: Mapping[str, str]) -> str:
    """The SDMX data query for ``values`` (other dimensions: any)."""
    key = ".".join(values.get(d, "") for d in dimensions)
    return f"{base(settings)}/data/{flow_ref(dataflow)}/{key}"
