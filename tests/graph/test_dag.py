"""Tests for the pure graph algorithms in service.graph.dag."""

from graphlib import CycleError
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.graph.dag import (
    cycle_if_added,
    find_cycle,
    reachable_from,
    topological_layers,
)


def topological_order(nodes: Any, edges: Any) -> list[Any]:
    """The layers flattened: the order the validation report gives."""
    return [node for layer in topological_layers(nodes, edges) for node in layer]


Edge = tuple[int, int]


def assert_is_cycle_of(cycle: list[int], edges: list[Edge]) -> None:
    """Check that ``cycle`` closes on itself and every step is a real edge."""
    assert len(cycle) >= 2
    assert cycle[0] == cycle[-1]
    edge_set = set(edges)
    for step in pairwise(cycle):
        assert step in edge_set


# --- find_cycle -------------------------------------------------------------


def test_find_cycle_returns_none_for_dag() -> None:
    assert find_cycle([1, 2, 3], [(1, 2), (2, 3), (1, 3)]) is None


def test_find_cycle_returns_none_for_empty_graph() -> None:
    assert find_cycle([], []) is None


def test_find_cycle_path_follows_edge_direction() -> None:
    edges = [("a", "b"), ("b", "c"), ("c", "a")]
    cycle = find_cycle(["a", "b", "c"], edges)
    assert cycle is not None
    assert cycle[0] == cycle[-1]
    assert set(cycle) == {"a", "b", "c"}
    assert all(step in edges for step in pairwise(cycle))


def test_find_cycle_ignores_nodes_outside_cycle() -> None:
    edges = [(0, 1), (1, 2), (2, 3), (3, 1), (3, 4)]
    cycle = find_cycle(range(5), edges)
    assert cycle is not None
    assert set(cycle) == {1, 2, 3}
    assert_is_cycle_of(cycle, edges)


def test_find_cycle_self_loop() -> None:
    assert find_cycle([1, 2], [(1, 2), (2, 2)]) == [2, 2]


def test_find_cycle_ignores_edges_to_unknown_nodes() -> None:
    assert find_cycle([1, 2], [(1, 2), (2, 99), (99, 1)]) is None


def test_find_cycle_handles_parallel_edges() -> None:
    assert find_cycle([1, 2], [(1, 2), (1, 2)]) is None


# --- cycle_if_added ---------------------------------------------------------


def test_cycle_if_added_closing_edge() -> None:
    assert cycle_if_added([(1, 2), (2, 3)], 3, 1) == [3, 1, 2, 3]


def test_cycle_if_added_harmless_edge() -> None:
    assert cycle_if_added([(1, 2), (2, 3)], 1, 3) is None


def test_cycle_if_added_self_loop() -> None:
    assert cycle_if_added([(1, 2)], 4, 4) == [4, 4]


def test_cycle_if_added_returns_shortest_path() -> None:
    edges = [(1, 2), (2, 3), (3, 4), (1, 4)]
    assert cycle_if_added(edges, 4, 1) == [4, 1, 4]


def test_cycle_if_added_parallel_edge_is_not_a_cycle() -> None:
    assert cycle_if_added([(1, 2)], 1, 2) is None


# --- topological_order / topological_layers ---------------------------------


def test_topological_order_keeps_input_order_among_ready_nodes() -> None:
    assert topological_order(["c", "a", "b"], []) == ["c", "a", "b"]
    assert topological_order([3, 1, 2], [(2, 1)]) == [3, 2, 1]


def test_topological_order_diamond() -> None:
    order = topological_order(
        ["t", "x", "y", "z"], [("t", "x"), ("t", "y"), ("x", "z"), ("y", "z")]
    )
    assert order == ["t", "x", "y", "z"]


def test_topological_order_raises_on_cycle() -> None:
    with pytest.raises(CycleError):
        topological_order([1, 2], [(1, 2), (2, 1)])


def test_topological_layers_asap() -> None:
    nodes = ["t", "a", "b", "c"]
    edges = [("t", "a"), ("a", "b"), ("t", "c"), ("c", "b"), ("t", "b")]
    assert topological_layers(nodes, edges) == [["t"], ["a", "c"], ["b"]]


def test_topological_layers_sinks_sit_after_latest_predecessor() -> None:
    nodes = [1, 2, 3, 4, 5]
    edges = [(1, 2), (2, 3), (4, 5)]
    assert topological_layers(nodes, edges) == [[1, 4], [2, 5], [3]]


