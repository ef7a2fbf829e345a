"""Export/import benchmark (not a test): time and peak memory of `exchange export` and `exchange import` against
the store's size, to show memory stays flat (issue #15).

    python bench/export.py [--observations 20000 200000] [--postgres URL]

For each size: a fresh store (SQLite file, or PostgreSQL schema bench_export) gets N observations through the push
path (one message, then a revision of every tenth observation), then `exchange export` and `exchange import`
(into a second fresh store) run as child processes; their wall time and peak RSS (VmHWM) are reported.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
sys.path.insert(0, str(HERE.parent))

MEASURE = """
import resource, runpy, sys
sys.argv = ["exchange", *sys.argv[1:]]
try:
    runpy.run_module("exchange", run_name="__main__")
finally:
    print("PEAK_KB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
"""


def load(url: str, observations: int, folder: Path) -> None:
    from bench.gen import write
    from exchange.body import Body
    from exchange.hub import open_hub
    from exchange.ingest import Principal
    from exchange.settings import Settings

    message = write(folder / f"export_{observations}.xml", observations)
    hub = open_hub(Settings(database_url=url))
    try:
        with message.open("rb") as handle:
            assert hub.ingestor.submit(Body(handle, "", message.stat().st_size), None,
                                       Principal(None, "KAZ", False)).status == 200
        revised = message.read_bytes().replace(b'OBS_VALUE="1', b'OBS_VALUE="2')  # about a tenth of the values
        with (folder / "revised.xml").open("wb") as out:
            out.write(revised)
        with (folder / "revised.xml").open("rb") as handle:
            assert hub.ingestor.submit(Body(handle, "r", len(revised)), None,
                                       Principal(None, "KAZ", False)).status == 200
    finally:
        hub.close()


def run(url: str, *args: str) -> dict[str, float]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", MEASURE, *args], capture_output=True, text=True,
                          env={**os.environ, "EXCHANGE_DATABASE_URL": url})
    seconds = time.perf_counter() - start
    assert done.returncode == 0, done.stderr
    peak = int(done.stderr.rsplit("PEAK_KB", 1)[1].split()[0]) / 1024
    return {"seconds": round(seconds, 1), "peak_rss_mb": round(peak)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--observations", type=int, nargs="+", default=[20_000, 200_000])
    parser.add_argument("--postgres")
    args = parser.parse_args()
    from bench.store import fresh_store

    OUT.mkdir(exist_ok=True)
    results = []
    for n in args.observations:
        folder = OUT / f"export_run_{n}"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        source = fresh_store(args.postgres or f"sqlite:///{folder / 'source.db'}", "bench_export")
        load(source, n, folder)
        exported = run(source, "export", str(folder / "dump"))
        target = fresh_store(args.postgres or f"sqlite:///{folder / 'target.db'}", "bench_import")
        imported = run(target, "import", str(folder / "dump"))
        manifest = json.loads((folder / "dump" / "manifest.json").read_text())
        versions = sum(c["versions"] for c in manifest["observations"].values())
        size = sum(f["bytes"] for f in manifest["files"].values())
        results.append({"observations": n, "versions": versions, "export_mb": round(size / 1e6, 1),
                        "export": exported, "import": imported})
        print(json.dumps(results[-1]), flush=True)
    (OUT / "export.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
