"""Whole graphs: read in one statement, saved set-based in one statement, duplicated in SQL.

Every statement is built with Core from the tables and compiled once, at import.
"""

import asyncio
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from psycopg import AsyncConnection
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from pydantic import BaseModel, TypeAdapter
from sqlalchemy import (
    CTE,
    ColumnElement,
    FromClause,
    Select,
    String,
    Text,
    Uuid,
    and_,
    bindparam,
    delete,
    except_,
    exists,
    func,
    insert,
    literal,
    not_,
    or_,
    select,
    true,
    tuple_,
)
from sqlalchemy.dialects.postgresql import JSON, JSONB
from sqlalchemy.dialects.postgresql import insert as upsert

from service.changes import service as change_log
from service.changes.models import ChangeEntry, ItemChanges, Operation
from service.graph.edges.models import CONNECTION_FIELDS, EdgePublic
from service.graph.edges.repository import EDGES
from service.graph.items_repository import GraphTable
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
from service.graph.nodes.repository import NODES, REFERENCE_TABLES
from service.graph.rules import StoredFacts, SubmittedGraph
from service.owned_rows import WORKFLOWS_TABLE
from service.responses import render_json
from service.sql import (
    CompiledSql,
    compiled,
    json_array,
    json_key,
    json_text,
    on_update_values,
    public_columns,
    public_fields,
)
from service.workflows.models import WorkflowCreate, WorkflowPublic
from service.workflows.repository import WORKFLOWS as WORKFLOW_ROWS

NODE_LIST_ADAPTER = TypeAdapter(list[GraphNodeIn])
EDGE_LIST_ADAPTER = TypeAdapter(list[GraphEdgeIn])
WORKFLOWS = WORKFLOWS_TABLE
ITEM_ORDER = ("created_at", "id")
# The graph document's members in GraphPublic's order; the workflow's are rendered one by one.
GRAPH_MEMBERS = public_fields(GraphPublic)
WORKFLOW_MEMBERS = [name for name in GRAPH_MEMBERS if name not in ("nodes", "edges")]


def live_workflow() -> ColumnElement[bool]:
    """The `workflow_id` parameter names a live workflow of the `owner_id` parameter."""
    return and_(
        WORKFLOWS.c.id == bindparam("workflow_id"),
        WORKFLOWS.c.owner_id == bindparam("owner_id"),
        WORKFLOWS.c.deleted_at.is_(None),
    )


def workflow_member_texts(
    workflow: FromClause = WORKFLOWS, computed: dict[str, ColumnElement[Any]] | None = None
) -> list[ColumnElement[str]]:
    """Each workflow member of the graph document as JSON text, as row_to_json renders it.

    `workflow` is the workflows table, or rows of its columns (a stored snapshot's, which
    brings its `computed` members along).
    """
    if computed is None:
        computed = WORKFLOW_ROWS.computed(workflow)
    columns = public_columns(WorkflowPublic, workflow, computed)
    by_name = {column.name: column.element for column in columns}
    null = literal("null", Text)
    return [func.coalesce(json_text(func.to_json(by_name[n])), null) for n in WORKFLOW_MEMBERS]


def items_json(table: GraphTable, public: type[BaseModel]) -> ColumnElement[str]:
    """The workflow's items as a JSON array text, in creation order."""
    items = table.table
    rows = select(*public_columns(public, items)).where(items.c.workflow_id == WORKFLOWS.c.id)
    return items_array(public, rows.correlate(WORKFLOWS))


def items_array(public: type[BaseModel], rows: Select[Any]) -> ColumnElement[str]:
    """A select of `public_columns` as the graph document's JSON array text of items."""
    return json_text(json_array(public, rows, ITEM_ORDER))


NODES_JSON = items_json(NODES, NodePublic)
EDGES_JSON = items_json(EDGES, EdgePublic)
# Each query selects (version, *workflow members, nodes?, edges?) of one live workflow.
GRAPH_QUERY = compiled(
    select(WORKFLOWS.c.version, *workflow_member_texts(), NODES_JSON, EDGES_JSON).where(
        live_workflow()
    )
)
NODES_HALF_QUERY = compiled(
    select(WORKFLOWS.c.version, *workflow_member_texts(), NODES_JSON).where(live_workflow())
)
EDGES_HALF_QUERY = compiled(select(WORKFLOWS.c.version, EDGES_JSON).where(live_workflow()))
CONSISTENT_READ_ATTEMPTS = 3
IDLE_CONNECTION_WAIT_SECONDS = 0.001


