"""Owner-scoped, versioned, soft-deletable tables (workflows, tools, agents): `OwnedTable`.

Reads render API JSON in SQL; writes check the version in the same statement that raises it.
"""

import uuid
from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb
from pydantic import BaseModel

from service.errors import NotDeletedError, NotFoundError, VersionMismatchError
from service.json_sql import json_object_sql
from service.pagination import Cursor, SortKey, split_page
from service.preconditions import Precondition


@dataclass(frozen=True)
class VersionedJson:
    """A resource as API JSON text, with the version its ETag carries."""

    version: int
    body: str
    id: uuid.UUID | None = None


@dataclass(frozen=True)
class OwnedTable:
    """An owner-scoped, versioned, soft-deletable table and the API schema of its rows."""

    name: str
    label: str
    public: type[BaseModel]
    json_columns: frozenset[str]
    # The nodes column that references this table (ON DELETE SET NULL), if any.
    node_reference: str | None = None

    @property
    def json_sql(self) -> str:
        """A row of this table, aliased `w`, as API JSON."""
        return json_object_sql(self.public, "w")

    def sql_value(self, column: str, value: Any) -> Any:
        """A model value as a query parameter (JSONB columns wrapped)."""
        return Jsonb(value) if column in self.json_columns and value is not None else value


@dataclass(frozen=True)
class ListFilter:
    """What a list shows."""

    is_active: bool | None = None
    name_contains: str | None = None
    deleted: bool = False


async def fetch_versioned(
    connection: AsyncConnection[Any], query: str, params: tuple[Any, ...]
) -> VersionedJson | None:
    """Run a query selecting (version, json text) and return its row."""
    cursor = await connection.execute(query, params)
    row = await cursor.fetchone()
    if row is None:
        return None
    return VersionedJson(int(row[0]), str(row[1]), row[2] if len(row) > 2 else None)


async def get_row(
    connection: AsyncConnection[Any],
    table: OwnedTable,
    owner_id: uuid.UUID,
    row_id: uuid.UUID,
    *,
    include_deleted: bool = False,
) -> VersionedJson | None:
    """The owner's row, live unless `include_deleted`."""
    deleted_clause = "" if include_deleted else " AND w.deleted_at IS NULL"
    return await fetch_versioned(
        connection,
        f"SELECT w.version, {table.json_sql}::text FROM {table.name} w "  # noqa: S608
        f"WHERE w.id = %s AND w.owner_id = %s{deleted_clause}",
        (row_id, owner_id),
    )


async def insert_row(
    connection: AsyncConnection[Any], table: OwnedTable, owner_id: uuid.UUID, row_in: BaseModel
) -> VersionedJson:
    """Insert a row at version 1 from a validated Create model."""
    values = row_in.model_dump()
    columns = ", ".join(values)
    placeholders = ", ".join(["%s"] * len(values))
    created = await fetch_versioned(
        connection,
        f"INSERT INTO {table.name} AS w (id, owner_id, {columns}) "  # noqa: S608
        f"VALUES (%s, %s, {placeholders}) RETURNING w.version, {table.json_sql}::text, w.id",
        (uuid.uuid4(), owner_id, *(table.sql_value(c, v) for c, v in values.items())),
    )
    assert created is not None
    return created


async def row_version(
    connection: AsyncConnection[Any],
    table: OwnedTable,
    owner_id: uuid.UUID,
    row_id: uuid.UUID,
    *,
    deleted: bool | None,
) -> int | None:
    """The version of the owner's live (or trashed; None: either) row, None if there is none."""
    state = {None: "", False: " AND deleted_at IS NULL", True: " AND deleted_at IS NOT NULL"}
    cursor = await connection.execute(
        f"SELECT version FROM {table.name} WHERE id = %s AND owner_id = %s{state[deleted]}",  # noqa: S608
        (row_id, owner_id),
    )
    row = await cursor.fetchone()
    return None if row is None else int(row[0])


async def explain_row_refusal(
    connection: AsyncConnection[Any],
    table: OwnedTable,
    owner_id: uuid.UUID,
    row_id: uuid.UUID,
    *,
    deleted: bool | None,
) -> Exception:
    """Why a conditional write matched no row: not found, or a newer version."""
    version = await row_version(connection, table, owner_id, row_id, deleted=deleted)
    if version is None:
        return NotFoundError(f"{table.label} {row_id} not found.")
    return VersionMismatchError(version)


