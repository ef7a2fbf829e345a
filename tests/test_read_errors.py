"""Requests that answered 500 (issue #9, "500s that must be 4xx"), through real HTTP on a real hub process:
bad q-values and counts, thousands of keys or filter values, XML-illegal characters in the request line,
and a store that cannot answer for now (503 with Retry-After)."""

from __future__ import annotations

import csv
import io
import socket
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing, suppress
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from lxml import etree
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from exchange.api.unavailable import transient_reason
from tests.conftest import ON_POSTGRES
from tests.helpers import CSV_20, SS_21, simple_message
from tests.live import free_port, fresh_database, live_hub

V2_FLOW = "/data/dataflow/UNECE/MIGR_FLOW/1.0"
V2_AVAILABILITY = "/availability/dataflow/UNECE/MIGR_FLOW/1.0"


@pytest.fixture(scope="module")
def loaded(live):  # noqa: ANN201 - the live hub, with KAZ's emigration to RUS for 2015-2019
    with live.client(live.token("KAZ")) as client:
        response = client.post("/data", content=simple_message(), headers={"Content-Type": SS_21})
        assert response.status_code == 200, response.text
    return live


def sdmx_error_text(body: bytes) -> str:
    """The text of an SDMX-ML error message; parsing fails if the body is not well-formed XML."""
    root = etree.fromstring(body)
    return "".join(root.itertext())


# --- q-values and counts --------------------------------------------------------------------------------------


def test_a_q_value_that_is_not_a_number_is_a_400(loaded):
    with loaded.client() as client:
        response = client.get("/data/MIGR_FLOW", headers={"Accept": "text/csv;q=abc"})
    assert response.status_code == 400
    assert "q='abc'" in sdmx_error_text(response.content) and "RFC 9110" in response.text


@pytest.mark.parametrize("q", ["2", "-1", "0.12345", "1.5"])
def test_a_q_value_out_of_range_is_a_400(loaded, q):
    with loaded.client() as client:
        assert client.get("/data/MIGR_FLOW", headers={"Accept": f"text/csv;q={q}"}).status_code == 400


def test_q_zero_means_not_acceptable(loaded):
    with loaded.client() as client:
        response = client.get("/data/MIGR_FLOW", headers={"Accept": f"{CSV_20};q=0"})
        assert response.status_code == 406, response.text[:200]
        fallback = client.get("/data/MIGR_FLOW", headers={"Accept": f"{CSV_20};q=0, application/json;q=0.5"})
    assert fallback.status_code == 200 and fallback.headers["content-type"].startswith("application/vnd.sdmx.data+json")


@pytest.mark.parametrize("parameter, value", [("firstNObservations", "9223372036854775808"),
                                              ("lastNObservations", "99999999999999999999"),
                                              ("lastNObservations", "²"), ("firstNObservations", "٣")])
def test_observation_counts_beyond_digits_or_range_are_a_400(loaded, parameter, value):
    with loaded.client() as client:
        response = client.get("/data/MIGR_FLOW", params={parameter: value})
    assert response.status_code == 400
    assert f"{parameter} must be a whole number from 1 to 2147483647" in sdmx_error_text(response.content)


def test_observation_counts_stop_at_the_largest_32_bit_integer(loaded):
    with loaded.client() as client:
        over = client.get("/data/MIGR_FLOW", params={"lastNObservations": str(2**31)})
        at = client.get("/data/MIGR_FLOW", params={"lastNObservations": str(2**31 - 1)}, headers={"Accept": CSV_20})
    assert over.status_code == 400
    assert at.status_code == 200 and at.text.count("\n") == 6  # header and 2015-2019


# --- thousands of alternatives (SQLite: "Expression tree is too large") -----------------------------------------


MANY_AREAS = [f"K{i:04d}" for i in range(1500)] + ["KAZ"]


@pytest.mark.parametrize("path", [f"{V2_FLOW}/*", f"{V2_AVAILABILITY}/*"])
@pytest.mark.parametrize("operator", ["", "sw:"])  # one IN list; a balanced tree of LIKE conditions
def test_a_filter_with_1500_alternatives_is_answered(loaded, path, operator):
    values = ",".join(operator + area for area in MANY_AREAS)
    with loaded.client() as client:
        response = client.get(path, params={"c[REF_AREA]": values}, headers={"Accept": CSV_20})
    assert response.status_code == 200, response.text[:300]
    assert "KAZ" in response.text


