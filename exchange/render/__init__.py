"""Renderers: (output, series blocks) -> an iterator of bytes, streamed; they never touch the database."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from exchange.catalog import DsdSchema

if TYPE_CHECKING:
    from exchange.render.blocks import Block


@dataclass(frozen=True)
class Output:
    """What a response should hold: the dataflow it answers and how observations are grouped."""

    schema: DsdSchema
    agency: str
    flow: str
    version: str
    dimension_at_observation: str  # a dimension id, TIME_PERIOD or AllDimensions
    detail: str = "full"  # full | dataonly | serieskeysonly | nodata
    labels: str = "id"  # SDMX-CSV: id | both ("ID: Name") | name (2.0: a name column after each id column)
    keys: str = "none"  # SDMX-CSV 2.0: none | series | obs | both (SERIES_KEY / OBS_KEY columns)
    time_format: str = "original"  # SDMX-CSV: original | normalized (ISO 8601 date of the period's start)
    history: bool = False  # includeHistory: one dataset per submission, with validFromDate / validToDate
    deletions: bool = False  # updatedAfter: deleted observations follow, in a Delete dataset
    # For formats that index values up front (SDMX-JSON): component -> values in the answer, and names.
    values: dict[str, list[Any]] | None = None
    names: dict[str, dict[str, str]] | None = None
    #: what ``agency``/``flow``/``version`` name: "dataflow", or "datastructure" for REST 2.x
    #: ``/data/datastructure/...`` (data of a DSD, with or without a dataflow: issue #11 class 6)
    kind: str = "dataflow"

    @property
    def urn(self) -> str:
        """The URN of the structure the answer is for (SDMX 2.1 Part I, 6.2: DataStructure or Dataflow)."""
        cls = "DataStructure" if self.kind == "datastructure" else "Dataflow"
        return f"urn:sdmx:org.sdmx.infomodel.datastructure.{cls}={self.agency}:{self.flow}({self.version})"


Renderer = Callable[[Output, Iterator["Block"]], Iterator[bytes]]


def number(value: float | None) -> str:
    """Shortest text that reads back as the same float; integers without '.0'."""
    if value is None:
        return ""
    if value != value or value in (float("inf"), float("-inf")):  # xs:double spellings (SDMX missing value: NaN)
        return "NaN" if value != value else ("INF" if value > 0 else "-INF")
    if value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return repr(value)


def text(schema: DsdSchema, component: str, value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float):
        return number(value)
    return str(value)
