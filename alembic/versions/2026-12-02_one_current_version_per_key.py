"""one current version per observation key: repair duplicates, then a partial unique index per data table

Before this revision two pushes by different reporters at the same moment could each write a current
version of the same observation (issue #9). For every data table listed in ``dsd_table``: of the current
versions of a key, the newest (latest ``_recorded_at``, then highest ``_id``) stays current and the others
are closed as superseded by it; then the unique index over the current rows is created. Data tables are
reflected, not rebuilt from the DSDs: their key columns are the NOT NULL columns without a leading "_".

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 11:40:00
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

BATCH = 10_000


def upgrade() -> None:
    bind = op.get_bind()
    for name in _data_tables(bind):
        table = sa.Table(name, sa.MetaData(), autoload_with=bind)
        keys = [c for c in table.columns if not c.name.startswith("_") and not c.nullable]
        _repair(bind, table, keys)
        if current_index_name(name) not in {ix["name"] for ix in sa.inspect(bind).get_indexes(name)}:
            current = table.c._superseded_at.is_(None)
            op.create_index(current_index_name(name), name, [c.name for c in keys], unique=True,
                            sqlite_where=current, postgresql_where=current)


def downgrade() -> None:
    bind = op.get_bind()
    for name in _data_tables(bind):
        if current_index_name(name) in {ix["name"] for ix in sa.inspect(bind).get_indexes(name)}:
            op.drop_index(current_index_name(name), table_name=name)


def current_index_name(table_name: str) -> str:
    """As exchange.store.tables.current_index_name at this revision (a migration does not follow later code)."""
    name = f"uq_{table_name}_current"
    if len(name) <= 63:
        return name
    return f"uq_{table_name[:40]}_{hashlib.sha256(table_name.encode()).hexdigest()[:10]}_current"


def _data_tables(bind: sa.Connection) -> list[str]:
    names = bind.execute(sa.text("SELECT table_name FROM dsd_table ORDER BY table_name")).scalars().all()
    return [name for name in names if sa.inspect(bind).has_table(name)]


def _repair(bind: sa.Connection, table: sa.Table, keys: list[sa.Column[Any]]) -> None:
    """Close every current version of a key but the newest (superseded at, and by, the newest one)."""
    updates: list[dict[str, Any]] = []
    for versions in _duplicated_keys(bind, table, keys):
        newest = versions[0]
        updates.extend({"id": row._id, "at": newest._recorded_at, "by": newest._submission} for row in versions[1:])
        if len(updates) >= BATCH:
            _close(bind, table, updates)
            updates = []
    if updates:
        _close(bind, table, updates)


def _duplicated_keys(bind: sa.Connection, table: sa.Table, keys: list[sa.Column[Any]]) -> Iterator[list[Any]]:
    """The current versions of each key that has several, newest first."""
    current = table.c._superseded_at.is_(None)
    duplicated = (sa.select(*keys).where(current).group_by(*keys).having(sa.func.count() > 1).subquery())
    rows = bind.execute(
        sa.select(table.c._id, table.c._recorded_at, table.c._submission, *keys)
        .join(duplicated, sa.and_(*[k == duplicated.c[k.name] for k in keys]))
        .where(current)
        .order_by(*keys, table.c._recorded_at.desc(), table.c._id.desc())
    ).all()
    group: list[Any] = []
    for row in rows:
        if group and tuple(row[3:]) != tuple(group[0][3:]):
            yield group
            group = []
        group.append(row)
    if group:
        yield group


def _close(bind: sa.Connection, table: sa.Table, updates: list[dict[str, Any]]) -> None:
    bind.execute(
        table.update().where(table.c._id == sa.bindparam("id"))
        .values(_superseded_at=sa.bindparam("at"), _superseded_by=sa.bindparam("by")),
        updates,
    )
