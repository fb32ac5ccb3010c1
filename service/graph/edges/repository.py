"""Edges: every write keeps the graph a DAG of distinct connections inside one workflow."""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any, NamedTuple

from psycopg import AsyncConnection
from sqlalchemy import Text, Uuid, any_, bindparam, select
from sqlalchemy.dialects.postgresql import ARRAY

from service.changes import service as change_log
from service.changes.models import Operation, touched
from service.errors import CycleDetectedError, ValidationError
from service.graph.edges.models import (
    CONNECTION_FIELDS,
    Edge,
    EdgeCreate,
    EdgePublic,
    EdgeUpdate,
)
from service.graph.items_repository import (
    CreatedItems,
    GraphTable,
    insert_items,
    item_entry,
    item_pointer,
    refuse_growth,
    stored_item,
    update_item,
    validated_merge,
)
from service.graph.nodes.models import Node
from service.graph.rules import Connection, connection_problems, new_cycle
from service.owned_rows import VersionedJson
from service.preconditions import Precondition
from service.sql import compiled, table_of
from service.workflows.repository import bump_version

EDGES = GraphTable(table_of(Edge), "Edge", EdgePublic, EdgeCreate)
NODES_TABLE = table_of(Node)
NAMED_NODES = compiled(
    select(NODES_TABLE.c.id.cast(Text)).where(
        NODES_TABLE.c.workflow_id == bindparam("workflow_id"),
        NODES_TABLE.c.id == any_(bindparam("node_ids", type_=ARRAY(Uuid))),
    )
)
EDGE_ENDS = ("id", *CONNECTION_FIELDS)
OTHER_EDGES = compiled(
    select(*(EDGES.table.c[name].cast(Text) for name in EDGE_ENDS)).where(
        EDGES.table.c.workflow_id == bindparam("workflow_id"),
        EDGES.table.c.id.is_distinct_from(bindparam("without_edge", type_=Uuid)),
    )
)

NodePair = tuple[str, str]


class StoredEdge(NamedTuple):
    """The parts of a stored edge the graph checks need, ids as text."""

    id: str
    source_node_id: str
    target_node_id: str
    source_handle: str | None
    target_handle: str | None


@dataclass(frozen=True)
class StoredGraph:
    """Which of the named nodes are in the workflow (ids as text), and the workflow's edges.

    Ids stay text: parsing thousands of stored ids into uuid.UUID objects cost more than every
    graph check together (W4 profile).
    """

    node_ids: set[str]
    edges: list[StoredEdge]

    def pairs(self) -> list[NodePair]:
        """The edges as (source, target) pairs."""
        return [(edge.source_node_id, edge.target_node_id) for edge in self.edges]

    def connections(self) -> dict[Connection, str]:
        """The stored connections and their edge ids."""
        return {
            (e.source_node_id, e.target_node_id, e.source_handle, e.target_handle): e.id
            for e in self.edges
        }


async def load_graph(
    connection: AsyncConnection[Any],
    workflow_id: uuid.UUID,
    named_node_ids: Iterable[uuid.UUID],
    *,
    without_edge: uuid.UUID | None = None,
) -> StoredGraph:
    """The named nodes that are in the workflow, and its edges (except `without_edge`)."""
    values = {"workflow_id": workflow_id, "node_ids": list(set(named_node_ids))}
    cursor = await connection.execute(NAMED_NODES.text, NAMED_NODES.params(values))
    node_ids = {row[0] for row in await cursor.fetchall()}
    values = {"workflow_id": workflow_id, "without_edge": without_edge}
    cursor = await connection.execute(OTHER_EDGES.text, OTHER_EDGES.params(values))
    edges = [StoredEdge._make(row) for row in await cursor.fetchall()]
    return StoredGraph(node_ids, edges)


def refuse_bad_edges(edges: list[EdgeCreate], graph: StoredGraph, collection: str | None) -> None:
    """Raise the first problem's own error for a single edge, one located 422 for a batch."""
    place = partial(item_pointer, collection)
    found = connection_problems(
        dict(enumerate(edges)), graph.node_ids, graph.connections(), place, str
    )
    located = []
    for index, edge_problem in found:
        if collection is None:
            raise edge_problem.as_error()
        located.append(edge_problem.located(item_pointer(collection, index)))
    if located:
        raise ValidationError(located, detail=f"{len(located)} problems in the {collection}.")


def refuse_cycle(stored: list[NodePair], added: list[NodePair]) -> None:
    """409 CYCLE_DETECTED when the added edges would close a cycle."""
    cycle = new_cycle(stored, added)
    if cycle is not None:
        path = " -> ".join(str(node_id) for node_id in cycle)
        raise CycleDetectedError(f"The graph would contain the cycle {path}.", cycle_path=cycle)


def added_pairs(edges: list[EdgeCreate]) -> list[NodePair]:
    """The (source, target) pairs of new edges, ids as text."""
    return [(str(edge.source_node_id), str(edge.target_node_id)) for edge in edges]


def endpoints(edges: list[EdgeCreate]) -> list[uuid.UUID]:
    """Every node the edges name."""
    return [node_id for edge in edges for node_id in (edge.source_node_id, edge.target_node_id)]


async def create_edges(
    connection: AsyncConnection[Any],
    owner_id: uuid.UUID,
    workflow_id: uuid.UUID,
    precondition: Precondition | None,
    edges: list[EdgeCreate],
    *,
    max_edges: int,
    collection: str | None,
) -> CreatedItems:
    """Add edges all or nothing; problems are located in a batch `collection` when given."""
    version = await bump_version(connection, owner_id, workflow_id, precondition)
    graph = await load_graph(connection, workflow_id, endpoints(edges))
    refuse_growth(EDGES, len(graph.edges), len(edges), max_edges)
    refuse_bad_edges(edges, graph, collection)
    refuse_cycle(graph.pairs(), added_pairs(edges))
    items = await insert_items(connection, EDGES, workflow_id, edges)
    operation = Operation.EDGE_CREATED if collection is None else Operation.EDGES_BATCH_CREATED
    ids = [item_id for item_id, _body in items]
    await change_log.record(
        connection, owner_id, workflow_id, version, item_entry(EDGES, operation, touched(ids))
    )
    return CreatedItems(version, items)


async def update_edge(
    connection: AsyncConnection[Any],
    owner_id: uuid.UUID,
    workflow_id: uuid.UUID,
    edge_id: uuid.UUID,
    precondition: Precondition | None,
    edge_in: EdgeUpdate,
) -> VersionedJson:
    """Merge the named fields over the stored edge; the graph must stay a DAG."""
    version = await bump_version(connection, owner_id, workflow_id, precondition)
    stored = await stored_item(connection, EDGES, workflow_id, edge_id)
    edge = validated_merge(EdgeCreate, stored, edge_in.model_dump(exclude_unset=True))
    graph = await load_graph(connection, workflow_id, endpoints([edge]), without_edge=edge_id)
    refuse_bad_edges([edge], graph, None)
    refuse_cycle(graph.pairs(), added_pairs([edge]))
    body = await update_item(connection, EDGES, workflow_id, edge_id, edge)
    entry = item_entry(EDGES, Operation.EDGE_UPDATED, touched(updated=[edge_id]))
    await change_log.record(connection, owner_id, workflow_id, version, entry)
    return VersionedJson(version, body, edge_id)
