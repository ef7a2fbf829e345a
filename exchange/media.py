"""SDMX media types as data, and format detection for pushed messages (Content-Type, then sniffing)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from exchange.query import QueryError
from exchange.rows import MessageError


@dataclass(frozen=True)
class Format:
    family: str  # "sdmx-ml" | "sdmx-csv" | "sdmx-json"
    label: str


SDMX_ML = Format("sdmx-ml", "SDMX-ML")
SDMX_CSV = Format("sdmx-csv", "SDMX-CSV")
SDMX_JSON = Format("sdmx-json", "SDMX-JSON")

#: Input media types (REST 1.5 4_6_conneg.md; REST 2.x content_negotiation.md) -> the parser family.
INPUT_TYPES: dict[str, Format] = {
    "application/vnd.sdmx.genericdata+xml": SDMX_ML,
    "application/vnd.sdmx.structurespecificdata+xml": SDMX_ML,
    "application/vnd.sdmx.generictimeseriesdata+xml": SDMX_ML,
    "application/vnd.sdmx.structurespecifictimeseriesdata+xml": SDMX_ML,
    "application/vnd.sdmx.data+xml": SDMX_ML,
    "application/xml": SDMX_ML,
    "text/xml": SDMX_ML,
    "application/vnd.sdmx.data+csv": SDMX_CSV,
    "text/csv": SDMX_CSV,
    "application/vnd.sdmx.data+json": SDMX_JSON,
    "application/json": SDMX_JSON,
}
#: Types that say nothing of the content: sniff it.
GENERIC_TYPES = frozenset({"", "application/octet-stream", "application/gzip", "application/x-gzip", "text/plain"})
SUPPORTED_INPUT = (SDMX_ML, SDMX_CSV, SDMX_JSON)


#: Accept types that take any XML answer: the XML default of each resource.
ANY_XML = ("*/*", "application/*", "application/xml", "text/xml")


#: A q-value (RFC 9110 12.4.2): "0" to "1" with at most three decimals.
_QVALUE = re.compile(r"^(?:0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)$")


def ranked_accept(accept: str | None) -> list[tuple[str, dict[str, str]]]:
    """The items of an Accept header, best first (q-value, then the client's order; RFC 9110 12.5.1), each as
    (lower-case base type, parameters without q). No header means ``*/*``. Items with q=0 are left out ("not
    acceptable", RFC 9110 12.4.2); a q-value that is not one is a QueryError (400)."""
    ranked = []
    for index, item in enumerate((accept or "*/*").split(",")):
        parts = [p.strip() for p in item.split(";")]
        params = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
        quality = _quality(params.pop("q", "1").strip(), parts[0])
        if quality > 0:
            ranked.append((-quality, index, parts[0].lower(), params))
    return [(base, params) for _q, _i, base, params in sorted(ranked)]


def _quality(text: str, media_range: str) -> float:
    if not _QVALUE.match(text):
        raise QueryError(f"Accept: q={text!r} for {media_range!r} is not a quality value; use a number from 0 to 1 "
                         "with at most three decimals, e.g. q=0.5 (RFC 9110 12.4.2).")
    return float(text)


def choose(accept: str | None, offers: Mapping[tuple[str, str | None], str]) -> str | None:
    """The offer the Accept header ranks first; ``offers`` is keyed by (base type, version parameter or None
    when the client gives no version)."""
    for base, params in ranked_accept(accept):
        offer = offers.get((base, params.get("version")))
        if offer is not None:
            return offer
    return None


def media_type_base(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def sniff(head: bytes) -> Format | None:
    """Guess the family from the first bytes of a (decompressed) body."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"<"):
        return SDMX_ML
    if text.startswith((b"{", b"[")):
        return SDMX_JSON
    first_line = text.split(b"\n", 1)[0].upper()
    if first_line.startswith((b"DATAFLOW", b"STRUCTURE", b'"DATAFLOW', b'"STRUCTURE')):
        return SDMX_CSV
    return None


def detect(content_type: str | None, head: bytes) -> Format:
    """The parser family for a pushed body, or MessageError 415 naming what is accepted."""
    base = media_type_base(content_type)
    declared = INPUT_TYPES.get(base)
    if declared is None and base not in GENERIC_TYPES:
        raise MessageError("UNSUPPORTED_MEDIA_TYPE", f"Content-Type {base!r} is not an SDMX data format.",
                           "Send SDMX-ML 2.1 (generic or structure-specific), SDMX-ML 3.0 or SDMX-CSV 1.0/2.0 with its SDMX "
                           "media type, e.g. application/vnd.sdmx.structurespecificdata+xml;version=2.1.", status=415)
    sniffed = sniff(head)
    fmt = sniffed or declared
    if fmt is None:
        raise MessageError("UNRECOGNISED_CONTENT", "The body is neither SDMX-ML, SDMX-JSON nor SDMX-CSV.",
                           "Check that you are sending the SDMX file itself (UTF-8 XML or CSV), not another file.",
                           status=415)
    if fmt not in SUPPORTED_INPUT:
        raise MessageError("UNSUPPORTED_FORMAT", f"{fmt.label} input is not accepted yet.",
                           "Send SDMX-ML 2.1 or SDMX-CSV 1.0/2.0 instead.", status=415)
    return fmt
