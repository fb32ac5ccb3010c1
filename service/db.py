"""Database plumbing: URLs, the psycopg connection pool, the Alembic head."""

import asyncio
import logging
import weakref
from functools import lru_cache
from pathlib import Path
from typing import Any

from alembic.config import Config
from alembic.script import ScriptDirectory
from psycopg.conninfo import make_conninfo
from psycopg_pool import AsyncConnectionPool
from sqlalchemy.engine import make_url

from service.config import Settings, get_settings
from service.embedded import embedded_database_url, start_embedded_postgres

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ALEMBIC_INI = PROJECT_ROOT / "alembic.ini"
_embedded_servers: dict[Path, Any] = {}
# Each pool slot retries a lost connection with doubling delays until this deadline, then frees
# itself to be regrown on demand: a short deadline bounds the wait after a long outage.
RECONNECT_TIMEOUT_SECONDS = 30.0
logger = logging.getLogger(__name__)
_idle_checks: weakref.WeakKeyDictionary[AsyncConnectionPool[Any], asyncio.Task[None]] = (
    weakref.WeakKeyDictionary()
)


def sqlalchemy_url(url: str) -> str:
    """The URL with the psycopg 3 driver named, as SQLAlchemy and Alembic want it."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def psycopg_conninfo(url: str) -> str:
    """The libpq connection string for a SQLAlchemy-style URL."""
    parsed = make_url(sqlalchemy_url(url))
    params: dict[str, Any] = {
        "host": parsed.host,
        "port": parsed.port,
        "user": parsed.username,
        "password": parsed.password,
        "dbname": parsed.database,
    }
    # Query parameters (e.g. ?host=/socket/dir for the embedded server) win over the URL parts.
    params.update((key, value) for key, value in parsed.query.items() if isinstance(value, str))
    return make_conninfo("", **{key: value for key, value in params.items() if value})


def resolve_database_url(settings: Settings) -> str:
    """DATABASE_URL when set, otherwise the URL of the embedded server (started on demand)."""
    if settings.database_url:
        return sqlalchemy_url(settings.database_url)
    data_dir = settings.embedded_data_dir.resolve()
    if data_dir not in _embedded_servers:
        _embedded_servers[data_dir] = start_embedded_postgres(data_dir)
    return embedded_database_url(_embedded_servers[data_dir])


def migration_url(explicit: str | None) -> str:
    """The URL Alembic migrates: the one it was given, else the service's own."""
    return sqlalchemy_url(explicit) if explicit else resolve_database_url(get_settings())


def alembic_config(url: str | None = None) -> Config:
    """An Alembic config for this project, optionally aimed at `url`."""
    config = Config(str(ALEMBIC_INI))
    config.attributes["configure_logger"] = False
    if url:
        config.set_main_option("sqlalchemy.url", sqlalchemy_url(url).replace("%", "%%"))
    return config


@lru_cache
def alembic_head() -> str:
    """The newest migration revision shipped with this code."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError("no Alembic migrations found")
    return head


def create_pool(url: str, settings: Settings) -> AsyncConnectionPool[Any]:
    """An unopened async pool; connections autocommit, transactions are opened explicitly."""
    options = f"-c TimeZone=UTC -c statement_timeout={settings.db_statement_timeout_ms}"
    return AsyncConnectionPool(
        psycopg_conninfo(url),
        min_size=settings.db_pool_min_size,
        max_size=settings.db_pool_max_size,
        timeout=settings.db_connect_timeout_seconds,
        kwargs={
            "autocommit": True,
            "prepare_threshold": settings.db_prepare_threshold,
            "options": options,
            "connect_timeout": max(1, round(settings.db_connect_timeout_seconds)),
        },
        open=False,
        name="workflow-service",
        reconnect_timeout=RECONNECT_TIMEOUT_SECONDS,
    )


def check_idle_connections(pool: AsyncConnectionPool[Any]) -> None:
    """After a connection broke, test the idle ones in the background (one check at a time).

    Checking on every checkout would cost a round trip per request; after PostgreSQL restarts,
    this replaces the stale idle connections once, instead of failing one request for each.
    """
    running = _idle_checks.get(pool)
    if running is None or running.done():
        _idle_checks[pool] = asyncio.get_running_loop().create_task(_check_quietly(pool))


async def _check_quietly(pool: AsyncConnectionPool[Any]) -> None:
    try:
        await pool.check()
    except Exception:  # e.g. the pool closed meanwhile; the next request will find out
        logger.warning("checking idle database connections failed", exc_info=True)
