"""Integer fields take JSON Schema integers: 1.0 is 1; 1.5, "1" and true are still refused."""

import uuid
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from service.config_documents import RetryConfig, WorkflowConfig
from service.graph.edges.models import EdgeCreate
from service.graph.nodes.models import NodeCreate
from tests.factories import create_node, create_workflow, expect, if_match, workflow_url
from tests.graph.test_graph_api import edge, node, put_graph

NOT_INTEGERS = [1.5, "1", True, float("inf")]


def test_whole_number_floats_are_integers() -> None:
    node = NodeCreate(name="n", node_type="adapter", timeout_seconds=300.0)
    edge = EdgeCreate(source_node_id=uuid.uuid4(), target_node_id=uuid.uuid4(), priority=-2.0)
    assert (node.timeout_seconds, type(node.timeout_seconds)) == (300, int)
    assert (edge.priority, type(edge.priority)) == (-2, int)
    assert RetryConfig.model_validate({"max_retries": 3.0}).max_retries == 3
    assert WorkflowConfig.model_validate({"timeout": 60.0}).timeout == 60


@pytest.mark.parametrize("value", NOT_INTEGERS)
def test_other_values_are_not_integers(value: Any) -> None:
    with pytest.raises(ValidationError):
        NodeCreate(name="n", node_type="adapter", timeout_seconds=value)
    with pytest.raises(ValidationError):
        EdgeCreate(source_node_id=uuid.uuid4(), target_node_id=uuid.uuid4(), priority=value)
    with pytest.raises(ValidationError):
        RetryConfig.model_validate({"max_retries": value})


async def test_the_api_stores_whole_number_floats_as_integers(client: httpx.AsyncClient) -> None:
    workflow = await create_workflow(client)
    node = await create_node(
        client, workflow, timeout_seconds=300.0, retry_config={"max_retries": 2.0}
    )
    assert node["timeout_seconds"] == 300
    assert node["retry_config"]["max_retries"] == 2
    other = await create_node(client, workflow)
    body = {"source_node_id": node["id"], "target_node_id": other["id"], "priority": 1.0}
    response = await client.post(
        workflow_url(workflow, "edges"), json=body, headers=if_match(workflow)
    )
    assert expect(response, 201).json()["priority"] == 1
    assert type(response.json()["priority"]) is int


async def test_the_api_refuses_fractional_integers(client: httpx.AsyncClient) -> None:
    workflow = await create_workflow(client)
    body = {"name": "n", "node_type": "adapter", "timeout_seconds": 300.5}
    response = await client.post(
        workflow_url(workflow, "nodes"), json=body, headers=if_match(workflow)
    )
    assert expect(response, 422).json()["errors"][0]["pointer"] == "/timeout_seconds"


async def test_graph_saves_and_batches_take_whole_number_floats(client: httpx.AsyncClient) -> None:
    start = node("Start", "trigger", timeout_seconds=60.0)
    merge = node("Merge", "aggregator", retry_config={"max_retries": 1.0})
    workflow = await create_workflow(client, config={"max_concurrent_nodes": 4.0})
    assert workflow["config"]["max_concurrent_nodes"] == 4
    saved = await put_graph(client, workflow, [start, merge], [edge(start, merge, priority=2.0)])
    graph = saved.json()
    assert [n["timeout_seconds"] for n in graph["nodes"] if n["name"] == "Start"] == [60]
    assert [e["priority"] for e in graph["edges"]] == [2]
    batch = {"nodes": [{"name": "n", "node_type": "adapter", "timeout_seconds": 30.0}]}
    response = await client.post(
        workflow_url(workflow, "nodes", "batch"), json=batch, headers=if_match(workflow)
    )
    assert expect(response, 201).json()["items"][0]["timeout_seconds"] == 30


async def test_graph_saves_and_batches_refuse_fractional_integers(
    client: httpx.AsyncClient,
) -> None:
    workflow = await create_workflow(client)
    start = node("Start", "trigger", timeout_seconds=60.5)
    refused = await put_graph(client, workflow, [start], [], status=422)
    [item] = refused.json()["errors"]
    assert (item["code"], item["pointer"]) == ("INVALID_VALUE", "/nodes/0/timeout_seconds")
    batch = {"nodes": [{"name": "n", "node_type": "adapter", "timeout_seconds": True}]}
    response = await client.post(
        workflow_url(workflow, "nodes", "batch"), json=batch, headers=if_match(workflow)
    )
    [item] = expect(response, 422).json()["errors"]
    assert (item["code"], item["pointer"]) == ("INVALID_VALUE", "/nodes/0/timeout_seconds")
