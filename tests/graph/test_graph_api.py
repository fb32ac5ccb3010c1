"""Whole-graph load and save (GET/PUT .../graph) and duplicate, over HTTP."""

import asyncio
import itertools
import threading
import uuid
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy import literal, select

from service.db import psycopg_conninfo
from service.graph import repository as graph_repository
from service.graph.cache import RenderedGraphs
from service.graph.edges.models import CONNECTION_FIELDS as EDGE_ENDS
from service.graph.edges.models import EdgeCreate
from service.graph.edges.repository import EDGES
from service.graph.models import GraphEdgeIn, GraphNodeIn
from service.graph.nodes.models import NodeCreate
from service.graph.nodes.repository import NODES
from service.graph.repository import SAVE_STATEMENT
from service.sql import compiled
from tests.factories import create_workflow, expect, insert_tool

API = "/api/v1"
Json = dict[str, Any]


def node(name: str, node_type: str = "adapter", **fields: Any) -> Json:
    """A node item with a client-chosen id (triggers and conditions get their required config)."""
    required = {
        "trigger": {"trigger_type": "manual"},
        "condition": {"condition_expression": "x > 1"},
    }
    body = {"id": str(uuid.uuid4()), "name": name, "node_type": node_type}
    if node_type in required:
        body["config"] = required[node_type]
    return {**body, **fields}


def edge(source: Json, target: Json, **fields: Any) -> Json:
    """An edge item with a client-chosen id from node item `source` to `target`."""
    return {
        "id": str(uuid.uuid4()),
        "source_node_id": source["id"],
        "target_node_id": target["id"],
        **fields,
    }


def graph_url(workflow: Json, part: str = "graph") -> str:
    """URL of an endpoint under the workflow."""
    return f"{API}/workflows/{workflow['id']}/{part}"


def version_of(response: httpx.Response) -> int:
    """The version an ETag carries."""
    return int(response.headers["etag"].strip('"'))


async def put_graph(
    client: httpx.AsyncClient,
    workflow: Json,
    nodes: list[Json],
    edges: list[Json],
    status: int = 200,
) -> httpx.Response:
    """PUT the graph with If-Match from `workflow["version"]`, tracking the new version."""
    response = await client.put(
        graph_url(workflow),
        json={"nodes": nodes, "edges": edges},
        headers={"If-Match": f'"{workflow["version"]}"'},
    )
    expect(response, status)
    if status == 200:
        workflow["version"] = version_of(response)
    return response


async def get_graph(client: httpx.AsyncClient, workflow: Json) -> Json:
    """The stored graph document."""
    return dict(expect(await client.get(graph_url(workflow)), 200).json())


async def workflow_with_graph(
    client: httpx.AsyncClient, nodes: list[Json], edges: list[Json], **fields: Any
) -> Json:
    """A new workflow whose graph is `nodes` and `edges`."""
    workflow = await create_workflow(client, **fields)
    await put_graph(client, workflow, nodes, edges)
    return workflow


def by_id(items: list[Json]) -> dict[str, Json]:
    """Items keyed by id."""
    return {item["id"]: item for item in items}


def assert_stored(submitted: list[Json], stored: list[Json]) -> None:
    """Every submitted item is stored with the fields it named."""
    stored_by_id = by_id(stored)
    assert set(stored_by_id) == {item["id"] for item in submitted}
    for item in submitted:
        assert {key: stored_by_id[item["id"]][key] for key in item} == item


