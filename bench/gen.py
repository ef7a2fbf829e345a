"""Generate structure-specific SDMX-ML 2.1 messages of the shared MIGR_FLOW DSD, of any size, streamed."""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterator
from pathlib import Path

from exchange.messages import Series, write_structure_specific

REPORTERS = ("KAZ", "UZB", "KGZ", "TJK", "ARM", "AZE", "GEO", "MDA", "UKR", "BLR", "RUS", "TKM")
PARTNERS = ("RUS", "KAZ", "UZB", "KGZ", "TJK", "DEU", "POL", "TUR", "USA", "ISR", "UKR", "BLR", "CHN", "KOR", "ARM",
            "AZE", "GEO", "MDA", "LVA", "LTU")
AGES = ("_T", "Y_LT5", *[f"Y{a}T{a + 4}" for a in range(5, 85, 5)], "Y_GE85")
MONTHS = [f"{y}-{m:02d}" for y in range(2000, 2025) for m in range(1, 13)]  # 300 monthly periods


def series(n_obs: int, reporter: str = "KAZ", per_series: int = 200) -> Iterator[Series]:
    """Monthly series of ``per_series`` observations until ``n_obs`` are written."""
    combos = itertools.product(("EMI", "IMM"), PARTNERS, ("F", "M", "_T"), AGES, ("_T", "NAT", "FOR"))
    left = n_obs
    for i, (flow, partner, sex, age, cit) in enumerate(combos):
        if left <= 0:
            return
        count = min(per_series, left)
        key = {"FREQ": "M", "REF_AREA": reporter, "MIGR_FLOW": flow, "MIGRANT_TYPE": "_T",
               "COUNTERPART_AREA": partner, "CITIZENSHIP": cit, "COB": "_T", "SEX": sex, "AGE": age,
               "UNIT_MEASURE": "PS", "UNIT_MULT": "0", "DUR_CRIT": "M12"}
        obs = ({"TIME_PERIOD": MONTHS[j], "OBS_VALUE": str((i * 7 + j * 13) % 997), "OBS_STATUS": "A"}
               for j in range(count))
        left -= count
        yield Series(key, obs)
    raise ValueError(f"n_obs too large for the generator's key space ({n_obs})")


def write(path: Path, n_obs: int, reporter: str = "KAZ") -> Path:
    with path.open("wb") as out:
        write_structure_specific(out, series(n_obs, reporter), sender=reporter)
    return path


if __name__ == "__main__":
    write(Path(sys.argv[1]), int(sys.argv[2]))


def mirror_series(n_obs: int, reporter: str = "KAZ", per_series: int = 200) -> dict[str, list[Series]]:
    """The partners' side of ``series(n_obs, reporter)``: for each series by residence (CITIZENSHIP _T) the
    partner's opposite flow about ``reporter``, same breakdown and periods; one value in three is tripled, so
    the reconciliation benchmark has cases to open. Keyed by partner (each pushes its own message)."""
    by_partner: dict[str, list[Series]] = {}
    for s in series(n_obs, reporter, per_series):
        key = dict(s.key)
        if key["CITIZENSHIP"] != "_T" or key["COUNTERPART_AREA"] == reporter:
            continue
        partner = key["COUNTERPART_AREA"]
        key.update(REF_AREA=partner, COUNTERPART_AREA=reporter, MIGR_FLOW="IMM" if key["MIGR_FLOW"] == "EMI" else "EMI")
        obs = [{**o, "OBS_VALUE": str(int(o["OBS_VALUE"]) * (3 if n % 3 == 0 else 1) + 1)}
               for n, o in enumerate(s.observations)]
        by_partner.setdefault(partner, []).append(Series(key, obs))
    return by_partner
