"""Unknown members of a write body are refused: 422 with an UNKNOWN_MEMBER item pointing at it."""

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.factories import expect
from tests.write_requests import WRITE_REQUESTS, WriteRequest

OPENAPI = json.loads((Path(__file__).parent.parent / "openapi.json").read_text())
OPERATIONS = {
    operation["operationId"]: operation
    for path_item in OPENAPI["paths"].values()
    for operation in path_item.values()
    if isinstance(operation, dict) and "operationId" in operation
}
WITH_BODY = sorted(
    operation_id for operation_id in WRITE_REQUESTS if "requestBody" in OPERATIONS[operation_id]
)


def with_member(request: WriteRequest, pointer: str, value: Any) -> WriteRequest:
    """The request with one more member at `pointer` (an object member of its body)."""
    body = json.loads(json.dumps(request.body if request.body is not None else {}))
    *parents, name = pointer.strip("/").split("/")
    target = body
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    target[name] = value
    return WriteRequest(request.method, request.url, body, request.version, request.creates)


async def assert_refused_at(client: httpx.AsyncClient, request: WriteRequest, pointer: str) -> None:
    """The request answers 422 VALIDATION_ERROR with an UNKNOWN_MEMBER item at `pointer`."""
    response = expect(await request.send(client), 422)
    assert response.json()["code"] == "VALIDATION_ERROR"
    items = response.json()["errors"]
    assert {"code": "UNKNOWN_MEMBER", "pointer": pointer} in [
        {"code": item["code"], "pointer": item.get("pointer")} for item in items
    ], items


def test_every_write_with_a_body_is_covered() -> None:
    assert {"update_node", "replace_graph", "create_nodes_batch", "update_tool"} <= set(WITH_BODY)


@pytest.mark.parametrize("operation_id", WITH_BODY)
async def test_an_unknown_member_is_refused_with_its_pointer(
    client: httpx.AsyncClient, operation_id: str
) -> None:
    request = await WRITE_REQUESTS[operation_id](client)

    await assert_refused_at(
        client, with_member(request, "/position", {"x": 1, "y": 2}), "/position"
    )


@pytest.mark.parametrize(
    ("operation_id", "pointer"),
    [
        ("create_nodes_batch", "/nodes/0/position"),
        ("create_edges_batch", "/edges/0/sourceHandle"),
        ("replace_graph", "/nodes/0/position"),
        ("update_workflow", "/version"),  # read-only members are refused outside PUT /graph
        ("update_node", "/workflow_id"),
    ],
)
async def test_an_unknown_member_of_an_item_is_refused_with_its_pointer(
    client: httpx.AsyncClient, operation_id: str, pointer: str
) -> None:
    request = await WRITE_REQUESTS[operation_id](client)

    await assert_refused_at(client, with_member(request, pointer, 1), pointer)


async def test_free_form_json_fields_stay_open(client: httpx.AsyncClient) -> None:
    request = await WRITE_REQUESTS["update_workflow"](client)
    open_config = with_member(request, "/variables", {"anything": {"goes": True}})

    assert expect(await open_config.send(client), 200).json()["variables"] == {
        "anything": {"goes": True}
    }


async def test_the_read_only_members_of_the_graph_are_ignored_on_put(
    client: httpx.AsyncClient,
) -> None:
    request = await WRITE_REQUESTS["replace_graph"](client)
    read_only = {"version": 99, "created_at": "2000-01-01T00:00:00Z", "is_deleted": True}
    node_read_only = {
        "workflow_id": "0" * 8 + "-0000-0000-0000-" + "0" * 12,
        "updated_at": "2000-01-01T00:00:00Z",
    }
    body = {**request.body, **read_only}
    body["nodes"] = [{**node, **node_read_only} for node in body["nodes"]]
    saved = WriteRequest(request.method, request.url, body, request.version)

    response = expect(await saved.send(client), 200)

    assert response.json()["version"] == request.version + 1
    assert response.json()["nodes"][0]["workflow_id"] != node_read_only["workflow_id"]
