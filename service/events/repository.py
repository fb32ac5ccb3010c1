"""The events' SQL: NOTIFY a step inside its transaction, and the newest logged version."""

import uuid
from functools import cache
from typing import Any

from psycopg import AsyncConnection
from sqlalchemy import Text, bindparam, func, select

from service.changes.repository import CHANGES_TABLE
from service.events.broker import CHANNEL
from service.sql import CompiledSql, compiled


@cache
def notify_statement() -> CompiledSql:
    """SELECT pg_notify(channel, payload): delivered to listeners when the transaction commits."""
    return compiled(
        select(func.pg_notify(bindparam("channel", type_=Text), bindparam("payload", type_=Text)))
    )


async def notify_change(
    connection: AsyncConnection[Any], workflow_id: uuid.UUID, version: int
) -> None:
    """Tell every worker's listener, at commit, that the workflow reached `version`."""
    statement = notify_statement()
    values = {"channel": CHANNEL, "payload": f"{workflow_id} {version}"}
    await connection.execute(statement.text, statement.params(values))


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
