"""Owner-scoped, versioned, soft-deletable tables (workflows, tools, agents): `OwnedTable`.

Reads render API JSON in SQL; writes check the version in the same statement that raises it.
Every statement is built with SQLAlchemy Core from the table and compiled once, on first use.
"""

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from functools import cache, cached_property
from typing import Any

from psycopg import AsyncConnection
from pydantic import BaseModel
from sqlalchemy import (
    ColumnElement,
    FromClause,
    Integer,
    Table,
    Text,
    all_,
    and_,
    any_,
    bindparam,
    delete,
    func,
    insert,
    null,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import SQLModel

from service.changes import service as change_log
from service.changes.models import ChangeEntry, Operation, touched
from service.errors import NotDeletedError, NotFoundError, VersionMismatchError
from service.graph.nodes.models import Node
from service.pagination import Cursor, SortKey, split_page
from service.preconditions import Precondition, precondition_params
from service.sql import CompiledSql, compiled, json_object, json_text, table_of
from service.workflows.models import Workflow

NODES_TABLE = table_of(Node)
WORKFLOWS_TABLE = table_of(Workflow)


@cache
def node_references() -> dict[str, Table]:
    """The node columns naming a registry row (tool_id: tools, ...), read from the foreign keys.

    Only ON DELETE SET NULL ones: nodes.workflow_id cascades with its workflow. Read on first
    use, once every table class is imported (a foreign key resolves its table lazily).
    """
    keys = sorted(NODES_TABLE.foreign_keys, key=lambda key: str(key.parent.name))
    return {
        str(key.parent.name): key.column.table
        for key in keys
        if key.ondelete == "SET NULL" and isinstance(key.column.table, Table)
    }


@dataclass(frozen=True)
class VersionedJson:
    """A resource as API JSON text, with the version its ETag carries."""

    version: int
    body: str
    id: uuid.UUID | None = None


class RowState(Enum):
    """Which rows a statement may touch: live ones, trashed ones, or either."""

    LIVE = "live"
    TRASHED = "trashed"
    ANY = "any"


@dataclass(frozen=True)
class OwnedTable:
    """An owner-scoped, versioned, soft-deletable table class and the API schema of its rows."""

    entity: type[SQLModel]
    public: type[BaseModel]
    # The Public fields besides is_deleted that are no column, computed from a row.
    extra_members: Callable[[FromClause], Mapping[str, ColumnElement[Any]]] | None = None

    @cached_property
    def table(self) -> Table:
        """The entity's Core table."""
        return table_of(self.entity)

    @property
    def name(self) -> str:
        """The table's name (tools, agents, workflows)."""
        return str(self.table.name)

    @property
    def label(self) -> str:
        """What the API calls one row in messages: the entity's class name (Tool, Agent, ...)."""
        return self.entity.__name__

    @cached_property
    def json(self) -> ColumnElement[Any]:
        """A row of this table as API JSON."""
        return self.json_of(self.table)

    def json_of(self, rows: FromClause) -> ColumnElement[Any]:
        """A row of `rows` (this table, or a CTE returning its columns) as API JSON."""
        return json_text(json_object(self.public, rows, self.computed(rows)))

    def computed(self, rows: FromClause) -> dict[str, ColumnElement[Any]]:
        """The Public fields of a row of `rows` that are no column, as SQL expressions."""
        extra = {} if self.extra_members is None else self.extra_members(rows)
        return {"is_deleted": rows.c.deleted_at.is_not(None), **extra}

    @cached_property
    def node_reference(self) -> str | None:
        """The nodes column that the database empties when a row of this table goes, if any."""
        for column, table in node_references().items():
            if table is self.table:
                return column
        return None

    def where(self, state: RowState) -> ColumnElement[bool]:
        """The owner's row named by the `row_id` and `owner_id` parameters, in `state`."""
        table = self.table
        clauses = [table.c.id == bindparam("row_id"), table.c.owner_id == bindparam("owner_id")]
        if state is RowState.LIVE:
            clauses.append(table.c.deleted_at.is_(None))
        elif state is RowState.TRASHED:
            clauses.append(table.c.deleted_at.is_not(None))
        return and_(*clauses)


def version_matches(version: ColumnElement[int]) -> ColumnElement[bool]:
    """`versions` allows `version` (NULL: any version) and `refused_versions` does not name it."""
    versions = bindparam("versions", type_=ARRAY(Integer))
    refused = bindparam("refused_versions", type_=ARRAY(Integer))
    return and_(or_(versions.is_(None), version == any_(versions)), version != all_(refused))


@dataclass(frozen=True)
class ListFilter:
    """What a list shows."""

    is_active: bool | None = None
    name_contains: str | None = None
    deleted: bool = False


async def fetch_versioned(
    connection: AsyncConnection[Any], statement: CompiledSql, values: dict[str, Any]
) -> VersionedJson | None:
    """Run a statement selecting (version, json text[, id]) and return its row."""
    cursor = await connection.execute(statement.text, statement.params(values))
    row = await cursor.fetchone()
    if row is None:
        return None
    return VersionedJson(int(row[0]), str(row[1]), row[2] if len(row) > 2 else None)


@cache
def select_row(table: OwnedTable, state: RowState) -> CompiledSql:
    """SELECT version, JSON of the owner's row in `state` (the caller knows its id)."""
    t = table.table
    return compiled(select(t.c.version, table.json).where(table.where(state)))


async def get_row(
    connection: AsyncConnection[Any],
    table: OwnedTable,
    owner_id: uuid.UUID,
    row_id: uuid.UUID,
    *,
    include_deleted: bool = False,
) -> VersionedJson | None:
    """The owner's row, live unless `include_deleted`."""
    state = RowState.ANY if include_deleted else RowState.LIVE
    return await fetch_versioned(
        connection, select_row(table, state), {"row_id": row_id, "owner_id": owner_id}
    )


@cache
def insert_statement(table: OwnedTable, fields: tuple[str, ...]) -> CompiledSql:
    """INSERT of the owner's new row from Create-model `fields`, returning version, JSON, id."""
    t = table.table
    values = {name: bindparam(name, type_=t.c[name].type) for name in ("id", "owner_id", *fields)}
    # RETURNING cannot correlate the JSON subquery to an INSERT's row: select from a CTE.
    created = insert(t).values(values).returning(*t.c).cte("created")
    return compiled(select(created.c.version, table.json_of(created), created.c.id))


async def insert_row(
    connection: AsyncConnection[Any], table: OwnedTable, owner_id: uuid.UUID, row_in: BaseModel
) -> VersionedJson:
    """Insert a row at version 1 from a validated Create model."""
    values = row_in.model_dump()
    statement = insert_statement(table, tuple(values))
    created = await fetch_versioned(
        connection, statement, {**values, "id": uuid.uuid4(), "owner_id": owner_id}
    )
    assert created is not None
    return created


@cache
def version_statement(table: OwnedTable, state: RowState) -> CompiledSql:
    """SELECT the version of the owner's row in `state`."""
    return compiled(select(table.table.c.version).where(table.where(state)))


async def row_version(
    connection: AsyncConnection[Any],
    table: OwnedTable,
    owner_id: uuid.UUID,
    row_id: uuid.UUID,
    *,
    deleted: bool | None,
) -> int | None:
    """The version of the owner's live (or trashed; None: either) row, None if there is none."""
    state = {None: RowState.ANY, False: RowState.LIVE, True: RowState.TRASHED}[deleted]
    statement = version_statement(table, state)
    cursor = await connection.execute(
        statement.text, statement.params({"row_id": row_id, "owner_id": owner_id})
    )
    row = await cursor.fetchone()
    return None if row is None else int(row[0])


async def explain_row_refusal(
    connection: AsyncConnection[Any],
    table: OwnedTable,
    owner_id: uuid.UUID,
    row_id: uuid.UUID,
    precondition: Precondition | None,
    *,
    deleted: bool | None,
) -> Exception:
    """Why a conditional write matched no row: not found, or a newer version.

    A workflow's 412 carries the steps the client missed, from its change log.
    """
    version = await row_version(connection, table, owner_id, row_id, deleted=deleted)
    if version is None:
        return NotFoundError(f"{table.label} {row_id} not found.")
    if table.table is WORKFLOWS_TABLE:
        return await change_log.version_mismatch(connection, row_id, precondition, version)
    return VersionMismatchError(version)


class Trash(Enum):
    """What an update does with the row's trash state."""

    KEEP = "keep"
    MOVE_IN = "move in"
    TAKE_OUT = "take out"


@cache
def update_statement(table: OwnedTable, fields: tuple[str, ...], trash: Trash) -> CompiledSql:
    """UPDATE `fields` of the owner's row and raise its version, if `versions` allows it."""
    t = table.table
    values: dict[str, Any] = {name: bindparam(name, type_=t.c[name].type) for name in fields}
    # updated_at, where the table keeps one, is refreshed by its column's onupdate.
    values["version"] = t.c.version + 1
    if trash is Trash.MOVE_IN:
        values["deleted_at"] = func.now()
    elif trash is Trash.TAKE_OUT:
        values["deleted_at"] = null()
    state = RowState.TRASHED if trash is Trash.TAKE_OUT else RowState.LIVE
    statement = (
        update(t)
        .values(values)
        .where(table.where(state), version_matches(t.c.version))
        .returning(t.c.version, table.json)
    )
    return compiled(statement)


async def update_row(
    connection: AsyncConnection[Any],
    table: OwnedTable,
    owner_id: uuid.UUID,
    row_id: uuid.UUID,
    precondition: Precondition | None,
    changes: BaseModel | None = None,
    *,
    trash: Trash = Trash.KEEP,
) -> VersionedJson:
    """Apply the fields an Update model names and raise the version by one, atomically.

    The precondition is checked in the same statement, so the row lock it takes holds other
    writers off until commit.
    """
    values = {} if changes is None else changes.model_dump(exclude_unset=True)
    statement = update_statement(table, tuple(values), trash)
    updated = await fetch_versioned(
        connection,
        statement,
        {**values, "row_id": row_id, "owner_id": owner_id, **precondition_params(precondition)},
    )
    if updated is None:
        deleted = trash is Trash.TAKE_OUT
        raise await explain_row_refusal(
            connection, table, owner_id, row_id, precondition, deleted=deleted
        )
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
    return await update_row(connection, table, owner_id, row_id, precondition, row_in)


async def soft_delete_row(
    connection: AsyncConnection[Any],
    table: OwnedTable,
    owner_id: uuid.UUID,
    row_id: uuid.UUID,
    precondition: Precondition | None,
) -> VersionedJson:
    """Move the row to the trash (a change: the version rises)."""
    return await update_row(connection, table, owner_id, row_id, precondition, trash=Trash.MOVE_IN)


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
            connection, table, owner_id, row_id, precondition, trash=Trash.TAKE_OUT
        )
    except NotFoundError:
        if await row_version(connection, table, owner_id, row_id, deleted=False) is not None:
            raise NotDeletedError(f"{table.label} {row_id} is not in the trash.") from None
        raise


