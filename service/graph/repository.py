"""Whole graphs: read in one statement, saved set-based in one statement, duplicated in SQL."""

import asyncio
import uuid
from collections.abc import Sequence
from typing import Any

import orjson
from psycopg import AsyncConnection
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from pydantic import TypeAdapter

from service.graph.edges.models import EdgePublic
from service.graph.edges.repository import EDGES
from service.graph.models import (
    GraphChanges,
    GraphEdgeIn,
    GraphNodeIn,
    GraphPublic,
    StoredEdge,
    StoredGraph,
    StoredNode,
)
from service.graph.nodes.models import NodePublic
from service.graph.nodes.repository import NODES
from service.graph.rules import StoredFacts, SubmittedGraph
from service.json_sql import json_array_sql, json_object_sql, json_rows_sql
from service.owned_rows import VersionedJson, fetch_versioned
from service.workflows.models import WorkflowPublic

NODE_LIST_ADAPTER = TypeAdapter(list[GraphNodeIn])
EDGE_LIST_ADAPTER = TypeAdapter(list[GraphEdgeIn])

# Column types of the JSON records a save sends; the keys are GraphNodeIn/GraphEdgeIn fields.
NODE_RECORD = {"id": "uuid", **NODES.column_types}
EDGE_RECORD = {"id": "uuid", **EDGES.column_types}
EDGE_CONNECTION = ["source_node_id", "target_node_id", "source_handle", "target_handle"]
NODE_ORDER = "n.created_at, n.id"
EDGE_ORDER = "e.created_at, e.id"


def graph_select() -> str:
    """SELECT (version, graph JSON text) of one live workflow of an owner."""
    nodes = json_rows_sql(NodePublic, "nodes", "n", "n.workflow_id = w.id", ROW_ORDER)
    edges = json_rows_sql(EdgePublic, "edges", "e", "e.workflow_id = w.id", ROW_ORDER)
    return (
        f"SELECT g.version, {json_object_sql(GraphPublic, 'g')}::text FROM ("  # noqa: S608
        f"SELECT w.*, {nodes} AS nodes, {edges} AS edges "
        "FROM workflows w WHERE w.id = %s AND w.owner_id = %s AND w.deleted_at IS NULL) g"
    )


ROW_ORDER = "x.created_at, x.id"
GRAPH_QUERY = graph_select()


async def get_graph(
    connection: AsyncConnection[Any], owner_id: uuid.UUID, workflow_id: uuid.UUID
) -> VersionedJson | None:
    """The owner's live workflow with its nodes and edges, as API JSON text."""
    return await fetch_versioned(connection, GRAPH_QUERY, (workflow_id, owner_id))


def half_graph_query(half: str) -> str:
    """SELECT (version, workflow JSON, JSON array of its nodes or edges) of a live workflow."""
    public = NodePublic if half == "nodes" else EdgePublic
    rows = json_rows_sql(public, half, "i", "i.workflow_id = w.id", ROW_ORDER)
    return (
        f"SELECT w.version, {json_object_sql(WorkflowPublic, 'w')}::text, {rows}::text "  # noqa: S608
        "FROM workflows w WHERE w.id = %s AND w.owner_id = %s AND w.deleted_at IS NULL"
    )


HALF_GRAPH_QUERIES = (half_graph_query("nodes"), half_graph_query("edges"))
CONSISTENT_READ_ATTEMPTS = 3
IDLE_CONNECTION_WAIT_SECONDS = 0.001


