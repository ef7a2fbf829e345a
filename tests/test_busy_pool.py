"""All database connections busy (many long answers at once, issue #15): a request that cannot get one within
the pool's timeout answers 503 with Retry-After, not 500, and the hub answers again once one is free."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from exchange.app import create_app
from exchange.store.engine import make_engine


def test_no_free_connection_is_a_503_with_retry_after(settings, hub):
    url = make_engine(settings).url  # the driver URL make_engine chose
    busy = create_engine(url, pool_size=1, max_overflow=0, pool_timeout=0.1)
    hub.engine, original = busy, hub.engine
    try:
        with TestClient(create_app(settings, hub)) as client:
            held = busy.connect()
            try:
                for path, headers in (("/data/UNECE,MIGR_FLOW,1.0/all", {"Accept": "text/csv"}),
                                      ("/submissions", {"Authorization": "Bearer x"})):
                    response = client.get(path, headers=headers)
                    assert response.status_code == 503, (path, response.text)
                    assert response.headers["retry-after"] == "30" and "busy" in response.text
            finally:
                held.close()
            assert client.get("/data/UNECE,MIGR_FLOW,1.0/all", headers={"Accept": "text/csv"}).status_code == 404
    finally:
        hub.engine = original
        busy.dispose()
