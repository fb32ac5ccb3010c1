"""PATCH .../graph: a change set applied all or nothing, with one version step, over HTTP."""

import uuid
from typing import Any

import httpx
import pytest

from service.graph import change_repository
from tests.factories import create_workflow, expect, insert_tool
from tests.graph.test_graph_api import edge, graph_url, node, put_graph, version_of

Json = dict[str, Any]


async def seeded(client: httpx.AsyncClient) -> tuple[Json, list[Json], list[Json]]:
    """A workflow holding a -> b -> c and a lone node d."""
    workflow = await create_workflow(client)
    a, b, c, d = (node(name) for name in "abcd")
    edges = [edge(a, b), edge(b, c)]
    await put_graph(client, workflow, [a, b, c, d], edges)
    return workflow, [a, b, c, d], edges


async def patch_graph(
    client: httpx.AsyncClient, workflow: Json, body: Any, **headers: str
) -> httpx.Response:
    """PATCH the graph with If-Match from `workflow["version"]`."""
    return await client.patch(
        graph_url(workflow), json=body, headers={"If-Match": f'"{workflow["version"]}"', **headers}
    )


async def stored(client: httpx.AsyncClient, workflow: Json) -> httpx.Response:
    """GET the graph."""
    return expect(await client.get(graph_url(workflow)), 200)


def by_id(items: list[Json]) -> dict[str, Json]:
    """Items keyed by id."""
    return {item["id"]: item for item in items}


async def test_creates_updates_and_deletes_at_once_in_one_version_step(
    client: httpx.AsyncClient,
) -> None:
    workflow, (a, b, c, d), (ab, bc) = await seeded(client)
    e = node("e")
    change_set = {
        "nodes": {
            "create": [e],
            "update": [
                {"id": a["id"], "position_x": 10.5, "position_y": -3},
                {
                    "id": b["id"],
                    "name": "renamed",
                    "node_type": "condition",
                    "config": {"condition_expression": "x > 2"},
                },
            ],
            "delete": [d["id"]],
        },
        "edges": {
            "create": [edge(c, e, label="new")],
            "update": [{"id": ab["id"], "label": "first"}],
            "delete": [bc["id"]],
        },
    }

    response = expect(await patch_graph(client, workflow, change_set), 200)

    assert version_of(response) == workflow["version"] + 1
    assert response.headers["accept-patch"] == "application/json"
    body = response.json()
    assert body["changes"] == {
        "nodes": {"created": 1, "updated": 2, "deleted": 1},
        "edges": {"created": 1, "updated": 1, "deleted": 1},
    }
    graph = (await stored(client, workflow)).json()
    assert {k: v for k, v in body.items() if k != "changes"} == graph
    nodes = by_id(graph["nodes"])
    assert set(nodes) == {a["id"], b["id"], c["id"], e["id"]}
    assert (nodes[a["id"]]["position_x"], nodes[a["id"]]["position_y"]) == (10.5, -3)
    assert nodes[b["id"]]["name"] == "renamed"
    assert nodes[b["id"]]["config"] == {"condition_expression": "x > 2"}
    edges = by_id(graph["edges"])
    assert set(edges) == {ab["id"], change_set["edges"]["create"][0]["id"]}  # type: ignore[index]
    assert edges[ab["id"]]["label"] == "first"


async def test_deleting_a_node_deletes_its_edges(client: httpx.AsyncClient) -> None:
    workflow, (_a, b, _c, _d), _edges = await seeded(client)

    response = await patch_graph(client, workflow, {"nodes": {"delete": [b["id"]]}})

    assert expect(response, 200).json()["changes"]["edges"] == {
        "created": 0,
        "updated": 0,
        "deleted": 2,
    }
    assert (await stored(client, workflow)).json()["edges"] == []


async def test_a_moved_edge_takes_the_connection_another_gives_up(
    client: httpx.AsyncClient,
) -> None:
    workflow, (a, b, c, _d), (ab, bc) = await seeded(client)
    change_set = {
        "edges": {
            "update": [
                {"id": ab["id"], "source_node_id": b["id"], "target_node_id": c["id"]},
                {"id": bc["id"], "source_node_id": a["id"], "target_node_id": b["id"]},
            ]
        }
    }

    response = expect(await patch_graph(client, workflow, change_set), 200)

    edges = by_id(response.json()["edges"])
    assert (edges[ab["id"]]["source_node_id"], edges[ab["id"]]["target_node_id"]) == (
        b["id"],
        c["id"],
    )
    assert response.json()["changes"]["edges"]["updated"] == 2


