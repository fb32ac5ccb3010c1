"""Node endpoints over HTTP: single and batch writes, versions, references, isolation."""

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from service.config import Settings
from service.main import create_app
from tests.factories import (
    API,
    create_edge,
    create_node,
    create_workflow,
    expect,
    if_match,
    insert_agent,
    insert_tool,
    track,
    workflow_url,
)

Json = dict[str, Any]


@pytest.fixture
def stranger(make_token: Callable[[uuid.UUID | None], str]) -> dict[str, str]:
    """Authorization of another user."""
    return {"Authorization": f"Bearer {make_token(None)}"}


@pytest.fixture
async def workflow(client: httpx.AsyncClient) -> Json:
    """A fresh workflow of the test's user, at version 1."""
    return await create_workflow(client)


def pointers(response: httpx.Response) -> list[str]:
    """The JSON pointers a VALIDATION_ERROR names."""
    body = response.json()
    assert body["code"] == "VALIDATION_ERROR", body
    return [error.get("pointer") or error.get("parameter") for error in body["errors"]]


async def current_version(client: httpx.AsyncClient, workflow: Json) -> int:
    """The workflow's version as the API reports it now."""
    response = expect(await client.get(workflow_url(workflow)), 200)
    return int(response.json()["version"])


async def batch(client: httpx.AsyncClient, workflow: Json, nodes: list[Json]) -> httpx.Response:
    """POST a node batch with the workflow's current If-Match."""
    return await client.post(
        workflow_url(workflow, "nodes", "batch"), json={"nodes": nodes}, headers=if_match(workflow)
    )


# Create, read, list


async def test_create_node_answers_201_with_location_and_new_etag(
    client: httpx.AsyncClient, workflow: Json
) -> None:
    body = {"name": "Fetch", "node_type": "adapter", "position_x": 10.5, "position_y": -3}
    response = await client.post(
        workflow_url(workflow, "nodes"), json=body, headers={"If-Match": '"1"'}
    )
    expect(response, 201)
    node = response.json()
    assert response.headers["etag"] == '"2"'
    assert response.headers["location"].endswith(f"/workflows/{workflow['id']}/nodes/{node['id']}")
    assert node["workflow_id"] == workflow["id"]
    assert (node["position_x"], node["position_y"]) == (10.5, -3)
    assert node["timeout_seconds"] == 300
    assert node["retry_config"] == {"max_retries": 3, "delay": 1}
    read = expect(await client.get(response.headers["location"]), 200)
    assert read.json() == node
    assert read.headers["etag"] == '"2"'
    assert await current_version(client, workflow) == 2


async def test_get_node_answers_304_for_current_etag(
    client: httpx.AsyncClient, workflow: Json
) -> None:
    node = await create_node(client, workflow)
    url = workflow_url(workflow, "nodes", node["id"])
    unchanged = await client.get(url, headers={"If-None-Match": f'"{workflow["version"]}"'})
    assert unchanged.status_code == 304
    assert unchanged.headers["etag"] == f'"{workflow["version"]}"'
    changed = await client.get(url, headers={"If-None-Match": '"1"'})
    assert changed.status_code == 200


async def test_list_nodes_pages_with_cursor_and_link(
    client: httpx.AsyncClient, workflow: Json
) -> None:
    created = expect(
        await batch(
            client, workflow, [{"name": f"n{i}", "node_type": "adapter"} for i in range(5)]
        ),
        201,
    )
    track(workflow, created)
    await create_node(client, workflow, name="last")
    seen: list[str] = []
    url: str | None = workflow_url(workflow, "nodes") + "?limit=2"
    pages = 0
    while url is not None:
        response = expect(await client.get(url), 200)
        assert response.headers["etag"] == f'"{workflow["version"]}"'
        page = response.json()
        seen += [item["id"] for item in page["items"]]
        pages += 1
        if page["next_cursor"] is None:
            assert "link" not in response.headers
            url = None
        else:
            assert response.headers["link"].endswith('>; rel="next"')
            url = response.headers["link"][1:].split(">;")[0]
    assert pages == 3
    assert len(seen) == len(set(seen)) == 6
    assert seen[-1] == (await client.get(workflow_url(workflow, "nodes"))).json()["items"][-1]["id"]


