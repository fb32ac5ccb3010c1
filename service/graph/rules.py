"""The graph rules every write applies, and the checks of a whole submitted graph.

Pure: what the database knows is passed in.
"""

import uuid
from collections.abc import Callable, Collection, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from pydantic import TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from service.errors import (
    CycleDetectedError,
    DuplicateEdgeError,
    GraphTooLargeError,
    ItemCode,
    NodeNotInWorkflowError,
    ProblemError,
    SelfLoopError,
    ValidationError,
    json_pointer,
    validation_code,
)
from service.graph.dag import cycle_if_added, find_cycle
from service.graph.models import GraphEdgeIn, GraphIn, GraphNodeIn

Problem = dict[str, str]
SECTION_ORDER = {"nodes": 0, "edges": 1}
Item = TypeVar("Item")
KeyT = TypeVar("KeyT", bound=Hashable)
NODE_ADAPTER = TypeAdapter(GraphNodeIn)
EDGE_ADAPTER = TypeAdapter(GraphEdgeIn)


@dataclass
class SubmittedGraph:
    """The valid items of a submitted graph by body position, and the field problems found."""

    nodes: dict[int, GraphNodeIn]
    edges: dict[int, GraphEdgeIn]
    node_ids: set[uuid.UUID]
    problems: list[Problem] = field(default_factory=list)

    def tool_ids(self) -> set[uuid.UUID]:
        """Tools the submitted nodes reference."""
        return {node.tool_id for node in self.nodes.values() if node.tool_id is not None}

    def agent_ids(self) -> set[uuid.UUID]:
        """Agents the submitted nodes reference."""
        return {node.agent_id for node in self.nodes.values() if node.agent_id is not None}

    def edge_ids(self) -> set[uuid.UUID]:
        """Ids of the valid submitted edges."""
        return {edge.id for edge in self.edges.values()}


@dataclass(frozen=True)
class StoredFacts:
    """What the database says about the ids a submitted graph uses."""

    usable_tool_ids: frozenset[uuid.UUID]
    usable_agent_ids: frozenset[uuid.UUID]
    foreign_node_ids: frozenset[uuid.UUID]
    foreign_edge_ids: frozenset[uuid.UUID]


def problem(pointer: str, detail: str, code: ItemCode) -> Problem:
    """One located problem of the VALIDATION_ERROR body."""
    return {"code": code, "pointer": pointer, "detail": detail}


def check_size(payload: Any, max_nodes: int, max_edges: int) -> None:
    """Refuse a graph over the size limits before validating its items (GRAPH_TOO_LARGE)."""
    if not isinstance(payload, dict):
        return
    node_count = _list_length(payload.get("nodes"))
    edge_count = _list_length(payload.get("edges"))
    if node_count > max_nodes or edge_count > max_edges:
        raise GraphTooLargeError(
            f"A workflow may have at most {max_nodes} nodes and {max_edges} edges; "
            f"this graph has {node_count} nodes and {edge_count} edges."
        )


def _list_length(value: Any) -> int:
    """The length of a JSON array, 0 for anything else."""
    return len(value) if isinstance(value, list) else 0


def parse_graph(payload: Any) -> SubmittedGraph:
    """Validate the body; on field errors keep the valid items so every problem is reported."""
    try:
        graph = GraphIn.model_validate(payload)
    except PydanticValidationError as error:
        problems = [
            problem(json_pointer(*item["loc"]), str(item["msg"]), validation_code(item))
            for item in error.errors()
        ]
        return _valid_items(payload, problems)
    nodes = dict(enumerate(graph.nodes))
    node_ids = {node.id for node in graph.nodes}
    return SubmittedGraph(nodes, dict(enumerate(graph.edges)), node_ids)


def _valid_items(payload: Any, problems: list[Problem]) -> SubmittedGraph:
    """The items that are valid on their own, for the checks that need them (slow path)."""
    raw_nodes = _raw_list(payload, "nodes")
    nodes = _validate_each(NODE_ADAPTER, raw_nodes)
    edges = _validate_each(EDGE_ADAPTER, _raw_list(payload, "edges"))
    # Ids of invalid nodes still count as submitted, so edges to them are not reported too.
    node_ids = {node.id for node in nodes.values()} | _raw_ids(raw_nodes)
    return SubmittedGraph(nodes, edges, node_ids, problems)


