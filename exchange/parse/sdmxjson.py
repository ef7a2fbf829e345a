"""SDMX-JSON data messages 1.0, 2.0 and 2.1 (sdmx-json field guides), read as a stream.

SDMX-JSON indexes every component value in the structure part and refers to positions in it, and a JSON
object's members may come in any order (RFC 8259 section 4): the structure may follow the data, a dataset's
``action`` may follow its ``series``. So the message is read twice, never whole:

1. the first pass, run when ``parse`` is called (before the hub takes any lock), copies the body to a
   temporary file, checks the whole syntax and keeps only the small parts: the structures, each dataset's
   header (``structure``, ``action``, ``links``, ``attributes``) and the attributes of the rare series that
   give them after their observations;
2. the second pass reads the copy again and yields one ``Obs`` per observation as its array is read.

Only single JSON values are ever decoded whole (an observation array, a series' attribute list, a structure),
each capped in size; the ``dataSets``, ``series`` and ``observations`` containers are walked member by member.
Series keys and observation keys are positions in the ``series`` and ``observation`` dimension lists; an
observation array holds the measure value(s) first, then the observation attributes' value indexes.
Numbers are passed on as the text the message wrote (``1e400``, ``NaN`` and ``-Infinity`` included), so the
validator judges them; a lone UTF-16 surrogate (``"\\ud800"``) cannot be text and is refused here.
"""

from __future__ import annotations

import codecs
import json
import re
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any, BinaryIO

from exchange.rows import Action, DataSet, MessageError, Obs, StructureRef

_KINDS = {"dataflow": "dataflow", "datastructure": "datastructure", "provisionagreement": "provisionagreement"}
#: urn:sdmx:org.sdmx.infomodel.datastructure.Dataflow=AGENCY:ID(VERSION) (SDMX 2.1 Section 5, URN structure)
_URN = re.compile(r"urn:sdmx:org\.sdmx\.infomodel\.[a-z]+\.[A-Za-z]+=([A-Za-z0-9_@$.\-]+):([A-Za-z0-9_@$\-]+)"
                  r"(?:\(([A-Za-z0-9_.+*\-]*)\))?")
#: an SDMX identifier (SDMX 2.1 SDMXCommon.xsd, IDType)
_ID = re.compile(r"[A-Za-z0-9_@$\-]+")
_WS = re.compile(r"[ \t\n\r]*")
_WS_CHARS = " \t\n\r"
#: an object member's name without escapes and the ':' after it (the common case, matched in one go)
_NAME = re.compile(r'[ \t\n\r]*"([^"\\\x00-\x1f]*)"[ \t\n\r]*:[ \t\n\r]*')
#: what follows a member or an item: ',' or the closing bracket
_NEXT = re.compile(r"[ \t\n\r]*([,}\]])")
_SURROGATE = re.compile("[\ud800-\udfff]")
_BYTES = 1 << 20  # bytes read from the body at a time
_WINDOW = 1 << 16  # characters kept ahead of the reader, so that small values decode in one go
#: the largest single JSON value decoded whole (a structure, meta, a dataset header field), in characters
MAX_VALUE_CHARS = 8 << 20
#: the largest observation array or series attribute list, in characters
MAX_ROW_CHARS = 1 << 20
MAX_DATASETS = 1000
#: series whose attributes come after their observations are remembered from the first pass, up to this many
MAX_LATE_SERIES = 100_000
_FIX_SYNTAX = "Fix the JSON syntax at the place named (RFC 8259); most JSON libraries write valid JSON."
_FIX_SHAPE = "Follow the SDMX-JSON data message layout (sdmx-json field guide, 'data' and 'dataSets')."


def _text_numbers() -> json.JSONDecoder:
    """Numbers and NaN / Infinity kept as the text the message wrote: the validator decides what is numeric."""
    return json.JSONDecoder(parse_float=str, parse_int=str, parse_constant=str)


_ROW_DECODER = _text_numbers()
#: structures and dataset headers: integers are positions, other numbers stay text
_STRUCTURE_DECODER = json.JSONDecoder(parse_float=str, parse_constant=str)


def _malformed(message: str, where: str | None) -> MessageError:
    return MessageError("JSON_MALFORMED", message, _FIX_SYNTAX, where=where)