@dataclass(frozen=True)
class RenderedGraph:
    """A graph's parts as PostgreSQL rendered them, and the one document made of them."""

    version: int
    workflow_members: Sequence[str]
    nodes: str
    edges: str

    def members(self) -> dict[str, orjson.Fragment]:
        """The graph document's members in GraphPublic's order."""
        parts = dict(zip(WORKFLOW_MEMBERS, self.workflow_members, strict=True))
        parts |= {"nodes": self.nodes, "edges": self.edges}
        return {name: orjson.Fragment(parts[name]) for name in GRAPH_MEMBERS}

    def document(self) -> bytes:
        """The GraphPublic document: every path renders a graph through here."""
        return render_json(self.members())

    def save_answer(self, changes: GraphChanges) -> bytes:
        """The GraphSaveResult document: the graph and what the save changed."""
        members = self.members()
        is_deleted = members.pop("is_deleted")
        changes_json = orjson.Fragment(changes.model_dump_json())
        return render_json({**members, "changes": changes_json, "is_deleted": is_deleted})


def rendered_graph(row: Sequence[Any], edges: str | None = None) -> RenderedGraph:
    """A graph from a GRAPH_QUERY row, or a NODES_HALF_QUERY row with the edges beside."""
    members = [str(text) for text in row[1 : 1 + len(WORKFLOW_MEMBERS)]]
    nodes = str(row[1 + len(WORKFLOW_MEMBERS)])
    edges = str(row[2 + len(WORKFLOW_MEMBERS)]) if edges is None else edges
    return RenderedGraph(int(row[0]), members, nodes, edges)


async def fetch_row(
    connection: AsyncConnection[Any], statement: CompiledSql, values: dict[str, Any]
) -> tuple[Any, ...] | None:
    """The first row of a compiled statement."""
    cursor = await connection.execute(statement.text, statement.params(values))
    row: tuple[Any, ...] | None = await cursor.fetchone()
    return row


async def get_graph(
    connection: AsyncConnection[Any], owner_id: uuid.UUID, workflow_id: uuid.UUID
) -> RenderedGraph | None:
    """The owner's live workflow with its nodes and edges."""
    values = {"workflow_id": workflow_id, "owner_id": owner_id}
    row = await fetch_row(connection, GRAPH_QUERY, values)
    return None if row is None else rendered_graph(row)


async def get_graph_in_parallel(
    connection: AsyncConnection[Any],
    pool: AsyncConnectionPool[Any],
    owner_id: uuid.UUID,
    workflow_id: uuid.UUID,
) -> RenderedGraph | None:
    """The graph as get_graph renders it, nodes and edges rendered by two backends at once.

    The two statements see two snapshots; every change to a graph raises the workflow's
    version in the same transaction, so equal versions mean the halves belong together.
    Only an idle pooled connection is borrowed: waiting for one while holding another could
    deadlock a busy pool, so without one the graph is rendered by one statement.
    """
    values = {"workflow_id": workflow_id, "owner_id": owner_id}
    try:
        async with pool.connection(timeout=IDLE_CONNECTION_WAIT_SECONDS) as other:
            for _attempt in range(CONSISTENT_READ_ATTEMPTS):
                nodes, edges = await asyncio.gather(
                    fetch_row(connection, NODES_HALF_QUERY, values),
                    fetch_row(other, EDGES_HALF_QUERY, values),
                )
                if nodes is None or edges is None:
                    return None
                if nodes[0] == edges[0]:
                    return rendered_graph(nodes, edges=str(edges[1]))
    except PoolTimeout:
        pass
    return await get_graph(connection, owner_id, workflow_id)


def stored_items_json(
    table: GraphTable, model: type[BaseModel], workflow: FromClause
) -> ColumnElement[Any]:
    """The workflow's items as a JSON array of `model`, in creation order."""
    items = table.table
    rows = select(*public_columns(model, items), items.c.created_at).where(
        items.c.workflow_id == workflow.c.id
    )
    return json_array(model, rows.correlate(workflow), ITEM_ORDER)


