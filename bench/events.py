"""Event outbox benchmark (not a test): what ``emit`` with its fan-out costs, and how fast the feed pages.

    python bench/events.py [--postgres URL]

1,000 events in one transaction (as reconciliation opening 1,000 cases from one submission would emit), with
20 webhook subscriptions and 20 contact addresses in the store, half of them matching; then the whole feed
read by an administrator in pages of 1,000. Reported: seconds for each, and the delivery rows made.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, insert, select  # noqa: E402

from exchange.events import emit  # noqa: E402
from exchange.events.feed import Filters, page  # noqa: E402
from exchange.hub import open_hub  # noqa: E402
from exchange.ingest import Principal  # noqa: E402
from exchange.settings import Settings  # noqa: E402
from exchange.store.engine import begin_write  # noqa: E402
from exchange.store.tables import delivery, provider_contact, subscription  # noqa: E402

EVENTS = 1000
COUNTRIES = [f"C{i:02d}" for i in range(20)]


def run(url: str) -> None:
    hub = open_hub(Settings(database_url=url))
    now = datetime.now(UTC)
    with begin_write(hub.engine) as conn:
        conn.execute(insert(subscription), [{
            "id": f"sub_{i:032x}", "owner": c, "url": "https://example.org/hook", "event_types": " case.opened ",
            "secret": "whsec_x", "active": True, "created_at": now, "failures": 0} for i, c in enumerate(COUNTRIES)])
        conn.execute(insert(provider_contact), [{"provider": c, "email": f"{c}@example.org", "updated_at": now}
                                                for c in COUNTRIES])
    start = time.perf_counter()
    with begin_write(hub.engine) as conn:
        for i in range(EVENTS):
            emit(conn, "case.opened", [COUNTRIES[i % 10], "KAZ"], {"case": i})
    emitted = time.perf_counter() - start
    with hub.engine.connect() as conn:
        deliveries = conn.execute(select(func.count()).select_from(delivery)).scalar_one()
        start = time.perf_counter()
        after, seen = None, 0
        while True:
            got = page(conn, Principal(None, None, True), after, Filters(), 1000)
            if not got["events"]:
                break
            seen, after = seen + len(got["events"]), got["next"]
        read = time.perf_counter() - start
    hub.close()
    print(f"{url.split(':')[0]:>10}: {EVENTS} events emitted in {emitted:.3f} s ({deliveries} deliveries made); "
          f"feed of {seen} read in {read:.3f} s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--postgres", help="a PostgreSQL URL (an empty database) to measure too")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run(f"sqlite:///{tmp}/bench.db")
    if args.postgres:
        run(args.postgres)


if __name__ == "__main__":
    main()
