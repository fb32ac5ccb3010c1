"""Concurrent writers: one If-Match wins, the rest get 412; a 2xx means committed."""

import asyncio
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from service.auth import issue_token
from service.config import Settings
from tests.live_server import live_server
from tests.workflows.test_workflows_api import if_match

WRITERS = 16
BODIES = {
    "/api/v1/workflows": {"name": "raced"},
    "/api/v1/tools": {"name": "raced", "tool_type": "http"},
    "/api/v1/agents": {"name": "raced", "model_provider": "glm", "model_name": "glm-4.6"},
}


async def race_patches(client: httpx.AsyncClient, url: str, version: int) -> list[httpx.Response]:
    """WRITERS PATCHes of one resource at once, all with If-Match naming `version`."""
    patches = (
        client.patch(url, json={"name": f"writer {n}"}, headers=if_match(version))
        for n in range(WRITERS)
    )
    return list(await asyncio.gather(*patches))


def assert_one_winner(responses: list[httpx.Response], version: int) -> httpx.Response:
    """Exactly one 2xx at `version + 1`; every other writer got 412 naming that version."""
    statuses = Counter(response.status_code for response in responses)
    assert statuses == {200: 1, 412: WRITERS - 1}, statuses
    for response in responses:
        if response.status_code == 412:
            assert response.json()["current_version"] == version + 1
            assert response.headers["etag"] == f'"{version + 1}"'
    winner = next(response for response in responses if response.status_code == 200)
    assert winner.json()["version"] == version + 1
    return winner


@pytest.mark.parametrize("path", BODIES)
async def test_parallel_patches_with_one_tag_have_one_winner(
    client: httpx.AsyncClient, path: str
) -> None:
    created = await client.post(path, json=BODIES[path])
    url = f"{path}/{created.json()['id']}"
    await client.patch(url, json={"name": "renamed"}, headers=if_match(1))
    winner = assert_one_winner(await race_patches(client, url, 2), 2)
    final = await client.get(url)
    assert final.headers["etag"] == '"3"'
    assert final.json()["name"] == winner.json()["name"]


@pytest.fixture(scope="module")
def live_url(settings: Settings, database_url: str) -> Iterator[str]:
    """A real uvicorn server on the test database."""
    secret = settings.jwt_secret.get_secret_value() if settings.jwt_secret else ""
    env = {"DATABASE_URL": database_url, "JWT_SECRET": secret, "ENVIRONMENT": "test"}
    with live_server(env) as url:
        yield url


def auth_headers(settings: Settings) -> dict[str, str]:
    """A bearer token for a new user."""
    return {"Authorization": f"Bearer {issue_token(settings, uuid.uuid4())}"}


async def test_parallel_patches_over_real_sockets_have_one_winner(
    live_url: str, settings: Settings
) -> None:
    headers = auth_headers(settings)
    async with httpx.AsyncClient(base_url=live_url, headers=headers, timeout=30) as client:
        created = await client.post("/api/v1/workflows", json={"name": "raced"})
        assert created.status_code == 201, created.text
        url = f"/api/v1/workflows/{created.json()['id']}"
        assert_one_winner(await race_patches(client, url, 1), 1)
        assert (await client.get(url)).headers["etag"] == '"2"'


async def patch_then_read(writer: httpx.AsyncClient, reader: httpx.AsyncClient, url: str) -> None:
    """Each 2xx PATCH is visible to an immediate GET on another connection."""
    for version in range(1, 11):
        name: dict[str, Any] = {"name": f"{url} v{version + 1}"}
        patched = await writer.patch(url, json=name, headers=if_match(version))
        assert patched.status_code == 200, patched.text
        seen = await reader.get(url)
        assert seen.headers["etag"] == patched.headers["etag"]
        assert seen.json()["name"] == name["name"]


async def test_a_2xx_write_is_committed_before_the_response(
    live_url: str, settings: Settings
) -> None:
    headers = auth_headers(settings)
    async with (
        httpx.AsyncClient(base_url=live_url, headers=headers, timeout=30) as writer,
        httpx.AsyncClient(base_url=live_url, headers=headers, timeout=30) as reader,
    ):
        urls = []
        for n in range(4):
            created = await writer.post("/api/v1/workflows", json={"name": f"w{n}"})
            urls.append(f"/api/v1/workflows/{created.json()['id']}")
        await asyncio.gather(*(patch_then_read(writer, reader, url) for url in urls))