async def test_list_nodes_of_empty_workflow(client: httpx.AsyncClient, workflow: Json) -> None:
    response = expect(await client.get(workflow_url(workflow, "nodes")), 200)
    assert response.json() == {"items": [], "next_cursor": None}
    assert response.headers["etag"] == '"1"'


@pytest.mark.parametrize(
    ("query", "parameter"),
    [("limit=0", "limit"), ("limit=101", "limit"), ("limit=x", "limit"), ("cursor=%%%", "cursor")],
)
async def test_list_nodes_refuses_bad_parameters(
    client: httpx.AsyncClient, workflow: Json, query: str, parameter: str
) -> None:
    response = await client.get(workflow_url(workflow, "nodes") + "?" + query)
    assert response.status_code == 422
    assert pointers(response) == [parameter]


async def test_malformed_uuids_are_422(client: httpx.AsyncClient, workflow: Json) -> None:
    bad_workflow = await client.get(f"{API}/workflows/not-a-uuid/nodes")
    assert bad_workflow.status_code == 422
    assert pointers(bad_workflow) == ["workflow_id"]
    bad_node = await client.get(workflow_url(workflow, "nodes", "12345"))
    assert pointers(bad_node) == ["node_id"]
    bad_tool = await client.post(
        workflow_url(workflow, "nodes"),
        json={"name": "x", "node_type": "tool", "tool_id": "nope"},
        headers=if_match(workflow),
    )
    assert pointers(bad_tool) == ["/tool_id"]


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"name": "bad\x00name", "node_type": "adapter"}, "/name"),
        ({"name": "x", "node_type": "adapter", "timeout_seconds": 10**15}, "/timeout_seconds"),
        ({"name": "x", "node_type": "adapter", "timeout_seconds": 0}, "/timeout_seconds"),
        ({"name": "x", "node_type": "teleporter"}, "/node_type"),
        ({"name": "x", "node_type": "adapter", "position_x": "left"}, "/position_x"),
        ({"name": "", "node_type": "adapter"}, "/name"),
        ({"name": "x" * 256, "node_type": "adapter"}, "/name"),
        ({"name": "x", "node_type": "adapter", "config": {"k": "v\x00"}}, "/config"),
        ({"name": "x", "node_type": "tool"}, "/tool_id"),
        ({"name": "x", "node_type": "agent"}, "/agent_id"),
        ({"name": "x", "node_type": "trigger"}, "/config/trigger_type"),
        (
            {"name": "x", "node_type": "trigger", "config": {"trigger_type": "x"}},
            "/config/trigger_type",
        ),
        ({"name": "x", "node_type": "condition"}, "/config/condition_expression"),
        (
            {"name": "x", "node_type": "adapter", "retry_config": {"max_retries": 99}},
            "/retry_config/max_retries",
        ),
    ],
)
async def test_create_node_refuses_bad_input(
    client: httpx.AsyncClient, workflow: Json, body: Json, pointer: str
) -> None:
    response = await client.post(
        workflow_url(workflow, "nodes"), json=body, headers=if_match(workflow)
    )
    assert response.status_code == 422, response.text
    assert pointer in pointers(response)
    assert await current_version(client, workflow) == 1


async def test_every_node_type_with_its_requirement_is_created(
    client: httpx.AsyncClient, workflow: Json, database_url: str, user_id: uuid.UUID
) -> None:
    tool_id = await insert_tool(database_url, user_id)
    agent_id = await insert_agent(database_url, user_id)
    nodes = [
        {
            "name": "t",
            "node_type": "trigger",
            "config": {"trigger_type": "schedule", "cron_expression": "0 9 * * 1-5"},
        },
        {"name": "u", "node_type": "tool", "tool_id": str(tool_id)},
        {
            "name": "a",
            "node_type": "agent",
            "agent_id": str(agent_id),
            "input_schema": {"type": "object"},
        },
        {"name": "c", "node_type": "condition", "config": {"condition_expression": "x > 1"}},
        {
            "name": "d",
            "node_type": "adapter",
            "config": {"transform_script": "x", "ui": {"color": "red"}},
        },
        {"name": "g", "node_type": "aggregator", "config": {"aggregation_type": "merge"}},
    ]
    response = expect(await batch(client, workflow, nodes), 201)
    items = response.json()["items"]
    assert [item["name"] for item in items] == ["t", "u", "a", "c", "d", "g"]
    assert items[1]["tool_id"] == str(tool_id)
    assert items[2]["agent_id"] == str(agent_id)
    assert items[2]["input_schema"] == {"type": "object"}
    assert items[4]["config"] == {"transform_script": "x", "ui": {"color": "red"}}