def _shape(message: str, where: str, fix: str = _FIX_SHAPE) -> MessageError:
    return MessageError("JSON_SCHEMA_VIOLATION", message, fix, where=where)


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "true/false", type(None): "null"}
    return names.get(type(value), "a number")


# --- reading JSON text a window at a time ----------------------------------------------------------------


class _Source:
    """The message text, decoded from UTF-8 a megabyte at a time; errors name line and column.

    With ``copy``, every byte read is also written there, for the second pass.
    """

    def __init__(self, stream: BinaryIO, copy: IO[bytes] | None = None) -> None:
        self.stream = stream
        self.copy = copy
        self.decoder = codecs.getincrementaldecoder("utf-8-sig")()
        self.buf = ""
        self.pos = 0
        self.eof = False
        self.bytes_read = 0
        self.line = 1  # line number of buf[0]
        self.column0 = 0  # characters between the start of that line and buf[0]

    def _read(self) -> None:
        chunk = self.stream.read(_BYTES)
        if self.copy is not None and chunk:
            self.copy.write(chunk)
        try:
            text = self.decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as exc:
            raise MessageError("NOT_UTF8", f"The JSON is not valid UTF-8 ({exc.reason}).", "Save the file as UTF-8.",
                               where=f"byte {self.bytes_read + exc.start}") from exc
        self.bytes_read += len(chunk)
        self.eof = not chunk
        if self.pos:
            dropped = self.buf[: self.pos]
            newlines = dropped.count("\n")
            self.line += newlines
            self.column0 = len(dropped) - dropped.rfind("\n") - 1 if newlines else self.column0 + len(dropped)
            self.buf, self.pos = self.buf[self.pos:], 0
        self.buf += text

    def ahead(self, chars: int) -> None:
        """Make at least ``chars`` characters available after ``pos`` (fewer at the end of the message)."""
        while not self.eof and len(self.buf) - self.pos < chars:
            self._read()

    def where(self, pos: int | None = None) -> str:
        pos = self.pos if pos is None else pos
        before = self.buf[:pos]
        newlines = before.count("\n")
        column = pos - before.rfind("\n") if newlines else self.column0 + pos + 1
        return f"line {self.line + newlines}, column {column}"

    def peek(self) -> str:
        """The next character after white space ('' at the end), without taking it."""
        char = self.buf[self.pos: self.pos + 1]
        if char and char not in _WS_CHARS:
            return char
        while True:
            self.pos = _WS.match(self.buf, self.pos).end()  # type: ignore[union-attr]
            if self.pos < len(self.buf) or self.eof:
                return self.buf[self.pos: self.pos + 1]
            self._read()

    def take(self, expected: str, what: str) -> None:
        if self.peek() != expected:
            found = self.buf[self.pos: self.pos + 20] or "the end of the message"
            raise _malformed(f"The JSON cannot be read: expected {what}, found {found!r}.", self.where())
        self.pos += 1

    def value(self, limit: int, decoder: json.JSONDecoder = _ROW_DECODER) -> Any:
        """Decode the next JSON value whole; it may be at most ``limit`` characters long."""
        if len(self.buf) - self.pos > _WINDOW and self.buf[self.pos] not in _WS_CHARS:
            try:  # the common case: a small value, well inside the text read
                value, end = decoder.scan_once(self.buf, self.pos)  # type: ignore[attr-defined]
                if end < len(self.buf) and end - self.pos <= limit:
                    self.pos = end
                    return value
            except Exception:  # noqa: S110 - decoded again below, which names the fault
                pass
        return self._value(limit, decoder)

    def _value(self, limit: int, decoder: json.JSONDecoder) -> Any:
        self.peek()
        want = _WINDOW
        while True:
            self.ahead(want)
            available = len(self.buf) - self.pos
            try:
                value, end = decoder.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                # A fault at the end of the text read so far (or an open string) may only mean: read more.
                cut = len(self.buf) - exc.pos <= 16 or exc.msg.startswith("Unterminated string")
                if self.eof or not cut or available >= limit:
                    raise self._decode_error(exc, cut and available >= limit, limit) from exc
            except RecursionError as exc:
                raise _malformed("The JSON is nested deeper than the hub reads (SDMX-JSON needs fewer than 20 "
                                 "levels).", self.where()) from exc
            except ValueError as exc:  # an integer of more than 4300 digits
                raise _malformed(f"The JSON holds a value that cannot be read: {exc}.", self.where()) from exc
            else:
                if end - self.pos > limit:
                    raise self._too_long(limit)
                if end < len(self.buf) or self.eof:  # a number could go on in the part not read yet
                    self.pos = end
                    return value
            want = min(want * 4, limit + 1)

    def _decode_error(self, exc: json.JSONDecodeError, too_long: bool, limit: int) -> MessageError:
        if too_long:
            return self._too_long(limit)
        return _malformed(f"The JSON cannot be read: {exc.msg}.", self.where(exc.pos))

    def _too_long(self, limit: int) -> MessageError:
        return MessageError("TOO_LARGE", f"A single JSON value is longer than the hub reads whole ({limit} "
                            "characters).", "Split the message, or shorten the value (SDMX-JSON needs no value "
                            "this long).", status=413, where=self.where())

    def members(self) -> Iterator[str]:
        """The keys of the object that starts here; the caller reads each member's value before the next key."""
        self.take("{", "an object")
        if self.peek() == "}":
            self.pos += 1
            return
        while True:
            if len(self.buf) - self.pos < _WINDOW:
                self.ahead(_WINDOW)
            name = _NAME.match(self.buf, self.pos)
            if name is not None:
                self.pos = name.end()
                yield name[1]
            else:
                if self.peek() != '"':
                    self.take('"', "a member name in double quotes")
                key = self.value(MAX_ROW_CHARS)
                self.take(":", "':' after a member name")
                yield key
            if self._next("}", "',' or '}' after an object member"):
                return

    def items(self) -> Iterator[int]:
        """The positions of the array that starts here; the caller reads each item before the next."""
        self.take("[", "an array")
        if self.peek() == "]":
            self.pos += 1
            return
        index = 0
        while True:
            yield index
            index += 1
            if self._next("]", "',' or ']' after an array item"):
                return

    def _next(self, closing: str, what: str) -> bool:
        """Take the ',' (False) or the ``closing`` bracket (True) after a member or item."""
        found = _NEXT.match(self.buf, self.pos)
        if found is None or found.end() == len(self.buf):
            if self.peek() != ",":
                self.take(closing, what)
                return True
            self.pos += 1
            return False
        if found[1] == ",":
            self.pos = found.end()
            return False
        if found[1] != closing:
            self.take(closing, what)
        self.pos = found.end()
        return True

    def skip(self, depth: int = 0) -> None:
        """Pass over the next value without keeping it: small ones decoded at once, large ones member by member."""
        if depth > 64:
            raise _malformed("The JSON is nested deeper than the hub reads (SDMX-JSON needs fewer than 20 levels).",
                             self.where())
        start = self.peek()
        if start not in "{[" or not start:
            self.value(MAX_VALUE_CHARS)
            return
        if len(self.buf) - self.pos < _WINDOW:
            self.ahead(_WINDOW)
        try:
            _, end = _ROW_DECODER.scan_once(self.buf, self.pos)  # type: ignore[attr-defined]
        except Exception:  # too long for the window, or malformed: walk it and the fault is named where it is
            end = -1
        if 0 < end < len(self.buf):
            self.pos = end
            return
        for _ in self.members() if start == "{" else self.items():
            self.skip(depth + 1)

    def kind(self) -> str:
        """What the next value is, for an error message (it is read)."""
        return _kind(self.value(MAX_VALUE_CHARS, _STRUCTURE_DECODER))

    def end(self) -> None:
        if self.peek():
            raise _malformed("The JSON goes on after the end of the message object.", self.where())