def _raw_list(payload: Any, key: str) -> list[Any]:
    """The JSON array under `key` of an unvalidated body, [] when there is none."""
    value = payload.get(key) if isinstance(payload, dict) else None
    return value if isinstance(value, list) else []


def _validate_each(adapter: TypeAdapter[Item], items: list[Any]) -> dict[int, Item]:
    """The items that validate, by position."""
    valid: dict[int, Item] = {}
    for position, item in enumerate(items):
        try:
            valid[position] = adapter.validate_python(item)
        except PydanticValidationError:
            continue
    return valid


def _raw_ids(items: list[Any]) -> set[uuid.UUID]:
    """The well-formed `id`s of unvalidated items."""
    ids = set()
    for item in items:
        try:
            ids.add(uuid.UUID(str(item["id"])))
        except (TypeError, KeyError, ValueError):
            continue
    return ids


# The checks key dicts and sets by `UUID.int`: hashing a UUID object runs Python code.


def node_problems(graph: SubmittedGraph, facts: StoredFacts) -> list[Problem]:
    """Duplicate or foreign ids, and references to tools or agents the caller cannot use."""
    problems: list[Problem] = []
    first_place: dict[int, str] = {}
    foreign = {item_id.int for item_id in facts.foreign_node_ids}
    for position, node in graph.nodes.items():
        place = f"/nodes/{position}"
        problems += id_problems(node.id, place, f"{place}/id", first_place, foreign)
        problems += reference_problems(node, place, facts)
    return problems


class NodeReferences(Protocol):
    """What the reference rule reads of a node."""

    @property
    def tool_id(self) -> uuid.UUID | None: ...
    @property
    def agent_id(self) -> uuid.UUID | None: ...


def reference_problems(node: NodeReferences, place: str, facts: StoredFacts) -> list[Problem]:
    """The node's tool or agent, when it is not one the caller may use."""
    problems = []
    if node.tool_id is not None and node.tool_id not in facts.usable_tool_ids:
        detail = f"Tool {node.tool_id} is not one of your tools."
        problems.append(problem(f"{place}/tool_id", detail, ItemCode.REFERENCE_NOT_FOUND))
    if node.agent_id is not None and node.agent_id not in facts.usable_agent_ids:
        detail = f"Agent {node.agent_id} is not one of your agents."
        problems.append(problem(f"{place}/agent_id", detail, ItemCode.REFERENCE_NOT_FOUND))
    return problems


def id_problems(
    item_id: uuid.UUID, place: str, pointer: str, first: dict[int, str], foreign: set[int]
) -> list[Problem]:
    """An id named earlier in the body, or owned by another workflow; records its first place."""
    first_place = first.setdefault(item_id.int, place)
    if first_place != place:
        detail = f"Duplicate id {item_id}, first used by {first_place}."
        return [problem(pointer, detail, ItemCode.DUPLICATE_ID)]
    if item_id.int in foreign:
        detail = f"The id {item_id} belongs to another workflow."
        return [problem(pointer, detail, ItemCode.ID_IN_OTHER_WORKFLOW)]
    return []


NodeKey = Hashable
Connection = tuple[NodeKey, NodeKey, str | None, str | None]


class EdgeEnds(Protocol):
    """What the edge rules read of an edge."""

    @property
    def source_node_id(self) -> uuid.UUID: ...
    @property
    def target_node_id(self) -> uuid.UUID: ...
    @property
    def source_handle(self) -> str | None: ...
    @property
    def target_handle(self) -> str | None: ...


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

    def located(self, pointer: str) -> Problem:
        """The problem as an item of VALIDATION_ERROR, at the edge's `pointer`."""
        pointer += f"/{self.field}" if self.field else ""
        return problem(pointer, self.detail, ItemCode(self.error.code))


def connection_of(edge: EdgeEnds, key: Callable[[uuid.UUID], NodeKey]) -> Connection:
    """What makes two edges the same connection (NULL handles compare equal)."""
    source, target = key(edge.source_node_id), key(edge.target_node_id)
    return (source, target, edge.source_handle, edge.target_handle)