def usable_ids_json(registry: FromClause, reference: str) -> ColumnElement[Any]:
    """The owner's live, active entries of `registry` that the workflow's nodes use."""
    nodes = NODES.table
    used = select(nodes.c[reference]).where(nodes.c.workflow_id == WORKFLOWS.c.id)
    usable = select(func.coalesce(func.json_agg(registry.c.id), literal_column_json("[]"))).where(
        registry.c.owner_id == WORKFLOWS.c.owner_id,
        registry.c.deleted_at.is_(None),
        registry.c.is_active,
        registry.c.id.in_(used),
    )
    return usable.correlate(WORKFLOWS).scalar_subquery()


def literal_column_json(text: str) -> ColumnElement[Any]:
    """A constant JSON value."""
    return literal(text, String).cast(JSON)


def stored_graph_query() -> CompiledSql:
    """One statement loading what validation and Mermaid rendering need, as JSON text."""
    usable_members = []
    for reference, registry in REFERENCE_TABLES.items():
        usable_members += [json_key(f"usable_{reference}s"), usable_ids_json(registry, reference)]
    document = func.json_build_object(
        json_key("version"),
        WORKFLOWS.c.version,
        json_key("name"),
        WORKFLOWS.c.name,
        json_key("nodes"),
        stored_items_json(NODES, StoredNode, WORKFLOWS),
        json_key("edges"),
        stored_items_json(EDGES, StoredEdge, WORKFLOWS),
        *usable_members,
    )
    return compiled(select(json_text(document)).where(live_workflow()))


STORED_GRAPH_QUERY = stored_graph_query()


async def get_stored_graph(
    connection: AsyncConnection[Any], owner_id: uuid.UUID, workflow_id: uuid.UUID
) -> StoredGraph | None:
    """The stored graph with the caller's usable (live, active) tools and agents it uses."""
    values = {"workflow_id": workflow_id, "owner_id": owner_id}
    row = await fetch_row(connection, STORED_GRAPH_QUERY, values)
    return None if row is None else StoredGraph.model_validate_json(row[0])


def submitted_ids(parameter: str) -> Select[Any]:
    """SELECT the ids of a JSON array parameter (psycopg adapts long UUID lists one by one)."""
    return select(func.jsonb_array_elements_text(bindparam(parameter, type_=JSONB)).cast(Uuid))


def usable_references(registry: FromClause, reference: str, ids: str) -> ColumnElement[Any]:
    """The submitted referenced rows of `registry` the owner may use (live, or already in use)."""
    nodes = NODES.table
    in_use = select(nodes.c[reference]).where(nodes.c.workflow_id == bindparam("workflow_id"))
    found = select(func.array_agg(registry.c.id)).where(
        registry.c.id.in_(submitted_ids(ids)),
        registry.c.owner_id == bindparam("owner_id"),
        or_(registry.c.deleted_at.is_(None), registry.c.id.in_(in_use)),
    )
    return found.scalar_subquery()


def foreign_ids(table: GraphTable, ids: str) -> ColumnElement[Any]:
    """The submitted ids that rows of another workflow hold (only new ids are looked up)."""
    items = table.table
    own = select(items.c.id).where(items.c.workflow_id == bindparam("workflow_id"))
    new_ids = except_(submitted_ids(ids), own)
    return select(func.array_agg(items.c.id)).where(items.c.id.in_(new_ids)).scalar_subquery()