async def get_graph_in_parallel(
    connection: AsyncConnection[Any],
    pool: AsyncConnectionPool[Any],
    owner_id: uuid.UUID,
    workflow_id: uuid.UUID,
) -> VersionedJson | None:
    """The graph as get_graph renders it, nodes and edges rendered by two backends at once.

    The two statements see two snapshots; every change to a graph raises the workflow's
    version in the same transaction, so equal versions mean the halves belong together.
    Only an idle pooled connection is borrowed: waiting for one while holding another could
    deadlock a busy pool, so without one the graph is rendered by one statement.
    """
    params = (workflow_id, owner_id)
    try:
        async with pool.connection(timeout=IDLE_CONNECTION_WAIT_SECONDS) as other:
            for _attempt in range(CONSISTENT_READ_ATTEMPTS):
                nodes, edges = await asyncio.gather(
                    fetch_row(connection, HALF_GRAPH_QUERIES[0], params),
                    fetch_row(other, HALF_GRAPH_QUERIES[1], params),
                )
                if nodes is None or edges is None:
                    return None
                if nodes[0] == edges[0]:
                    body = f'{nodes[1][:-1]}, "nodes" : {nodes[2]}, "edges" : {edges[2]}}}'
                    return VersionedJson(int(nodes[0]), body, workflow_id)
    except PoolTimeout:
        pass
    return await get_graph(connection, owner_id, workflow_id)


async def fetch_row(
    connection: AsyncConnection[Any], query: str, params: tuple[Any, ...]
) -> tuple[Any, ...] | None:
    """The first row of a query."""
    cursor = await connection.execute(query, params)
    row: tuple[Any, ...] | None = await cursor.fetchone()
    return row


def stored_graph_query() -> str:
    """One statement loading what validation and Mermaid rendering need, as JSON text."""
    nodes = json_array_sql(StoredNode, "n", NODE_ORDER)
    edges = json_array_sql(StoredEdge, "e", EDGE_ORDER)
    usable = (
        "ARRAY(SELECT r.id FROM {table} r WHERE r.owner_id = w.owner_id "
        "AND r.deleted_at IS NULL AND r.is_active "
        "AND r.id IN (SELECT n.{column} FROM nodes n WHERE n.workflow_id = w.id))"
    )
    return (
        "SELECT json_build_object('version', w.version, 'name', w.name, "  # noqa: S608
        f"'nodes', (SELECT {nodes} FROM nodes n WHERE n.workflow_id = w.id), "
        f"'edges', (SELECT {edges} FROM edges e WHERE e.workflow_id = w.id), "
        f"'usable_tool_ids', {usable.format(table='tools', column='tool_id')}, "
        f"'usable_agent_ids', {usable.format(table='agents', column='agent_id')})::text "
        "FROM workflows w WHERE w.id = %s AND w.owner_id = %s AND w.deleted_at IS NULL"
    )


STORED_GRAPH_QUERY = stored_graph_query()


async def get_stored_graph(
    connection: AsyncConnection[Any], owner_id: uuid.UUID, workflow_id: uuid.UUID
) -> StoredGraph | None:
    """The stored graph with the caller's usable (live, active) tools and agents it uses."""
    cursor = await connection.execute(STORED_GRAPH_QUERY, (workflow_id, owner_id))
    row = await cursor.fetchone()
    return None if row is None else StoredGraph.model_validate_json(row[0])


def usable_references_sql(table: str, column: str, ids_parameter: str) -> str:
    """ARRAY of the referenced rows of `table` the owner may use (live, or already in use)."""
    return (
        f"ARRAY(SELECT r.id FROM {table} r WHERE r.id = ANY({uuid_list(ids_parameter)}) "  # noqa: S608
        "AND r.owner_id = %(owner_id)s AND (r.deleted_at IS NULL OR r.id IN ("
        f"SELECT n.{column} FROM nodes n WHERE n.workflow_id = %(workflow_id)s)))"
    )


def foreign_ids_sql(table: str, ids_parameter: str) -> str:
    """ARRAY of the given ids that rows of another workflow hold (only new ids are looked up)."""
    new_ids = (
        f"SELECT jsonb_array_elements_text(%({ids_parameter})s)::uuid "  # noqa: S608
        f"EXCEPT SELECT id FROM {table} WHERE workflow_id = %(workflow_id)s"
    )
    return f"ARRAY(SELECT x.id FROM {table} x WHERE x.id = ANY(ARRAY({new_ids})))"  # noqa: S608


