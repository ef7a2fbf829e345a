"""Query benchmark (not a test): the hub serving a full dataflow in each format, against sdmx1 writing it.

    python bench/query.py [--observations 1000000] [--requests 1000] [--postgres URL] [--skip-sdmx1] [--reuse]

One run: N observations are pushed through the ordinary push path into a SQLite store; a hub process
(`exchange serve`) answers a full-dataflow query in every output format over HTTP (timed to the last
byte, the server's peak RSS read from /proc after each); sdmx1 writes the same data (``to_xml`` of the
message read with ``read_sdmx``, and ``to_csv``), timed on the message already in memory; finally the
latency of a one-series query (median and p99 over --requests requests on one keep-alive connection).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
sys.path.insert(0, str(HERE.parent))

FORMATS = {
    "SDMX-ML 2.1 generic": "application/vnd.sdmx.genericdata+xml;version=2.1",
    "SDMX-ML 2.1 structure-specific": "application/vnd.sdmx.structurespecificdata+xml;version=2.1",
    "SDMX-CSV 1.0": "application/vnd.sdmx.data+csv;version=1.0.0",
    "SDMX-CSV 2.0": "application/vnd.sdmx.data+csv;version=2.0.0",
    "SDMX-JSON 2.0": "application/vnd.sdmx.data+json;version=2.0.0",
}


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--observations", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--postgres", help="store in this PostgreSQL database (schema bench_query) instead of SQLite")
    parser.add_argument("--skip-sdmx1", action="store_true", help="only the hub's side (e.g. a second store)")
    parser.add_argument("--reuse", action="store_true",
                        help="serve the SQLite store (and message) a previous run left, same --observations, "
                             "instead of loading it again")
    args = parser.parse_args()
    from bench.gen import write
    from exchange.body import Body
    from exchange.hub import open_hub
    from exchange.ingest import Principal
    from exchange.settings import Settings

    OUT.mkdir(exist_ok=True)
    message = OUT / f"query_{args.observations}.xml"
    if not (args.reuse and message.exists()):  # --reuse keeps the message a previous run wrote, too
        write(message, args.observations)
    from bench.store import fresh_store

    store = OUT / f"query_{args.observations}.db"
    if args.reuse and not args.postgres and store.exists():
        url = f"sqlite:///{store}"
    else:
        url = fresh_store(args.postgres or f"sqlite:///{store}", "bench_query")
        hub = open_hub(Settings(database_url=url))
        with message.open("rb") as handle:
            assert hub.ingestor.submit(Body(handle, "", message.stat().st_size), None,
                                       Principal(None, "KAZ", False)).status == 200
        hub.close()
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "exchange", "serve", "--port", str(port)],
                              env={**os.environ, "EXCHANGE_DATABASE_URL": url}, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                httpx.get(base + "/health", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        print(f"{args.observations:,} observations stored; server RSS at start {peak_rss_mb(server.pid):.0f} MB")
        hub_times = {}
        with httpx.Client(timeout=600) as client:
            for name, media_type in FORMATS.items():
                start = time.perf_counter()
                size = 0
                headers = {"Accept": media_type, "Accept-Encoding": "identity"}  # time rendering, not gzip
                with client.stream("GET", base + "/data/MIGR_FLOW", headers=headers) as response:
                    assert response.status_code == 200, response.status_code
                    for chunk in response.iter_raw():
                        size += len(chunk)
                seconds = time.perf_counter() - start
                hub_times[name] = seconds
                print(f"  exchange  {name:32} {seconds:7.2f} s {args.observations / seconds:>10,.0f} obs/s "
                      f"{size / 1e6:8.1f} MB   server peak RSS {peak_rss_mb(server.pid):5.0f} MB", flush=True)
            latencies = []
            one_series = base + "/data/MIGR_FLOW/M.KAZ.EMI._T.RUS.NAT._T.F._T.PS"
            for _ in range(args.requests):
                start = time.perf_counter()
                assert client.get(one_series, headers={"Accept": "text/csv"}).status_code == 200
                latencies.append(time.perf_counter() - start)
            latencies.sort()
            p99 = latencies[int(0.99 * len(latencies)) - 1]
            print(f"  one-series query ({args.requests} requests): median {statistics.median(latencies) * 1000:.1f} ms,"
                  f" p99 {p99 * 1000:.1f} ms")
    finally:
        server.terminate()
        server.wait()
    if not args.skip_sdmx1:
        sdmx1_writes(message, args.observations, hub_times)


def sdmx1_writes(message: Path, observations: int, hub_times: dict[str, float]) -> None:
    import sdmx

    from exchange.settings import REPO_ROOT

    structures = sdmx.read_sdmx(REPO_ROOT / "structures" / "UNECE-migration.xml")
    data = sdmx.read_sdmx(message, structure=structures.structure["MIGR_FLOW"])
    for dataset in data.data:  # sdmx1's to_csv needs the dataflow a dataset belongs to
        dataset.described_by = structures.dataflow["MIGR_FLOW"]
    start = time.perf_counter()
    sdmx.to_xml(data)
    xml_seconds = time.perf_counter() - start
    print(f"  sdmx1     to_xml (structure-specific)       {xml_seconds:7.2f} s {observations / xml_seconds:>10,.0f} obs/s"
          f"   ratio {xml_seconds / hub_times['SDMX-ML 2.1 structure-specific']:.1f}x")
    for name, seconds in hub_times.items():  # every XML and JSON answer against the XML writer
        if "CSV" not in name:
            print(f"            ratio of {name:32} to to_xml {xml_seconds / seconds:5.1f}x")
    start = time.perf_counter()
    try:
        sdmx.to_csv(data.data[0])  # sdmx1 builds the CSV text in memory
        csv_seconds = time.perf_counter() - start
        print(f"  sdmx1     to_csv                            {csv_seconds:7.2f} s "
              f"{observations / csv_seconds:>10,.0f} obs/s   ratio {csv_seconds / hub_times['SDMX-CSV 2.0']:.1f}x")
        for name, seconds in hub_times.items():
            if "CSV" in name:
                print(f"            ratio of {name:32} to to_csv {csv_seconds / seconds:5.1f}x")
    except Exception as exc:  # noqa: BLE001 - report what sdmx1 cannot do, keep the run
        print(f"  sdmx1     to_csv failed: {exc!r}")


if __name__ == "__main__":
    main()
