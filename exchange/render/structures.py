"""SDMX-ML 3.0 and SDMX-JSON 2.0 structure messages, converted by pysdmx from the hub's SDMX-ML 2.1 answer.

sdmx1 writes SDMX-ML 2.1 structures only; pysdmx reads 2.1 and writes the others. Its output needs a few
repairs to be valid against the official schemas (tested):

* SDMX-ML 3.0: pysdmx keeps the 2.1 URN of a content constraint, while SDMX 3.0 calls the artefact a
  DataConstraint (SDMXStructureConstraint.xsd 3.0, ``urn`` pattern ``.+\\.registry\\.DataConstraint=.+``).
* SDMX-JSON 2.0 (sdmx-json-structure-schema.json): a dataflow's ``structure`` must be a full URN; an
  empty ``groups`` list is not allowed (the key is left out instead); an attribute's
  ``localRepresentation`` must say ``maxOccurs`` (1: the hub's attributes take one value); length facets
  are integers, not strings.
"""

from __future__ import annotations

import json
from typing import Any

ML_30 = "application/vnd.sdmx.structure+xml;version=3.0.0"
JSON_20 = "application/vnd.sdmx.structure+json;version=2.0.0"
_DSD_URN = "urn:sdmx:org.sdmx.infomodel.datastructure."


def _convert(message_21: bytes, target: str) -> str:
    from pysdmx.io import read_sdmx, write_sdmx  # imported on first use: the hub starts without it
    from pysdmx.io.format import Format

    structures = read_sdmx(message_21.decode("utf-8")).structures
    text = write_sdmx(structures, Format[target])
    assert text is not None  # without an output path pysdmx returns the message
    return text


def structure_30(message_21: bytes) -> bytes:
    text = _convert(message_21, "STRUCTURE_SDMX_ML_3_0")
    return text.replace(".registry.ContentConstraint=", ".registry.DataConstraint=").encode("utf-8")


def structure_json(message_21: bytes, sender: str = "UNECE") -> bytes:
    document = json.loads(_convert(message_21, "STRUCTURE_SDMX_JSON_2_0_0"))
    document.setdefault("meta", {})["sender"] = {"id": sender}
    data = document.get("data", {})
    for flow in data.get("dataflows", []):
        if isinstance(flow.get("structure"), str) and not flow["structure"].startswith("urn:"):
            flow["structure"] = _DSD_URN + flow["structure"]
    for dsd in data.get("dataStructures", []):
        _repair_components(dsd.get("dataStructureComponents", {}))
    return json.dumps(document, ensure_ascii=False).encode("utf-8")


_INTEGER_FACETS = ("minLength", "maxLength", "decimals")


def _repair_components(components: dict[str, Any]) -> None:
    if components.get("groups") == []:
        del components["groups"]
    for attribute in components.get("attributeList", {}).get("attributes", []):
        representation = attribute.get("localRepresentation")
        if isinstance(representation, dict):
            representation.setdefault("maxOccurs", 1)
    for kind, items in (("attributeList", "attributes"), ("dimensionList", "dimensions"),
                        ("measureList", "measures")):
        for component in components.get(kind, {}).get(items, []):
            facets = (component.get("localRepresentation") or {}).get("format") or {}
            for name in _INTEGER_FACETS:
                if isinstance(facets.get(name), str) and facets[name].isdigit():
                    facets[name] = int(facets[name])