def uuid_list(parameter: str) -> str:
    """A uuid[] from a JSON array parameter (psycopg adapts long UUID lists one by one)."""
    return f"ARRAY(SELECT jsonb_array_elements_text(%({parameter})s)::uuid)"


FACTS_QUERY = "SELECT " + ", ".join(
    [
        usable_references_sql("tools", "tool_id", "tool_ids"),
        usable_references_sql("agents", "agent_id", "agent_ids"),
        foreign_ids_sql("nodes", "node_ids"),
        foreign_ids_sql("edges", "edge_ids"),
    ]
)


async def stored_facts(
    connection: AsyncConnection[Any],
    owner_id: uuid.UUID,
    workflow_id: uuid.UUID,
    graph: SubmittedGraph,
) -> StoredFacts:
    """Which referenced tools/agents the caller may use, and which ids other workflows hold.

    A tool or agent already used by this workflow stays usable after it is soft-deleted, so a
    graph loaded with such a reference can be saved back (validation reports it instead).
    """
    cursor = await connection.execute(
        FACTS_QUERY,
        {
            "owner_id": owner_id,
            "workflow_id": workflow_id,
            "tool_ids": Jsonb(list(graph.tool_ids()), dumps=orjson.dumps),
            "agent_ids": Jsonb(list(graph.agent_ids()), dumps=orjson.dumps),
            "node_ids": Jsonb(list(graph.node_ids), dumps=orjson.dumps),
            "edge_ids": Jsonb(list(graph.edge_ids()), dumps=orjson.dumps),
        },
    )
    row = await cursor.fetchone()
    assert row is not None
    return StoredFacts(*(frozenset(ids) for ids in row))


def _columns(record: dict[str, str], alias: str = "", skip: Sequence[str] = ()) -> str:
    """The record's columns as a select list, optionally qualified by `alias`."""
    prefix = f"{alias}." if alias else ""
    return ", ".join(f"{prefix}{column}" for column in record if column not in skip)


def _record_type(record: dict[str, str]) -> str:
    """The column definition list of a *_to_recordset call."""
    return ", ".join(f"{column} {sql_type}" for column, sql_type in record.items())


def _compare(columns: Sequence[str], left: str, operator: str, right: str) -> str:
    """Compare `columns` of two rows with IS [NOT] DISTINCT FROM (NULLs equal)."""
    left_row = ", ".join(f"{left}.{column}" for column in columns)
    right_row = ", ".join(f"{right}.{column}" for column in columns)
    return f"({left_row}) {operator} ({right_row})"


def node_writes_sql() -> str:
    """CTEs writing the nodes: insert new, update changed (only), delete the missing."""
    fields = [column for column in NODE_RECORD if column != "id"]
    assignments = ", ".join(f"{column} = EXCLUDED.{column}" for column in fields)
    return f"""
changed_nodes AS (
    SELECT s.* FROM submitted_nodes s LEFT JOIN stored_nodes n ON n.id = s.id
    WHERE n.id IS NULL OR {_compare(fields, "n", "IS DISTINCT FROM", "s")}
), written_nodes AS (
    INSERT INTO nodes AS n (id, workflow_id, {", ".join(fields)})
    SELECT id, %(workflow_id)s, {", ".join(fields)} FROM changed_nodes
    ON CONFLICT (id) DO UPDATE SET {assignments}, updated_at = now()
    WHERE n.workflow_id = EXCLUDED.workflow_id
    RETURNING n.id
), deleted_nodes AS (
    DELETE FROM nodes n WHERE n.workflow_id = %(workflow_id)s
    AND NOT EXISTS (SELECT 1 FROM submitted_nodes s WHERE s.id = n.id)
    RETURNING n.id
)"""  # noqa: S608


