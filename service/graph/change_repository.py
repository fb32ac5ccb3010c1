"""The SQL of a change set: what is stored of the items it names, and its writes, set-based.

Statements are built with Core from the tables and compiled once, on first use.
"""

import uuid
from collections.abc import Iterable
from functools import cache
from typing import Any

from psycopg import AsyncConnection
from sqlalchemy import Text, Uuid, any_, bindparam, delete, exists, func, select, tuple_, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as upsert

from service.graph.change_set import ChangePlan, StoredState
from service.graph.edges.repository import EDGES, NAMED_NODES, OTHER_EDGES, StoredEdge
from service.graph.items_repository import GraphTable, count_items
from service.graph.models import GraphChangeSet
from service.graph.nodes.repository import NODES
from service.owned_rows import WORKFLOWS_TABLE, RowState, version_matches
from service.preconditions import Precondition, precondition_params
from service.sql import CompiledSql, compiled, json_object, on_update_values
from service.workflows.repository import WORKFLOWS


def of_workflow(table: GraphTable) -> Any:
    """The items of `table` that are in the `workflow_id` parameter and named by `ids`."""
    items = table.table
    return (items.c.workflow_id == bindparam("workflow_id")) & (
        items.c.id == any_(bindparam("ids", type_=ARRAY(Uuid)))
    )


@cache
def stored_fields_statement(table: GraphTable) -> CompiledSql:
    """SELECT (id, writable fields as a JSON object) of the named items of a workflow."""
    items = table.table
    return compiled(
        select(items.c.id.cast(Text), json_object(table.create, items)).where(of_workflow(table))
    )


@cache
def delete_statement(table: GraphTable) -> CompiledSql:
    """DELETE the named items of a workflow, returning (id, created_at) as text."""
    items = table.table
    deleted = delete(items).where(of_workflow(table))
    return compiled(deleted.returning(items.c.id.cast(Text), items.c.created_at.cast(Text)))


@cache
def upsert_statement(table: GraphTable) -> CompiledSql:
    """Insert the new `records`, rewrite the stored ones that differ; the ids written.

    A record's `created_at` keeps the creation time of an edge deleted to be moved.
    """
    items, fields = table.table, table.fields
    records = table.records("records", ("id", *fields, "created_at"), many=True)
    rows = select(
        records.c.id,
        bindparam("workflow_id", type_=Uuid),
        *(records.c[name] for name in fields),
        func.coalesce(records.c.created_at, func.now()),
    )
    insert_new = upsert(items).from_select(["id", "workflow_id", *fields, "created_at"], rows)
    excluded = insert_new.excluded
    stored_row = tuple_(*(items.c[name] for name in fields))
    differs = stored_row.is_distinct_from(tuple_(*(excluded[name] for name in fields)))
    written = insert_new.on_conflict_do_update(
        index_elements=[items.c.id],
        set_={**{name: excluded[name] for name in fields}, **on_update_values(items)},
        where=(items.c.workflow_id == excluded.workflow_id) & differs,
    )
    return compiled(written.returning(items.c.id.cast(Text)))


async def rows(
    connection: AsyncConnection[Any], statement: CompiledSql, values: dict[str, Any]
) -> list[tuple[Any, ...]]:
    """Every row of a compiled statement."""
    cursor = await connection.execute(statement.text, statement.params(values))
    return list(await cursor.fetchall())


async def stored_fields(
    connection: AsyncConnection[Any], table: GraphTable, workflow_id: uuid.UUID, ids: list[Any]
) -> dict[str, dict[str, Any]]:
    """The writable fields of the named items, by id text."""
    if not ids:
        return {}
    found = await rows(
        connection, stored_fields_statement(table), {"workflow_id": workflow_id, "ids": ids}
    )
    return {str(item_id): fields for item_id, fields in found}


def named_nodes(change_set: GraphChangeSet) -> set[uuid.UUID]:
    """Every node id the change set names, edge ends included."""
    nodes, edges = change_set.nodes, change_set.edges
    named = {node.id for node in nodes.create} | {node.id for node in nodes.update}
    named |= set(nodes.delete)
    for edge in edges.create:
        named |= {edge.source_node_id, edge.target_node_id}
    for change in edges.update:
        named |= {change.source_node_id, change.target_node_id} - {None}
    return named


async def load_state(
    connection: AsyncConnection[Any], workflow_id: uuid.UUID, change_set: GraphChangeSet
) -> StoredState:
    """What the checks of the change set read, and nothing more (a move reads its nodes only)."""
    nodes, edges = change_set.nodes, change_set.edges
    named = list(named_nodes(change_set))
    node_ids: frozenset[str] = frozenset()
    if nodes.create or nodes.delete or edges.create or edges.update:
        values = {"workflow_id": workflow_id, "node_ids": named}
        node_ids = frozenset(row[0] for row in await rows(connection, NAMED_NODES, values))
    count = await count_items(connection, NODES, workflow_id) if nodes.create else 0
    stored_edges: list[StoredEdge] = []
    if edges.create or edges.update or edges.delete or nodes.delete:
        values = {"workflow_id": workflow_id, "without_edge": None}
        stored_edges = [
            StoredEdge._make(row) for row in await rows(connection, OTHER_EDGES, values)
        ]
    return StoredState(
        node_ids=node_ids,
        node_count=count,
        nodes=await stored_fields(connection, NODES, workflow_id, [n.id for n in nodes.update]),
        edges=stored_edges,
        edge_fields=await stored_fields(
            connection, EDGES, workflow_id, [e.id for e in edges.update]
        ),
    )


