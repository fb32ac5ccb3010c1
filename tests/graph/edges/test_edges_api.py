"""Edge endpoints over HTTP: the graph stays a DAG of distinct connections after every write."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from service.config import Settings
from service.main import create_app
from tests.factories import (
    create_edge,
    create_node,
    create_workflow,
    expect,
    if_match,
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
    """A fresh workflow of the test's user."""
    return await create_workflow(client)


@pytest.fixture
async def abc(client: httpx.AsyncClient, workflow: Json) -> list[Json]:
    """Three unconnected nodes a, b, c in the workflow."""
    return [await create_node(client, workflow, name=name) for name in "abc"]


def pointers(response: httpx.Response) -> list[str]:
    """The JSON pointers a VALIDATION_ERROR names."""
    body = response.json()
    assert body["code"] == "VALIDATION_ERROR", body
    return [error.get("pointer") or error.get("parameter") for error in body["errors"]]


def link(source: Json, target: Json, **fields: Any) -> Json:
    """An edge body from `source` to `target`."""
    return {"source_node_id": source["id"], "target_node_id": target["id"], **fields}


async def current_version(client: httpx.AsyncClient, workflow: Json) -> int:
    """The workflow's version as the API reports it now."""
    return int(expect(await client.get(workflow_url(workflow)), 200).json()["version"])


async def edge_ids(client: httpx.AsyncClient, workflow: Json) -> list[str]:
    """Ids of every edge of the workflow."""
    response = expect(await client.get(workflow_url(workflow, "edges") + "?limit=100"), 200)
    return [edge["id"] for edge in response.json()["items"]]


async def post_edge(client: httpx.AsyncClient, workflow: Json, body: Json) -> httpx.Response:
    """POST one edge with the workflow's current If-Match."""
    return await client.post(workflow_url(workflow, "edges"), json=body, headers=if_match(workflow))


async def batch(client: httpx.AsyncClient, workflow: Json, edges: list[Json]) -> httpx.Response:
    """POST an edge batch with the workflow's current If-Match."""
    return await client.post(
        workflow_url(workflow, "edges", "batch"), json={"edges": edges}, headers=if_match(workflow)
    )


# Create, read, list, delete


async def test_create_edge_answers_201_with_location_and_new_etag(
    client: httpx.AsyncClient, workflow: Json, abc: list[Json]
) -> None:
    a, b, _c = abc
    version = workflow["version"]
    body = link(
        a, b, source_handle="out", label="next", priority=2, condition={"type": "on_success"}
    )
    response = expect(await post_edge(client, workflow, body), 201)
    edge = response.json()
    assert response.headers["etag"] == f'"{version + 1}"'
    assert response.headers["location"].endswith(f"/edges/{edge['id']}")
    assert edge["workflow_id"] == workflow["id"]
    assert {key: edge[key] for key in body} == body
    assert edge["target_handle"] is None
    read = expect(await client.get(response.headers["location"]), 200)
    assert read.json() == edge
    assert read.headers["etag"] == f'"{version + 1}"'
    not_modified = await client.get(
        response.headers["location"], headers={"If-None-Match": f'W/"{version + 1}"'}
    )
    assert not_modified.status_code == 304


async def test_list_edges_pages_with_cursor(
    client: httpx.AsyncClient, workflow: Json, abc: list[Json]
) -> None:
    a, b, c = abc
    created = [
        await create_edge(client, workflow, a, b),
        await create_edge(client, workflow, b, c),
        await create_edge(client, workflow, a, c),
    ]
    first = expect(await client.get(workflow_url(workflow, "edges") + "?limit=2"), 200)
    assert first.headers["etag"] == f'"{workflow["version"]}"'
    cursor = first.json()["next_cursor"]
    assert cursor is not None
    assert 'rel="next"' in first.headers["link"]
    second = expect(
        await client.get(workflow_url(workflow, "edges"), params={"cursor": cursor}), 200
    )
    assert second.json()["next_cursor"] is None
    listed = [edge["id"] for edge in first.json()["items"] + second.json()["items"]]
    assert sorted(listed) == sorted(edge["id"] for edge in created)


