"""One rendering per representation: every path answers the same bytes for the same version.

The fast paths send PostgreSQL's JSON as it is (`response_model=` only documents them), so
these tests also validate every body against its documented model and key order.
"""

import uuid
from collections.abc import AsyncIterator
from itertools import pairwise
from typing import Any

import httpx
import orjson
import pytest
from pydantic import BaseModel

from service.auth import issue_token
from service.config import Settings
from service.graph import repository
from service.graph.edges.models import EdgePublic
from service.graph.models import GraphPublic, GraphSaveResult
from service.graph.nodes.models import NodePublic
from service.main import create_app
from service.sql import public_fields
from service.workflows.models import WorkflowPublic
from tests.factories import create_workflow, expect, if_match, track, workflow_url

GRAPH_TAIL = b',"is_deleted":false}'


def checked(body: bytes, model: type[BaseModel]) -> bytes:
    """The body, after checking it is `model`'s JSON with its keys in the model's order."""
    model.model_validate_json(body)
    assert list(orjson.loads(body)) == public_fields(model)
    assert b'" : ' not in body  # one spacing style for the members the service renders
    return body


@pytest.fixture
async def replica(settings: Settings, user_id: uuid.UUID) -> AsyncIterator[httpx.AsyncClient]:
    """A second app on the same database, keeping no rendered graphs (another replica)."""
    app = create_app(settings.model_copy(update={"graph_cache_bytes": 0}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            client.headers["Authorization"] = f"Bearer {issue_token(settings, user_id)}"
            yield client


def graph_body(nodes: list[str]) -> dict[str, Any]:
    """A graph of adapter nodes in a chain, with client-chosen ids."""
    items = [
        {"id": str(uuid.uuid4()), "name": name, "node_type": "adapter", "retry_config": {}}
        for name in nodes
    ]
    edges = [
        {"id": str(uuid.uuid4()), "source_node_id": a["id"], "target_node_id": b["id"]}
        for a, b in pairwise(items)
    ]
    return {"nodes": items, "edges": edges}


async def test_every_path_renders_a_graph_with_the_same_bytes(
    client: httpx.AsyncClient, replica: httpx.AsyncClient
) -> None:
    workflow = await create_workflow(client, config={"timeout": 30}, variables={"a": [1, 2.5]})
    url = workflow_url(workflow, "graph")
    saved = expect(
        await client.put(url, json=graph_body(["A", "B", "C"]), headers=if_match(workflow)), 200
    )
    track(workflow, saved)

    cached = expect(await client.get(url), 200).content
    cold = expect(await replica.get(url), 200).content

    assert checked(cached, GraphPublic) == cold
    assert saved.headers["etag"] == f'"{workflow["version"]}"'
    answer = checked(saved.content, GraphSaveResult)
    assert answer.startswith(cached.removesuffix(GRAPH_TAIL) + b',"changes":')
    assert answer.endswith(GRAPH_TAIL)


async def test_the_one_statement_path_renders_the_same_bytes(
    client: httpx.AsyncClient, replica: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without an idle second connection, the graph comes from one statement: same bytes."""
    workflow = await create_workflow(client)
    url = workflow_url(workflow, "graph")
    expect(await client.put(url, json=graph_body(["A", "B"]), headers=if_match(workflow)), 200)
    in_parallel = expect(await replica.get(url), 200).content

    async def one_statement(connection: Any, _pool: Any, owner_id: Any, workflow_id: Any) -> Any:
        return await repository.get_graph(connection, owner_id, workflow_id)

    monkeypatch.setattr(repository, "get_graph_in_parallel", one_statement)

    assert expect(await replica.get(url), 200).content == in_parallel


async def test_a_duplicate_renders_as_its_graph_reads(
    client: httpx.AsyncClient, replica: httpx.AsyncClient
) -> None:
    workflow = await create_workflow(client)
    url = workflow_url(workflow, "graph")
    expect(await client.put(url, json=graph_body(["A", "B"]), headers=if_match(workflow)), 200)

    copied = expect(await client.post(workflow_url(workflow, "duplicate")), 201)

    copy_graph = workflow_url(copied.json(), "graph")
    assert (
        checked(copied.content, GraphPublic) == expect(await replica.get(copy_graph), 200).content
    )


async def test_items_render_alike_alone_in_lists_batches_and_graphs(
    client: httpx.AsyncClient,
) -> None:
    workflow = await create_workflow(client)
    created = expect(
        await client.post(
            workflow_url(workflow, "nodes", "batch"),
            json={
                "nodes": [
                    {"name": "A", "node_type": "adapter"},
                    {"name": "B", "node_type": "adapter"},
                ]
            },
            headers=if_match(workflow),
        ),
        201,
    )
    track(workflow, created)
    first, second = created.json()["items"]
    edge = expect(
        await client.post(
            workflow_url(workflow, "edges"),
            json={"source_node_id": first["id"], "target_node_id": second["id"]},
            headers=if_match(workflow),
        ),
        201,
    )
    track(workflow, edge)
    moved = expect(
        await client.patch(
            workflow_url(workflow, "nodes", first["id"]),
            json={"position_x": 1.5},
            headers=if_match(workflow),
        ),
        200,
    )

    node_body = expect(await client.get(workflow_url(workflow, "nodes", first["id"])), 200).content
    edge_body = expect(
        await client.get(workflow_url(workflow, "edges", edge.json()["id"])), 200
    ).content
    listed = expect(await client.get(workflow_url(workflow, "nodes")), 200).content
    graph = expect(await client.get(workflow_url(workflow, "graph")), 200).content

    assert checked(moved.content, NodePublic) == checked(node_body, NodePublic)
    assert checked(edge.content, EdgePublic) == checked(edge_body, EdgePublic)
    assert node_body in listed
    assert node_body in graph
    assert edge_body in graph
    second_body = expect(
        await client.get(workflow_url(workflow, "nodes", second["id"])), 200
    ).content
    assert second_body in created.content


async def test_a_workflow_renders_alike_after_every_write(client: httpx.AsyncClient) -> None:
    created = expect(
        await client.post("/api/v1/workflows", json={"name": "w", "config": {"timeout": 5}}), 201
    )
    workflow = created.json()
    url = workflow_url(workflow)
    assert checked(created.content, WorkflowPublic) == expect(await client.get(url), 200).content

    patched = expect(
        await client.patch(url, json={"name": "v"}, headers={"If-Match": created.headers["etag"]}),
        200,
    )
    read = expect(await client.get(url), 200).content

    assert checked(patched.content, WorkflowPublic) == read
    assert read in expect(await client.get("/api/v1/workflows"), 200).content


async def test_a_retry_delay_has_one_number_style_on_every_path(client: httpx.AsyncClient) -> None:
    workflow = await create_workflow(client)
    defaulted = expect(
        await client.post(
            workflow_url(workflow, "nodes"),
            json={"name": "A", "node_type": "adapter"},
            headers=if_match(workflow),
        ),
        201,
    )
    track(workflow, defaulted)
    given = expect(
        await client.post(
            workflow_url(workflow, "nodes"),
            json={
                "name": "B",
                "node_type": "adapter",
                "retry_config": {"max_retries": 3, "delay": 1},
            },
            headers=if_match(workflow),
        ),
        201,
    )

    assert b'"delay": 1.0' in defaulted.content
    assert b'"delay": 1.0' in given.content
