"""The SQL every graph item (node or edge) of a workflow shares, named by a `GraphTable`.

Every write first raises the workflow version (`bump_version`), which checks If-Match and
locks the workflow row until commit, so graph checks never race another writer.
"""

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from service.errors import (
    GraphTooLargeError,
    NotFoundError,
    ValidationError,
    VersionMismatchError,
    invalid_value,
    json_pointer,
    workflow_not_found,
)
from service.json_sql import json_object_sql
from service.owned_rows import VersionedJson
from service.pagination import Cursor, SortKey, split_page
from service.preconditions import Precondition
from service.workflows.repository import bump_version, current_version

PAGE_SORT = SortKey.CREATED_AT
ModelT = TypeVar("ModelT", bound=BaseModel)


@dataclass(frozen=True)
class GraphTable:
    """A table of graph items: its API schemas and the SQL types of its writable columns."""

    name: str
    label: str
    public: type[BaseModel]
    create: type[BaseModel]
    column_types: dict[str, str]
    has_updated_at: bool

    @property
    def json_sql(self) -> str:
        """A row of this table, aliased `x`, as API JSON."""
        return json_object_sql(self.public, "x")

    def set_sql(self, columns: Iterable[str]) -> str:
        """The SET list writing `columns` from the record `r` (and updated_at, if kept)."""
        assignments = [f"{column} = r.{column}" for column in columns]
        if self.has_updated_at:
            assignments.append("updated_at = now()")
        return ", ".join(assignments)

    def record_sql(self, *, with_id: bool) -> str:
        """The column definition list of jsonb_to_record(set) for this table."""
        columns = {"id": "uuid", **self.column_types} if with_id else self.column_types
        return "r(" + ", ".join(f"{name} {kind}" for name, kind in columns.items()) + ")"


@dataclass(frozen=True)
class CreatedItems:
    """Items a write created, as (id, API JSON text) in request order, and the new version."""

    version: int
    items: list[tuple[uuid.UUID, str]]

    def batch_json(self) -> str:
        """The batch response body."""
        return '{"items":[' + ",".join(body for _id, body in self.items) + "]}"


@dataclass(frozen=True)
class ItemsPage:
    """One page of a workflow's items, with the workflow's version."""

    version: int
    items: list[str]
    next_cursor: str | None


def item_pointer(collection: str | None, index: int, *fields: str) -> str:
    """Pointer to a field of an item: in a batch `/collection/index/...`, else `/...`."""
    prefix: tuple[str | int, ...] = () if collection is None else (collection, index)
    return json_pointer(*prefix, *fields)


def validated_merge(model: type[ModelT], stored: dict[str, Any], changes: dict[str, Any]) -> ModelT:
    """The stored item with `changes` over it, validated whole; 422 points into the PATCH body."""
    try:
        return model.model_validate({**stored, **changes})
    except PydanticValidationError as error:
        problems = [
            invalid_value(json_pointer(*item["loc"]), item["msg"]) for item in error.errors()
        ]
        raise ValidationError(problems) from None


async def get_item(
    connection: AsyncConnection[Any],
    table: GraphTable,
    owner_id: uuid.UUID,
    workflow_id: uuid.UUID,
    item_id: uuid.UUID,
) -> VersionedJson | None:
    """One item of the owner's live workflow, with the workflow version."""
    cursor = await connection.execute(
        f"SELECT w.version, {table.json_sql}::text FROM {table.name} x "  # noqa: S608
        "JOIN workflows w ON w.id = x.workflow_id "
        "WHERE x.id = %s AND x.workflow_id = %s AND w.owner_id = %s AND w.deleted_at IS NULL",
        (item_id, workflow_id, owner_id),
    )
    row = await cursor.fetchone()
    return None if row is None else VersionedJson(int(row[0]), str(row[1]), item_id)