def edge_writes_sql() -> str:
    """CTEs writing the edges: insert new, update changed (only), delete the missing."""
    # A moved edge (new endpoints or handles) is deleted and inserted again once every deleted
    # edge is gone, so it can take over a connection another edge gives up (uq_edge_connection).
    same_connection = _compare(EDGE_CONNECTION, "e", "IS NOT DISTINCT FROM", "s")
    fields = [column for column in EDGE_RECORD if column != "id"]
    details = [column for column in fields if column not in EDGE_CONNECTION]
    assignments = ", ".join(f"{column} = EXCLUDED.{column}" for column in details)
    return f"""
changed_edges AS (
    SELECT s.* FROM submitted_edges s LEFT JOIN stored_edges e ON e.id = s.id
    WHERE e.id IS NULL OR {_compare(fields, "e", "IS DISTINCT FROM", "s")}
), deleted_edges AS (
    DELETE FROM edges e WHERE e.workflow_id = %(workflow_id)s
    AND NOT EXISTS (SELECT 1 FROM submitted_edges s
                    WHERE s.id = e.id AND {same_connection})
    RETURNING e.id, e.created_at
), moved_edges AS (
    -- An aggregate reads every deleted edge before the first edge is inserted.
    SELECT coalesce(jsonb_object_agg(id::text, created_at), '{{}}') AS created_at
    FROM deleted_edges
), written_edges AS (
    INSERT INTO edges AS e (id, workflow_id, {", ".join(fields)}, created_at)
    SELECT s.id, %(workflow_id)s, {", ".join(f"s.{column}" for column in fields)},
           coalesce((m.created_at ->> s.id::text)::timestamptz, now())
    FROM changed_edges s CROSS JOIN moved_edges m
    ON CONFLICT (id) DO UPDATE SET {assignments}
    WHERE e.workflow_id = EXCLUDED.workflow_id
    RETURNING e.id
)"""  # noqa: S608


def change_counts_sql(kind: str) -> str:
    """json_build_object of what the save created, updated and deleted of `kind`."""
    was_stored = f"EXISTS (SELECT 1 FROM stored_{kind} s WHERE s.id = w.id)"  # noqa: S608
    return (
        "json_build_object("  # noqa: S608
        f"'created', (SELECT count(*) FROM written_{kind} w WHERE NOT {was_stored}), "
        f"'updated', (SELECT count(*) FROM written_{kind} w WHERE {was_stored}), "
        f"'deleted', (SELECT count(*) FROM deleted_{kind} d "
        f"WHERE NOT EXISTS (SELECT 1 FROM submitted_{kind} s WHERE s.id = d.id)))"
    )


def save_statement() -> str:
    """One statement making the stored graph equal to the submitted one, with change counts.

    Foreign keys are checked at the end of the statement, so the order of its parts does not
    matter to them; every part sees the graph as it was before the statement.
    """
    return f"""
WITH submitted_nodes AS (
    SELECT * FROM jsonb_to_recordset(%(nodes)s) AS x({_record_type(NODE_RECORD)})
), submitted_edges AS (
    SELECT * FROM jsonb_to_recordset(%(edges)s) AS x({_record_type(EDGE_RECORD)})
), stored_nodes AS (
    SELECT * FROM nodes WHERE workflow_id = %(workflow_id)s
), stored_edges AS (
    SELECT * FROM edges WHERE workflow_id = %(workflow_id)s
),{node_writes_sql()},{edge_writes_sql()}
SELECT json_build_object(
    'nodes', {change_counts_sql("nodes")}, 'edges', {change_counts_sql("edges")}
)::text
"""  # noqa: S608


SAVE_STATEMENT = save_statement()


def dump_nodes(nodes: list[GraphNodeIn]) -> bytes:
    """Validated nodes as one JSON array (pydantic's serializer: no per-row Python)."""
    return NODE_LIST_ADAPTER.dump_json(nodes)


