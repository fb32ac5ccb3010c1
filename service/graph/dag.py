"""Pure graph algorithms over directed graphs given as node ids and (source, target) edges.

Edges may repeat the same (source, target) pair (parallel edges with different handles);
duplicates are collapsed. In functions that take ``nodes``, edges with an endpoint missing
from ``nodes`` are ignored. Functions without ``nodes`` use every edge they are given.
"""

from collections import deque
from collections.abc import Hashable, Iterable
from graphlib import CycleError, TopologicalSorter
from typing import TypeVar, cast

__all__ = [
    "CycleError",
    "cycle_if_added",
    "find_cycle",
    "reachable_from",
    "topological_layers",
]

NodeT = TypeVar("NodeT", bound=Hashable)


def _predecessor_map(
    nodes: Iterable[NodeT], edges: Iterable[tuple[NodeT, NodeT]]
) -> dict[NodeT, list[NodeT]]:
    """Map each node (in input order) to its distinct predecessors among ``nodes``."""
    predecessors: dict[NodeT, list[NodeT]] = {node: [] for node in nodes}
    for source, target in dict.fromkeys(edges):
        if source in predecessors and target in predecessors:
            predecessors[target].append(source)
    return predecessors


def _successor_map(edges: Iterable[tuple[NodeT, NodeT]]) -> dict[NodeT, list[NodeT]]:
    """Map each edge source to its distinct successors."""
    successors: dict[NodeT, list[NodeT]] = {}
    for source, target in dict.fromkeys(edges):
        successors.setdefault(source, []).append(target)
    return successors


def find_cycle(nodes: Iterable[NodeT], edges: Iterable[tuple[NodeT, NodeT]]) -> list[NodeT] | None:
    """Return a cycle as a path in edge direction whose first node equals its last, or None."""
    sorter = TopologicalSorter(_predecessor_map(nodes, edges))
    try:
        sorter.prepare()
    except CycleError as error:
        # graphlib lists each node before its successor, i.e. already in edge direction.
        return cast(list[NodeT], error.args[1])
    return None


def cycle_if_added(
    edges: Iterable[tuple[NodeT, NodeT]], source: NodeT, target: NodeT
) -> list[NodeT] | None:
    """Return the cycle [source, target, ..., source] that edge source->target would close."""
    successors = _successor_map(edges)
    parent: dict[NodeT, NodeT] = {target: target}
    queue: deque[NodeT] = deque([target])
    while queue:
        node = queue.popleft()
        if node == source:
            return [source, *reversed(_path_back_to_root(parent, source))]
        for successor in successors.get(node, []):
            if successor not in parent:
                parent[successor] = node
                queue.append(successor)
    return None


def _path_back_to_root(parent: dict[NodeT, NodeT], node: NodeT) -> list[NodeT]:
    """Follow BFS parent links from ``node`` to the root, which is its own parent."""
    path = [node]
    while parent[node] != node:
        node = parent[node]
        path.append(node)
    return path


def topological_layers(
    nodes: Iterable[NodeT], edges: Iterable[tuple[NodeT, NodeT]]
) -> list[list[NodeT]]:
    """Group nodes into as-early-as-possible layers, input order within a layer; CycleError."""
    predecessors = _predecessor_map(nodes, edges)
    sorter = TopologicalSorter(predecessors)
    sorter.prepare()
    layer_of: dict[NodeT, int] = {}
    depth = 0
    while sorter.is_active():
        # Marking a whole ready batch done before the next get_ready yields ASAP layers.
        ready = sorter.get_ready()
        layer_of.update(dict.fromkeys(ready, depth))
        sorter.done(*ready)
        depth += 1
    layers: list[list[NodeT]] = [[] for _ in range(depth)]
    for node in predecessors:
        layers[layer_of[node]].append(node)
    return layers


def reachable_from(starts: Iterable[NodeT], edges: Iterable[tuple[NodeT, NodeT]]) -> set[NodeT]:
    """Return every node reachable from ``starts`` along edges, the starts included."""
    successors = _successor_map(edges)
    seen = set(starts)
    queue: deque[NodeT] = deque(seen)
    while queue:
        for successor in successors.get(queue.popleft(), []):
            if successor not in seen:
                seen.add(successor)
                queue.append(successor)
    return seen