async def update_row(
    connection: AsyncConnection[Any],
    table: OwnedTable,
    owner_id: uuid.UUID,
    row_id: uuid.UUID,
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
        f"UPDATE {table.name} AS w SET {', '.join(assignments)} "  # noqa: S608
        f"WHERE w.id = %s AND w.owner_id = %s AND w.deleted_at {state} "
        "AND (%s::int[] IS NULL OR w.version = ANY(%s::int[])) "
        f"RETURNING w.version, {table.json_sql}::text",
        (
            *(table.sql_value(c, v) for c, v in changes.items()),
            row_id,
            owner_id,
            versions,
            versions,
        ),
    )
    if updated is None:
        raise await explain_row_refusal(connection, table, owner_id, row_id, deleted=deleted)
    return updated


async def patch_row(
    connection: AsyncConnection[Any],
    table: OwnedTable,
    owner_id: uuid.UUID,
    row_id: uuid.UUID,
    precondition: Precondition | None,
    row_in: BaseModel,
) -> VersionedJson:
    """Replace the fields an Update model names; the version rises even when nothing changed."""
    changes = row_in.model_dump(exclude_unset=True)
    return await update_row(connection, table, owner_id, row_id, precondition, changes)


async def soft_delete_row(
    connection: AsyncConnection[Any],
    table: OwnedTable,
    owner_id: uuid.UUID,
    row_id: uuid.UUID,
    precondition: Precondition | None,
) -> VersionedJson:
    """Move the row to the trash (a change: the version rises)."""
    return await update_row(
        connection, table, owner_id, row_id, precondition, {}, set_sql="deleted_at = now()"
    )


async def restore_row(
    connection: AsyncConnection[Any],
    table: OwnedTable,
    owner_id: uuid.UUID,
    row_id: uuid.UUID,
    precondition: Precondition | None,
) -> VersionedJson:
    """Take the row out of the trash; 409 NOT_DELETED when it is live."""
    try:
        return await update_row(
            connection,
            table,
            owner_id,
            row_id,
            precondition,
            {},
            deleted=True,
            set_sql="deleted_at = NULL",
        )
    except NotFoundError:
        if await row_version(connection, table, owner_id, row_id, deleted=False) is not None:
            raise NotDeletedError(f"{table.label} {row_id} is not in the trash.") from None
        raise


async def purge_row(
    connection: AsyncConnection[Any],
    table: OwnedTable,
    owner_id: uuid.UUID,
    row_id: uuid.UUID,
    precondition: Precondition | None,
) -> None:
    """Delete the row for good (live or trashed); the database cascades to its dependents."""
    versions = None if precondition is None else precondition.sql_versions()
    delete = (
        f"DELETE FROM {table.name} WHERE id = %s AND owner_id = %s "  # noqa: S608
        "AND (%s::int[] IS NULL OR version = ANY(%s::int[])) RETURNING id"
    )
    if table.node_reference:
        # The delete empties the nodes' reference (SET NULL): that changes their workflows,
        # so their versions (and ETags) rise in the same statement.
        delete = (
            f"WITH gone AS ({delete}), touched AS ("  # noqa: S608
            "UPDATE workflows SET version = version + 1, updated_at = now() WHERE id IN "
            f"(SELECT workflow_id FROM nodes WHERE {table.node_reference} IN "
            "(SELECT id FROM gone))) SELECT id FROM gone"
        )
    cursor = await connection.execute(delete, (row_id, owner_id, versions, versions))
    if await cursor.fetchone() is None:
        raise await explain_row_refusal(connection, table, owner_id, row_id, deleted=None)


def escape_like(text: str) -> str:
    """Escape LIKE wildcards so `text` matches literally."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def list_rows(
    connection: AsyncConnection[Any],
    table: OwnedTable,
    owner_id: uuid.UUID,
    filters: ListFilter,
    sort: SortKey,
    limit: int,
    cursor: str | None,
) -> tuple[list[str], str | None]:
    """One keyset page of the owner's rows: item JSON texts and the next cursor."""
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
        f"SELECT {table.json_sql}::text, w.{column}::text, w.id FROM {table.name} w "  # noqa: S608
        f"WHERE {' AND '.join(where)} "
        f"ORDER BY w.{column} {direction}, w.id {direction} LIMIT %s"
    )
    result = await connection.execute(query, (*params, limit + 1))
    return split_page(await result.fetchall(), limit, sort.value)
