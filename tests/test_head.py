"""HEAD on every GET route (RFC 9110 9.3.2): the same status and headers, no body."""

import uuid

import httpx
import pytest
from fastapi.routing import iter_route_contexts

from service.config import Settings
from service.main import create_app
from tests.factories import API, create_workflow
from tests.write_requests import registry_entry, valid_graph_body

COMPARED_HEADERS = ("etag", "content-type", "content-length", "content-encoding", "vary", "link")
CHANGING_BODIES = {"/metrics"}  # counters move between the GET and the HEAD
QUERIES = {f"{API}/workflows/{{workflow_id}}/diff": "?from=1&to=current"}
# An event stream never ends, and the in-process transport waits for the end of a body: its
# HEAD is compared with a streamed GET over a live server (tests/events/test_events_api.py).
STREAMS = {f"{API}/workflows/{{workflow_id}}/events"}


def get_paths(settings: Settings) -> list[str]:
    """The path template of every route that answers GET, documented or not."""
    routes = iter_route_contexts(create_app(settings).routes)
    return sorted(route.path_format for route in routes if "GET" in (route.methods or ()))


async def path_values(client: httpx.AsyncClient) -> dict[str, str]:
    """A value for every path parameter: a published workflow with two nodes and an edge, etc."""
    workflow = await create_workflow(client)
    graph = valid_graph_body()
    url = f"{API}/workflows/{workflow['id']}"
    saved = await client.put(f"{url}/graph", json=graph, headers={"If-Match": '"1"'})
    published = await client.post(
        f"{url}/publish", json={}, headers={"If-Match": saved.headers["etag"]}
    )
    assert published.status_code == 200, published.text
    tool = await registry_entry(client, "tools", trashed=False)
    agent = await registry_entry(client, "agents", trashed=False)
    return {
        "workflow_id": workflow["id"],
        "node_id": graph["nodes"][0]["id"],
        "edge_id": graph["edges"][0]["id"],
        "tool_id": tool["id"],
        "agent_id": agent["id"],
        "number": "1",
    }


def test_the_routes_include_every_api_read(settings: Settings) -> None:
    paths = get_paths(settings)

    assert {f"{API}/workflows/{{workflow_id}}/graph", "/healthz", "/openapi.json"} <= set(paths)
    assert len(paths) == len(set(paths)) >= 20


@pytest.mark.parametrize("encoding", ["identity", "gzip"])
async def test_head_answers_every_get_route_like_get(
    client: httpx.AsyncClient, settings: Settings, encoding: str
) -> None:
    values = await path_values(client)
    for template in get_paths(settings):
        if template in STREAMS:
            continue
        url = template.format(**values) + QUERIES.get(template, "")
        headers = {"Accept-Encoding": encoding}

        got = await client.get(url, headers=headers)
        head = await client.head(url, headers=headers)

        assert got.status_code == 200, (url, got.text)
        assert (head.status_code, head.content) == (200, b""), url
        for name in COMPARED_HEADERS:
            if name == "content-length" and template in CHANGING_BODIES:
                continue
            assert head.headers.get(name) == got.headers.get(name), (url, name)


async def test_head_keeps_error_and_not_modified_answers(client: httpx.AsyncClient) -> None:
    workflow = await create_workflow(client)
    url = f"{API}/workflows/{workflow['id']}"

    missing = await client.head(f"{API}/workflows/{uuid.uuid4()}")
    held = await client.head(url, headers={"If-None-Match": f'"{workflow["version"]}"'})
    not_readable = await client.head(f"{url}/restore")

    assert (missing.status_code, missing.content) == (404, b"")
    assert missing.headers["content-type"] == "application/problem+json"
    assert (held.status_code, held.headers["etag"]) == (304, f'"{workflow["version"]}"')
    assert not_readable.status_code == 405
    assert "HEAD" not in not_readable.headers["allow"]


async def test_the_openapi_document_lists_no_head_operations(
    app_client: httpx.AsyncClient,
) -> None:
    openapi = (await app_client.get("/openapi.json")).json()

    assert not [path for path, item in openapi["paths"].items() if "head" in item]
