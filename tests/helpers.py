"""Small builders of real-shaped messages for the shared MIGR_FLOW DSD."""

from __future__ import annotations

import io
from collections.abc import Iterable

from exchange.messages import Series, write_structure_specific

FLOW_KEY = {"FREQ": "A", "REF_AREA": "KAZ", "MIGR_FLOW": "EMI", "MIGRANT_TYPE": "_T", "COUNTERPART_AREA": "RUS",
            "CITIZENSHIP": "_T", "COB": "_T", "SEX": "_T", "AGE": "_T", "UNIT_MEASURE": "PS"}
SS_21 = "application/vnd.sdmx.structurespecificdata+xml;version=2.1"
CSV_20 = "application/vnd.sdmx.data+csv;version=2.0.0"


def dims(**overrides: str) -> dict[str, str]:
    return {**FLOW_KEY, **overrides}


def key(**overrides: str) -> dict[str, str]:
    return {**FLOW_KEY, "UNIT_MULT": "0", **overrides}


def obs(period: str, value: str, **attrs: str) -> dict[str, str]:
    return {"TIME_PERIOD": period, "OBS_VALUE": value, "OBS_STATUS": "A", **attrs}


def ss_message(series: Iterable[Series], action: str = "Append", **kwargs: str) -> bytes:
    out = io.BytesIO()
    write_structure_specific(out, series, action=action, **kwargs)
    return out.getvalue()


def simple_message(reporter: str = "KAZ", years: range = range(2015, 2020), partners: tuple[str, ...] = ("RUS",),
                   action: str = "Append", base: int = 100) -> bytes:
    series = [Series(key(REF_AREA=reporter, COUNTERPART_AREA=p),
                     [obs(str(y), str(base + i * 10 + j)) for j, y in enumerate(years)])
              for i, p in enumerate(partners)]
    return ss_message(series, action=action)


def csv20(rows: Iterable[str], header: str | None = None) -> bytes:
    dims = ",".join(FLOW_KEY)
    head = header or f"STRUCTURE,STRUCTURE_ID,ACTION,{dims},TIME_PERIOD,OBS_VALUE,OBS_STATUS,UNIT_MULT"
    return ("\r\n".join([head, *rows]) + "\r\n").encode()


def csv_row(action: str = "I", period: str = "2019", value: str = "5", **overrides: str) -> str:
    dims = ",".join({**FLOW_KEY, **overrides}.values())
    return f"dataflow,UNECE:MIGR_FLOW(1.0),{action},{dims},{period},{value},A,0"
