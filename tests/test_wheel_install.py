"""Issue #15: a wheel installed outside the checkout starts and runs the demo (what the Dockerfile does too).

The wheel is built from a copy of the project's tracked folders, installed without dependencies into a
fresh virtual environment that sees this interpreter's packages (so nothing is downloaded), and run from
an unrelated directory with PYTHONPATH unset, so the checkout cannot be imported by accident.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from exchange.settings import REPO_ROOT
from tests.live import free_port, fresh_database

#: What a wheel is built from: the same list the Dockerfile copies into its build stage.
SOURCES = ["pyproject.toml", "README.md", "exchange", "alembic", "structures", "mappings"]


def _copy_sources(target: Path) -> Path:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "*.db", "*.db-*")
    target.mkdir()
    for name in SOURCES:
        source = REPO_ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=ignore)
        else:
            shutil.copy2(source, target / name)
    return target


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV") and not k.startswith("EXCHANGE_")}
    return {**env, **extra}


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{args}: {result.stdout[-2000:]}\n{result.stderr[-2000:]}"
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtual environment (outside the checkout) with the project's wheel installed; returns its bin folder."""
    base = tmp_path_factory.mktemp("wheel")
    source = _copy_sources(base / "src")
    env = _clean_env()
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(base / "dist"),
          str(source)], base, env)
    wheel = next((base / "dist").glob("exchange-*.whl"))
    venv = base / "venv"
    _run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)], base, env)
    python = venv / "bin" / "python"
    _run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall", str(wheel)], base, env)
    return venv / "bin"


def _wait_healthy(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert process.poll() is None, f"the installed hub exited with {process.returncode} at start-up"
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise AssertionError("the installed hub did not answer /health in time")


@pytest.mark.slow
def test_the_wheel_imports_from_the_venv_not_the_checkout(installed, tmp_path):
    result = _run([str(installed / "python"), "-c", "import exchange, exchange.settings as s; "
                   "print(exchange.__file__); print(s.resource_dir('alembic'))"], tmp_path, _clean_env())
    module, alembic = result.stdout.split()
    venv = installed.parent.resolve()
    assert Path(module).resolve().is_relative_to(venv), module
    assert Path(alembic).resolve().is_relative_to(venv) and (Path(alembic) / "env.py").is_file(), alembic


@pytest.mark.slow
def test_the_installed_hub_serves_the_demo_from_an_unrelated_directory(installed, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with fresh_database(tmp_path) as database_url:
        env = _clean_env(EXCHANGE_DATABASE_URL=database_url)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        with (tmp_path / "hub.log").open("wb") as log:
            process = subprocess.Popen([str(installed / "exchange"), "serve", "--port", str(port)], cwd=elsewhere,
                                       env=env, stdout=log, stderr=log)
            try:
                _wait_healthy(url, process)
                token = _run([str(installed / "exchange"), "token", "create", "--admin"], elsewhere,
                             env).stdout.strip().splitlines()[-1]
                demo = _run([str(installed / "exchange"), "demo", "--url", url, "--token", token], elsewhere, env)
                assert demo.stdout.count("HTTP 200") == 16
                answer = httpx.get(f"{url}/data/UNECE,MIGR_FLOW,1.0/A.SWE.EMI..FIN.....?startPeriod=2016&endPeriod=2016",
                                   headers={"Accept": "application/vnd.sdmx.data+csv;version=2.0.0"}, timeout=30)
            finally:
                process.terminate()
                process.wait(10)
    assert answer.status_code == 200, answer.text
    assert "2608" in answer.text
    assert not list(elsewhere.iterdir()), "the installed hub wrote into its working directory"
