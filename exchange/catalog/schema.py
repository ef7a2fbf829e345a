"""Compile an sdmx1 DSD (plus its constraints) into a flat, immutable schema.

Validation then needs only dictionary and set look-ups: no sdmx1 object is touched per observation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sdmx.model import common

#: textType values whose content must parse as a number (SDMX 2.1 SDMXStructureBase.xsd, SimpleDataType).
NUMERIC_TYPES = frozenset({"double", "float", "decimal", "integer", "long", "int", "short", "bigInteger", "count"})


@dataclass(frozen=True)
class ComponentRule:
    """What one component accepts and where it must be attached."""

    id: str
    role: str  # "dimension" | "time" | "measure" | "attribute"
    codes: frozenset[str] | None = None  # enumerated representation (None: free text / number)
    codelist: str | None = None  # "AGENCY:ID(VERSION)", for messages
    numeric: bool = False
    max_length: int | None = None
    pattern: re.Pattern[str] | None = None
    mandatory: bool = False
    # Attachment (attributes): "dataset" (AttributeRelationship None), "obs" (PrimaryMeasure),
    # "dimensions" (related to ``related`` dimensions, i.e. series or partial key), "group".
    attachment: str = "obs"
    related: frozenset[str] = frozenset()
    group: str | None = None  # attachment "group": the GroupDimensionDescriptor id (``related``: its dimensions)

    @property
    def column(self) -> str:
        return self.id.lower()


@dataclass(frozen=True)
class DsdSchema:
    """A DSD as the hub validates and stores it."""

    agency: str
    id: str
    version: str
    name: str
    dimensions: tuple[str, ...]  # in DSD order, without the time dimension
    time_dimension: str | None
    measure: str
    attributes: tuple[str, ...]
    components: dict[str, ComponentRule]
    # Allowed content (ContentConstraint type=Allowed, CubeRegion include=true): component -> allowed values.
    allowed: dict[str, frozenset[str]] = field(default_factory=dict)
    excluded: dict[str, frozenset[str]] = field(default_factory=dict)
    constraint_ids: tuple[str, ...] = ()
    # GroupDimensionDescriptor id -> its dimensions, in DSD order (SDMX 2.1 Part II, 5.3: a group key is a
    # subset of the dimensions; issue #11 class 1). Attributes attached to a group have attachment "group".
    groups: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def group_attributes(self, group: str) -> tuple[str, ...]:
        """The attributes attached to ``group`` (AttributeRelationship/Group), in DSD order."""
        return tuple(a for a in self.attributes if self.components[a].group == group)

    @property
    def urn(self) -> str:
        return f"urn:sdmx:org.sdmx.infomodel.datastructure.DataStructure={self.ref}"

    @property
    def ref(self) -> str:
        return f"{self.agency}:{self.id}({self.version})"

    @property
    def key_components(self) -> tuple[str, ...]:
        """Dimensions then the time dimension: what identifies one observation."""
        return self.dimensions + ((self.time_dimension,) if self.time_dimension else ())

    def level(self, attribute: str, dimension_at_observation: str) -> str:
        """Where an attribute must appear in a message whose observations are at ``dimension_at_observation``.

        SDMX 2.1 Part IV (data messages): an attribute related to dimensions that are all in the series key
        sits on the series; one related to the observation dimension (or to the primary measure) on the
        observation; one with no relationship on the dataset. With ``AllDimensions`` there are no series.
        """
        rule = self.components[attribute]
        if rule.attachment == "dataset":
            return "dataset"
        if rule.attachment == "obs" or dimension_at_observation == "AllDimensions":
            return "obs"
        if dimension_at_observation in rule.related:
            return "obs"
        return "series"


def _facets(rep: Any) -> tuple[bool, int | None, re.Pattern[str] | None]:
    numeric, max_length, pattern = False, None, None
    for facet in getattr(rep, "non_enumerated", None) or []:
        if facet.value_type is not None and facet.value_type.name in NUMERIC_TYPES:
            numeric = True
        if facet.type.max_length is not None:
            max_length = int(facet.type.max_length)
        if facet.type.pattern:
            pattern = re.compile(facet.type.pattern)
    return numeric, max_length, pattern


def item_scheme_key(scheme: Any) -> tuple[str, str, str]:
    return (scheme.maintainer.id, scheme.id, str(scheme.version))


def _codes(codelist: Any) -> frozenset[str]:
    return frozenset(code.id for code in codelist)


def _cl_ref(codelist: Any) -> str:
    return f"{codelist.maintainer.id}:{codelist.id}({codelist.version})"


def compile_dsd(dsd: Any, codelists: dict[tuple[str, str, str], Any], constraints: list[Any]) -> DsdSchema:
    """Build the schema of ``dsd``; ``codelists`` maps (agency, id, version) to full (non-stub) item schemes."""
    components: dict[str, ComponentRule] = {}

    def rule(component: Any, role: str, **extra: Any) -> ComponentRule:
        rep = component.local_representation
        codes = cl_ref = None
        numeric, max_length, pattern = _facets(rep)
        if rep is not None and rep.enumerated is not None:
            full = codelists[item_scheme_key(rep.enumerated)]
            codes, cl_ref = _codes(full), _cl_ref(full)
        return ComponentRule(component.id, role, codes, cl_ref, numeric, max_length, pattern, **extra)

    dimensions, time_dimension = [], None
    for dim in dsd.dimensions:
        if isinstance(dim, common.TimeDimension):
            time_dimension = dim.id
            components[dim.id] = rule(dim, "time")
        else:
            dimensions.append(dim.id)
            components[dim.id] = rule(dim, "dimension")
    measure = dsd.measures.components[0]
    components[measure.id] = rule(measure, "measure")
    if not components[measure.id].codes:
        components[measure.id] = ComponentRule(measure.id, "measure", numeric=True)
    groups = _groups(dsd, dimensions)
    attributes = []
    for attr in dsd.attributes:
        attachment, related = _attachment(attr.related_to)
        group = _group_of(attr.related_to, groups) if attachment == "group" else None
        if attachment == "group" and group is None:
            attachment = "dataset"  # a group relationship naming no known group: a dataset attribute
        mandatory = attr.usage_status is not None and attr.usage_status.name == "mandatory"
        components[attr.id] = rule(attr, "attribute", mandatory=mandatory, attachment=attachment,
                                   related=groups[group] if group else related, group=group)
        attributes.append(attr.id)
    allowed, excluded = _constraint_sets(constraints)
    return DsdSchema(
        agency=dsd.maintainer.id, id=dsd.id, version=str(dsd.version), name=str(dsd.name),
        dimensions=tuple(dimensions), time_dimension=time_dimension, measure=measure.id,
        attributes=tuple(attributes), components=components, allowed=allowed, excluded=excluded,
        constraint_ids=tuple(c.id for c in constraints), groups=groups,
    )


def _groups(dsd: Any, dimensions: list[str]) -> dict[str, tuple[str, ...]]:
    """The DSD's GroupDimensionDescriptors that name dimensions (attachment-constraint groups have none)."""
    groups = {}
    for group in getattr(dsd, "group_dimensions", {}).values():
        members = {component.id for component in group.components}
        if members:
            groups[group.id] = tuple(d for d in dimensions if d in members)
    return groups


