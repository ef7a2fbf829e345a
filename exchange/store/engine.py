"""Engine construction: SQLite pragmas for a safe embedded default, PostgreSQL as is."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event

from exchange.settings import Settings

#: Seconds to wait for a PostgreSQL connection before the request fails with 503 (unless the URL sets its own).
PG_CONNECT_TIMEOUT_S = 10


def make_engine(settings: Settings) -> Engine:
    url = settings.database_url
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": settings.sqlite_busy_timeout_s, "check_same_thread": False})
        _sqlite_pragmas(engine)
        return engine
    # pool_pre_ping: a connection the server dropped (restart, failover, pg_terminate_backend) is replaced on its
    # next checkout instead of failing a request; connect_timeout: an unreachable server fails fast (503), no hang.
    connect_args = {} if "connect_timeout=" in url else {"connect_timeout": PG_CONNECT_TIMEOUT_S}
    engine = create_engine(url, pool_pre_ping=True, connect_args=connect_args)
    _postgres_settings(engine)
    return engine


def _postgres_settings(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        # If the hub dies mid-push (kill -9), its backend notices the lost client within 2 s even inside a
        # long statement, rolls back and frees the push's scope lock (PostgreSQL 14+; ignored before).
        cursor = dbapi_conn.cursor()
        cursor.execute("SELECT set_config('client_connection_check_interval', '2000', false) "
                       "WHERE current_setting('server_version_num')::int >= 140000")
        cursor.close()
        dbapi_conn.commit()


def _sqlite_pragmas(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, emit BEGIN so a transaction covers the whole message.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the single writer
        cursor.execute("PRAGMA synchronous=NORMAL")  # durable at checkpoints; WAL keeps the file consistent
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA temp_store=FILE")  # staging tables spill to disk, memory stays flat
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(conn: Any) -> None:
        # Writers ask for BEGIN IMMEDIATE (execution option ``write=True``): they take the write lock up
        # front and queue behind each other instead of failing mid-way; readers use a plain deferred BEGIN.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("write") else "BEGIN")


def begin_write(engine: Engine) -> Any:
    """A transaction for writing: the whole block commits or nothing does."""
    return engine.execution_options(write=True).begin()
