"""An empty store for a benchmark run: a fresh SQLite file, or a fresh PostgreSQL schema."""

from __future__ import annotations

from pathlib import Path


def fresh_store(url: str, schema: str) -> str:
    """Empty the store named by ``url`` and return the URL to use (PostgreSQL: with ``search_path=schema``)."""
    from sqlalchemy import create_engine, text

    if url.startswith("postgresql"):
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE; CREATE SCHEMA "{schema}"'))
        engine.dispose()
        return url + ("&" if "?" in url else "?") + f"options=-csearch_path%3D{schema}"
    Path(url.split("///", 1)[1]).unlink(missing_ok=True)
    return url
