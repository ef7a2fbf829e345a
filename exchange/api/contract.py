"""The statuses each route answers, for the OpenAPI document (``responses=`` on the routes).

Two error bodies: the hub's own JSON (pushes, submissions, statistics) and SDMX error messages for the
SDMX REST reads (SDMX-ML 2.1 ``mes:Error`` by default, the SDMX-JSON ``errors`` array to JSON clients;
REST 1.5 4_7_errors.md, 2.x status.md). ``tests/test_openapi.py`` checks the hub answers no status its
document does not list.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class Error(BaseModel):
    """The hub's JSON error: what went wrong and how to fix it."""

    status: str
    code: int
    message: str


class SdmxErrorItem(BaseModel):
    code: int
    title: str


class SdmxErrors(BaseModel):
    """An SDMX-JSON error message (the SDMX code of the HTTP status, and the explanation)."""

    errors: list[SdmxErrorItem]


WHY = {
    204: "No data match the query (REST 2.x).",
    304: "Not modified since the validators given (If-None-Match / If-Modified-Since).",
    400: "The request is malformed: bad syntax, a bad parameter, or a character XML 1.0 cannot carry.",
    401: "No token, or a token the hub does not know.",
    403: "The token does not allow this.",
    404: "Nothing found: no such structure, submission or data (REST 1.5 answers 404 to an empty result).",
    406: "None of the representations asked for in Accept (or format=) is offered.",
    409: "A conflict: another push for the same dataflow and provider is running, or a reference cannot be resolved.",
    413: "The message or the answer is larger than the hub accepts or serves.",
    415: "The body is not in a format the hub accepts.",
    422: "The request or the message is invalid; the answer lists the issues.",
    501: "An SDMX feature the hub does not offer.",
    503: "The database cannot be used right now (unreachable, locked or out of disk); retry after Retry-After seconds.",
}
SDMX_ERROR_CONTENT = {
    "application/xml": {"schema": {"type": "string", "description": "An SDMX-ML 2.1 mes:Error message."}},
    "application/json": {"schema": SdmxErrors.model_json_schema()},
}
RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}}}


def hub_errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for routes answering the hub's JSON errors, with 400 and 503 (every route can)."""
    return {status: _with_headers(status, {"model": Error, "description": WHY[status]})
            for status in sorted({400, 503, *statuses})}


def sdmx_errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for the SDMX REST reads: SDMX error messages, with 400 and 503 (every route can)."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in sorted({400, 503, *statuses}):
        if status in (204, 304):
            out[status] = {"description": WHY[status]}
        else:
            out[status] = _with_headers(status, {"description": WHY[status], "content": SDMX_ERROR_CONTENT})
    return out


def _with_headers(status: int, response: dict[str, Any]) -> dict[str, Any]:
    return {**response, "headers": RETRY_AFTER} if status == 503 else response


#: Text XML 1.0 can carry (XML 1.0 section 2.2): what exchange.api.guard lets through, as a JSON Schema pattern.
XML_TEXT = "^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\ufffe\\uffff]*$"
#: Values the hub takes for some path parameters, by (path template prefix, parameter name): the document
#: lists them so it allows no request the hub refuses as malformed.
ENUMS: dict[tuple[str, str], list[str]] = {
    ("/availability/", "context"): ["dataflow", "datastructure", "provisionagreement", "*"],
    ("/schema/", "context"): ["datastructure", "dataflow"],
}


#: The bodies the pushes take, which the routes read as streams (so FastAPI cannot list them itself).
BODIES = {
    ("/data", "post"): ("An SDMX data message: SDMX-ML 2.1 or 3.0, SDMX-CSV 1.0 or 2.x, SDMX-JSON 2.0; gzip accepted.",
                        ["application/vnd.sdmx.structurespecificdata+xml;version=2.1",
                         "application/vnd.sdmx.genericdata+xml;version=2.1", "application/vnd.sdmx.data+xml;version=3.0.0",
                         "application/vnd.sdmx.data+csv;version=2.0.0", "application/vnd.sdmx.data+json;version=2.0.0"]),
    ("/structure", "post"): ("An SDMX-ML 2.1 structure message.", ["application/vnd.sdmx.structure+xml;version=2.1"]),
}


def constrain(document: dict[str, Any], enums: dict[tuple[str, str], list[str]]) -> dict[str, Any]:
    """The OpenAPI document with each string parameter limited to XML-legal text and the enumerations above,
    and the push bodies described."""
    for (path, method), (description, types) in BODIES.items():
        operation = document.get("paths", {}).get(path, {}).get(method)
        if operation is not None:
            operation["requestBody"] = {"required": True, "description": description, "content": {
                media_type: {"schema": {"type": "string", "format": "binary"}} for media_type in types}}
    for path, operations in document.get("paths", {}).items():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                choices = next((v for (prefix, name), v in enums.items()
                                if path.startswith(prefix) and parameter["name"] == name), None)
                if choices is not None:
                    parameter["schema"] = {"type": "string", "enum": choices}
                else:
                    _xml_text(parameter.get("schema", {}))
    return document


def _xml_text(schema: dict[str, Any]) -> None:
    if schema.get("type") == "string" and not {"pattern", "enum", "format"} & set(schema):
        schema["pattern"] = XML_TEXT
    for sub in [*schema.get("anyOf", []), *([schema["items"]] if "items" in schema else [])]:
        _xml_text(sub)