#: 1,200 keys differing in one position (merged into one IN list), or in two (a balanced tree of keys)
KEY_LISTS = {"one position": [f"A.{area}" for area in MANY_AREAS[:1200]] + ["A.KAZ"],
             "two positions": [f"A.{area}.EMI._T.{area}" for area in MANY_AREAS[:1200]] + ["A.KAZ.EMI._T.RUS"]}


@pytest.mark.parametrize("path", [V2_FLOW, V2_AVAILABILITY])
@pytest.mark.parametrize("keys", KEY_LISTS.values(), ids=KEY_LISTS.keys())
def test_1200_keys_in_the_path_are_answered(loaded, path, keys):
    with loaded.client() as client:
        response = client.get(f"{path}/{','.join(keys)}", headers={"Accept": CSV_20})
    assert response.status_code == 200, response.text[:300]
    assert "KAZ" in response.text


def test_mixed_filter_alternatives_keep_their_meaning(loaded):
    """Plain codes go into one IN list, the other operators stay conditions of their own."""
    values = ",".join([*MANY_AREAS[:1200], "sw:KA"])
    with loaded.client() as client:
        response = client.get(f"{V2_FLOW}/*", params={"c[REF_AREA]": values, "c[TIME_PERIOD]": "ge:2018,eq:2015"},
                              headers={"Accept": CSV_20})
    assert response.status_code == 200, response.text[:300]
    periods = sorted(row["TIME_PERIOD"] for row in csv.DictReader(io.StringIO(response.text)))
    assert periods == ["2015", "2018", "2019"]


# --- characters XML 1.0 cannot carry ----------------------------------------------------------------------------


CONTROL_REQUESTS = [
    ("/submissions/a%00b", {}),
    ("/submissions/a%00b/issues", {}),
    ("/data/MIGR_FLOW/A.K%00Z.EMI._T.RUS._T._T._T._T.PS", {}),
    ("/data/MIGR_FLOW/A.KAZ.EMI._T.RUS._T._T._T._T.PS/KA%00Z", {}),
    (f"{V2_FLOW}/*", {"c[REF_AREA]": "KA\x00Z"}),
    (f"{V2_FLOW}/*", {"c[REF_AREA\x1b]": "KAZ"}),
    (f"{V2_AVAILABILITY}/A.KA%01Z", {}),
    ("/data/MIG%01R_FLOW", {}),
    ("/stats/mirror/coverage", {"country": "KAZ\x00", "period": "2019"}),
    ("/stats/mirror/pairs", {"period": "2019\x0b"}),
    ("/stats/mirror/factors", {"period": "2019", "benchmark": "SW\x00E"}),
]


@pytest.mark.parametrize("path, params", CONTROL_REQUESTS)
def test_xml_illegal_characters_in_the_request_line_are_a_400(loaded, path, params):
    with loaded.client(loaded.token(None)) as client:
        response = client.get(path, params=params)
    assert response.status_code == 400, response.text[:300]
    assert "\x00" not in response.text and "\x01" not in response.text and "\x1b" not in response.text
    message = response.json()["message"] if path.startswith(("/submissions", "/stats")) \
        else sdmx_error_text(response.content)  # well-formed SDMX-ML for the SDMX reads
    assert "which SDMX (XML 1.0) cannot carry" in message and "U+00" in message


