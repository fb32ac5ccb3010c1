"""A change set checked by the graph rules against what is stored: pure, every problem located.

Pointers point into the change set (`/nodes/update/3/name`). The rules themselves live in
service/graph/rules.py; this module only says which items they see and where they sit.
"""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from service.changes.models import ChangeEntry, ItemChanges, Operation
from service.errors import ItemCode, ValidationError, json_pointer
from service.graph.edges.models import CONNECTION_FIELDS
from service.graph.edges.repository import EDGES, StoredEdge, refuse_cycle
from service.graph.items_repository import refuse_growth
from service.graph.models import (
    ChangeCounts,
    ChangeSetNodeUpdate,
    GraphChanges,
    GraphChangeSet,
    GraphEdgeIn,
    GraphNodeIn,
)
from service.graph.nodes.repository import NODES, SELF_CONTAINED_FIELDS
from service.graph.rules import (
    EDGE_ADAPTER,
    NODE_ADAPTER,
    Connection,
    Problem,
    StoredFacts,
    SubmittedGraph,
    connection_problems,
    id_problems,
    problem,
    reference_problems,
)

UPDATES_ADAPTER = TypeAdapter(list[ChangeSetNodeUpdate])


@dataclass(frozen=True)
class StoredState:
    """What is stored of the items a change set names (ids as text)."""

    node_ids: frozenset[str]  # the named nodes that are in the workflow
    node_count: int  # how many nodes the workflow has (0 when nothing is created)
    nodes: dict[str, dict[str, Any]]  # the stored fields of the nodes to update
    edges: list[StoredEdge]  # every edge, when the change set touches edges or deletes nodes
    edge_fields: dict[str, dict[str, Any]]  # the stored fields of the edges to update


@dataclass(frozen=True)
class TouchedNode:
    """A node the change set creates or updates: where it is, and the record to write."""

    place: str
    record: dict[str, Any]
    node: GraphNodeIn | None  # validated whole; None for a move or rename (checked alone)
    checks_references: bool


@dataclass(frozen=True)
class TouchedEdge:
    """An edge the change set creates or updates, validated whole."""

    place: str
    edge: GraphEdgeIn
    record: dict[str, Any]
    moved: bool  # an update changing its connection: deleted, then inserted again


@dataclass
class Draft:
    """The change set's items merged over the stored ones, and the field problems found."""

    nodes: list[TouchedNode] = field(default_factory=list)
    edges: list[TouchedEdge] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def facts_graph(self, change_set: GraphChangeSet) -> SubmittedGraph:
        """What the stored facts are asked about: new ids and the references named."""
        nodes = {
            index: touched.node
            for index, touched in enumerate(self.nodes)
            if touched.checks_references and touched.node is not None
        }
        created = {node.id for node in change_set.nodes.create}
        edges: dict[int, GraphEdgeIn] = dict(enumerate(change_set.edges.create))
        return SubmittedGraph(nodes, edges, created)


@dataclass(frozen=True)
class ChangePlan:
    """The checked writes of a change set, as records of the tables' columns."""

    node_records: list[dict[str, Any]]
    node_deletes: list[uuid.UUID]
    edge_records: list[dict[str, Any]]
    moved_edge_ids: list[str]
    edge_deletes: list[uuid.UUID]
    cascaded_edge_ids: list[str]  # edges the node deletes take with them
    created_places: dict[str, str]  # the place in the change set of each created id


def merged(
    adapter: Any, stored: dict[str, Any], changes: dict[str, Any], place: str
) -> tuple[Any, list[Problem]]:
    """The stored item with the changes over it, validated whole, or its located problems."""
    try:
        return adapter.validate_python({**stored, **changes}), []
    except PydanticValidationError as error:
        return None, [
            problem(place + json_pointer(*item["loc"]), str(item["msg"]), ItemCode.INVALID_VALUE)
            for item in error.errors()
        ]