@pytest.mark.parametrize(
    "change_set",
    [
        {},
        {"nodes": {}, "edges": {}},
        {"nodes": {"create": [], "update": [], "delete": []}},
    ],
)
async def test_an_empty_change_set_keeps_the_version(
    client: httpx.AsyncClient, change_set: Json
) -> None:
    workflow, _nodes, _edges = await seeded(client)
    before = await stored(client, workflow)

    response = expect(await patch_graph(client, workflow, change_set), 200)

    assert response.headers["etag"] == before.headers["etag"]
    assert response.json()["updated_at"] == before.json()["updated_at"]
    assert all(
        count == 0 for kind in response.json()["changes"].values() for count in kind.values()
    )


async def test_a_change_set_equal_to_the_stored_graph_keeps_the_version(
    client: httpx.AsyncClient,
) -> None:
    workflow, (a, _b, _c, _d), (ab, _bc) = await seeded(client)
    change_set = {
        "nodes": {"update": [{"id": a["id"], "name": "a", "position_x": 0}]},
        "edges": {"update": [{"id": ab["id"], "label": None}]},
    }

    response = expect(await patch_graph(client, workflow, change_set), 200)

    assert version_of(response) == workflow["version"]


def problems_of(response: httpx.Response, status: int = 422) -> list[tuple[str, str]]:
    """The (code, pointer) of each problem of a refused change set."""
    body = expect(response, status).json()
    return [(item["code"], item["pointer"]) for item in body.get("errors", [])]


async def assert_nothing_changed(client: httpx.AsyncClient, workflow: Json, before: bytes) -> None:
    """The graph is as it was, at the same version."""
    after = await stored(client, workflow)
    assert after.content == before
    assert version_of(after) == workflow["version"]


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("self_loop", [("SELF_LOOP", "/edges/create/0/target_node_id")]),
        ("duplicate_edge", [("DUPLICATE_EDGE", "/edges/create/0")]),
        ("unknown_node", [("NODE_NOT_IN_WORKFLOW", "/edges/create/0/target_node_id")]),
        ("edge_to_deleted_node", [("NODE_NOT_IN_WORKFLOW", "/edges/create/0/source_node_id")]),
        ("unknown_update", [("ITEM_NOT_FOUND", "/nodes/update/0/id")]),
        ("unknown_delete", [("ITEM_NOT_FOUND", "/edges/delete/0")]),
        ("repeated_id", [("DUPLICATE_ID", "/nodes/delete/0")]),
        ("existing_id", [("DUPLICATE_ID", "/nodes/create/0/id")]),
        ("invalid_field", [("INVALID_VALUE", "/nodes/update/1/name")]),
        ("invalid_merge", [("INVALID_VALUE", "/nodes/update/0/config/trigger_type")]),
        ("unknown_member", [("UNKNOWN_MEMBER", "/nodes/update/0/position")]),
        ("reference_not_found", [("REFERENCE_NOT_FOUND", "/nodes/create/0/tool_id")]),
        ("too_many_items", [("TOO_MANY_ITEMS", "/nodes/delete")]),
    ],
)
async def test_each_problem_refuses_the_whole_change_set(
    client: httpx.AsyncClient, case: str, expected: list[tuple[str, str]]
) -> None:
    workflow, (a, b, c, d), (ab, _bc) = await seeded(client)
    before = (await stored(client, workflow)).content
    move_a = {"id": a["id"], "position_x": 99}
    create_node = {"create": [node("new")]}
    cases: dict[str, Json] = {
        "self_loop": {"nodes": create_node, "edges": {"create": [edge(c, c)]}},
        "duplicate_edge": {"nodes": create_node, "edges": {"create": [edge(a, b)]}},
        "unknown_node": {"nodes": create_node, "edges": {"create": [edge(a, node("x"))]}},
        "edge_to_deleted_node": {
            "nodes": {"delete": [d["id"]]},
            "edges": {"create": [edge(d, a)]},
        },
        "unknown_update": {"nodes": {"update": [{"id": str(uuid.uuid4()), "name": "x"}]}},
        "unknown_delete": {"nodes": {"update": [move_a]}, "edges": {"delete": [str(uuid.uuid4())]}},
        "repeated_id": {"nodes": {"update": [move_a], "delete": [a["id"]]}},
        "existing_id": {"nodes": {"create": [{**node("again"), "id": a["id"]}]}},
        "invalid_field": {"nodes": {"update": [move_a, {"id": b["id"], "name": ""}]}},
        "invalid_merge": {"nodes": {"update": [{"id": c["id"], "node_type": "trigger"}]}},
        "unknown_member": {"nodes": {"update": [{"id": a["id"], "position": {"x": 1}}]}},
        "reference_not_found": {
            "nodes": {"create": [node("t", "tool", tool_id=str(uuid.uuid4()))]},
            "edges": {"update": [{"id": ab["id"], "label": "changed"}]},
        },
        "too_many_items": {"nodes": {"delete": [str(uuid.uuid4()) for _ in range(101)]}},
    }

    response = await patch_graph(client, workflow, cases[case])

    assert problems_of(response) == expected
    await assert_nothing_changed(client, workflow, before)