def test_an_sdmx_json_client_gets_the_error_as_sdmx_json(loaded):
    with loaded.client() as client:
        response = client.get("/data/MIG%00R_FLOW", headers={"Accept": "application/vnd.sdmx.data+json"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == 140 and "U+0000" in response.json()["errors"][0]["title"]


def test_a_push_with_a_control_character_in_its_query_string_is_refused(loaded):
    with loaded.client(loaded.token("KAZ")) as client:
        response = client.post("/data", params={"note": "a\x00b"}, content=simple_message(),
                               headers={"Content-Type": SS_21})
    assert response.status_code == 400 and "U+0000" in response.json()["message"]


# --- 503 when the store cannot answer for now --------------------------------------------------------------------


def assert_unavailable(response) -> None:  # noqa: ANN001
    assert response.status_code == 503, response.text[:300]
    assert response.headers["retry-after"].isdigit()
    assert "cannot use its database right now" in response.text


@pytest.mark.skipif(ON_POSTGRES, reason="SQLite's write lock; PostgreSQL is cut off below")
def test_sqlite_locked_by_another_writer_is_a_503_then_recovers(tmp_path):
    with live_hub(tmp_path, EXCHANGE_SQLITE_BUSY_TIMEOUT_S="0.2") as hub:
        token = hub.token("KAZ")
        with closing(sqlite3.connect(tmp_path / "hub.db", isolation_level=None)) as other:
            other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
            with hub.client(token) as client:
                assert_unavailable(client.post("/data", content=simple_message(), headers={"Content-Type": SS_21}))
                assert client.get("/data/MIGR_FLOW").status_code == 404  # readers are not blocked (WAL)
            other.execute("ROLLBACK")
        with hub.client(token) as client:
            assert client.post("/data", content=simple_message(), headers={"Content-Type": SS_21}).status_code == 200


class Cut:
    """A TCP relay on loopback between the hub and PostgreSQL that the test can cut (a network failure or a
    stopped server, as the hub sees it) and restore on the same port."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target, self.port = target, free_port()
        self.sockets: list[socket.socket] = []
        self.listener: socket.socket | None = None

    def open(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", self.port), reuse_port=False)
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def cut(self) -> None:
        for sock in [self.listener, *self.sockets]:
            if sock is not None:
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
        self.sockets.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            self.sockets += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=_pump, args=(a, b), daemon=True).start()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    with suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    with suppress(OSError):
        sink.shutdown(socket.SHUT_WR)


@pytest.fixture
def cut_hub(tmp_path: Path) -> Iterator[tuple[object, Cut]]:
    from tests.live import LiveHub

    with fresh_database(tmp_path) as url:
        parts = urlsplit(url)
        relay = Cut((parts.hostname or "127.0.0.1", parts.port or 5432))
        relay.open()
        via_relay = urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.port or 5432}", f":{relay.port}")))
        hub = LiveHub(via_relay, log=tmp_path / "hub.log").start()
        try:
            yield hub, relay
        finally:
            hub.stop()
            relay.cut()


@pytest.mark.skipif(not ON_POSTGRES, reason="a PostgreSQL server cut off from the hub")
def test_postgresql_out_of_reach_is_a_503_then_recovers(cut_hub):
    hub, relay = cut_hub
    token = hub.token("KAZ")  # type: ignore[attr-defined]
    with hub.client(token) as client:  # type: ignore[attr-defined]
        assert client.post("/data", content=simple_message(), headers={"Content-Type": SS_21}).status_code == 200
        relay.cut()
        assert_unavailable(client.post("/data", content=simple_message(base=7), headers={"Content-Type": SS_21}))
        read = client.get("/data/MIGR_FLOW", headers={"Accept": "application/vnd.sdmx.data+json"})
        assert_unavailable(read)
        assert read.json()["errors"][0]["code"] == 503
        assert_unavailable(client.get("/stats/mirror/pairs", params={"period": "2019"}))
        relay.open()
        assert client.get("/data/MIGR_FLOW").status_code == 200


def test_only_transient_database_errors_become_503(tmp_path):
    """A lock is one a retry cures; a statement error is a bug, left to be a 500."""
    engine = create_engine(f"sqlite:///{tmp_path / 'x.db'}", connect_args={"timeout": 0})
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (a INTEGER)"))
    with engine.connect() as conn:
        with pytest.raises(DBAPIError) as bug:
            conn.execute(text("SELECT * FROM no_such_table"))
    assert transient_reason(bug.value) is None
    with closing(sqlite3.connect(tmp_path / "x.db", isolation_level=None)) as other:
        other.execute("BEGIN EXCLUSIVE")
        with engine.connect() as conn, pytest.raises(DBAPIError) as locked:
            conn.execute(text("INSERT INTO t VALUES (1)"))
        other.execute("ROLLBACK")
    assert transient_reason(locked.value) == "the database is locked by another writer"
    engine.dispose()
