"""Load benchmark (not a test): many concurrent clients against a real hub process (issue #15, "Hold under load").

    python bench/load.py --postgres postgresql://postgres@127.0.0.1:5432/DB [--clients 50] [--seconds 30]
                         [--pushers 4] [--workers N] [--preload 8]

A hub (`exchange serve`, with `--workers N` when the CLI offers it) serves a fresh store (PostgreSQL schema
bench_load, or a SQLite file without --postgres). ``--preload`` providers push 1,000 monthly observations each
first. Then for ``--seconds``: ``--pushers`` clients, one per provider, push 1,000-observation messages in a
loop (new values each time, so every push writes 1,000 versions); the other clients read, 80 % one series
(SDMX-JSON or SDMX-CSV) and 20 % the full dataflow (SDMX-CSV or SDMX-JSON). Reported: requests per second, p50/p99
latency per kind, answers by status, the server's resident memory (sampled every 0.2 s, every process of it),
and a check that every accepted push is fully stored (its versions counted by ``_submission``) and that each
provider's current data is its last accepted push.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import itertools
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
sys.path.insert(0, str(HERE.parent))

from bench.gen import AGES, MONTHS, PARTNERS, REPORTERS  # noqa: E402
from bench.query import free_port  # noqa: E402

SS_21 = "application/vnd.sdmx.structurespecificdata+xml;version=2.1"
CSV = "application/vnd.sdmx.data+csv;version=2.0.0"
JSON = "application/vnd.sdmx.data+json;version=2.0.0"
SERIES_PER_PUSH, OBS_PER_SERIES = 5, 200  # 1,000 observations per message
TABLE = "obs_unece_migr_flow_1_0"


def series_key(reporter: str, i: int) -> dict[str, str]:
    return {"FREQ": "M", "REF_AREA": reporter, "MIGR_FLOW": "EMI", "MIGRANT_TYPE": "_T", "COUNTERPART_AREA": PARTNERS[i],
            "CITIZENSHIP": "_T", "COB": "_T", "SEX": "_T", "AGE": AGES[0], "UNIT_MEASURE": "PS"}


def message(reporter: str, round_: int) -> bytes:
    """1,000 observations of ``reporter``; the values depend on ``round_`` so no two pushes are the same."""
    from exchange.messages import Series, write_structure_specific

    series = [Series({**series_key(reporter, i), "UNIT_MULT": "0", "DUR_CRIT": "M12"},
                     [{"TIME_PERIOD": MONTHS[j], "OBS_VALUE": str(round_ * 1000 + i * 7 + j), "OBS_STATUS": "A"}
                      for j in range(OBS_PER_SERIES)]) for i in range(SERIES_PER_PUSH)]
    out = io.BytesIO()
    write_structure_specific(out, series, sender=reporter)
    return out.getvalue()


def one_series_path(reporter: str, i: int) -> str:
    return "/data/UNECE,MIGR_FLOW,1.0/" + ".".join(series_key(reporter, i).values())


@dataclass
class Results:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: Counter = field(default_factory=Counter)
    accepted: list[dict[str, Any]] = field(default_factory=list)  # push answers
    last_round: dict[str, int] = field(default_factory=dict)


async def timed(results: Results, kind: str, call: Any) -> httpx.Response | None:
    start = time.perf_counter()
    try:
        response = await call
        await response.aread()
    except httpx.HTTPError as exc:
        results.statuses[(kind, type(exc).__name__)] += 1
        return None
    results.latencies[kind].append(time.perf_counter() - start)
    results.statuses[(kind, response.status_code)] += 1
    return response


async def pusher(client: httpx.AsyncClient, token: str, reporter: str, deadline: float, results: Results) -> None:
    for round_ in itertools.count(1):
        if time.monotonic() > deadline:
            return
        response = await timed(results, "push", client.post("/data", content=message(reporter, round_), headers={
            "Authorization": f"Bearer {token}", "Content-Type": SS_21}))
        if response is not None and response.status_code == 200:
            results.accepted.append(response.json())
            results.last_round[reporter] = round_


async def reader(client: httpx.AsyncClient, reporters: list[str], deadline: float, results: Results,
                 rng: random.Random, full_share: float) -> None:
    while time.monotonic() < deadline:
        if rng.random() >= full_share:
            path, kind = one_series_path(rng.choice(reporters), rng.randrange(SERIES_PER_PUSH)), "one series"
            accept = rng.choice((JSON, CSV))
        else:
            path, kind, accept = "/data/UNECE,MIGR_FLOW,1.0/all", "full flow", rng.choice((CSV, JSON))
        await timed(results, kind, client.get(path, headers={"Accept": accept}))


class RssSampler(threading.Thread):
    """The server's resident memory (the process and its children, e.g. workers), every 0.2 s."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.samples, self.stop = pid, 0.0, [], threading.Event()
        self.start_mb = 0.0

    def run(self) -> None:
        while not self.stop.wait(0.2):
            total = sum(_rss_mb(p) for p in [self.pid, *_children(self.pid)])
            self.samples.append(total)
            self.peak = max(self.peak, total)


def _children(pid: int) -> list[int]:
    try:
        found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    out = [int(c) for c in found]
    for child in list(out):
        out += _children(child)
    return out


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def serve_command(port: int, workers: int) -> list[str]:
    command = [sys.executable, "-m", "exchange", "serve", "--port", str(port)]
    help_text = subprocess.run([*command[:4], "--help"], capture_output=True, text=True).stdout
    if workers > 1 and "--workers" in help_text:
        command += ["--workers", str(workers)]
    return command


