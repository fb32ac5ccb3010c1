"""One valid request for every write operation of the API, each on resources of its own."""

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from tests.factories import API, create_edge, create_node, create_workflow, expect, workflow_url

Json = dict[str, Any]


@dataclass(frozen=True)
class WriteRequest:
    """A write ready to send: If-Match names `version` when it is set."""

    method: str
    url: str
    body: Any = None
    version: int | None = None
    creates: bool = False  # answers 201 with a Location
    raises_version: bool = True  # a checkpoint records the version, it does not raise it

    def headers(self, **extra: str) -> dict[str, str]:
        """Its If-Match (when it has one) and the extra headers."""
        current = {} if self.version is None else {"If-Match": f'"{self.version}"'}
        return {**current, **extra}

    async def send(self, client: httpx.AsyncClient, **headers: str) -> httpx.Response:
        """Send it with these extra headers."""
        return await client.request(
            self.method, self.url, json=self.body, headers=self.headers(**headers)
        )


Builder = Callable[[httpx.AsyncClient], Awaitable[WriteRequest]]


async def registry_entry(client: httpx.AsyncClient, collection: str, *, trashed: bool) -> Json:
    """A new tool or agent, optionally moved to the trash (its version then tracked)."""
    fields = {"tools": {"tool_type": "http"}, "agents": {"model_provider": "openai"}}
    body = {"name": "entry", "model_name": "gpt", **fields[collection]}
    if collection == "tools":
        body.pop("model_name")
    entry = dict(expect(await client.post(f"{API}/{collection}", json=body), 201).json())
    if trashed:
        url = f"{API}/{collection}/{entry['id']}"
        deleted = await client.delete(url, headers={"If-Match": f'"{entry["version"]}"'})
        entry["version"] = int(expect(deleted, 204).headers["etag"].strip('"'))
    return entry


async def workflow_with_two_nodes(client: httpx.AsyncClient) -> tuple[Json, Json, Json]:
    """A workflow with nodes a and b (and no edge)."""
    workflow = await create_workflow(client)
    a = await create_node(client, workflow, name="a")
    b = await create_node(client, workflow, name="b")
    return workflow, a, b


def on_workflow(
    method: str,
    *parts: str,
    body: Callable[[], Any] = lambda: None,
    creates: bool = False,
    conditional: bool = True,
    raises_version: bool = True,
) -> Builder:
    """A write on a new workflow (or under it); If-Match names its version if `conditional`."""

    async def build(client: httpx.AsyncClient) -> WriteRequest:
        workflow = await create_workflow(client)
        url = workflow_url(workflow, *parts)
        version = workflow["version"] if conditional else None
        return WriteRequest(method, url, body(), version, creates, raises_version)

    return build


def on_node(method: str, body: Any = None) -> Builder:
    """A write on one node of a new workflow."""

    async def build(client: httpx.AsyncClient) -> WriteRequest:
        workflow, node, _other = await workflow_with_two_nodes(client)
        url = workflow_url(workflow, "nodes", node["id"])
        return WriteRequest(method, url, body, workflow["version"])

    return build


def on_edge(method: str, body: Any = None) -> Builder:
    """A write on one edge of a new workflow."""

    async def build(client: httpx.AsyncClient) -> WriteRequest:
        workflow, a, b = await workflow_with_two_nodes(client)
        edge = await create_edge(client, workflow, a, b)
        url = workflow_url(workflow, "edges", edge["id"])
        return WriteRequest(method, url, body, workflow["version"])

    return build


def new_edges(batch: bool) -> Builder:
    """POST of an edge (or a batch of one) between two nodes of a new workflow."""

    async def build(client: httpx.AsyncClient) -> WriteRequest:
        workflow, a, b = await workflow_with_two_nodes(client)
        edge = {"source_node_id": a["id"], "target_node_id": b["id"]}
        url = workflow_url(workflow, "edges", *(["batch"] if batch else []))
        body = {"edges": [edge]} if batch else edge
        return WriteRequest("POST", url, body, workflow["version"], creates=not batch)

    return build


def on_trashed_workflow() -> Builder:
    """POST .../restore of a trashed workflow."""

    async def build(client: httpx.AsyncClient) -> WriteRequest:
        workflow = await create_workflow(client)
        url = workflow_url(workflow)
        deleted = await client.delete(url, headers={"If-Match": f'"{workflow["version"]}"'})
        version = int(expect(deleted, 204).headers["etag"].strip('"'))
        return WriteRequest("POST", f"{url}/restore", None, version)

    return build


def on_registry(collection: str, method: str, suffix: str = "", body: Any = None) -> Builder:
    """A write on a new tool or agent (trashed first for a restore)."""

    async def build(client: httpx.AsyncClient) -> WriteRequest:
        entry = await registry_entry(client, collection, trashed=suffix == "/restore")
        url = f"{API}/{collection}/{entry['id']}{suffix}"
        return WriteRequest(method, url, body, entry["version"])

    return build