# --- the structure: component values by position ------------------------------------------------------


class _Component:
    """A dimension or attribute of the structure part, with its values in order (positions index them)."""

    __slots__ = ("id", "values", "_by_text")

    def __init__(self, ident: str, values: list[str | None]) -> None:
        self.id = ident
        self.values = values
        self._by_text = {str(i): v for i, v in enumerate(values)}

    def at(self, position: Any, where: str) -> str | None:
        """The value at ``position`` (a key part or an array entry); JSON_BAD_INDEX when there is none."""
        if position is None:
            return None
        text = position if isinstance(position, str) else str(position) if type(position) is int else ""
        try:
            return self._by_text[text]
        except KeyError:
            raise MessageError("JSON_BAD_INDEX", f"{self.id} has {len(self.values)} values in the structure; the "
                               f"message refers to value {position!r}.", "Make every index in the keys and "
                               "observation arrays point into the component's 'values' list.", where=where) from None


@dataclass
class _Structure:
    reference: StructureRef | None = None
    dataset_dims: list[_Component] = field(default_factory=list)
    series_dims: list[_Component] = field(default_factory=list)
    obs_dims: list[_Component] = field(default_factory=list)
    measures: list[str] = field(default_factory=lambda: ["OBS_VALUE"])
    dataset_attrs: list[_Component] = field(default_factory=list)
    series_attrs: list[_Component] = field(default_factory=list)
    obs_attrs: list[_Component] = field(default_factory=list)


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _shape(f"{where} is {_kind(value)}; SDMX-JSON wants an object here.", where)
    return value


