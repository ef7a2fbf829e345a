"""Read SDMX-ML structure messages with sdmx1 into an immutable catalog; fail fast on dangling references."""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sdmx
import sdmx.urn
from lxml import etree
from sdmx.model import common

from exchange.catalog.artefacts import Artefacts
from exchange.catalog.schema import DsdSchema, compile_dsd
from exchange.catalog.sdmx30 import Sdmx30Error, as_sdmx21
from exchange.rows import StructureRef


class CatalogError(Exception):
    """A structure message cannot be used: unreadable, or referring to something that is not there."""


def _key(artefact: Any) -> tuple[str, str, str]:
    """(agency, id, version); a reference without an agency (e.g. a broken URN) has agency ""."""
    return (getattr(artefact.maintainer, "id", ""), artefact.id, str(artefact.version))


def _stub(artefact: Any, defined: set[tuple[str, str, str, str]]) -> bool:
    """Only a reference (``isExternalReference="true"``, or referred to without being in the message)?

    sdmx1 also flags an empty item scheme as an external reference; one the message defines is not (#11).
    """
    element = type(artefact).__name__.replace("Definition", "")  # sdmx1 DataflowDefinition: <str:Dataflow>
    return bool(getattr(artefact, "is_external_reference", False)) and (element, *_key(artefact)) not in defined


def _defined(data: bytes) -> set[tuple[str, str, str, str]]:
    """(element, agency, id, version) of every maintainable the message defines (not an external reference)."""
    root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False))
    return {(etree.QName(e).localname, e.get("agencyID", ""), e.get("id", ""), e.get("version", "1.0"))
            for container in root.iterfind("{*}Structures/*") for e in container
            if isinstance(e.tag, str) and e.get("isExternalReference") != "true"}


