"""Edges: every write keeps the graph a DAG of distinct connections inside one workflow."""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

from psycopg import AsyncConnection

from service.errors import (
    CycleDetectedError,
    DuplicateEdgeError,
    NodeNotInWorkflowError,
    ProblemError,
    SelfLoopError,
    ValidationError,
)
from service.graph.dag import cycle_if_added, find_cycle
from service.graph.edges.models import EdgeCreate, EdgePublic, EdgeUpdate
from service.graph.items_repository import (
    CreatedItems,
    GraphTable,
    insert_items,
    item_pointer,
    refuse_growth,
    stored_item,
    update_item,
    validated_merge,
)
from service.owned_rows import VersionedJson
from service.preconditions import Precondition
from service.workflows.repository import bump_version

EDGES = GraphTable(
    name="edges",
    label="Edge",
    public=EdgePublic,
    create=EdgeCreate,
    column_types={
        "source_node_id": "uuid",
        "target_node_id": "uuid",
        "source_handle": "text",
        "target_handle": "text",
        "condition": "jsonb",
        "priority": "int",
        "label": "text",
    },
    has_updated_at=False,
)

# Ids are compared as text: parsing thousands of stored ids into uuid.UUID objects cost more
# than every graph check together (W4 profile).
ConnectionKey = tuple[str, str, str | None, str | None]
NodePair = tuple[str, str]


def connection_key(edge: Any) -> ConnectionKey:
    """What makes two edges the same connection (NULL handles compare equal)."""
    source, target = str(edge.source_node_id), str(edge.target_node_id)
    return (source, target, edge.source_handle, edge.target_handle)


class StoredEdge(NamedTuple):
    """The parts of a stored edge the graph checks need, ids as text."""

    id: str
    source_node_id: str
    target_node_id: str
    source_handle: str | None
    target_handle: str | None


@dataclass(frozen=True)
class StoredGraph:
    """Which of the named nodes are in the workflow (ids as text), and the workflow's edges."""

    node_ids: set[str]
    edges: list[StoredEdge]

    def pairs(self) -> list[NodePair]:
        """The edges as (source, target) pairs."""
        return [(edge.source_node_id, edge.target_node_id) for edge in self.edges]


@dataclass(frozen=True)
class EdgeProblem:
    """Why one edge cannot be written, as the specific error a single write answers."""

    error: type[ProblemError]
    field: str | None
    detail: str
    existing_edge_id: str | None = None

    def as_error(self) -> ProblemError:
        """The specific problem (SELF_LOOP, NODE_NOT_IN_WORKFLOW, DUPLICATE_EDGE)."""
        if self.existing_edge_id is None:
            return self.error(self.detail)
        return self.error(self.detail, existing_edge_id=self.existing_edge_id)


async def load_graph(
    connection: AsyncConnection[Any],
    workflow_id: uuid.UUID,
    named_node_ids: Iterable[uuid.UUID],
    *,
    without_edge: uuid.UUID | None = None,
) -> StoredGraph:
    """The named nodes that are in the workflow, and its edges (except `without_edge`)."""
    cursor = await connection.execute(
        "SELECT id::text FROM nodes WHERE workflow_id = %s AND id = ANY(%s::uuid[])",
        (workflow_id, list(set(named_node_ids))),
    )
    node_ids = {row[0] for row in await cursor.fetchall()}
    cursor = await connection.execute(
        "SELECT id::text, source_node_id::text, target_node_id::text, source_handle, "
        "target_handle FROM edges WHERE workflow_id = %s AND id IS DISTINCT FROM %s",
        (workflow_id, without_edge),
    )
    edges = [StoredEdge._make(row) for row in await cursor.fetchall()]
    return StoredGraph(node_ids, edges)


def problems_of_edge(
    edge: EdgeCreate,
    graph: StoredGraph,
    stored_ids: dict[ConnectionKey, str],
    earlier: dict[ConnectionKey, int],
    collection: str | None,
) -> list[EdgeProblem]:
    """Everything wrong with one new edge, given the stored graph and the earlier batch items."""
    problems = []
    if edge.source_node_id == edge.target_node_id:
        problems.append(
            EdgeProblem(SelfLoopError, "target_node_id", "An edge cannot connect a node to itself.")
        )
    for field in ("source_node_id", "target_node_id"):
        node_id = getattr(edge, field)
        if str(node_id) not in graph.node_ids:
            detail = f"Node {node_id} is not in this workflow."
            problems.append(EdgeProblem(NodeNotInWorkflowError, field, detail))
    key = connection_key(edge)
    if key in stored_ids:
        detail = f"The same connection already exists as edge {stored_ids[key]}."
        problems.append(EdgeProblem(DuplicateEdgeError, None, detail, stored_ids[key]))
    elif key in earlier:
        detail = f"The same connection is already at {item_pointer(collection, earlier[key])}."
        problems.append(EdgeProblem(DuplicateEdgeError, None, detail))
    return problems


def refuse_bad_edges(edges: list[EdgeCreate], graph: StoredGraph, collection: str | None) -> None:
    """Raise the first problem's own error for a single edge, one located 422 for a batch."""
    stored_ids = {connection_key(edge): edge.id for edge in graph.edges}
    earlier: dict[ConnectionKey, int] = {}
    located = []
    for index, edge in enumerate(edges):
        for problem in problems_of_edge(edge, graph, stored_ids, earlier, collection):
            if collection is None:
                raise problem.as_error()
            pointer = item_pointer(collection, index, *filter(None, [problem.field]))
            located.append(
                {"code": problem.error.code, "pointer": pointer, "detail": problem.detail}
            )
        earlier.setdefault(connection_key(edge), index)
    if located:
        raise ValidationError(located, detail=f"{len(located)} problems in the {collection}.")


def refuse_cycle(stored: list[NodePair], added: list[NodePair]) -> None:
    """409 CYCLE_DETECTED when the added edges would close a cycle."""
    if len(added) == 1:
        cycle = cycle_if_added(stored, *added[0])
    else:
        pairs = [*stored, *added]
        cycle = find_cycle(dict.fromkeys(node for pair in pairs for node in pair), pairs)
    if cycle is not None:
        path = " -> ".join(str(node_id) for node_id in cycle)
        raise CycleDetectedError(f"The graph would contain the cycle {path}.", cycle_path=cycle)


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
    refuse_cycle(graph.pairs(), [connection_key(edge)[:2] for edge in edges])
    items = await insert_items(connection, EDGES, workflow_id, edges)
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
    refuse_cycle(graph.pairs(), [connection_key(edge)[:2]])
    body = await update_item(connection, EDGES, workflow_id, edge_id, edge)
    return VersionedJson(version, body, edge_id)