async def test_delete_edge_answers_204_with_new_etag(
    client: httpx.AsyncClient, workflow: Json, abc: list[Json]
) -> None:
    a, b, _c = abc
    edge = await create_edge(client, workflow, a, b)
    url = workflow_url(workflow, "edges", edge["id"])
    response = await client.delete(url, headers=if_match(workflow))
    assert response.status_code == 204
    assert response.headers["etag"] == f'"{workflow["version"] + 1}"'
    track(workflow, response)
    assert (await client.get(url)).status_code == 404
    assert (await client.delete(url, headers=if_match(workflow))).status_code == 404
    assert await current_version(client, workflow) == workflow["version"]


# Single-edge refusals


async def test_self_loop_is_refused(
    client: httpx.AsyncClient, workflow: Json, abc: list[Json]
) -> None:
    a = abc[0]
    response = await post_edge(client, workflow, link(a, a))
    assert response.status_code == 422
    assert response.json()["code"] == "SELF_LOOP"
    assert await current_version(client, workflow) == workflow["version"]


async def test_node_outside_the_workflow_is_refused(
    client: httpx.AsyncClient, workflow: Json, abc: list[Json]
) -> None:
    other = await create_workflow(client, name="other")
    foreign = await create_node(client, other)
    for body in [link(abc[0], foreign), link({"id": str(uuid.uuid4())}, abc[1])]:
        response = await post_edge(client, workflow, body)
        assert response.status_code == 422
        assert response.json()["code"] == "NODE_NOT_IN_WORKFLOW"
    assert await current_version(client, workflow) == workflow["version"]


async def test_duplicate_connection_is_409_with_the_existing_edge(
    client: httpx.AsyncClient, workflow: Json, abc: list[Json]
) -> None:
    a, b, _c = abc
    plain = await create_edge(client, workflow, a, b)
    handled = await create_edge(client, workflow, a, b, source_handle="true")
    for existing, body in [
        (plain, link(a, b, label="x")),
        (handled, link(a, b, source_handle="true")),
    ]:
        response = await post_edge(client, workflow, body)
        assert response.status_code == 409
        assert response.json()["code"] == "DUPLICATE_EDGE"
        assert response.json()["existing_edge_id"] == existing["id"]
    await create_edge(client, workflow, a, b, source_handle="true", target_handle="in")


async def test_closing_a_cycle_is_409_with_the_cycle_path(
    client: httpx.AsyncClient, workflow: Json, abc: list[Json]
) -> None:
    a, b, c = abc
    await create_edge(client, workflow, a, b)
    await create_edge(client, workflow, b, c)
    response = await post_edge(client, workflow, link(c, a))
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "CYCLE_DETECTED"
    assert body["cycle_path"] == [c["id"], a["id"], b["id"], c["id"]]
    assert await current_version(client, workflow) == workflow["version"]


@pytest.mark.parametrize(
    ("fields", "pointer"),
    [
        ({"source_node_id": "not-a-uuid"}, "/source_node_id"),
        ({"priority": 2**40}, "/priority"),
        ({"label": "x" * 101}, "/label"),
        ({"source_handle": "a\x00b"}, "/source_handle"),
        ({"condition": {"type": "sometimes"}}, "/condition/type"),
        ({"condition": {"value": 1}}, "/condition/type"),
    ],
)
async def test_create_edge_refuses_bad_input(
    client: httpx.AsyncClient, workflow: Json, abc: list[Json], fields: Json, pointer: str
) -> None:
    a, b, _c = abc
    response = await post_edge(client, workflow, {**link(a, b), **fields})
    assert response.status_code == 422
    assert pointer in pointers(response)


# Update


async def test_patch_edge_changes_fields_and_bumps_version(
    client: httpx.AsyncClient, workflow: Json, abc: list[Json]
) -> None:
    a, b, c = abc
    edge = await create_edge(client, workflow, a, b, label="old")
    url = workflow_url(workflow, "edges", edge["id"])
    response = await client.patch(
        url, json={"label": "new", "target_node_id": c["id"]}, headers=if_match(workflow)
    )
    expect(response, 200)
    assert response.headers["etag"] == f'"{workflow["version"] + 1}"'
    track(workflow, response)
    assert (response.json()["label"], response.json()["target_node_id"]) == ("new", c["id"])
    unchanged = await client.patch(url, json={}, headers=if_match(workflow))
    assert unchanged.headers["etag"] == f'"{workflow["version"]}"'


