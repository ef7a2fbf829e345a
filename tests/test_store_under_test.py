"""Proof, in the test output, of which database the suite ran on (CI's PostgreSQL pass must not be SQLite)."""

import os


def test_hub_uses_the_configured_store(hub):
    expected = "postgresql" if os.environ.get("EXCHANGE_DATABASE_URL", "").startswith("postgresql") else "sqlite"
    assert hub.engine.dialect.name == expected