def draft(change_set: GraphChangeSet, stored: StoredState) -> Draft:
    """Merge every update over its stored item; unknown items are left to `plan`."""
    result = Draft()
    for index, node in enumerate(change_set.nodes.create):
        place = f"/nodes/create/{index}"
        result.nodes.append(TouchedNode(place, node.model_dump(mode="json"), node, True))
    for index, change in enumerate(change_set.nodes.update):
        draft_node_update(
            result, f"/nodes/update/{index}", stored.nodes.get(str(change.id)), change
        )
    for index, edge in enumerate(change_set.edges.create):
        place = f"/edges/create/{index}"
        result.edges.append(TouchedEdge(place, edge, edge.model_dump(mode="json"), moved=False))
    for index, edge_change in enumerate(change_set.edges.update):
        draft_edge_update(
            result,
            f"/edges/update/{index}",
            stored.edge_fields.get(str(edge_change.id)),
            edge_change,
        )
    return result


def draft_node_update(
    result: Draft, place: str, stored: dict[str, Any] | None, change: Any
) -> None:
    """A node update merged over the stored node (a move is not validated again)."""
    if stored is None:
        return
    changes = change.model_dump(exclude_unset=True)
    if changes.keys() - {"id"} <= SELF_CONTAINED_FIELDS:
        record = {**stored, **change.model_dump(mode="json", exclude_unset=True)}
        result.nodes.append(TouchedNode(place, record, None, False))
        return
    node, problems = merged(NODE_ADAPTER, stored, changes, place)
    result.problems += problems
    if node is not None:
        names_reference = "tool_id" in changes or "agent_id" in changes
        result.nodes.append(TouchedNode(place, node.model_dump(mode="json"), node, names_reference))


def draft_edge_update(
    result: Draft, place: str, stored: dict[str, Any] | None, change: Any
) -> None:
    """An edge update merged over the stored edge."""
    if stored is None:
        return
    edge, problems = merged(EDGE_ADAPTER, stored, change.model_dump(exclude_unset=True), place)
    result.problems += problems
    if edge is not None:
        record = edge.model_dump(mode="json")
        moved = any(record[name] != stored[name] for name in CONNECTION_FIELDS)
        result.edges.append(TouchedEdge(place, edge, record, moved))


def plan(
    change_set: GraphChangeSet,
    stored: StoredState,
    drafted: Draft,
    facts: StoredFacts,
    limits: tuple[int, int],
) -> ChangePlan:
    """Apply every graph rule to the change set; raise its problems, else what to write."""
    removed_edges = removed_edge_ids(change_set)
    deleted_nodes = {str(node_id) for node_id in change_set.nodes.delete}
    kept = [
        edge
        for edge in stored.edges
        if edge.id not in removed_edges
        and edge.source_node_id not in deleted_nodes
        and edge.target_node_id not in deleted_nodes
    ]
    cascaded = [
        edge.id
        for edge in stored.edges
        if edge.id not in removed_edges
        and (edge.source_node_id in deleted_nodes or edge.target_node_id in deleted_nodes)
    ]
    refuse_too_large(change_set, stored, len(kept), limits)
    problems = drafted.problems + node_problems(change_set, stored, drafted, facts)
    problems += edge_problems(change_set, stored, drafted, facts, kept)
    if problems:
        raise ValidationError(problems, detail=f"The change set has {len(problems)} problem(s).")
    if drafted.edges:
        added = [(str(t.edge.source_node_id), str(t.edge.target_node_id)) for t in drafted.edges]
        refuse_cycle([(edge.source_node_id, edge.target_node_id) for edge in kept], added)
    created: list[GraphNodeIn | GraphEdgeIn] = [*change_set.nodes.create, *change_set.edges.create]
    return ChangePlan(
        node_records=[touched.record for touched in drafted.nodes],
        node_deletes=change_set.nodes.delete,
        edge_records=[touched.record for touched in drafted.edges],
        moved_edge_ids=[touched.record["id"] for touched in drafted.edges if touched.moved],
        edge_deletes=change_set.edges.delete,
        cascaded_edge_ids=cascaded,
        created_places={
            str(item.id): place
            for item, place in zip(created, created_places(change_set), strict=True)
        },
    )


def created_places(change_set: GraphChangeSet) -> list[str]:
    """The places of the created nodes, then of the created edges."""
    nodes = [f"/nodes/create/{index}" for index in range(len(change_set.nodes.create))]
    return nodes + [f"/edges/create/{index}" for index in range(len(change_set.edges.create))]