# References to tools and agents


async def test_node_may_not_reference_another_owners_tool_or_agent(
    client: httpx.AsyncClient, workflow: Json, database_url: str, user_id: uuid.UUID
) -> None:
    other_tool = await insert_tool(database_url, uuid.uuid4())
    other_agent = await insert_agent(database_url, uuid.uuid4())
    trashed_tool = await insert_tool(database_url, user_id, deleted_at=datetime.now(UTC))
    cases = [
        ({"node_type": "tool", "tool_id": str(other_tool)}, "/tool_id"),
        ({"node_type": "tool", "tool_id": str(uuid.uuid4())}, "/tool_id"),
        ({"node_type": "tool", "tool_id": str(trashed_tool)}, "/tool_id"),
        ({"node_type": "agent", "agent_id": str(other_agent)}, "/agent_id"),
    ]
    for fields, pointer in cases:
        response = await client.post(
            workflow_url(workflow, "nodes"),
            json={"name": "x", **fields},
            headers=if_match(workflow),
        )
        assert response.status_code == 422, response.text
        assert pointers(response) == [pointer]
    assert await current_version(client, workflow) == 1


async def test_patch_may_not_point_a_node_at_another_owners_tool(
    client: httpx.AsyncClient, workflow: Json, database_url: str, user_id: uuid.UUID
) -> None:
    own_tool = await insert_tool(database_url, user_id)
    other_tool = await insert_tool(database_url, uuid.uuid4())
    node = await create_node(client, workflow, node_type="tool", tool_id=str(own_tool))
    response = await client.patch(
        workflow_url(workflow, "nodes", node["id"]),
        json={"tool_id": str(other_tool)},
        headers=if_match(workflow),
    )
    assert response.status_code == 422
    assert pointers(response) == ["/tool_id"]
    assert response.json()["errors"][0]["code"] == "REFERENCE_NOT_FOUND"


# Update


async def test_patch_node_replaces_named_fields_and_bumps_version(
    client: httpx.AsyncClient, workflow: Json
) -> None:
    node = await create_node(client, workflow, name="before", config={"keep": 1}, position_x=5)
    url = workflow_url(workflow, "nodes", node["id"])
    response = await client.patch(
        url, json={"name": "after", "position_y": 7}, headers=if_match(workflow)
    )
    expect(response, 200)
    updated = response.json()
    assert response.headers["etag"] == f'"{workflow["version"] + 1}"'
    assert (updated["name"], updated["position_x"], updated["position_y"]) == ("after", 5, 7)
    assert updated["config"] == {"keep": 1}
    assert updated["created_at"] == node["created_at"]
    assert updated["updated_at"] >= node["updated_at"]
    assert (await client.get(url)).json() == updated


async def test_patch_node_without_changes_keeps_the_version(
    client: httpx.AsyncClient, workflow: Json
) -> None:
    node = await create_node(client, workflow)
    before = workflow["version"]
    response = await client.patch(
        workflow_url(workflow, "nodes", node["id"]), json={}, headers=if_match(workflow)
    )
    expect(response, 200)
    assert response.headers["etag"] == f'"{before}"'


