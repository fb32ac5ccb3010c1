"""Tools over HTTP: the versioned-resource contract, plus what only tools have."""

import httpx
import pytest

from tests.test_workflows_api import ResourceKind, VersionedResourceContract


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
