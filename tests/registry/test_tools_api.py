"""Tools over HTTP: the versioned-resource contract, plus what only tools have."""

import httpx
import pytest

from tests.factories import API, create_node, create_workflow, expect, workflow_url
from tests.workflows.test_workflows_api import ResourceKind, VersionedResourceContract


class TestToolsApi(VersionedResourceContract):
    """/api/v1/tools."""

    kind = ResourceKind(
        path="/api/v1/tools",
        id_parameter="tool_id",
        change={"tool_type": "mcp"},
        bad_enum={"tool_type": "teleport"},
        required={"tool_type": "http"},
    )

    @pytest.mark.parametrize("tool_type", ["http", "mcp", "python", "shell", "builtin"])
    async def test_every_tool_type_is_accepted(
        self, client: httpx.AsyncClient, tool_type: str
    ) -> None:
        created = await self.create(client, tool_type=tool_type)
        assert created["tool_type"] == tool_type


@pytest.mark.parametrize(
    ("registry", "node_type", "reference"),
    [
        ("tools", "tool", "tool_id"),
        ("agents", "agent", "agent_id"),
    ],
)
async def test_purging_a_referenced_entry_raises_the_workflow_version(
    client: httpx.AsyncClient, registry: str, node_type: str, reference: str
) -> None:
    """The database empties the nodes' reference; their workflow's ETag must change too."""
    fields = {"tools": {"tool_type": "http"}, "agents": {"model_provider": "openai"}}
    body = {
        "name": "x",
        **fields[registry],
        **({"model_name": "m"} if registry == "agents" else {}),
    }
    entry = expect(await client.post(f"{API}/{registry}", json=body), 201).json()
    workflow = await create_workflow(client)
    node = await create_node(client, workflow, node_type=node_type, **{reference: entry["id"]})
    before = workflow["version"]

    purged = await client.delete(
        f"{API}/{registry}/{entry['id']}?permanent=true", headers={"If-Match": '"1"'}
    )

    expect(purged, 204)
    graph = expect(await client.get(workflow_url(workflow, "nodes", node["id"])), 200)
    assert graph.headers["etag"] == f'"{before + 1}"'
    assert graph.json()[reference] is None