@pytest.mark.parametrize(
    ("patch", "pointer"),
    [
        ({"node_type": "tool"}, "/tool_id"),
        ({"node_type": "agent"}, "/agent_id"),
        ({"node_type": "trigger"}, "/config/trigger_type"),
        (
            {"node_type": "condition", "config": {"condition_expression": ""}},
            "/config/condition_expression",
        ),
        (
            {"node_type": "trigger", "config": {"trigger_type": "manual", "timezone": "Mars/Base"}},
            "/config/timezone",
        ),
        ({"name": None}, "/name"),
        ({"config": None}, "/config"),
        ({"timeout_seconds": 2**40}, "/timeout_seconds"),
        ({"retry_config": {"delay": 10, "max_delay": 1}}, "/retry_config"),
    ],
)
async def test_patch_node_checks_the_merged_node(
    client: httpx.AsyncClient, workflow: Json, patch: Json, pointer: str
) -> None:
    node = await create_node(client, workflow)
    response = await client.patch(
        workflow_url(workflow, "nodes", node["id"]), json=patch, headers=if_match(workflow)
    )
    assert response.status_code == 422, response.text
    assert pointer in pointers(response)
    assert await current_version(client, workflow) == workflow["version"]


async def test_patch_node_type_with_its_requirement_succeeds(
    client: httpx.AsyncClient, workflow: Json
) -> None:
    node = await create_node(client, workflow)
    response = await client.patch(
        workflow_url(workflow, "nodes", node["id"]),
        json={"node_type": "trigger", "config": {"trigger_type": "manual"}},
        headers=if_match(workflow),
    )
    expect(response, 200)
    assert response.json()["node_type"] == "trigger"


# Preconditions


async def test_node_writes_need_a_current_strong_if_match(
    client: httpx.AsyncClient, workflow: Json
) -> None:
    node = await create_node(client, workflow)
    version = workflow["version"]
    nodes_url = workflow_url(workflow, "nodes")
    node_url = workflow_url(workflow, "nodes", node["id"])
    writes = [
        ("POST", nodes_url, {"name": "x", "node_type": "adapter"}),
        ("POST", nodes_url + "/batch", {"nodes": [{"name": "x", "node_type": "adapter"}]}),
        ("PATCH", node_url, {"name": "y"}),
        ("DELETE", node_url, None),
    ]
    for method, url, body in writes:
        missing = await client.request(method, url, json=body)
        assert missing.status_code == 428, missing.text
        assert missing.json()["code"] == "PRECONDITION_REQUIRED"
        for stale in ['"1"', f'W/"{version}"', "garbage"]:
            refused = await client.request(method, url, json=body, headers={"If-Match": stale})
            assert refused.status_code == 412, refused.text
            assert refused.json()["code"] == "VERSION_MISMATCH"
            assert refused.json()["current_version"] == version
            assert refused.headers["etag"] == f'"{version}"'
    assert await current_version(client, workflow) == version
    accepted = await client.patch(node_url, json={"name": "z"}, headers={"If-Match": "*"})
    assert accepted.headers["etag"] == f'"{version + 1}"'
    listed = await client.patch(
        node_url, json={"name": "w"}, headers={"If-Match": f'"0", "{version + 1}"'}
    )
    assert listed.headers["etag"] == f'"{version + 2}"'


# Delete


async def test_delete_node_removes_its_edges_and_returns_new_etag(
    client: httpx.AsyncClient, workflow: Json
) -> None:
    a, b, c, d = [await create_node(client, workflow, name=name) for name in "abcd"]
    await create_edge(client, workflow, a, b)
    await create_edge(client, workflow, a, c)
    await create_edge(client, workflow, d, a)
    kept = await create_edge(client, workflow, b, c)
    version = workflow["version"]
    response = await client.delete(
        workflow_url(workflow, "nodes", a["id"]), headers=if_match(workflow)
    )
    assert response.status_code == 204
    assert response.headers["etag"] == f'"{version + 1}"'
    edges = (await client.get(workflow_url(workflow, "edges"))).json()["items"]
    assert [edge["id"] for edge in edges] == [kept["id"]]
    assert (await client.get(workflow_url(workflow, "nodes", a["id"]))).status_code == 404
    track(workflow, response)
    again = await client.delete(
        workflow_url(workflow, "nodes", a["id"]), headers=if_match(workflow)
    )
    assert again.status_code == 404
    assert await current_version(client, workflow) == version + 1


# Batch


