"""No-op writes: a write whose result equals what is stored keeps the version, changes nothing."""

import dataclasses

import httpx
import pytest

from tests.factories import API, expect
from tests.write_requests import WRITE_REQUESTS, WriteRequest

# The writes that can leave a resource as it was: each is sent once (a change), then again.
REPEATABLE = ["update_workflow", "update_node", "update_edge", "update_tool", "update_agent"]
REPEATABLE += ["replace_graph"]
PATCHES = [operation for operation in REPEATABLE if operation.startswith("update_")]


def owner_url(request: WriteRequest) -> str:
    """The workflow (or tool, agent) that a write changes, which carries the version."""
    collection, row_id = request.url.removeprefix(f"{API}/").split("/")[:2]
    return f"{API}/{collection}/{row_id}"


async def snapshot(client: httpx.AsyncClient, request: WriteRequest) -> list[object]:
    """What a no-op must leave alone: the resource, its owner (version, updated_at), revisions
    and change log."""
    owner = owner_url(request)
    urls = [request.url, owner]
    if owner.startswith(f"{API}/workflows/"):
        urls += [f"{owner}/revisions", f"{owner}/changes?since=0&limit=100"]
    return [expect(await client.get(url), 200).json() for url in urls]


async def changed_once(client: httpx.AsyncClient, operation_id: str) -> WriteRequest:
    """The operation's request after it was applied once, If-Match naming the new version."""
    request = await WRITE_REQUESTS[operation_id](client)
    applied = expect(await request.send(client), 200)
    return dataclasses.replace(request, version=int(applied.headers["etag"].strip('"')))


@pytest.mark.parametrize("prefer", ["return=representation", "return=minimal"])
@pytest.mark.parametrize("operation_id", REPEATABLE)
async def test_repeating_a_write_keeps_the_version_and_changes_nothing(
    client: httpx.AsyncClient, operation_id: str, prefer: str
) -> None:
    request = await changed_once(client, operation_id)
    before = await snapshot(client, request)

    again = await request.send(client, Prefer=prefer)

    assert again.status_code == (204 if prefer == "return=minimal" else 200), again.text
    assert again.headers["etag"] == f'"{request.version}"'
    assert await snapshot(client, request) == before
    if operation_id == "replace_graph" and prefer == "return=representation":
        counts = {"created": 0, "updated": 0, "deleted": 0}
        assert again.json()["changes"] == {"nodes": counts, "edges": counts}


# PATCH {} everywhere; a node's type is checked with its config and references (merged path).
UNCHANGING_PATCHES = [(operation, {}) for operation in PATCHES]
UNCHANGING_PATCHES += [("update_node", {"node_type": "adapter"})]


@pytest.mark.parametrize(("operation_id", "body"), UNCHANGING_PATCHES)
async def test_a_patch_naming_stored_values_keeps_the_version(
    client: httpx.AsyncClient, operation_id: str, body: dict[str, object]
) -> None:
    request = dataclasses.replace(await WRITE_REQUESTS[operation_id](client), body=body)
    before = await snapshot(client, request)

    response = await request.send(client)

    assert expect(response, 200).headers["etag"] == f'"{request.version}"'
    assert await snapshot(client, request) == before


@pytest.mark.parametrize("operation_id", REPEATABLE)
async def test_a_no_op_with_a_stale_if_match_is_still_refused(
    client: httpx.AsyncClient, operation_id: str
) -> None:
    request = await changed_once(client, operation_id)
    assert request.version is not None
    stale = dataclasses.replace(request, version=request.version - 1)

    response = await stale.send(client)

    assert response.status_code == 412, response.text
    assert response.json()["code"] == "VERSION_MISMATCH"


async def test_the_graph_got_can_be_put_back_as_a_no_op(client: httpx.AsyncClient) -> None:
    request = await changed_once(client, "replace_graph")
    loaded = expect(await client.get(request.url), 200)
    before = await snapshot(client, request)

    saved = await client.put(
        request.url, json=loaded.json(), headers={"If-Match": loaded.headers["etag"]}
    )

    assert expect(saved, 200).headers["etag"] == loaded.headers["etag"]
    assert await snapshot(client, request) == before


async def test_a_changing_patch_still_raises_the_version(client: httpx.AsyncClient) -> None:
    request = await changed_once(client, "update_node")
    assert request.version is not None
    moved = dataclasses.replace(request, body={"position_x": 99.0})

    response = await moved.send(client)

    assert expect(response, 200).headers["etag"] == f'"{request.version + 1}"'
