"""Read SDMX-ML structure messages with sdmx1 into an immutable catalog; fail fast on dangling references."""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sdmx

from exchange.catalog.artefacts import Artefacts
from exchange.catalog.schema import DsdSchema, compile_dsd
from exchange.rows import StructureRef


class CatalogError(Exception):
    """A structure message cannot be used: unreadable, or referring to something that is not there."""


def _key(artefact: Any) -> tuple[str, str, str]:
    return (artefact.maintainer.id, artefact.id, str(artefact.version))


def _stub(artefact: Any) -> bool:
    return bool(getattr(artefact, "is_external_reference", False))


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

    def add_message(self, data: bytes, label: str) -> list[str]:
        """Add every artefact of one structure message; return their URNs. Does not resolve yet."""
        try:
            msg: Any = sdmx.read_sdmx(io.BytesIO(data))
        except Exception as exc:  # sdmx1 raises many types for unreadable input
            raise CatalogError(f"{label}: not a readable SDMX-ML structure message ({exc})") from exc
        if type(msg).__name__ != "StructureMessage":
            raise CatalogError(f"{label}: expected an SDMX structure message, got {type(msg).__name__}")
        added: list[str] = []
        targets = [
            (msg.codelist, self.codelists), (msg.concept_scheme, self.concept_schemes),
            (msg.structure, self.dsds), (msg.dataflow, self.dataflows), (msg.constraint, self.constraints),
            (getattr(msg, "organisation_scheme", {}), self.provider_schemes),
        ]
        for found, target in targets:
            for artefact in found.values():
                if not _stub(artefact):
                    target[_key(artefact)] = artefact
                    added.append(artefact.urn or f"{type(artefact).__name__}={_ref(_key(artefact))}")
        self.sources.append(data)
        return added

    def resolve(self) -> None:
        """Check every reference and compile one schema per dataflow (and per DSD)."""
        # Codelists and concept schemes (a 2.1 MeasureDimension is enumerated by a concept scheme).
        schemes = {**self.concept_schemes, **self.codelists}
        problems: list[str] = []
        for key, dsd in self.dsds.items():
            for component in _components(dsd):
                rep = component.local_representation
                if rep is not None and rep.enumerated is not None and _key(rep.enumerated) not in schemes:
                    problems.append(f"DSD {_ref(key)} component {component.id} uses missing "
                                    f"{type(rep.enumerated).__name__} {_ref(_key(rep.enumerated))}")
        dsd_of_flow: dict[tuple[str, str, str], tuple[str, str, str]] = {}
        for key, flow in self.dataflows.items():
            target = _key(flow.structure) if flow.structure is not None else None
            if target not in self.dsds:
                problems.append(f"dataflow {_ref(key)} refers to missing DSD {target and _ref(target)}")
            else:
                dsd_of_flow[key] = target
        for key, constraint in self.constraints.items():
            for attached in constraint.content:
                if _key(attached) not in self.dataflows and _key(attached) not in self.dsds:
                    problems.append(f"constraint {_ref(key)} is attached to missing {attached.urn}")
        if problems:
            raise CatalogError("dangling references: " + "; ".join(problems))
        self.schemas.clear()
        self.dsd_schemas.clear()
        for key, dsd in self.dsds.items():
            self.dsd_schemas[key] = compile_dsd(dsd, schemes, self._constraints_on({key}))
        for key, dsd_key in dsd_of_flow.items():
            constraints = self._constraints_on({key, dsd_key})
            self.schemas[key] = compile_dsd(self.dsds[dsd_key], schemes, constraints)

    def _constraints_on(self, keys: set[tuple[str, str, str]]) -> list[Any]:
        return [
            c for c in self.constraints.values()
            if c.role.role.name == "allowable" and any(_key(a) in keys for a in c.content)
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


def _components(dsd: Any) -> Iterable[Any]:
    yield from dsd.dimensions
    yield from dsd.attributes
    yield from dsd.measures


def _ref(key: tuple[str, str, str]) -> str:
    return f"{key[0]}:{key[1]}({key[2]})"


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else 0 for p in version.replace("-", ".").split("."))


def load_catalog(structures_dir: Path, extra: Iterable[tuple[bytes, str]] = ()) -> Catalog:
    """Load every ``*.xml`` of ``structures_dir`` and the extra (stored) messages, then resolve."""
    catalog = Catalog()
    files = sorted(structures_dir.glob("*.xml"))
    if not files:
        raise CatalogError(f"no structure files (*.xml) in {structures_dir}")
    for path in files:
        catalog.add_message(path.read_bytes(), path.name)
    for data, label in extra:
        catalog.add_message(data, label)
    catalog.resolve()
    return catalog
