"""The SQL every graph item (node or edge) of a workflow shares, named by a `GraphTable`.

Every write first raises the workflow version (`bump_version`), which checks If-Match and
locks the workflow row until commit, so graph checks never race another writer. Statements
are built with Core from the tables and compiled once, on first use.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Any, TypeVar

import orjson
from psycopg import AsyncConnection
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import (
    ColumnElement,
    FromClause,
    Table,
    TableValuedAlias,
    Text,
    bindparam,
    column,
    delete,
    exists,
    func,
    insert,
    null,
    select,
    true,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB

from service.changes import service as change_log
from service.changes.models import ChangeEntry, ItemChanges, Operation, touched
from service.errors import (
    GraphTooLargeError,
    NotFoundError,
    ValidationError,
    invalid_value,
    json_pointer,
    workflow_not_found,
)
from service.graph.edges.models import Edge
from service.owned_rows import WORKFLOWS_TABLE, RowState, VersionedJson, version_matches
from service.pagination import Cursor, SortKey, split_page
from service.preconditions import Precondition, precondition_params
from service.responses import render_json
from service.sql import CompiledSql, compiled, json_object, json_text, table_of
from service.workflows.repository import WORKFLOWS, bump_version, current_version

PAGE_SORT = SortKey.CREATED_AT
EDGES_TABLE = table_of(Edge)
ModelT = TypeVar("ModelT", bound=BaseModel)


@dataclass(frozen=True)
class GraphTable:
    """A table of graph items and its API schemas; the Create model names its writable columns."""

    table: Table
    label: str
    public: type[BaseModel]
    create: type[BaseModel]

    @property
    def name(self) -> str:
        """The table's name (nodes, edges)."""
        return str(self.table.name)

    @property
    def fields(self) -> tuple[str, ...]:
        """The columns an item's Create model writes."""
        return tuple(self.create.model_fields)

    @cached_property
    def json(self) -> ColumnElement[str]:
        """A row of this table as API JSON text."""
        return self.json_of(self.table)

    def json_of(self, rows: FromClause) -> ColumnElement[str]:
        """A row of `rows` (this table, or a CTE returning its columns) as API JSON text."""
        return json_text(json_object(self.public, rows))

    def records(self, parameter: str, fields: Sequence[str], *, many: bool) -> TableValuedAlias:
        """jsonb_to_record(set) of a JSON parameter, typed as the columns `fields` name."""
        function = func.jsonb_to_recordset if many else func.jsonb_to_record
        columns = [column(name, self.table.c[name].type) for name in fields]
        source = function(bindparam(parameter, type_=JSONB))
        return source.table_valued(*columns).render_derived(name="r", with_types=True)


def live_workflow_of(items: FromClause) -> ColumnElement[bool]:
    """The item's workflow is the `workflow_id` parameter, live and the `owner_id`'s."""
    workflows = WORKFLOWS_TABLE
    return (
        (items.c.workflow_id == bindparam("workflow_id"))
        & (workflows.c.id == items.c.workflow_id)
        & (workflows.c.owner_id == bindparam("owner_id"))
        & workflows.c.deleted_at.is_(None)
    )


def item_entry(
    table: GraphTable, operation: Operation, items: ItemChanges, edges: ItemChanges | None = None
) -> ChangeEntry:
    """The change log entry of a write on items of `table` (`edges`: a node write's edges)."""
    if table.table is EDGES_TABLE:
        return ChangeEntry(operation=operation, edges=items)
    return ChangeEntry(operation=operation, nodes=items, edges=edges or ItemChanges())


def item_operation(table: GraphTable, nodes: Operation, edges: Operation) -> Operation:
    """The operation of a write on one item: `nodes` for a node, `edges` for an edge."""
    return edges if table.table is EDGES_TABLE else nodes


@dataclass(frozen=True)
class CreatedItems:
    """Items a write created, as (id, API JSON text) in request order, and the new version."""

    version: int
    items: list[tuple[uuid.UUID, str]]

    def batch_json(self) -> bytes:
        """The batch response body."""
        return render_json({"items": [orjson.Fragment(body) for _id, body in self.items]})


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


async def fetch_one(
    connection: AsyncConnection[Any], statement: CompiledSql, values: dict[str, Any]
) -> tuple[Any, ...] | None:
    """The first row of a compiled statement."""
    cursor = await connection.execute(statement.text, statement.params(values))
    row: tuple[Any, ...] | None = await cursor.fetchone()
    return row


@cache
def get_item_statement(table: GraphTable) -> CompiledSql:
    """SELECT the workflow version and the item's JSON, of a live workflow of the owner."""
    items = table.table
    statement = select(WORKFLOWS_TABLE.c.version, table.json).where(
        items.c.id == bindparam("item_id"), live_workflow_of(items)
    )
    return compiled(statement)


