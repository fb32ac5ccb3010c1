"""The structural diff as a pure function: hand-made cases, and diff-then-apply on random graphs."""

import uuid
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from service.revisions.diff import ITEM_FIELDS, Definition, apply, diff

NODE_ID, OTHER_ID, EDGE_ID = (str(uuid.UUID(int=n)) for n in (1, 2, 3))


def document(**changes: Any) -> dict[str, Any]:
    """A small graph document; `changes` replace members."""
    base: dict[str, Any] = {
        "id": "w",
        "name": "momentum",
        "description": None,
        "config": {"timeout": 60},
        "variables": {},
        "version": 4,
        "updated_at": "2026-12-01T00:00:00+00:00",
        "nodes": [
            {"id": NODE_ID, "name": "start", "config": {"a": 1}, "created_at": "t1"},
            {"id": OTHER_ID, "name": "step", "config": {}, "created_at": "t1"},
        ],
        "edges": [{"id": EDGE_ID, "source_node_id": NODE_ID, "target_node_id": OTHER_ID}],
    }
    return {**base, **changes}


def empty(result: dict[str, Any]) -> bool:
    """Whether a diff says nothing changed."""
    return result["workflow"] == [] and all(
        part == {"added": [], "removed": [], "changed": []}
        for part in (result["nodes"], result["edges"])
    )


def test_identical_definitions_give_an_empty_diff() -> None:
    old = document()
    new = document(version=9, updated_at="later", nodes=list(reversed(old["nodes"])))
    new["nodes"][0] = {**new["nodes"][0], "created_at": "t2"}
    assert empty(diff(old, new))


def test_workflow_fields_are_json_pointers_with_old_and_new_values() -> None:
    new = document(name="mean reversion", config={"timeout": 90, "retry_policy": "none"})
    assert diff(document(), new)["workflow"] == [
        {"op": "replace", "pointer": "/name", "old": "momentum", "new": "mean reversion"},
        {"op": "replace", "pointer": "/config/timeout", "old": 60, "new": 90},
        {"op": "add", "pointer": "/config/retry_policy", "new": "none"},
    ]


def test_nodes_and_edges_added_removed_and_changed() -> None:
    old = document()
    added = {"id": str(uuid.UUID(int=9)), "name": "new", "config": {}}
    nodes = [{**old["nodes"][0], "config": {"b": [1]}, "name": "begin"}, added]
    edges = [{**old["edges"][0], "label": "go"}]
    result = diff(old, document(nodes=nodes, edges=edges))
    assert result["nodes"]["added"] == [added]
    assert result["nodes"]["removed"] == [old["nodes"][1]]
    assert result["nodes"]["changed"] == [
        {
            "id": NODE_ID,
            "changes": [
                {"op": "replace", "pointer": "/name", "old": "start", "new": "begin"},
                {"op": "remove", "pointer": "/config/a", "old": 1},
                {"op": "add", "pointer": "/config/b", "new": [1]},
            ],
        }
    ]
    assert result["edges"]["changed"] == [
        {"id": EDGE_ID, "changes": [{"op": "add", "pointer": "/label", "new": "go"}]}
    ]


def test_the_reverse_diff_swaps_sides() -> None:
    old, new = document(), document(name="other", nodes=[])
    forward, backward = diff(old, new), diff(new, old)
    assert forward["nodes"]["removed"] == backward["nodes"]["added"]
    assert forward["workflow"][0]["old"] == backward["workflow"][0]["new"]


def test_types_count_and_pointers_are_escaped() -> None:
    old = document(variables={"a/b": 1, "t~": True})
    new = document(variables={"a/b": 1.0, "t~": 1})
    assert [change["pointer"] for change in diff(old, new)["workflow"]] == [
        "/variables/a~1b",
        "/variables/t~0",
    ]


JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-5, 5)
    | st.sampled_from([0.5, 1.0])
    | st.text(max_size=3)
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=3), children, max_size=3)
    ),
    max_leaves=8,
)
IDS = [str(uuid.UUID(int=n)) for n in range(6)]


def items(kind: str) -> st.SearchStrategy[list[dict[str, Any]]]:
    """Items of one kind with ids from a small pool, so both sides share some."""
    fields = ITEM_FIELDS[kind][1:4]
    item = st.fixed_dictionaries({name: JSON_VALUES for name in fields})
    return st.lists(
        st.tuples(st.sampled_from(IDS), item), max_size=5, unique_by=lambda t: t[0]
    ).map(lambda pairs: [{"id": item_id, **fields, "created_at": "t"} for item_id, fields in pairs])


GRAPHS = st.fixed_dictionaries(
    {
        "name": st.text(max_size=3),
        "description": st.none() | st.text(max_size=3),
        "config": st.dictionaries(st.text(max_size=3), JSON_VALUES, max_size=3),
        "variables": st.dictionaries(st.text(max_size=3), JSON_VALUES, max_size=3),
        "nodes": items("nodes"),
        "edges": items("edges"),
    }
)


def canonical(definition: Definition) -> bytes:
    """A definition as JSON with sorted keys: types count, member order does not."""
    return orjson.dumps(
        {"workflow": definition.workflow, "items": definition.items}, option=orjson.OPT_SORT_KEYS
    )


@settings(max_examples=300, deadline=None)
@given(GRAPHS, GRAPHS)
def test_applying_the_diff_of_a_to_b_to_a_gives_b(old: dict[str, Any], new: dict[str, Any]) -> None:
    result = diff(old, new)
    assert canonical(apply(result, Definition.of(old))) == canonical(Definition.of(new))
    assert empty(diff(new, new))
