"""Hub settings, read from the environment (prefix ``EXCHANGE_``); every field is documented in the README."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


def resource_dir(name: str) -> Path:
    """The top-level folder ``name`` (alembic, structures, mappings) of a checkout, or its copy in the wheel."""
    if (REPO_ROOT / name).is_dir() and (REPO_ROOT / "pyproject.toml").is_file():
        return REPO_ROOT / name
    return Path(__file__).resolve().parent / "_bundled" / name


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EXCHANGE_", extra="ignore")

    database_url: str = Field(
        "sqlite:///exchange.db",
        description="SQLAlchemy URL of the store: a SQLite file by default, postgresql+psycopg://... in production.",
    )
    structures_dir: Path = Field(resource_dir("structures"), description="Folder of shared SDMX-ML 2.1 structure files.")
    mappings_dir: Path = Field(resource_dir("mappings"), description="Folder of national-to-shared code mappings.")
    max_upload_bytes: int = Field(
        512 * 1024 * 1024, description="Largest accepted request body (after gzip decoding), in bytes; over it: 413."
    )
    insert_batch_size: int = Field(10_000, description="Observations per batched INSERT/COPY when staging a message.")
    max_value_length: int = Field(1000, description="Longest accepted value of any component, in characters.")
    issues_page_size: int = Field(1000, description="Validation issues returned per page by GET /submissions/{id}.")
    max_response_observations: int = Field(
        0, description="Largest data answer, in observations; over it GET /data answers 413 (0: no limit)."
    )
    sqlite_busy_timeout_s: float = Field(600.0, description="How long a SQLite writer waits for the write lock.")
    log_format: Literal["text", "json"] = Field(
        "text", description="text: uvicorn's access log; json: one JSON line per request on stderr (issue #15)."
    )