def test_topological_layers_parallel_edges_and_unknown_nodes() -> None:
    edges = [(1, 2), (1, 2), (2, 42)]
    assert topological_layers([2, 1], edges) == [[1], [2]]


def test_topological_layers_empty() -> None:
    assert topological_layers([], []) == []


def test_topological_layers_raises_on_cycle() -> None:
    with pytest.raises(CycleError):
        topological_layers([1, 2, 3], [(1, 2), (2, 3), (3, 2)])


# --- reachable_from ---------------------------------------------------------


def test_reachable_from_includes_starts_and_descendants() -> None:
    edges = [(1, 2), (2, 3), (4, 5), (3, 1)]
    assert reachable_from([1], edges) == {1, 2, 3}


def test_reachable_from_isolated_start() -> None:
    assert reachable_from([9], [(1, 2)]) == {9}


def test_reachable_from_several_starts() -> None:
    assert reachable_from([1, 4], [(1, 2), (4, 5), (6, 7)]) == {1, 2, 4, 5}


# --- properties on random DAGs ----------------------------------------------


@st.composite
def random_dags(draw: st.DrawFn) -> tuple[list[int], list[Edge]]:
    """Nodes in a shuffled input order, with edges only from lower to higher rank."""
    node_count = draw(st.integers(min_value=0, max_value=60))
    ranked = draw(st.permutations(list(range(node_count))))
    possible_edges = [
        (ranked[low], ranked[high])
        for low in range(node_count)
        for high in range(low + 1, node_count)
    ]
    edges: list[Edge] = []
    if possible_edges:
        edges = draw(st.lists(st.sampled_from(possible_edges), max_size=3 * node_count))
    input_order = draw(st.permutations(ranked))
    return input_order, edges


dag_settings = settings(max_examples=100, deadline=None)


@dag_settings
@given(random_dags())
def test_topological_order_respects_every_edge(dag: tuple[list[int], list[Edge]]) -> None:
    nodes, edges = dag
    order = topological_order(nodes, edges)
    assert sorted(order) == sorted(nodes)
    position = {node: index for index, node in enumerate(order)}
    for source, target in edges:
        assert position[source] < position[target]


@dag_settings
@given(random_dags())
def test_topological_layers_are_asap(dag: tuple[list[int], list[Edge]]) -> None:
    nodes, edges = dag
    layers = topological_layers(nodes, edges)
    layer_of = {node: depth for depth, layer in enumerate(layers) for node in layer}
    assert sorted(node for layer in layers for node in layer) == sorted(nodes)
    assert all(layers)
    for source, target in edges:
        assert layer_of[source] < layer_of[target]
    for node, depth in layer_of.items():
        predecessor_layers = {layer_of[s] for s, t in edges if t == node}
        if depth == 0:
            assert not predecessor_layers
        else:
            assert depth - 1 in predecessor_layers


@dag_settings
@given(random_dags())
def test_layers_keep_input_order(dag: tuple[list[int], list[Edge]]) -> None:
    nodes, edges = dag
    input_position = {node: index for index, node in enumerate(nodes)}
    for layer in topological_layers(nodes, edges):
        assert layer == sorted(layer, key=input_position.__getitem__)


@dag_settings
@given(random_dags())
def test_find_cycle_is_none_on_dags(dag: tuple[list[int], list[Edge]]) -> None:
    nodes, edges = dag
    assert find_cycle(nodes, edges) is None


@dag_settings
@given(random_dags(), st.data())
def test_back_edge_creates_real_cycle(
    dag: tuple[list[int], list[Edge]], data: st.DataObject
) -> None:
    nodes, edges = dag
    if not edges:
        return
    source, target = data.draw(st.sampled_from(edges))
    with_back_edge = [*edges, (target, source)]
    cycle = find_cycle(nodes, with_back_edge)
    assert cycle is not None
    assert_is_cycle_of(cycle, with_back_edge)


@dag_settings
@given(random_dags(), st.data())
def test_cycle_if_added_agrees_with_find_cycle(
    dag: tuple[list[int], list[Edge]], data: st.DataObject
) -> None:
    nodes, edges = dag
    if not nodes:
        return
    source = data.draw(st.sampled_from(nodes))
    target = data.draw(st.sampled_from(nodes))
    predicted = cycle_if_added(edges, source, target)
    actual = find_cycle(nodes, [*edges, (source, target)])
    assert (predicted is None) == (actual is None)
    if predicted is not None:
        assert predicted[:2] == [source, target]
        assert_is_cycle_of(predicted, [*edges, (source, target)])
