"""DSD groups in data messages (SDMX 2.1 Part II, 5.3 GroupDimensionDescriptor; issue #11 class 1).

A ``Group`` element of a dataset gives a partial key (values for exactly the group's dimensions) and values
for the attributes the DSD attaches to that group. It describes every series of the dataset whose key matches
(SDMX 2.1 Part IV, 4.4: "attributes ... attached to the group apply to all series that match the group key").

The hub stores no group rows: group attribute values are stored on the observation rows of the matching series
of the same dataset, like series attributes (same columns, same history). A group that matches no series of its
dataset describes nothing the message sends and is reported (``GROUP_UNMATCHED``); it does not reach series
stored earlier - resend those series to change their attributes. This module splits and indexes groups; the
checks of their values are the validator's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from exchange.catalog import DsdSchema
from exchange.rows import GroupValues

_LEVELS = {"dataset": "dataset", "obs": "observation", "dimensions": "series"}


@dataclass
class GroupProblem:
    """Why a group element cannot be applied: a rule code and its message."""

    code: str
    message: str
    component: str | None = None
    value: str | None = None


@dataclass
class SplitGroup:
    """A group element as the DSD reads it: key by dimension, attribute values by attribute."""

    id: str
    key: dict[str, str]
    attributes: dict[str, str]
    where: str
    matched: bool = False


def split(schema: DsdSchema, group: GroupValues) -> tuple[SplitGroup | None, list[GroupProblem]]:
    """Split a group element into key and attributes, or say why it does not fit ``schema``."""
    dims = schema.groups.get(group.id)
    if dims is None:
        known = ", ".join(schema.groups) or "none"
        return None, [GroupProblem("UNKNOWN_GROUP", f"{schema.ref} defines no group {group.id or '(unnamed)'!r} "
                                   f"(its groups: {known}).", value=group.id)]
    given = dict(group.key) if group.key is not None else {c: v for c, v in group.values.items() if c in dims}
    attributes = group.values if group.key is not None else {c: v for c, v in group.values.items() if c not in dims}
    problems = []
    if set(given) != set(dims):
        problems.append(GroupProblem("GROUP_KEY_MISMATCH", f"The key of group {group.id} gives "
                                     f"{', '.join(sorted(given)) or 'nothing'}; it must give exactly the group's "
                                     f"dimensions {', '.join(dims)}.", value=group.id))
    for component in attributes:
        rule = schema.components.get(component)
        if rule is not None and rule.role != "attribute":
            problems.append(GroupProblem("GROUP_KEY_MISMATCH", f"{component} is not a dimension of group {group.id} "
                                         f"({', '.join(dims)}).", component, attributes[component]))
        elif rule is not None and rule.group != group.id:
            level = f"group {rule.group}" if rule.group else _LEVELS.get(rule.attachment, rule.attachment) + " level"
            problems.append(GroupProblem("ATTRIBUTE_LEVEL", f"{component} is not attached to group {group.id}; "
                                         f"{schema.ref} attaches it to the {level}.", component,
                                         attributes[component]))
    return SplitGroup(group.id, given, dict(attributes), group.where), problems


@dataclass
class GroupIndex:
    """The groups of one dataset, by group id and key, for a look-up per series (or per observation)."""

    schema: DsdSchema
    by_key: dict[str, dict[tuple[str, ...], SplitGroup]] = field(default_factory=dict)
    #: attributes of refused group elements: their absence from a series is not reported again
    excused: set[str] = field(default_factory=set)

    def add(self, group: SplitGroup) -> SplitGroup | None:
        """Index ``group``; returns the group already given with the same id and key, if any."""
        dims = self.schema.groups[group.id]
        key = tuple(group.key[d] for d in dims)
        same = self.by_key.setdefault(group.id, {})
        previous = same.get(key)
        same[key] = group
        return previous

    def __bool__(self) -> bool:
        return bool(self.by_key)

    def excuse(self, element: GroupValues) -> None:
        self.excused.update(c for c in element.values if c in self.schema.attributes)

    def complete(self, given: Iterable[str]) -> bool:
        """Whether values for ``given`` components decide every group (all group dimensions are among them)."""
        present = set(given)
        return all(set(self.schema.groups[g]) <= present for g in self.by_key)

    def values_for(self, key: dict[str, str]) -> dict[str, str]:
        """The attribute values of every group whose key ``key`` matches (marking those groups matched)."""
        out: dict[str, str] = {}
        for group_id, groups in self.by_key.items():
            dims = self.schema.groups[group_id]
            group = groups.get(tuple(key.get(d, "") for d in dims))
            if group is not None:
                group.matched = True
                out.update(group.attributes)
        return out

    def unmatched(self) -> list[SplitGroup]:
        return [g for groups in self.by_key.values() for g in groups.values() if not g.matched]
