"""SDMX error messages in the negotiated family (REST 1.5 4_7_errors.md; 2.x status.md).

XML clients get an SDMX-ML 2.1 ``mes:Error`` message (valid against SDMXMessage.xsd), JSON clients the
SDMX-JSON ``errors`` array; both carry the SDMX code of the HTTP status (100 no results, 140 syntax,
150 semantic, 501 not implemented, ...).
"""

from __future__ import annotations

from fastapi.responses import JSONResponse, Response
from lxml import etree

from exchange.rows import printable

V21 = "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/"
MES, COM = V21 + "message", V21 + "common"
SDMX_CODES = {400: 140, 401: 110, 403: 150, 404: 100, 406: 140, 413: 510, 422: 150, 500: 500, 501: 501, 503: 503}


def wants_json(accept: str | None) -> bool:
    ranked = [item.split(";")[0].strip().lower() for item in (accept or "").split(",")]
    return bool(ranked) and ("json" in ranked[0])


def sdmx_error(status: int, message: str, accept: str | None,
               headers: dict[str, str] | None = None) -> Response:
    code = SDMX_CODES.get(status, 500)
    message = printable(message)
    if wants_json(accept):
        return JSONResponse({"errors": [{"code": code, "title": message}]}, status_code=status, headers=headers)
    root = etree.Element(f"{{{MES}}}Error", nsmap={"mes": MES, "com": COM})
    error = etree.SubElement(root, f"{{{MES}}}ErrorMessage", code=str(code))
    etree.SubElement(error, f"{{{COM}}}Text", {"{http://www.w3.org/XML/1998/namespace}lang": "en"}).text = message
    body = etree.tostring(root, xml_declaration=True, encoding="utf-8")
    return Response(body, status_code=status, media_type="application/xml", headers=headers)


#: Paths whose clients read the hub's own JSON answers, not SDMX error messages.
JSON_PATHS = ("/submissions", "/stats", "/health", "/ready", "/metrics", "/docs", "/openapi.json")


def error_response(method: str, path: str, status: int, message: str, accept: str | None,
                   headers: dict[str, str] | None = None) -> Response:
    """An error in the family the route answers in: an SDMX error message for the SDMX REST reads (GET),
    the hub's JSON ``{"status", "code", "message"}`` for pushes, submissions and statistics."""
    if method in ("GET", "HEAD") and not path.startswith(JSON_PATHS):
        return sdmx_error(status, message, accept, headers)
    body = {"status": "rejected", "code": status, "message": printable(message)}
    return JSONResponse(body, status_code=status, headers=headers)