FACTS_QUERY = compiled(
    select(
        *(
            usable_references(registry, reference, f"{reference}s").label(f"usable_{reference}s")
            for reference, registry in REFERENCE_TABLES.items()
        ),
        foreign_ids(NODES, "node_ids").label("foreign_node_ids"),
        foreign_ids(EDGES, "edge_ids").label("foreign_edge_ids"),
    )
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
    values = {
        "owner_id": owner_id,
        "workflow_id": workflow_id,
        "tool_ids": Jsonb(list(graph.tool_ids()), dumps=orjson.dumps),
        "agent_ids": Jsonb(list(graph.agent_ids()), dumps=orjson.dumps),
        "node_ids": Jsonb(list(graph.node_ids), dumps=orjson.dumps),
        "edge_ids": Jsonb(list(graph.edge_ids()), dumps=orjson.dumps),
    }
    cursor = await connection.execute(FACTS_QUERY.text, FACTS_QUERY.params(values))
    row = await cursor.fetchone()
    assert row is not None
    assert cursor.description is not None
    names = (column.name for column in cursor.description)
    return StoredFacts(**{name: frozenset(ids or ()) for name, ids in zip(names, row, strict=True)})


@dataclass(frozen=True)
class SaveParts:
    """The CTEs of one kind of item in the save statement."""

    submitted: CTE
    stored: CTE
    changed: CTE
    written: CTE
    deleted: CTE


def workflow_id_parameter() -> ColumnElement[uuid.UUID]:
    """The `workflow_id` parameter, typed for a select list."""
    return bindparam("workflow_id", type_=Uuid)


def differs(left: FromClause, right: FromClause, fields: Sequence[str]) -> ColumnElement[bool]:
    """The rows differ in `fields` (NULLs equal)."""
    left_row = tuple_(*(left.c[name] for name in fields))
    return left_row.is_distinct_from(tuple_(*(right.c[name] for name in fields)))


def submitted_and_stored(table: GraphTable, parameter: str) -> tuple[CTE, CTE]:
    """The submitted records of a kind (id and Create fields), and the workflow's stored rows."""
    records = table.records(parameter, ("id", *table.fields), many=True)
    submitted = select(*records.c).cte(f"submitted_{table.name}")
    items = table.table
    stored = select(items).where(items.c.workflow_id == bindparam("workflow_id"))
    return submitted, stored.cte(f"stored_{table.name}")


def changed_rows(submitted: CTE, stored: CTE, fields: Sequence[str]) -> Select[Any]:
    """The submitted rows that are new or differ from their stored row."""
    return (
        select(submitted)
        .outerjoin(stored, stored.c.id == submitted.c.id)
        .where(or_(stored.c.id.is_(None), differs(stored, submitted, fields)))
    )


def node_writes() -> SaveParts:
    """CTEs writing the nodes: insert new, update changed (only), delete the missing."""
    nodes, fields = NODES.table, NODES.fields
    submitted, stored = submitted_and_stored(NODES, "nodes")
    changed = changed_rows(submitted, stored, fields).cte("changed_nodes")
    rows = select(changed.c.id, workflow_id_parameter(), *(changed.c[f] for f in fields))
    insert_new = upsert(nodes).from_select(["id", "workflow_id", *fields], rows)
    written = insert_new.on_conflict_do_update(
        index_elements=[nodes.c.id],
        set_={**{f: insert_new.excluded[f] for f in fields}, **on_update_values(nodes)},
        where=nodes.c.workflow_id == insert_new.excluded.workflow_id,
    ).returning(nodes.c.id)
    missing = ~exists().where(submitted.c.id == nodes.c.id)
    deleted = delete(nodes).where(nodes.c.workflow_id == bindparam("workflow_id"), missing)
    return SaveParts(
        submitted,
        stored,
        changed,
        written.cte("written_nodes"),
        deleted.returning(nodes.c.id).cte("deleted_nodes"),
    )


def edge_writes() -> SaveParts:
    """CTEs writing the edges: insert new, update changed (only), delete the missing.

    A moved edge (new endpoints or handles) is deleted and inserted again once every deleted
    edge is gone, so it can take over a connection another edge gives up (uq_edge_connection).
    """
    edges, fields = EDGES.table, EDGES.fields
    submitted, stored = submitted_and_stored(EDGES, "edges")
    changed = changed_rows(submitted, stored, fields).cte("changed_edges")
    kept = exists().where(
        submitted.c.id == edges.c.id, ~differs(edges, submitted, CONNECTION_FIELDS)
    )
    deleted = (
        delete(edges)
        .where(edges.c.workflow_id == bindparam("workflow_id"), ~kept)
        .returning(edges.c.id, edges.c.created_at)
        .cte("deleted_edges")
    )
    # An aggregate reads every deleted edge before the first edge is inserted.
    moved = select(
        func.coalesce(
            func.jsonb_object_agg(deleted.c.id.cast(Text), deleted.c.created_at),
            literal("{}", String).cast(JSONB),
        ).label("created_at")
    ).cte("moved_edges")
    created_at = func.coalesce(
        moved.c.created_at.op("->>")(changed.c.id.cast(Text)).cast(edges.c.created_at.type),
        func.now(),
    )
    rows = select(
        changed.c.id, workflow_id_parameter(), *(changed.c[f] for f in fields), created_at
    ).select_from(changed.join(moved, true()))
    insert_new = upsert(edges).from_select(["id", "workflow_id", *fields, "created_at"], rows)
    details = [name for name in fields if name not in CONNECTION_FIELDS]
    written = insert_new.on_conflict_do_update(
        index_elements=[edges.c.id],
        set_={**{n: insert_new.excluded[n] for n in details}, **on_update_values(edges)},
        where=edges.c.workflow_id == insert_new.excluded.workflow_id,
    ).returning(edges.c.id)
    return SaveParts(submitted, stored, changed, written.cte("written_edges"), deleted)


Aggregate = Callable[[FromClause], ColumnElement[Any]]


def per_change(parts: SaveParts, aggregate: Aggregate) -> ColumnElement[Any]:
    """json_build_object of `aggregate` over what the save created, updated and deleted."""
    written, deleted = parts.written, parts.deleted
    was_stored = exists().where(parts.stored.c.id == written.c.id)
    resubmitted = exists().where(parts.submitted.c.id == deleted.c.id)

    def of(source: FromClause, condition: ColumnElement[bool]) -> ColumnElement[Any]:
        return select(aggregate(source)).select_from(source).where(condition).scalar_subquery()

    return func.json_build_object(
        json_key("created"),
        of(written, not_(was_stored)),
        json_key("updated"),
        of(written, was_stored),
        json_key("deleted"),
        of(deleted, not_(resubmitted)),
    )


def change_counts(parts: SaveParts) -> ColumnElement[Any]:
    """How many items of one kind the save created, updated and deleted."""
    return per_change(parts, lambda _source: func.count())


def change_ids(parts: SaveParts) -> ColumnElement[Any]:
    """The ids of one kind the save created, updated and deleted, as JSON arrays."""
    empty = literal("[]", String).cast(JSON)
    return per_change(parts, lambda source: func.coalesce(func.json_agg(source.c.id), empty))


def save_statement() -> CompiledSql:
    """One statement making the stored graph equal to the submitted one, with change counts.

    Foreign keys are checked at the end of the statement, so the order of its parts does not
    matter to them; every part sees the graph as it was before the statement.
    """
    nodes, edges = node_writes(), edge_writes()
    counts = func.json_build_object(
        json_key("nodes"),
        change_counts(nodes),
        json_key("edges"),
        change_counts(edges),
        json_key("clashed"),
        clashed_count(nodes) + clashed_count(edges),
        json_key("ids"),
        func.json_build_object(
            json_key("nodes"), change_ids(nodes), json_key("edges"), change_ids(edges)
        ),
    )
    return compiled(select(json_text(counts)))


def clashed_count(parts: SaveParts) -> ColumnElement[int]:
    """How many changed items were not written: their ids went to another workflow meanwhile.

    ON CONFLICT ... WHERE skips a row whose id a concurrent save gave to another workflow.
    """
    unwritten = ~exists().where(parts.written.c.id == parts.changed.c.id)
    return select(func.count()).select_from(parts.changed).where(unwritten).scalar_subquery()


SAVE_STATEMENT = save_statement()


def dump_nodes(nodes: list[GraphNodeIn]) -> bytes:
    """Validated nodes as one JSON array (pydantic's serializer: no per-row Python)."""
    return NODE_LIST_ADAPTER.dump_json(nodes)


def dump_edges(edges: list[GraphEdgeIn]) -> bytes:
    """Validated edges as one JSON array."""
    return EDGE_LIST_ADAPTER.dump_json(edges)


class ChangedIds(BaseModel):
    """The ids a save created, updated and deleted, of nodes and of edges."""

    nodes: ItemChanges
    edges: ItemChanges


async def save_graph(
    connection: AsyncConnection[Any], workflow_id: uuid.UUID, graph: SubmittedGraph
) -> tuple[GraphChanges, ChangedIds]:
    """Make the stored graph equal to the checked submitted one; what changed, counted and by id.

    IdsTakenError when a concurrent save in another workflow took ids this one creates (the
    caller rolls the save back and checks the graph again, which says which ids).
    """
    values = {
        "workflow_id": workflow_id,
        "nodes": Jsonb(list(graph.nodes.values()), dumps=dump_nodes),
        "edges": Jsonb(list(graph.edges.values()), dumps=dump_edges),
    }
    row = await fetch_row(connection, SAVE_STATEMENT, values)
    assert row is not None
    result = SaveResult.model_validate_json(row[0])
    if result.clashed:
        raise IdsTakenError
    return GraphChanges(nodes=result.nodes, edges=result.edges), result.ids


class SaveResult(GraphChanges):
    """What the save statement reports: the changes, and how many items it could not write."""

    clashed: int
    ids: ChangedIds


class IdsTakenError(Exception):
    """A concurrent save in another workflow took ids this save creates."""


def duplicate_statement() -> CompiledSql:
    """One statement copying a live workflow with its graph; node ids are remapped.

    Every field a workflow, node or edge is created with is copied: a new column is too.
    """
    workflows, nodes, edges = WORKFLOWS, NODES.table, EDGES.table
    original = select(workflows).where(live_workflow()).cte("original")
    copied_name = func.coalesce(
        bindparam("name", type_=Text),
        func.left(literal("Copy of ", Text) + original.c.name, 255),
    )
    workflow_fields = [name for name in WorkflowCreate.model_fields if name != "name"]
    copy = (
        insert(workflows)
        .from_select(
            ["id", "owner_id", "name", *workflow_fields],
            select(
                func.gen_random_uuid(),
                original.c.owner_id,
                copied_name,
                *(original.c[name] for name in workflow_fields),
            ),
        )
        .returning(workflows.c.id)
        .cte("copy")
    )
    new_ids = (
        select(nodes.c.id.label("old_id"), func.gen_random_uuid().label("new_id"))
        .join(original, nodes.c.workflow_id == original.c.id)
        .cte("new_ids")
    )
    copied_nodes = insert(nodes).from_select(
        ["id", "workflow_id", *NODES.fields],
        select(new_ids.c.new_id, copy.c.id, *(nodes.c[name] for name in NODES.fields))
        .join_from(nodes, new_ids, new_ids.c.old_id == nodes.c.id)
        .join(copy, true())
        .where(nodes.c.workflow_id == bindparam("workflow_id")),
    )
    source, target = new_ids.alias("s"), new_ids.alias("t")
    edge_fields = [
        name for name in EDGES.fields if name not in ("source_node_id", "target_node_id")
    ]
    copied_edges = insert(edges).from_select(
        ["id", "workflow_id", "source_node_id", "target_node_id", *edge_fields],
        select(
            func.gen_random_uuid(),
            copy.c.id,
            source.c.new_id,
            target.c.new_id,
            *(edges.c[name] for name in edge_fields),
        )
        .join_from(edges, source, source.c.old_id == edges.c.source_node_id)
        .join(target, target.c.old_id == edges.c.target_node_id)
        .join(copy, true())
        .where(edges.c.workflow_id == bindparam("workflow_id")),
    )
    statement = select(copy.c.id).add_cte(copied_nodes.cte("copied_nodes"))
    return compiled(statement.add_cte(copied_edges.cte("copied_edges")))


DUPLICATE_STATEMENT = duplicate_statement()


async def duplicate_workflow(
    connection: AsyncConnection[Any], owner_id: uuid.UUID, workflow_id: uuid.UUID, name: str | None
) -> uuid.UUID | None:
    """Copy the owner's live workflow as a new one at version 1; its id, None if not found."""
    values = {"workflow_id": workflow_id, "owner_id": owner_id, "name": name}
    row = await fetch_row(connection, DUPLICATE_STATEMENT, values)
    if row is None:
        return None
    copy_id = uuid.UUID(str(row[0]))
    # The copy's first step; its nodes and edges are what GET .../graph of the copy shows.
    await change_log.record(
        connection, owner_id, copy_id, 1, ChangeEntry(operation=Operation.WORKFLOW_DUPLICATED)
    )
    return copy_id