async def test_patch_edge_keeps_the_graph_a_dag(
    client: httpx.AsyncClient, workflow: Json, abc: list[Json]
) -> None:
    a, b, c = abc
    ab = await create_edge(client, workflow, a, b)
    await create_edge(client, workflow, b, c)
    other = await create_workflow(client, name="other")
    foreign = await create_node(client, other)
    url = workflow_url(workflow, "edges", ab["id"])
    cases = [
        ({"source_node_id": c["id"]}, 409, "CYCLE_DETECTED"),
        ({"target_node_id": a["id"]}, 422, "SELF_LOOP"),
        ({"target_node_id": foreign["id"]}, 422, "NODE_NOT_IN_WORKFLOW"),
        ({"source_node_id": b["id"], "target_node_id": c["id"]}, 409, "DUPLICATE_EDGE"),
    ]
    for patch, status, code in cases:
        response = await client.patch(url, json=patch, headers=if_match(workflow))
        assert response.status_code == status, response.text
        assert response.json()["code"] == code
    assert await current_version(client, workflow) == workflow["version"]
    # The edge's own old direction a -> b does not count against its new one b -> a.
    reversed_edge = await client.patch(
        url, json={"source_node_id": b["id"], "target_node_id": a["id"]}, headers=if_match(workflow)
    )
    assert reversed_edge.status_code == 200, reversed_edge.text


@pytest.mark.parametrize(
    ("patch", "pointer"),
    [
        ({"source_node_id": None}, "/source_node_id"),
        ({"priority": None}, "/priority"),
        ({"condition": {"type": "bogus"}}, "/condition/type"),
        ({"target_handle": "x" * 51}, "/target_handle"),
    ],
)
async def test_patch_edge_refuses_bad_input(
    client: httpx.AsyncClient, workflow: Json, abc: list[Json], patch: Json, pointer: str
) -> None:
    a, b, _c = abc
    edge = await create_edge(client, workflow, a, b)
    response = await client.patch(
        workflow_url(workflow, "edges", edge["id"]), json=patch, headers=if_match(workflow)
    )
    assert response.status_code == 422
    assert pointer in pointers(response)
    assert await current_version(client, workflow) == workflow["version"]


# Preconditions


async def test_edge_writes_need_a_current_strong_if_match(
    client: httpx.AsyncClient, workflow: Json, abc: list[Json]
) -> None:
    a, b, c = abc
    edge = await create_edge(client, workflow, a, b)
    version = workflow["version"]
    edges_url = workflow_url(workflow, "edges")
    edge_url = workflow_url(workflow, "edges", edge["id"])
    writes = [
        ("POST", edges_url, link(b, c)),
        ("POST", edges_url + "/batch", {"edges": [link(b, c)]}),
        ("PATCH", edge_url, {"label": "x"}),
        ("DELETE", edge_url, None),
    ]
    for method, url, body in writes:
        missing = await client.request(method, url, json=body)
        assert missing.status_code == 428
        assert missing.json()["code"] == "PRECONDITION_REQUIRED"
        for stale in [f'"{version - 1}"', f'W/"{version}"']:
            refused = await client.request(method, url, json=body, headers={"If-Match": stale})
            assert refused.status_code == 412
            assert refused.json()["current_version"] == version
            assert refused.headers["etag"] == f'"{version}"'
    assert await current_version(client, workflow) == version
    accepted = await client.post(edges_url, json=link(b, c), headers={"If-Match": "*"})
    assert accepted.status_code == 201
    assert accepted.headers["etag"] == f'"{version + 1}"'


async def test_concurrent_opposite_edges_cannot_both_succeed(
    client: httpx.AsyncClient, workflow: Json, abc: list[Json]
) -> None:
    a, b, _c = abc
    any_version = {"If-Match": "*"}
    url = workflow_url(workflow, "edges")
    responses = await asyncio.gather(
        client.post(url, json=link(a, b), headers=any_version),
        client.post(url, json=link(b, a), headers=any_version),
    )
    assert sorted(response.status_code for response in responses) == [201, 409]
    assert await current_version(client, workflow) == workflow["version"] + 1


