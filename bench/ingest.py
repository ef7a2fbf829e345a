"""Ingest benchmark (not a test): exchange parse+validate+store vs sdmx1 merely reading the same message.

    python bench/ingest.py [--sizes 100000 1000000] [--postgres URL] [--skip-sdmx1-above N] [--reconciliation]

With ``--reconciliation`` each store is measured twice, reconciliation off and on (EXCHANGE_RECONCILIATION,
issue #10), on a store already holding the partners' mirror side (pushed first, not timed), so the timed push
touches pairs with both sides and opens cases; the time the listener took and the cases it opened are reported.

Every case runs in its own process (peak RSS is that process's ``ru_maxrss``); cases share one run so
the ratios compare like with like. Results go to stdout and bench/out/ingest.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
sys.path.insert(0, str(HERE.parent))


def child_exchange(path: str, url: str, reconciliation: str = "off", mirror: str = "0") -> dict:
    from bench.store import fresh_store
    from exchange.body import Body
    from exchange.hub import open_hub
    from exchange.ingest import Principal
    from exchange.settings import Settings

    url = fresh_store(url, "bench")
    hub = open_hub(Settings(database_url=url, reconciliation=reconciliation == "on"))
    if int(mirror):
        _push_mirror(hub, int(mirror))
    listener = {"seconds": 0.0}
    hub.push_listeners[:] = [_timed(f, listener) for f in hub.push_listeners]
    start = time.perf_counter()
    with open(path, "rb") as handle:
        outcome = hub.ingestor.submit(Body(handle, "bench", os.path.getsize(path)), None, Principal(None, "KAZ", False))
    seconds = time.perf_counter() - start
    assert outcome.status == 200, outcome.body["message"]
    return {"seconds": seconds, "observations": outcome.body["observations"],
            "reconcile_seconds": listener["seconds"], "cases": _cases(hub)}


def _push_mirror(hub, n_obs: int) -> None:  # noqa: ANN001 - a Hub
    """The partners' side of the timed message, one push per partner (reconciliation opens nothing yet)."""
    import io

    from bench.gen import mirror_series
    from exchange.body import Body
    from exchange.ingest import Principal
    from exchange.messages import write_structure_specific

    for partner, series in mirror_series(n_obs).items():
        out = io.BytesIO()
        write_structure_specific(out, series, sender=partner)
        data = out.getvalue()
        outcome = hub.ingestor.submit(Body(io.BytesIO(data), partner, len(data)), None, Principal(None, partner, False))
        assert outcome.status == 200, outcome.body["message"]


def _timed(listener, totals: dict):  # noqa: ANN001, ANN202
    def wrapper(conn, push):  # noqa: ANN001, ANN202
        start = time.perf_counter()
        listener(conn, push)
        totals["seconds"] += time.perf_counter() - start
    return wrapper


def _cases(hub) -> int:  # noqa: ANN001
    from sqlalchemy import func, select

    from exchange.store.tables import recon_case

    with hub.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(recon_case)).scalar_one())


def child_sdmx1(path: str) -> dict:
    import sdmx

    from exchange.settings import REPO_ROOT

    dsd = sdmx.read_sdmx(REPO_ROOT / "structures" / "UNECE-migration.xml").structure["MIGR_FLOW"]
    start = time.perf_counter()
    message = sdmx.read_sdmx(path, structure=dsd)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "observations": sum(len(ds.obs) for ds in message.data)}


def run_child(*args: str) -> dict:
    result = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-3000:])
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--skip-sdmx1-above", type=int, default=10**9)
    parser.add_argument("--reconciliation", action="store_true", help="measure reconciliation off and on")
    parser.add_argument("--child", nargs="+")
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        result = child_exchange(*rest) if kind == "exchange" else child_sdmx1(*rest)
        result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))
        return
    from bench.gen import write

    OUT.mkdir(exist_ok=True)
    rows = []
    for size in args.sizes:
        path = write(OUT / f"migr_flow_{size}.xml", size)
        mb = path.stat().st_size / 1e6
        stores = {"SQLite": f"sqlite:///{OUT / 'bench.db'}", **({"PostgreSQL": args.postgres} if args.postgres else {})}
        cases = {}
        for store, url in stores.items():
            if args.reconciliation:
                for switch in ("off", "on"):
                    cases[f"exchange, {store}, reconciliation {switch}"] = ("exchange", str(path), url, switch, str(size))
            else:
                cases[f"exchange, {store}"] = ("exchange", str(path), url)
        if size <= args.skip_sdmx1_above:
            cases["sdmx1 read_sdmx (read only)"] = ("sdmx1", str(path))
        results = {name: run_child(*case) for name, case in cases.items()}
        reference = results.get("sdmx1 read_sdmx (read only)")
        for name, result in results.items():
            ratio = reference["seconds"] / result["seconds"] if reference else None
            rows.append({"observations": size, "file_mb": round(mb, 1), "case": name, **result,
                         "obs_per_s": result["observations"] / result["seconds"], "speed_vs_sdmx1": ratio})
            print(f"{size:>9} obs {mb:6.1f} MB  {name:30} {result['seconds']:8.2f} s "
                  f"{result['observations'] / result['seconds']:>10,.0f} obs/s  peak RSS {result['peak_rss_mb']:6.0f} MB"
                  + (f"  {ratio:5.1f}x sdmx1" if ratio else "")
                  + (f"  listener {result['reconcile_seconds']:.2f} s, {result['cases']} cases"
                     if result.get("cases") is not None and "reconciliation" in name else ""), flush=True)
    (OUT / "ingest.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
