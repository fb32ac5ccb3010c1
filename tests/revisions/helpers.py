"""Shared steps of the revision tests: graphs, revisions and publishing over HTTP."""

from typing import Any

import httpx

from tests.factories import expect, if_match, track
from tests.graph.test_graph_api import edge, graph_url, node, put_graph

Json = dict[str, Any]

__all__ = ["Json", "edge", "graph_url", "node", "put_graph"]


def valid_graph() -> tuple[list[Json], list[Json]]:
    """A graph that passes validation: a trigger feeding two adapters."""
    trigger = node("start", "trigger")
    first, second = node("fetch"), node("store", config={"format": "csv", "level": 1})
    return [trigger, first, second], [edge(trigger, first), edge(first, second, label="then")]


async def revisions_of(client: httpx.AsyncClient, workflow: Json, **params: Any) -> list[Json]:
    """The workflow's revisions, newest first (one page of up to 100)."""
    response = await client.get(graph_url(workflow, "revisions"), params={"limit": 100, **params})
    return list(expect(response, 200).json()["items"])


async def checkpoint(
    client: httpx.AsyncClient, workflow: Json, message: str | None = None, status: int = 201
) -> Json:
    """POST .../revisions (no If-Match): the revision answered."""
    body = {} if message is None else {"message": message}
    response = await client.post(graph_url(workflow, "revisions"), json=body)
    return dict(expect(response, status).json())


async def publish(
    client: httpx.AsyncClient, workflow: Json, status: int = 200, **body: Any
) -> httpx.Response:
    """POST .../publish with If-Match from the workflow, tracking the new version."""
    response = await client.post(
        graph_url(workflow, "publish"), json=body, headers=if_match(workflow)
    )
    expect(response, status)
    if status == 200:
        track(workflow, response)
    return response


async def restore(
    client: httpx.AsyncClient, workflow: Json, number: int, status: int = 200
) -> httpx.Response:
    """POST .../revisions/{number}/restore with If-Match from the workflow."""
    response = await client.post(
        graph_url(workflow, f"revisions/{number}/restore"), headers=if_match(workflow)
    )
    expect(response, status)
    if status == 200:
        track(workflow, response)
    return response


async def workflow_state(client: httpx.AsyncClient, workflow: Json) -> Json:
    """The workflow resource now."""
    return dict(expect(await client.get(graph_url(workflow, "")[:-1]), 200).json())
