"""Agents over HTTP: the versioned-resource contract, plus what only agents have."""

import httpx
import pytest

from tests.workflows.test_workflows_api import (
    ResourceKind,
    VersionedResourceContract,
    assert_problem,
    if_match,
)


class TestAgentsApi(VersionedResourceContract):
    """/api/v1/agents."""

    kind = ResourceKind(
        path="/api/v1/agents",
        id_parameter="agent_id",
        change={"model_provider": "openai"},
        bad_enum={"model_provider": "teleport"},
        required={"model_provider": "anthropic", "model_name": "claude-sonnet-4-5"},
    )

    @pytest.mark.parametrize("provider", ["anthropic", "openai", "glm"])
    async def test_every_model_provider_is_accepted(
        self, client: httpx.AsyncClient, provider: str
    ) -> None:
        created = await self.create(client, model_provider=provider)
        assert created["model_provider"] == provider

    @pytest.mark.parametrize("model_name", ["", "m" * 101, "nul\x00"])
    async def test_bad_model_name_answers_422(
        self, client: httpx.AsyncClient, model_name: str
    ) -> None:
        created = await client.post(self.kind.path, json=self.kind.body(model_name=model_name))
        assert_problem(created, 422, "VALIDATION_ERROR")
        entry = await self.create(client)
        url = self.kind.url(entry["id"])
        patched = await client.patch(url, json={"model_name": model_name}, headers=if_match(1))
        assert_problem(patched, 422, "VALIDATION_ERROR")

    async def test_patch_changes_the_model(self, client: httpx.AsyncClient) -> None:
        entry = await self.create(client)
        url = self.kind.url(entry["id"])
        changes = {"model_provider": "glm", "model_name": "glm-4.6"}
        patched = await client.patch(url, json=changes, headers=if_match(1))
        assert patched.status_code == 200, patched.text
        assert {key: patched.json()[key] for key in changes} == changes
        assert patched.json()["name"] == entry["name"]
