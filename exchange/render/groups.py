"""Group elements of SDMX-ML output (SDMX 2.1 Part II, 5.3; issue #11 class 1).

The hub stores group attribute values on the observation rows of each series (``exchange.groups``), so an
answer's groups are found again from its series: for each group of the DSD whose dimensions are all in the series
key (not at observation level), series with the same group key form one group, and each attribute attached to
it whose value is the same on every one of those series (the same value, or none) is written once on a ``Group``
element, which SDMX-ML places before the series of its DataSet; the series then leave it out. An attribute whose
value differs between the series of one group key (pushed apart, in different messages) stays on each series.

The blocks of one DataSet are spooled to a temporary file (pickled) while the groups are collected, then
replayed: memory holds the groups, not the series. Only DSDs with groups take this path.
"""

from __future__ import annotations

import pickle
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO

from exchange.render.blocks import Block, Layout

_MIXED = object()  # an attribute whose value differs between the series of one group key


@dataclass
class OutputGroup:
    """One ``Group`` element: the group's id, its key (dimension -> code) and the attributes written on it."""

    id: str
    key: dict[str, str]
    attributes: dict[str, str] = field(default_factory=dict)


def written_groups(layout: Layout, groups: dict[str, tuple[str, ...]], attributes: dict[str, tuple[str, ...]]
                   ) -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    """The groups an output can write as Group elements: group id -> (dimensions, attributes).

    Not for flat output (no series) nor when the observation dimension is one of the group's (its attributes
    then vary by observation), nor for groups without attributes in the answer.
    """
    if layout.flat:
        return {}
    out = {}
    for group_id, dims in groups.items():
        attrs = tuple(a for a in attributes.get(group_id, ()) if a in layout.block_attributes)
        if attrs and layout.obs_dimension not in dims:
            out[group_id] = (dims, attrs)
    return out


class GroupSpool:
    """Collect the groups of one DataSet's blocks, then give the blocks back in the same order."""

    def __init__(self, groups: dict[str, tuple[tuple[str, ...], tuple[str, ...]]]) -> None:
        self.groups = groups
        self.values: dict[tuple[str, tuple[str, ...]], dict[str, object]] = {}
        self._file: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - closed in replay()
        self._count = 0

    def add(self, block: Block) -> None:
        pickle.dump(block, self._file, protocol=pickle.HIGHEST_PROTOCOL)
        self._count += 1
        for group_id, (dims, attrs) in self.groups.items():
            key = (group_id, tuple(block.key[d] for d in dims))
            seen = self.values.get(key)
            if seen is None:
                self.values[key] = {a: block.attributes.get(a) for a in attrs}
                continue
            for a in attrs:
                if seen[a] is not _MIXED and seen[a] != block.attributes.get(a):
                    seen[a] = _MIXED

    def output_groups(self) -> list[OutputGroup]:
        out = []
        for (group_id, key), values in self.values.items():
            attributes = {a: v for a, v in values.items() if isinstance(v, str)}
            if attributes:
                dims = self.groups[group_id][0]
                out.append(OutputGroup(group_id, dict(zip(dims, key, strict=True)), attributes))
        return out

    def omitted(self, block: Block) -> set[str]:
        """The attributes of ``block`` its groups carry (so the series leaves them out)."""
        out: set[str] = set()
        for group_id, (dims, _attrs) in self.groups.items():
            values = self.values.get((group_id, tuple(block.key[d] for d in dims)), {})
            out.update(a for a, v in values.items() if isinstance(v, str))
        return out

    def replay(self) -> Iterator[Block]:
        try:
            self._file.seek(0)
            for _ in range(self._count):
                yield pickle.load(self._file)  # noqa: S301 - the hub's own blocks, written just above
        finally:
            self._file.close()


def spool(blocks: Iterable[Block], groups: dict[str, tuple[tuple[str, ...], tuple[str, ...]]]) -> GroupSpool:
    collector = GroupSpool(groups)
    for block in blocks:
        collector.add(block)
    return collector
