"""SDMX-ML 3.0 structure messages, converted by pysdmx from the hub's SDMX-ML 2.1 answer.

sdmx1 writes SDMX-ML 2.1 structures only; pysdmx reads 2.1 and writes 3.0. One fix-up keeps the result
valid against the official 3.0 XSD (tested): pysdmx keeps the 2.1 URN of a content constraint, while
SDMX 3.0 calls the artefact a DataConstraint (SDMXStructureConstraint.xsd 3.0, ``urn`` pattern
``.+\\.registry\\.DataConstraint=.+``). pysdmx's SDMX-JSON structure writer is not offered: its output
fails the official JSON schema (lengths as strings, URN patterns).
"""

from __future__ import annotations

MEDIA_TYPE = "application/vnd.sdmx.structure+xml;version=3.0.0"


def structure_30(message_21: bytes) -> bytes:
    from pysdmx.io import read_sdmx, write_sdmx  # imported on first use: the hub starts without it
    from pysdmx.io.format import Format

    structures = read_sdmx(message_21.decode("utf-8")).structures
    text = write_sdmx(structures, Format.STRUCTURE_SDMX_ML_3_0)
    assert text is not None  # without an output path pysdmx returns the message
    return text.replace(".registry.ContentConstraint=", ".registry.DataConstraint=").encode("utf-8")
