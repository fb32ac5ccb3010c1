"""Pure write-time checks of a submitted graph (no database)."""

import uuid
from typing import Any

import pytest

import service.graph.nodes.models as node_module
from service.errors import CycleDetectedError, GraphTooLargeError, ValidationError
from service.graph.rules import StoredFacts, SubmittedGraph, check_graph, check_size, parse_graph

NO_FACTS = StoredFacts(frozenset(), frozenset(), frozenset(), frozenset())


def node(name: str, node_type: str = "adapter", **fields: Any) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "name": name, "node_type": node_type, **fields}


def edge(source: dict[str, Any], target: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"source_node_id": source["id"], "target_node_id": target["id"], **fields}


def problems_of(graph: SubmittedGraph, facts: StoredFacts = NO_FACTS) -> list[str]:
    with pytest.raises(ValidationError) as raised:
        check_graph(graph, facts)
    return [item["pointer"] for item in raised.value.extra["errors"]]


def test_size_limits_count_the_raw_lists() -> None:
    check_size({"nodes": [{}] * 3, "edges": [{}] * 2}, max_nodes=3, max_edges=2)
    check_size("not a graph", max_nodes=0, max_edges=0)
    with pytest.raises(GraphTooLargeError, match="4 nodes and 0 edges"):
        check_size({"nodes": [{}] * 4, "edges": "x"}, max_nodes=3, max_edges=2)
    with pytest.raises(GraphTooLargeError):
        check_size({"nodes": [], "edges": [{}] * 3}, max_nodes=3, max_edges=2)


def test_a_valid_graph_parses_with_ids_assigned_where_missing() -> None:
    a, b = node("A"), {"name": "B", "node_type": "adapter"}
    graph = parse_graph({"nodes": [a, b], "edges": [{"source_node_id": a["id"], **edge(a, a)}]})

    assert graph.problems == []
    assert graph.nodes[0].id == uuid.UUID(a["id"])
    assert isinstance(graph.nodes[1].id, uuid.UUID)
    assert graph.node_ids == {graph.nodes[0].id, graph.nodes[1].id}
    assert len(graph.edge_ids()) == 1


def test_field_errors_keep_the_valid_items_and_the_ids_of_invalid_nodes() -> None:
    a, broken = node("A"), node("", position_x="far")
    b = node("B")
    nodes = [a, broken, b, {"name": "no id"}, {"id": "not-a-uuid"}, "not a node"]
    graph = parse_graph({"nodes": nodes, "edges": [edge(a, broken), {"priority": 1}]})

    assert [p["pointer"] for p in graph.problems] == [
        "/nodes/1/name",
        "/nodes/1/position_x",
        "/nodes/3/node_type",
        "/nodes/4/name",
        "/nodes/4/node_type",
        "/nodes/4/id",
        "/nodes/5",
        "/edges/1/source_node_id",
        "/edges/1/target_node_id",
    ]
    assert sorted(graph.nodes) == [0, 2]
    assert sorted(graph.edges) == [0]
    assert uuid.UUID(broken["id"]) in graph.node_ids
    assert problems_of(graph) == [p["pointer"] for p in graph.problems]


@pytest.mark.parametrize(
    ("payload", "pointer"),
    [([], ""), ({"nodes": []}, "/edges"), ({"nodes": None, "edges": []}, "/nodes")],
)
def test_documents_of_the_wrong_shape(payload: Any, pointer: str) -> None:
    graph = parse_graph(payload)

    assert [p["pointer"] for p in graph.problems] == [pointer]
    assert (graph.nodes, graph.edges) == ({}, {})


def test_reference_and_id_problems_are_located() -> None:
    tool, agent, stolen = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    usable = uuid.uuid4()
    a = node("A", "tool", tool_id=str(tool))
    b = node("B", "agent", agent_id=str(agent))
    c = node("C", "tool", tool_id=str(usable), id=str(stolen))
    twin = node("Twin", id=a["id"])
    facts = StoredFacts(frozenset({usable}), frozenset(), frozenset({stolen}), frozenset())

    graph = parse_graph({"nodes": [a, b, c, twin], "edges": []})

    assert problems_of(graph, facts) == [
        "/nodes/0/tool_id",
        "/nodes/1/agent_id",
        "/nodes/2/id",
        "/nodes/3/id",
    ]


def test_edge_problems_are_located() -> None:
    a, b = node("A"), node("B")
    outsider = node("Outsider")
    first = edge(a, b, id=str(uuid.uuid4()))
    foreign = uuid.uuid4()
    edges = [
        first,
        edge(a, b),  # same connection
        edge(a, b, source_handle="x"),  # another handle: fine
        edge(a, b, id=first["id"], target_handle="y"),  # repeated id
        edge(outsider, outsider),  # unknown endpoints and a self loop
        edge(b, a, id=str(foreign), source_handle="z"),  # another workflow's id
    ]
    facts = StoredFacts(frozenset(), frozenset(), frozenset(), frozenset({foreign}))

    graph = parse_graph({"nodes": [a, b], "edges": edges})

    assert problems_of(graph, facts) == [
        "/edges/1",
        "/edges/3/id",
        "/edges/4/source_node_id",
        "/edges/4/target_node_id",
        "/edges/4/target_node_id",
        "/edges/5/id",
    ]


def test_a_cycle_is_reported_after_item_problems() -> None:
    a, b, c = node("A"), node("B"), node("C")
    graph = parse_graph({"nodes": [a, b, c], "edges": [edge(a, b), edge(b, c), edge(c, b)]})

    with pytest.raises(CycleDetectedError) as raised:
        check_graph(graph, NO_FACTS)

    path = raised.value.extra["cycle_path"]
    assert path[0] == path[-1]
    assert set(path) == {uuid.UUID(b["id"]), uuid.UUID(c["id"])}
    assert '"B"' in raised.value.detail


def test_a_valid_acyclic_graph_passes() -> None:
    a, b = node("A"), node("B")
    check_graph(parse_graph({"nodes": [a, b], "edges": [edge(a, b)]}), NO_FACTS)


def test_node_type_rules_run_once_per_submitted_node(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    original = node_module.node_type_problems

    def counting(*args: Any) -> list[str]:
        calls.append("call")
        return original(*args)

    monkeypatch.setattr(node_module, "node_type_problems", counting)
    check = node("B", "condition", config={"condition_expression": "x"})
    graph = parse_graph({"nodes": [node("A"), check], "edges": []})

    assert graph.problems == []
    assert len(calls) == 2