@cache
def purge_statement(table: OwnedTable) -> CompiledSql:
    """DELETE the owner's row (live or trashed) if `versions` allows it, returning its id."""
    t = table.table
    gone = delete(t).where(table.where(RowState.ANY), version_matches(t.c.version))
    if table.node_reference is None:
        return compiled(gone.returning(t.c.id))
    # The delete empties the nodes' reference (SET NULL): that changes their workflows,
    # so their versions (and ETags) rise in the same statement.
    deleted = gone.returning(t.c.id).cte("gone")
    workflows, nodes = WORKFLOWS_TABLE, NODES_TABLE
    users = select(nodes.c.workflow_id).where(
        nodes.c[table.node_reference].in_(select(deleted.c.id))
    )
    raised = (
        update(workflows)
        .values(version=workflows.c.version + 1)
        .where(workflows.c.id.in_(users))
        .returning(workflows.c.id, workflows.c.version)
        .cte("raised")
    )
    # Each raised workflow's new version and the nodes whose reference goes, for its log.
    emptied = (
        select(func.json_agg(nodes.c.id))
        .where(
            nodes.c.workflow_id == raised.c.id,
            nodes.c[table.node_reference].in_(select(deleted.c.id)),
        )
        .scalar_subquery()
    )
    steps = select(
        func.json_agg(func.json_build_array(raised.c.id, raised.c.version, emptied))
    ).scalar_subquery()
    return compiled(select(deleted.c.id, steps))


