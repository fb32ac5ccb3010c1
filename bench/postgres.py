"""The benchmark's own PostgreSQL: a fresh embedded server, or a fresh database on DATABASE_URL."""

import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from alembic import command
from sqlalchemy.engine import make_url

from service.db import alembic_config, psycopg_conninfo, sqlalchemy_url
from service.embedded import embedded_database_url, start_embedded_postgres


@dataclass(frozen=True)
class Database:
    """A migrated, empty database for one benchmark run."""

    url: str
    description: str

    @property
    def conninfo(self) -> str:
        """The libpq connection string."""
        return psycopg_conninfo(self.url)


def server_version(conninfo: str) -> str:
    """PostgreSQL's version string, e.g. `18.0`."""
    with psycopg.connect(conninfo) as connection:
        row = connection.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "unknown"


@contextmanager
def fresh_database(server_url: str | None) -> Iterator[Database]:
    """A migrated database: on `server_url` (created, then dropped) or an embedded server."""
    if server_url:
        with scratch_database(sqlalchemy_url(server_url)) as url:
            command.upgrade(alembic_config(url), "head")
            yield Database(url, "DATABASE_URL server, fresh database")
        return
    data_dir = Path(tempfile.mkdtemp(prefix="wf-bench-pg-")) / "data"
    server = start_embedded_postgres(data_dir, keep_data=False)
    try:
        url = embedded_database_url(server)
        command.upgrade(alembic_config(url), "head")
        yield Database(url, f"embedded PostgreSQL in {data_dir}")
    finally:
        server.cleanup()


@contextmanager
def scratch_database(server_url: str) -> Iterator[str]:
    """A new database on the server, dropped afterwards."""
    name = f"wf_bench_{uuid.uuid4().hex[:12]}"
    admin = psycopg_conninfo(make_url(server_url).set(database="postgres").render_as_string(False))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def postmaster_pid(conninfo: str) -> int | None:
    """The PostgreSQL server's process id, when its data directory is readable from here."""
    with psycopg.connect(conninfo) as connection:
        row = connection.execute("SELECT current_setting('data_directory')").fetchone()
    try:
        return int((Path(str(row[0])) / "postmaster.pid").read_text().split()[0]) if row else None
    except (OSError, ValueError, IndexError):
        return None


def wait_until_idle(conninfo: str, timeout_seconds: float = 30) -> None:
    """Wait until no other session runs a statement (requests cut off by wrk have finished)."""
    deadline = time.monotonic() + timeout_seconds
    with psycopg.connect(conninfo, autocommit=True) as connection:
        quiet_readings = 0
        while quiet_readings < 2 and time.monotonic() < deadline:
            row = connection.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND state <> 'idle' AND pid <> pg_backend_pid()"
            ).fetchone()
            quiet_readings = quiet_readings + 1 if row and row[0] == 0 else 0
            time.sleep(0.1)
