"""SDMX REST structure queries: 1.5 ``/{resource}/{agencyID}/{resourceID}/{version}/{itemID}`` and
2.x ``/structure/{type}/{agencyID}/{resourceID}/{version}/{itemID}``, answered as SDMX-ML 2.1 Structure messages
(or SDMX-ML 3.0 and SDMX-JSON 2.0, converted by pysdmx)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import Response

from exchange.api import caching
from exchange.api.contract import sdmx_errors
from exchange.api.deps import HubDep
from exchange.api.errors import sdmx_error
from exchange.catalog.artefacts import RESOURCES
from exchange.media import ANY_XML, choose
from exchange.render import structures

router = APIRouter(tags=["SDMX REST"])
STRUCTURE_XML = "application/vnd.sdmx.structure+xml;version=2.1"
STRUCTURE_ERRORS = sdmx_errors(304, 404, 406)
DETAILS = {"full", "allstubs", "referencestubs"}
V2_TYPES = {**{r: {r} for r in RESOURCES}, "dataconstraint": {"contentconstraint"}, "*": None}


def _error(status: int, message: str, request: Request) -> Response:
    return sdmx_error(status, message, request.headers.get("accept"))


#: (base type, version parameter) -> the form of the answer; SDMX-ML 2.1 is the default
_OFFERS: dict[tuple[str, str | None], str] = {
    **{(base, None): "2.1" for base in (*ANY_XML, "application/vnd.sdmx.structure+xml")},
    ("application/vnd.sdmx.structure+xml", "2.1"): "2.1",
    ("application/vnd.sdmx.structure+xml", "3.0"): "3.0", ("application/vnd.sdmx.structure+xml", "3.0.0"): "3.0",
    ("application/vnd.sdmx.structure+json", "2.0"): "json", ("application/vnd.sdmx.structure+json", "2.0.0"): "json"}
#: form -> (media type, converter of the SDMX-ML 2.1 message the hub builds; None: sent as it is)
_ANSWERS: dict[str, tuple[str, Callable[[bytes], bytes] | None]] = {
    "2.1": (STRUCTURE_XML, None), "3.0": (structures.ML_30, structures.structure_30),
    "json": (structures.JSON_20, structures.structure_json)}


def _set(value: str | None, sep: str, wildcard: str) -> set[str] | None:
    if value in (None, "", wildcard):
        return None
    return set(value.split(sep))


def _answer(hub: HubDep, request: Request, resources: set[str] | None, agencies: set[str] | None,
            ids: set[str] | None, versions: set[str] | None, item: str | None) -> Response:
    validators = caching.structure_validators(hub, request)
    if caching.not_modified(request, validators):
        return Response(status_code=304, headers=validators)
    params = request.query_params
    references, detail = params.get("references", "none"), params.get("detail", "full")
    if detail not in DETAILS:
        return _error(400, f"detail={detail} is not offered; use {', '.join(sorted(DETAILS))}.", request)
    chosen = choose(request.headers.get("accept"), _OFFERS)
    if chosen is None:
        return _error(406, f"Structures are offered as {STRUCTURE_XML} (the default), {structures.ML_30} and "
                           f"{structures.JSON_20}.", request)
    artefacts = hub.catalog.artefacts()
    keys = artefacts.select(resources, agencies, ids, versions)
    if not keys:
        return _error(404, "No structures match the query.", request)
    try:
        keys, referenced = artefacts.with_references(keys, references)
    except ValueError as exc:
        return _error(400, str(exc), request)
    body = artefacts.message(keys, referenced, detail, item)
    media_type, convert = _ANSWERS[chosen]
    return Response(convert(body) if convert else body, media_type=media_type,
                    headers={"Vary": "Accept, Accept-Encoding", **validators})


@router.get("/structure/{artefact_type}", summary="Structure query (REST 2.x)", responses=STRUCTURE_ERRORS)
@router.get("/structure/{artefact_type}/{agency}", responses=STRUCTURE_ERRORS)
@router.get("/structure/{artefact_type}/{agency}/{resource_id}", responses=STRUCTURE_ERRORS)
@router.get("/structure/{artefact_type}/{agency}/{resource_id}/{version}", responses=STRUCTURE_ERRORS)
@router.get("/structure/{artefact_type}/{agency}/{resource_id}/{version}/{item}", responses=STRUCTURE_ERRORS)
def structure_v2(artefact_type: str, request: Request, hub: HubDep, agency: str = "*", resource_id: str = "*",
                 version: str = "~", item: str | None = None) -> Response:
    if artefact_type not in V2_TYPES:
        types = ", ".join(sorted(V2_TYPES))
        return _error(400, f"{artefact_type} is not a structure type the hub holds ({types}).", request)
    versions = {"latest"} if version in ("~", "+") else _set(version, ",", "*")
    return _answer(hub, request, V2_TYPES[artefact_type], _set(agency, ",", "*"), _set(resource_id, ",", "*"),
                   versions, None if item in (None, "*") else item.replace(",", "+"))


@router.get("/{resource}", summary="Structure query (REST 1.5)", responses=STRUCTURE_ERRORS)
@router.get("/{resource}/{agency}", responses=STRUCTURE_ERRORS)
@router.get("/{resource}/{agency}/{resource_id}", responses=STRUCTURE_ERRORS)
@router.get("/{resource}/{agency}/{resource_id}/{version}", responses=STRUCTURE_ERRORS)
@router.get("/{resource}/{agency}/{resource_id}/{version}/{item}", responses=STRUCTURE_ERRORS)
def structure_v1(resource: str, request: Request, hub: HubDep, agency: str = "all", resource_id: str = "all",
                 version: str = "latest", item: str | None = None) -> Response:
    if resource not in RESOURCES and resource != "structure":
        return _error(404, f"No resource {resource!r}.", request)
    resources = None if resource == "structure" else {resource}
    return _answer(hub, request, resources, _set(agency, "+", "all"), _set(resource_id, "+", "all"),
                   _set(version, "+", "all"), None if item in (None, "all") else item)
