"""The events' SQL: the newest logged version (the change log's INSERT NOTIFYs each step)."""

import uuid
from functools import cache
from typing import Any

from psycopg import AsyncConnection
from sqlalchemy import bindparam, func, select

from service.changes.repository import CHANGES_TABLE
from service.sql import CompiledSql, compiled


@cache
def newest_version_statement() -> CompiledSql:
    """SELECT the highest version the workflow's log holds, 0 when it holds none."""
    t = CHANGES_TABLE
    return compiled(
        select(func.coalesce(func.max(t.c.version), 0)).where(
            t.c.workflow_id == bindparam("workflow_id")
        )
    )


async def newest_version(connection: AsyncConnection[Any], workflow_id: uuid.UUID) -> int:
    """The highest version in the workflow's change log (0: none)."""
    statement = newest_version_statement()
    cursor = await connection.execute(
        statement.text, statement.params({"workflow_id": workflow_id})
    )
    row = await cursor.fetchone()
    return 0 if row is None else int(row[0])