def removed_edge_ids(change_set: GraphChangeSet) -> set[str]:
    """The stored edges the change set deletes or rewrites (ids as text)."""
    changes = change_set.edges
    return {str(edge_id) for edge_id in changes.delete} | {str(edge.id) for edge in changes.update}


def refuse_too_large(
    change_set: GraphChangeSet, stored: StoredState, kept_edges: int, limits: tuple[int, int]
) -> None:
    """GRAPH_TOO_LARGE when the graph after the change set would pass the size limits."""
    max_nodes, max_edges = limits
    nodes, edges = change_set.nodes, change_set.edges
    if nodes.create:
        remaining = stored.node_count - len(stored.node_ids & {str(i) for i in nodes.delete})
        refuse_growth(NODES, remaining, len(nodes.create), max_nodes)
    if edges.create:
        refuse_growth(EDGES, kept_edges + len(edges.update), len(edges.create), max_edges)


def node_problems(
    change_set: GraphChangeSet, stored: StoredState, drafted: Draft, facts: StoredFacts
) -> list[Problem]:
    """Repeated, taken or unknown node ids, and references the caller cannot use."""
    problems: list[Problem] = []
    first: dict[int, str] = {}
    foreign = {node_id.int for node_id in facts.foreign_node_ids}
    for index, node in enumerate(change_set.nodes.create):
        place = f"/nodes/create/{index}"
        problems += id_problems(node.id, place, f"{place}/id", first, foreign)
        problems += existing_id(node.id, str(node.id) in stored.node_ids, f"{place}/id", "Node")
    for index, change in enumerate(change_set.nodes.update):
        place = f"/nodes/update/{index}"
        problems += id_problems(change.id, place, f"{place}/id", first, set())
        problems += unknown_id(change.id, str(change.id) in stored.nodes, f"{place}/id", "Node")
    for index, node_id in enumerate(change_set.nodes.delete):
        place = f"/nodes/delete/{index}"
        problems += id_problems(node_id, place, place, first, set())
        problems += unknown_id(node_id, str(node_id) in stored.node_ids, place, "Node")
    for touched in drafted.nodes:
        if touched.checks_references and touched.node is not None:
            problems += reference_problems(touched.node, touched.place, facts)
    return problems


def edge_problems(
    change_set: GraphChangeSet,
    stored: StoredState,
    drafted: Draft,
    facts: StoredFacts,
    kept: list[StoredEdge],
) -> list[Problem]:
    """Repeated, taken or unknown edge ids, then the edge rules against the resulting graph."""
    problems: list[Problem] = []
    first: dict[int, str] = {}
    foreign = {edge_id.int for edge_id in facts.foreign_edge_ids}
    stored_ids = {edge.id for edge in stored.edges}
    for index, edge in enumerate(change_set.edges.create):
        place = f"/edges/create/{index}"
        problems += id_problems(edge.id, place, f"{place}/id", first, foreign)
        problems += existing_id(edge.id, str(edge.id) in stored_ids, f"{place}/id", "Edge")
    for index, change in enumerate(change_set.edges.update):
        place = f"/edges/update/{index}"
        problems += id_problems(change.id, place, f"{place}/id", first, set())
        known = str(change.id) in stored.edge_fields
        problems += unknown_id(change.id, known, f"{place}/id", "Edge")
    for index, edge_id in enumerate(change_set.edges.delete):
        place = f"/edges/delete/{index}"
        problems += id_problems(edge_id, place, place, first, set())
        problems += unknown_id(edge_id, str(edge_id) in stored_ids, place, "Edge")
    if not drafted.edges:
        return problems
    node_keys = resulting_node_ids(change_set, stored)
    existing: dict[Connection, str] = {
        (e.source_node_id, e.target_node_id, e.source_handle, e.target_handle): e.id for e in kept
    }
    touched = {index: item.edge for index, item in enumerate(drafted.edges)}
    places = [item.place for item in drafted.edges]
    found = connection_problems(touched, node_keys, existing, places.__getitem__, str)
    problems += [edge_problem.located(places[index]) for index, edge_problem in found]
    return problems