async def test_a_cycle_refuses_the_whole_change_set(client: httpx.AsyncClient) -> None:
    workflow, (a, _b, c, _d), _edges = await seeded(client)
    before = (await stored(client, workflow)).content
    change_set = {
        "nodes": {"update": [{"id": a["id"], "name": "moved"}]},
        "edges": {"create": [edge(c, a)]},
    }

    response = await patch_graph(client, workflow, change_set)

    body = expect(response, 409).json()
    assert body["code"] == "CYCLE_DETECTED"
    assert body["cycle_path"][0] == body["cycle_path"][-1]
    await assert_nothing_changed(client, workflow, before)


async def test_every_problem_is_reported_at_once(client: httpx.AsyncClient) -> None:
    workflow, (a, _b, c, _d), _edges = await seeded(client)
    change_set = {
        "nodes": {"update": [{"id": str(uuid.uuid4()), "position_x": 1}]},
        "edges": {"create": [edge(c, c), edge(a, node("gone"))]},
    }

    response = await patch_graph(client, workflow, change_set)

    assert problems_of(response) == [
        ("ITEM_NOT_FOUND", "/nodes/update/0/id"),
        ("SELF_LOOP", "/edges/create/0/target_node_id"),
        ("NODE_NOT_IN_WORKFLOW", "/edges/create/1/target_node_id"),
    ]


async def test_a_stale_if_match_refuses_the_change_set(client: httpx.AsyncClient) -> None:
    workflow, (a, _b, _c, _d), _edges = await seeded(client)
    before = (await stored(client, workflow)).content
    stale = {**workflow, "version": workflow["version"] - 1}

    response = await patch_graph(
        client, stale, {"nodes": {"update": [{"id": a["id"], "name": "x"}]}}
    )

    assert expect(response, 412).json()["code"] == "VERSION_MISMATCH"
    await assert_nothing_changed(client, workflow, before)


async def test_a_stale_if_match_refuses_an_empty_change_set(client: httpx.AsyncClient) -> None:
    workflow, _nodes, _edges = await seeded(client)

    response = await patch_graph(client, {**workflow, "version": 0}, {})

    assert expect(response, 412).json()["code"] == "VERSION_MISMATCH"


async def test_if_match_is_required(client: httpx.AsyncClient) -> None:
    workflow, _nodes, _edges = await seeded(client)

    response = await client.patch(graph_url(workflow), json={})

    assert expect(response, 428).json()["code"] == "PRECONDITION_REQUIRED"


async def test_a_usable_tool_may_be_named(
    client: httpx.AsyncClient, user_id: uuid.UUID, database_url: str
) -> None:
    workflow, (a, _b, _c, _d), _edges = await seeded(client)
    tool_id = str(await insert_tool(database_url, user_id))
    change_set = {
        "nodes": {
            "create": [node("t", "tool", tool_id=tool_id)],
            "update": [{"id": a["id"], "node_type": "tool", "tool_id": tool_id}],
        }
    }

    response = expect(await patch_graph(client, workflow, change_set), 200)

    tool_nodes = [n for n in response.json()["nodes"] if n["node_type"] == "tool"]
    assert [n["tool_id"] for n in tool_nodes] == [tool_id, tool_id]


