"""Liveness and readiness probes."""

from typing import Any

from fastapi import APIRouter, Request
from psycopg import Error as PsycopgError
from psycopg_pool import PoolTimeout
from sqlalchemy import column, select, table

from service.db import alembic_head
from service.errors import NotReadyError, error_responses
from service.sql import compiled

router = APIRouter(tags=["health"])
# Alembic's own bookkeeping table, which no SQLModel class declares.
SCHEMA_REVISION = compiled(select(column("version_num")).select_from(table("alembic_version")))


# Probes need no token: they say so (`security: []`) and document no 401.
NO_SECURITY: dict[str, Any] = {"security": []}


@router.get(
    "/healthz",
    operation_id="health_live",
    summary="The process is alive",
    openapi_extra=NO_SECURITY,
)
async def healthz() -> dict[str, str]:
    """Answers as long as the process serves HTTP; touches no database."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    operation_id="health_ready",
    summary="The database is reachable and migrated",
    responses=error_responses(NotReadyError, common=()),
    openapi_extra=NO_SECURITY,
)
async def readyz(request: Request) -> dict[str, Any]:
    """200 when PostgreSQL answers and its schema is at the Alembic head; 503 otherwise."""
    try:
        async with request.app.state.pool.connection() as connection:
            cursor = await connection.execute(SCHEMA_REVISION.text)
            row = await cursor.fetchone()
    except (PsycopgError, PoolTimeout) as error:
        raise NotReadyError(f"The database is not reachable: {type(error).__name__}") from error
    revision = None if row is None else row[0]
    if revision != alembic_head():
        raise NotReadyError(f"The schema is at {revision}, not at {alembic_head()}.")
    return {"status": "ready", "schema_revision": revision}
