"""What Group elements cost the SDMX-ML writer (issue #11 class 1): 20,000 series x 12 observations of the
sibling-group specimen DSD, rendered as structure-specific data with and without its group.

Run: ``PYTHONPATH=$PWD python bench/groups_render.py``. With groups, each DataSet's blocks are spooled (pickled
to a temporary file) while the groups are collected, then replayed (exchange/render/groups.py).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path

import sdmx

from exchange.catalog.schema import compile_dsd, item_scheme_key
from exchange.render import Output
from exchange.render.blocks import Block
from exchange.render.sdmxml21 import render_structure_specific

STRUCTURE = Path(__file__).parent.parent / "tests" / "specimens" / "structure-ECB_EXR_SG.xml"


def blocks(n_series: int, n_obs: int) -> Iterator[Block]:
    """Two series (two frequencies' worth) per group key."""
    periods = [f"2000-{m:02d}" for m in range(1, n_obs + 1)]
    for i in range(n_series):
        key = {"FREQ": "M", "CURRENCY": f"C{i // 2}", "CURRENCY_DENOM": "EUR", "EXR_TYPE": "SP00", "EXR_VAR": "E"}
        attributes = {"TITLE": f"title {i // 2}", "DECIMALS": "4", "UNIT_MEASURE": "CHF", "UNIT_MULT": "0"}
        observations: dict[str, list[str | None]] = {"TIME_PERIOD": list(periods), "OBS_VALUE": ["1.5"] * n_obs,
                                                     "OBS_STATUS": ["A"] * n_obs, "CONF_STATUS_OBS": [None] * n_obs}
        yield Block(key, attributes, observations, [None] * n_obs)


def main() -> None:
    message = sdmx.read_sdmx(STRUCTURE)
    schemes = {item_scheme_key(s): s for s in [*message.codelist.values(), *message.concept_scheme.values()]}
    schema = compile_dsd(message.structure["ECB_EXR_SG"], schemes, [])
    for label, variant in (("with SiblingGroup", schema), ("groups ignored", dataclasses.replace(schema, groups={}))):
        out = Output(variant, "ECB", "ECB_EXR_SG", "1.0", "TIME_PERIOD", kind="datastructure")
        start = time.perf_counter()
        size = sum(len(chunk) for chunk in render_structure_specific(out, blocks(20_000, 12)))
        print(f"{label}: {time.perf_counter() - start:.2f} s, {size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
