"""Hub settings, read from the environment (prefix ``EXCHANGE_``); every field is documented in the README."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
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
    reconciliation: bool = Field(
        True, description="Re-examine the mirror pairs each accepted push touched and open, revise, resolve or "
                          "reopen reconciliation cases in the push's transaction (false: no automatic cases).")
    reconciliation_text_max_chars: int = Field(
        4000, description="Longest comment, explanation or request text on a reconciliation case, in characters.")
    # --- events: links, delivery, feed, e-mail (issue #10) -----------------------------------------------------
    public_url: str = Field("", description="The hub's public base URL, for the links in events (empty: relative links).")
    dispatcher_enabled: bool = Field(True, description="Deliver webhooks and e-mail from this hub process.")
    dispatch_interval_s: float = Field(1.0, description="How often the dispatcher looks for due deliveries.")
    webhook_allow_private: bool = Field(
        False, description="Allow webhook URLs on loopback, private or link-local addresses (tests only).")
    webhook_timeout_s: float = Field(10.0, description="Time limit of one webhook or SMTP delivery attempt.")
    webhook_retry_schedule: list[float] = Field(
        [5, 30, 120, 600, 3600, 10800, 21600, 43200, 86400],
        description="Seconds to wait before each retry of a failed delivery (JSON list); then it gives up.")
    webhook_disable_after: int = Field(
        10, description="Consecutive failed attempts, spanning the whole retry schedule, that disable a subscription.")
    events_max_wait_s: float = Field(30.0, description="Longest long-poll wait of GET /events, in seconds.")
    smtp_host: str = Field("", description="SMTP server for e-mail notifications (empty: no e-mail).")
    smtp_port: int = Field(25, description="SMTP server port.")
    smtp_user: str = Field("", description="SMTP user name (empty: no login).")
    smtp_password: SecretStr = Field(SecretStr(""), description="SMTP password.")
    smtp_starttls: bool = Field(False, description="Upgrade the SMTP connection with STARTTLS before logging in.")
    smtp_from: str = Field("exchange@localhost", description="Sender address of e-mail notifications.")