@dataclass
class Catalog:
    """Every maintainable artefact the hub knows, by (agency, id, version), plus compiled schemas."""

    codelists: dict[tuple[str, str, str], Any] = field(default_factory=dict)
    concept_schemes: dict[tuple[str, str, str], Any] = field(default_factory=dict)
    dsds: dict[tuple[str, str, str], Any] = field(default_factory=dict)
    dataflows: dict[tuple[str, str, str], Any] = field(default_factory=dict)
    constraints: dict[tuple[str, str, str], Any] = field(default_factory=dict)
    provider_schemes: dict[tuple[str, str, str], Any] = field(default_factory=dict)
    schemas: dict[tuple[str, str, str], DsdSchema] = field(default_factory=dict)  # by dataflow key
    dsd_schemas: dict[tuple[str, str, str], DsdSchema] = field(default_factory=dict)  # by DSD key
    sources: list[bytes] = field(default_factory=list)
    last_added: list[tuple[str, str]] = field(default_factory=list)  # (URN, action) of the last message added
    _artefacts: Artefacts | None = None
    _code_names: dict[str, dict[str, str]] = field(default_factory=dict, repr=False, compare=False)

    def code_names(self, codelist_ref: str | None) -> dict[str, str]:
        """Code id -> name of the codelist ``AGENCY:ID(VERSION)`` (empty if unknown), built once per catalog: every
        SDMX-JSON answer asks for them (measured: 9 of the 90 ms of a one-series SDMX-JSON read, issue #15).
        A pushed structure gives the hub a new Catalog, so the names never go stale. Do not modify the dict."""
        ref = codelist_ref or ""
        names = self._code_names.get(ref)
        if names is None:
            names = {}
            for key, codelist in self.codelists.items():
                if f"{key[0]}:{key[1]}({key[2]})" == ref:
                    names = {code.id: str(code.name) for code in codelist}
                    break
            self._code_names[ref] = names
        return names

    def artefacts(self) -> Artefacts:
        """The registered structure messages as XML artefacts, for structure queries (built on first use)."""
        if self._artefacts is None:
            self._artefacts = Artefacts.from_sources(self.sources)
        return self._artefacts

    # --- building -------------------------------------------------------------------------

    def add_message(self, data: bytes, label: str) -> list[tuple[str, str]]:
        """Add every artefact of one structure message; return (URN, action) pairs. Does not resolve yet.

        An item scheme marked ``isPartial="true"`` (SDMX 2.1 Part II, 3.5.2: only the items a message needs)
        never replaces a registered one of the same id and version: its new items are merged in (issue #11).
        SDMX-ML 3.0 messages are read through their 2.1 equivalent (exchange/catalog/sdmx30.py).
        """
        try:
            data = as_sdmx21(data)
            msg: Any = sdmx.read_sdmx(io.BytesIO(data))
        except Sdmx30Error as exc:
            raise CatalogError(f"{label}: {exc}") from exc
        except Exception as exc:  # sdmx1 raises many types for unreadable input
            raise CatalogError(f"{label}: not a readable SDMX-ML structure message ({exc})") from exc
        if type(msg).__name__ != "StructureMessage":
            raise CatalogError(f"{label}: expected an SDMX structure message, got {type(msg).__name__}")
        defined = _defined(data)
        actions: dict[int, str] = {}
        targets = [
            (msg.codelist, self.codelists), (msg.concept_scheme, self.concept_schemes),
            (msg.structure, self.dsds), (msg.dataflow, self.dataflows), (msg.constraint, self.constraints),
            (getattr(msg, "organisation_scheme", {}), self.provider_schemes),
        ]
        for found, target in targets:
            for artefact in found.values():
                if not _stub(artefact, defined):
                    actions[id(artefact)] = _add(target, artefact)
        self.sources.append(data)
        return [(_urn(a), actions.get(id(a), "Replace")) for a in msg.iter_objects() if not _stub(a, defined)]

    def resolve(self) -> None:
        """Check every reference and compile one schema per dataflow (and per DSD)."""
        # Codelists and concept schemes (a 2.1 MeasureDimension is enumerated by a concept scheme).
        schemes = {**self.concept_schemes, **self.codelists}
        problems = [p for key, dsd in self.dsds.items() for p in self._dsd_problems(key, dsd, schemes)]
        dsd_of_flow: dict[tuple[str, str, str], tuple[str, str, str]] = {}
        for key, flow in self.dataflows.items():
            target = _key(flow.structure) if flow.structure is not None else None
            if target not in self.dsds:
                problems.append(f"dataflow {_ref(key)} refers to missing DSD {target and _ref(target)}")
            else:
                dsd_of_flow[key] = target
        for key, constraint in self.constraints.items():
            for attached in _restricting(constraint):
                if _key(attached) not in self.dataflows and _key(attached) not in self.dsds:
                    problems.append(f"constraint {_ref(key)} is attached to missing {attached.urn}")
        if problems:
            raise CatalogError("dangling references: " + "; ".join(problems))
        self._refuse_unstorable()
        self.schemas.clear()
        self.dsd_schemas.clear()
        for key, dsd in self.dsds.items():
            self.dsd_schemas[key] = _compiled(key, dsd, schemes, self._constraints_on({key}))
        for key, dsd_key in dsd_of_flow.items():
            constraints = self._constraints_on({key, dsd_key})
            self.schemas[key] = _compiled(dsd_key, self.dsds[dsd_key], schemes, constraints)

    def _dsd_problems(self, key: tuple[str, str, str], dsd: Any, schemes: dict[Any, Any]) -> list[str]:
        problems = []
        for component in _components(dsd):
            rep = component.local_representation
            if rep is not None and rep.enumerated is not None and _key(rep.enumerated) not in schemes:
                problems.append(f"DSD {_ref(key)} component {component.id} uses missing "
                                f"{type(rep.enumerated).__name__} {_ref(_key(rep.enumerated))}")
            problems.extend(self._concept_problem(key, component))
        return problems

    def _refuse_unstorable(self) -> None:
        """The hub stores one measure per observation: a DSD must declare exactly one (2.1 PrimaryMeasure)."""
        for key, dsd in self.dsds.items():
            count = len(dsd.measures.components)
            if count != 1:
                raise CatalogError(f"DSD {_ref(key)} declares {count} measures; the hub stores observations with "
                                   "one measure (SDMX 2.1 PrimaryMeasure, e.g. OBS_VALUE). Declare exactly one.")

    def _concept_problem(self, key: tuple[str, str, str], component: Any) -> list[str]:
        """A component's concept must be an item of a registered concept scheme (SDMX 2.1 Part II, 5.3)."""
        concept = component.concept_identity
        scheme = None if concept is None else concept.get_scheme()
        if scheme is None:
            return []
        scheme_key = _key(scheme)
        if concept.id in self.concept_schemes.get(scheme_key, ()):
            return []
        return [f"DSD {_ref(key)} component {component.id} uses missing Concept {concept.id} of ConceptScheme "
                f"{_ref(scheme_key)}"]

    def _constraints_on(self, keys: set[tuple[str, str, str]]) -> list[Any]:
        return [
            c for c in self.constraints.values()
            if c.role.role.name == "allowable" and any(_key(a) in keys for a in _restricting(c))
        ]

    # --- look-ups -------------------------------------------------------------------------

    def schema_for(self, ref: StructureRef) -> DsdSchema | None:
        """The schema a dataset must follow; None if the referenced structure is unknown."""
        key = self.structure_key(ref)
        return None if key is None else self._schemas_of(ref)[key]

    def structure_key(self, ref: StructureRef) -> tuple[str, str, str] | None:
        """(agency, id, version) of the dataflow or DSD ``ref`` names: the latest version when it gives none."""
        table = self._schemas_of(ref)
        if ref.version:
            key = (ref.agency, ref.id, ref.version)
            return key if key in table else None
        versions = [k for k in table if k[0] == ref.agency and k[1] == ref.id]
        return max(versions, key=lambda k: _version_tuple(k[2])) if versions else None

    def _schemas_of(self, ref: StructureRef) -> dict[tuple[str, str, str], DsdSchema]:
        return self.schemas if ref.kind in ("dataflow", "provisionagreement") else self.dsd_schemas

    def schema_for_ref(self, agency: str, flow: str, version: str = "") -> DsdSchema | None:
        return self.schema_for(StructureRef("dataflow", agency, flow, version))

    def is_derived(self, ref: StructureRef) -> bool:
        """Dataflows the hub computes (annotation EXCHANGE_DERIVED): served by /data, refused by POST /data."""
        for key, flow in self.dataflows.items():
            if key[:2] == (ref.agency, ref.id) and ref.version in ("", key[2]):
                return any(a.type == "EXCHANGE_DERIVED" for a in flow.annotations)
        return False

    def providers(self) -> set[str]:
        return {p.id for scheme in self.provider_schemes.values() for p in scheme}

    def all_dsd_schemas(self) -> Iterable[DsdSchema]:
        return self.dsd_schemas.values()


