"""A push onto a full disk answers 503 with a retry hint, stores nothing, and succeeds once space is back.

The hub's SQLite file lives on a small tmpfs the test mounts (root only; skipped where mounting is not
allowed), filled up with a plain file while the hub runs: a real "database or disk is full".
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ON_POSTGRES
from tests.helpers import SS_21, simple_message
from tests.live import LiveHub

pytestmark = pytest.mark.skipif(ON_POSTGRES, reason="the disk under test holds the SQLite file")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)],
                                           capture_output=True).returncode != 0:
        pytest.skip("mounting a small tmpfs needs root and a mount-capable machine")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path) -> Path:
    filler = disk / "filler"
    with filler.open("wb") as out:
        try:
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        except OSError:
            pass
    return filler


def test_a_push_onto_a_full_disk_is_a_503_and_stores_nothing(small_disk, tmp_path):
    hub = LiveHub(f"sqlite:///{small_disk / 'hub.db'}", log=tmp_path / "hub.log").start()
    try:
        token = hub.token("KAZ")
        filler = fill(small_disk)
        with hub.client(token) as client:
            big = simple_message(years=range(1900, 2020), partners=("RUS", "UZB", "KGZ", "TJK", "TKM", "ARM"))
            response = client.post("/data", content=big, headers={"Content-Type": SS_21})
            assert response.status_code == 503, response.text[:300]
            assert response.headers["retry-after"].isdigit()
            filler.unlink()
            assert client.get("/data/MIGR_FLOW").status_code == 404  # nothing of it was stored
            again = client.post("/data", content=big, headers={"Content-Type": SS_21})
            assert again.status_code == 200, again.text[:300]
    finally:
        hub.stop()
