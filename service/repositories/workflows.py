"""Workflows: reads render API JSON in SQL; writes check the version in the same statement."""

import uuid
from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from service.errors import NotDeletedError, NotFoundError, VersionMismatchError
from service.models import WorkflowCreate, WorkflowPublic, WorkflowUpdate
from service.pagination import Cursor, SortKey, split_page
from service.preconditions import Precondition
from service.repositories.json_sql import json_object_sql

WORKFLOW_JSON = json_object_sql(WorkflowPublic, "w")
JSON_COLUMNS = {"config", "variables"}


@dataclass(frozen=True)
class VersionedJson:
    """A resource as API JSON text, with the version its ETag carries."""

    version: int
    body: str
    id: uuid.UUID | None = None


@dataclass(frozen=True)
class WorkflowFilter:
    """What a workflow list shows."""

    is_active: bool | None = None
    name_contains: str | None = None
    deleted: bool = False


def sql_value(column: str, value: Any) -> Any:
    """A model value as a query parameter (JSONB columns wrapped)."""
    return Jsonb(value) if column in JSON_COLUMNS and value is not None else value


async def fetch_versioned(
    connection: AsyncConnection[Any], query: str, params: tuple[Any, ...]
) -> VersionedJson | None:
    """Run a query selecting (version, json text) and return its row."""
    cursor = await connection.execute(query, params)
    row = await cursor.fetchone()
    if row is None:
        return None
    return VersionedJson(int(row[0]), str(row[1]), row[2] if len(row) > 2 else None)


async def get_workflow(
    connection: AsyncConnection[Any],
    owner_id: uuid.UUID,
    workflow_id: uuid.UUID,
    *,
    include_deleted: bool = False,
) -> VersionedJson | None:
    """The owner's workflow, live unless `include_deleted`."""
    deleted_clause = "" if include_deleted else " AND w.deleted_at IS NULL"
    return await fetch_versioned(
        connection,
        f"SELECT w.version, {WORKFLOW_JSON}::text FROM workflows w "  # noqa: S608
        f"WHERE w.id = %s AND w.owner_id = %s{deleted_clause}",
        (workflow_id, owner_id),
    )


async def create_workflow(
    connection: AsyncConnection[Any], owner_id: uuid.UUID, workflow_in: WorkflowCreate
) -> VersionedJson:
    """Insert a workflow at version 1."""
    values = workflow_in.model_dump()
    columns = ", ".join(values)
    placeholders = ", ".join(["%s"] * len(values))
    created = await fetch_versioned(
        connection,
        f"INSERT INTO workflows AS w (id, owner_id, {columns}) "  # noqa: S608
        f"VALUES (%s, %s, {placeholders}) RETURNING w.version, {WORKFLOW_JSON}::text, w.id",
        (uuid.uuid4(), owner_id, *(sql_value(c, v) for c, v in values.items())),
    )
    assert created is not None
    return created


async def current_version(
    connection: AsyncConnection[Any], owner_id: uuid.UUID, workflow_id: uuid.UUID, *, deleted: bool
) -> int | None:
    """The version of the owner's live (or trashed) workflow, None if there is none."""
    state = "IS NOT NULL" if deleted else "IS NULL"
    cursor = await connection.execute(
        f"SELECT version FROM workflows WHERE id = %s AND owner_id = %s AND deleted_at {state}",  # noqa: S608
        (workflow_id, owner_id),
    )
    row = await cursor.fetchone()
    return None if row is None else int(row[0])


async def explain_refusal(
    connection: AsyncConnection[Any], owner_id: uuid.UUID, workflow_id: uuid.UUID, *, deleted: bool
) -> Exception:
    """Why a conditional write matched no row: not found, or a newer version."""
    version = await current_version(connection, owner_id, workflow_id, deleted=deleted)
    if version is None:
        return NotFoundError(f"Workflow {workflow_id} not found.")
    return VersionMismatchError(version)


async def update_workflow(
    connection: AsyncConnection[Any],
    owner_id: uuid.UUID,
    workflow_id: uuid.UUID,
    precondition: Precondition | None,
    changes: dict[str, Any],
    *,
    deleted: bool = False,
    set_sql: str = "",
) -> VersionedJson:
    """Apply `changes` and raise the version by one, if the precondition holds (atomically)."""
    assignments = [f"{column} = %s" for column in changes]
    assignments += ["version = w.version + 1", "updated_at = now()"]
    if set_sql:
        assignments.append(set_sql)
    state = "IS NOT NULL" if deleted else "IS NULL"
    versions = None if precondition is None else precondition.sql_versions()
    updated = await fetch_versioned(
        connection,
        f"UPDATE workflows AS w SET {', '.join(assignments)} "  # noqa: S608
        f"WHERE w.id = %s AND w.owner_id = %s AND w.deleted_at {state} "
        "AND (%s::int[] IS NULL OR w.version = ANY(%s::int[])) "
        f"RETURNING w.version, {WORKFLOW_JSON}::text",
        (
            *(sql_value(c, v) for c, v in changes.items()),
            workflow_id,
            owner_id,
            versions,
            versions,
        ),
    )
    if updated is None:
        raise await explain_refusal(connection, owner_id, workflow_id, deleted=deleted)
    return updated