def _add(target: dict[tuple[str, str, str], Any], artefact: Any) -> str:
    """Register ``artefact``; a partial item scheme only adds the items the registered one lacks."""
    key = _key(artefact)
    existing = target.get(key)
    if existing is None or not getattr(artefact, "is_partial", False):
        target[key] = artefact
        return "Replace"
    for item in artefact:
        if item.id not in existing:
            existing.append(item)
    return "Merge"


def _compiled(key: tuple[str, str, str], dsd: Any, schemes: dict[Any, Any], constraints: list[Any]) -> DsdSchema:
    """compile_dsd, with a DSD sdmx1 read into an unexpected shape (a broken message) refused, never a 500."""
    try:
        return compile_dsd(dsd, schemes, constraints)
    except (AttributeError, KeyError, IndexError, TypeError, ValueError) as exc:
        raise CatalogError(f"DSD {_ref(key)} cannot be used: its components are incomplete or misplaced "
                           f"({type(exc).__name__}: {exc}). Check it against the SDMX-ML schemas.") from exc


def _restricting(constraint: Any) -> list[Any]:
    """The dataflows and DSDs a constraint is attached to: those it restricts when data is validated.

    Constraints attached to a data provider, a provision agreement or a data source (SDMX 2.1 Part II, 10.3)
    are registered and served, but do not restrict validation.
    """
    return [a for a in constraint.content if isinstance(a, (common.BaseDataflow, common.BaseDataStructureDefinition))]


def _urn(artefact: Any) -> str:
    """The artefact's URN as the message gives it, or as SDMX 2.1 Part II 3.3 writes it (class DataStructure)."""
    try:
        urn = str(artefact.urn or sdmx.urn.make(artefact))
    except (AttributeError, TypeError, ValueError):  # an artefact sdmx1 could not fully identify
        urn = f"{type(artefact).__name__}={_ref(_key(artefact))}"
    return urn.replace(".DataStructureDefinition=", ".DataStructure=")


def _components(dsd: Any) -> Iterable[Any]:
    yield from dsd.dimensions
    yield from dsd.attributes
    yield from dsd.measures


def _ref(key: tuple[str, str, str]) -> str:
    return f"{key[0]}:{key[1]}({key[2]})"


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else 0 for p in version.replace("-", ".").split("."))


#: Catalogs of the shipped structures alone, by their files' identity: a process that opens many hubs (the test
#: suite; one per request-scoped reload) parses them once. A catalog is never changed once resolved (registering
#: builds a new one), so sharing it is safe.
_SHIPPED: dict[tuple[str, tuple[tuple[str, int, int], ...]], Catalog] = {}


def load_catalog(structures_dir: Path, extra: Iterable[tuple[bytes, str]] = ()) -> Catalog:
    """Load every ``*.xml`` of ``structures_dir`` and the extra (stored) messages, then resolve."""
    files = sorted(structures_dir.glob("*.xml"))
    if not files:
        raise CatalogError(f"no structure files (*.xml) in {structures_dir}")
    extra = list(extra)
    if extra:
        return _build(files, extra)
    identity = tuple((path.name, path.stat().st_mtime_ns, path.stat().st_size) for path in files)
    key = (str(structures_dir.resolve()), identity)
    if key not in _SHIPPED:
        _SHIPPED[key] = _build(files, [])
    return _SHIPPED[key]


def _build(files: list[Path], extra: list[tuple[bytes, str]]) -> Catalog:
    catalog = Catalog()
    for path in files:
        catalog.add_message(path.read_bytes(), path.name)
    for data, label in extra:
        catalog.last_added = catalog.add_message(data, label)
    catalog.resolve()
    return catalog
