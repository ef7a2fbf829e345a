"""Ingest benchmark (not a test): exchange parse+validate+store vs sdmx1 merely reading the same message.

    python bench/ingest.py [--sizes 100000 1000000] [--postgres URL] [--skip-sdmx1-above N]

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


def child_exchange(path: str, url: str) -> dict:
    from bench.store import fresh_store
    from exchange.body import Body
    from exchange.hub import open_hub
    from exchange.ingest import Principal
    from exchange.settings import Settings

    url = fresh_store(url, "bench")
    hub = open_hub(Settings(database_url=url))
    start = time.perf_counter()
    with open(path, "rb") as handle:
        outcome = hub.ingestor.submit(Body(handle, "bench", os.path.getsize(path)), None, Principal(None, "KAZ", False))
    seconds = time.perf_counter() - start
    assert outcome.status == 200, outcome.body["message"]
    return {"seconds": seconds, "observations": outcome.body["observations"]}


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
        cases = {"exchange, SQLite": ("exchange", str(path), f"sqlite:///{OUT / 'bench.db'}")}
        if args.postgres:
            cases["exchange, PostgreSQL"] = ("exchange", str(path), args.postgres)
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
                  + (f"  {ratio:5.1f}x sdmx1" if ratio else ""), flush=True)
    (OUT / "ingest.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
