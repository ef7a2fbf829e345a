"""Availability queries: REST 1.5 ``/availableconstraint/{flowRef}/{key}/{providerRef}/{componentID}`` and
2.x ``/availability/{context}/{agencyID}/{resourceID}/{version}/{key}/{componentID}``, answered from the
stored data as an SDMX-ML 2.1 Structure message holding an Actual ContentConstraint (a CubeRegion of the
values present, and the time range), plus the referenced structures when ``references`` asks for them."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import Response
from lxml import etree

from exchange.api.contract import sdmx_errors
from exchange.api.deps import HubDep
from exchange.api.errors import sdmx_error
from exchange.api.sdmx import _resolve
from exchange.catalog.artefacts import COM, STR
from exchange.query import QueryError, parse_v1, parse_v2
from exchange.store.read import availability

router = APIRouter(tags=["SDMX REST"])
STRUCTURE_XML = "application/vnd.sdmx.structure+xml;version=2.1"
AVAILABILITY_ERRORS = sdmx_errors(204, 404)
REFERENCES = {"none", "all", "datastructure", "conceptscheme", "codelist", "dataproviderscheme", "dataflow"}


@router.get("/availableconstraint/{path:path}", summary="Data availability (REST 1.5)", responses=AVAILABILITY_ERRORS)
def available_v1(path: str, request: Request, hub: HubDep) -> Response:
    parts = path.split("/")
    flow_ref, key = parts[0], parts[1] if len(parts) > 1 else None
    provider = parts[2] if len(parts) > 2 else None
    component = parts[3] if len(parts) > 3 else "all"
    params = {k: v for k, v in request.query_params.items() if k not in ("mode", "references")}
    return _answer(request, hub, lambda: parse_v1(flow_ref, key, provider, params), component)


@router.get("/availability/{context}/{agency}/{flow}/{version}/{key}/{component}", summary="Data availability (REST 2.x)",
            responses=AVAILABILITY_ERRORS)
@router.get("/availability/{context}/{agency}/{flow}/{version}/{key}", responses=AVAILABILITY_ERRORS)
@router.get("/availability/{context}/{agency}/{flow}/{version}", responses=AVAILABILITY_ERRORS)
@router.get("/availability/{context}/{agency}/{flow}", responses=AVAILABILITY_ERRORS)
def available_v2(context: str, agency: str, flow: str, request: Request, hub: HubDep, version: str = "~",
                 key: str = "*", component: str = "*") -> Response:
    params = {k: v for k, v in request.query_params.items() if k not in ("mode", "references")}
    return _answer(request, hub, lambda: parse_v2(context, agency, flow, version, key, params), component)


def _answer(request: Request, hub: HubDep, parse, component: str) -> Response:  # type: ignore[no-untyped-def]
    accept = request.headers.get("accept")
    mode, references = request.query_params.get("mode", "exact"), request.query_params.get("references", "none")
    try:
        if mode not in ("exact", "available"):
            raise QueryError("mode must be exact or available.")
        if references not in REFERENCES:
            raise QueryError(f"references must be one of {', '.join(sorted(REFERENCES))}.")
        query = parse()
        schema, flow_key = _resolve(hub, query)
        components = list(schema.key_components) if component in ("all", "*") else [component]
        if any(c not in schema.key_components for c in components):
            raise QueryError(f"{component} is not a dimension of {schema.ref}.")
        with hub.engine.connect() as conn:
            values, period, count = availability(conn, hub.tables.table(schema), schema, query, components, mode)
    except QueryError as exc:
        return sdmx_error(400, str(exc), accept)
    except LookupError as exc:
        return sdmx_error(404, str(exc), accept)
    if count == 0 and mode == "exact":
        return Response(status_code=204) if query.api == "2" else sdmx_error(404, "No results found.", accept)
    constraint = _constraint(flow_key, values, period if schema.time_dimension in components else None, count, mode)
    artefacts = hub.catalog.artefacts()
    flow = [("dataflow", *flow_key)]
    extra = set() if references == "none" else artefacts.with_references(flow, "descendants")[1] | set(flow)
    if references not in ("none", "all"):
        extra = {k for k in extra if k[0] == references}
    body = artefacts.message([], extra, "full", extra_elements=[constraint])
    return Response(body, media_type=STRUCTURE_XML)


def _constraint(flow_key: tuple[str, str, str], values: dict[str, list[str]], period: tuple[str, str] | None,
                count: int, mode: str) -> etree._Element:
    agency, flow, version = flow_key
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    node = etree.Element(f"{{{STR}}}ContentConstraint", id=f"CC_AVAILABILITY_{flow}_{stamp}", agencyID=agency,
                         version="1.0", isFinal="false", type="Actual")
    annotations = etree.SubElement(node, f"{{{COM}}}Annotations")
    for kind, text in (("obsCount", str(count)), ("mode", mode)):
        annotation = etree.SubElement(annotations, f"{{{COM}}}Annotation")
        etree.SubElement(annotation, f"{{{COM}}}AnnotationTitle").text = text
        etree.SubElement(annotation, f"{{{COM}}}AnnotationType").text = kind
    etree.SubElement(node, f"{{{COM}}}Name", {"{http://www.w3.org/XML/1998/namespace}lang": "en"}).text = (
        f"Data available in {agency}:{flow}({version})")
    attachment = etree.SubElement(node, f"{{{STR}}}ConstraintAttachment")
    dataflow = etree.SubElement(attachment, f"{{{STR}}}Dataflow")
    etree.SubElement(dataflow, "Ref", id=flow, version=version, agencyID=agency, package="datastructure",
                     **{"class": "Dataflow"})
    region = etree.SubElement(node, f"{{{STR}}}CubeRegion", include="true")
    for component, present in values.items():
        key_value = etree.SubElement(region, f"{{{COM}}}KeyValue", id=component)
        for value in present:
            etree.SubElement(key_value, f"{{{COM}}}Value").text = value
    if period is not None:
        key_value = etree.SubElement(region, f"{{{COM}}}KeyValue", id="TIME_PERIOD")
        time_range = etree.SubElement(key_value, f"{{{COM}}}TimeRange")
        etree.SubElement(time_range, f"{{{COM}}}StartPeriod", isInclusive="true").text = period[0]
        etree.SubElement(time_range, f"{{{COM}}}EndPeriod", isInclusive="true").text = period[1]
    return node