def connection_problems(
    edges: Mapping[int, EdgeEnds],
    node_keys: Collection[NodeKey],
    existing: Mapping[Connection, str],
    place: Callable[[int], str],
    key: Callable[[uuid.UUID], NodeKey],
) -> Iterator[tuple[int, EdgeProblem]]:
    """The edge rules every write applies: no self loop, both nodes in the graph, no repeat.

    `existing` maps the connections already stored to their edge ids; an edge repeating an
    earlier one of the same request is reported at its `place`. (Ids are compared by `key`:
    hashing UUID objects, or parsing thousands of stored ids into them, cost more than every
    check together in the W4 profile.)
    """
    earlier: dict[Connection, int] = {}
    for position, edge in edges.items():
        connection = connection_of(edge, key)
        source, target = connection[0], connection[1]
        ends_known = source != target
        for end, node_key in (("source_node_id", source), ("target_node_id", target)):
            if node_key not in node_keys:
                detail = f"Node {getattr(edge, end)} is not in this workflow."
                yield position, EdgeProblem(NodeNotInWorkflowError, end, detail)
                ends_known = False
        if source == target:
            detail = "An edge cannot connect a node to itself."
            yield position, EdgeProblem(SelfLoopError, "target_node_id", detail)
        if not ends_known:
            continue
        if connection in existing:
            detail = f"The same connection already exists as edge {existing[connection]}."
            yield position, EdgeProblem(DuplicateEdgeError, None, detail, existing[connection])
        elif connection in earlier:
            detail = f"The same connection is already at {place(earlier[connection])}."
            yield position, EdgeProblem(DuplicateEdgeError, None, detail)
        earlier.setdefault(connection, position)


def new_cycle(
    stored: Sequence[tuple[KeyT, KeyT]],
    added: Sequence[tuple[KeyT, KeyT]],
    nodes: Iterable[KeyT] | None = None,
) -> list[KeyT] | None:
    """The cycle the added (source, target) pairs would close in an acyclic graph, if any."""
    if len(added) == 1 and nodes is None:
        return cycle_if_added(stored, *added[0])
    pairs = [*stored, *added]
    if nodes is None:
        nodes = dict.fromkeys(node for pair in pairs for node in pair)
    return find_cycle(nodes, pairs)


def uuid_key(node_id: uuid.UUID) -> int:
    """A submitted node id as a cheap dict key."""
    return node_id.int


def edge_problems(graph: SubmittedGraph, facts: StoredFacts) -> list[Problem]:
    """Duplicate or foreign ids, then the edge rules against the submitted nodes."""
    problems: list[Problem] = []
    first_place: dict[int, str] = {}
    foreign = {item_id.int for item_id in facts.foreign_edge_ids}
    for position, edge in graph.edges.items():
        place = edge_place(position)
        problems += id_problems(edge.id, place, f"{place}/id", first_place, foreign)
    node_keys = {node_id.int for node_id in graph.node_ids}
    located = connection_problems(graph.edges, node_keys, {}, edge_place, uuid_key)
    problems += [edge_problem.located(edge_place(position)) for position, edge_problem in located]
    return problems


def edge_place(position: int) -> str:
    """The pointer to an edge of a graph save."""
    return f"/edges/{position}"


def _problem_order(item: Problem) -> tuple[int, int]:
    """Nodes before edges, then body position; other pointers first."""
    parts = item["pointer"].split("/")
    if len(parts) < 3 or parts[1] not in SECTION_ORDER or not parts[2].isdigit():
        return (-1, 0)
    return (SECTION_ORDER[parts[1]], int(parts[2]))


def check_graph(graph: SubmittedGraph, facts: StoredFacts) -> None:
    """Raise VALIDATION_ERROR listing every item problem, else CYCLE_DETECTED for a cycle."""
    problems = graph.problems + node_problems(graph, facts) + edge_problems(graph, facts)
    if problems:
        problems.sort(key=_problem_order)
        raise ValidationError(problems, detail=f"The graph has {len(problems)} problem(s).")
    edges = [(e.source_node_id.int, e.target_node_id.int) for e in graph.edges.values()]
    cycle = new_cycle([], edges, [node.id.int for node in graph.nodes.values()])
    if cycle is not None:
        path = [uuid.UUID(int=key) for key in cycle]
        raise CycleDetectedError(_cycle_detail(graph.nodes.values(), path), cycle_path=path)


def _cycle_detail(nodes: Iterable[GraphNodeIn], cycle: list[uuid.UUID]) -> str:
    """The cycle spelled with node names."""
    names = {node.id: node.name for node in nodes}
    steps = " -> ".join(f'"{names[node_id]}"' for node_id in cycle)
    return f"The graph would contain a cycle: {steps}."