async def list_items(
    connection: AsyncConnection[Any],
    table: GraphTable,
    owner_id: uuid.UUID,
    workflow_id: uuid.UUID,
    limit: int,
    cursor: str | None,
) -> ItemsPage | None:
    """One keyset page by (created_at, id) of a live workflow's items; None without one."""
    after_sql = ""
    after_params: tuple[Any, ...] = ()
    if cursor is not None:
        after_sql = " AND (x.created_at, x.id) > (%s, %s)"
        after_params = Cursor.decode(cursor, PAGE_SORT.value).position(PAGE_SORT.column)
    # One statement, so the version and the page come from the same snapshot.
    result = await connection.execute(
        f"SELECT w.version, page.body, page.created_at::text, page.id FROM workflows w "  # noqa: S608
        f"LEFT JOIN LATERAL (SELECT {table.json_sql}::text AS body, x.created_at, x.id "
        f"FROM {table.name} x WHERE x.workflow_id = w.id{after_sql} "
        "ORDER BY x.created_at, x.id LIMIT %s) page ON true "
        "WHERE w.id = %s AND w.owner_id = %s AND w.deleted_at IS NULL "
        "ORDER BY page.created_at, page.id",
        (*after_params, limit + 1, workflow_id, owner_id),
    )
    rows = await result.fetchall()
    if not rows:
        return None
    page_rows = [row[1:] for row in rows if row[1] is not None]
    items, next_cursor = split_page(page_rows, limit, PAGE_SORT.value)
    return ItemsPage(int(rows[0][0]), items, next_cursor)


async def count_items(
    connection: AsyncConnection[Any], table: GraphTable, workflow_id: uuid.UUID
) -> int:
    """How many items the workflow has."""
    cursor = await connection.execute(
        f"SELECT count(*) FROM {table.name} WHERE workflow_id = %s",  # noqa: S608
        (workflow_id,),
    )
    row = await cursor.fetchone()
    assert row is not None
    return int(row[0])


async def refuse_growth_beyond(
    connection: AsyncConnection[Any],
    table: GraphTable,
    workflow_id: uuid.UUID,
    added: int,
    maximum: int,
) -> None:
    """422 GRAPH_TOO_LARGE when adding `added` items would pass `maximum`."""
    refuse_growth(table, await count_items(connection, table, workflow_id), added, maximum)


def refuse_growth(table: GraphTable, count: int, added: int, maximum: int) -> None:
    """422 GRAPH_TOO_LARGE when `count` items plus `added` would pass `maximum`."""
    if count + added > maximum:
        raise GraphTooLargeError(
            f"A workflow holds at most {maximum} {table.name}; it has {count}, "
            f"and this request adds {added}."
        )


async def insert_items(
    connection: AsyncConnection[Any],
    table: GraphTable,
    workflow_id: uuid.UUID,
    items: Sequence[BaseModel],
) -> list[tuple[uuid.UUID, str]]:
    """Insert validated Create models with one statement; (id, JSON) in input order."""
    ids = [uuid.uuid4() for _ in items]
    records = [
        {"id": str(item_id), **item.model_dump(mode="json")}
        for item_id, item in zip(ids, items, strict=True)
    ]
    columns = ", ".join(table.column_types)
    values = ", ".join(f"r.{column}" for column in table.column_types)
    cursor = await connection.execute(
        f"INSERT INTO {table.name} AS x (workflow_id, id, {columns}) "  # noqa: S608
        f"SELECT %s, r.id, {values} "
        f"FROM jsonb_to_recordset(%s) AS {table.record_sql(with_id=True)} "
        f"RETURNING x.id, {table.json_sql}::text",
        (workflow_id, Jsonb(records)),
    )
    bodies = {row[0]: str(row[1]) for row in await cursor.fetchall()}
    return [(item_id, bodies[item_id]) for item_id in ids]


async def stored_item(
    connection: AsyncConnection[Any], table: GraphTable, workflow_id: uuid.UUID, item_id: uuid.UUID
) -> dict[str, Any]:
    """The item's writable fields as stored; 404 when the workflow has no such item."""
    cursor = await connection.execute(
        f"SELECT {json_object_sql(table.create, 'x')} FROM {table.name} x "  # noqa: S608
        "WHERE x.id = %s AND x.workflow_id = %s",
        (item_id, workflow_id),
    )
    row = await cursor.fetchone()
    if row is None:
        raise NotFoundError(f"{table.label} {item_id} not found.")
    stored: dict[str, Any] = row[0]
    return stored


