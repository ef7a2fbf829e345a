"""Storage: fixed hub tables (owned by Alembic) and one observation table per registered DSD."""