# Batch


async def test_batch_creates_edges_in_order_with_one_version(
    client: httpx.AsyncClient, workflow: Json, abc: list[Json]
) -> None:
    a, b, c = abc
    version = workflow["version"]
    bodies = [link(a, b), link(b, c), link(a, c), link(a, b, source_handle="x")]
    response = expect(await batch(client, workflow, bodies), 201)
    assert response.headers["etag"] == f'"{version + 1}"'
    items = response.json()["items"]
    assert [(i["source_node_id"], i["target_node_id"], i["source_handle"]) for i in items] == [
        (body["source_node_id"], body["target_node_id"], body.get("source_handle"))
        for body in bodies
    ]
    assert sorted(await edge_ids(client, workflow)) == sorted(item["id"] for item in items)


async def test_batch_lists_every_bad_item_and_writes_nothing(
    client: httpx.AsyncClient, workflow: Json, abc: list[Json]
) -> None:
    a, b, c = abc
    stored = await create_edge(client, workflow, a, b)
    version = workflow["version"]
    bodies = [
        link(b, c),
        link(c, c),
        link(a, {"id": str(uuid.uuid4())}),
        link(a, b),
        link(a, c, source_handle="h"),
        link(a, c, source_handle="h"),
    ]
    response = await batch(client, workflow, bodies)
    assert response.status_code == 422
    assert pointers(response) == [
        "/edges/1/target_node_id",
        "/edges/2/target_node_id",
        "/edges/3",
        "/edges/5",
    ]
    codes = [item["code"] for item in response.json()["errors"]]
    assert codes == ["SELF_LOOP", "NODE_NOT_IN_WORKFLOW", "DUPLICATE_EDGE", "DUPLICATE_EDGE"]
    assert stored["id"] in response.json()["errors"][2]["detail"]
    assert "/edges/4" in response.json()["errors"][3]["detail"]
    assert await current_version(client, workflow) == version
    assert await edge_ids(client, workflow) == [stored["id"]]


async def test_batch_reports_field_errors_by_index(
    client: httpx.AsyncClient, workflow: Json, abc: list[Json]
) -> None:
    a, b, c = abc
    bodies = [link(a, b), {"source_node_id": a["id"]}, link(b, c, priority="high")]
    response = await batch(client, workflow, bodies)
    assert pointers(response) == ["/edges/1/target_node_id", "/edges/2/priority"]
    assert {item["code"] for item in response.json()["errors"]} == {"INVALID_VALUE"}


async def test_batch_closing_a_cycle_is_409(
    client: httpx.AsyncClient, workflow: Json, abc: list[Json]
) -> None:
    a, b, c = abc
    await create_edge(client, workflow, a, b)
    version = workflow["version"]
    response = await batch(client, workflow, [link(b, c), link(c, a)])
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "CYCLE_DETECTED"
    assert body["cycle_path"][0] == body["cycle_path"][-1]
    assert set(body["cycle_path"]) == {a["id"], b["id"], c["id"]}
    assert await current_version(client, workflow) == version
    within = await batch(client, workflow, [link(b, c), link(c, b, source_handle="back")])
    assert within.status_code == 409


async def test_batch_size_is_bounded(
    client: httpx.AsyncClient, workflow: Json, abc: list[Json]
) -> None:
    a, b, _c = abc
    empty = await batch(client, workflow, [])
    assert pointers(empty) == ["/edges"]
    too_many = await batch(client, workflow, [link(a, b, source_handle=str(i)) for i in range(101)])
    assert pointers(too_many) == ["/edges"]


# Isolation and soft delete