async def purge_row(
    connection: AsyncConnection[Any],
    table: OwnedTable,
    owner_id: uuid.UUID,
    row_id: uuid.UUID,
    precondition: Precondition | None,
) -> None:
    """Delete the row for good (live or trashed); the database cascades to its dependents.

    Workflows whose nodes referenced a purged tool or agent log the step that emptied them.
    """
    statement = purge_statement(table)
    values = {"row_id": row_id, "owner_id": owner_id, **precondition_params(precondition)}
    cursor = await connection.execute(statement.text, statement.params(values))
    row = await cursor.fetchone()
    if row is None:
        raise await explain_row_refusal(
            connection, table, owner_id, row_id, precondition, deleted=None
        )
    if len(row) > 1:
        await log_emptied_references(connection, table, owner_id, row[1] or [])


async def log_emptied_references(
    connection: AsyncConnection[Any],
    table: OwnedTable,
    owner_id: uuid.UUID,
    steps: list[tuple[str, int, list[uuid.UUID]]],
) -> None:
    """Log each (workflow id, new version, node ids) step a purge of a tool or agent made."""
    operation = Operation.TOOL_PURGED if table.name == "tools" else Operation.AGENT_PURGED
    for workflow_id, version, node_ids in steps:
        entry = ChangeEntry(operation=operation, nodes=touched(updated=node_ids))
        await change_log.record(connection, owner_id, uuid.UUID(workflow_id), version, entry)


