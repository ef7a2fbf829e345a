"""Reconciliation benchmark (not a test; issue #10): one submission that opens 1,000 cases.

    python bench/reconcile.py [--postgres URL]

20 partners report immigration from KAZ for 50 breakdowns (sex x age), 2015-2019 (pushed first, not timed);
then KAZ pushes its emigration to them, a tenth of theirs: every pair is out of policy, so that one push opens
1,000 cases. Reported: the push, and the time the reconciliation listener took inside it.
"""

from __future__ import annotations

import argparse
import io
import itertools
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

PARTNERS = ("RUS", "UZB", "KGZ", "TJK", "DEU", "POL", "TUR", "USA", "ISR", "UKR", "BLR", "CHN", "KOR", "ARM",
            "AZE", "GEO", "MDA", "LVA", "LTU", "EST")
YEARS = [str(y) for y in range(2015, 2020)]


def breakdowns() -> list[tuple[str, str]]:
    ages = ("_T", "Y_LT5", *[f"Y{a}T{a + 4}" for a in range(5, 85, 5)], "Y_GE85")
    return list(itertools.product(("F", "M", "_T"), ages))[:50]


def message(reporter: str, flow: str, partners: tuple[str, ...], value: int) -> bytes:
    from exchange.messages import Series, write_structure_specific

    series = [Series({"FREQ": "A", "REF_AREA": reporter, "MIGR_FLOW": flow, "MIGRANT_TYPE": "_T",
                      "COUNTERPART_AREA": partner, "CITIZENSHIP": "_T", "COB": "_T", "SEX": sex, "AGE": age,
                      "UNIT_MEASURE": "PS", "UNIT_MULT": "0"},
                     [{"TIME_PERIOD": y, "OBS_VALUE": str(value), "OBS_STATUS": "A"} for y in YEARS])
              for partner in partners for sex, age in breakdowns()]
    out = io.BytesIO()
    write_structure_specific(out, series, sender=reporter)
    return out.getvalue()


def run(url: str) -> dict[str, float]:
    from bench.store import fresh_store
    from exchange.body import Body
    from exchange.hub import open_hub
    from exchange.ingest import Principal
    from exchange.settings import Settings

    hub = open_hub(Settings(database_url=fresh_store(url, "bench_reconcile")))

    def push(reporter: str, data: bytes) -> None:
        outcome = hub.ingestor.submit(Body(io.BytesIO(data), reporter, len(data)), None, Principal(None, reporter, False))
        assert outcome.status == 200, outcome.body["message"]

    for partner in PARTNERS:
        push(partner, message(partner, "IMM", ("KAZ",), 1000))
    from exchange.reconcile.auto import Reconciler

    at = next(i for i, candidate in enumerate(hub.push_listeners) if isinstance(candidate, Reconciler))
    listener, spent = hub.push_listeners[at], {"s": 0.0}

    def timed(conn, record):  # noqa: ANN001, ANN202
        start = time.perf_counter()
        listener(conn, record)
        spent["s"] += time.perf_counter() - start

    hub.push_listeners[at] = timed  # the other listeners (submission events) stay, as in a running hub
    start = time.perf_counter()
    push("KAZ", message("KAZ", "EMI", PARTNERS, 100))
    total = time.perf_counter() - start
    from sqlalchemy import func, select

    from exchange.store.tables import event, recon_case
    with hub.engine.connect() as conn:
        cases = conn.execute(select(func.count()).select_from(recon_case)).scalar_one()
        events = conn.execute(select(func.count()).select_from(event)).scalar_one()
    hub.close()
    return {"cases": cases, "events": events, "push_seconds": total, "reconcile_seconds": spent["s"]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--postgres", default="")
    args = parser.parse_args()
    stores = {"SQLite": f"sqlite:///{HERE / 'out' / 'reconcile.db'}",
              **({"PostgreSQL": args.postgres} if args.postgres else {})}
    (HERE / "out").mkdir(exist_ok=True)
    for name, url in stores.items():
        r = run(url)
        print(f"{name:10} {r['cases']} cases opened by one push ({r['events']} events): listener "
              f"{r['reconcile_seconds']:.2f} s, whole push {r['push_seconds']:.2f} s", flush=True)


if __name__ == "__main__":
    main()