async def test_what_you_put_is_what_you_get(client: httpx.AsyncClient) -> None:
    trigger = node("Start", "trigger", position_x=10.5, position_y=-3.25)
    check = node("Check", "condition", config={"condition_expression": "x", "true_handle": "yes"})
    adapt = node("Adapt", "adapter", input_schema={"type": "object"}, timeout_seconds=60)
    merge = node("Merge", "aggregator", retry_config={"max_retries": 5, "delay": 2})
    nodes = [trigger, check, adapt, merge]
    edges = [
        edge(trigger, check, label="go", priority=3),
        edge(check, adapt, source_handle="yes", condition={"type": "on_success"}),
        edge(check, merge, source_handle="false"),
        edge(adapt, merge, target_handle="in"),
    ]
    workflow = await create_workflow(client)
    saved = await put_graph(client, workflow, nodes, edges)

    assert saved.headers["etag"] == '"2"'
    body = saved.json()
    assert body["changes"] == {
        "nodes": {"created": 4, "updated": 0, "deleted": 0},
        "edges": {"created": 4, "updated": 0, "deleted": 0},
    }
    loaded = await client.get(graph_url(workflow))
    assert loaded.headers["etag"] == '"2"'
    graph = loaded.json()
    assert_stored(nodes, graph["nodes"])
    assert_stored(edges, graph["edges"])
    assert {key: graph[key] for key in ("id", "name", "version")} == {
        "id": workflow["id"],
        "name": workflow["name"],
        "version": 2,
    }
    assert {item["workflow_id"] for item in graph["nodes"] + graph["edges"]} == {workflow["id"]}
    assert {key: body[key] for key in graph} == graph


async def test_the_graph_document_can_be_saved_back_unchanged(client: httpx.AsyncClient) -> None:
    first, second = node("A", "trigger"), node("B")
    workflow = await workflow_with_graph(client, [first, second], [edge(first, second)])
    loaded = await client.get(graph_url(workflow))

    saved = await client.put(
        graph_url(workflow), json=loaded.json(), headers={"If-Match": loaded.headers["etag"]}
    )

    assert expect(saved, 200).json()["changes"] == {
        "nodes": {"created": 0, "updated": 0, "deleted": 0},
        "edges": {"created": 0, "updated": 0, "deleted": 0},
    }
    assert saved.headers["etag"] == loaded.headers["etag"]  # a no-op keeps the version
    again = saved.json()
    assert again["nodes"] == loaded.json()["nodes"]
    assert again["edges"] == loaded.json()["edges"]


async def test_one_save_creates_updates_and_deletes(client: httpx.AsyncClient) -> None:
    a, b, c = node("A", "trigger"), node("B"), node("C")
    kept, removed, moved = edge(a, b), edge(b, c), edge(a, c, label="x")
    workflow = await workflow_with_graph(client, [a, b, c], [kept, removed, moved])
    stored = await get_graph(client, workflow)
    before, edges_before = by_id(stored["nodes"]), by_id(stored["edges"])

    d = node("D")
    renamed_b = {**b, "name": "B2"}
    moved_to_d = {**moved, "target_node_id": d["id"]}
    new_edge = edge(b, d)
    saved = await put_graph(client, workflow, [a, renamed_b, d], [kept, moved_to_d, new_edge])

    assert saved.json()["changes"] == {
        "nodes": {"created": 1, "updated": 1, "deleted": 1},
        "edges": {"created": 1, "updated": 1, "deleted": 1},
    }
    graph = await get_graph(client, workflow)
    assert_stored([a, renamed_b, d], graph["nodes"])
    assert_stored([kept, moved_to_d, new_edge], graph["edges"])
    nodes_after, edges_after = by_id(graph["nodes"]), by_id(graph["edges"])
    assert nodes_after[a["id"]]["updated_at"] == before[a["id"]]["updated_at"]
    assert nodes_after[b["id"]]["updated_at"] > before[b["id"]]["updated_at"]
    assert edges_after[moved["id"]]["created_at"] == edges_before[moved["id"]]["created_at"]


async def test_nodes_and_edges_without_ids_get_new_ones(client: httpx.AsyncClient) -> None:
    workflow = await create_workflow(client)
    nodes = [{"name": "A", "node_type": "adapter"}, {"name": "B", "node_type": "adapter"}]
    saved = await put_graph(client, workflow, nodes, [])

    stored = saved.json()["nodes"]
    assert sorted(item["name"] for item in stored) == ["A", "B"]
    assert all(uuid.UUID(item["id"]) for item in stored)


async def test_edges_can_swap_and_take_over_connections(client: httpx.AsyncClient) -> None:
    a, b = node("A", "trigger"), node("B")
    first, second = edge(a, b, source_handle="x"), edge(a, b, source_handle="y")
    released = edge(a, b, source_handle="z")
    workflow = await workflow_with_graph(client, [a, b], [first, second, released])

    swapped = [{**first, "source_handle": "y"}, {**second, "source_handle": "x"}]
    successor = edge(a, b, source_handle="z")
    saved = await put_graph(client, workflow, [a, b], [*swapped, successor])

    assert saved.json()["changes"]["edges"] == {"created": 1, "updated": 2, "deleted": 1}
    assert_stored([*swapped, successor], (await get_graph(client, workflow))["edges"])