async def test_batch_creates_in_request_order_with_one_version(
    client: httpx.AsyncClient, workflow: Json
) -> None:
    names = [f"step {i}" for i in range(10)]
    response = expect(
        await batch(client, workflow, [{"name": n, "node_type": "adapter"} for n in names]), 201
    )
    assert [item["name"] for item in response.json()["items"]] == names
    assert response.headers["etag"] == '"2"'
    listed = (await client.get(workflow_url(workflow, "nodes") + "?limit=100")).json()["items"]
    assert sorted(item["name"] for item in listed) == names


async def test_batch_is_all_or_nothing_and_reports_every_bad_reference(
    client: httpx.AsyncClient, workflow: Json, database_url: str, user_id: uuid.UUID
) -> None:
    own_tool = await insert_tool(database_url, user_id)
    other_tool = await insert_tool(database_url, uuid.uuid4())
    nodes = [
        {"name": "ok", "node_type": "tool", "tool_id": str(own_tool)},
        {"name": "theirs", "node_type": "tool", "tool_id": str(other_tool)},
        {"name": "ok", "node_type": "adapter"},
        {"name": "missing", "node_type": "agent", "agent_id": str(uuid.uuid4())},
    ]
    response = await batch(client, workflow, nodes)
    assert response.status_code == 422
    assert pointers(response) == ["/nodes/1/tool_id", "/nodes/3/agent_id"]
    assert await current_version(client, workflow) == 1
    assert (await client.get(workflow_url(workflow, "nodes"))).json()["items"] == []


async def test_batch_reports_every_invalid_item_by_index(
    client: httpx.AsyncClient, workflow: Json
) -> None:
    nodes = [
        {"name": "ok", "node_type": "adapter"},
        {"name": "", "node_type": "adapter"},
        {"name": "ok", "node_type": "adapter"},
        {"name": "t", "node_type": "trigger"},
        {"name": "x", "node_type": "nope"},
    ]
    response = await batch(client, workflow, nodes)
    assert response.status_code == 422
    assert pointers(response) == [
        "/nodes/1/name",
        "/nodes/3/config/trigger_type",
        "/nodes/4/node_type",
    ]
    assert await current_version(client, workflow) == 1


@pytest.mark.parametrize(("count", "pointer"), [(0, "/nodes"), (101, "/nodes")])
async def test_batch_size_is_bounded(
    client: httpx.AsyncClient, workflow: Json, count: int, pointer: str
) -> None:
    response = await batch(client, workflow, [{"name": "n", "node_type": "adapter"}] * count)
    assert response.status_code == 422
    assert pointers(response) == [pointer]
    assert await current_version(client, workflow) == 1


# Isolation and soft delete


async def test_another_user_gets_404_on_every_node_route(
    client: httpx.AsyncClient, workflow: Json, stranger: dict[str, str]
) -> None:
    node = await create_node(client, workflow)
    nodes_url = workflow_url(workflow, "nodes")
    node_url = workflow_url(workflow, "nodes", node["id"])
    writes = {"If-Match": "*", **stranger}
    requests = [
        ("GET", nodes_url, None, stranger),
        ("GET", node_url, None, stranger),
        ("POST", nodes_url, {"name": "x", "node_type": "adapter"}, writes),
        ("POST", nodes_url + "/batch", {"nodes": [{"name": "x", "node_type": "adapter"}]}, writes),
        ("PATCH", node_url, {"name": "mine"}, writes),
        ("DELETE", node_url, None, writes),
    ]
    for method, url, body, headers in requests:
        response = await client.request(method, url, json=body, headers=headers)
        assert response.status_code == 404, (method, url, response.text)
        assert response.json()["code"] == "NOT_FOUND"
    assert (await client.get(node_url)).json() == node
    assert await current_version(client, workflow) == workflow["version"]


async def test_node_of_another_workflow_is_404(client: httpx.AsyncClient, workflow: Json) -> None:
    other = await create_workflow(client, name="other")
    node = await create_node(client, other)
    url = workflow_url(workflow, "nodes", node["id"])
    assert (await client.get(url)).status_code == 404
    patched = await client.patch(url, json={"name": "x"}, headers=if_match(workflow))
    assert patched.status_code == 404
    deleted = await client.delete(url, headers=if_match(workflow))
    assert deleted.status_code == 404
    assert await current_version(client, workflow) == 1
    assert (await client.get(workflow_url(other, "nodes", node["id"]))).status_code == 200