async def test_an_id_of_another_workflow_is_refused(client: httpx.AsyncClient) -> None:
    other, (a, _b, _c, _d), _edges = await seeded(client)
    workflow, _nodes, _edges = await seeded(client)

    response = await patch_graph(
        client, workflow, {"nodes": {"create": [{**node("x"), "id": a["id"]}]}}
    )

    assert problems_of(response) == [("ID_IN_OTHER_WORKFLOW", "/nodes/create/0/id")]
    assert other["id"] != workflow["id"]


async def test_get_graph_names_the_patch_it_accepts(client: httpx.AsyncClient) -> None:
    workflow, _nodes, _edges = await seeded(client)

    assert (await stored(client, workflow)).headers["accept-patch"] == "application/json"


async def test_a_drag_moves_every_node_in_one_version_step(client: httpx.AsyncClient) -> None:
    workflow, nodes, _edges = await seeded(client)
    before = (await stored(client, workflow)).json()
    moves = [{"id": n["id"], "position_x": 5.5 * i, "position_y": i} for i, n in enumerate(nodes)]

    response = expect(await patch_graph(client, workflow, {"nodes": {"update": moves}}), 200)

    assert version_of(response) == workflow["version"] + 1
    assert response.json()["changes"]["nodes"] == {"created": 0, "updated": 3, "deleted": 0}
    positions = {n["id"]: (n["position_x"], n["position_y"]) for n in response.json()["nodes"]}
    assert positions == {m["id"]: (m["position_x"], m["position_y"]) for m in moves}
    untouched = by_id(before["nodes"])[nodes[0]["id"]]
    assert by_id(response.json()["nodes"])[nodes[0]["id"]]["updated_at"] == untouched["updated_at"]


async def test_a_drag_to_where_the_nodes_are_keeps_the_version(client: httpx.AsyncClient) -> None:
    workflow, nodes, _edges = await seeded(client)
    moves = [{"id": n["id"], "position_x": 0, "position_y": 0} for n in nodes]

    response = expect(await patch_graph(client, workflow, {"nodes": {"update": moves}}), 200)

    assert version_of(response) == workflow["version"]
    assert response.json()["changes"]["nodes"]["updated"] == 0


@pytest.mark.parametrize(
    ("moves", "expected"),
    [
        ("repeated", [("DUPLICATE_ID", "/nodes/update/1/id")]),
        ("unknown", [("ITEM_NOT_FOUND", "/nodes/update/1/id")]),
    ],
)
async def test_a_drag_with_a_bad_node_moves_none(
    client: httpx.AsyncClient, moves: str, expected: list[tuple[str, str]]
) -> None:
    workflow, (a, _b, _c, _d), _edges = await seeded(client)
    before = (await stored(client, workflow)).content
    other = a["id"] if moves == "repeated" else str(uuid.uuid4())
    change_set = {
        "nodes": {
            "update": [
                {"id": a["id"], "position_x": 7, "position_y": 7},
                {"id": other, "position_x": 8, "position_y": 8},
            ]
        }
    }

    response = await patch_graph(client, workflow, change_set)

    assert problems_of(response) == expected
    await assert_nothing_changed(client, workflow, before)


async def test_a_drag_with_a_stale_if_match_moves_none(client: httpx.AsyncClient) -> None:
    workflow, (a, _b, _c, _d), _edges = await seeded(client)
    stale = {**workflow, "version": workflow["version"] - 1}
    change_set = {"nodes": {"update": [{"id": a["id"], "position_x": 7, "position_y": 7}]}}

    response = await patch_graph(client, stale, change_set, Prefer="return=minimal")

    assert expect(response, 412).headers["etag"] == f'"{workflow["version"]}"'


async def test_a_drag_is_written_without_the_general_path(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    workflow, nodes, _edges = await seeded(client)

    async def general_path(*_args: object) -> None:
        raise AssertionError("the general path ran")

    monkeypatch.setattr(change_repository, "load_state", general_path)
    moves = [{"id": n["id"], "position_x": 3, "position_y": 4} for n in nodes]

    response = await patch_graph(client, workflow, {"nodes": {"update": moves}})

    assert expect(response, 200).json()["changes"]["nodes"]["updated"] == 4