async def test_an_empty_graph_deletes_everything(client: httpx.AsyncClient) -> None:
    a, b = node("A", "trigger"), node("B")
    workflow = await workflow_with_graph(client, [a, b], [edge(a, b)])

    saved = await put_graph(client, workflow, [], [])

    assert saved.json()["changes"] == {
        "nodes": {"created": 0, "updated": 0, "deleted": 2},
        "edges": {"created": 0, "updated": 0, "deleted": 1},
    }
    graph = await get_graph(client, workflow)
    assert (graph["nodes"], graph["edges"]) == ([], [])


async def test_a_soft_deleted_tool_still_referenced_can_be_saved_back(
    client: httpx.AsyncClient, user_id: uuid.UUID, database_url: str
) -> None:
    tool_id = await insert_tool(database_url, user_id)
    start, call = node("Start", "trigger"), node("Call", "tool", tool_id=str(tool_id))
    workflow = await workflow_with_graph(client, [start, call], [edge(start, call)])
    await run_sql(database_url, "UPDATE tools SET deleted_at = now() WHERE id = %s", tool_id)

    saved = await put_graph(client, workflow, [start, {**call, "name": "Renamed"}], [])

    assert saved.json()["changes"]["nodes"]["updated"] == 1
    other = await create_workflow(client)
    refused = await put_graph(client, other, [node("Call", "tool", tool_id=str(tool_id))], [], 422)
    assert pointers(refused) == ["/nodes/0/tool_id"]


async def run_sql(database_url: str, statement: str, *params: Any) -> None:
    """Run one statement on the test database (outside the API)."""
    async with await psycopg.AsyncConnection.connect(psycopg_conninfo(database_url)) as connection:
        await connection.execute(statement, params)


def pointers(response: httpx.Response) -> list[str]:
    """The JSON pointers of a VALIDATION_ERROR."""
    body = response.json()
    assert body["code"] == "VALIDATION_ERROR", body
    return [item["pointer"] for item in body["errors"]]


Base = tuple[Json, Json, Json]  # trigger, adapter, edge between them


def base_graph() -> Base:
    """A small valid graph the rejection cases start from."""
    start, step = node("Start", "trigger"), node("Step")
    return start, step, edge(start, step)


async def foreign_tool_id(database_url: str, _user_id: uuid.UUID) -> uuid.UUID:
    """A live tool of some other user."""
    return await insert_tool(database_url, uuid.uuid4())


REJECTIONS: dict[str, Any] = {
    "bad field": (
        lambda start, step, link, _ids: ([start, {**step, "name": ""}], [link]),
        ["/nodes/1/name"],
    ),
    "missing requirement": (
        lambda start, step, link, _ids: ([start, step, node("Call", "tool")], [link]),
        ["/nodes/2/tool_id"],
    ),
    "unknown node reference": (
        lambda start, step, link, _ids: ([start, step], [link, edge(step, node("Gone"))]),
        ["/edges/1/target_node_id"],
    ),
    "foreign tool": (
        lambda start, step, link, ids: (
            [start, step, node("Call", "tool", tool_id=str(ids["foreign_tool"]))],
            [link],
        ),
        ["/nodes/2/tool_id"],
    ),
    "duplicate node ids": (
        lambda start, step, link, _ids: ([start, step, {**node("Twin"), "id": step["id"]}], [link]),
        ["/nodes/2/id"],
    ),
    "duplicate edge ids": (
        lambda start, step, link, _ids: (
            [start, step, third := node("Third")],
            [link, {**edge(step, third), "id": link["id"]}],
        ),
        ["/edges/1/id"],
    ),
    "id of another workflow": (
        lambda start, step, link, ids: (
            [start, step, node("Stolen", id=ids["other_node"])],
            [link],
        ),
        ["/nodes/2/id"],
    ),
    "self loop": (
        lambda start, step, link, _ids: ([start, step], [link, edge(step, step)]),
        ["/edges/1/target_node_id"],
    ),
    "duplicate connection": (
        lambda start, step, link, _ids: ([start, step], [link, edge(start, step)]),
        ["/edges/1"],
    ),
    "several problems at once": (
        lambda start, step, link, ids: (
            [
                {**start, "position_x": "left"},
                step,
                node("Call", "tool", tool_id=str(ids["foreign_tool"])),
            ],
            [edge(step, node("Gone")), link, edge(start, step)],
        ),
        ["/nodes/0/position_x", "/nodes/2/tool_id", "/edges/0/target_node_id", "/edges/2"],
    ),
}