async def delete_items(
    connection: AsyncConnection[Any], table: GraphTable, workflow_id: uuid.UUID, ids: Iterable[Any]
) -> dict[str, str]:
    """Delete the named items; the creation time of each, by id text."""
    wanted = list(ids)
    if not wanted:
        return {}
    values = {"workflow_id": workflow_id, "ids": wanted}
    return {
        item_id: created_at
        for item_id, created_at in await rows(connection, delete_statement(table), values)
    }


async def write_items(
    connection: AsyncConnection[Any],
    table: GraphTable,
    workflow_id: uuid.UUID,
    records: list[dict[str, Any]],
) -> set[str]:
    """Upsert the records; the ids of those written (created, or changed)."""
    if not records:
        return set()
    values = {"workflow_id": workflow_id, "records": records}
    return {row[0] for row in await rows(connection, upsert_statement(table), values)}


async def apply_plan(
    connection: AsyncConnection[Any], workflow_id: uuid.UUID, plan: ChangePlan
) -> tuple[set[str], set[str]]:
    """Write a checked change set; the node and edge ids written (created, or changed).

    Edges given up go first, so a moved edge can take over a connection in the same request.
    """
    moved = await delete_items(connection, EDGES, workflow_id, plan.moved_edge_ids)
    await delete_items(connection, EDGES, workflow_id, plan.edge_deletes)
    await delete_items(connection, NODES, workflow_id, plan.node_deletes)
    written_nodes = await write_items(connection, NODES, workflow_id, plan.node_records)
    edge_records = [
        {**record, "created_at": moved.get(record["id"])} for record in plan.edge_records
    ]
    written_edges = await write_items(connection, EDGES, workflow_id, edge_records)
    return written_nodes, written_edges


@cache
def move_statement(fields: tuple[str, ...]) -> CompiledSql:
    """Raise the version (If-Match checked) and write `fields` of the named nodes, at once.

    Only when every named node is in the workflow and one of them changes; else nothing is
    written and the version is NULL. The workflow row is locked first, as by every write.
    """
    workflows, items = WORKFLOWS_TABLE, NODES.table
    records = NODES.records("records", ("id", *fields), many=True)
    stored_row = tuple_(*(items.c[name] for name in fields))
    changes = stored_row.is_distinct_from(tuple_(*(records.c[name] for name in fields)))
    # By the primary key: a join to the records would parse them again for every stored node.
    by_id = items.c.id == any_(bindparam("ids", type_=ARRAY(Uuid)))
    named = (items.c.workflow_id == workflows.c.id) & by_id
    found = select(func.count()).select_from(items).where(named).scalar_subquery()
    differs = exists().where(
        items.c.workflow_id == workflows.c.id, by_id, items.c.id == records.c.id, changes
    )
    bumped = (
        update(workflows)
        .values(version=workflows.c.version + 1)
        .where(
            WORKFLOWS.where(RowState.LIVE),
            version_matches(workflows.c.version),
            found == bindparam("count"),
            differs,
        )
        .returning(workflows.c.version)
        .cte("bumped")
    )
    moved = (
        update(items)
        .values({name: records.c[name] for name in fields})
        .where(
            by_id,
            items.c.id == records.c.id,
            items.c.workflow_id == bindparam("workflow_id"),
            bumped.c.version.is_not(None),
            changes,
        )
        .returning(items.c.id)
        .cte("moved")
    )
    moved_ids = select(func.array_agg(moved.c.id)).scalar_subquery()
    return compiled(select(select(bumped.c.version).scalar_subquery(), moved_ids))


async def move_nodes(
    connection: AsyncConnection[Any],
    owner_id: uuid.UUID,
    workflow_id: uuid.UUID,
    precondition: Precondition | None,
    records: list[dict[str, Any]],
) -> tuple[int, list[uuid.UUID]] | None:
    """Write the same fields of many nodes with the version step; (version, changed ids) or None.

    None when nothing was written: a stale If-Match, an unknown node, or no change.
    """
    fields = tuple(sorted(records[0].keys() - {"id"}))
    values = {
        "row_id": workflow_id,
        "owner_id": owner_id,
        **precondition_params(precondition),
        "workflow_id": workflow_id,
        "records": records,
        "ids": [record["id"] for record in records],
        "count": len(records),
    }
    found = await rows(connection, move_statement(fields), values)
    version, changed = found[0]
    return None if version is None else (int(version), list(changed))