def _group_of(related_to: Any, groups: dict[str, tuple[str, ...]]) -> str | None:
    key = getattr(related_to, "group_key", None)
    return key.id if key is not None and key.id in groups else None


def _attachment(related_to: Any) -> tuple[str, frozenset[str]]:
    kind = type(related_to).__name__
    if related_to is None or kind == "NoSpecifiedRelationship":
        return "dataset", frozenset()
    if kind == "PrimaryMeasureRelationship":
        return "obs", frozenset()
    if kind == "DimensionRelationship":
        return "dimensions", frozenset(d.id for d in related_to.dimensions)
    return "group", frozenset()


def _constraint_sets(constraints: list[Any]) -> tuple[dict[str, frozenset[str]], dict[str, frozenset[str]]]:
    """Intersect included cube regions and unite excluded ones (SDMX 2.1 Part II, 10.3: ContentConstraint)."""
    allowed: dict[str, frozenset[str]] = {}
    excluded: dict[str, frozenset[str]] = {}
    for constraint in constraints:
        for region in constraint.data_content_region:
            for component, selection in region.member.items():
                values = frozenset(v.value for v in selection.values)
                if region.included:
                    allowed[component.id] = allowed[component.id] & values if component.id in allowed else values
                else:
                    excluded[component.id] = excluded.get(component.id, frozenset()) | values
    return allowed, excluded
