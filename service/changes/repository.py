"""The change log's SQL: append an entry (pruning beyond retention), read entries after a version.

Versions of a workflow rise by one per step and every step appends one entry, so the entries
kept are a contiguous run of versions and "the last N" is "versions above current - N".
"""

import uuid
from functools import cache
from typing import Any

from psycopg import AsyncConnection
from sqlalchemy import Integer, Text, bindparam, delete, func, select
from sqlalchemy.dialects.postgresql import insert

from service.changes.models import Change, ChangeEntry, ChangePublic
from service.events.broker import CHANNEL
from service.sql import CompiledSql, compiled, json_object, json_text, table_of

CHANGES_TABLE = table_of(Change)


@cache
def append_statement() -> CompiledSql:
    """INSERT one entry, NOTIFY its step, DELETE the entries that fall out of retention."""
    t = CHANGES_TABLE
    names = ("workflow_id", "version", "actor_id", "operation", "nodes", "edges", "fields")
    values = {name: bindparam(name, type_=t.c[name].type) for name in names}
    pruned = (
        delete(t)
        .where(
            t.c.workflow_id == bindparam("workflow_id"),
            t.c.version <= bindparam("version") - bindparam("retention", type_=Integer),
        )
        .cte("pruned")
    )
    # A write that changed nothing keeps its version, whose entry exists: it adds none.
    appended = (
        insert(t).values(values).on_conflict_do_nothing(index_elements=["workflow_id", "version"])
    )
    # The NOTIFY of the entry rides on its INSERT, so a write pays no third round trip (W3
    # made three statements); PostgreSQL delivers it to the listeners at commit.
    notified = func.pg_notify(bindparam("channel", type_=Text), bindparam("payload", type_=Text))
    return compiled(appended.add_cte(pruned).returning(notified))


async def append_change(
    connection: AsyncConnection[Any],
    workflow_id: uuid.UUID,
    actor_id: uuid.UUID,
    version: int,
    entry: ChangeEntry,
    retention: int,
) -> None:
    """Record the step that produced `version` and tell every worker's listener at commit;
    keep the last `retention` entries at least."""
    statement = append_statement()
    values = {
        "workflow_id": workflow_id,
        "version": version,
        "actor_id": actor_id,
        "retention": retention,
        "channel": CHANNEL,
        "payload": f"{workflow_id} {version}",
        **entry.model_dump(mode="json"),
    }
    await connection.execute(statement.text, statement.params(values))


@cache
def entries_statement() -> CompiledSql:
    """SELECT (JSON, version text, workflow id) of entries in (since, until], oldest first."""
    t = CHANGES_TABLE
    statement = (
        select(json_text(json_object(ChangePublic, t)), t.c.version.cast(Text), t.c.workflow_id)
        .where(
            t.c.workflow_id == bindparam("workflow_id"),
            t.c.version > bindparam("since", type_=Integer),
            t.c.version <= bindparam("until", type_=Integer),
        )
        .order_by(t.c.version)
        .limit(bindparam("limit"))
    )
    return compiled(statement)


async def entries_after(
    connection: AsyncConnection[Any], workflow_id: uuid.UUID, since: int, until: int, limit: int
) -> list[Any]:
    """Up to `limit` rows of (JSON, version text, workflow id) with since < version <= until."""
    statement = entries_statement()
    values = {"workflow_id": workflow_id, "since": since, "until": until, "limit": limit}
    cursor = await connection.execute(statement.text, statement.params(values))
    return list(await cursor.fetchall())


@cache
def oldest_statement() -> CompiledSql:
    """SELECT the lowest version the workflow's log still holds (NULL: none)."""
    t = CHANGES_TABLE
    return compiled(
        select(func.min(t.c.version)).where(t.c.workflow_id == bindparam("workflow_id"))
    )


async def oldest_version(connection: AsyncConnection[Any], workflow_id: uuid.UUID) -> int | None:
    """The oldest version the log of the workflow still holds, None when it holds none."""
    statement = oldest_statement()
    cursor = await connection.execute(
        statement.text, statement.params({"workflow_id": workflow_id})
    )
    row = await cursor.fetchone()
    return None if row is None or row[0] is None else int(row[0])
