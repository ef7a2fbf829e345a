"""Refuse dangerous XML before any expansion: DTDs, entity declarations, external references.

SDMX-ML never needs a DTD (the messages are defined by XSDs), so any DOCTYPE is refused outright.
That closes billion-laughs and quadratic blow-up (entity expansion) and XXE (external entities)
before libxml2 expands anything; the parser is also built with entity resolution and network off.
"""

from __future__ import annotations

import re
from typing import BinaryIO

from exchange.rows import MessageError

_PROLOG_ITEM = re.compile(rb"\s*(<\?.*?\?>|<!--.*?-->)", re.S)
HEAD_BYTES = 64 * 1024


def check_prolog(stream: BinaryIO) -> None:
    """Look at the bytes before the root element; raise MessageError for a DTD or a non-UTF-8/16 document."""
    peek = getattr(stream, "peek", None)
    if peek is not None:
        head = peek(HEAD_BYTES)[:HEAD_BYTES]
    else:
        head = stream.read(HEAD_BYTES)
        stream.seek(0)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = head.decode("utf-16", errors="ignore").encode("utf-8")
    else:
        text = head[3:] if head.startswith(b"\xef\xbb\xbf") else head
    pos = 0
    while True:
        match = _PROLOG_ITEM.match(text, pos)
        if match is None:
            break
        pos = match.end()
    rest = text[pos:].lstrip()
    if rest[:9].upper().startswith(b"<!DOCTYPE") or rest.startswith(b"<!ENTITY"):
        raise MessageError(
            "XML_DTD_FORBIDDEN", "The XML document declares a DTD (<!DOCTYPE ...>); the hub refuses DTDs and entities.",
            "Remove the DOCTYPE declaration: SDMX-ML messages are defined by XML Schemas and need no DTD.",
        )
