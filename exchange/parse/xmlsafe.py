"""Refuse dangerous XML before any expansion: DTDs, entity declarations, external references.

SDMX-ML never needs a DTD (the messages are defined by XSDs), so any DOCTYPE is refused outright.
That closes billion-laughs and quadratic blow-up (entity expansion) and XXE (external entities)
before libxml2 expands anything; the parser is also built with entity resolution and network off.

``check_prolog`` is the cheap first look at a stream (its first 64 KB). ``refuse_dtd`` reads the whole
prolog of a document held in memory, however long: XML 1.0 (section 2.8, ``prolog ::= XMLDecl? Misc*
(doctypedecl Misc*)?``) lets any amount of comments, processing instructions and white space come before
the DOCTYPE, so a fixed window can be outrun. Note that ``resolve_entities=False`` does not stop libxml2
from expanding internal entities in attribute values: only refusing the DTD before it is read does.
"""

from __future__ import annotations

import re
from typing import Any, BinaryIO

from lxml import etree

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
        raise _dtd_forbidden()


def _dtd_forbidden(where: str | None = None) -> MessageError:
    return MessageError(
        "XML_DTD_FORBIDDEN", "The XML document declares a DTD (<!DOCTYPE ...>); the hub refuses DTDs and entities.",
        "Remove the DOCTYPE declaration: SDMX-ML messages are defined by XML Schemas and need no DTD.", where=where,
    )


class _PrologEnd(Exception):  # noqa: N818 - a signal, not an error
    """Raised by ``_PrologWatch`` to stop libxml2 at the first DOCTYPE or at the root element."""

    def __init__(self, doctype: bool) -> None:
        super().__init__("doctype" if doctype else "root")
        self.doctype = doctype


class _PrologWatch:
    """An lxml parser target (SAX-like): the parse stops at the DOCTYPE's name, before its internal subset
    (where entities are declared) is read, or at the root element's start tag, whichever comes first."""

    def doctype(self, _name: str | None, _pubid: str | None, _system: str | None) -> None:
        raise _PrologEnd(doctype=True)

    def start(self, _tag: str, _attrib: Any, _nsmap: Any = None) -> None:
        # No DTD came before the root, so its attributes can only hold the five predefined entities.
        raise _PrologEnd(doctype=False)

    def close(self) -> None:
        return None


class PrologGuard:
    """A read-through wrapper for streamed parsing: every chunk is shown to a prolog watcher before the real
    parser gets it, so a DOCTYPE after any amount of comments is refused before libxml2 reads its entity
    declarations (the streamed counterpart of ``refuse_dtd``; costs nothing once the root element is met)."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.watch: Any = etree.XMLParser(target=_PrologWatch(), resolve_entities=False, no_network=True,
                                          load_dtd=False, huge_tree=False)

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size)
        if self.watch is not None:
            try:
                if data:
                    self.watch.feed(data)
                else:
                    self.watch.close()
            except _PrologEnd as end:
                self.watch = None
                if end.doctype:
                    raise _dtd_forbidden() from None
            except etree.XMLSyntaxError:
                self.watch = None  # the real parser reports it, with its line and column
        return data


def refuse_dtd(data: bytes, chunk: int = HEAD_BYTES) -> None:
    """Raise MessageError (400) when ``data`` has a DOCTYPE anywhere in its prolog, or a prolog that is not
    well-formed. libxml2 reads the prolog itself (so every encoding it accepts is covered) but is stopped
    before it reads a DTD's declarations; nothing after the root's start tag is parsed here."""
    parser = etree.XMLParser(target=_PrologWatch(), resolve_entities=False, no_network=True, load_dtd=False,
                             huge_tree=False)
    try:
        for start in range(0, len(data), chunk):
            parser.feed(data[start:start + chunk])
        parser.close()
    except _PrologEnd as end:
        if end.doctype:
            raise _dtd_forbidden() from None
        return
    except etree.XMLSyntaxError as exc:
        raise MessageError("XML_NOT_WELL_FORMED", f"The XML is not well-formed: {exc.msg}",
                           "Fix the XML at the place named (an unclosed comment, a stray character before the "
                           "root element, a wrong encoding...).",
                           where=f"line {exc.lineno}, column {exc.offset}" if exc.lineno > 0 else None) from exc
    raise MessageError("XML_NOT_WELL_FORMED", "The XML document has no root element.",
                       "Send an SDMX-ML 2.1 structure message (root element mes:Structure).")