def start_hub(url: str, workers: int) -> tuple[subprocess.Popen, str, list[str]]:
    port = free_port()
    command = serve_command(port, workers)
    log = (OUT / "load_server.log").open("wb")
    server = subprocess.Popen(command, env={**os.environ, "EXCHANGE_DATABASE_URL": url}, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(base + "/health", timeout=1).status_code == 200:
                return server, base, command
        except httpx.HTTPError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("the hub did not start; see bench/out/load_server.log")


def tokens(url: str, reporters: list[str]) -> dict[str, str]:
    from exchange.auth import create_token
    from exchange.hub import open_hub
    from exchange.settings import Settings

    hub = open_hub(Settings(database_url=url))
    try:
        with hub.engine.execution_options(write=True).begin() as conn:
            return {r: create_token(conn, provider=r, admin=False)[1] for r in reporters}
    finally:
        hub.close()


async def run_load(base: str, toks: dict[str, str], pushers: list[str], readers: int, seconds: float,
                   full_share: float, rss: RssSampler) -> Results:
    results = Results()
    limits = httpx.Limits(max_connections=len(pushers) + readers + 4)
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:
        for reporter in toks:  # preload: round 0 of every provider
            response = await client.post("/data", content=message(reporter, 0), headers={
                "Authorization": f"Bearer {toks[reporter]}", "Content-Type": SS_21})
            assert response.status_code == 200, response.text
            results.accepted.append(response.json())
            results.last_round[reporter] = 0
        rss.start_mb = sum(_rss_mb(p) for p in [rss.pid, *_children(rss.pid)])
        deadline = time.monotonic() + seconds
        rng = random.Random(15)
        tasks = [pusher(client, toks[r], r, deadline, results) for r in pushers]
        tasks += [reader(client, list(toks), deadline, results, random.Random(rng.random()), full_share)
                  for _ in range(readers)]
        await asyncio.gather(*tasks)
    return results


def check_stored(url: str, results: Results) -> dict[str, Any]:
    """Every accepted push wrote exactly the versions it reported, and each provider's current values are its last
    accepted push's."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        by_submission = dict(conn.execute(text(f'SELECT _submission, count(*) FROM "{TABLE}" GROUP BY _submission')).all())
        current = conn.execute(text(f'SELECT ref_area, counterpart_area, time_period, obs_value FROM "{TABLE}" '
                                    "WHERE _superseded_at IS NULL AND NOT _deleted")).all()
    engine.dispose()
    missing = [a["submission"] for a in results.accepted
               if by_submission.get(a["submission"], 0) != sum(d["inserted"] + d["replaced"] for d in a["datasets"])]
    wrong = 0
    for ref_area, partner, period, value in current:
        i, j = PARTNERS.index(partner), MONTHS.index(period)
        wrong += value != results.last_round[ref_area] * 1000 + i * 7 + j
    return {"accepted_pushes": len(results.accepted), "pushes_not_fully_stored": len(missing),
            "current_observations": len(current), "current_values_not_from_last_push": wrong}


def report(results: Results, seconds: float, rss: RssSampler, stored: dict[str, Any], setup: dict[str, Any]) -> dict:
    kinds = {}
    for kind, values in sorted(results.latencies.items()):
        values.sort()
        kinds[kind] = {"requests": len(values), "per_second": round(len(values) / seconds, 1),
                       "p50_ms": round(statistics.median(values) * 1000, 1),
                       "p99_ms": round(values[max(int(0.99 * len(values)) - 1, 0)] * 1000, 1)}
    statuses = {f"{kind} {status}": n for (kind, status), n in sorted(results.statuses.items(), key=str)}
    total = sum(len(v) for v in results.latencies.values())
    return {**setup, "throughput_per_s": round(total / seconds, 1), "kinds": kinds, "statuses": statuses,
            "server_rss_mb": {"before_load": round(rss.start_mb), "peak": round(rss.peak),
                              "end": round(rss.samples[-1]) if rss.samples else None},
            "stored": stored}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--postgres", help="PostgreSQL database URL (schema bench_load); SQLite without it")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--pushers", type=int, default=4)
    parser.add_argument("--preload", type=int, default=8, help="providers with data before the run (>= pushers)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--full-share", type=float, default=0.2, help="share of reads that ask for the full dataflow")
    parser.add_argument("--out", default="load.json", help="file name of the result in bench/out")
    args = parser.parse_args()
    from bench.store import fresh_store

    OUT.mkdir(exist_ok=True)
    url = fresh_store(args.postgres or f"sqlite:///{OUT / 'load.db'}", "bench_load")
    reporters = list(REPORTERS[:max(args.preload, args.pushers)])
    toks = tokens(url, reporters)
    server, base, command = start_hub(url, args.workers)
    rss = RssSampler(server.pid)
    rss.start()
    try:
        results = asyncio.run(run_load(base, toks, reporters[:args.pushers], args.clients - args.pushers,
                                       args.seconds, args.full_share, rss))
    finally:
        rss.stop.set()
        server.terminate()
        server.wait()
    setup = {"store": "PostgreSQL" if args.postgres else "SQLite", "clients": args.clients, "pushers": args.pushers,
             "seconds": args.seconds, "full_share": args.full_share,
             "server": f"exchange serve --workers {args.workers}" if "--workers" in command
             else "exchange serve: one process (this CLI has no --workers)"}
    result = report(results, args.seconds, rss, check_stored(url, results), setup)
    (OUT / args.out).write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