async def update_item(
    connection: AsyncConnection[Any],
    table: GraphTable,
    workflow_id: uuid.UUID,
    item_id: uuid.UUID,
    item: BaseModel,
) -> str:
    """Write every field of a validated Create model over the stored item; its new JSON."""
    cursor = await connection.execute(
        f"UPDATE {table.name} AS x SET {table.set_sql(table.column_types)} "  # noqa: S608
        f"FROM jsonb_to_record(%s) AS {table.record_sql(with_id=False)} "
        f"WHERE x.id = %s AND x.workflow_id = %s RETURNING {table.json_sql}::text",
        (Jsonb(item.model_dump(mode="json")), item_id, workflow_id),
    )
    row = await cursor.fetchone()
    assert row is not None  # stored_item found it and the workflow lock holds
    return str(row[0])


async def delete_item(
    connection: AsyncConnection[Any],
    table: GraphTable,
    owner_id: uuid.UUID,
    workflow_id: uuid.UUID,
    item_id: uuid.UUID,
    precondition: Precondition | None,
) -> int:
    """Delete one item (edges of a node go with it); the workflow's new version."""
    version = await bump_version(connection, owner_id, workflow_id, precondition)
    cursor = await connection.execute(
        f"DELETE FROM {table.name} WHERE id = %s AND workflow_id = %s RETURNING id",  # noqa: S608
        (item_id, workflow_id),
    )
    if await cursor.fetchone() is None:
        raise NotFoundError(f"{table.label} {item_id} not found.")
    return version


async def update_in_one_statement(
    connection: AsyncConnection[Any],
    table: GraphTable,
    owner_id: uuid.UUID,
    workflow_id: uuid.UUID,
    item_id: uuid.UUID,
    precondition: Precondition | None,
    record: dict[str, Any],
) -> VersionedJson:
    """Raise the version and write fields that need no merged validation, in one statement."""
    columns = ", ".join(f"{column} {table.column_types[column]}" for column in record)
    versions = None if precondition is None else precondition.sql_versions()
    cursor = await connection.execute(
        "WITH bumped AS (UPDATE workflows w SET version = w.version + 1, updated_at = now() "  # noqa: S608
        "WHERE w.id = %s AND w.owner_id = %s AND w.deleted_at IS NULL "
        "AND (%s::int[] IS NULL OR w.version = ANY(%s::int[])) "
        f"AND EXISTS (SELECT FROM {table.name} i WHERE i.id = %s AND i.workflow_id = w.id) "
        "RETURNING w.version), "
        f"changed AS (UPDATE {table.name} AS x SET {table.set_sql(record)} "
        f"FROM jsonb_to_record(%s) AS r({columns}), bumped "
        "WHERE x.id = %s AND x.workflow_id = %s RETURNING x.*) "
        f"SELECT bumped.version, (SELECT {table.json_sql}::text FROM changed x) FROM bumped",
        (workflow_id, owner_id, versions, versions, item_id, Jsonb(record), item_id, workflow_id),
    )
    row = await cursor.fetchone()
    if row is None:
        raise await refusal(connection, table, owner_id, workflow_id, item_id, precondition)
    return VersionedJson(int(row[0]), str(row[1]), item_id)


async def refusal(
    connection: AsyncConnection[Any],
    table: GraphTable,
    owner_id: uuid.UUID,
    workflow_id: uuid.UUID,
    item_id: uuid.UUID,
    precondition: Precondition | None,
) -> Exception:
    """Why a write matched nothing: no workflow, a stale If-Match, or no such item."""
    version = await current_version(connection, owner_id, workflow_id, deleted=False)
    if version is None:
        return workflow_not_found(workflow_id)
    if precondition is not None and not precondition.matches(version):
        return VersionMismatchError(version)
    return NotFoundError(f"{table.label} {item_id} not found.")
