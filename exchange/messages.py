"""Write SDMX-ML 2.1 structure-specific data messages, streamed with ``lxml.etree.xmlfile``.

Used by ``exchange demo`` (real Eurostat flows), the benchmark and the tests to build messages of the
shared DSD without holding them in memory.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import IO

from lxml import etree

V21 = "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/"
MES, COM, SS = V21 + "message", V21 + "common", V21 + "data/structurespecific"
XSI = "http://www.w3.org/2001/XMLSchema-instance"


@dataclass
class Series:
    key: Mapping[str, str]  # dimension values (and series-level attributes)
    observations: Iterable[Mapping[str, str]]  # TIME_PERIOD, OBS_VALUE, observation-level attributes


def write_structure_specific(out: IO[bytes], series: Iterable[Series], *, agency: str = "UNECE",
                             flow: str = "MIGR_FLOW", version: str = "1.0", sender: str = "UNECE",
                             action: str = "Append", message_id: str = "MSG",
                             prepared: str = "2026-01-01T00:00:00Z") -> int:
    """Write one SDMX-ML 2.1 StructureSpecificData message for dataflow ``agency:flow(version)``; return #obs."""
    namespace = f"urn:sdmx:org.sdmx.infomodel.datastructure.Dataflow={agency}:{flow}({version}):ObsLevelDim:TIME_PERIOD"
    count = 0
    with etree.xmlfile(out, encoding="utf-8") as xf:
        xf.write_declaration()
        nsmap = {"mes": MES, "com": COM, "ss": SS, "xsi": XSI, "ns1": namespace}
        with xf.element(f"{{{MES}}}StructureSpecificData", nsmap=nsmap):
            _header(xf, message_id, prepared, sender, agency, flow, version, namespace)
            attrs = {f"{{{SS}}}structureRef": "STR1", f"{{{SS}}}dataScope": "Dataflow",
                     f"{{{XSI}}}type": "ns1:DataSetType", "action": action}
            with xf.element(f"{{{MES}}}DataSet", attrs):
                for one in series:
                    with xf.element("Series", dict(one.key)):
                        for obs in one.observations:
                            xf.write(etree.Element("Obs", dict(obs)))
                            count += 1
    return count


def _header(xf: etree.xmlfile, message_id: str, prepared: str, sender: str, agency: str, flow: str, version: str,
            namespace: str) -> None:
    header = etree.Element(f"{{{MES}}}Header", nsmap={"mes": MES, "com": COM})
    etree.SubElement(header, f"{{{MES}}}ID").text = message_id
    etree.SubElement(header, f"{{{MES}}}Test").text = "false"
    etree.SubElement(header, f"{{{MES}}}Prepared").text = prepared
    etree.SubElement(header, f"{{{MES}}}Sender", id=sender)
    structure = etree.SubElement(header, f"{{{MES}}}Structure", structureID="STR1", namespace=namespace,
                                 dimensionAtObservation="TIME_PERIOD")
    usage = etree.SubElement(structure, f"{{{COM}}}StructureUsage")
    etree.SubElement(usage, "Ref", agencyID=agency, id=flow, version=version)
    xf.write(header)