def escape_like(text: str) -> str:
    """Escape LIKE wildcards so `text` matches literally."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@cache
def list_statement(
    table: OwnedTable, sort: SortKey, deleted: bool, filtered: frozenset[str], after: bool
) -> CompiledSql:
    """One keyset page: (JSON, sort value text, id) of the owner's rows, `limit` + 1 of them."""
    t = table.table
    clauses = [
        t.c.owner_id == bindparam("owner_id"),
        t.c.deleted_at.is_not(None) if deleted else t.c.deleted_at.is_(None),
    ]
    if "is_active" in filtered:
        clauses.append(t.c.is_active == bindparam("is_active"))
    if "name" in filtered:
        clauses.append(t.c.name.ilike(bindparam("name_pattern")))
    column = t.c[sort.column]
    position = tuple_(column, t.c.id)
    after_position = tuple_(bindparam("after_value", type_=column.type), bindparam("after_id"))
    if after:
        clauses.append(position < after_position if sort.descending else position > after_position)
    order = [column.desc(), t.c.id.desc()] if sort.descending else [column, t.c.id]
    statement = (
        select(table.json, column.cast(Text), t.c.id)
        .where(*clauses)
        .order_by(*order)
        .limit(bindparam("limit"))
    )
    return compiled(statement)


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
    values: dict[str, Any] = {"owner_id": owner_id, "limit": limit + 1}
    filtered = set()
    if filters.is_active is not None:
        filtered.add("is_active")
        values["is_active"] = filters.is_active
    if filters.name_contains:
        filtered.add("name")
        values["name_pattern"] = f"%{escape_like(filters.name_contains)}%"
    if cursor is not None:
        after = Cursor.decode(cursor, sort.value).position(sort.column)
        values["after_value"], values["after_id"] = after
    statement = list_statement(
        table, sort, filters.deleted, frozenset(filtered), cursor is not None
    )
    result = await connection.execute(statement.text, statement.params(values))
    return split_page(await result.fetchall(), limit, sort.value)