def _array(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise _shape(f"{where} is {_kind(value)}; SDMX-JSON wants an array here.", where)
    return value


def _text(value: str, where: str) -> str:
    if not value.isascii() and _SURROGATE.search(value):
        raise _malformed(f"A string holds a lone UTF-16 surrogate: \"{_label(value[:100])}\"; "
                         "it is not a character and cannot be stored.", where)
    return value


def _entry_value(entry: Any, where: str) -> str | None:
    """A component value entry: {"id": ...} for coded values, {"value": ...} for others (2.0 localised too)."""
    if entry is None:
        return None
    value = _object(entry, where).get("id", entry.get("value"))
    if value is None and "name" in entry and "names" not in entry:
        value = entry["name"]  # the legacy layout (ECB, OECD) gives an uncoded value as its name only
    if isinstance(value, dict):  # a localised text {"en": "..."}: English, else the first language given
        value = value.get("en", next(iter(value.values()), None))
    if value is None:
        return None
    if isinstance(value, dict | list):
        raise _shape(f"{where} holds {_kind(value)}; a component value is a string or a number.", where)
    return _text(str(value), where)


def _identifier(ident: Any, where: str) -> str:
    if not isinstance(ident, str) or _ID.fullmatch(ident) is None:
        raise _shape(f"{where}.id is {_label(ident) if isinstance(ident, str) else _kind(ident)}; a component id is "
                     "an SDMX identifier (letters, digits, '_', '-', '@', '$').", where)
    return ident


def _label(text: str) -> str:
    """``text`` for an issue: control characters and lone surrogates escaped (keys and ids are echoed back)."""
    return text if text.isprintable() else repr(text)[1:-1]


def _components(container: Any, level: str, where: str) -> list[_Component]:
    items = _array(_object(container, where).get(level, []), f"{where}.{level}")
    out = []
    for i, item in enumerate(items):
        at = f"{where}.{level}[{i}]"
        ident = _identifier(_object(item, at).get("id"), at)
        values = _array(item.get("values", []), f"{at}.values")
        out.append(_Component(ident, [_entry_value(v, f"{at}.values[{j}]") for j, v in enumerate(values)]))
    return out


def _reference(links: Any, where: str) -> StructureRef | None:
    for i, link in enumerate(_array(links, where)):
        at = f"{where}[{i}]"
        kind = _KINDS.get(str(_object(link, at).get("rel", "")).lower())
        urn = link.get("urn")
        if kind and urn is None and isinstance(link.get("href"), str):
            urn = _href_reference(link["href"], kind)
        if not kind or urn is None:
            continue
        match = _URN.fullmatch(urn) if isinstance(urn, str) else None
        if match is None:
            raise _shape(f"{at}.urn {urn!r} is not an SDMX URN.", at, "Write the URN in full, e.g. urn:sdmx:org.sdmx."
                         "infomodel.datastructure.Dataflow=UNECE:MIGR_FLOW(1.0).")
        return StructureRef(kind, match[1], match[2], match[3] or "")
    return None


#: a REST structure URL: .../dataflow/ECB/EXR/1.0 (what ECB's legacy SDMX-JSON links give, as ``href`` only)
_HREF = re.compile(r"/(?:structure/)?(dataflow|datastructure|provisionagreement)/([^/?#]+)/([^/?#]+)(?:/([^/?#]+))?")


def _href_reference(href: str, kind: str | None = None) -> str | None:
    """The URN of the structure a REST URL names (the latest version when it names none), or None."""
    match = _HREF.search(href)
    if match is None or match[1] != (kind or match[1]):
        return None
    cls = {"dataflow": "datastructure.Dataflow", "datastructure": "datastructure.DataStructure",
           "provisionagreement": "registry.ProvisionAgreement"}[match[1]]
    version = "" if match[4] in (None, "latest", "~", "+", "*") else match[4]
    return f"urn:sdmx:org.sdmx.infomodel.{cls}={match[2]}:{match[3]}" + (f"({version})" if version else "")


def _structure(raw: Any, where: str) -> _Structure:
    raw = _object(raw, where)
    dims = raw.get("dimensions", {})
    attrs = raw.get("attributes", {})
    measures = _object(raw.get("measures", {}), f"{where}.measures").get("observation") or [{"id": "OBS_VALUE"}]
    measure_ids = []
    for i, measure in enumerate(_array(measures, f"{where}.measures.observation")):
        at = f"{where}.measures.observation[{i}]"
        measure_ids.append(_identifier(_object(measure, at).get("id", "OBS_VALUE"), at))
    reference = _reference(raw.get("links", []), f"{where}.links")
    uri = raw.get("uri")  # the sdmx-json drafts ECB served: "uri": ".../dataflow/ECB/EXR/1.0"
    if reference is None and isinstance(uri, str) and (urn := _href_reference(uri)) is not None:
        reference = _reference([{"rel": urn.split("=")[0].rsplit(".", 1)[-1].lower(), "urn": urn}], f"{where}.uri")
    return _Structure(
        reference,
        _components(dims, "dataSet", f"{where}.dimensions"), _components(dims, "series", f"{where}.dimensions"),
        _components(dims, "observation", f"{where}.dimensions"), measure_ids,
        _components(attrs, "dataSet", f"{where}.attributes"), _components(attrs, "series", f"{where}.attributes"),
        _components(attrs, "observation", f"{where}.attributes"))


# --- pass 1: the small parts ---------------------------------------------------------------------------

_HEADER_KEYS = ("structure", "action", "links", "attributes")


@dataclass
class _Outline:
    """What the first pass keeps: raw structures, dataset headers, late series attributes."""

    structures: list[Any] = field(default_factory=list)
    headers: list[dict[str, Any]] = field(default_factory=list)
    late: dict[tuple[int, int], Any] = field(default_factory=dict)  # (dataset, series ordinal) -> attributes
    v1: bool = False  # SDMX-JSON 1.0: one data.structure
    #: "data." (SDMX-JSON 1.0 and 2.x: meta + data), or "" for the layout ECB and OECD serve (issue #11 class 7):
    #: header, structure and dataSets at the top level, as sdmx-json drafts wrote it before 1.0 settled on data
    prefix: str = "data."

    def structure_paths(self) -> list[str]:
        if self.v1:
            return [f"{self.prefix}structure"]
        return [f"{self.prefix}structures[{i}]" for i in range(len(self.structures))]


def _outline(src: _Source) -> _Outline:
    outline = _Outline()
    if src.peek() != "{":
        if not src.peek():
            raise _malformed("The JSON cannot be read: the message is empty.", src.where())
        raise _not_sdmx()
    found: set[str] = set()  # the layouts met: "data." and / or "" (top level)
    for key in src.members():
        if key == "data":
            if src.peek() != "{":
                raise _not_sdmx()
            for data_key in src.members():
                if _outline_member(src, outline, data_key, "data."):
                    found.add("data.")
        elif key in ("structure", "structures", "dataSets"):  # the legacy top-level layout
            if _outline_member(src, outline, key, ""):
                found.add("")
        else:
            src.skip()
    src.end()
    if not found:
        raise _not_sdmx()
    if len(found) > 1:
        raise _shape("The message has dataSets both in 'data' and at the top level.", "dataSets", "Send one layout: "
                     "'data.dataSets' (SDMX-JSON 1.0 and 2.x) or top-level 'dataSets' (the older ECB/OECD layout).")
    outline.prefix = found.pop()
    return outline


def _outline_member(src: _Source, outline: _Outline, key: str, prefix: str) -> bool:
    """Read one member of ``data`` (or of the top level, legacy layout); True when it was the dataSets."""
    if key == "structures":
        outline.structures = _array(src.value(MAX_VALUE_CHARS, _STRUCTURE_DECODER), f"{prefix}structures")
    elif key == "structure":
        outline.structures, outline.v1 = [src.value(MAX_VALUE_CHARS, _STRUCTURE_DECODER)], True
    elif key == "dataSets":
        _outline_datasets(src, outline, prefix)
        return True
    else:
        src.skip()
    return False


def _not_sdmx() -> MessageError:
    return MessageError("NOT_SDMX_DATA", "The JSON is not an SDMX-JSON data message (no data.dataSets).",
                        "Send an SDMX-JSON 1.0 or 2.0 data message.", status=415)


def _outline_datasets(src: _Source, outline: _Outline, prefix: str) -> None:
    if src.peek() != "[":
        raise _not_sdmx()
    for index in src.items():
        where = f"{prefix}dataSets[{index}]"
        if index >= MAX_DATASETS:
            raise _shape(f"The message holds more than {MAX_DATASETS} datasets.", where, "Send fewer, larger "
                         "datasets (one per dataflow and action), or split the message.")
        if src.peek() != "{":
            raise _shape(f"{where} is {src.kind()}; SDMX-JSON wants an object here.", where)
        header: dict[str, Any] = {}
        for key in src.members():
            if key in _HEADER_KEYS:
                header[key] = src.value(MAX_VALUE_CHARS, _STRUCTURE_DECODER)
            elif key == "series":
                _outline_series(src, outline, index, f"{where}.series")
            else:
                src.skip()
        outline.headers.append(header)


def _outline_series(src: _Source, outline: _Outline, dataset: int, where: str) -> None:
    """Check the series are an object of objects, and remember attributes that follow their observations."""
    if src.peek() != "{":
        raise _shape(f"{where} is {src.kind()}; SDMX-JSON wants an object of series, keyed "
                     "by series key ('0:1:0').", where)
    for ordinal, key in enumerate(src.members()):
        at = f"{where}[{_label(key)}]"
        if src.peek() != "{":
            raise _shape(f"{at} is {src.kind()}; a series is an object.", at)
        seen_observations = False
        for member in src.members():
            if member == "attributes" and seen_observations:
                if len(outline.late) >= MAX_LATE_SERIES:
                    raise _shape(f"More than {MAX_LATE_SERIES} series give their attributes after their "
                                 "observations.", at, "Write each series' 'attributes' before its 'observations'.")
                outline.late[(dataset, ordinal)] = src.value(MAX_ROW_CHARS)
                continue
            seen_observations = seen_observations or member == "observations"
            src.skip()


# --- pass 2: the observations --------------------------------------------------------------------------


def parse(stream: BinaryIO) -> Iterator[Obs]:
    """Read the message's small parts now (so a malformed message is refused before the hub takes any lock),
    and return the observations, read from a temporary copy as they are iterated."""
    copy = tempfile.TemporaryFile()  # noqa: SIM115 - handed on to the generator, which closes it
    try:
        outline = _outline(_Source(stream, copy))
        structures = [_structure(raw, path) for raw, path in zip(outline.structures, outline.structure_paths(),
                                                                 strict=True)]
        copy.seek(0)
    except BaseException:
        copy.close()
        raise
    return _replay(copy, outline, structures)


def _replay(copy: IO[bytes], outline: _Outline, structures: list[_Structure]) -> Iterator[Obs]:
    with copy:
        yield from _observations(_Source(copy), outline, structures)  # type: ignore[arg-type]


def _observations(src: _Source, outline: _Outline, structures: list[_Structure]) -> Iterator[Obs]:
    for key in src.members():
        if key == "data" and outline.prefix:
            for data_key in src.members():
                if data_key == "dataSets":
                    yield from _datasets(src, outline, structures)
                else:
                    src.skip()
        elif key == "dataSets" and not outline.prefix:
            yield from _datasets(src, outline, structures)
        else:
            src.skip()


def _datasets(src: _Source, outline: _Outline, structures: list[_Structure]) -> Iterator[Obs]:
    for index in src.items():
        dataset = _Dataset.open(index, outline, structures)
        for member in src.members():
            if member == "series":
                yield from dataset.series(src)
            elif member == "observations":
                yield from dataset.observations(src, {}, f"{dataset.info.where}.observations")
            else:
                src.skip()


@dataclass
class _Dataset:
    info: DataSet
    structure: _Structure
    late: Callable[[int], Any]

    @classmethod
    def open(cls, index: int, outline: _Outline, structures: list[_Structure]) -> _Dataset:
        where = f"{outline.prefix}dataSets[{index}]"
        header = outline.headers[index]
        position = header.get("structure", 0)
        if not structures:
            structure = _Structure()
        elif isinstance(position, int) and not isinstance(position, bool) and 0 <= position < len(structures):
            structure = structures[position]
        else:
            raise MessageError("JSON_BAD_INDEX", f"{where}.structure is {position!r}; the message has "
                               f"{len(structures)} structures.", "Point 'structure' at an entry of data.structures "
                               "(counting from 0).", where=where)
        values: dict[str, str] = {}
        for dim in structure.dataset_dims:
            value = dim.at(0, f"{where}")
            if value is not None:
                values[dim.id] = value
        positions = _array(header.get("attributes", []), f"{where}.attributes")
        for attr, position in zip(structure.dataset_attrs, positions, strict=False):
            value = attr.at(position, f"{where}.attributes")
            if value is not None:
                values[attr.id] = value
        obs_dims = structure.obs_dims
        at_obs = obs_dims[0].id if len(obs_dims) == 1 and structure.series_dims else "AllDimensions"
        action_name = header.get("action")
        action = Action.from_wire(action_name if isinstance(action_name, str) else None) or Action.MERGE
        reference = _reference(header.get("links", []), f"{where}.links") or structure.reference
        info = DataSet(index, reference, action, at_obs, values, where)
        return cls(info, structure, lambda ordinal: outline.late.get((index, ordinal)))

    def series(self, src: _Source) -> Iterator[Obs]:
        dims = self.structure.series_dims
        for ordinal, series_key in enumerate(src.members()):
            where = f"{self.info.where}.series[{_label(series_key)}]"
            key = _key(dims, series_key, where)
            late = self.late(ordinal)
            if late is not None:
                self._series_attributes(key, late, where)
            observations = False
            for member in src.members():
                if member == "attributes" and late is None:
                    self._series_attributes(key, src.value(MAX_ROW_CHARS), where)
                elif member == "observations":
                    observations = True
                    yield from self.observations(src, {k: v for k, v in key.items() if v is not None},
                                                 f"{where}.observations")
                else:
                    src.skip()
            if not observations:
                yield Obs(self.info, {k: v for k, v in key.items() if v is not None}, {}, where)

    def _series_attributes(self, key: dict[str, str | None], positions: Any, where: str) -> None:
        for attr, position in zip(self.structure.series_attrs, _array(positions, f"{where}.attributes"), strict=False):
            key[attr.id] = attr.at(position, f"{where}.attributes")

    def observations(self, src: _Source, series: dict[str, str], where: str) -> Iterator[Obs]:
        if src.peek() != "{":
            raise _shape(f"{where} is {src.kind()}; SDMX-JSON wants an object of observations, "
                         "keyed by observation key ('0').", where)
        dims, measures, attrs = self.structure.obs_dims, self.structure.measures, self.structure.obs_attrs
        for obs_key in src.members():
            at = f"{where}[{_label(obs_key)}]"
            array = src.value(MAX_ROW_CHARS)
            values = {k: v for k, v in _key(dims, obs_key, at).items() if v is not None}
            if not isinstance(array, list):
                raise _shape(f"{at} is not an array; an observation is an array: the measure value(s), then the "
                             "observation attributes' value indexes.", at)
            for measure, value in zip(measures, array, strict=False):
                if value is not None:
                    values[measure] = _measure(value, at)
            for attr, position in zip(attrs, array[len(measures):], strict=False):
                value = attr.at(position, at)
                if value is not None:
                    values[attr.id] = value
            yield Obs(self.info, series, values, at)


def _key(dims: list[_Component], key: str, where: str) -> dict[str, str | None]:
    """A series or observation key ('0:3:1'): one value position per dimension, in the structure's order."""
    parts = key.split(":") if key else []
    if len(parts) != len(dims):
        raise MessageError("JSON_BAD_INDEX", f"The key {key!r} has {len(parts)} positions; the structure lists "
                           f"{len(dims)} dimensions here ({', '.join(d.id for d in dims) or 'none'}).",
                           "Give one value position per dimension, separated by ':'.", where=where)
    return {dim.id: dim.at(part, where) for dim, part in zip(dims, parts, strict=True)}


def _measure(value: Any, where: str) -> str:
    if isinstance(value, str):
        return _text(value, where)
    if isinstance(value, dict | list):
        raise _shape(f"{where} holds {_kind(value)} as a measure value; write a number or a string.", where)
    return str(value)
