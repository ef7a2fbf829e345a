"""The shared vocabulary of the pipeline: what parsers yield and what validation reports.

Parsers know wire formats and nothing of DSD rules; the validator, the store and the CLI see only
these types. This module imports nothing from ``exchange``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

#: Characters XML 1.0 cannot carry (its ``Char`` production, section 2.2): C0 controls other than tab, line
#: feed and carriage return, surrogates (unpaired ones survive JSON decoding) and U+FFFE/U+FFFF.
XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def printable(text: str) -> str:
    """``text`` with every character XML 1.0 cannot carry written as ``\\uXXXX``: safe in XML, JSON and SQL."""
    if XML_ILLEGAL.search(text) is None:
        return text
    return XML_ILLEGAL.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


class Action(StrEnum):
    """Dataset actions. SDMX 3.1 (and the REST maintenance draft) treat Append and Information as Merge."""

    MERGE = "Merge"
    REPLACE = "Replace"
    DELETE = "Delete"

    @classmethod
    def from_wire(cls, value: str | None) -> Action | None:
        """Map an SDMX-ML/JSON action name or an SDMX-CSV action letter; None when unknown."""
        if value is None or value == "":
            return None
        return _ACTIONS.get(value.strip().lower())


_ACTIONS = {
    "append": Action.MERGE, "information": Action.MERGE, "merge": Action.MERGE, "replace": Action.REPLACE,
    "delete": Action.DELETE, "a": Action.MERGE, "i": Action.MERGE, "m": Action.MERGE, "r": Action.REPLACE,
    "d": Action.DELETE,
}


@dataclass(frozen=True, slots=True)
class StructureRef:
    """What a dataset says it conforms to: a dataflow, a DSD or a provision agreement."""

    kind: str  # "dataflow" | "datastructure" | "provisionagreement"
    agency: str
    id: str
    version: str  # "" when the message gave none (taken as latest)

    def __str__(self) -> str:
        return f"{self.kind}={self.agency}:{self.id}({self.version or 'latest'})"


@dataclass(slots=True)
class GroupValues:
    """One ``Group`` element of a dataset: the group's id and what it carries, unchecked (SDMX 2.1 Part II, 5.3).

    Structure-specific groups carry key and attributes alike as XML attributes (``key`` is None: the DSD splits
    them); generic groups give ``GroupKey`` and ``Attributes`` apart.
    """

    id: str
    values: dict[str, str]
    key: dict[str, str] | None = None
    where: str = ""


@dataclass(slots=True)
class DataSet:
    """One dataset (or, for SDMX-CSV, one run of rows with the same structure and action)."""

    index: int
    structure: StructureRef | None
    action: Action
    dimension_at_observation: str = "TIME_PERIOD"
    # Components given at dataset level (attributes attached to the dataset).
    values: dict[str, str] = field(default_factory=dict)
    where: str = ""
    # True when the wire format fixes attachment levels (SDMX-ML, SDMX-JSON); False for flat CSV rows.
    structured: bool = True
    # Group elements read so far (SDMX-ML: they precede the series they describe).
    groups: list[GroupValues] = field(default_factory=list)


class Obs:
    """One observation as read: series-level values (shared by a series) and observation-level values.

    An ``Obs`` with empty ``values`` stands for a series without observations (in a Delete dataset,
    SDMX-ML 2.1 reads that as "delete the whole series").
    """

    __slots__ = ("dataset", "series", "values", "where", "national")

    def __init__(self, dataset: DataSet, series: dict[str, str], values: dict[str, str], where: str) -> None:
        self.dataset = dataset
        self.series = series
        self.values = values
        self.where = where
        self.national: dict[str, str] | None = None  # component -> national code, when a mapping changed it


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(slots=True)
class Issue:
    """One finding: stable code, severity, the component and value at fault, where, and how to fix it."""

    code: str
    severity: Severity
    message: str
    fix: str
    component: str | None = None
    value: str | None = None
    where: str | None = None
    series_key: str | None = None
    period: str | None = None

    def __post_init__(self) -> None:
        # Issues quote what was sent; a NUL or ESC quoted raw would break the SDMX-ML report and PostgreSQL.
        self.message = printable(self.message)
        for name in ("component", "value", "where", "series_key", "period"):
            text = getattr(self, name)
            if text is not None:
                setattr(self, name, printable(text))

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code, "severity": self.severity.value, "component": self.component, "value": self.value,
            "series_key": self.series_key, "period": self.period, "where": self.where, "message": self.message,
            "fix": self.fix,
        }


class MessageError(Exception):
    """The message cannot be read at all (malformed, unsupported, unsafe): HTTP 400 / 415 / 413."""

    def __init__(self, code: str, message: str, fix: str, status: int = 400, where: str | None = None) -> None:
        super().__init__(message)
        self.issue = Issue(code, Severity.ERROR, message, fix, where=where)
        self.status = status