async def test_soft_deleted_workflow_shows_and_accepts_no_nodes(
    client: httpx.AsyncClient, workflow: Json
) -> None:
    node = await create_node(client, workflow)
    expect(await client.delete(workflow_url(workflow), headers=if_match(workflow)), 204)
    headers = {"If-Match": "*"}
    assert (await client.get(workflow_url(workflow, "nodes"))).status_code == 404
    assert (await client.get(workflow_url(workflow, "nodes", node["id"]))).status_code == 404
    created = await client.post(
        workflow_url(workflow, "nodes"), json={"name": "x", "node_type": "adapter"}, headers=headers
    )
    assert created.status_code == 404
    patched = await client.patch(
        workflow_url(workflow, "nodes", node["id"]), json={}, headers=headers
    )
    assert patched.status_code == 404


# Size limits


@pytest.fixture
async def small_client(
    settings: Settings, make_token: Callable[[uuid.UUID | None], str]
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app that allows 3 nodes, 2 edges and batches of 3."""
    limits = {"max_nodes_per_workflow": 3, "max_edges_per_workflow": 2, "max_batch_items": 3}
    app = create_app(settings.model_copy(update=limits))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {make_token(None)}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test", headers=headers
        ) as client:
            yield client


async def test_nodes_beyond_the_workflow_limit_are_graph_too_large(
    small_client: httpx.AsyncClient,
) -> None:
    workflow = await create_workflow(small_client)
    too_many = await batch(small_client, workflow, [{"name": "n", "node_type": "adapter"}] * 4)
    assert too_many.status_code == 422
    assert pointers(too_many) == ["/nodes"]
    assert too_many.json()["errors"][0]["code"] == "TOO_MANY_ITEMS"
    track(
        workflow,
        expect(
            await batch(small_client, workflow, [{"name": "n", "node_type": "adapter"}] * 2), 201
        ),
    )
    over = await batch(small_client, workflow, [{"name": "n", "node_type": "adapter"}] * 2)
    assert over.status_code == 422
    assert over.json()["code"] == "GRAPH_TOO_LARGE"
    await create_node(small_client, workflow)
    single = await small_client.post(
        workflow_url(workflow, "nodes"),
        json={"name": "x", "node_type": "adapter"},
        headers=if_match(workflow),
    )
    assert single.status_code == 422
    assert single.json()["code"] == "GRAPH_TOO_LARGE"
    assert await current_version(small_client, workflow) == workflow["version"]


# OpenAPI


async def test_openapi_declares_node_operations(app_client: httpx.AsyncClient) -> None:
    schema = (await app_client.get("/openapi.json")).json()
    operations = {
        operation["operationId"]: operation
        for path in schema["paths"].values()
        for operation in path.values()
    }
    expected = {
        "list_nodes": {"200", "404", "422"},
        "create_node": {"201", "404", "412", "422", "428"},
        "create_nodes_batch": {"201", "404", "412", "422", "428"},
        "get_node": {"200", "304", "404"},
        "update_node": {"200", "404", "412", "422", "428"},
        "delete_node": {"204", "404", "412", "428"},
    }
    for operation_id, statuses in expected.items():
        assert statuses <= set(operations[operation_id]["responses"]), operation_id
    created = operations["create_node"]["responses"]["201"]
    assert {"ETag", "Location"} <= set(created["headers"])


@pytest.mark.parametrize("collection", ["nodes", "edges"])
@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE", "PUT"])
async def test_batch_path_answers_405_to_other_methods(
    client: httpx.AsyncClient, workflow: Json, collection: str, method: str
) -> None:
    response = await client.request(
        method, workflow_url(workflow, collection, "batch"), headers={"If-Match": "*"}
    )
    assert response.status_code == 405
    assert response.json()["code"] == "METHOD_NOT_ALLOWED"