async def patch_workflow(
    connection: AsyncConnection[Any],
    owner_id: uuid.UUID,
    workflow_id: uuid.UUID,
    precondition: Precondition | None,
    workflow_in: WorkflowUpdate,
) -> VersionedJson:
    """Replace the named fields; the version rises even when nothing changed."""
    changes = workflow_in.model_dump(exclude_unset=True)
    return await update_workflow(connection, owner_id, workflow_id, precondition, changes)


async def soft_delete_workflow(
    connection: AsyncConnection[Any],
    owner_id: uuid.UUID,
    workflow_id: uuid.UUID,
    precondition: Precondition | None,
) -> VersionedJson:
    """Move the workflow to the trash (a change: the version rises)."""
    return await update_workflow(
        connection, owner_id, workflow_id, precondition, {}, set_sql="deleted_at = now()"
    )


async def restore_workflow(
    connection: AsyncConnection[Any],
    owner_id: uuid.UUID,
    workflow_id: uuid.UUID,
    precondition: Precondition | None,
) -> VersionedJson:
    """Take the workflow out of the trash; 409 NOT_DELETED when it is live."""
    try:
        return await update_workflow(
            connection,
            owner_id,
            workflow_id,
            precondition,
            {},
            deleted=True,
            set_sql="deleted_at = NULL",
        )
    except NotFoundError:
        if await current_version(connection, owner_id, workflow_id, deleted=False) is not None:
            raise NotDeletedError(f"Workflow {workflow_id} is not in the trash.") from None
        raise


async def purge_workflow(
    connection: AsyncConnection[Any],
    owner_id: uuid.UUID,
    workflow_id: uuid.UUID,
    precondition: Precondition | None,
) -> None:
    """Delete the workflow with its nodes and edges for good (live or trashed)."""
    versions = None if precondition is None else precondition.sql_versions()
    cursor = await connection.execute(
        "DELETE FROM workflows WHERE id = %s AND owner_id = %s "
        "AND (%s::int[] IS NULL OR version = ANY(%s::int[])) RETURNING id",
        (workflow_id, owner_id, versions, versions),
    )
    if await cursor.fetchone() is None:
        cursor = await connection.execute(
            "SELECT version FROM workflows WHERE id = %s AND owner_id = %s",
            (workflow_id, owner_id),
        )
        row = await cursor.fetchone()
        if row is None:
            raise NotFoundError(f"Workflow {workflow_id} not found.")
        raise VersionMismatchError(int(row[0]))


def escape_like(text: str) -> str:
    """Escape LIKE wildcards so `text` matches literally."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def list_workflows(
    connection: AsyncConnection[Any],
    owner_id: uuid.UUID,
    filters: WorkflowFilter,
    sort: SortKey,
    limit: int,
    cursor: str | None,
) -> tuple[list[str], str | None]:
    """One keyset page of the owner's workflows: item JSON texts and the next cursor."""
    where = ["w.owner_id = %s", f"w.deleted_at IS {'NOT ' if filters.deleted else ''}NULL"]
    params: list[Any] = [owner_id]
    if filters.is_active is not None:
        where.append("w.is_active = %s")
        params.append(filters.is_active)
    if filters.name_contains:
        where.append("w.name ILIKE %s")
        params.append(f"%{escape_like(filters.name_contains)}%")
    column, direction = sort.column, "DESC" if sort.descending else "ASC"
    if cursor is not None:
        where.append(f"(w.{column}, w.id) {'<' if sort.descending else '>'} (%s, %s)")
        params += Cursor.decode(cursor, sort.value).position(column)
    query = (
        f"SELECT {WORKFLOW_JSON}::text, w.{column}::text, w.id FROM workflows w "  # noqa: S608
        f"WHERE {' AND '.join(where)} "
        f"ORDER BY w.{column} {direction}, w.id {direction} LIMIT %s"
    )
    result = await connection.execute(query, (*params, limit + 1))
    return split_page(await result.fetchall(), limit, sort.value)