async def get_item(
    connection: AsyncConnection[Any],
    table: GraphTable,
    owner_id: uuid.UUID,
    workflow_id: uuid.UUID,
    item_id: uuid.UUID,
) -> VersionedJson | None:
    """One item of the owner's live workflow, with the workflow version."""
    values = {"item_id": item_id, "workflow_id": workflow_id, "owner_id": owner_id}
    row = await fetch_one(connection, get_item_statement(table), values)
    return None if row is None else VersionedJson(int(row[0]), str(row[1]), item_id)


@cache
def list_items_statement(table: GraphTable, after: bool) -> CompiledSql:
    """One keyset page by (created_at, id) of a live workflow's items, with its version.

    One statement, so the version and the page come from the same snapshot.
    """
    items, workflows = table.table, WORKFLOWS_TABLE
    position = tuple_(items.c.created_at, items.c.id)
    page = select(table.json.label("body"), items.c.created_at, items.c.id).where(
        items.c.workflow_id == workflows.c.id
    )
    if after:
        page = page.where(position > tuple_(bindparam("after_value"), bindparam("after_id")))
    rows = page.order_by(items.c.created_at, items.c.id).limit(bindparam("limit")).lateral("page")
    statement = (
        select(workflows.c.version, rows.c.body, rows.c.created_at.cast(Text), rows.c.id)
        .select_from(workflows.outerjoin(rows, true()))
        .where(
            workflows.c.id == bindparam("workflow_id"),
            workflows.c.owner_id == bindparam("owner_id"),
            workflows.c.deleted_at.is_(None),
        )
        .order_by(rows.c.created_at, rows.c.id)
    )
    return compiled(statement)


async def list_items(
    connection: AsyncConnection[Any],
    table: GraphTable,
    owner_id: uuid.UUID,
    workflow_id: uuid.UUID,
    limit: int,
    cursor: str | None,
) -> ItemsPage | None:
    """One keyset page by (created_at, id) of a live workflow's items; None without one."""
    values: dict[str, Any] = {"workflow_id": workflow_id, "owner_id": owner_id, "limit": limit + 1}
    if cursor is not None:
        after = Cursor.decode(cursor, PAGE_SORT.value).position(PAGE_SORT.column)
        values["after_value"], values["after_id"] = after
    statement = list_items_statement(table, cursor is not None)
    result = await connection.execute(statement.text, statement.params(values))
    rows = await result.fetchall()
    if not rows:
        return None
    page_rows = [row[1:] for row in rows if row[1] is not None]
    items, next_cursor = split_page(page_rows, limit, PAGE_SORT.value)
    return ItemsPage(int(rows[0][0]), items, next_cursor)


@cache
def count_statement(table: GraphTable) -> CompiledSql:
    """SELECT how many items the workflow has."""
    items = table.table
    count = select(func.count()).select_from(items)
    return compiled(count.where(items.c.workflow_id == bindparam("workflow_id")))


async def count_items(
    connection: AsyncConnection[Any], table: GraphTable, workflow_id: uuid.UUID
) -> int:
    """How many items the workflow has."""
    row = await fetch_one(connection, count_statement(table), {"workflow_id": workflow_id})
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


@cache
def insert_statement(table: GraphTable) -> CompiledSql:
    """INSERT the `records` (id and Create fields) into a workflow; (id, JSON) of each."""
    items = table.table
    records = table.records("records", ("id", *table.fields), many=True)
    rows = select(bindparam("workflow_id", type_=items.c.workflow_id.type), *records.c)
    created = (
        insert(items)
        .from_select(["workflow_id", "id", *table.fields], rows)
        .returning(*items.c)
        .cte("created")
    )
    return compiled(select(created.c.id, table.json_of(created)))


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
    statement = insert_statement(table)
    cursor = await connection.execute(
        statement.text, statement.params({"workflow_id": workflow_id, "records": records})
    )
    bodies = {row[0]: str(row[1]) for row in await cursor.fetchall()}
    return [(item_id, bodies[item_id]) for item_id in ids]


@cache
def stored_item_statement(table: GraphTable) -> CompiledSql:
    """SELECT the item's writable fields as a JSON object (parsed by psycopg)."""
    items = table.table
    statement = select(json_object(table.create, items)).where(
        items.c.id == bindparam("item_id"), items.c.workflow_id == bindparam("workflow_id")
    )
    return compiled(statement)


async def stored_item(
    connection: AsyncConnection[Any], table: GraphTable, workflow_id: uuid.UUID, item_id: uuid.UUID
) -> dict[str, Any]:
    """The item's writable fields as stored; 404 when the workflow has no such item."""
    values = {"item_id": item_id, "workflow_id": workflow_id}
    row = await fetch_one(connection, stored_item_statement(table), values)
    if row is None:
        raise NotFoundError(f"{table.label} {item_id} not found.")
    stored: dict[str, Any] = row[0]
    return stored