def resulting_node_ids(change_set: GraphChangeSet, stored: StoredState) -> set[str]:
    """The nodes edges may connect after the change set: stored ones kept, and created ones."""
    ends = {node_id for edge in stored.edges for node_id in edge[1:3]}
    deleted = {str(node_id) for node_id in change_set.nodes.delete}
    created = {str(node.id) for node in change_set.nodes.create}
    return ((set(stored.node_ids) | ends) - deleted) | created


def existing_id(item_id: uuid.UUID, exists: bool, pointer: str, label: str) -> list[Problem]:
    """A created item whose id this workflow already holds."""
    if not exists:
        return []
    detail = f"{label} {item_id} already exists in this workflow."
    return [problem(pointer, detail, ItemCode.DUPLICATE_ID)]


def unknown_id(item_id: uuid.UUID, known: bool, pointer: str, label: str) -> list[Problem]:
    """An updated or deleted item the workflow does not have."""
    if known:
        return []
    return [problem(pointer, f"{label} {item_id} not found.", ItemCode.ITEM_NOT_FOUND)]


def changes_of(plan: ChangePlan, written_nodes: set[str], written_edges: set[str]) -> GraphChanges:
    """What the writes did; 422 for created ids another workflow took after the checks."""
    taken = [
        problem(
            f"{place}/id",
            f"The id {item_id} belongs to another workflow.",
            ItemCode.ID_IN_OTHER_WORKFLOW,
        )
        for item_id, place in plan.created_places.items()
        if item_id not in written_nodes | written_edges
    ]
    if taken:
        raise ValidationError(taken, detail=f"The change set has {len(taken)} problem(s).")
    return GraphChanges(
        nodes=_counts(plan, written_nodes, len(plan.node_deletes)),
        edges=_counts(plan, written_edges, len(plan.edge_deletes) + len(plan.cascaded_edge_ids)),
    )


def change_entry(plan: ChangePlan, written_nodes: set[str], written_edges: set[str]) -> ChangeEntry:
    """The change log entry of a written change set: the ids it created, changed and deleted."""
    return ChangeEntry(
        operation=Operation.GRAPH_CHANGED,
        nodes=_ids(plan, written_nodes, plan.node_deletes),
        edges=_ids(plan, written_edges, [*plan.edge_deletes, *plan.cascaded_edge_ids]),
    )


def _ids(plan: ChangePlan, written: set[str], deleted: Iterable[uuid.UUID | str]) -> ItemChanges:
    """The ids of one kind the change set created, changed and deleted."""
    created = written & plan.created_places.keys()
    return ItemChanges(
        created=_uuids(created), updated=_uuids(written - created), deleted=_uuids(deleted)
    )


def _uuids(ids: Iterable[uuid.UUID | str]) -> list[uuid.UUID]:
    """The ids as sorted UUIDs."""
    return sorted(uuid.UUID(str(item_id)) for item_id in ids)


def _counts(plan: ChangePlan, written: set[str], deleted: int) -> ChangeCounts:
    """What the change set created, changed and deleted of one kind."""
    created = len(written & plan.created_places.keys())
    return ChangeCounts(created=created, updated=len(written) - created, deleted=deleted)


def moves_only(change_set: GraphChangeSet) -> list[dict[str, Any]] | None:
    """A change set of updates naming the same fields, all valid alone: their JSON records.

    An editor's drag sends this: many nodes, new positions. None for any other change set.
    """
    nodes, edges = change_set.nodes, change_set.edges
    if nodes.create or nodes.delete or edges.create or edges.update or edges.delete:
        return None
    records: list[dict[str, Any]] = UPDATES_ADAPTER.dump_python(
        nodes.update, mode="json", exclude_unset=True
    )
    fields = records[0].keys() if records else set()
    if not fields - {"id"} or not fields - {"id"} <= SELF_CONTAINED_FIELDS:
        return None
    if any(record.keys() != fields for record in records):
        return None
    if len({record["id"] for record in records}) != len(records):
        return None  # the general path names the repeated ids
    return records