def creating(collection: str, body: Json) -> Builder:
    """POST of a new entry to a top-level collection (no If-Match)."""

    async def build(_client: httpx.AsyncClient) -> WriteRequest:
        return WriteRequest("POST", f"{API}/{collection}", body, creates=True)

    return build


def one_node_graph() -> Json:
    """A PUT /graph body of one new node."""
    return {"nodes": [{"id": str(uuid.uuid4()), "name": "n", "node_type": "adapter"}], "edges": []}


def valid_graph_body() -> Json:
    """A PUT /graph body that passes validation: a trigger feeding an adapter."""
    trigger, adapter = str(uuid.uuid4()), str(uuid.uuid4())
    nodes = [
        {
            "id": trigger,
            "name": "start",
            "node_type": "trigger",
            "config": {"trigger_type": "manual"},
        },
        {"id": adapter, "name": "fetch", "node_type": "adapter"},
    ]
    edges = [{"id": str(uuid.uuid4()), "source_node_id": trigger, "target_node_id": adapter}]
    return {"nodes": nodes, "edges": edges}


def on_published_workflow(method: str, suffix: str, *, publish: bool) -> Builder:
    """A write on a workflow holding a valid graph and revision 1, published if `publish`.

    Before a restore of revision 1, another graph is saved over it.
    """

    async def build(client: httpx.AsyncClient) -> WriteRequest:
        workflow = await create_workflow(client)
        url = workflow_url(workflow)
        saved = await client.put(
            f"{url}/graph", json=valid_graph_body(), headers={"If-Match": '"1"'}
        )
        version = int(expect(saved, 200).headers["etag"].strip('"'))
        if suffix.endswith("/restore"):  # restoring what is stored would change nothing
            changed = await client.put(
                f"{url}/graph", json=one_node_graph(), headers={"If-Match": f'"{version}"'}
            )
            version = int(expect(changed, 200).headers["etag"].strip('"'))
        if publish:
            published = await client.post(
                f"{url}/publish", json={}, headers={"If-Match": f'"{version}"'}
            )
            version = int(expect(published, 200).headers["etag"].strip('"'))
        body = {} if method == "POST" and suffix == "publish" else None
        return WriteRequest(method, f"{url}/{suffix}", body, version)

    return build


WRITE_REQUESTS: dict[str, Builder] = {
    "create_workflow": creating("workflows", {"name": "new"}),
    "update_workflow": on_workflow("PATCH", body=lambda: {"name": "renamed"}),
    "delete_workflow": on_workflow("DELETE"),
    "restore_workflow": on_trashed_workflow(),
    "create_node": on_workflow(
        "POST", "nodes", body=lambda: {"name": "n", "node_type": "adapter"}, creates=True
    ),
    "create_nodes_batch": on_workflow(
        "POST", "nodes", "batch", body=lambda: {"nodes": [{"name": "n", "node_type": "adapter"}]}
    ),
    "update_node": on_node("PATCH", {"name": "renamed"}),
    "delete_node": on_node("DELETE"),
    "create_edge": new_edges(batch=False),
    "create_edges_batch": new_edges(batch=True),
    "update_edge": on_edge("PATCH", {"label": "renamed"}),
    "delete_edge": on_edge("DELETE"),
    "replace_graph": on_workflow("PUT", "graph", body=one_node_graph),
    "change_graph": on_workflow(
        "PATCH", "graph", body=lambda: {"nodes": {"create": [one_node_graph()["nodes"][0]]}}
    ),
    "duplicate_workflow": on_workflow("POST", "duplicate", creates=True, conditional=False),
    "create_tool": creating("tools", {"name": "t", "tool_type": "http"}),
    "update_tool": on_registry("tools", "PATCH", body={"name": "renamed"}),
    "delete_tool": on_registry("tools", "DELETE"),
    "restore_tool": on_registry("tools", "POST", "/restore"),
    "create_agent": creating(
        "agents", {"name": "a", "model_provider": "openai", "model_name": "gpt"}
    ),
    "update_agent": on_registry("agents", "PATCH", body={"name": "renamed"}),
    "delete_agent": on_registry("agents", "DELETE"),
    "restore_agent": on_registry("agents", "POST", "/restore"),
    "create_revision": on_workflow(
        "POST",
        "revisions",
        body=lambda: {"message": "checkpoint"},
        creates=True,
        raises_version=False,
    ),
    "create_event_stream_token": on_workflow(
        "POST", "events", "token", conditional=False, raises_version=False
    ),
    "publish_workflow": on_published_workflow("POST", "publish", publish=False),
    "unpublish_workflow": on_published_workflow("DELETE", "published", publish=True),
    "restore_revision": on_published_workflow("POST", "revisions/1/restore", publish=False),
}


def write_operations(openapi: Json) -> dict[str, Json]:
    """Every write operation of an OpenAPI document, by operationId."""
    return {
        operation["operationId"]: operation
        for path_item in openapi["paths"].values()
        for method, operation in path_item.items()
        if method in ("post", "put", "patch", "delete")
    }