# The machine code of each located problem, in the order of REJECTIONS' pointers.
REJECTION_CODES: dict[str, list[str]] = {
    "bad field": ["INVALID_VALUE"],
    "missing requirement": ["INVALID_VALUE"],
    "unknown node reference": ["NODE_NOT_IN_WORKFLOW"],
    "foreign tool": ["REFERENCE_NOT_FOUND"],
    "duplicate node ids": ["DUPLICATE_ID"],
    "duplicate edge ids": ["DUPLICATE_ID"],
    "id of another workflow": ["ID_IN_OTHER_WORKFLOW"],
    "self loop": ["SELF_LOOP"],
    "duplicate connection": ["DUPLICATE_EDGE"],
    "several problems at once": [
        "INVALID_VALUE",
        "REFERENCE_NOT_FOUND",
        "NODE_NOT_IN_WORKFLOW",
        "DUPLICATE_EDGE",
    ],
}


@pytest.mark.parametrize("case", list(REJECTIONS))
async def test_invalid_saves_list_every_problem_and_write_nothing(
    client: httpx.AsyncClient, user_id: uuid.UUID, database_url: str, case: str
) -> None:
    start, step, link = base_graph()
    workflow = await workflow_with_graph(client, [start, step], [link])
    other_node = node("Other")
    await workflow_with_graph(client, [other_node], [])
    ids = {
        "foreign_tool": await foreign_tool_id(database_url, user_id),
        "other_node": other_node["id"],
    }
    before = await client.get(graph_url(workflow))
    build, expected_pointers = REJECTIONS[case]
    nodes, edges = build(start, step, link, ids)

    refused = await put_graph(client, workflow, nodes, edges, 422)

    assert pointers(refused) == expected_pointers
    assert [item["code"] for item in refused.json()["errors"]] == REJECTION_CODES[case]
    assert refused.headers["content-type"] == "application/problem+json"
    await assert_unchanged(client, workflow, before)


async def assert_unchanged(
    client: httpx.AsyncClient, workflow: Json, before: httpx.Response
) -> None:
    """The graph and its version are what they were."""
    after = await client.get(graph_url(workflow))
    assert after.headers["etag"] == before.headers["etag"]
    assert after.json() == before.json()


async def test_a_cycle_is_refused_with_its_path(client: httpx.AsyncClient) -> None:
    start, step, link = base_graph()
    workflow = await workflow_with_graph(client, [start, step], [link])
    before = await client.get(graph_url(workflow))
    a, b = node("A"), node("B")

    refused = await put_graph(
        client, workflow, [start, step, a, b], [link, edge(step, a), edge(a, b), edge(b, step)], 409
    )

    problem = refused.json()
    assert problem["code"] == "CYCLE_DETECTED"
    path = problem["cycle_path"]
    assert path[0] == path[-1]
    assert set(path) == {step["id"], a["id"], b["id"]}
    await assert_unchanged(client, workflow, before)


async def test_a_graph_over_the_limits_is_refused(client: httpx.AsyncClient, settings: Any) -> None:
    workflow = await create_workflow(client)
    too_many = [
        {"name": f"n{i}", "node_type": "adapter"}
        for i in range(settings.max_nodes_per_workflow + 1)
    ]

    refused = await put_graph(client, workflow, too_many, [], 422)

    assert refused.json()["code"] == "GRAPH_TOO_LARGE"
    assert (await get_graph(client, workflow))["version"] == 1