def item_update(table: GraphTable, fields: Sequence[str]) -> Any:
    """UPDATE of the item `item_id` of `workflow_id`, writing `fields` from the `record`.

    updated_at, where the table keeps one, is refreshed by its column's onupdate.
    """
    items = table.table
    record = table.records("record", fields, many=False)
    return (
        update(items)
        .values({name: record.c[name] for name in fields})
        .where(items.c.id == bindparam("item_id"), items.c.workflow_id == bindparam("workflow_id"))
    )


@cache
def update_statement(table: GraphTable) -> CompiledSql:
    """Write every Create field of the record over the item; its new JSON."""
    return compiled(item_update(table, table.fields).returning(table.json))


async def update_item(
    connection: AsyncConnection[Any],
    table: GraphTable,
    workflow_id: uuid.UUID,
    item_id: uuid.UUID,
    item: BaseModel,
) -> str:
    """Write every field of a validated Create model over the stored item; its new JSON."""
    values = {"record": item.model_dump(mode="json"), "item_id": item_id}
    row = await fetch_one(
        connection, update_statement(table), {**values, "workflow_id": workflow_id}
    )
    assert row is not None  # stored_item found it and the workflow lock holds
    return str(row[0])


@cache
def delete_statement(table: GraphTable) -> CompiledSql:
    """DELETE the item `item_id` of `workflow_id`, returning its id and the edges it takes.

    The edges of a deleted node go by cascade; the statement's snapshot still sees them.
    """
    items, edges = table.table, EDGES_TABLE
    statement = delete(items).where(
        items.c.id == bindparam("item_id"), items.c.workflow_id == bindparam("workflow_id")
    )
    if items is edges:
        return compiled(statement.returning(items.c.id, null()))
    connected = (
        select(func.array_agg(edges.c.id))
        .where(
            edges.c.workflow_id == items.c.workflow_id,
            (edges.c.source_node_id == items.c.id) | (edges.c.target_node_id == items.c.id),
        )
        .scalar_subquery()
    )
    return compiled(statement.returning(items.c.id, connected))


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
    values = {"item_id": item_id, "workflow_id": workflow_id}
    statement = delete_statement(table)
    cursor = await connection.execute(statement.text, statement.params(values))
    rows = await cursor.fetchall()
    if not rows:
        raise NotFoundError(f"{table.label} {item_id} not found.")
    cascaded = [edge_id for row in rows for edge_id in row[1] or []]
    operation = item_operation(table, Operation.NODE_DELETED, Operation.EDGE_DELETED)
    entry = item_entry(table, operation, touched(deleted=[item_id]), touched(deleted=cascaded))
    await change_log.record(connection, owner_id, workflow_id, version, entry)
    return version


@cache
def bump_and_update_statement(table: GraphTable, fields: tuple[str, ...]) -> CompiledSql:
    """Raise the version (If-Match checked) and write `fields` of the item, in one statement."""
    workflows, items = WORKFLOWS_TABLE, table.table
    item_exists = exists().where(
        items.c.id == bindparam("item_id"), items.c.workflow_id == workflows.c.id
    )
    bumped = (
        update(workflows)
        .values(version=workflows.c.version + 1)
        .where(WORKFLOWS.where(RowState.LIVE), version_matches(workflows.c.version), item_exists)
        .returning(workflows.c.version)
        .cte("bumped")
    )
    changed = (
        item_update(table, fields)
        .where(bumped.c.version.is_not(None))
        .returning(*items.c)
        .cte("changed")
    )
    rendered = select(table.json_of(changed)).scalar_subquery()
    return compiled(select(bumped.c.version, rendered))


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
    statement = bump_and_update_statement(table, tuple(sorted(record)))
    values = {
        "row_id": workflow_id,
        "owner_id": owner_id,
        **precondition_params(precondition),
        "item_id": item_id,
        "workflow_id": workflow_id,
        "record": record,
    }
    row = await fetch_one(connection, statement, values)
    if row is None:
        raise await refusal(connection, table, owner_id, workflow_id, item_id, precondition)
    version = int(row[0])
    operation = item_operation(table, Operation.NODE_UPDATED, Operation.EDGE_UPDATED)
    entry = item_entry(table, operation, touched(updated=[item_id]))
    await change_log.record(connection, owner_id, workflow_id, version, entry)
    return VersionedJson(version, str(row[1]), item_id)


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
        return await change_log.version_mismatch(connection, workflow_id, precondition, version)
    return NotFoundError(f"{table.label} {item_id} not found.")