async def test_another_user_gets_404_on_every_edge_route(
    client: httpx.AsyncClient, workflow: Json, abc: list[Json], stranger: dict[str, str]
) -> None:
    a, b, c = abc
    edge = await create_edge(client, workflow, a, b)
    edges_url = workflow_url(workflow, "edges")
    edge_url = workflow_url(workflow, "edges", edge["id"])
    writes = {"If-Match": "*", **stranger}
    requests = [
        ("GET", edges_url, None, stranger),
        ("GET", edge_url, None, stranger),
        ("POST", edges_url, link(b, c), writes),
        ("POST", edges_url + "/batch", {"edges": [link(b, c)]}, writes),
        ("PATCH", edge_url, {"label": "mine"}, writes),
        ("DELETE", edge_url, None, writes),
    ]
    for method, url, body, headers in requests:
        response = await client.request(method, url, json=body, headers=headers)
        assert response.status_code == 404, (method, url, response.text)
    assert await edge_ids(client, workflow) == [edge["id"]]
    assert await current_version(client, workflow) == workflow["version"]
    their_workflow = await client.post(
        "/api/v1/workflows", json={"name": "theirs"}, headers=stranger
    )
    their_url = f"/api/v1/workflows/{their_workflow.json()['id']}/edges"
    assert (await client.get(their_url, headers=stranger)).json()["items"] == []


async def test_edge_of_another_workflow_is_404(
    client: httpx.AsyncClient, workflow: Json, abc: list[Json]
) -> None:
    other = await create_workflow(client, name="other")
    x, y = await create_node(client, other), await create_node(client, other)
    edge = await create_edge(client, other, x, y)
    url = workflow_url(workflow, "edges", edge["id"])
    assert (await client.get(url)).status_code == 404
    assert (await client.patch(url, json={}, headers=if_match(workflow))).status_code == 404
    assert (await client.delete(url, headers=if_match(workflow))).status_code == 404
    assert await current_version(client, workflow) == workflow["version"]


async def test_soft_deleted_workflow_shows_no_edges(
    client: httpx.AsyncClient, workflow: Json, abc: list[Json]
) -> None:
    a, b, c = abc
    edge = await create_edge(client, workflow, a, b)
    expect(await client.delete(workflow_url(workflow), headers=if_match(workflow)), 204)
    assert (await client.get(workflow_url(workflow, "edges"))).status_code == 404
    assert (await client.get(workflow_url(workflow, "edges", edge["id"]))).status_code == 404
    created = await client.post(
        workflow_url(workflow, "edges"), json=link(b, c), headers={"If-Match": "*"}
    )
    assert created.status_code == 404


# Size limits


@pytest.fixture
async def small_client(
    settings: Settings, make_token: Callable[[uuid.UUID | None], str]
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app that allows 2 edges per workflow."""
    app = create_app(settings.model_copy(update={"max_edges_per_workflow": 2}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {make_token(None)}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test", headers=headers
        ) as client:
            yield client


async def test_edges_beyond_the_workflow_limit_are_graph_too_large(
    small_client: httpx.AsyncClient,
) -> None:
    workflow = await create_workflow(small_client)
    a, b, c = [await create_node(small_client, workflow, name=name) for name in "abc"]
    over_batch = await batch(small_client, workflow, [link(a, b), link(b, c), link(a, c)])
    assert over_batch.status_code == 422
    assert over_batch.json()["code"] == "GRAPH_TOO_LARGE"
    await create_edge(small_client, workflow, a, b)
    await create_edge(small_client, workflow, b, c)
    third = await post_edge(small_client, workflow, link(a, c))
    assert third.status_code == 422
    assert third.json()["code"] == "GRAPH_TOO_LARGE"
    assert await current_version(small_client, workflow) == workflow["version"]


# OpenAPI


async def test_openapi_declares_edge_operations(app_client: httpx.AsyncClient) -> None:
    schema = (await app_client.get("/openapi.json")).json()
    operations = {
        operation["operationId"]: operation
        for path in schema["paths"].values()
        for operation in path.values()
    }
    expected = {
        "list_edges": {"200", "404", "422"},
        "create_edge": {"201", "404", "409", "412", "422", "428"},
        "create_edges_batch": {"201", "404", "409", "412", "422", "428"},
        "get_edge": {"200", "304", "404"},
        "update_edge": {"200", "404", "409", "412", "422", "428"},
        "delete_edge": {"204", "404", "412", "428"},
    }
    for operation_id, statuses in expected.items():
        assert statuses <= set(operations[operation_id]["responses"]), operation_id