def dump_edges(edges: list[GraphEdgeIn]) -> bytes:
    """Validated edges as one JSON array."""
    return EDGE_LIST_ADAPTER.dump_json(edges)


async def save_graph(
    connection: AsyncConnection[Any], workflow_id: uuid.UUID, graph: SubmittedGraph
) -> GraphChanges:
    """Make the stored graph equal to the checked submitted one; the counts of what changed."""
    cursor = await connection.execute(
        SAVE_STATEMENT,
        {
            "workflow_id": workflow_id,
            "nodes": Jsonb(list(graph.nodes.values()), dumps=dump_nodes),
            "edges": Jsonb(list(graph.edges.values()), dumps=dump_edges),
        },
    )
    row = await cursor.fetchone()
    assert row is not None
    return GraphChanges.model_validate_json(row[0])


async def get_saved_graph(
    connection: AsyncConnection[Any],
    owner_id: uuid.UUID,
    workflow_id: uuid.UUID,
    changes: GraphChanges,
) -> tuple[VersionedJson, str]:
    """The graph just saved as GET shows it, and the save's answer: that plus the changes."""
    saved = await get_graph(connection, owner_id, workflow_id)
    assert saved is not None
    answer = saved.body[:-1] + ', "changes" : ' + changes.model_dump_json() + "}"
    return saved, answer


def duplicate_statement() -> str:
    """One statement copying a live workflow with its graph; node ids are remapped."""
    node_fields = _columns(NODE_RECORD, skip=["id"])
    node_values = _columns(NODE_RECORD, "n", skip=["id"])
    edge_fields = _columns(EDGE_RECORD, skip=["id", "source_node_id", "target_node_id"])
    edge_values = _columns(EDGE_RECORD, "e", skip=["id", "source_node_id", "target_node_id"])
    return f"""
WITH original AS (
    SELECT * FROM workflows
    WHERE id = %(workflow_id)s AND owner_id = %(owner_id)s AND deleted_at IS NULL
), copy AS (
    INSERT INTO workflows (id, owner_id, name, description, config, variables, is_active)
    SELECT gen_random_uuid(), owner_id, coalesce(%(name)s::text, left('Copy of ' || name, 255)),
           description, config, variables, is_active
    FROM original
    RETURNING id
), new_ids AS (
    SELECT n.id AS old_id, gen_random_uuid() AS new_id
    FROM nodes n JOIN original o ON n.workflow_id = o.id
), copied_nodes AS (
    INSERT INTO nodes (id, workflow_id, {node_fields})
    SELECT m.new_id, c.id, {node_values}
    FROM nodes n JOIN new_ids m ON m.old_id = n.id CROSS JOIN copy c
    WHERE n.workflow_id = %(workflow_id)s
), copied_edges AS (
    INSERT INTO edges (id, workflow_id, source_node_id, target_node_id, {edge_fields})
    SELECT gen_random_uuid(), c.id, s.new_id, t.new_id, {edge_values}
    FROM edges e
    JOIN new_ids s ON s.old_id = e.source_node_id
    JOIN new_ids t ON t.old_id = e.target_node_id
    CROSS JOIN copy c
    WHERE e.workflow_id = %(workflow_id)s
)
SELECT id FROM copy
"""  # noqa: S608


DUPLICATE_STATEMENT = duplicate_statement()


async def duplicate_workflow(
    connection: AsyncConnection[Any], owner_id: uuid.UUID, workflow_id: uuid.UUID, name: str | None
) -> uuid.UUID | None:
    """Copy the owner's live workflow as a new one at version 1; its id, None if not found."""
    cursor = await connection.execute(
        DUPLICATE_STATEMENT, {"workflow_id": workflow_id, "owner_id": owner_id, "name": name}
    )
    row = await cursor.fetchone()
    return None if row is None else uuid.UUID(str(row[0]))
