"""SDMX REST structure queries: 1.5 ``/{resource}/{agencyID}/{resourceID}/{version}/{itemID}`` and
2.x ``/structure/{type}/{agencyID}/{resourceID}/{version}/{itemID}``, answered as SDMX-ML 2.1 Structure messages
(or SDMX-ML 3.0 and SDMX-JSON 2.0, converted by pysdmx)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from exchange.api import caching
from exchange.api.deps import HubDep
from exchange.api.errors import sdmx_error
from exchange.catalog.artefacts import RESOURCES
from exchange.render import structures

router = APIRouter(tags=["SDMX REST"])
STRUCTURE_XML = "application/vnd.sdmx.structure+xml;version=2.1"
DETAILS = {"full", "allstubs", "referencestubs"}
V2_TYPES = {**{r: {r} for r in RESOURCES}, "dataconstraint": {"contentconstraint"}, "*": None}


def _error(status: int, message: str, request: Request) -> Response:
    return sdmx_error(status, message, request.headers.get("accept"))


def _structure_version(accept: str | None) -> str | None:
    """SDMX-ML 2.1 (the default), SDMX-ML 3.0 or SDMX-JSON 2.0: the first the Accept header takes."""
    for item in (accept or "*/*").split(","):
        base = item.split(";")[0].strip().lower()
        version = next((p.split("=", 1)[1].strip() for p in item.split(";")[1:] if p.strip().startswith("version=")),
                       None)
        if base in ("*/*", "application/*", "application/xml", "text/xml") or (
                base == "application/vnd.sdmx.structure+xml" and version in (None, "2.1")):
            return "2.1"
        if base == "application/vnd.sdmx.structure+xml" and version in ("3.0", "3.0.0"):
            return "3.0"
        if base == "application/vnd.sdmx.structure+json" and version in ("2.0", "2.0.0"):
            return "json"
    return None


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
    ml_version = _structure_version(request.headers.get("accept"))
    if ml_version is None:
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
    if ml_version == "3.0":
        return Response(structures.structure_30(body), media_type=structures.ML_30,
                        headers={"Vary": "Accept, Accept-Encoding", **validators})
    if ml_version == "json":
        return Response(structures.structure_json(body), media_type=structures.JSON_20,
                        headers={"Vary": "Accept, Accept-Encoding", **validators})
    return Response(body, media_type=STRUCTURE_XML, headers={"Vary": "Accept, Accept-Encoding", **validators})


@router.get("/structure/{artefact_type}", summary="Structure query (REST 2.x)")
@router.get("/structure/{artefact_type}/{agency}")
@router.get("/structure/{artefact_type}/{agency}/{resource_id}")
@router.get("/structure/{artefact_type}/{agency}/{resource_id}/{version}")
@router.get("/structure/{artefact_type}/{agency}/{resource_id}/{version}/{item}")
def structure_v2(artefact_type: str, request: Request, hub: HubDep, agency: str = "*", resource_id: str = "*",
                 version: str = "~", item: str | None = None) -> Response:
    if artefact_type not in V2_TYPES:
        types = ", ".join(sorted(V2_TYPES))
        return _error(400, f"{artefact_type} is not a structure type the hub holds ({types}).", request)
    versions = {"latest"} if version in ("~", "+") else _set(version, ",", "*")
    return _answer(hub, request, V2_TYPES[artefact_type], _set(agency, ",", "*"), _set(resource_id, ",", "*"),
                   versions, None if item in (None, "*") else item.replace(",", "+"))


@router.get("/{resource}", summary="Structure query (REST 1.5)")
@router.get("/{resource}/{agency}")
@router.get("/{resource}/{agency}/{resource_id}")
@router.get("/{resource}/{agency}/{resource_id}/{version}")
@router.get("/{resource}/{agency}/{resource_id}/{version}/{item}")
def structure_v1(resource: str, request: Request, hub: HubDep, agency: str = "all", resource_id: str = "all",
                 version: str = "latest", item: str | None = None) -> Response:
    if resource not in RESOURCES and resource != "structure":
        return _error(404, f"No resource {resource!r}.", request)
    resources = None if resource == "structure" else {resource}
    return _answer(hub, request, resources, _set(agency, "+", "all"), _set(resource_id, "+", "all"),
                   _set(version, "+", "all"), None if item in (None, "all") else item)