@pytest.mark.parametrize(
    "body",
    [[], {"nodes": []}, {"nodes": "many", "edges": []}, {"nodes": [], "edges": [17]}],
)
async def test_malformed_documents_are_located(client: httpx.AsyncClient, body: Any) -> None:
    workflow = await create_workflow(client)

    refused = await client.put(graph_url(workflow), json=body, headers={"If-Match": '"1"'})

    assert refused.status_code == 422, refused.text
    assert pointers(refused)
    assert (await get_graph(client, workflow))["version"] == 1


async def test_a_save_needs_the_current_version(client: httpx.AsyncClient) -> None:
    start, step, link = base_graph()
    workflow = await workflow_with_graph(client, [start, step], [link])
    before = await client.get(graph_url(workflow))
    body = {"nodes": [start], "edges": []}

    missing = await client.put(graph_url(workflow), json=body)
    stale = await client.put(graph_url(workflow), json=body, headers={"If-Match": '"1"'})
    weak = await client.put(graph_url(workflow), json=body, headers={"If-Match": 'W/"2"'})

    assert (missing.status_code, missing.json()["code"]) == (428, "PRECONDITION_REQUIRED")
    assert (stale.status_code, stale.json()["code"]) == (412, "VERSION_MISMATCH")
    assert stale.json()["current_version"] == 2
    assert stale.headers["etag"] == '"2"'
    assert weak.status_code == 412
    await assert_unchanged(client, workflow, before)
    anything = await client.put(graph_url(workflow), json=body, headers={"If-Match": "*"})
    assert expect(anything, 200).headers["etag"] == '"3"'


async def test_an_invalid_body_is_judged_before_the_version(client: httpx.AsyncClient) -> None:
    workflow = await create_workflow(client)
    invalid = {"nodes": [node("A", "tool")], "edges": []}
    valid = {"nodes": [node("A")], "edges": []}

    refused = await client.put(graph_url(workflow), json=invalid, headers={"If-Match": '"7"'})
    stale = await client.put(graph_url(workflow), json=valid, headers={"If-Match": '"7"'})

    assert refused.status_code == 422
    assert stale.status_code == 412


async def test_get_graph_answers_304_for_the_current_version(client: httpx.AsyncClient) -> None:
    workflow = await workflow_with_graph(client, [node("A")], [])

    cached = await client.get(graph_url(workflow), headers={"If-None-Match": '"2"'})
    stale = await client.get(graph_url(workflow), headers={"If-None-Match": '"1"'})

    assert (cached.status_code, cached.headers["etag"], cached.content) == (304, '"2"', b"")
    assert stale.status_code == 200


