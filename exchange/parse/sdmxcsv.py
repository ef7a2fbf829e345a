"""SDMX-CSV 1.0 and 2.0/2.1 data messages, streamed row by row.

The header is turned into a column plan once (which column is the structure, the action, a component),
then applied to each row. Separator: SDMX-CSV 1.0 puts it right after ``DATAFLOW`` (the 9th character);
2.x right after ``STRUCTURE`` or ``STRUCTURE[x]`` (sdmx-csv field guides, "Header row").
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from exchange.rows import Action, DataSet, MessageError, Obs, StructureRef

_STRUCTURE_ID = re.compile(r"^(?P<agency>[A-Za-z0-9_@$.\-]+):(?P<id>[A-Za-z0-9_@$\-]+)(?:\((?P<version>[^)]*)\))?$")
_KINDS = {"dataflow": "dataflow", "datastructure": "datastructure", "dataprovision": "provisionagreement"}
#: Columns SDMX-CSV 2.0 itself defines besides components (keys=series|obs|both, labels=name).
_SDMX_COLUMNS = {"SERIES_KEY", "OBS_KEY", "STRUCTURE_NAME"}


@dataclass
class _Plan:
    version: str  # "1.0" | "2"
    structure_col: int
    kind_col: int | None
    action_col: int | None
    components: list[tuple[int, str]]
    labels: bool


def _plan(header: list[str]) -> _Plan:
    names = [h.strip() for h in header]
    labels = any(": " in n for n in names)
    names = [n.split(":", 1)[0].strip() if labels else n for n in names]
    first = names[0].upper() if names else ""
    if first == "DATAFLOW":
        return _Plan("1.0", 0, None, None, [(i, n) for i, n in enumerate(names) if i > 0 and n], labels)
    if first.startswith("STRUCTURE"):
        if len(names) < 2 or names[1].upper() != "STRUCTURE_ID":
            raise MessageError("CSV_BAD_HEADER", "SDMX-CSV 2.0: the second column must be STRUCTURE_ID.",
                               "Start the header with STRUCTURE,STRUCTURE_ID[,ACTION].", where="row 1")
        action_col = 2 if len(names) > 2 and names[2].upper() == "ACTION" else None
        start = 3 if action_col is not None else 2
        comps = [(i, n) for i, n in enumerate(names) if i >= start and n and n.upper() not in _SDMX_COLUMNS]
        return _Plan("2", 1, 0, action_col, comps, labels)
    raise MessageError("CSV_BAD_HEADER", f"The first column is {names[0] if names else '(none)'!r}, not DATAFLOW "
                       "(SDMX-CSV 1.0) or STRUCTURE (SDMX-CSV 2.x).",
                       "Send an SDMX-CSV file whose header starts with DATAFLOW or STRUCTURE,STRUCTURE_ID.",
                       where="row 1")


def _separator(first_line: str) -> str:
    upper = first_line.lstrip("\ufeff").upper()
    if upper.startswith("DATAFLOW"):
        return first_line.lstrip("\ufeff")[8:9] or ","
    match = re.match(r'"?STRUCTURE(\[.\])?"?(.)', upper)
    return match.group(2) if match else ","


def _structure(plan: _Plan, row: list[str], line: int) -> StructureRef | None:
    text = row[plan.structure_col].strip() if len(row) > plan.structure_col else ""
    if plan.labels:
        text = text.split(": ", 1)[0]
    match = _STRUCTURE_ID.match(text)
    if match is None:
        return None
    kind = "dataflow"
    if plan.kind_col is not None:
        kind = _KINDS.get(row[plan.kind_col].strip().lower(), "")
        if not kind:
            raise MessageError("CSV_BAD_STRUCTURE", f"STRUCTURE is {row[plan.kind_col]!r}.",
                               "Write dataflow, datastructure or dataprovision in the STRUCTURE column.",
                               where=f"row {line}")
    return StructureRef(kind, match["agency"], match["id"], match["version"] or "")


def parse(stream: BinaryIO) -> Iterator[Obs]:
    """Yield every row of an SDMX-CSV message as an observation (rows are flat: ``structured=False``)."""
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    try:
        yield from _rows(text)
    except UnicodeDecodeError as exc:
        raise MessageError("NOT_UTF8", f"The CSV is not valid UTF-8 ({exc.reason} at byte {exc.start} of a block).",
                           "Save the file as UTF-8 (SDMX-CSV is UTF-8, RFC 4180).") from exc
    except csv.Error as exc:
        raise MessageError("CSV_MALFORMED", f"The CSV cannot be read: {exc}.",
                           "Check quoting: a field with the separator or a quote must be quoted, quotes doubled.") from exc
    finally:
        text.detach()


def _rows(text: io.TextIOWrapper) -> Iterator[Obs]:
    first = text.readline()
    if not first.strip():
        raise MessageError("CSV_EMPTY", "The CSV has no header row.", "Send the header row, then one row per observation.")
    sep = _separator(first)
    header = next(csv.reader([first], delimiter=sep))
    plan = _plan(header)
    dataset: DataSet | None = None
    datasets = 0
    for line, row in enumerate(csv.reader(text, delimiter=sep), start=2):
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        structure = _structure(plan, row, line)
        action = Action.MERGE
        if plan.action_col is not None and len(row) > plan.action_col and row[plan.action_col].strip():
            wire = row[plan.action_col].strip()
            parsed = Action.from_wire(wire)
            if parsed is None:
                raise MessageError("CSV_BAD_ACTION", f"ACTION {wire!r} is not I, A, M, R or D.",
                                   "Use M (merge), R (replace) or D (delete) in the ACTION column.", where=f"row {line}")
            action = parsed
        if dataset is None or dataset.structure != structure or dataset.action is not action:
            dataset = DataSet(datasets, structure, action, "TIME_PERIOD", {}, f"row {line}", structured=False)
            datasets += 1
        values: dict[str, str] = {}
        for index, component in plan.components:
            if index < len(row):
                value = row[index].strip()
                if value:
                    values[component] = value.split(": ", 1)[0] if plan.labels else value
        yield Obs(dataset, {}, values, f"row {line}")