async def test_a_save_keeps_its_rendering_from_the_event_loop_thread(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cache has no lock: a save must store into it on the thread that reads it."""
    kept: list[tuple[int, threading.Thread]] = []
    original_put = RenderedGraphs.put

    def recording_put(cache: RenderedGraphs, key: uuid.UUID, version: int, body: bytes) -> None:
        kept.append((version, threading.current_thread()))
        original_put(cache, key, version, body)

    monkeypatch.setattr(RenderedGraphs, "put", recording_put)
    workflow = await create_workflow(client)
    await put_graph(client, workflow, [node("A")], [])

    assert kept == [(2, threading.current_thread())]


class StatementCounter:
    """Counts the SQL statements psycopg cursors execute."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        original = psycopg.AsyncCursor.execute

        async def counting_execute(cursor: Any, *args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return await original(cursor, *args, **kwargs)

        monkeypatch.setattr(psycopg.AsyncCursor, "execute", counting_execute)


@pytest.mark.parametrize("size", [10, 500])
async def test_get_graph_runs_a_constant_number_of_statements(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, size: int
) -> None:
    """A version lookup plus two rendering statements; a kept rendering needs only the lookup."""
    nodes = [node("Start", "trigger")] + [node(f"Step {i}") for i in range(1, size)]
    edges = [edge(source, target) for source, target in itertools.pairwise(nodes)]
    saved = await workflow_with_graph(client, nodes, edges)
    copied = expect(await client.post(graph_url(saved, "duplicate")), 201).json()
    counter = StatementCounter(monkeypatch)

    after_save = await get_graph(client, saved)  # the save kept its rendering
    counts = [counter.count]
    cold = await get_graph(client, copied)  # nothing kept for the copy yet
    counts.append(counter.count - sum(counts))
    warm = await get_graph(client, copied)
    counts.append(counter.count - sum(counts))

    assert (len(cold["nodes"]), len(cold["edges"])) == (size, size - 1)
    assert counts == [1, 3, 1]
    assert warm == cold
    assert len(after_save["nodes"]) == size


async def test_halves_of_different_versions_are_never_joined(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the two halves disagree on the version, the graph comes from one statement."""
    first, second = node("A"), node("B")
    saved = await workflow_with_graph(client, [first, second], [edge(first, second)])
    copied = expect(await client.post(graph_url(saved, "duplicate")), 201).json()
    workflows = graph_repository.WORKFLOWS
    newer_and_empty = compiled(
        select(workflows.c.version + 1, literal("[]")).where(graph_repository.live_workflow())
    )
    monkeypatch.setattr(graph_repository, "EDGES_HALF_QUERY", newer_and_empty)

    graph = await get_graph(client, copied)

    assert len(graph["edges"]) == 1
    assert graph["version"] == copied["version"]


async def test_get_graph_after_a_save_shows_the_save(client: httpx.AsyncClient) -> None:
    """The kept rendering of the old version is never served for the new one."""
    workflow = await workflow_with_graph(client, [node("A")], [])
    before = await get_graph(client, workflow)
    await put_graph(client, workflow, [node("B")], [])

    after = await get_graph(client, workflow)

    assert [n["name"] for n in before["nodes"]] == ["A"]
    assert [n["name"] for n in after["nodes"]] == ["B"]


async def test_every_graph_endpoint_hides_other_owners_workflows(
    client: httpx.AsyncClient, make_token: Any
) -> None:
    workflow = await workflow_with_graph(client, [node("A")], [])
    stranger = {"Authorization": f"Bearer {make_token(None)}", "If-Match": "*"}
    body = {"nodes": [], "edges": []}

    responses = [
        await client.get(graph_url(workflow), headers=stranger),
        await client.get(graph_url(workflow), params={"format": "mermaid"}, headers=stranger),
        await client.put(graph_url(workflow), json=body, headers=stranger),
        await client.post(graph_url(workflow, "duplicate"), headers=stranger),
        await client.get(graph_url(workflow, "validation"), headers=stranger),
    ]

    assert [(r.status_code, r.json()["code"]) for r in responses] == [(404, "NOT_FOUND")] * 5
    assert len((await get_graph(client, workflow))["nodes"]) == 1


async def test_trashed_workflows_have_no_graph(client: httpx.AsyncClient) -> None:
    workflow = await workflow_with_graph(client, [node("A")], [])
    deleted = await client.delete(f"{API}/workflows/{workflow['id']}", headers={"If-Match": "*"})
    assert deleted.status_code == 204

    assert (await client.get(graph_url(workflow))).status_code == 404
    assert (await client.post(graph_url(workflow, "duplicate"))).status_code == 404


async def test_duplicate_copies_the_graph_under_new_ids(client: httpx.AsyncClient) -> None:
    start, check = node("Start", "trigger"), node("Check", "condition")
    left, right = node("Left", position_x=1.5), node("Right", config={"transform_script": "x"})
    edges = [
        edge(start, check, label="go"),
        edge(check, left, source_handle="true", priority=2),
        edge(check, right, source_handle="false", condition={"type": "expression", "value": "y"}),
    ]
    workflow = await workflow_with_graph(
        client, [start, check, left, right], edges, config={"timeout": 60}, variables={"a": 1}
    )
    original = await client.get(graph_url(workflow))

    copied = await client.post(graph_url(workflow, "duplicate"))

    expect(copied, 201)
    copy = copied.json()
    assert copied.headers["etag"] == '"1"'
    assert copied.headers["location"].endswith(f"{API}/workflows/{copy['id']}")
    assert copy["name"] == "Copy of workflow"
    assert copy == await get_graph(client, copy)
    assert_same_graph(original.json(), copy)
    await assert_unchanged(client, workflow, original)


def assert_same_graph(original: Json, copy: Json) -> None:
    """Equal workflows fields, nodes and edges, with every id new and edges remapped."""
    for key in ("description", "config", "variables", "is_active"):
        assert copy[key] == original[key]
    assert copy["id"] != original["id"]
    assert copy["version"] == 1
    names = {item["id"]: item["name"] for item in original["nodes"] + copy["nodes"]}
    volatile = {"id", "workflow_id", "created_at", "updated_at"}

    def comparable_nodes(graph: Json) -> list[Json]:
        return sorted(
            ({k: v for k, v in item.items() if k not in volatile} for item in graph["nodes"]),
            key=lambda item: item["name"],
        )

    def comparable_edges(graph: Json) -> list[Json]:
        edges = []
        for item in graph["edges"]:
            fields = {k: v for k, v in item.items() if k not in volatile}
            fields["source_node_id"] = names[item["source_node_id"]]
            fields["target_node_id"] = names[item["target_node_id"]]
            edges.append(fields)
        return sorted(edges, key=lambda item: (item["source_node_id"], item["target_node_id"]))

    assert comparable_nodes(copy) == comparable_nodes(original)
    assert comparable_edges(copy) == comparable_edges(original)
    original_ids = {item["id"] for item in original["nodes"] + original["edges"]}
    assert original_ids.isdisjoint(item["id"] for item in copy["nodes"] + copy["edges"])
    assert {item["workflow_id"] for item in copy["nodes"] + copy["edges"]} == {copy["id"]}


async def test_duplicate_takes_a_name_and_truncates_the_default(
    client: httpx.AsyncClient,
) -> None:
    long_name = "x" * 255
    workflow = await workflow_with_graph(client, [], [], name=long_name)

    named = await client.post(graph_url(workflow, "duplicate"), json={"name": "Mine"})
    default = await client.post(graph_url(workflow, "duplicate"), json={})
    invalid = await client.post(graph_url(workflow, "duplicate"), json={"name": ""})

    assert expect(named, 201).json()["name"] == "Mine"
    assert expect(default, 201).json()["name"] == ("Copy of " + long_name)[:255]
    assert pointers(invalid) == ["/name"]


async def test_openapi_documents_every_graph_representation(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    get = schema["paths"][f"{API}/workflows/{{workflow_id}}/graph"]["get"]
    put = schema["paths"][f"{API}/workflows/{{workflow_id}}/graph"]["put"]

    assert set(get["responses"]["200"]["content"]) == {
        "application/json",
        "application/vnd.reactflow+json",
        "text/vnd.mermaid",
    }
    assert put["requestBody"]["content"]["application/vnd.reactflow+json"]["schema"] == {
        "$ref": "#/components/schemas/ReactFlowDocument"
    }
    assert get["operationId"] == "get_graph"
    assert put["operationId"] == "replace_graph"
    assert put["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/GraphIn"
    }
    documented = set(schema["components"]["schemas"])
    assert {"TriggerGraphNodeIn", "ToolGraphNodeIn", "GraphEdgeIn", "GraphSaveResult"} <= documented


async def test_concurrent_saves_of_one_version_let_exactly_one_win(
    client: httpx.AsyncClient,
) -> None:
    workflow = await workflow_with_graph(client, [node("A")], [])
    headers = {"If-Match": f'"{workflow["version"]}"'}
    bodies = [{"nodes": [node(f"Writer {i}")], "edges": []} for i in range(2)]

    responses = await asyncio.gather(
        *(client.put(graph_url(workflow), json=body, headers=headers) for body in bodies)
    )

    assert sorted(response.status_code for response in responses) == [200, 412]
    graph = await get_graph(client, workflow)
    assert graph["version"] == workflow["version"] + 1
    assert len(graph["nodes"]) == 1


def test_the_saved_records_cover_every_submitted_field() -> None:
    assert NODES.fields == tuple(NodeCreate.model_fields)
    assert EDGES.fields == tuple(EdgeCreate.model_fields)
    assert set(GraphNodeIn.model_fields) == {"id", *NODES.fields}
    assert set(GraphEdgeIn.model_fields) == {"id", *EDGES.fields}
    for field in (*NODES.fields, *EDGES.fields):
        assert f"{field} = excluded.{field}" in SAVE_STATEMENT.text or field in EDGE_ENDS
